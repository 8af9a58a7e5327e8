/**
 * The job contract between intake and worker. Payloads carry UIDs and model identity only:
 * BullMQ stores them in Redis in clear, so no patient data may ever go in here.
 */
import { AinodeError } from '../errors';
import { isValidUid } from './uid';
import { isSrProfile, type SrProfile } from './sr-profile';

export const INFERENCE_QUEUE = 'inference';

export interface InferenceJob {
  studyInstanceUid: string;
  /** The series the routing chose as the model's input. */
  seriesInstanceUid: string;
  modelId: string;
  modelVersion: string;
  /** The routing rule that asked for it (a name, not patient data). */
  rule?: string;
  /** "source" or a destination name from the rules file. */
  destination?: string;
  /** SR output profiles for the destination (default: standard only). */
  srProfiles?: SrProfile[];
  /** Result version: 1 (default) for the first run, n+1 when the input changed after run n. */
  resultVersion?: number;
}

/** One job per (study, model version, result version); BullMQ job ids must not contain ':'. */
export function inferenceJobId(
  j: Pick<InferenceJob, 'studyInstanceUid' | 'modelId' | 'modelVersion' | 'resultVersion'>,
): string {
  return `${j.studyInstanceUid}_${j.modelId}_${j.modelVersion}${j.resultVersion && j.resultVersion > 1 ? `_r${j.resultVersion}` : ''}`;
}

export function parseInferenceJob(data: unknown): InferenceJob {
  const d = data as Record<string, unknown> | null;
  const keys = ['studyInstanceUid', 'seriesInstanceUid', 'modelId', 'modelVersion'];
  const optional = ['rule', 'destination', 'resultVersion', 'srProfiles'];
  if (!d || typeof d !== 'object') throw new AinodeError('JOB_PAYLOAD_INVALID', 'job payload is not an object');
  const extra = Object.keys(d).filter((k) => !keys.includes(k) && !optional.includes(k));
  if (extra.length)
    throw new AinodeError('JOB_PAYLOAD_INVALID', `job payload has unexpected fields: ${extra.join(', ')}`);
  for (const k of keys)
    if (typeof d[k] !== 'string' || d[k] === '')
      throw new AinodeError('JOB_PAYLOAD_INVALID', `job payload field ${k} is missing`);
  for (const k of ['studyInstanceUid', 'seriesInstanceUid'])
    if (!isValidUid(d[k] as string))
      throw new AinodeError('JOB_PAYLOAD_INVALID', `job payload field ${k} is not a UID`);
  for (const k of ['rule', 'destination'])
    if (d[k] !== undefined && (typeof d[k] !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(d[k] as string)))
      throw new AinodeError('JOB_PAYLOAD_INVALID', `job payload field ${k} must be a short name`);
  if (d.resultVersion !== undefined && !(Number.isInteger(d.resultVersion) && (d.resultVersion as number) >= 1))
    throw new AinodeError('JOB_PAYLOAD_INVALID', 'job payload field resultVersion must be a positive integer');
  if (
    d.srProfiles !== undefined &&
    !(
      Array.isArray(d.srProfiles) &&
      d.srProfiles.length > 0 &&
      d.srProfiles.length <= 2 &&
      d.srProfiles.every(isSrProfile) &&
      new Set(d.srProfiles).size === d.srProfiles.length
    )
  )
    throw new AinodeError(
      'JOB_PAYLOAD_INVALID',
      'job payload field srProfiles must list standard and/or viewer once each',
    );
  return {
    studyInstanceUid: d.studyInstanceUid as string,
    seriesInstanceUid: d.seriesInstanceUid as string,
    modelId: d.modelId as string,
    modelVersion: d.modelVersion as string,
    ...(d.rule !== undefined ? { rule: d.rule as string } : {}),
    ...(d.destination !== undefined ? { destination: d.destination as string } : {}),
    ...(d.resultVersion !== undefined ? { resultVersion: d.resultVersion as number } : {}),
    ...(d.srProfiles !== undefined ? { srProfiles: d.srProfiles as SrProfile[] } : {}),
  };
}

/** Every state a job can be in, in the order the admin API and the metrics list them. */
export const JOB_STATES = ['waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed'] as const;
export type JobState = (typeof JOB_STATES)[number];

export function isJobState(v: string): v is JobState {
  return (JOB_STATES as readonly string[]).includes(v);
}

/**
 * A failed job's stored reason read back: the worker stores `CODE: message (next: hint)`
 * (AinodeError.oneLine, via describeError); anything else, e.g. a crash, is code UNKNOWN.
 */
export function parseFailure(reason: string): { code: string; message: string } {
  const m = /^([A-Z][A-Z0-9_]*):\s*(.*)$/s.exec(reason);
  return m ? { code: m[1], message: m[2] } : { code: 'UNKNOWN', message: reason };
}
