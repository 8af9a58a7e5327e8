/**
 * What every job's stages share: the context they fill in for each other, the wrapper that runs
 * them (progress, timing, memory peaks, cancellation), the first stage (delivered already?) and
 * the last (store, then the ledger). The segmentation stages are in process-inference.ts, the 2D
 * image stages in image-stages.ts.
 */
import type { DicomwebClient, SeriesRetriever } from '../dicomweb/client';
import type { Logger } from '../observability/logger';
import type { DeliveryLedger } from '../results/ledger';
import type { ModelPackage } from '../inference/model-package';
import type { LoadedSession } from '../inference/session';
import { AinodeError } from '../errors';
import { Tag, jsonString } from '../dicom/json';
import type { NaturalDataset } from '../dicom/part10';
import type { InstanceRef } from '../dicom/sr/measurement-report';
import { VolumeBuilder } from '../volume/assemble';
import type { segmentVolume } from '../inference/segment-volume';
import type { measure } from '../inference/measure';
import type { ClassFinding } from '../inference/classify';
import type { Detection3D } from '../inference/detect';
import type { ReportObject, ResultObjects } from '../results/segmentation-results';
import type { ImageClassification } from '../results/classification-results';
import type { FrameRef } from '../results/image-reports';
import type { ImageDetections } from '../results/detection-results';
import { isDelivered, type ResultIdentity } from '../contracts/result-identity';
import type { SrProfile } from '../contracts/sr-profile';
import { StagePeaks } from '../observability/memory';
import type { InferenceJob } from '../contracts/job';
import { DicomwebClient as Client } from '../dicomweb/client';
import type { RulesStore } from '../rules/rules-store';

