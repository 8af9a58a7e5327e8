/**
 * The worker role: a BullMQ worker over the inference queue. At this boundary, non-retryable
 * AinodeErrors become UnrecoverableError (no further attempts); retryable ones are rethrown so
 * BullMQ retries with exponential backoff. Sessions are created once per model and reused.
 */
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Config } from '../config/schema';
import type { Logger } from '../observability/logger';
import type { Redis } from '../queue/redis';
import { INFERENCE_QUEUE, parseInferenceJob, type InferenceJob } from '../contracts/job';
import { describeError, isAinodeError } from '../errors';
import { createSession, type LoadedSession } from '../inference/session';
import type { ModelPackage } from '../inference/model-package';
import { collectGarbage, MALLOC_TUNING, mallocTuningMissing } from '../observability/memory';
import { processInferenceJob, type JobOutcome, type WorkerDeps } from './process-inference';

export async function startWorker(
  cfg: Config,
  connection: Redis,
  deps: Omit<WorkerDeps, 'session'>,
  log: Logger,
): Promise<Worker<InferenceJob, JobOutcome>> {
  const sessions = new Map<string, Promise<LoadedSession>>();
  const session = (pkg: ModelPackage): Promise<LoadedSession> => {
    const key = `${pkg.manifest.id}@${pkg.manifest.version}`;
    let s = sessions.get(key);
    if (!s) {
      s = createSession(pkg.modelPath, cfg.executionProviders, log, cfg.runtime);
      s.then(
        (l) =>
          log.info(
            { modelId: pkg.manifest.id, provider: l.provider, createMs: Math.round(l.createMs) },
            'inference session created',
          ),
        () => sessions.delete(key),
      );
      sessions.set(key, s);
    }
    return s;
  };
  const wlog = log.child({ stage: 'worker' });
  const worker = new Worker<InferenceJob, JobOutcome>(
    INFERENCE_QUEUE,
    async (job: Job<InferenceJob>, _token?: string, signal?: AbortSignal) => {
      const jlog = wlog.child({ jobId: job.id });
      try {
        const payload = parseInferenceJob(job.data);
        return await processInferenceJob(
          { ...deps, log: jlog, session },
          payload,
          (p) => job.updateProgress(p),
          signal,
        );
      } catch (e) {
        const line = describeError(e);
        jlog.warn({ err: e, attempt: job.attemptsMade + 1 }, `job failed: ${line}`);
        if (isAinodeError(e) && !e.retryable) throw new UnrecoverableError(line);
        throw new Error(line, { cause: e });
      }
    },
    {
      connection,
      prefix: cfg.redisPrefix,
      concurrency: cfg.workerConcurrency,
      lockDuration: cfg.jobLockMs,
      stalledInterval: cfg.stalledIntervalMs,
      maxStalledCount: cfg.maxStalledCount,
    },
  );
  worker.on('error', (e) => wlog.error({ err: e }, 'worker connection error'));
  // A finished job's buffers are collected once it is reported, off the next job's critical path
  // (a job does not start with a collection of its own).
  const collectAfterJob = (): void => void setImmediate(collectGarbage);
  worker.on('completed', collectAfterJob);
  worker.on('failed', collectAfterJob);
  await worker.waitUntilReady();
  const untuned = mallocTuningMissing();
  if (untuned.length) {
    const set = Object.entries(MALLOC_TUNING)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    wlog.warn(
      { missing: untuned },
      `glibc malloc is not tuned for large buffers: this worker will hold more memory when idle and fault in its buffers page by page; set ${set} in its environment (the deployment files do)`,
    );
  }
  wlog.info({ concurrency: cfg.workerConcurrency }, 'worker ready');
  return worker;
}
