/**
 * What the reports of 2D image models share: frame references, percentages, the report's common
 * attributes, and the viewer profile (`srProfiles: [viewer]` in the rules): each result as a
 * rectangle that OHIF's measurement panel loads as its RectangleROI tool, labelled with the
 * finding and its probability (docs/dicom-objects.md, "Output profiles").
 */
import type { Code } from '../dicom/codes';
import {
  buildMeasurementReport,
  type InstanceRef,
  type MeasurementReportInit,
  type PlanarRoiGroup,
} from '../dicom/sr/measurement-report';
import type { PatientStudyAttributes } from '../dicom/study-attributes';
import { deterministicUid } from '../contracts/uid';
import { resultIdentity, type ResultKey } from '../contracts/result-identity';
import type { ModelManifest } from '../inference/manifest';
import type { ReportObject } from './segmentation-results';

export type FrameRef = InstanceRef & { frameNumber?: number };

/** OHIF (3.x) loads a closed 5-point POLYLINE with this tracking identifier as a rectangle. */
export const RECTANGLE_TRACKING_ID = 'Cornerstone3DTools@^0.1.0:RectangleROI';
/** OHIF (3.x) loads a SCOORD POINT inferred from a NUM with this tracking identifier as a probe. */
export const PROBE_TRACKING_ID = 'Cornerstone3DTools@^0.1.0:Probe';

/** A probability as a percent, to 4 decimals (what the SR's NUM holds). */
export function percent(p: number): number {
  return Math.round(p * 1e6) / 1e4;
}

/** The closed rectangle of a box, corner after corner (column, row), first point repeated. */
export function rectangle(b: { x0: number; y0: number; x1: number; y1: number }): number[] {
  const r = (v: number): number => Math.round(v * 100) / 100;
  return [r(b.x0), r(b.y0), r(b.x1), r(b.y0), r(b.x1), r(b.y1), r(b.x0), r(b.y1), r(b.x0), r(b.y0)];
}

/** "image 2" or "image 1 frame 3": where a result lies, for tracking identifiers. */
export function whereLabel(r: FrameRef, i: number): string {
  return `image ${i + 1}${r.frameNumber !== undefined && r.frameNumber > 1 ? ` frame ${r.frameNumber}` : ''}`;
}

/** The images a report was inferred from: its source series, and further series of a study-level model. */
export interface ReportSource {
  seriesInstanceUid: string;
  instances: InstanceRef[];
  others?: { seriesInstanceUid: string; instances: InstanceRef[] }[];
}

/** The attributes every report of this job shares. */
export function reportCommon(
  key: ResultKey,
  manifest: ModelManifest,
  patientStudy: PatientStudyAttributes,
  source: ReportSource,
): Pick<
  MeasurementReportInit,
  'patientStudy' | 'procedureReported' | 'observer' | 'algorithm' | 'sourceSeries' | 'otherSourceSeries'
> {
  const algorithmName = `ainode ${manifest.id} ${manifest.version}`;
  return {
    patientStudy,
    procedureReported: manifest.procedureReported,
    observer: { uid: resultIdentity(key).uids.observer, name: algorithmName },
    algorithm: { name: algorithmName, version: manifest.version, family: manifest.algorithmFamily },
    sourceSeries: { seriesInstanceUid: source.seriesInstanceUid, instances: source.instances },
    otherSourceSeries: source.others ?? [],
  };
}

/** One rectangle of the viewer profile: its region, area and the label OHIF shows. */
export interface ViewerRectangle {
  finding: Code;
  box: { x0: number; y0: number; x1: number; y1: number };
  image: FrameRef;
  area: { value: number; unit: Code };
  measurements: MeasurementReportInit['plainGroups'][number]['measurements'];
  label: string;
}

/** The viewer-profile report: one RectangleROI group per rectangle. */
export function viewerReport(
  key: ResultKey,
  manifest: ModelManifest,
  common: ReturnType<typeof reportCommon>,
  rectangles: ViewerRectangle[],
): ReportObject {
  const uids = resultIdentity(key).uids;
  const planarGroups = rectangles.map((r, i): PlanarRoiGroup => ({
    trackingId: RECTANGLE_TRACKING_ID,
    trackingUid: deterministicUid(uids.viewerSrInstance, 'tracking', String(i)),
    finding: r.finding,
    outline: rectangle(r.box),
    image: r.image,
    areaMm2: r.area.value,
    areaUnit: r.area.unit,
    measurements: r.measurements,
    label: r.label,
  }));
  return profileReport(key, manifest, common, 'viewer', { plainGroups: [], planarGroups });
}

/** A report of this job in one profile: its series, number and description from the result identity. */
export function profileReport(
  key: ResultKey,
  manifest: ModelManifest,
  common: ReturnType<typeof reportCommon>,
  profile: 'standard' | 'viewer',
  groups: Pick<MeasurementReportInit, 'plainGroups'> &
    Partial<Pick<MeasurementReportInit, 'regionGroups' | 'pointGroups' | 'planarGroups'>>,
): ReportObject {
  const identity = resultIdentity(key);
  const uids = identity.uids;
  const viewer = profile === 'viewer';
  const seriesInstanceUid = viewer ? uids.viewerSrSeries : uids.srSeries;
  const sopInstanceUid = viewer ? uids.viewerSrInstance : uids.srInstance;
  const sr = buildMeasurementReport({
    ...common,
    seriesInstanceUid,
    sopInstanceUid,
    seriesNumber: identity.seriesNumber(viewer ? 'viewer-sr' : 'sr', manifest.seriesNumbers),
    seriesDescription: identity.seriesDescription(viewer ? 'viewer-sr' : 'sr', manifest),
    segmentGroups: [],
    ...groups,
  });
  return { profile, seriesInstanceUid, sopInstanceUid, part10: sr.part10 };
}
