/**
 * Wires the roles of one ainode process from a validated config. Only wiring lives here.
 */
import type { Worker } from 'bullmq';
import type { Config } from '../config/schema';
import { DicomwebClient } from '../dicomweb/client';
import { RetrieveThread } from '../dicomweb/retrieve-thread';
import { loadModelPackages } from '../inference/model-package';
import { startListener, type Listener } from '../intake/listener';
import type { Logger } from '../observability/logger';
import { createInferenceQueue } from '../queue/inference-queue';
import { connectRedis } from '../queue/redis';
import { DeliveryLedger } from '../results/ledger';
import { startWorker } from '../worker/inference-worker';
import { RulesStore } from '../rules/rules-store';
import { ruleReferenceProblems } from '../rules/schema';
import { createAdminApp } from '../admin/app';
import { ConfigError, listenError } from '../errors';
import * as fs from 'fs';
import type * as http from 'http';

export type NodeRole = 'listener' | 'worker' | 'admin';

export interface RunningNode {
  stop(): Promise<void>;
}

export async function startNode(
  cfg: Config,
  roles: NodeRole[],
  log: Logger,
  opts: { intakeStart?: 'now' | 'beginning' } = {},
): Promise<RunningNode> {
  if (!fs.existsSync(cfg.modelsDir)) throw new ConfigError('AINODE_MODELS_DIR', `${cfg.modelsDir} does not exist`);
  const { packages, refused } = loadModelPackages(cfg.modelsDir);
  const rules = new RulesStore(cfg.rulesFile, log);
  rules.load(); // an invalid rules file stops the start with its problems
  // A rule naming a model this process has not loaded never runs it: said at start, not refused
  // (a worker-only process may deploy fewer packages than the rules name).
  for (const p of ruleReferenceProblems(rules.rules, new Set(packages.keys()))) log.warn(`rules: ${p}`);
  const stopWatching = rules.watch();
  for (const r of refused) log.error({ dir: r.dir }, `model package refused: ${r.reason}`);
  log.info(
    { models: [...packages.values()].map((p) => `${p.manifest.id}@${p.manifest.version}`), roles },
    'starting ainode',
  );

  const target = { url: cfg.redisUrl, ...(cfg.redisSentinels ? { sentinels: cfg.redisSentinels } : {}) };
  const redis = connectRedis(target);
  const workerConnection = connectRedis(target, { forWorker: true });
  redis.on('error', (e) => log.warn({ err: e }, 'redis connection error'));
  workerConnection.on('error', (e) => log.warn({ err: e }, 'redis connection error'));
  const client = new DicomwebClient(cfg.dicomweb);
  const ledger = new DeliveryLedger(redis, cfg.redisPrefix);
  const queue = createInferenceQueue(redis, cfg.redisPrefix, {
    attempts: cfg.retryAttempts,
    delayMs: cfg.retryDelayMs,
  });

  let admin: http.Server | undefined;
  let stopAdmin: () => Promise<void> = async () => undefined;
  if (roles.includes('admin')) {
    if (!cfg.admin.token)
      throw new ConfigError('AINODE_ADMIN_TOKEN', 'is required to serve the admin API (there is no default token)');
    const adminApp = createAdminApp({
      token: cfg.admin.token,
      queue,
      redis,
      prefix: cfg.redisPrefix,
      ledger,
      rules,
      models: packages,
      refused,
      client,
      log: log.child({ stage: 'admin' }),
    });
    await adminApp.start();
    stopAdmin = () => adminApp.close();
    try {
      admin = await new Promise<http.Server>((resolve, reject) => {
        // Express 5 calls back with the error when the server cannot listen.
        const srv = adminApp.app.listen(cfg.admin.port, cfg.admin.host, (e?: Error) =>
          e
            ? reject(listenError(e, cfg.admin.host, cfg.admin.port, 'AINODE_ADMIN_HOST / AINODE_ADMIN_PORT'))
            : resolve(srv),
        );
      });
    } catch (e) {
      // Nothing of this start may keep the process alive: it exits with the coded error.
      stopWatching();
      await adminApp.close();
      await queue.close();
      redis.disconnect();
      workerConnection.disconnect();
      throw e;
    }
    log.info({ host: cfg.admin.host, port: (admin.address() as { port: number }).port }, 'admin API listening');
  }
  let listener: Listener | undefined;
  let worker: Worker | undefined;
  // Series are retrieved on a thread of their own, so that decoding overlaps the transfer.
  const retriever = roles.includes('worker') ? new RetrieveThread(cfg.dicomweb) : undefined;
  if (roles.includes('worker'))
    worker = await startWorker(
      cfg,
      workerConnection,
      {
        client,
        retriever,
        ledger,
        models: packages,
        log,
        maxVoxels: cfg.maxVoxels,
        maxFramePixels: cfg.maxFramePixels,
        rules,
      },
      log,
    );
  if (roles.includes('listener'))
    listener = await startListener(
      cfg,
      redis,
      { client, queue, ledger, models: packages, rules, log, redis, prefix: cfg.redisPrefix },
      log,
      opts.intakeStart ?? 'now',
    );

  return {
    async stop() {
      stopWatching();
      await new Promise<void>((r) => (admin ? admin.close(() => r()) : r()));
      await stopAdmin();
      await listener?.stop();
      await worker?.close();
      await retriever?.close();
      await queue.close();
      redis.disconnect();
      workerConnection.disconnect();
    },
  };
}
