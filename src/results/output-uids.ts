/**
 * Output identities. Every UID of a result is derived from (study, source series, model id,
 * model version), so processing the same job again yields the same SEG and SR UIDs: the PACS
 * ignores a second copy, and the node can ask the PACS whether the result is already there.
 */
import { deterministicUid } from '../contracts/uid';

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
