/**
 * What happens to a study once it is stable: evaluate the routing rules against what the PACS
 * says about it (QIDO-RS), skip what was already delivered, and enqueue one job per (study, model
 * version) with the rule's priority, off-peak window and destination. Safe to call any number of
 * times for one study: the ledger and the deterministic job id make repeats no-ops, which is what
 * keeps ainode from re-processing a study after its own SEG/SR made the PACS report it again.
 */
import { redisKeys } from '../contracts/redis-keys';
import { nextResultVersion } from '../contracts/result-identity';
import type { Queue } from 'bullmq';
import type { DicomwebClient } from '../dicomweb/client';
import type { Logger } from '../observability/logger';
import type { DeliveryLedger } from '../results/ledger';
import type { ModelPackage } from '../inference/model-package';
import { gatherStudyFacts, type InstancePositions, type SeriesFacts } from '../rules/study-facts';
import { evaluateRules, requiredTags, type RoutingDecision } from '../rules/evaluate';
import type { RulesStore } from '../rules/rules-store';
import { inferenceJobId, type InferenceJob } from '../contracts/job';
import type { Redis } from '../queue/redis';
import { isDefaultProfiles } from '../contracts/sr-profile';

export interface StudyIntakeDeps {
  client: DicomwebClient;
  queue: Queue<InferenceJob>;
  ledger: DeliveryLedger;
  models: Map<string, ModelPackage>;
  rules: RulesStore;
  log: Logger;
  redis: Redis;
  prefix: string;
}

export type IntakeOutcome = 'enqueued' | 'already-delivered' | 'already-queued' | 'no-route';

/** BullMQ priorities: lower runs first. */
export const PRIORITY = { stat: 1, routine: 10 } as const;

/** Milliseconds until the off-peak window opens (0 inside it). Windows may wrap midnight. */
export function offPeakDelay(window: { start: string; end: string }, now = new Date()): number {
  const mins = (t: string): number => Number(t.slice(0, 2)) * 60 + Number(t.slice(3, 5));
  const start = mins(window.start);
  const end = mins(window.end);
  const cur = now.getHours() * 60 + now.getMinutes();
  const inside = start <= end ? cur >= start && cur < end : cur >= start || cur < end;
  if (inside) return 0;
  const wait = (start - cur + 1440) % 1440;
  return wait * 60_000 - now.getSeconds() * 1000 - now.getMilliseconds();
}

/** `positions`: a faster source of the instances' positions than QIDO-RS, where the intake has one. */
export async function decideStudy(
  deps: Pick<StudyIntakeDeps, 'client' | 'models' | 'rules'>,
  studyInstanceUid: string,
  positions?: InstancePositions,
): Promise<RoutingDecision & { facts: Map<string, SeriesFacts> }> {
  const rules = deps.rules.rules;
  const tags = requiredTags(rules);
  const facts = await gatherStudyFacts(deps.client, studyInstanceUid, tags.study, tags.series, positions);
  return Object.assign(evaluateRules(rules, facts, deps.models), {
    facts: new Map(facts.series.map((s) => [s.seriesInstanceUid, s])),
  });
}

const CLAIM_MS = 5000;

/** True when this process may enqueue the job; false when another listener did. */
async function claimJob(deps: StudyIntakeDeps, jobId: string): Promise<boolean> {
  const key = redisKeys.claim(deps.prefix, jobId);
  for (;;) {
    if ((await deps.redis.set(key, String(process.pid), 'PX', CLAIM_MS, 'NX')) === 'OK') {
      // Claimed: unless the job appeared meanwhile (the other listener finished just before).
      return !(await deps.queue.getJob(jobId));
    }
    if (await deps.queue.getJob(jobId)) return false;
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function handleStableStudy(
  deps: StudyIntakeDeps,
  studyInstanceUid: string,
  positions?: InstancePositions,
): Promise<IntakeOutcome[]> {
  const log = deps.log.child({ studyInstanceUid, stage: 'intake' });
  const t0 = performance.now();
  const decision = await decideStudy(deps, studyInstanceUid, positions);
  const routingMs = Math.round(performance.now() - t0);
  if (decision.jobs.length === 0) {
    // Reasons name rules, models and outcomes only, never attribute values (they can be patient data).
    log.info(
      {
        rules: decision.rules.map((r) => ({
          rule: r.rule,
          applies: r.applies,
          models: r.models.map((m) => `${m.modelId}: ${m.why}`),
        })),
      },
      'no rule routes this study',
    );
    return ['no-route'];
  }
  const outcomes: IntakeOutcome[] = [];
  for (const j of decision.jobs) {
    const pkg = deps.models.get(j.modelId)!;
    const { id: modelId, version: modelVersion } = pkg.manifest;
    // Delivered before? Run again only if the input the rule selects has changed since (another
    // series chosen, or instances added to it); a re-run is a new result version with its own
    // series, earlier results are never overwritten or deleted.
    const delivered = await deps.ledger.get(studyInstanceUid, modelId, modelVersion);
    const resultVersion = nextResultVersion(delivered, {
      seriesInstanceUid: j.seriesInstanceUid,
      instances: decision.facts.get(j.seriesInstanceUid)?.numberOfInstances,
    });
    if (resultVersion === undefined) {
      log.info(
        { modelId, modelVersion, resultVersion: delivered?.resultVersion ?? 1 },
        'results already delivered; not enqueued again',
      );
      outcomes.push('already-delivered');
      continue;
    }
    if (resultVersion > 1) {
      log.info(
        { modelId, modelVersion, resultVersion },
        'input changed since the last result; re-running as a new result version',
      );
    }
    const job: InferenceJob = {
      studyInstanceUid,
      seriesInstanceUid: j.seriesInstanceUid,
      modelId,
      modelVersion,
      rule: j.rule,
      destination: j.destination,
      ...(isDefaultProfiles(j.srProfiles) ? {} : { srProfiles: [...j.srProfiles] }),
      ...(resultVersion > 1 ? { resultVersion } : {}),
    };
    const jobId = inferenceJobId(job);
    const existing = await deps.queue.getJob(jobId);
    if (existing) {
      const state = await existing.getState();
      // A job that failed for good stays failed until an admin retries it; do not spin on it.
      log.info(
        { jobId, state },
        state === 'failed' ? 'job failed earlier; left for an admin to retry' : 'job already in the queue',
      );
      outcomes.push('already-queued');
      continue;
    }
    // Two listeners (for availability) may handle the same stable study at once: one claim per
    // job id decides which enqueues; the other reports the job as already queued.
    // If the other listener dies between its claim and its enqueue, the claim expires and this
    // listener takes over, so the study is not lost.
    if (!(await claimJob(deps, jobId))) {
      log.info({ jobId }, 'another listener enqueued this job');
      outcomes.push('already-queued');
      continue;
    }
    const delay = j.priority === 'routine' && j.offPeak ? offPeakDelay(j.offPeak) : 0;
    await deps.queue.add('infer', job, { jobId, priority: PRIORITY[j.priority], ...(delay ? { delay } : {}) });
    log.info(
      {
        jobId,
        modelId,
        modelVersion,
        rule: j.rule,
        priority: j.priority,
        delayMs: delay,
        routingMs,
        seriesInstanceUid: j.seriesInstanceUid,
      },
      'study enqueued',
    );
    outcomes.push('enqueued');
  }
  return outcomes;
}
