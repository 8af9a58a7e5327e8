/** Redis connections for BullMQ (which needs maxRetriesPerRequest: null on blocking connections). */
import IORedis, { type Redis } from 'ioredis';

export function connectRedis(url: string, opts: { forWorker?: boolean } = {}): Redis {
  return new IORedis(url, {
    maxRetriesPerRequest: opts.forWorker ? null : 20,
    enableReadyCheck: true,
    // Keep trying while Redis restarts; BullMQ resumes when the connection is back.
    retryStrategy: (times) => Math.min(200 * times, 5000),
  });
}

export type { Redis };
