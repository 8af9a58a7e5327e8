/**
 * Issue 5: the admin API over real HTTP (port 0) against the real Redis: authentication, jobs,
 * retry of a failed job, rules replacement with validation, metrics, audit log.
 */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { AddressInfo } from 'net';
import type { Server } from 'http';
import IORedis from 'ioredis';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { createAdminApp } from '../../src/admin/app';
import { DicomwebClient } from '../../src/dicomweb/client';
import { loadModelPackages } from '../../src/inference/model-package';
import { createLogger } from '../../src/observability/logger';
import { INFERENCE_QUEUE, type InferenceJob } from '../../src/contracts/job';
import { DeliveryLedger } from '../../src/results/ledger';
import { RulesStore } from '../../src/rules/rules-store';
import { startOrthanc, type OrthancProcess } from '../../scripts/support/orthanc';
import { AINODE_BIN, REPO_ROOT } from '../support/ainode-process';
import { REDIS_URL, tempDir, uniquePrefix } from '../support/env';

const TOKEN = 'test-admin-token-0123456789';

describe('admin API', function () {
  this.timeout(60_000);
  const prefix = uniquePrefix('admin');
  const redis = new IORedis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue<InferenceJob>(INFERENCE_QUEUE, { connection: redis, prefix });
  let orthanc: OrthancProcess;
  let server: Server;
  let base: string;
  let rulesFile: string;
  let worker: Worker | undefined;
  let admin: ReturnType<typeof createAdminApp>;
  const log = createLogger({ level: 'silent' });

  before(async () => {
    const dir = tempDir('admin');
    orthanc = await startOrthanc({ dir });
    rulesFile = path.join(dir, 'rules.yaml');
    fs.copyFileSync(path.join(REPO_ROOT, 'deploy', 'rules', 'default.yaml'), rulesFile);
    const rules = new RulesStore(rulesFile, log);
    rules.load();
    const { packages, refused } = loadModelPackages(path.join(REPO_ROOT, 'models'));
    admin = createAdminApp({
      token: TOKEN,
      queue,
      redis,
      prefix,
      ledger: new DeliveryLedger(redis, prefix),
      rules,
      models: packages,
      refused,
      client: new DicomwebClient({
        url: orthanc.dicomwebUrl,
        username: undefined,
        password: undefined,
        timeoutMs: 10_000,
      }),
      log,
    });
    await admin.start();
    server = await new Promise((resolve) => {
      const s = admin.app.listen(0, '127.0.0.1', () => resolve(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await worker?.close();
    server?.close();
    await admin?.close();
    await queue.close();
    redis.disconnect();
    await orthanc?.stop();
  });

  const call = (p: string, init: RequestInit & { token?: string | null } = {}): Promise<Response> => {
    const headers: Record<string, string> = { ...(init.headers as Record<string, string>) };
    if (init.token !== null) headers.Authorization = `Bearer ${init.token ?? TOKEN}`;
    return fetch(`${base}${p}`, { ...init, headers });
  };

  it('every request without a valid token gets a coded 401 and nothing else; the probes say only up and ready', async () => {
    for (const p of [
      '/status',
      '/jobs',
      '/rules',
      '/models',
      '/metrics',
      '/audit',
      '/queues',
      '/queue/depth',
      '/studies/1.2.3/status',
    ]) {
      for (const token of [null, 'wrong-token-wrong-token']) {
        const r = await call(p, { token });
        expect(r.status, `${p} ${token}`).to.equal(401);
        expect(await r.json(), p).to.deep.equal({
          code: 'ADMIN_AUTH_REQUIRED',
          message: 'send Authorization: Bearer <admin token>',
        });
      }
    }
    expect(
      (await call('/rules', { method: 'PUT', token: null, body: 'x', headers: { 'Content-Type': 'text/yaml' } }))
        .status,
    ).to.equal(401);
    expect(await (await call('/health', { token: null })).json()).to.deep.equal({ status: 'ok' });
    expect(await (await call('/ready', { token: null })).json()).to.deep.equal({ ready: true });
  });

  it('with the token: status (PACS, Redis, rules, models), models', async () => {
    const ready = (await (await call('/status')).json()) as { ready: boolean; checks: Record<string, { ok: boolean }> };
    expect(ready.ready).to.equal(true);
    expect(Object.keys(ready.checks).sort()).to.deep.equal(['models', 'pacs', 'redis', 'rules']);
    const models = (await (await call('/models')).json()) as { loaded: { id: string }[] };
    expect(models.loaded.map((m) => m.id).sort()).to.deep.equal(['ct-lung', 'mr-brain-tissue']);
  });

  it('a failed job shows its code and message; retry runs it again; the action is audited', async () => {
    let runs = 0;
    worker = new Worker(
      INFERENCE_QUEUE,
      async () => {
        runs++;
        if (runs === 1) throw new UnrecoverableError('SERIES_GEOMETRY_INCONSISTENT: uneven slice spacing');
        return { status: 'delivered' };
      },
      { connection: new IORedis(REDIS_URL, { maxRetriesPerRequest: null }), prefix },
    );
    const job = await queue.add(
      'infer',
      { studyInstanceUid: '1.2.3', seriesInstanceUid: '1.2.3.4', modelId: 'ct-lung', modelVersion: '1.0.0' },
      { jobId: '1.2.3_ct-lung_1.0.0' },
    );
    const waitState = async (state: string): Promise<void> => {
      for (let i = 0; i < 100 && (await job.getState()) !== state; i++) await new Promise((r) => setTimeout(r, 100));
      expect(await job.getState()).to.equal(state);
    };
    await waitState('failed');
    const list = (await (await call('/jobs?state=failed&model=ct-lung')).json()) as {
      jobs: { id: string; failure: { code: string; message: string } }[];
    };
    expect(list.jobs.map((j) => j.id)).to.deep.equal(['1.2.3_ct-lung_1.0.0']);
    expect(list.jobs[0].failure).to.deep.equal({
      code: 'SERIES_GEOMETRY_INCONSISTENT',
      message: 'uneven slice spacing',
    });
    const status = (await (await call('/studies/1.2.3/status')).json()) as { jobs: unknown[] };
    expect(status.jobs).to.have.length(1);
    expect((await call(`/jobs/${job.id}/retry`, { method: 'POST' })).status).to.equal(200);
    await waitState('completed');
    expect(runs).to.equal(2);
    expect((await call(`/jobs/${job.id}/retry`, { method: 'POST' })).status).to.equal(409);
    const audit = (await (await call('/audit')).json()) as {
      entries: { action: string; target: string; actor: string }[];
    };
    expect(audit.entries[0]).to.include({ action: 'job.retry', target: '1.2.3_ct-lung_1.0.0' });
    expect(audit.entries[0].actor).to.match(/^token:[0-9a-f]{8}@/);
  });

  it('metrics: jobs by state and model, errors by code, queue depth', async () => {
    const text = await (await call('/metrics')).text();
    expect(text).to.match(/ainode_jobs\{state="completed",model="ct-lung"\} 1/);
    expect(text).to.match(/ainode_job_errors_total\{code="SERIES_GEOMETRY_INCONSISTENT"\} 1/);
    expect(text).to.match(/ainode_queue_depth 0/);
    expect(text).to.include('ainode_stage_duration_seconds');
    const depth = (await (await call('/queue/depth')).json()) as Record<string, number | string>;
    expect(depth).to.include({ queue: 'inference', backlog: 0, waiting: 0, prioritized: 0, active: 0 });
  });

  it('invalid rules are refused with their problems and the old ones stay; valid ones replace them', async () => {
    const before = (await (await call('/rules')).json()) as { source: string };
    const bad = await call('/rules', {
      method: 'PUT',
      body: 'version: 1\nrules:\n  - name: x\n    models: [ct-lung]\n    series:\n      - attribute: Modalty\n        equals: CT\n',
      headers: { 'Content-Type': 'text/yaml' },
    });
    expect(bad.status).to.equal(422);
    expect(((await bad.json()) as { problems: string[] }).problems[0]).to.equal(
      '/rules/0/series/0/attribute (line 6): "Modalty" is not a DICOM keyword or tag',
    );
    expect(((await (await call('/rules')).json()) as { source: string }).source).to.equal(before.source);
    expect(fs.readFileSync(rulesFile, 'utf8')).to.equal(before.source);
    const good = 'version: 1\nrules:\n  - name: only-ct\n    models: [ct-lung]\n';
    const ok = await call('/rules', { method: 'PUT', body: good, headers: { 'Content-Type': 'text/yaml' } });
    expect(ok.status).to.equal(200);
    expect(fs.readFileSync(rulesFile, 'utf8')).to.equal(good);
    const v = await call('/rules/validate', {
      method: 'POST',
      body: 'version: 3\n',
      headers: { 'Content-Type': 'text/yaml' },
    });
    expect(v.status).to.equal(422);
    const unknownModel = await call('/rules/validate', {
      method: 'POST',
      body: 'version: 1\nrules:\n  - name: x\n    models: [nope]\n',
      headers: { 'Content-Type': 'text/yaml' },
    });
    expect(unknownModel.status).to.equal(422);
    expect(((await unknownModel.json()) as { problems: string[] }).problems[0]).to.match(
      /"nope" is not a loaded model package/,
    );
  });

  it('the queue dashboard is served behind the same token', async () => {
    const r = await call('/queues');
    expect(r.status).to.equal(200);
    expect(await r.text()).to.match(/<html/i);
  });

  it('`ainode start --role admin` refuses to start without a token', () => {
    const r = spawnSync(process.execPath, [AINODE_BIN, 'start', '--role', 'admin'], {
      env: { PATH: process.env.PATH ?? '', AINODE_DICOMWEB_URL: orthanc.dicomwebUrl, AINODE_REDIS_URL: REDIS_URL },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).to.equal(2);
    expect(r.stderr).to.match(/AINODE_ADMIN_TOKEN: is required for --role admin/);
  });
});
