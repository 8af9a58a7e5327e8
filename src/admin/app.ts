/**
 * The admin HTTP API (express), built apart from listening (createAdminApp(deps), then listen on
 * any port) so tests run it on port 0. Every request needs the bearer token (or the session
 * cookie set from it for the queue dashboard); without it: 401 and nothing else. Admin actions
 * are written to an audit log (who, what, when; never patient data).
 */
import * as crypto from 'crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Job, Queue } from 'bullmq';
import type { DicomwebClient } from '../dicomweb/client';
import type { ModelPackage, RefusedPackage } from '../inference/model-package';
import type { Logger } from '../observability/logger';
import { QueueMetrics } from '../observability/metrics';
import type { Redis } from '../queue/redis';
import type { InferenceJob } from '../queue/jobs';
import type { DeliveryLedger } from '../results/ledger';
import { parseRules, RulesError } from '../rules/schema';
import type { RulesStore } from '../rules/rules-store';
import { decideStudy } from '../intake/study-intake';
import { describeError } from '../errors';
import { isValidUid } from '../dicom/uid';

export interface AdminDeps {
  token: string;
  queue: Queue<InferenceJob>;
  redis: Redis;
  prefix: string;
  ledger: DeliveryLedger;
  rules: RulesStore;
  models: Map<string, ModelPackage>;
  refused: RefusedPackage[];
  client: DicomwebClient;
  log: Logger;
}

const COOKIE = 'ainode_admin';
const ALL_STATES = ['waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed'] as const;

function safeEqual(a: string, b: string): boolean {
  const x = crypto.createHash('sha256').update(a).digest();
  const y = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(x, y);
}

function jobView(j: Job<InferenceJob>, state: string): Record<string, unknown> {
  const failure = j.failedReason ? /^([A-Z_]+):\s*(.*)$/.exec(j.failedReason) : null;
  return {
    id: j.id,
    state,
    studyInstanceUid: j.data.studyInstanceUid,
    seriesInstanceUid: j.data.seriesInstanceUid,
    model: `${j.data.modelId}@${j.data.modelVersion}`,
    rule: j.data.rule,
    progress: j.progress,
    attemptsMade: j.attemptsMade,
    createdAt: j.timestamp ? new Date(j.timestamp).toISOString() : undefined,
    finishedAt: j.finishedOn ? new Date(j.finishedOn).toISOString() : undefined,
    ...(j.failedReason ? { failure: { code: failure?.[1] ?? 'UNKNOWN', message: failure?.[2] ?? j.failedReason } } : {}),
  };
}

