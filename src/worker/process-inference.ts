/**
 * One inference job, stage by stage: ledger check -> PACS check (results already there?) ->
 * WADO-RS retrieve -> volume -> model -> SEG + SR -> STOW-RS -> ledger. Each stage reports
 * progress. Re-running a job after a crash is safe: output UIDs are deterministic and the PACS
 * is asked first.
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
import { outputUids } from '../results/output-uids';
import { DEFAULT_SR_PROFILES } from '../contracts/sr-profile';
import { collectGarbage, StagePeaks } from '../observability/memory';
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
}

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
  return new Client({
    url: d.url,
    username: d.usernameEnv ? process.env[d.usernameEnv] : undefined,
    password: d.passwordEnv ? process.env[d.passwordEnv] : undefined,
    timeoutMs: 120_000,
  });
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

export async function processInferenceJob(
  deps: WorkerDeps,
  job: InferenceJob,
  progress: ProgressFn,
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
  const uids = outputUids(job);
  const profiles = job.srProfiles ?? DEFAULT_SR_PROFILES;
  const reportSeries = profiles.map((p) => (p === 'viewer' ? uids.viewerSrSeries : uids.srSeries));
  const t: Record<string, number> = {};
  const peaks = new StagePeaks();
  const mark = (name: string, since: number): number => (
    peaks.mark(name),
    (t[name] = Math.round(performance.now() - since)),
    performance.now()
  );

  const started = performance.now();
  await progress({ stage: 'check', percent: 2 });
  let t0 = performance.now();
  const done = await deps.ledger.get(job.studyInstanceUid, job.modelId, job.modelVersion);
  if (done && (done.resultVersion ?? 1) >= (job.resultVersion ?? 1)) {
    log.info('results already delivered (ledger); nothing to do');
    return {
      status: 'already-delivered',
      segSeriesInstanceUid: done.segSeriesInstanceUid,
      srSeriesInstanceUid: done.srSeriesInstanceUid,
      reportSeriesInstanceUids: reportSeries,
    };
  }
  const target = targetClient(deps, job);
  const there = await Promise.all(
    [uids.segSeries, ...reportSeries].map((series) => seriesExists(target, job.studyInstanceUid, series)),
  );
  if (there.every(Boolean)) {
    await deps.ledger.record(job.studyInstanceUid, job.modelId, job.modelVersion, {
      seriesInstanceUid: job.seriesInstanceUid,
      segSeriesInstanceUid: uids.segSeries,
      srSeriesInstanceUid: reportSeries[0],
      deliveredAt: new Date().toISOString(),
      resultVersion: job.resultVersion ?? 1,
    });
    log.info('results already in the PACS; ledger updated');
    return {
      status: 'already-delivered',
      segSeriesInstanceUid: uids.segSeries,
      srSeriesInstanceUid: reportSeries[0],
      reportSeriesInstanceUids: reportSeries,
    };
  }
  t0 = mark('check', t0);

  await progress({ stage: 'retrieve', percent: 10 });
  // No collection here: the previous job's garbage was collected when it was reported.
  // Retrieve and decode overlap: each instance is decoded, and rescaled into the volume, as soon
  // as it has arrived (the worker role's retriever reads the response on a thread of its own).
  const builder = await VolumeBuilder.create(job.seriesInstanceUid, deps.maxVoxels, deps.maxFramePixels);
  const instances = await (deps.retriever ?? deps.client).retrieveSeriesStreaming(
    job.studyInstanceUid,
    job.seriesInstanceUid,
    (part10) => builder.add(part10),
  );
  t0 = mark('retrieveDecode', t0);

  await progress({ stage: 'volume', percent: 35 });
  const { volume, patientStudy, separated } = builder.build();
  if (separated.localizers || separated.otherStacks.length)
    log.info({ instances, separated }, 'localizers or other stacks separated from the volume');
  if (patientStudy.StudyInstanceUID !== job.studyInstanceUid) {
    throw new AinodeError('SERIES_NOT_FOUND', 'the retrieved series belongs to another study', { retryable: false });
  }
  // Models that measure volumes only do not need the source intensities after preprocessing:
  // they are released and collected before the model runs (a 256^3 MRI: 64 MB less at the
  // worker's peak); that collection also takes the retrieved Part 10 bytes, else it is done here.
  const releaseSource = !needsIntensities(pkg.manifest);
  if (!releaseSource) collectGarbage(); // the retrieved Part 10 bytes and their parsed datasets
  t0 = mark('volume', t0);

  const acc = pkg.manifest.accepts.sliceSpacingMm;
  if (
    acc &&
    ((acc.min !== undefined && volume.geometry.spacing[2] < acc.min) ||
      (acc.max !== undefined && volume.geometry.spacing[2] > acc.max))
  ) {
    throw new AinodeError(
      'SERIES_NOT_ACCEPTED',
      `slice spacing ${volume.geometry.spacing[2].toFixed(2)} mm is outside what ${pkg.manifest.id} accepts`,
      { retryable: false },
    );
  }

  await progress({ stage: 'inference', percent: 45 });
  log.info({ slices: volume.geometry.slices }, 'inference started');
  const loaded = await deps.session(pkg);
  const outcome = await segmentVolume(pkg, loaded, volume, { releaseSource });
  // A model input of its own (resampled, say) is not read again: its memory, resident, is kept
  // for the next study's frames (the source's own buffer is, after the results are stored).
  if (outcome.spentInput) VolumeBuilder.keep(outcome.spentInput);
  outcome.spentInput = undefined; // one keep refuses (over 256 MB) is not held to the job's end
  t0 = mark('inference', t0);
  t.preprocess = Math.round(outcome.timingsMs.preprocess);
  t.model = Math.round(outcome.timingsMs.inference);
  t.postprocess = Math.round(outcome.timingsMs.postprocess);

  // No collection of the post-processing temporaries either (45 ms for a brain MRI): encoding
  // needs far less than the model run did, and the worker collects once the job is reported.
  await progress({ stage: 'encode', percent: 80 });
  const measurements = measure(pkg.manifest, volume, outcome.labels);
  t.measure = Math.round(performance.now() - t0);
  const objects = buildSegmentationResults(
    job,
    pkg.manifest,
    volume,
    patientStudy,
    outcome.labels,
    measurements,
    profiles,
  );
  t0 = mark('encode', t0);
  t.segEncode = objects.timingsMs.segEncode;
  t.srEncode = objects.timingsMs.srEncode;

  await progress({ stage: 'store', percent: 90 });
  await target.store(job.studyInstanceUid, [
    { sopInstanceUid: objects.seg.sopInstanceUid, part10: objects.seg.part10 },
    ...objects.reports.map((r) => ({ sopInstanceUid: r.sopInstanceUid, part10: r.part10 })),
  ]);
  mark('store', t0);
  await deps.ledger.record(job.studyInstanceUid, job.modelId, job.modelVersion, {
    seriesInstanceUid: job.seriesInstanceUid,
    segSeriesInstanceUid: objects.seg.seriesInstanceUid,
    srSeriesInstanceUid: objects.reports[0].seriesInstanceUid,
    deliveredAt: new Date().toISOString(),
    resultVersion: job.resultVersion ?? 1,
    inputInstances: instances,
  });
  // Nothing reads the volume any more: its buffer is kept for the next study's frames (see
  // VolumeBuilder.recycle; a released source is an empty array and is not kept).
  VolumeBuilder.recycle(volume.voxels);
  await progress({ stage: 'done', percent: 100 });
  t.job = Math.round(performance.now() - started);
  const volumesMl: Record<string, number> = {};
  const add = (name: string, r: RegionStats | undefined): void =>
    void (r && (volumesMl[name] = Math.round(r.volumeMl * 10) / 10));
  for (const s of pkg.manifest.segments) add(s.name, measurements.segments.get(s.label));
  for (const [name, d] of measurements.derived) add(name, d.union);
  log.info(
    {
      provider: loaded.provider,
      frames: objects.seg.frames,
      note: outcome.note,
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
