/**
 * One inference job as a sequence of named stages, run by one wrapper (`runStages`) that owns
 * what every stage needs around it: progress, timing, memory peaks per stage and cancellation.
 * The stages: check (delivered already? ledger, then the PACS) -> accept (the series' facts
 * against what the model accepts, before anything is downloaded) -> retrieveDecode (WADO-RS,
 * each instance decoded on arrival) -> volume -> inference -> encode (SEG + SR) -> store
 * (STOW-RS, then the ledger). Re-running a job after a crash is safe: output UIDs are
 * deterministic (contracts/result-identity.ts) and the PACS is asked first.
 */
import type { DicomwebClient, SeriesRetriever } from '../dicomweb/client';
import type { Logger } from '../observability/logger';
import type { DeliveryLedger } from '../results/ledger';
import type { ModelPackage } from '../inference/model-package';
import type { LoadedSession } from '../inference/session';
import { AinodeError } from '../errors';
import { Tag, jsonString } from '../dicom/json';
import { VolumeBuilder } from '../volume/assemble';
import { segmentVolume } from '../inference/segment-volume';
import { measure, needsIntensities, type RegionStats } from '../inference/measure';
import { buildSegmentationResults } from '../results/segmentation-results';
import { isDelivered, resultIdentity, type ResultIdentity } from '../contracts/result-identity';
import { DEFAULT_SR_PROFILES, type SrProfile } from '../contracts/sr-profile';
import { collectGarbage, StagePeaks } from '../observability/memory';
import type { InferenceJob } from '../contracts/job';
import { cross, dot, type Vec3 } from '../contracts/geometry';
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
function targetClient(deps: WorkerDeps, job: InferenceJob): DicomwebClient {
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
  segSeriesInstanceUid: string;
  /** The first SR's series (the first profile of the rule). */
  srSeriesInstanceUid: string;
  /** Every SR series written, one per profile, in profile order. */
  reportSeriesInstanceUids: string[];
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
interface JobContext {
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
  objects?: ReturnType<typeof buildSegmentationResults>;
}

interface StageDef {
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
async function runStages(
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

const checkDelivered: StageDef = {
  name: 'check',
  progress: { stage: 'check', percent: 2 },
  async run(ctx) {
    const { deps, job, identity, reportSeries, log } = ctx;
    const done = await deps.ledger.get(job.studyInstanceUid, job.modelId, job.modelVersion);
    if (done && isDelivered(done, job)) {
      log.info('results already delivered (ledger); nothing to do');
      return {
        status: 'already-delivered',
        segSeriesInstanceUid: done.segSeriesInstanceUid,
        srSeriesInstanceUid: done.srSeriesInstanceUid,
        reportSeriesInstanceUids: reportSeries,
      };
    }
    const target = (ctx.target = targetClient(deps, job));
    const there = await Promise.all(
      [identity.uids.segSeries, ...reportSeries].map((series) => seriesExists(target, job.studyInstanceUid, series)),
    );
    if (!there.every(Boolean)) return;
    await deps.ledger.record(job.studyInstanceUid, job.modelId, job.modelVersion, {
      seriesInstanceUid: job.seriesInstanceUid,
      segSeriesInstanceUid: identity.uids.segSeries,
      srSeriesInstanceUid: reportSeries[0],
      deliveredAt: new Date().toISOString(),
      resultVersion: identity.resultVersion,
    });
    log.info('results already in the PACS; ledger updated');
    return {
      status: 'already-delivered',
      segSeriesInstanceUid: identity.uids.segSeries,
      srSeriesInstanceUid: reportSeries[0],
      reportSeriesInstanceUids: reportSeries,
    };
  },
};

function refuseSpacing(ctx: JobContext, spacing: number): void {
  const acc = ctx.pkg.manifest.accepts.sliceSpacingMm;
  if (acc && ((acc.min !== undefined && spacing < acc.min) || (acc.max !== undefined && spacing > acc.max))) {
    throw new AinodeError(
      'SERIES_NOT_ACCEPTED',
      `slice spacing ${spacing.toFixed(2)} mm is outside what ${ctx.pkg.manifest.id} accepts`,
      { retryable: false },
    );
  }
}

/**
 * What the model accepts that the series' facts tell without its pixels: the slice spacing, from
 * the instances' positions along the slice normal (QIDO-RS), checked before the series is
 * downloaded. Where the PACS does not give the positions, the volume's own spacing is checked
 * after assembly (as it always is).
 */
const acceptFromFacts: StageDef = {
  name: 'accept',
  progress: { stage: 'check', percent: 5 },
  async run(ctx) {
    if (!ctx.pkg.manifest.accepts.sliceSpacingMm) return;
    const spacing = await factSpacing(ctx.deps.client, ctx.job);
    if (spacing !== undefined) refuseSpacing(ctx, spacing);
  },
};

export async function factSpacing(client: DicomwebClient, job: InferenceJob): Promise<number | undefined> {
  const found = await client.search(`/studies/${job.studyInstanceUid}/series/${job.seriesInstanceUid}/instances`, {
    includefield: ['00200032', '00200037'],
  });
  const num = (x: unknown): number[] => ((x as { Value?: unknown[] } | undefined)?.Value ?? []).map(Number);
  const iop = num(found[0]?.['00200037']);
  if (iop.length !== 6) return undefined;
  const n = cross([iop[0], iop[1], iop[2]], [iop[3], iop[4], iop[5]]);
  const along = found
    .map((i) => num(i['00200032']))
    .filter((p) => p.length === 3 && p.every(Number.isFinite))
    .map((p) => dot(p as Vec3, n))
    .sort((a, b) => a - b);
  if (along.length < 2 || along.length !== found.length) return undefined;
  const gaps = along
    .slice(1)
    .map((v, i) => v - along[i])
    .filter((g) => g > 1e-3)
    .sort((a, b) => a - b);
  return gaps.length ? gaps[Math.floor(gaps.length / 2)] : undefined;
}

const retrieveDecode: StageDef = {
  name: 'retrieveDecode',
  progress: { stage: 'retrieve', percent: 10 },
  async run(ctx) {
    // No collection here: the previous job's garbage was collected when it was reported.
    // Retrieve and decode overlap: each instance is decoded, and rescaled into the volume, as soon
    // as it has arrived (the worker role's retriever reads the response on a thread of its own).
    const { deps, job } = ctx;
    const builder = (ctx.builder = await VolumeBuilder.create(
      job.seriesInstanceUid,
      deps.maxVoxels,
      deps.maxFramePixels,
    ));
    ctx.instances = await (deps.retriever ?? deps.client).retrieveSeriesStreaming(
      job.studyInstanceUid,
      job.seriesInstanceUid,
      (part10) => builder.add(part10),
    );
  },
};

const buildVolume: StageDef = {
  name: 'volume',
  progress: { stage: 'volume', percent: 35 },
  async run(ctx) {
    const assembled = (ctx.assembled = ctx.builder!.build());
    ctx.builder = undefined;
    const { separated, patientStudy } = assembled;
    if (separated.localizers || separated.otherStacks.length)
      ctx.log.info({ instances: ctx.instances, separated }, 'localizers or other stacks separated from the volume');
    if (patientStudy.StudyInstanceUID !== ctx.job.studyInstanceUid) {
      throw new AinodeError('SERIES_NOT_FOUND', 'the retrieved series belongs to another study', { retryable: false });
    }
    // Models that measure volumes only do not need the source intensities after preprocessing:
    // they are released and collected before the model runs (a 256^3 MRI: 64 MB less at the
    // worker's peak); that collection also takes the retrieved Part 10 bytes, else it is done here.
    ctx.releaseSource = !needsIntensities(ctx.pkg.manifest);
    if (!ctx.releaseSource) collectGarbage(); // the retrieved Part 10 bytes and their parsed datasets
    refuseSpacing(ctx, assembled.volume.geometry.spacing[2]);
  },
};

const runModel: StageDef = {
  name: 'inference',
  progress: { stage: 'inference', percent: 45 },
  async run(ctx) {
    const { volume } = ctx.assembled!;
    ctx.log.info({ slices: volume.geometry.slices }, 'inference started');
    ctx.loaded = await ctx.deps.session(ctx.pkg);
    const outcome = (ctx.outcome = await segmentVolume(ctx.pkg, ctx.loaded, volume, {
      releaseSource: ctx.releaseSource,
    }));
    // A model input of its own (resampled, say) is not read again: its memory, resident, is kept
    // for the next study's frames (the source's own buffer is, after the results are stored).
    if (outcome.spentInput) VolumeBuilder.keep(outcome.spentInput);
    outcome.spentInput = undefined; // one keep refuses (over 256 MB) is not held to the job's end
    ctx.timings.preprocess = Math.round(outcome.timingsMs.preprocess);
    ctx.timings.model = Math.round(outcome.timingsMs.inference);
    ctx.timings.postprocess = Math.round(outcome.timingsMs.postprocess);
  },
};

const encodeResults: StageDef = {
  name: 'encode',
  progress: { stage: 'encode', percent: 80 },
  async run(ctx) {
    // No collection of the post-processing temporaries (45 ms for a brain MRI): encoding needs
    // far less than the model run did, and the worker collects once the job is reported.
    const { volume, patientStudy } = ctx.assembled!;
    const t0 = performance.now();
    ctx.measurements = measure(ctx.pkg.manifest, volume, ctx.outcome!.labels);
    ctx.timings.measure = Math.round(performance.now() - t0);
    ctx.objects = buildSegmentationResults(
      ctx.job,
      ctx.pkg.manifest,
      volume,
      patientStudy,
      ctx.outcome!.labels,
      ctx.measurements,
      ctx.profiles,
    );
    ctx.timings.segEncode = ctx.objects.timingsMs.segEncode;
    ctx.timings.srEncode = ctx.objects.timingsMs.srEncode;
  },
};

const storeResults: StageDef = {
  name: 'store',
  progress: { stage: 'store', percent: 90 },
  async run(ctx) {
    const { job, deps, identity } = ctx;
    const objects = ctx.objects!;
    await ctx.target!.store(job.studyInstanceUid, [
      { sopInstanceUid: objects.seg.sopInstanceUid, part10: objects.seg.part10 },
      ...objects.reports.map((r) => ({ sopInstanceUid: r.sopInstanceUid, part10: r.part10 })),
    ]);
    await deps.ledger.record(job.studyInstanceUid, job.modelId, job.modelVersion, {
      seriesInstanceUid: job.seriesInstanceUid,
      segSeriesInstanceUid: objects.seg.seriesInstanceUid,
      srSeriesInstanceUid: objects.reports[0].seriesInstanceUid,
      deliveredAt: new Date().toISOString(),
      resultVersion: identity.resultVersion,
      inputInstances: ctx.instances,
    });
    // Nothing reads the volume any more: its buffer is kept for the next study's frames (see
    // VolumeBuilder.recycle; a released source is an empty array and is not kept).
    VolumeBuilder.recycle(ctx.assembled!.volume.voxels);
  },
};

/** The stages of a job, in order. */
const STAGES: StageDef[] = [
  checkDelivered,
  acceptFromFacts,
  retrieveDecode,
  buildVolume,
  runModel,
  encodeResults,
  storeResults,
];
/** Their names: the keys of a job's `timingsMs` and `peakRssMb`, and of the stage metric. */
export const JOB_STAGES: readonly string[] = STAGES.map((s) => s.name);

export async function processInferenceJob(
  deps: WorkerDeps,
  job: InferenceJob,
  progress: ProgressFn,
  signal?: AbortSignal,
): Promise<JobOutcome> {
  const log = deps.log.child({ studyInstanceUid: job.studyInstanceUid, modelId: job.modelId, stage: 'worker' });
  const pkg = deps.models.get(job.modelId);
  if (!pkg || pkg.manifest.version !== job.modelVersion) {
    throw new AinodeError(
      'MODEL_PACKAGE_INVALID',
      `model ${job.modelId} ${job.modelVersion} is not loaded on this worker`,
      {
        retryable: true,
        hint: 'deploy the same model packages on every worker (`ainode models list`)',
      },
    );
  }
  const identity = resultIdentity(job);
  const profiles = job.srProfiles ?? DEFAULT_SR_PROFILES;
  const reportSeries = profiles.map((p) => (p === 'viewer' ? identity.uids.viewerSrSeries : identity.uids.srSeries));
  const ctx: JobContext = { deps, job, log, pkg, identity, profiles, reportSeries, timings: {} };
  const peaks = new StagePeaks();
  const started = performance.now();
  const early = await runStages(ctx, STAGES, progress, peaks, signal);
  if (early) return early;
  await progress({ stage: 'done', percent: 100 });
  const t = ctx.timings;
  t.job = Math.round(performance.now() - started);
  const objects = ctx.objects!;
  const measurements = ctx.measurements!;
  const volumesMl: Record<string, number> = {};
  const add = (name: string, r: RegionStats | undefined): void =>
    void (r && (volumesMl[name] = Math.round(r.volumeMl * 10) / 10));
  for (const s of pkg.manifest.segments) add(s.name, measurements.segments.get(s.label));
  for (const [name, d] of measurements.derived) add(name, d.union);
  log.info(
    {
      provider: ctx.loaded!.provider,
      frames: objects.seg.frames,
      note: ctx.outcome!.note,
      timingsMs: t,
      peakRssMb: peaks.peaksMb,
    },
    'results stored',
  );
  return {
    status: 'delivered',
    segSeriesInstanceUid: objects.seg.seriesInstanceUid,
    srSeriesInstanceUid: objects.reports[0].seriesInstanceUid,
    reportSeriesInstanceUids: objects.reports.map((r) => r.seriesInstanceUid),
    volumesMl,
    timingsMs: t,
    peakRssMb: peaks.peaksMb,
  };
}
