/**
 * A classification model's results as a TID 1500 Measurement Report (IHE AI Results): for every
 * image and class one measurement group (TID 1501) whose finding is the class's coded finding,
 * holding the probability as Certainty of Finding (percent, inferred from its image and frame)
 * and a qualitative evaluation of the finding: Present, Absent or Indeterminate at the class's
 * operating point. A series or study result (the manifest's level) has one group per class,
 * inferred from every image it combined. Every class is reported, found or not: an absent
 * finding is stated, never left out. The viewer profile frames each image with its classes,
 * outcomes and probabilities as the label.
 */
import { Codes } from '../dicom/codes';
import type { PlainMeasurementGroup } from '../dicom/sr/measurement-report';
import type { PatientStudyAttributes } from '../dicom/study-attributes';
import { deterministicUid } from '../contracts/uid';
import { resultIdentity, type ResultKey } from '../contracts/result-identity';
import type { SrProfile } from '../contracts/sr-profile';
import type { PixelSpacing } from '../image/spacing';
import type { ModelManifest } from '../inference/manifest';
import type { ClassFinding, ClassOutcome } from '../inference/classify';
import {
  percent,
  profileReport,
  reportCommon,
  viewerReport,
  whereLabel,
  type FrameRef,
  type ReportSource,
} from './image-reports';
import type { ReportObject } from './segmentation-results';

export interface ImageClassification {
  image: FrameRef;
  findings: ClassFinding[];
  /** The frame's size and spacing (the viewer profile frames the whole image). */
  rows: number;
  columns: number;
  spacing: PixelSpacing | undefined;
}

const OUTCOME_CODE: Record<ClassOutcome, (typeof Codes)['findingPresent']> = {
  present: Codes.findingPresent,
  absent: Codes.findingAbsent,
  indeterminate: Codes.indeterminate,
};

export function buildClassificationResults(
  key: ResultKey,
  manifest: ModelManifest,
  patientStudy: PatientStudyAttributes,
  source: ReportSource,
  perImage: ImageClassification[],
  combined?: { findings: ClassFinding[]; images: FrameRef[] },
  profiles: readonly SrProfile[] = ['standard'],
): { reports: ReportObject[]; timingsMs: { srEncode: number } } {
  const identity = resultIdentity(key);
  const uids = identity.uids;
  const common = reportCommon(key, manifest, patientStudy, source);
  const groupOf = (f: ClassFinding, images: FrameRef[], where: string): PlainMeasurementGroup => ({
    trackingId: `${f.class.name} (${where})`.slice(0, 64),
    trackingUid: deterministicUid(uids.srInstance, 'tracking', String(f.class.index), where),
    finding: f.class.finding,
    measurements: [
      { concept: Codes.certaintyOfFinding, value: percent(f.probability), unit: Codes.percent, sources: images },
    ],
    evaluations: [{ concept: f.class.finding, value: OUTCOME_CODE[f.outcome] }],
  });
  const t0 = performance.now();
  const standard = (): ReportObject => {
    const groups = combined
      ? combined.findings.map((f) => groupOf(f, combined.images, manifest.level))
      : perImage.flatMap((r, i) => r.findings.map((f) => groupOf(f, [r.image], whereLabel(r.image, i))));
    return profileReport(key, manifest, common, 'standard', { plainGroups: groups });
  };
  const viewer = (): ReportObject =>
    viewerReport(
      key,
      manifest,
      common,
      perImage.map((r) => {
        const top = [...r.findings].sort((a, b) => b.probability - a.probability)[0];
        const w = r.columns - 1;
        const h = r.rows - 1;
        return {
          finding: top.class.finding,
          // The whole image, half a pixel in from its edges (the result is about the image).
          box: { x0: 0.5, y0: 0.5, x1: r.columns - 0.5, y1: r.rows - 0.5 },
          image: r.image,
          area: r.spacing
            ? { value: Math.round(w * r.spacing.columnMm * h * r.spacing.rowMm), unit: Codes.squareMillimeter }
            : { value: w * h, unit: Codes.squarePixels },
          measurements: [{ concept: Codes.certaintyOfFinding, value: percent(top.probability), unit: Codes.percent }],
          label: r.findings
            .map((f) => `${f.class.name}: ${f.outcome} ${(f.probability * 100).toFixed(1)}%`)
            .join('; ')
            .slice(0, 1024),
        };
      }),
    );
  const reports = profiles.map((p) => (p === 'viewer' ? viewer() : standard()));
  return { reports, timingsMs: { srEncode: performance.now() - t0 } };
}
