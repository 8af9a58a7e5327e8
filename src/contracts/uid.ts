/**
 * UIDs. One generator for random UIDs and one for deterministic UIDs, both in the 2.25 arc
 * (PS3.5 B.2: "2.25." followed by a 128-bit integer in decimal). Deterministic UIDs are derived
 * from a name (e.g. study UID + model id/version + object kind), so a re-run of the same job
 * produces the same output UIDs and the PACS can tell a result is already there.
 */
import { createHash, randomBytes } from 'crypto';

export type Uid = string & { readonly __uid: unique symbol };

const UID_PATTERN = /^(0|[1-9]\d*)(\.(0|[1-9]\d*))*$/;

export function isValidUid(s: string): boolean {
  return s.length > 0 && s.length <= 64 && UID_PATTERN.test(s);
}

function fromBytes(b: Buffer): Uid {
  const n = BigInt('0x' + b.subarray(0, 16).toString('hex'));
  return `2.25.${n.toString(10)}` as Uid;
}

export function randomUid(): Uid {
  return fromBytes(randomBytes(16));
}

export function deterministicUid(...nameParts: string[]): Uid {
  return fromBytes(createHash('sha256').update(nameParts.join('\u0000')).digest());
}
