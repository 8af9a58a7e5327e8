/**
 * The admin HTTP API (express), built apart from listening (createAdminApp(deps), then listen on
 * any port) so tests run it on port 0. Safe by construction (docs/security.md):
 * - Two probes need no token and say nothing but up or ready: GET /health and GET /ready.
 *   Everything else needs the bearer token, or the session cookie that POST /login sets for
 *   the queue dashboard; without it: a coded 401.
 * - Every path and query parameter is checked (job ids, states, limits, UIDs, model ids) and
 *   bodies are bounded in size and JSON depth; bad ones get a coded 400.
 * - One error handler: every error is coded JSON `{code, message}`, never a stack.
 * - Admin actions (retry, cancel, rules, pause, resume) go to an audit log (who, what, when;
 *   never patient data). The queue dashboard is read-only; pausing is an audited API action.
 */
import { redisKeys } from '../contracts/redis-keys';
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
import { isJobState, JOB_STATES, parseFailure, type InferenceJob } from '../contracts/job';
import type { DeliveryLedger } from '../results/ledger';
import { parseRules, ruleReferenceProblems, RulesError } from '../rules/schema';
import type { RulesStore } from '../rules/rules-store';
import { decideStudy } from '../intake/study-intake';
import { describeError } from '../errors';
import { isValidUid } from '../contracts/uid';

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
const SESSION_HOURS = 8;
/** Job ids as ainode makes them (queue/jobs.ts): <StudyInstanceUID>_<model id>_<version>[_r<n>]. */
const JOB_ID = /^[0-9][0-9.]{0,63}_[a-z0-9][a-z0-9-]{0,62}_[0-9A-Za-z.+-]{1,32}(_r[1-9][0-9]{0,5})?$/;
const MODEL_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
const MAX_JSON_DEPTH = 32;

export type AdminErrorCode =
  | 'ADMIN_AUTH_REQUIRED'
  | 'ADMIN_BAD_REQUEST'
  | 'ADMIN_BODY_TOO_LARGE'
  | 'ADMIN_UNSUPPORTED_MEDIA_TYPE'
  | 'ADMIN_NOT_FOUND'
  | 'ADMIN_CONFLICT'
  | 'RULES_INVALID'
  | 'ADMIN_INTERNAL';

/** A coded error answered by the one error handler. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: AdminErrorCode,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}
const bad = (message: string): HttpError => new HttpError(400, 'ADMIN_BAD_REQUEST', message);

function safeEqual(a: string, b: string): boolean {
  const x = crypto.createHash('sha256').update(a).digest();
  const y = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(x, y);
}

function depth(v: unknown, limit: number): number {
  // Iterative: a hostile body must not overflow the stack being measured.
  let max = 0;
  const stack: [unknown, number][] = [[v, 1]];
  while (stack.length) {
    const [x, d] = stack.pop()!;
    if (x === null || typeof x !== 'object') continue;
    max = Math.max(max, d);
    if (max > limit) return max;
    for (const c of Object.values(x as object)) stack.push([c, d + 1]);
  }
  return max;
}

/** One query parameter as a single string (repeated or nested ones are refused). */
function queryParam(req: Request, name: string): string | undefined {
  const v = req.query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw bad(`query parameter ${name} must be given once, as text`);
  return v;
}

function jobIdParam(req: Request): string {
  const id = String(req.params.id);
  if (!JOB_ID.test(id)) throw bad('not a job id (<StudyInstanceUID>_<model>_<version>, as GET /jobs lists them)');
  return id;
}

