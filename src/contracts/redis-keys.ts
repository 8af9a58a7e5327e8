/**
 * Every Redis key ainode writes, built here and nowhere else, below the deployment's prefix
 * (AINODE_REDIS_PREFIX); BullMQ's own keys live under `<prefix>:<queue>:`. Lua scripts are named
 * files beside this one (src/contracts/lua/), read once.
 */
import * as fs from 'fs';
import * as path from 'path';

export const redisKeys = {
  /** The admin audit log (a list, newest first). */
  audit: (prefix: string): string => `${prefix}:audit`,
  /** What was delivered for (study, model, model version): the delivery ledger. */
  ledger: (prefix: string, studyUid: string, modelId: string, modelVersion: string): string =>
    `${prefix}:ledger:${studyUid}:${modelId}:${modelVersion}`,
  /** The Orthanc change-feed cursor the listeners share. */
  orthancCursor: (prefix: string): string => `${prefix}:intake:orthanc:cursor`,
  /** The QIDO-RS poller's view of the studies it has seen (instance counts, last change). */
  qidoStudies: (prefix: string): string => `${prefix}:intake:qido:studies`,
  /** A listener's short claim on a job id before it enqueues it. */
  claim: (prefix: string, jobId: string): string => `${prefix}:claim:${jobId}`,
};

const scripts = new Map<string, string>();

/** A Lua script of src/contracts/lua/ by name (without .lua), read once. */
export function luaScript(name: 'advance-cursor'): string {
  let s = scripts.get(name);
  if (s === undefined) {
    // Compiled, this module runs from dist/src/contracts/; the scripts stay in src/contracts/lua/.
    const beside = path.join(__dirname, 'lua', `${name}.lua`);
    const source = path.resolve(__dirname, '..', '..', '..', 'src', 'contracts', 'lua', `${name}.lua`);
    s = fs.readFileSync(fs.existsSync(beside) ? beside : source, 'utf8');
    scripts.set(name, s);
  }
  return s;
}