export interface AdminApp {
  app: express.Express;
  /** Starts the metrics subscription; call before serving. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export function createAdminApp(deps: AdminDeps): AdminApp {
  const app = express();
  app.disable('x-powered-by');
  const actorId = `token:${crypto.createHash('sha256').update(deps.token).digest('hex').slice(0, 8)}`;
  const metrics = new QueueMetrics(deps.queue);

  const auth = (req: Request, res: Response, next: NextFunction): void => {
    const header = req.headers.authorization ?? '';
    const bearer = header.startsWith('Bearer ') ? header.slice(7) : undefined;
    const cookie = /(?:^|;\s*)ainode_admin=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    const given = bearer ?? (cookie ? decodeURIComponent(cookie) : undefined);
    if (given !== undefined && safeEqual(given, deps.token)) return next();
    // The dashboard in a browser: one visit with ?token= sets an HttpOnly session cookie.
    if (req.path.startsWith('/queues') && typeof req.query.token === 'string' && safeEqual(req.query.token, deps.token)) {
      res.setHeader('Set-Cookie', `${COOKIE}=${encodeURIComponent(deps.token)}; HttpOnly; SameSite=Strict; Path=/`);
      return void res.redirect(302, '/queues');
    }
    res.status(401).setHeader('WWW-Authenticate', 'Bearer').end();
  };
  app.use(auth);
  app.use(express.json({ limit: '1mb' }));
  app.use(express.text({ type: ['text/plain', 'application/yaml', 'application/x-yaml', 'text/yaml'], limit: '1mb' }));

  const audit = async (req: Request, action: string, target: string, result: string): Promise<void> => {
    const entry = { at: new Date().toISOString(), actor: `${actorId}@${req.ip}`, action, target, result };
    await deps.redis.lpush(`${deps.prefix}:audit`, JSON.stringify(entry));
    await deps.redis.ltrim(`${deps.prefix}:audit`, 0, 9999);
    deps.log.info({ audit: entry }, 'admin action');
  };

  const wrap =
    (fn: (req: Request, res: Response) => Promise<void>) =>
    (req: Request, res: Response): void => {
      fn(req, res).catch((e) => {
        deps.log.error({ err: e }, `admin request failed: ${describeError(e)}`);
        res.status(500).json({ error: describeError(e) });
      });
    };

  app.get('/health', (_req, res) => void res.json({ status: 'ok', rules: deps.rules.status() }));

  app.get(
    '/ready',
    wrap(async (_req, res) => {
      const checks: Record<string, { ok: boolean; detail?: string }> = {};
      try {
        checks.redis = { ok: (await deps.redis.ping()) === 'PONG' };
      } catch (e) {
        checks.redis = { ok: false, detail: describeError(e) };
      }
      try {
        await deps.client.search('/studies', { limit: 1 });
        checks.pacs = { ok: true };
      } catch (e) {
        checks.pacs = { ok: false, detail: describeError(e) };
      }
      const rs = deps.rules.status();
      checks.rules = { ok: rs.rules > 0 && !rs.error, ...(rs.error ? { detail: `file invalid, previous rules in force: ${rs.error}` } : {}) };
      checks.models = { ok: deps.models.size > 0, detail: `${deps.models.size} loaded, ${deps.refused.length} refused` };
      const ok = Object.values(checks).every((c) => c.ok);
      res.status(ok ? 200 : 503).json({ ready: ok, checks });
    }),
  );

  // Backlog for autoscalers (KEDA metrics-api): jobs waiting to run, prioritized ones included
  // (BullMQ keeps prioritized jobs in a sorted set, not in the wait list).
  app.get(
    '/queue/depth',
    wrap(async (_req, res) => {
      const c = await deps.queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'failed');
      res.json({ queue: deps.queue.name, backlog: (c.waiting ?? 0) + (c.prioritized ?? 0), ...c });
    }),
  );

  app.get(
    '/jobs',
    wrap(async (req, res) => {
      const state = typeof req.query.state === 'string' ? req.query.state : undefined;
      if (state && !(ALL_STATES as readonly string[]).includes(state)) return void res.status(400).json({ error: `state must be one of ${ALL_STATES.join(', ')}` });
      const limit = Math.min(Number(req.query.limit ?? 100) || 100, 1000);
      const out: Record<string, unknown>[] = [];
      for (const s of state ? [state] : ALL_STATES) {
        for (const j of await deps.queue.getJobs([s as (typeof ALL_STATES)[number]], 0, limit - 1)) {
          if (!j) continue;
          if (req.query.model && j.data.modelId !== req.query.model) continue;
          if (req.query.study && j.data.studyInstanceUid !== req.query.study) continue;
          out.push(jobView(j, s));
        }
      }
      res.json({ jobs: out.slice(0, limit) });
    }),
  );

  const findJob = async (id: string): Promise<{ job: Job<InferenceJob>; state: string } | undefined> => {
    const job = await deps.queue.getJob(id);
    return job ? { job, state: await job.getState() } : undefined;
  };

  app.get(
    '/jobs/:id',
    wrap(async (req, res) => {
      const f = await findJob(String(req.params.id));
      if (!f) return void res.status(404).json({ error: 'no such job' });
      res.json({ ...jobView(f.job, f.state), timingsMs: (f.job.returnvalue as { timingsMs?: unknown } | undefined)?.timingsMs });
    }),
  );

  app.post(
    '/jobs/:id/retry',
    wrap(async (req, res) => {
      const id = String(req.params.id);
      const f = await findJob(id);
      if (!f) return void res.status(404).json({ error: 'no such job' });
      if (f.state !== 'failed') return void res.status(409).json({ error: `only failed jobs can be retried (this one is ${f.state})` });
      await f.job.retry('failed');
      await audit(req, 'job.retry', id, 'retried');
      res.json({ id, state: await f.job.getState() });
    }),
  );

  app.post(
    '/jobs/:id/cancel',
    wrap(async (req, res) => {
      const id = String(req.params.id);
      const f = await findJob(id);
      if (!f) return void res.status(404).json({ error: 'no such job' });
      if (f.state === 'active') return void res.status(409).json({ error: 'the job is running; it cannot be cancelled (stop its worker or wait for it)' });
      await f.job.remove();
      await audit(req, 'job.cancel', id, `removed (was ${f.state})`);
      res.json({ id, cancelled: true });
    }),
  );

  app.get(
    '/studies/:uid/status',
    wrap(async (req, res) => {
      const uid = String(req.params.uid);
      if (!isValidUid(uid)) return void res.status(400).json({ error: 'not a UID' });
      const jobs: Record<string, unknown>[] = [];
      for (const s of ALL_STATES) for (const j of await deps.queue.getJobs([s], 0, 9999)) if (j && j.data.studyInstanceUid === uid) jobs.push(jobView(j, s));
      const delivered = await Promise.all([...deps.models.values()].map(async (p) => ({ model: `${p.manifest.id}@${p.manifest.version}`, delivered: (await deps.ledger.get(uid, p.manifest.id, p.manifest.version)) ?? null })));
      res.json({ studyInstanceUid: uid, jobs, delivered });
    }),
  );

  app.get('/rules', (_req, res) => void res.json({ status: deps.rules.status(), source: deps.rules.source }));

  app.post('/rules/validate', (req, res) => {
    if (typeof req.body !== 'string') return void res.status(415).json({ error: 'send the rules as text/yaml' });
    try {
      const parsed = parseRules(req.body, 'rules');
      res.json({ valid: true, rules: parsed.rules.map((r) => r.name) });
    } catch (e) {
      res.status(422).json({ valid: false, problems: e instanceof RulesError ? e.problems : [describeError(e)] });
    }
  });

  app.put(
    '/rules',
    wrap(async (req, res) => {
      if (typeof req.body !== 'string') return void res.status(415).json({ error: 'send the rules as text/yaml' });
      try {
        const set = deps.rules.replace(req.body);
        await audit(req, 'rules.replace', deps.rules.file, `${set.rules.length} rules in force`);
        res.json({ valid: true, rules: set.rules.map((r) => r.name) });
      } catch (e) {
        await audit(req, 'rules.replace', deps.rules.file, 'refused: invalid');
        res.status(422).json({ valid: false, problems: e instanceof RulesError ? e.problems : [describeError(e)] });
      }
    }),
  );

  app.get(
    '/rules/test',
    wrap(async (req, res) => {
      const uid = String(req.query.study ?? '');
      if (!isValidUid(uid)) return void res.status(400).json({ error: 'pass ?study=<StudyInstanceUID>' });
      res.json(await decideStudy({ client: deps.client, models: deps.models, rules: deps.rules }, uid));
    }),
  );

  app.get('/models', (_req, res) =>
    void res.json({
      loaded: [...deps.models.values()].map((p) => ({ id: p.manifest.id, version: p.manifest.version, task: p.manifest.task, description: p.manifest.description, sha256: p.manifest.sha256 })),
      refused: deps.refused,
    }),
  );

  app.get(
    '/metrics',
    wrap(async (_req, res) => {
      const text = await metrics.collect();
      res.setHeader('Content-Type', metrics.registry.contentType);
      res.send(text);
    }),
  );

  app.get(
    '/audit',
    wrap(async (_req, res) => {
      const entries = await deps.redis.lrange(`${deps.prefix}:audit`, 0, 99);
      res.json({ entries: entries.map((e) => JSON.parse(e) as unknown) });
    }),
  );

  const board = new ExpressAdapter();
  board.setBasePath('/queues');
  createBullBoard({ queues: [new BullMQAdapter(deps.queue)], serverAdapter: board });
  app.use('/queues', board.getRouter());
  return { app, start: () => metrics.start(), close: () => metrics.stop() };
}
