/**
 * A detection model's results as a TID 1500 Measurement Report (IHE AI Results): one planar ROI
 * group (TID 1410) per finding, with its tracking identifier and UID, the box as a closed
 * rectangle (SCOORD POLYLINE) on its source image and frame, the score as Certainty of Finding
 * (percent) and the box's area: in mm2 where the image's pixel spacing allows it (the basis is
 * said in the comment: at the detector, magnification-corrected, calibrated), in pixels where it
 * does not, stated as such. An image without findings gets an explicit group per class saying
 * the finding is absent: a report is never empty. The viewer profile draws each box as a
 * rectangle labelled with its finding and score (an image without findings framed, "no findings").
 */
import { Codes } from '../dicom/codes';
import {
  type PlainMeasurementGroup,
  type PointFindingGroup,
  type RegionFindingGroup,
} from '../dicom/sr/measurement-report';
import type { SliceSource, VolumeGeometry } from '../contracts/volume';
import type { PatientStudyAttributes } from '../dicom/study-attributes';
import { deterministicUid } from '../contracts/uid';
import { resultIdentity, type ResultKey } from '../contracts/result-identity';
import type { PixelSpacing } from '../image/spacing';
import type { ModelManifest } from '../inference/manifest';
import type { Detection, Detection3D } from '../inference/detect';
import type { SrProfile } from '../contracts/sr-profile';
import {
  PROBE_TRACKING_ID,
  percent,
  profileReport,
  rectangle,
  reportCommon,
  viewerReport,
  whereLabel,
  type FrameRef,
  type ReportSource,
} from './image-reports';
import type { ReportObject } from './segmentation-results';

export interface ImageDetections {
  image: FrameRef;
  detections: Detection[];
  rows: number;
  columns: number;
  spacing: PixelSpacing | undefined;
  spacingNote?: string;
}

const BASIS: Record<PixelSpacing['basis'], string> = {
  patient: 'in the patient',
  calibrated: 'calibrated',
  'magnification-corrected': 'magnification-corrected to the isocentre',
  detector: 'at the detector (not corrected for magnification)',
  'unstated-plane': 'in a plane the image does not state',
};

