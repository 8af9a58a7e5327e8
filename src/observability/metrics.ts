/**
 * Prometheus metrics (prom-client), computed from the queue on each scrape so one admin process
 * reports for every worker: jobs by state and model, queue depth, stage durations and inference
 * time (from completed jobs' timings), and errors by code (from failed jobs' failure lines).
 * Each finished job is observed once.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Queue } from 'bullmq';
import type { InferenceJob } from '../queue/jobs';

const STATES = ['waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed'] as const;

export class QueueMetrics {
  readonly registry = new Registry();
  private readonly jobs = new Gauge({ name: 'ainode_jobs', help: 'Jobs by state and model', labelNames: ['state', 'model'], registers: [this.registry] });
  private readonly depth = new Gauge({ name: 'ainode_queue_depth', help: 'Jobs waiting to run (waiting, prioritized, delayed)', registers: [this.registry] });
  private readonly stage = new Histogram({ name: 'ainode_stage_duration_seconds', help: 'Duration of each worker stage', labelNames: ['stage'], buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120], registers: [this.registry] });
  private readonly inference = new Histogram({ name: 'ainode_inference_seconds', help: 'Model run time', labelNames: ['model'], buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120], registers: [this.registry] });
  private readonly errors = new Counter({ name: 'ainode_job_errors_total', help: 'Failed jobs by error code', labelNames: ['code'], registers: [this.registry] });
  private readonly seen = new Set<string>();

  constructor(private readonly queue: Queue<InferenceJob>) {}

  async collect(): Promise<string> {
    const counts = await this.queue.getJobCounts(...STATES);
    this.depth.set((counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0));
    this.jobs.reset();
    for (const state of STATES) {
      const jobs = await this.queue.getJobs([state], 0, 999);
      const byModel = new Map<string, number>();
      for (const j of jobs) {
        if (!j) continue;
        byModel.set(j.data.modelId, (byModel.get(j.data.modelId) ?? 0) + 1);
        const key = `${j.id}:${j.finishedOn ?? ''}`;
        if (!j.finishedOn || this.seen.has(key)) continue;
        this.seen.add(key);
        if (state === 'completed') {
          const t = (j.returnvalue as { timingsMs?: Record<string, number> } | undefined)?.timingsMs ?? {};
          for (const [name, ms] of Object.entries(t)) this.stage.observe({ stage: name }, ms / 1000);
          if (t.model !== undefined) this.inference.observe({ model: j.data.modelId }, t.model / 1000);
        } else if (state === 'failed') {
          this.errors.inc({ code: /^([A-Z_]+):/.exec(j.failedReason ?? '')?.[1] ?? 'UNKNOWN' });
        }
      }
      for (const [model, n] of byModel) this.jobs.set({ state, model }, n);
    }
    if (this.seen.size > 100_000) this.seen.clear();
    return this.registry.metrics();
  }
}