function jobView(j: Job<InferenceJob>, state: string): Record<string, unknown> {
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
    ...(j.failedReason ? { failure: parseFailure(j.failedReason) } : {}),
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
  app.disable('etag');
  const actorId = `token:${crypto.createHash('sha256').update(deps.token).digest('hex').slice(0, 8)}`;
  const metrics = new QueueMetrics(deps.queue);
  // The session cookie holds an expiry and its HMAC under a key derived from the token, never the
  // token itself; a new token ends every session.
  const sessionKey = crypto.createHmac('sha256', deps.token).update('ainode admin session v1').digest();
  const session = (until: number): string =>
    `${until}.${crypto.createHmac('sha256', sessionKey).update(String(until)).digest('base64url')}`;
  const validSession = (value: string): boolean => {
    const m = /^([0-9]{13})\.([A-Za-z0-9_-]{43})$/.exec(value);
    return !!m && Number(m[1]) > Date.now() && safeEqual(session(Number(m[1])), value);
  };

  app.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    next();
  });

  // The probes: no token, and nothing in them an outsider could use.
  app.get('/health', (_req, res) => void res.json({ status: 'ok' }));
  const readiness = async (): Promise<{ ok: boolean; checks: Record<string, { ok: boolean; detail?: string }> }> => {
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
    checks.rules = {
      ok: rs.rules > 0 && !rs.error,
      ...(rs.error ? { detail: `file invalid, previous rules in force: ${rs.error}` } : {}),
    };
    checks.models = { ok: deps.models.size > 0, detail: `${deps.models.size} loaded, ${deps.refused.length} refused` };
    return { ok: Object.values(checks).every((c) => c.ok), checks };
  };
  app.get('/ready', (_req, res, next) => {
    readiness().then((r) => void res.status(r.ok ? 200 : 503).json({ ready: r.ok }), next);
  });

  // The dashboard's sign-in: a form posting the token (never in a URL), answered with the cookie.
  app.get('/login', (_req, res) => {
    res
      .type('html')
      .send(
        '<!doctype html><meta charset="utf-8"><title>ainode admin</title><form method="post" action="/login"><label>Admin token <input type="password" name="token" autocomplete="current-password" autofocus></label> <button>Sign in</button></form>\n',
      );
  });
  app.post('/login', express.urlencoded({ extended: false, limit: '4kb', parameterLimit: 4 }), (req, res) => {
    const token = (req.body as Record<string, unknown> | undefined)?.token;
    if (typeof token !== 'string' || !safeEqual(token, deps.token))
      throw new HttpError(401, 'ADMIN_AUTH_REQUIRED', 'wrong token');
    const secure = (req.socket as { encrypted?: boolean }).encrypted || req.headers['x-forwarded-proto'] === 'https';
    res.setHeader(
      'Set-Cookie',
      `${COOKIE}=${session(Date.now() + SESSION_HOURS * 3600_000)}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_HOURS * 3600}${secure ? '; Secure' : ''}`,
    );
    res.redirect(303, '/queues');
  });

  const auth = (req: Request, res: Response, next: NextFunction): void => {
    const header = req.headers.authorization ?? '';
    if (header.startsWith('Bearer ') && safeEqual(header.slice(7), deps.token)) return next();
    // The session cookie is for the dashboard only (a browser), not for the API's actions.
    const cookie = /(?:^|;\s*)ainode_admin=([^;]{1,100})/.exec(req.headers.cookie ?? '')?.[1];
    if (cookie && req.path.startsWith('/queues') && validSession(cookie)) return next();
    if (req.path.startsWith('/queues') && req.method === 'GET' && (req.headers.accept ?? '').includes('text/html'))
      return void res.redirect(303, '/login');
    res.setHeader('WWW-Authenticate', 'Bearer');
    next(new HttpError(401, 'ADMIN_AUTH_REQUIRED', 'send Authorization: Bearer <admin token>'));
  };
  app.use(auth);

  app.use(express.json({ limit: '64kb', strict: true }));
  app.use(express.text({ type: ['text/plain', 'application/yaml', 'application/x-yaml', 'text/yaml'], limit: '1mb' }));
  app.use((req, _res, next) => {
    if (req.body !== undefined && typeof req.body === 'object' && depth(req.body, MAX_JSON_DEPTH) > MAX_JSON_DEPTH)
      return next(bad(`the JSON body is nested deeper than ${MAX_JSON_DEPTH}`));
    next();
  });

  const audit = async (req: Request, action: string, target: string, result: string): Promise<void> => {
    const entry = { at: new Date().toISOString(), actor: `${actorId}@${req.ip}`, action, target, result };
    await deps.redis.lpush(redisKeys.audit(deps.prefix), JSON.stringify(entry));
    await deps.redis.ltrim(redisKeys.audit(deps.prefix), 0, 9999);
    deps.log.info({ audit: entry }, 'admin action');
  };

  const wrap =
    (fn: (req: Request, res: Response) => Promise<void>) =>
    (req: Request, res: Response, next: NextFunction): void =>
      void fn(req, res).catch(next);

  app.get(
    '/status',
    wrap(async (_req, res) => {
      const r = await readiness();
      res.status(r.ok ? 200 : 503).json({ ready: r.ok, checks: r.checks, rules: deps.rules.status() });
    }),
  );

  // Backlog for autoscalers (KEDA metrics-api): jobs waiting to run, prioritized ones included
  // (BullMQ keeps prioritized jobs in a sorted set, not in the wait list).
  app.get(
    '/queue/depth',
    wrap(async (_req, res) => {
      const c = await deps.queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'failed');
      res.json({
        queue: deps.queue.name,
        backlog: (c.waiting ?? 0) + (c.prioritized ?? 0),
        paused: await deps.queue.isPaused(),
        ...c,
      });
    }),
  );

  for (const action of ['pause', 'resume'] as const) {
    app.post(
      `/queue/${action}`,
      wrap(async (req, res) => {
        if (action === 'pause') await deps.queue.pause();
        else await deps.queue.resume();
        await audit(req, `queue.${action}`, deps.queue.name, action === 'pause' ? 'paused' : 'resumed');
        res.json({ queue: deps.queue.name, paused: await deps.queue.isPaused() });
      }),
    );
  }

  app.get(
    '/jobs',
    wrap(async (req, res) => {
      const state = queryParam(req, 'state');
      if (state !== undefined && !isJobState(state)) throw bad(`state must be one of ${JOB_STATES.join(', ')}`);
      const rawLimit = queryParam(req, 'limit');
      if (rawLimit !== undefined && !/^[1-9][0-9]{0,3}$/.test(rawLimit))
        throw bad('limit must be a whole number from 1 to 1000');
      const limit = rawLimit === undefined ? 100 : Number(rawLimit);
      if (limit > 1000) throw bad('limit must be a whole number from 1 to 1000');
      const model = queryParam(req, 'model');
      if (model !== undefined && !MODEL_ID.test(model)) throw bad('model must be a model id (GET /models lists them)');
      const study = queryParam(req, 'study');
      if (study !== undefined && !isValidUid(study)) throw bad('study must be a StudyInstanceUID');
      const out: Record<string, unknown>[] = [];
      for (const s of state ? [state] : JOB_STATES) {
        for (const j of await deps.queue.getJobs([s], 0, limit - 1)) {
          if (!j) continue;
          if (model && j.data.modelId !== model) continue;
          if (study && j.data.studyInstanceUid !== study) continue;
          out.push(jobView(j, s));
        }
      }
      res.json({ jobs: out.slice(0, limit) });
    }),
  );

  const findJob = async (id: string): Promise<{ job: Job<InferenceJob>; state: string }> => {
    const job = await deps.queue.getJob(id);
    if (!job) throw new HttpError(404, 'ADMIN_NOT_FOUND', 'no such job');
    return { job, state: await job.getState() };
  };

  app.get(
    '/jobs/:id',
    wrap(async (req, res) => {
      const f = await findJob(jobIdParam(req));
      res.json({
        ...jobView(f.job, f.state),
        timingsMs: (f.job.returnvalue as { timingsMs?: unknown } | undefined)?.timingsMs,
      });
    }),
  );

  app.post(
    '/jobs/:id/retry',
    wrap(async (req, res) => {
      const id = jobIdParam(req);
      const f = await findJob(id);
      if (f.state !== 'failed')
        throw new HttpError(409, 'ADMIN_CONFLICT', `only failed jobs can be retried (this one is ${f.state})`);
      await f.job.retry('failed');
      await audit(req, 'job.retry', id, 'retried');
      res.json({ id, state: await f.job.getState() });
    }),
  );

  app.post(
    '/jobs/:id/cancel',
    wrap(async (req, res) => {
      const id = jobIdParam(req);
      const f = await findJob(id);
      if (f.state === 'active')
        throw new HttpError(
          409,
          'ADMIN_CONFLICT',
          'the job is running; it cannot be cancelled (stop its worker or wait for it)',
        );
      await f.job.remove();
      await audit(req, 'job.cancel', id, `removed (was ${f.state})`);
      res.json({ id, cancelled: true });
    }),
  );

  app.get(
    '/studies/:uid/status',
    wrap(async (req, res) => {
      const uid = String(req.params.uid);
      if (!isValidUid(uid)) throw bad('not a UID');
      const jobs: Record<string, unknown>[] = [];
      for (const s of JOB_STATES)
        for (const j of await deps.queue.getJobs([s], 0, 9999))
          if (j && j.data.studyInstanceUid === uid) jobs.push(jobView(j, s));
      const delivered = await Promise.all(
        [...deps.models.values()].map(async (p) => ({
          model: `${p.manifest.id}@${p.manifest.version}`,
          delivered: (await deps.ledger.get(uid, p.manifest.id, p.manifest.version)) ?? null,
        })),
      );
      res.json({ studyInstanceUid: uid, jobs, delivered });
    }),
  );

  app.get('/rules', (_req, res) => void res.json({ status: deps.rules.status(), source: deps.rules.source }));

  const rulesInvalid = (e: unknown, message: string): HttpError =>
    new HttpError(422, 'RULES_INVALID', message, {
      valid: false,
      problems: e instanceof RulesError ? e.problems : [describeError(e)],
    });
  const rulesText = (req: Request): string => {
    if (typeof req.body !== 'string')
      throw new HttpError(415, 'ADMIN_UNSUPPORTED_MEDIA_TYPE', 'send the rules as text/yaml');
    return req.body;
  };
  app.post('/rules/validate', (req, res) => {
    const text = rulesText(req);
    try {
      const parsed = parseRules(text, 'rules');
      const unknown = ruleReferenceProblems(parsed, new Set(deps.models.keys()));
      if (unknown.length) throw new RulesError(unknown, 'rules');
      res.json({ valid: true, rules: parsed.rules.map((r) => r.name) });
    } catch (e) {
      throw rulesInvalid(e, 'the rules are invalid');
    }
  });

  app.put(
    '/rules',
    wrap(async (req, res) => {
      const text = rulesText(req);
      try {
        const set = deps.rules.replace(text, new Set(deps.models.keys()));
        await audit(req, 'rules.replace', deps.rules.file, `${set.rules.length} rules in force`);
        res.json({ valid: true, rules: set.rules.map((r) => r.name) });
      } catch (e) {
        await audit(req, 'rules.replace', deps.rules.file, 'refused: invalid');
        throw rulesInvalid(e, 'the rules are invalid; the previous rules stay in force');
      }
    }),
  );

  app.get(
    '/rules/test',
    wrap(async (req, res) => {
      const uid = queryParam(req, 'study') ?? '';
      if (!isValidUid(uid)) throw bad('pass ?study=<StudyInstanceUID>');
      res.json(await decideStudy({ client: deps.client, models: deps.models, rules: deps.rules }, uid));
    }),
  );

  app.get(
    '/models',
    (_req, res) =>
      void res.json({
        loaded: [...deps.models.values()].map((p) => ({
          id: p.manifest.id,
          version: p.manifest.version,
          task: p.manifest.task,
          description: p.manifest.description,
          sha256: p.manifest.sha256,
        })),
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
      const entries = await deps.redis.lrange(redisKeys.audit(deps.prefix), 0, 99);
      res.json({ entries: entries.map((e) => JSON.parse(e) as unknown) });
    }),
  );

  // The dashboard shows the queue; it changes nothing (pause and resume: the audited API above).
  const board = new ExpressAdapter();
  board.setBasePath('/queues');
  createBullBoard({ queues: [new BullMQAdapter(deps.queue, { readOnlyMode: true })], serverAdapter: board });
  app.use('/queues', (req, _res, next) =>
    req.method === 'GET' || req.method === 'HEAD'
      ? next()
      : next(
          new HttpError(
            405,
            'ADMIN_BAD_REQUEST',
            'the queue dashboard is read-only; use POST /queue/pause, /queue/resume, /jobs/:id/retry or /jobs/:id/cancel',
          ),
        ),
  );
  app.use('/queues', board.getRouter());

  app.use((_req, _res, next) =>
    next(new HttpError(404, 'ADMIN_NOT_FOUND', 'no such route (docs/admin-api.md lists them)')),
  );
  // The one error handler: coded JSON, never a stack, whatever failed.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    let e: HttpError;
    if (err instanceof HttpError) e = err;
    else {
      const status = (err as { status?: unknown }).status;
      const type = (err as { type?: unknown }).type;
      if (type === 'entity.too.large')
        e = new HttpError(413, 'ADMIN_BODY_TOO_LARGE', 'the body is too large (JSON 64 kB, rules 1 MB)');
      else if (type === 'entity.parse.failed') e = bad('the body is not valid JSON');
      else if (err instanceof URIError || (typeof status === 'number' && status >= 400 && status < 500))
        e = bad('the request could not be read (malformed path, query or body)');
      else {
        deps.log.error(
          { err: { name: (err as Error).name, message: (err as Error).message }, route: req.route?.path },
          `admin request failed: ${describeError(err)}`,
        );
        e = new HttpError(500, 'ADMIN_INTERNAL', 'the request failed; the admin log has the details');
      }
    }
    if (res.headersSent) return void res.destroy();
    res.status(e.status).json({ code: e.code, message: e.message, ...e.extra });
  });
  return { app, start: () => metrics.start(), close: () => metrics.stop() };
}
