/**
 * The delivery ledger: a persistent record in Redis of which results were stored in the PACS,
 * per (study, model, model version). BullMQ forgets a job id once the job is removed; the ledger
 * does not, so a study that becomes "stable" again (e.g. because ainode's own SEG/SR arrived)
 * is never processed twice.
 */
import type { Redis } from 'ioredis';
import { redisKeys } from '../contracts/redis-keys';

export interface LedgerEntry {
  seriesInstanceUid: string;
  segSeriesInstanceUid: string;
  srSeriesInstanceUid: string;
  deliveredAt: string;
  /** Which run of this (study, model version) this is (1, 2, ...). */
  resultVersion?: number;
  /** Instances of the input series the result was computed from (a later change triggers a re-run). */
  inputInstances?: number;
}

export class DeliveryLedger {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(studyUid: string, modelId: string, modelVersion: string): string {
    return redisKeys.ledger(this.prefix, studyUid, modelId, modelVersion);
  }

  async get(studyUid: string, modelId: string, modelVersion: string): Promise<LedgerEntry | undefined> {
    const raw = await this.redis.get(this.key(studyUid, modelId, modelVersion));
    return raw ? (JSON.parse(raw) as LedgerEntry) : undefined;
  }

  async record(studyUid: string, modelId: string, modelVersion: string, entry: LedgerEntry): Promise<void> {
    await this.redis.set(this.key(studyUid, modelId, modelVersion), JSON.stringify(entry));
  }
}
