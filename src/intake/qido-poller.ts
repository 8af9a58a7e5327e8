/**
 * Intake from any DICOMweb server: QIDO-RS has no "received since" filter, so the poller lists
 * studies (paged) with NumberOfStudyRelatedInstances and calls a study stable once its instance
 * count has not changed for the quiet period. Per-study state lives in one Redis hash:
 * `count|firstSeenWithThisCount(ms)|handledCount`.
 */
import { redisKeys } from '../contracts/redis-keys';
import type { DicomwebClient } from '../dicomweb/client';
import { jsonNumber, jsonString, Tag } from '../dicom/json';
import type { Redis } from '../queue/redis';

const PAGE = 200;

export class QidoStabilityPoller {
  private readonly stateKey: string;

  constructor(
    private readonly client: DicomwebClient,
    private readonly redis: Redis,
    prefix: string,
    private readonly quietMs: number,
  ) {
    this.stateKey = redisKeys.qidoStudies(prefix);
  }

  /** Returns the StudyInstanceUIDs that became stable since they were last handled. */
  async poll(now = Date.now()): Promise<{ stable: string[]; commit: (uid: string) => Promise<void> }> {
    const stable: string[] = [];
    const counts = new Map<string, number>();
    for (let offset = 0; ; offset += PAGE) {
      const page = await this.client.search('/studies', {
        limit: PAGE,
        offset,
        includefield: Tag.NumberOfStudyRelatedInstances,
      });
      for (const s of page) {
        const uid = jsonString(s, Tag.StudyInstanceUID);
        if (uid) counts.set(uid, jsonNumber(s, Tag.NumberOfStudyRelatedInstances) ?? 0);
      }
      if (page.length < PAGE) break;
    }
    const previous = counts.size ? await this.redis.hmget(this.stateKey, ...counts.keys()) : [];
    const updates: string[] = [];
    [...counts.entries()].forEach(([uid, count], i) => {
      const [pc, since, handled] = (previous[i] ?? '').split('|');
      if (pc === undefined || Number(pc) !== count || previous[i] === null) {
        updates.push(uid, `${count}|${now}|${handled ?? ''}`);
      } else if (now - Number(since) >= this.quietMs && handled !== String(count)) {
        stable.push(uid);
      }
    });
    if (updates.length) await this.redis.hset(this.stateKey, ...updates);
    const commit = async (uid: string): Promise<void> => {
      const cur = await this.redis.hget(this.stateKey, uid);
      if (!cur) return;
      const [c, since] = cur.split('|');
      await this.redis.hset(this.stateKey, uid, `${c}|${since}|${c}`);
    };
    return { stable, commit };
  }
}