export function buildDetectionResults(
  key: ResultKey,
  manifest: ModelManifest,
  patientStudy: PatientStudyAttributes,
  source: ReportSource,
  perImage: ImageDetections[],
  profiles: readonly SrProfile[] = ['standard'],
): { reports: ReportObject[]; timingsMs: { srEncode: number } } {
  const identity = resultIdentity(key);
  const uids = identity.uids;
  const common = reportCommon(key, manifest, patientStudy, source);
  const rectangles: Parameters<typeof viewerReport>[3] = [];
  const regionGroups: RegionFindingGroup[] = [];
  const absent: PlainMeasurementGroup[] = [];
  perImage.forEach((r, i) => {
    const where = whereLabel(r.image, i);
    r.detections.forEach((d, k) => {
      const w = d.box.x1 - d.box.x0;
      const h = d.box.y1 - d.box.y0;
      const size = r.spacing
        ? {
            concept: Codes.area,
            value: Math.round(w * r.spacing.columnMm * h * r.spacing.rowMm * 100) / 100,
            unit: Codes.squareMillimeter,
          }
        : { concept: Codes.area, value: Math.round(w * h * 100) / 100, unit: Codes.squarePixels };
      const sizeNote = r.spacing
        ? `size in mm from ${r.spacing.source}, ${BASIS[r.spacing.basis]}`
        : `size in pixels only: ${r.spacingNote ?? 'no pixel spacing'}`;
      rectangles.push({
        finding: d.class.finding,
        box: d.box,
        image: r.image,
        area: { value: size.value, unit: size.unit },
        measurements: [{ concept: Codes.certaintyOfFinding, value: percent(d.score), unit: Codes.percent }],
        label: `${d.class.name} ${(d.score * 100).toFixed(1)}%`,
      });
      regionGroups.push({
        trackingId: `${d.class.name} ${k + 1} (${where})`.slice(0, 64),
        trackingUid: deterministicUid(uids.srInstance, 'tracking', where, String(k)),
        finding: d.class.finding,
        region: { graphicType: 'POLYLINE', points: rectangle(d.box), image: r.image },
        measurements: [{ concept: Codes.certaintyOfFinding, value: percent(d.score), unit: Codes.percent }, size],
        comment: `${d.class.name} ${Math.round(d.score * 100)}%; ${sizeNote}`.slice(0, 1024),
      });
    });
    if (r.detections.length === 0) {
      // The viewer shows an image without findings framed, and says so.
      const w = r.columns - 1;
      const h = r.rows - 1;
      rectangles.push({
        finding: manifest.classes[0].finding,
        box: { x0: 0.5, y0: 0.5, x1: r.columns - 0.5, y1: r.rows - 0.5 },
        image: r.image,
        area: r.spacing
          ? { value: Math.round(w * r.spacing.columnMm * h * r.spacing.rowMm), unit: Codes.squareMillimeter }
          : { value: w * h, unit: Codes.squarePixels },
        measurements: [],
        label: `no findings (${manifest.classes.map((c) => c.name).join(', ')})`.slice(0, 1024),
      });
    }
    for (const c of manifest.classes)
      if (!r.detections.some((d) => d.class.index === c.index))
        absent.push({
          trackingId: `${c.name} (${where})`.slice(0, 64),
          trackingUid: deterministicUid(uids.srInstance, 'tracking', where, 'none', String(c.index)),
          finding: c.finding,
          measurements: [],
          evaluations: [{ concept: c.finding, value: Codes.findingAbsent, sources: [r.image] }],
        });
  });
  const t0 = performance.now();
  const standard = (): ReportObject =>
    profileReport(key, manifest, common, 'standard', { plainGroups: absent, regionGroups });
  const reports = profiles.map((p) => (p === 'viewer' ? viewerReport(key, manifest, common, rectangles) : standard()));
  return {
    reports,
    timingsMs: { srEncode: performance.now() - t0 },
  };
}

/**
 * A volume detection model's results: per finding a TID 1410 group whose region is its centre as
 * a SCOORD3D point in the source's frame of reference (mm), with the score, the box's volume and
 * a comment giving the centre and extent; every class without a finding stated absent. The
 * viewer profile puts each centre as a point on its nearest slice (OHIF's Probe tool).
 */
