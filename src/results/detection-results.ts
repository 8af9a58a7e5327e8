/**
 * A detection model's results as a TID 1500 Measurement Report (IHE AI Results): one planar ROI
 * group (TID 1410) per finding, with its tracking identifier and UID, the box as a closed
 * rectangle (SCOORD POLYLINE) on its source image and frame, the score as Certainty of Finding
 * (percent) and the box's area: in mm2 where the image's pixel spacing allows it (the basis is
 * said in the comment: at the detector, magnification-corrected, calibrated), in pixels where it
 * does not, stated as such. An image without findings gets an explicit group per class saying
 * the finding is absent: a report is never empty.
 */
import { Codes } from '../dicom/codes';
import {
  buildMeasurementReport,
  type InstanceRef,
  type PlainMeasurementGroup,
  type RegionFindingGroup,
} from '../dicom/sr/measurement-report';
import type { PatientStudyAttributes } from '../dicom/study-attributes';
import { deterministicUid } from '../contracts/uid';
import { resultIdentity, type ResultKey } from '../contracts/result-identity';
import type { PixelSpacing } from '../image/spacing';
import type { ModelManifest } from '../inference/manifest';
import type { Detection } from '../inference/detect';
import { percent, type FrameRef } from './classification-results';
import type { ReportObject } from './segmentation-results';

export interface ImageDetections {
  image: FrameRef;
  detections: Detection[];
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

/** The closed rectangle of a box, corner after corner (column, row), first point repeated. */
export function rectangle(b: { x0: number; y0: number; x1: number; y1: number }): number[] {
  const r = (v: number): number => Math.round(v * 100) / 100;
  return [r(b.x0), r(b.y0), r(b.x1), r(b.y0), r(b.x1), r(b.y1), r(b.x0), r(b.y1), r(b.x0), r(b.y0)];
}

export function buildDetectionResults(
  key: ResultKey,
  manifest: ModelManifest,
  patientStudy: PatientStudyAttributes,
  source: { seriesInstanceUid: string; instances: InstanceRef[] },
  perImage: ImageDetections[],
): { reports: ReportObject[]; timingsMs: { srEncode: number } } {
  const identity = resultIdentity(key);
  const uids = identity.uids;
  const algorithmName = `ainode ${manifest.id} ${manifest.version}`;
  const regionGroups: RegionFindingGroup[] = [];
  const absent: PlainMeasurementGroup[] = [];
  perImage.forEach((r, i) => {
    const where = `image ${i + 1}${r.image.frameNumber !== undefined && r.image.frameNumber > 1 ? ` frame ${r.image.frameNumber}` : ''}`;
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
      regionGroups.push({
        trackingId: `${d.class.name} ${k + 1} (${where})`.slice(0, 64),
        trackingUid: deterministicUid(uids.srInstance, 'tracking', where, String(k)),
        finding: d.class.finding,
        region: { graphicType: 'POLYLINE', points: rectangle(d.box), image: r.image },
        measurements: [{ concept: Codes.certaintyOfFinding, value: percent(d.score), unit: Codes.percent }, size],
        comment: `${d.class.name} ${Math.round(d.score * 100)}%; ${sizeNote}`.slice(0, 1024),
      });
    });
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
  const sr = buildMeasurementReport({
    patientStudy,
    procedureReported: manifest.procedureReported,
    observer: { uid: uids.observer, name: algorithmName },
    algorithm: { name: algorithmName, version: manifest.version, family: manifest.algorithmFamily },
    sourceSeries: source,
    seriesInstanceUid: uids.srSeries,
    sopInstanceUid: uids.srInstance,
    seriesNumber: identity.seriesNumber('sr', manifest.seriesNumbers),
    seriesDescription: identity.seriesDescription('sr', manifest),
    segmentGroups: [],
    plainGroups: absent,
    regionGroups,
  });
  return {
    reports: [
      { profile: 'standard', seriesInstanceUid: uids.srSeries, sopInstanceUid: uids.srInstance, part10: sr.part10 },
    ],
    timingsMs: { srEncode: performance.now() - t0 },
  };
}
