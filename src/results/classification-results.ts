/**
 * A classification model's results as a TID 1500 Measurement Report (IHE AI Results): for every
 * image and class one measurement group (TID 1501) whose finding is the class's coded finding,
 * holding the probability as Certainty of Finding (percent, inferred from its image and frame)
 * and a qualitative evaluation of the finding: Present, Absent or Indeterminate at the class's
 * operating point. A series or study result (the manifest's level) has one group per class,
 * inferred from every image it combined. Every class is reported, found or not: an absent
 * finding is stated, never left out.
 */
import { Codes } from '../dicom/codes';
import { buildMeasurementReport, type InstanceRef, type PlainMeasurementGroup } from '../dicom/sr/measurement-report';
import type { PatientStudyAttributes } from '../dicom/study-attributes';
import { deterministicUid } from '../contracts/uid';
import { resultIdentity, type ResultKey } from '../contracts/result-identity';
import type { ModelManifest } from '../inference/manifest';
import type { ClassFinding, ClassOutcome } from '../inference/classify';
import type { ReportObject } from './segmentation-results';

export type FrameRef = InstanceRef & { frameNumber?: number };

export interface ImageClassification {
  image: FrameRef;
  findings: ClassFinding[];
}

const OUTCOME_CODE: Record<ClassOutcome, (typeof Codes)['findingPresent']> = {
  present: Codes.findingPresent,
  absent: Codes.findingAbsent,
  indeterminate: Codes.indeterminate,
};

/** A probability as a percent, to 4 decimals (what the SR's NUM holds). */
export function percent(p: number): number {
  return Math.round(p * 1e6) / 1e4;
}

export function buildClassificationResults(
  key: ResultKey,
  manifest: ModelManifest,
  patientStudy: PatientStudyAttributes,
  source: { seriesInstanceUid: string; instances: InstanceRef[] },
  perImage: ImageClassification[],
  combined?: { findings: ClassFinding[]; images: FrameRef[] },
): { reports: ReportObject[]; timingsMs: { srEncode: number } } {
  const identity = resultIdentity(key);
  const uids = identity.uids;
  const algorithmName = `ainode ${manifest.id} ${manifest.version}`;
  const groupOf = (f: ClassFinding, images: FrameRef[], where: string): PlainMeasurementGroup => ({
    trackingId: `${f.class.name} (${where})`.slice(0, 64),
    trackingUid: deterministicUid(uids.srInstance, 'tracking', String(f.class.index), where),
    finding: f.class.finding,
    measurements: [
      { concept: Codes.certaintyOfFinding, value: percent(f.probability), unit: Codes.percent, sources: images },
    ],
    evaluations: [{ concept: f.class.finding, value: OUTCOME_CODE[f.outcome] }],
  });
  const frameLabel = (r: FrameRef, i: number): string =>
    `image ${i + 1}${r.frameNumber !== undefined && r.frameNumber > 1 ? ` frame ${r.frameNumber}` : ''}`;
  const groups = combined
    ? combined.findings.map((f) => groupOf(f, combined.images, manifest.level))
    : perImage.flatMap((r, i) => r.findings.map((f) => groupOf(f, [r.image], frameLabel(r.image, i))));
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
    plainGroups: groups,
  });
  return {
    reports: [
      { profile: 'standard', seriesInstanceUid: uids.srSeries, sopInstanceUid: uids.srInstance, part10: sr.part10 },
    ],
    timingsMs: { srEncode: performance.now() - t0 },
  };
}
