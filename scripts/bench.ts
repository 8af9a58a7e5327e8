/**
 * The end-to-end benchmark (`npm run bench [-- --runs 5 --out FILE]`), not a test: it starts its
 * own Orthanc and redis-server, runs ainode's listener and worker as separate processes, and for
 * the 64-slice chest CT and the 256-slice brain MRI measures, per run:
 *  - turnaround: Orthanc's StableStudy event (seen in its change feed) -> SEG and SR visible by
 *    QIDO-RS; p50 and p95;
 *  - the stages: detection delay, routing (QIDO), queue wait, retrieve+decode (streamed, so one
 *    stage), volume assembly, preprocessing, inference, post-processing, SEG encode, SR encode,
 *    STOW-RS, and the lag until QIDO shows the results;
 *  - the physical limit on the same data in the same run: raw WADO-RS retrieve (bytes discarded),
 *    a bare onnxruntime run on the same input tensor, raw STOW-RS of the same output bytes;
 *    overheadRatio = turnaround / (raw retrieve + bare inference + raw store); and, to tell
 *    the memory's state apart from ainode's work, the bare run once more after COLD_GAP_MS idle
 *    (bareInferenceColdMs; see COLD_GAP_MS);
 *  - the worker's peak resident memory for the study (VmHWM, reset before each study) next to the
 *    float32 volume size.
 * Then throughput for a burst of 20 chest CTs with 1 and with 2 worker processes, and SEG encoding
 * against dcmjs (scripts/bench-seg.ts). Prints a table and writes JSON with --out.
 */
import { execFileSync, spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import IORedis from 'ioredis';
import { Queue, QueueEvents } from 'bullmq';
import * as ort from 'onnxruntime-node';
import { DicomwebClient } from '../src/dicomweb/client';
import { jsonString, Tag } from '../src/dicom/json';
import { niftiToMrSeries } from '../src/convert/nifti-to-dicom';
import { readPart10 } from '../src/dicom/part10';
import { readNifti } from '../src/volume/nifti';
import { assembleVolume } from '../src/volume/assemble';
import { loadModelPackage } from '../src/inference/model-package';
import { prepareIntensities, toModelGrid } from '../src/inference/segment-volume';
import { sessionOptions } from '../src/inference/session';
import { MALLOC_TUNING, mallocTuningEnv } from '../src/observability/memory';
import { INFERENCE_QUEUE, inferenceJobId, type InferenceJob } from '../src/contracts/job';
import { startOrthanc, type OrthancProcess } from './support/orthanc';
import { startRedis } from './support/redis-server';
import { textTable } from './support/text-table';
import { readDicomFolder, stowFiles, type DicomFile } from './support/dicom-files';
import { reUid } from './support/reuid';
import { rerunUnderMallocTuning } from './support/malloc-env';

const REPO = path.resolve(__dirname, '..', '..');
const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/**
 * Idle time before the second bare run: about what the worker has between two studies here
 * (storing the next study, Orthanc's 2 s stable age, detection, routing, retrieval).
 */
const COLD_GAP_MS = 4000;
const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor((a.length - 1) / 2)];
const p95 = (a: number[]): number =>
  [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.ceil(a.length * 0.95) - 1)];
const say = (s: string): void => void process.stderr.write(`${s}\n`);

/** The stages of a turnaround as the report lists them; `otherMs` is what they leave of it. */
const STAGES = [
  'detectionMs',
  'routingMs',
  'queueWaitMs',
  'checkMs',
  'acceptMs',
  'retrieveDecodeMs',
  'volumeMs',
  'preprocessMs',
  'inferenceMs',
  'postprocessMs',
  'measureMs',
  'segEncodeMs',
  'srEncodeMs',
  'storeMs',
  'visibleLagMs',
  'otherMs',
] as const;

interface Proc {
  child: ChildProcess;
  lines: string[];
}

