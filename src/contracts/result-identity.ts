/**
 * The identity of a result, derived once here and nowhere else: from (study, source series,
 * model id, model version, result version) follow the job id, every output UID, the series
 * numbers and descriptions, and the delivery decisions. Processing the same job again yields the
 * same UIDs, so the PACS ignores a second copy and the node can ask whether a result is there.
 */
import { deterministicUid } from './uid';
import { inferenceJobId } from './job';

export interface ResultKey {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  modelId: string;
  modelVersion: string;
  /** 1 for the first result of a (study, model version); a re-run on changed input is 2, 3, ... */
  resultVersion?: number;
}

export interface OutputUids {
  segSeries: string;
  segInstance: string;
  srSeries: string;
  srInstance: string;
  /** The viewer-profile SR (key-slice outlines), when a rule asks for it. */
  viewerSrSeries: string;
  viewerSrInstance: string;
  /** Device observer UID of this model version. */
  observer: string;
}

export function outputUids(k: ResultKey): OutputUids {
  const run = k.resultVersion && k.resultVersion > 1 ? [`r${k.resultVersion}`] : [];
  const name = (kind: string): string =>
    deterministicUid('ainode-result', k.studyInstanceUid, k.seriesInstanceUid, k.modelId, k.modelVersion, ...run, kind);
  return {
    segSeries: name('seg-series'),
    segInstance: name('seg-instance'),
    srSeries: name('sr-series'),
    srInstance: name('sr-instance'),
    viewerSrSeries: name('viewer-sr-series'),
    viewerSrInstance: name('viewer-sr-instance'),
    observer: deterministicUid('ainode-model', k.modelId, k.modelVersion),
  };
}

/** The outputs of one result: which series each is, what it is numbered and called. */
export type OutputKind = 'seg' | 'sr' | 'viewer-sr';

export interface ResultIdentity {
  /** 1 for the first result of a (study, model version), then 2, 3, ... */
  resultVersion: number;
  jobId: string;
  uids: OutputUids;
  /** The series number of an output: the manifest's base (+1 for the viewer SR), 100 more per result version. */
  seriesNumber(kind: OutputKind, base: { seg: number; sr: number }): number;
  /**
   * The series description of an output, e.g. `AI ct-lung 1.0.0 measurements run 2`; the viewer
   * SR of a model on 2D images (one with an `image` input) is its "key images", else "key slices".
   */
  seriesDescription(kind: OutputKind, model: { id: string; version: string; image?: unknown }): string;
}

export function resultIdentity(k: ResultKey): ResultIdentity {
  const v = k.resultVersion ?? 1;
  const run = v > 1 ? ` run ${v}` : '';
  return {
    resultVersion: v,
    jobId: inferenceJobId(k),
    uids: outputUids(k),
    seriesNumber: (kind, base) => (kind === 'seg' ? base.seg : kind === 'sr' ? base.sr : base.sr + 1) + 100 * (v - 1),
    seriesDescription: (kind, m) =>
      `AI ${m.id} ${m.version}${kind === 'sr' ? ' measurements' : kind === 'viewer-sr' ? (m.image ? ' key images' : ' key slices') : ''}${run}`,
  };
}

/** What the delivery ledger records of a delivered result (results/ledger.ts stores it). */
export interface DeliveryRecord {
  seriesInstanceUid: string;
  resultVersion?: number;
  inputInstances?: number;
}

/**
 * The intake's question: for this input (the series a rule chose, its instance count where
 * known), what result version should run, or none because the recorded result covers it.
 * A changed input (another series, more instances) runs as the next version.
 */
export function nextResultVersion(
  delivered: DeliveryRecord | undefined,
  input: { seriesInstanceUid: string; instances?: number },
): number | undefined {
  if (!delivered) return 1;
  const unchanged =
    delivered.seriesInstanceUid === input.seriesInstanceUid &&
    (delivered.inputInstances === undefined ||
      input.instances === undefined ||
      delivered.inputInstances === input.instances);
  return unchanged ? undefined : (delivered.resultVersion ?? 1) + 1;
}

/** The worker's question: has this result version (or a later one) been delivered already? */
export function isDelivered(delivered: DeliveryRecord | undefined, k: Pick<ResultKey, 'resultVersion'>): boolean {
  return delivered !== undefined && (delivered.resultVersion ?? 1) >= (k.resultVersion ?? 1);
}
