/** The inference queue with the node's default job options (retries with backoff and jitter). */
import { Queue } from 'bullmq';
import type { Redis } from './redis';
import { INFERENCE_QUEUE, type InferenceJob } from '../contracts/job';

export function createInferenceQueue(
  connection: Redis,
  prefix: string,
  retry: { attempts: number; delayMs: number } = { attempts: 8, delayMs: 5000 },
): Queue<InferenceJob> {
  return new Queue<InferenceJob>(INFERENCE_QUEUE, {
    connection,
    prefix,
    defaultJobOptions: {
      attempts: retry.attempts,
      backoff: { type: 'exponential', delay: retry.delayMs, jitter: 0.5 },
      // Completed jobs keep their id (and so de-duplicate) for a week; the ledger covers the rest.
      removeOnComplete: { age: 7 * 24 * 3600 },
      // Failed jobs stay, with their failure line, until an admin retries or removes them.
      removeOnFail: false,
    },
  });
}
