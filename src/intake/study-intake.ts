/**
 * What happens to a study once it is stable: route it, skip what was already delivered, and
 * enqueue one job per (study, model version). Safe to call any number of times for one study:
 * the ledger and the deterministic job id make repeats no-ops. This is what keeps ainode from
 * re-processing a study after its own SEG/SR made the PACS report the study as changed again.
 */
import type { Queue } from 'bullmq';
import type { DicomwebClient } from '../dicomweb/client';
import type { Logger } from '../observability/logger';
import type { DeliveryLedger } from '../results/ledger';
import type { ModelPackage } from '../inference/model-package';
import { describeStudySeries } from '../rules/series-descriptor';
import { needsInstanceDetail, routeSeries, type RouteDecision } from '../rules/default-routing';
import { inferenceJobId, type InferenceJob } from '../queue/jobs';

export interface StudyIntakeDeps {
  client: DicomwebClient;
  queue: Queue<InferenceJob>;
  ledger: DeliveryLedger;
  models: Map<string, ModelPackage>;
  log: Logger;
}

export type IntakeOutcome = 'enqueued' | 'already-delivered' | 'already-queued' | 'no-route' | 'model-unavailable';

export async function handleStableStudy(deps: StudyIntakeDeps, studyInstanceUid: string): Promise<IntakeOutcome[]> {
  const log = deps.log.child({ studyInstanceUid, stage: 'intake' });
  const series = await describeStudySeries(deps.client, studyInstanceUid, needsInstanceDetail);
  const decisions = [...deps.models.values()].map((p) => routeSeries(p.manifest.id, p.manifest.accepts, series));
  const routed = decisions.filter((d) => d.seriesInstanceUid);
  if (routed.length === 0) {
    // Reasons hold modality, counts and orientation only, never descriptions (they can carry patient data).
    log.info({ series: series.length, reasons: Object.fromEntries(decisions.map((d) => [d.modelId, d.reasons.map((r) => r.why)])) }, 'no series qualifies for any model');
    return ['no-route'];
  }
  const outcomes: IntakeOutcome[] = [];
  for (const d of routed) outcomes.push(await enqueueDecision(deps, studyInstanceUid, d, log));
  return outcomes;
}

async function enqueueDecision(deps: StudyIntakeDeps, studyInstanceUid: string, decision: RouteDecision, log: StudyIntakeDeps['log']): Promise<IntakeOutcome> {
  const pkg = deps.models.get(decision.modelId);
  if (!pkg) return 'model-unavailable';
  const { id: modelId, version: modelVersion } = pkg.manifest;
  if (await deps.ledger.get(studyInstanceUid, modelId, modelVersion)) {
    log.info({ modelId, modelVersion }, 'results already delivered; not enqueued again');
    return 'already-delivered';
  }
  const job: InferenceJob = { studyInstanceUid, seriesInstanceUid: decision.seriesInstanceUid!, modelId, modelVersion };
  const jobId = inferenceJobId(job);
  const existing = await deps.queue.getJob(jobId);
  if (existing) {
    const state = await existing.getState();
    // A job that failed for good stays failed until an admin retries it; do not spin on it.
    log.info({ jobId, state }, state === 'failed' ? 'job failed earlier; left for an admin to retry' : 'job already in the queue');
    return 'already-queued';
  }
  await deps.queue.add('infer', job, { jobId });
  log.info({ jobId, modelId, modelVersion, seriesInstanceUid: decision.seriesInstanceUid }, 'study enqueued');
  return 'enqueued';
}
