/**
 * One inference job as a sequence of named stages, run by one wrapper (`runStages`, stages.ts)
 * that owns what every stage needs around it: progress, timing, memory peaks per stage and
 * cancellation. A model on 2D images runs the stages of image-stages.ts; a segmentation model
 * these: check (delivered already? ledger, then the PACS) -> accept (the series' facts
 * against what the model accepts, before anything is downloaded) -> retrieveDecode (WADO-RS,
 * each instance decoded on arrival) -> volume -> inference -> encode (SEG + SR) -> store
 * (STOW-RS, then the ledger). Re-running a job after a crash is safe: output UIDs are
 * deterministic (contracts/result-identity.ts) and the PACS is asked first.
 */
import type { DicomwebClient } from '../dicomweb/client';
import { AinodeError } from '../errors';
import { VolumeBuilder } from '../volume/assemble';
import { prepareIntensities, segmentVolume, toModelGrid } from '../inference/segment-volume';
import { runModelOutputs } from '../inference/image-model';
import { decodeVolumeDetections } from '../inference/detect';
import { buildVolumeDetectionResults } from '../results/detection-results';
import { measure, needsIntensities, type RegionStats } from '../inference/measure';
import { buildSegmentationResults } from '../results/segmentation-results';
import { resultIdentity } from '../contracts/result-identity';
import { DEFAULT_SR_PROFILES } from '../contracts/sr-profile';
import { collectGarbage, StagePeaks } from '../observability/memory';
import type { InferenceJob } from '../contracts/job';
import { cross, dot, type Vec3 } from '../contracts/geometry';
import {
  checkDelivered,
  runStages,
  storeResults,
  type JobContext,
  type JobOutcome,
  type ProgressFn,
  type StageDef,
  type WorkerDeps,
} from './stages';
import { IMAGE_STAGES, imageOutcome } from './image-stages';

export type { JobOutcome, ProgressFn, WorkerDeps };

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
    const built = (ctx.objects = buildSegmentationResults(
      ctx.job,
      ctx.pkg.manifest,
      volume,
      patientStudy,
      ctx.outcome!.labels,
      ctx.measurements,
      ctx.profiles,
    ));
    ctx.timings.segEncode = built.timingsMs.segEncode;
    ctx.timings.srEncode = built.timingsMs.srEncode;
  },
};

/** A detector on the volume: the model grid and intensities as for segmentation, boxes in patient space. */
const detectInVolume: StageDef = {
  name: 'inference',
  progress: { stage: 'inference', percent: 45 },
  async run(ctx) {
    const { volume } = ctx.assembled!;
    const m = ctx.pkg.manifest;
    ctx.log.info({ slices: volume.geometry.slices }, 'inference started');
    ctx.loaded = await ctx.deps.session(ctx.pkg);
    let t = performance.now();
    const { grid, voxels, range } = toModelGrid(volume, m.preprocess);
    const input = prepareIntensities(voxels, m.preprocess, voxels !== volume.voxels, range);
    const channels = input.length / (grid.slices * grid.rows * grid.columns);
    ctx.timings.preprocess = Math.round(performance.now() - t);
    t = performance.now();
    const outputs = await runModelOutputs(ctx.pkg, ctx.loaded, input, [
      1,
      channels,
      grid.slices,
      grid.rows,
      grid.columns,
    ]);
    ctx.timings.model = Math.round(performance.now() - t);
    ctx.detected3d = decodeVolumeDetections(outputs, m.detection!, m.classes, grid);
  },
};

const encodeVolumeDetections: StageDef = {
  name: 'encode',
  progress: { stage: 'encode', percent: 80 },
  async run(ctx) {
    const { volume, patientStudy } = ctx.assembled!;
    const built = buildVolumeDetectionResults(
      ctx.job,
      ctx.pkg.manifest,
      patientStudy,
      {
        seriesInstanceUid: volume.seriesInstanceUid,
        instances: volume.slices,
        frameOfReferenceUid: volume.geometry.frameOfReferenceUid,
      },
      ctx.detected3d!,
      ctx.profiles,
      volume,
    );
    ctx.objects = { reports: built.reports };
    ctx.timings.srEncode = Math.round(built.timingsMs.srEncode);
  },
};

/** The stages of a detection job on a volume, in order. */
const VOLUME_DETECTION_STAGES: StageDef[] = [
  checkDelivered,
  acceptFromFacts,
  retrieveDecode,
  buildVolume,
  detectInVolume,
  encodeVolumeDetections,
  storeResults,
];

/** The stages of a segmentation job, in order. */
const STAGES: StageDef[] = [
  checkDelivered,
  acceptFromFacts,
  retrieveDecode,
  buildVolume,
  runModel,
  encodeResults,
  storeResults,
];
/** Their names, and those of the 2D image stages: the keys of a job's `timingsMs` and `peakRssMb`, and of the stage metric. */
export const JOB_STAGES: readonly string[] = [
  ...new Set([...STAGES, ...VOLUME_DETECTION_STAGES, ...IMAGE_STAGES].map((s) => s.name)),
];

/** The outcome of a volume detection job, logged and returned (class, score and centre; no patient data). */
function volumeDetectionOutcome(ctx: JobContext, peaks: StagePeaks): JobOutcome {
  const reports = ctx.objects!.reports;
  const findings = ctx.detected3d!.map(
    (d) => `${d.class.name} ${d.score.toFixed(3)} at ${d.centreMm.map((v) => v.toFixed(1)).join(',')} mm`,
  );
  ctx.log.info(
    { provider: ctx.loaded!.provider, findings, timingsMs: ctx.timings, peakRssMb: peaks.peaksMb },
    'results stored',
  );
  return {
    status: 'delivered',
    srSeriesInstanceUid: reports[0].seriesInstanceUid,
    reportSeriesInstanceUids: reports.map((r) => r.seriesInstanceUid),
    findings,
    timingsMs: ctx.timings,
    peakRssMb: peaks.peaksMb,
  };
}

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
  const imageModel = pkg.manifest.image !== undefined;
  const volumeDetector = pkg.manifest.task === 'detection' && !imageModel;
  const stages = imageModel ? IMAGE_STAGES : volumeDetector ? VOLUME_DETECTION_STAGES : STAGES;
  const early = await runStages(ctx, stages, progress, peaks, signal);
  if (early) return early;
  await progress({ stage: 'done', percent: 100 });
  const t = ctx.timings;
  t.job = Math.round(performance.now() - started);
  if (imageModel) return imageOutcome(ctx, peaks);
  if (volumeDetector) return volumeDetectionOutcome(ctx, peaks);

  const objects = ctx.objects as ReturnType<typeof buildSegmentationResults>;
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