function startAinode(role: string, env: Record<string, string>, logDir: string): Proc {
  const lines: string[] = [];
  // --profile DIR: each ainode process writes a V8 CPU profile there when it exits (open it in
  // Chrome's DevTools); the profiler slows the processes, so the numbers of such a run are not
  // comparable with others.
  const profile = arg('--profile');
  const nodeArgs = profile ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(profile)}`] : [];
  const child = spawn(process.execPath, [...nodeArgs, path.join(REPO, 'bin', 'ainode.js'), 'start', '--role', role], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = fs.createWriteStream(path.join(logDir, `${role}-${child.pid}.log`));
  const on = (b: Buffer): void => {
    log.write(b);
    for (const l of b.toString().split('\n')) if (l) lines.push(l);
  };
  child.stdout!.on('data', on);
  child.stderr!.on('data', on);
  return { child, lines };
}

async function waitLine(p: Proc, re: RegExp, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!p.lines.some((l) => re.test(l))) {
    if (Date.now() > end || p.child.exitCode !== null) throw new Error(`no ${re} from ainode (see the logs)`);
    await sleep(50);
  }
}

const vmHwmMb = (pid: number): number =>
  Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
function resetHwm(pid: number): void {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    /* not permitted: peak is then since start */
  }
}

async function stableAt(
  orthanc: OrthancProcess,
  studyUid: string,
  since: number,
): Promise<{ at: number; seq: number }> {
  const ids = (await (await fetch(`${orthanc.url}/tools/lookup`, { method: 'POST', body: studyUid })).json()) as {
    ID: string;
  }[];
  const id = ids[0]?.ID;
  let seq = since;
  for (;;) {
    const page = (await (await fetch(`${orthanc.url}/changes?since=${seq}&limit=1000`)).json()) as {
      Changes: { ChangeType: string; ID: string; Seq: number }[];
      Last: number;
    };
    const hit = page.Changes.find((c) => c.ChangeType === 'StableStudy' && c.ID === id);
    if (hit) return { at: Date.now(), seq: hit.Seq };
    seq = page.Last;
    await sleep(20);
  }
}

type JobRef = { queue: Queue<InferenceJob>; events: QueueEvents; id: string };

/** Resolves once the job has completed or failed, told by BullMQ's event stream (no polling). */
function finished(job: JobRef): Promise<void> {
  return new Promise((resolve) => {
    const done = ({ jobId }: { jobId: string }): void => {
      if (jobId === job.id) (stop(), resolve());
    };
    const stop = (): void => void (job.events.off('completed', done), job.events.off('failed', done));
    job.events.on('completed', done);
    job.events.on('failed', done);
    // Finished before we listened?
    void job.queue.getJob(job.id).then((j) => {
      if (j?.finishedOn || j?.failedReason) (stop(), resolve());
    });
  });
}

/**
 * SEG and SR visible by QIDO-RS. With a job it first waits for the job to finish (BullMQ's event
 * stream, a blocking read in Redis), then asks QIDO-RS every 10 ms: asking Orthanc all along, as a
 * first version did every 50 ms, made it compete on this 2-core machine with the worker being
 * measured, and reading the job's state every 20 ms, as a second did, added 10-20 ms on average.
 */
async function visible(
  client: DicomwebClient,
  study: string,
  job?: JobRef,
): Promise<{ at: number; seg: string; sr: string }> {
  if (job) await finished(job);
  for (;;) {
    const s = await client.search(`/studies/${study}/series`);
    const seg = s.find((x) => jsonString(x, Tag.Modality) === 'SEG');
    const sr = s.find((x) => jsonString(x, Tag.Modality) === 'SR');
    if (seg && sr)
      return {
        at: Date.now(),
        seg: jsonString(seg, Tag.SeriesInstanceUID)!,
        sr: jsonString(sr, Tag.SeriesInstanceUID)!,
      };
    await sleep(job ? 10 : 50);
  }
}

async function rawRetrieveMs(orthanc: OrthancProcess, study: string, series: string): Promise<number> {
  const t = performance.now();
  const res = await fetch(`${orthanc.dicomwebUrl}/studies/${study}/series/${series}`, {
    headers: { Accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' },
  });
  for await (const _chunk of res.body as unknown as AsyncIterable<Uint8Array>) void _chunk; // to /dev/null
  return performance.now() - t;
}

async function main(): Promise<void> {
  const runs = Number(arg('--runs') ?? 5);
  const leakRuns = Number(arg('--leak') ?? 0);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ainode-bench-'));
  say(`ainode benchmark: ${runs} runs per study, work folder ${work}`);
  const orthanc = await startOrthanc({ dir: path.join(work, 'orthanc'), stableAge: 2 });
  const redis = await startRedis(path.join(work, 'redis'));
  const client = new DicomwebClient({
    url: orthanc.dicomwebUrl,
    username: undefined,
    password: undefined,
    timeoutMs: 120_000,
  });
  const prefix = 'bench';
  // The processes run as deployed: the deployment files set MALLOC_TUNING (see memory.ts).
  const env = {
    AINODE_DICOMWEB_URL: orthanc.dicomwebUrl,
    AINODE_REDIS_URL: redis.url,
    AINODE_REDIS_PREFIX: prefix,
    AINODE_LOG_LEVEL: 'info',
    ...mallocTuningEnv(),
  };
  const listener = startAinode('listener', env, work);
  const workers = [startAinode('worker', env, work)];
  await waitLine(listener, /listening to the Orthanc change feed/, 30_000);
  await waitLine(workers[0], /worker ready/, 30_000);
  const conn = new IORedis(redis.url, { maxRetriesPerRequest: null });
  const queue = new Queue<InferenceJob>(INFERENCE_QUEUE, { connection: conn, prefix });
  const events = new QueueEvents(INFERENCE_QUEUE, {
    connection: new IORedis(redis.url, { maxRetriesPerRequest: null }),
    prefix,
  });
  await events.waitUntilReady();

  const ct = readDicomFolder(path.join(REPO, 'deploy', 'demo', 'data', 'tcia-lung-pet-ct-dx-A0001', 'series'));
  const niiBytes = fs.readFileSync(path.join(REPO, 'deploy', 'demo', 'data', 'brain-t1-niivue', 't1_crop.nii.gz'));
  const mrSeries = niftiToMrSeries(niiBytes, readNifti(niiBytes), { seriesDescription: 'T1 MPRAGE (bench)' });
  const mr: DicomFile[] = mrSeries.instances.map((i) => ({
    studyInstanceUid: mrSeries.studyInstanceUid,
    seriesInstanceUid: mrSeries.seriesInstanceUid,
    sopInstanceUid: i.sopInstanceUid,
    part10: i.part10,
  }));

  const ctPkg = loadModelPackage(path.join(REPO, 'models', 'ct-lung'));
  const ctJob = (studyInstanceUid: string): JobRef => ({
    queue,
    events,
    id: inferenceJobId({ studyInstanceUid, modelId: ctPkg.manifest.id, modelVersion: ctPkg.manifest.version }),
  });
  // --only ct|mr measures one study kind; --no-throughput skips the bursts (quicker iterations).
  const only = arg('--only');
  const kinds = [
    { name: 'chest CT 64 slices', model: 'ct-lung', files: ct, key: 'ct' },
    { name: 'brain MRI 256 slices', model: 'mr-brain-tissue', files: mr, key: 'mr' },
  ].filter((k) => !only || k.key === only);
  const results: Record<string, unknown>[] = [];
  let seq = ((await (await fetch(`${orthanc.url}/changes?last`)).json()) as { Last: number }).Last;
  for (const kind of kinds) {
    const pkg = loadModelPackage(path.join(REPO, 'models', kind.model));
    const { volume } = await assembleVolume(
      'bench',
      kind.files.map((f) => f.part10),
    );
    const { grid, voxels } = toModelGrid(volume, pkg.manifest.preprocess);
    const input = prepareIntensities(voxels, pkg.manifest.preprocess);
    // The same session options as a worker with default settings (no CPU memory arena).
    const session = await ort.InferenceSession.create(pkg.modelPath, {
      ...sessionOptions(),
      executionProviders: ['cpu'],
    });
    const tensor = new ort.Tensor('float32', input, [
      1,
      pkg.manifest.input.channels,
      grid.slices,
      grid.rows,
      grid.columns,
    ]);
    await session.run({ [pkg.manifest.input.name]: tensor }); // warm
    // The model's own working memory, in a process of its own on the same input.
    const inputFile = path.join(work, `${kind.model}-input.f32`);
    fs.writeFileSync(inputFile, Buffer.from(input.buffer, input.byteOffset, input.byteLength));
    const modelMemory = JSON.parse(
      execFileSync(
        process.execPath,
        [
          '--expose-gc',
          path.join(REPO, 'dist', 'scripts', 'bench-model-memory.js'),
          pkg.modelPath,
          pkg.manifest.input.name,
          [1, pkg.manifest.input.channels, grid.slices, grid.rows, grid.columns].join(','),
          inputFile,
        ],
        { encoding: 'utf8' },
      ),
    ) as { beforeMb: number; peakMb: number; workingMb: number; inputMb: number; outputMb: number };
    fs.rmSync(inputFile);
    const workerIdleMb = Math.round(
      Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${workers[0].child.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024,
    );
    const rows: Record<string, number>[] = [];
    for (let r = 0; r < runs; r++) {
      const files = reUid(kind.files, `bench-${kind.model}-${r}-${Date.now()}`);
      const study = files[0].studyInstanceUid;
      resetHwm(workers[0].child.pid!);
      await stowFiles(client, files, 32);
      const stable = await stableAt(orthanc, study, seq);
      seq = stable.seq;
      const jobId = inferenceJobId({
        studyInstanceUid: study,
        modelId: pkg.manifest.id,
        modelVersion: pkg.manifest.version,
      });
      const vis = await visible(client, study, { queue, events, id: jobId });
      const job = await queue.getJob(jobId);
      // The worker resets and reads its own high-water mark per stage (peakRssMb in the job's
      // result); the whole-process mark is the fallback where that is not available.
      const stagePeaks = (job?.returnvalue as { peakRssMb?: Record<string, number> } | undefined)?.peakRssMb ?? {};
      const peakMb = Object.keys(stagePeaks).length
        ? Math.max(...Object.values(stagePeaks))
        : vmHwmMb(workers[0].child.pid!);
      const peakStage = Object.entries(stagePeaks).sort((a, b) => b[1] - a[1])[0]?.[0] ?? '';
      const t = ((job?.returnvalue as { timingsMs?: Record<string, number> } | undefined)?.timingsMs ?? {}) as Record<
        string,
        number
      >;
      const routing = Number(
        /"routingMs":(\d+)/.exec(
          listener.lines.find((l) => l.includes(study) && l.includes('study enqueued')) ?? '',
        )?.[1] ?? 0,
      );
      const raw = await rawRetrieveMs(orthanc, study, files[0].seriesInstanceUid);
      let bare = performance.now();
      await session.run({ [pkg.manifest.input.name]: tensor });
      bare = performance.now() - bare;
      // The bare run above follows the worker's job at once, in memory the worker has just freed.
      // The worker's own run follows its previous job by the stable-age wait and more; on a
      // virtual machine whose host reclaims freed guest memory after a few seconds, faulting that
      // memory in again is slow (docs/performance.md). The same run after such a gap, for the report.
      await sleep(COLD_GAP_MS);
      let bareCold = performance.now();
      await session.run({ [pkg.manifest.input.name]: tensor });
      bareCold = performance.now() - bareCold;
      const [segBytes] = await client.retrieveSeries(study, vis.seg);
      const [srBytes] = await client.retrieveSeries(study, vis.sr);
      const sop = (b: Buffer): string => String(readPart10(b).dataset.SOPInstanceUID);
      const outputs = [
        { sopInstanceUid: sop(segBytes), part10: segBytes },
        { sopInstanceUid: sop(srBytes), part10: srBytes },
      ];
      let store = performance.now();
      await client.store(study, outputs);
      store = performance.now() - store;
      const turnaround = vis.at - stable.at;
      const row = {
        turnaroundMs: turnaround,
        detectionMs: job ? job.timestamp - routing - stable.at : NaN,
        routingMs: routing,
        queueWaitMs: job?.processedOn && job.timestamp ? job.processedOn - job.timestamp : NaN,
        checkMs: t.check,
        acceptMs: t.accept,
        retrieveDecodeMs: t.retrieveDecode,
        volumeMs: t.volume,
        preprocessMs: t.preprocess,
        inferenceMs: t.model,
        postprocessMs: t.postprocess,
        measureMs: t.measure,
        segEncodeMs: t.segEncode,
        srEncodeMs: t.srEncode,
        storeMs: t.store,
        visibleLagMs: job?.finishedOn ? vis.at - job.finishedOn : NaN,
        otherMs: NaN,
        rawRetrieveMs: Math.round(raw),
        bareInferenceMs: Math.round(bare),
        rawStoreMs: Math.round(store),
        overheadRatio: Number((turnaround / (raw + bare + store)).toFixed(2)),
        bareInferenceColdMs: Math.round(bareCold),
        overheadRatioCold: Number((turnaround / (raw + bareCold + store)).toFixed(2)),
        peakRssMb: Math.round(peakMb),
        ...Object.fromEntries(Object.entries(stagePeaks).map(([k, v]) => [`peakRssMb_${k}`, v])),
      };
      // What the named stages leave of the turnaround: the listener's enqueue, BullMQ's hand-over
      // and completion, the job's progress reports and ledger entry, and the model step's own
      // bookkeeping around the model run and the post-processing.
      row.otherMs = turnaround - STAGES.filter((k) => k !== 'otherMs').reduce((sum, k) => sum + (row[k] || 0), 0);
      rows.push(row);
      say(
        `  ${kind.name} run ${r + 1}: turnaround ${turnaround} ms, overhead ratio ${row.overheadRatio}, worker peak ${row.peakRssMb} MB${peakStage ? ` (in ${peakStage})` : ''}`,
      );
    }
    const agg = (k: string): number => Math.round(median(rows.map((x) => x[k])));
    results.push({
      study: kind.name,
      model: kind.model,
      runs,
      turnaroundP50Ms: median(rows.map((x) => x.turnaroundMs)),
      turnaroundP95Ms: p95(rows.map((x) => x.turnaroundMs)),
      stagesMedianMs: Object.fromEntries(STAGES.map((k) => [k, agg(k)])),
      physicalMedianMs: {
        rawRetrieve: agg('rawRetrieveMs'),
        bareInference: agg('bareInferenceMs'),
        rawStore: agg('rawStoreMs'),
        bareInferenceCold: agg('bareInferenceColdMs'),
      },
      overheadRatio: Number(median(rows.map((x) => x.overheadRatio)).toFixed(2)),
      overheadRatios: rows.map((x) => x.overheadRatio),
      coldGapMs: COLD_GAP_MS,
      overheadRatioCold: Number(median(rows.map((x) => x.overheadRatioCold)).toFixed(2)),
      workerPeakRssMb: Math.max(...rows.map((x) => x.peakRssMb)),
      workerRssBeforeStudiesMb: workerIdleMb,
      float32VolumeMb: Math.round((volume.voxels.length * 4) / 1048576),
      modelMemory,
      // Resident memory when a job starts (after garbage collection; the worker's 'check' stage):
      // Node, the runtime, the sessions of the models used so far, allocator pages kept.
      workerRssAtJobStartMb: agg('peakRssMb_check'),
      // Target: the job adds at most 3 x float32 volume + the model's working memory to that.
      memoryBudgetMb: Math.round(
        3 * ((volume.voxels.length * 4) / 1048576) + modelMemory.workingMb + (agg('peakRssMb_check') || workerIdleMb),
      ),
      modelGridFloat32Mb: Math.round(
        (grid.columns * grid.rows * grid.slices * 4 * (1 + pkg.manifest.output.channels)) / 1048576,
      ),
      runsDetail: rows,
    });
  }

  // Leak check (--leak N): N consecutive chest CTs through the one worker, its resident memory
  // sampled after each; memory must not keep growing.
  let leak: Record<string, unknown> | undefined;
  if (leakRuns > 0) {
    const rss: number[] = [];
    const rssMb = (pid: number): number =>
      Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
    for (let i = 0; i < leakRuns; i++) {
      const s = reUid(ct, `leak-${i}-${Date.now()}`);
      await stowFiles(client, s, 64);
      await visible(client, s[0].studyInstanceUid, ctJob(s[0].studyInstanceUid));
      rss.push(Math.round(rssMb(workers[0].child.pid!)));
      if ((i + 1) % 10 === 0) say(`  leak check: ${i + 1}/${leakRuns} studies, worker RSS ${rss[rss.length - 1]} MB`);
    }
    const avg = (a: number[]): number => Math.round(a.reduce((x, y) => x + y, 0) / a.length);
    const n = Math.max(1, Math.floor(leakRuns / 10));
    // A sample depends on when the garbage collector last ran, so single samples swing by tens of
    // MB; growth shows in the median and the floor (lowest sample) of each tenth of the run.
    const tenths = Array.from({ length: Math.ceil(rss.length / n) }, (_, t) => rss.slice(t * n, (t + 1) * n));
    leak = {
      studies: leakRuns,
      firstTenthAvgRssMb: avg(rss.slice(0, n)),
      lastTenthAvgRssMb: avg(rss.slice(-n)),
      maxRssMb: Math.max(...rss),
      tenthMediansMb: tenths.map(median),
      tenthFloorsMb: tenths.map((t) => Math.min(...t)),
      samples: rss,
    };
  }

  // Throughput: a burst of 20 chest CTs with 1, then 2 worker processes.
  const throughput: Record<string, number> = {};
  for (const n of process.argv.includes('--no-throughput') ? [] : [1, 2]) {
    while (workers.length < n) {
      const w = startAinode('worker', env, work);
      await waitLine(w, /worker ready/, 30_000);
      workers.push(w);
    }
    const burst = Array.from({ length: 20 }, (_, i) => reUid(ct, `burst-${n}-${i}-${Date.now()}`));
    const t0 = Date.now();
    for (const s of burst) await stowFiles(client, s, 64);
    for (const s of burst) await visible(client, s[0].studyInstanceUid, ctJob(s[0].studyInstanceUid));
    const minutes = (Date.now() - t0) / 60000;
    throughput[`studiesPerMinute_${n}worker`] = Number((20 / minutes).toFixed(2));
    say(`  burst of 20 chest CTs with ${n} worker(s): ${(minutes * 60).toFixed(1)} s`);
  }
  if (throughput.studiesPerMinute_1worker)
    throughput.scalingRatio = Number(
      (throughput.studiesPerMinute_2worker / throughput.studiesPerMinute_1worker).toFixed(2),
    );

  const segOut = path.join(work, 'seg.json');
  execFileSync(process.execPath, [path.join(REPO, 'dist', 'scripts', 'bench-seg.js'), '--runs', '3', '--out', segOut], {
    stdio: 'ignore',
  });
  const segEncoding = JSON.parse(fs.readFileSync(segOut, 'utf8')) as Record<string, unknown>;

  const report = {
    leak,
    date: new Date().toISOString(),
    machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    provider: 'cpu',
    node: process.version,
    environment: MALLOC_TUNING,
    studies: results,
    throughput,
    segEncoding,
  };
  type StudyResult = {
    study: string;
    turnaroundP50Ms: number;
    turnaroundP95Ms: number;
    overheadRatio: number;
    overheadRatioCold: number;
    stagesMedianMs: Record<string, number>;
    physicalMedianMs: Record<string, number>;
    workerPeakRssMb: number;
    float32VolumeMb: number;
    workerRssBeforeStudiesMb: number;
    workerRssAtJobStartMb: number;
    memoryBudgetMb: number;
    modelMemory: { workingMb: number };
  };
  const rs = results as StudyResult[];
  if (rs.length) {
    process.stdout.write(
      `\n${textTable(
        [
          'study',
          'p50 ms',
          'p95 ms',
          'raw retrieve',
          'bare model',
          `bare model, ${COLD_GAP_MS / 1000} s idle`,
          'raw store',
          'overhead ratio',
          'ratio vs idle run',
          'worker peak MB',
          'budget MB',
          'float32 volume MB',
        ],
        rs.map((r) => [
          r.study,
          r.turnaroundP50Ms,
          r.turnaroundP95Ms,
          r.physicalMedianMs.rawRetrieve,
          r.physicalMedianMs.bareInference,
          r.physicalMedianMs.bareInferenceCold,
          r.physicalMedianMs.rawStore,
          r.overheadRatio,
          r.overheadRatioCold,
          r.workerPeakRssMb,
          r.memoryBudgetMb,
          r.float32VolumeMb,
        ]),
      )}`,
    );
    process.stdout.write(
      `\n${textTable(
        ['stage (median ms)', ...rs.map((r) => r.study)],
        STAGES.map((k) => [k.replace(/Ms$/, ''), ...rs.map((r) => r.stagesMedianMs[k])]),
      )}`,
    );
    for (const r of rs)
      process.stdout.write(
        `${r.study}: memory budget = worker at job start ${r.workerRssAtJobStartMb} MB + 3 x float32 volume ${r.float32VolumeMb} MB + model working memory ${r.modelMemory.workingMb} MB (idle before these studies ${r.workerRssBeforeStudiesMb} MB)\n`,
      );
  }
  if (throughput.scalingRatio)
    process.stdout.write(
      `\nthroughput: ${throughput.studiesPerMinute_1worker} studies/min with 1 worker, ${throughput.studiesPerMinute_2worker} with 2 (scaling ${throughput.scalingRatio})\n`,
    );
  process.stdout.write(
    `SEG encoding: ainode ${segEncoding.oursMedianMs} ms vs dcmjs ${segEncoding.dcmjsMedianMs} ms (ratio ${segEncoding.ratioOursToDcmjs})\n`,
  );
  if (leak)
    process.stdout.write(
      `leak check over ${leak.studies} studies: worker RSS first tenth ${leak.firstTenthAvgRssMb} MB, last tenth ${leak.lastTenthAvgRssMb} MB, max ${leak.maxRssMb} MB, median per tenth ${(leak.tenthMediansMb as number[]).join(' ')} MB, lowest per tenth ${(leak.tenthFloorsMb as number[]).join(' ')} MB\n`,
    );
  const out = arg('--out');
  if (out) fs.writeFileSync(out, JSON.stringify(report, null, 2));

  await queue.close();
  await events.close();
  conn.disconnect();
  // The processes finish on SIGTERM (and write their profiles with --profile) before Redis goes.
  const exits = [listener, ...workers].map((p) =>
    p.child.exitCode !== null ? Promise.resolve() : new Promise<void>((r) => p.child.once('exit', () => r())),
  );
  for (const p of [listener, ...workers]) p.child.kill('SIGTERM');
  await Promise.race([Promise.all(exits), sleep(10_000)]);
  await orthanc.stop();
  await redis.stop();
}

if (!rerunUnderMallocTuning())
  main().then(
    () => process.exit(0),
    (e) => {
      process.stderr.write(`bench failed: ${(e as Error).stack}\n`);
      process.exit(1);
    },
  );