export function buildVolumeDetectionResults(
  key: ResultKey,
  manifest: ModelManifest,
  patientStudy: PatientStudyAttributes,
  source: ReportSource & { frameOfReferenceUid: string },
  detections: Detection3D[],
  profiles: readonly SrProfile[] = ['standard'],
  volume?: { geometry: VolumeGeometry; slices: SliceSource[] },
): { reports: ReportObject[]; timingsMs: { srEncode: number } } {
  const identity = resultIdentity(key);
  const uids = identity.uids;
  const common = reportCommon(key, manifest, patientStudy, source);
  const mm = (v: number): string => v.toFixed(1);
  const regionGroups: RegionFindingGroup[] = detections.map((d, k) => ({
    trackingId: `${d.class.name} ${k + 1}`.slice(0, 64),
    trackingUid: deterministicUid(uids.srInstance, 'tracking', 'volume', String(k)),
    finding: d.class.finding,
    region: {
      graphicType: 'POINT',
      points: d.centreMm.map((v) => Math.round(v * 100) / 100) as [number, number, number],
      frameOfReferenceUid: source.frameOfReferenceUid,
    },
    measurements: [
      { concept: Codes.certaintyOfFinding, value: percent(d.score), unit: Codes.percent },
      {
        concept: Codes.volume,
        value: Math.round((d.sizeMm[0] * d.sizeMm[1] * d.sizeMm[2]) / 10) / 100,
        unit: Codes.cubicCentimeter,
      },
    ],
    comment: `${d.class.name} ${Math.round(d.score * 100)}% at (${d.centreMm.map(mm).join(', ')}) mm; box ${d.sizeMm.map(mm).join(' x ')} mm`,
  }));
  const absent: PlainMeasurementGroup[] = manifest.classes
    .filter((c) => !detections.some((d) => d.class.index === c.index))
    .map((c) => ({
      trackingId: `${c.name} (series)`.slice(0, 64),
      trackingUid: deterministicUid(uids.srInstance, 'tracking', 'volume', 'none', String(c.index)),
      finding: c.finding,
      measurements: [],
      evaluations: [{ concept: c.finding, value: Codes.findingAbsent }],
    }));
  const t0 = performance.now();
  const standard = (): ReportObject =>
    profileReport(key, manifest, common, 'standard', { plainGroups: absent, regionGroups });
  // The viewer profile: each centre as a point on the slice nearest to it (OHIF's Probe tool);
  // without findings, a point at the middle of the middle slice says so.
  const viewer = (): ReportObject => {
    if (!volume) throw new Error('the viewer profile of a volume detector needs the volume');
    const g = volume.geometry;
    const pointOn = (c: [number, number, number]): { point: [number, number]; image: FrameRef } => {
      const along = (p: [number, number, number]): number =>
        (c[0] - p[0]) * g.sliceDirection[0] + (c[1] - p[1]) * g.sliceDirection[1] + (c[2] - p[2]) * g.sliceDirection[2];
      let best = 0;
      volume.slices.forEach((s, k) => {
        if (Math.abs(along(s.imagePositionPatient)) < Math.abs(along(volume.slices[best].imagePositionPatient)))
          best = k;
      });
      const s = volume.slices[best];
      const d = [0, 1, 2].map((a) => c[a] - s.imagePositionPatient[a]);
      const dot = (v: number[]): number => d[0] * v[0] + d[1] * v[1] + d[2] * v[2];
      const r = (v: number): number => Math.round(v * 100) / 100;
      return {
        // ImagePositionPatient is the centre of the first pixel, at (0.5, 0.5) in image coordinates.
        point: [r(dot(g.rowDirection) / g.spacing[0] + 0.5), r(dot(g.columnDirection) / g.spacing[1] + 0.5)],
        image: {
          sopClassUid: s.sopClassUid,
          sopInstanceUid: s.sopInstanceUid,
          ...(s.frameNumber !== undefined ? { frameNumber: s.frameNumber } : {}),
        },
      };
    };
    const middle = volume.slices[Math.floor(volume.slices.length / 2)];
    const pointGroups: PointFindingGroup[] = detections.length
      ? detections.map((d, k) => ({
          trackingId: PROBE_TRACKING_ID,
          trackingUid: deterministicUid(uids.viewerSrInstance, 'tracking', String(k)),
          finding: d.class.finding,
          ...pointOn(d.centreMm),
          measurement: { concept: Codes.certaintyOfFinding, value: percent(d.score), unit: Codes.percent },
          label: `${d.class.name} ${(d.score * 100).toFixed(1)}%`,
        }))
      : [
          {
            trackingId: PROBE_TRACKING_ID,
            trackingUid: deterministicUid(uids.viewerSrInstance, 'tracking', 'none'),
            finding: manifest.classes[0].finding,
            point: [g.columns / 2, g.rows / 2],
            image: { sopClassUid: middle.sopClassUid, sopInstanceUid: middle.sopInstanceUid },
            measurement: { concept: Codes.certaintyOfFinding, value: 0, unit: Codes.percent },
            label: `no findings (${manifest.classes.map((c) => c.name).join(', ')})`,
          },
        ];
    return profileReport(key, manifest, common, 'viewer', { plainGroups: [], pointGroups });
  };
  const reports = profiles.map((p) => (p === 'viewer' ? viewer() : standard()));
  return { reports, timingsMs: { srEncode: performance.now() - t0 } };
}
