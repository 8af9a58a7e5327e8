/**
 * Prometheus metrics (prom-client) for the whole node, served by the admin process: jobs by state
 * and model and the queue depth are read from the queue on each scrape; stage durations,
 * inference time and errors by code come from BullMQ's queue events (completed/failed, published
 * in Redis by every worker process), so they count every job exactly when it finishes.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { QueueEvents, type Queue } from 'bullmq';
import { JOB_STATES, parseFailure, type InferenceJob } from '../contracts/job';
import type { Redis } from 'ioredis';

export class QueueMetrics {
  readonly registry = new Registry();
  private readonly jobs = new Gauge({
    name: 'ainode_jobs',
    help: 'Jobs by state and model',
    labelNames: ['state', 'model'],
    registers: [this.registry],
  });
  private readonly depth = new Gauge({
    name: 'ainode_queue_depth',
    help: 'Jobs waiting to run (waiting, prioritized, delayed)',
    registers: [this.registry],
  });
  private readonly stage = new Histogram({
    name: 'ainode_stage_duration_seconds',
    help: 'Duration of each worker stage',
    labelNames: ['stage'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });
  private readonly inference = new Histogram({
    name: 'ainode_inference_seconds',
    help: 'Model run time',
    labelNames: ['model'],
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });
  private readonly errors = new Counter({
    name: 'ainode_job_errors_total',
    help: 'Failed jobs by error code',
    labelNames: ['code'],
    registers: [this.registry],
  });
  private events: QueueEvents | undefined;
  private connection: Redis | undefined;

  constructor(private readonly queue: Queue<InferenceJob>) {}

  /**
   * Subscribes to the queue's events, on a Redis connection of its own: QueueEvents blocks on
   * XREAD, which BullMQ allows only on a connection with maxRetriesPerRequest null (the queue's
   * shared connection has a limit, so that admin requests fail instead of hanging). Sharing it
   * kept `ainode start --role admin` from ever listening.
   */
  async start(): Promise<void> {
    const opts = this.queue.opts;
    const shared = opts.connection as unknown as Redis;
    this.connection =
      typeof shared.duplicate === 'function' ? shared.duplicate({ maxRetriesPerRequest: null }) : undefined;
    this.events = new QueueEvents(this.queue.name, {
      connection: this.connection ?? { ...(opts.connection as object), maxRetriesPerRequest: null },
      prefix: opts.prefix,
    });
    this.events.on('completed', ({ jobId, returnvalue }) => void this.onCompleted(jobId, returnvalue));
    this.events.on('failed', ({ failedReason }) => this.errors.inc({ code: parseFailure(failedReason ?? '').code }));
    await this.events.waitUntilReady();
  }

  async stop(): Promise<void> {
    await this.events?.close();
    this.connection?.disconnect();
  }

  private async onCompleted(jobId: string, returnvalue: unknown): Promise<void> {
    const value = (typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue) as
      { timingsMs?: Record<string, number> } | undefined;
    const t = value?.timingsMs ?? {};
    for (const [name, ms] of Object.entries(t)) this.stage.observe({ stage: name }, ms / 1000);
    if (t.model !== undefined) {
      const job = await this.queue.getJob(jobId);
      this.inference.observe({ model: job?.data.modelId ?? 'unknown' }, t.model / 1000);
    }
  }

  async collect(): Promise<string> {
    const counts = await this.queue.getJobCounts(...JOB_STATES);
    this.depth.set((counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0));
    this.jobs.reset();
    for (const state of JOB_STATES) {
      const jobs = await this.queue.getJobs([state], 0, 999);
      const byModel = new Map<string, number>();
      for (const j of jobs) if (j) byModel.set(j.data.modelId, (byModel.get(j.data.modelId) ?? 0) + 1);
      for (const [model, n] of byModel) this.jobs.set({ state, model }, n);
    }
    return this.registry.metrics();
  }
}