export interface WorkerDeps {
  client: DicomwebClient;
  /** How series are retrieved: `client` itself unless given (the worker role uses a RetrieveThread). */
  retriever?: SeriesRetriever;
  ledger: DeliveryLedger;
  models: Map<string, ModelPackage>;
  session: (pkg: ModelPackage) => Promise<LoadedSession>;
  log: Logger;
  /** Refuse series claiming more voxels than this, before allocating. */
  maxVoxels?: number;
  /** Refuse frames declaring more pixels than this, before decoding. */
  maxFramePixels?: number;
  /** The rules in force, for named result destinations. */
  rules?: RulesStore;
  /** Where destination credentials are read (the rules name the variables); default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** One client per named destination, kept for the worker's life (each holds its connections). */
const destinationClients = new Map<string, { url: string; client: DicomwebClient }>();

/** The DICOMweb server results go to: the source PACS, or a destination named in the rules. */
export function targetClient(deps: WorkerDeps, job: InferenceJob): DicomwebClient {
  const name = job.destination ?? 'source';
  if (name === 'source') return deps.client;
  const d = deps.rules?.rules.destinations.get(name);
  if (!d)
    throw new AinodeError('DESTINATION_UNKNOWN', `destination "${name}" is not in the rules in force`, {
      retryable: false,
      hint: 'declare it under destinations: in the rules file, then retry the job',
    });
  const env = deps.env ?? process.env;
  const key = `${name} ${d.url} ${d.usernameEnv ?? ''} ${d.passwordEnv ?? ''}`;
  const kept = destinationClients.get(key);
  if (kept) return kept.client;
  const client = new Client({
    url: d.url,
    username: d.usernameEnv ? env[d.usernameEnv] : undefined,
    password: d.passwordEnv ? env[d.passwordEnv] : undefined,
    timeoutMs: 120_000,
  });
  destinationClients.set(key, { url: d.url, client });
  return client;
}

export type Stage = 'check' | 'retrieve' | 'volume' | 'inference' | 'encode' | 'store' | 'done';
export type ProgressFn = (p: { stage: Stage; percent: number }) => Promise<void> | void;

export interface JobOutcome {
  status: 'delivered' | 'already-delivered';
  /** The SEG's series (segmentation models). */
  segSeriesInstanceUid?: string;
  /** The first SR's series (the first profile of the rule). */
  srSeriesInstanceUid: string;
  /** Every SR series written, one per profile, in profile order. */
  reportSeriesInstanceUids: string[];
  /** 2D models: each finding's outcome and probability, for the job's return value (no patient data). */
  findings?: string[];
  /** Volumes (mL) per segment and derived group, for the job's return value (no patient data). */
  volumesMl?: Record<string, number>;
  timingsMs?: Record<string, number>;
  /** Peak resident memory of the worker during each stage (Linux), MB. */
  peakRssMb?: Record<string, number>;
}

async function seriesExists(client: DicomwebClient, studyUid: string, seriesUid: string): Promise<boolean> {
  const found = await client.search(`/studies/${studyUid}/series`, { SeriesInstanceUID: seriesUid });
  return found.some((s) => jsonString(s, Tag.SeriesInstanceUID) === seriesUid);
}

/** What the stages of one job share; each stage fills in what the next ones read. */
export interface JobContext {
  deps: WorkerDeps;
  job: InferenceJob;
  log: Logger;
  pkg: ModelPackage;
  identity: ResultIdentity;
  profiles: readonly SrProfile[];
  reportSeries: string[];
  timings: Record<string, number>;
  target?: DicomwebClient;
  builder?: VolumeBuilder;
  instances?: number;
  assembled?: ReturnType<VolumeBuilder['build']>;
  releaseSource?: boolean;
  loaded?: LoadedSession;
  outcome?: Awaited<ReturnType<typeof segmentVolume>>;
  measurements?: ReturnType<typeof measure>;
  /** What store sends: a SEG (segmentation) and the reports. */
  objects?: { seg?: ResultObjects['seg']; reports: ReportObject[] };
  /** 2D models: the retrieved images, and each one's (or the combined) classification. */
  images?: RetrievedImage[];
  classified?: ImageClassification[];
  detected?: ImageDetections[];
  /** A volume detector's findings. */
  detected3d?: Detection3D[];
  combined?: { findings: ClassFinding[]; images: FrameRef[] };
}

/** One retrieved instance of a 2D model's series, parsed (its frames are decoded one at a time). */
export interface RetrievedImage {
  dataset: NaturalDataset;
  transferSyntaxUid: string;
  ref: InstanceRef;
  frames: number;
  /** The series it came from (a study-level model reads several). */
  seriesInstanceUid: string;
}

/** The series a job writes: its SEG (segmentation only) and one SR per profile. */
export function outputSeries(ctx: Pick<JobContext, 'pkg' | 'identity' | 'reportSeries'>): string[] {
  return ctx.pkg.manifest.task === 'segmentation'
    ? [ctx.identity.uids.segSeries, ...ctx.reportSeries]
    : ctx.reportSeries;
}

export interface StageDef {
  /** The name its duration and memory peak are reported under (metrics, bench, job return value). */
  name: string;
  progress: { stage: Stage; percent: number };
  /** Returning an outcome ends the job there (already delivered). */
  run(ctx: JobContext): Promise<JobOutcome | void>;
}

/**
 * Runs the stages in order: reports each one's progress before it, checks for cancellation
 * between them, and records each one's duration and memory peak.
 */
export async function runStages(
  ctx: JobContext,
  stages: StageDef[],
  progress: ProgressFn,
  peaks: StagePeaks,
  signal?: AbortSignal,
): Promise<JobOutcome | undefined> {
  for (const stage of stages) {
    if (signal?.aborted) throw new AinodeError('JOB_CANCELLED', `cancelled before ${stage.name}`, { retryable: false });
    await progress(stage.progress);
    const t0 = performance.now();
    const early = await stage.run(ctx);
    peaks.mark(stage.name);
    ctx.timings[stage.name] = Math.round(performance.now() - t0);
    if (early) return early;
  }
  return undefined;
}

export const checkDelivered: StageDef = {
  name: 'check',
  progress: { stage: 'check', percent: 2 },
  async run(ctx) {
    const { deps, job, identity, reportSeries, log } = ctx;
    const done = await deps.ledger.get(job.studyInstanceUid, job.modelId, job.modelVersion);
    if (done && isDelivered(done, job)) {
      log.info('results already delivered (ledger); nothing to do');
      return {
        status: 'already-delivered',
        ...(done.segSeriesInstanceUid ? { segSeriesInstanceUid: done.segSeriesInstanceUid } : {}),
        srSeriesInstanceUid: done.srSeriesInstanceUid,
        reportSeriesInstanceUids: reportSeries,
      };
    }
    const target = (ctx.target = targetClient(deps, job));
    const segmentation = ctx.pkg.manifest.task === 'segmentation';
    const there = await Promise.all(
      outputSeries(ctx).map((series) => seriesExists(target, job.studyInstanceUid, series)),
    );
    if (!there.every(Boolean)) return;
    await deps.ledger.record(job.studyInstanceUid, job.modelId, job.modelVersion, {
      seriesInstanceUid: job.seriesInstanceUid,
      segSeriesInstanceUid: segmentation ? identity.uids.segSeries : '',
      srSeriesInstanceUid: reportSeries[0],
      deliveredAt: new Date().toISOString(),
      resultVersion: identity.resultVersion,
    });
    log.info('results already in the PACS; ledger updated');
    return {
      status: 'already-delivered',
      ...(segmentation ? { segSeriesInstanceUid: identity.uids.segSeries } : {}),
      srSeriesInstanceUid: reportSeries[0],
      reportSeriesInstanceUids: reportSeries,
    };
  },
};

export const storeResults: StageDef = {
  name: 'store',
  progress: { stage: 'store', percent: 90 },
  async run(ctx) {
    const { job, deps, identity } = ctx;
    const objects = ctx.objects!;
    await ctx.target!.store(job.studyInstanceUid, [
      ...(objects.seg ? [{ sopInstanceUid: objects.seg.sopInstanceUid, part10: objects.seg.part10 }] : []),
      ...objects.reports.map((r) => ({ sopInstanceUid: r.sopInstanceUid, part10: r.part10 })),
    ]);
    await deps.ledger.record(job.studyInstanceUid, job.modelId, job.modelVersion, {
      seriesInstanceUid: job.seriesInstanceUid,
      segSeriesInstanceUid: objects.seg?.seriesInstanceUid ?? '',
      srSeriesInstanceUid: objects.reports[0].seriesInstanceUid,
      deliveredAt: new Date().toISOString(),
      resultVersion: identity.resultVersion,
      inputInstances: ctx.instances,
    });
    // Nothing reads the volume any more: its buffer is kept for the next study's frames (see
    // VolumeBuilder.recycle; a released source is an empty array and is not kept).
    if (ctx.assembled) VolumeBuilder.recycle(ctx.assembled.volume.voxels);
  },
};
