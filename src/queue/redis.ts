/**
 * Redis connections for BullMQ (which needs maxRetriesPerRequest: null on blocking connections):
 * a plain server or a managed one by URL, or a Sentinel-monitored master (the URL then supplies
 * credentials, database and TLS; the sentinels supply the master's address).
 */
import IORedis, { type Redis, type RedisOptions } from 'ioredis';

export interface RedisTarget {
  url: string;
  sentinels?: { sentinels: { host: string; port: number }[]; name: string };
}

export function connectRedis(target: string | RedisTarget, opts: { forWorker?: boolean } = {}): Redis {
  const t = typeof target === 'string' ? { url: target } : target;
  const common: RedisOptions = {
    maxRetriesPerRequest: opts.forWorker ? null : 20,
    enableReadyCheck: true,
    // Keep trying while Redis restarts; BullMQ resumes when the connection is back.
    retryStrategy: (times) => Math.min(200 * times, 5000),
  };
  if (!t.sentinels) return new IORedis(t.url, common);
  const u = new URL(t.url);
  return new IORedis({
    ...common,
    sentinels: t.sentinels.sentinels,
    name: t.sentinels.name,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    db: Number(u.pathname.replace(/^\//, '') || 0),
    ...(u.protocol === 'rediss:' ? { tls: {}, enableTLSForSentinelMode: true } : {}),
  });
}

export type { Redis };
