/**
 * A direct Explicit VR Little Endian encoder for the parts of an object that dcmjs writes slowly:
 * long sequences of small items (a SEG's Per-frame Functional Groups: one item per frame, each
 * with four nested sequences) and the pixel data. dcmjs's generic writer spends most of a SEG's
 * encoding time there; this one writes the same bytes (sequences and items of undefined length
 * with delimiters, the same padding), which a unit test checks byte for byte against dcmjs.
 *
 * Values are naturalized like dcmjs's (keywords, strings for text VRs incl. DS/IS, numbers for
 * US/UL, arrays for several values, arrays of objects for SQ). Only the VRs the node writes in
 * such sequences are accepted; anything else throws, so nothing is written wrongly in silence.
 */
import { resolveAttribute, type NaturalDataset } from './part10';

const SHORT_TEXT = new Set(['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'PN', 'SH', 'TM', 'UI']);

interface Attribute {
  group: number;
  element: number;
  vr: string;
  order: number;
}

const cache = new Map<string, Attribute>();
function attribute(keyword: string): Attribute {
  let a = cache.get(keyword);
  if (!a) {
    const r = resolveAttribute(keyword);
    if (!r || r.keyword !== keyword || !/^[A-Z]{2}$/.test(r.vr)) throw new Error(`element-writer: no single VR for "${keyword}"`);
    const tag = parseInt(r.tag, 16);
    a = { group: tag >>> 16, element: tag & 0xffff, vr: r.vr, order: tag };
    cache.set(keyword, a);
  }
  return a;
}

class Chunks {
  readonly parts: Buffer[] = [];

  header(a: { group: number; element: number }, vr: string, length: number): void {
    const long = vr === 'SQ' || vr === 'OB' || vr === 'OW' || vr === 'UT' || vr === 'UN';
    const b = Buffer.allocUnsafe(long ? 12 : 8);
    b.writeUInt16LE(a.group, 0);
    b.writeUInt16LE(a.element, 2);
    b.write(vr, 4, 'latin1');
    if (long) {
      b.writeUInt16LE(0, 6);
      b.writeUInt32LE(length, 8);
    } else {
      if (length > 0xffff) throw new Error(`element-writer: value of ${length} bytes too long for VR ${vr}`);
      b.writeUInt16LE(length, 6);
    }
    this.parts.push(b);
  }

  marker(element: number, length: number): void {
    const b = Buffer.allocUnsafe(8);
    b.writeUInt16LE(0xfffe, 0);
    b.writeUInt16LE(element, 2);
    b.writeUInt32LE(length, 4);
    this.parts.push(b);
  }
}

const UNDEFINED = 0xffffffff;

function writeValue(out: Chunks, a: Attribute, value: unknown): void {
  const values = Array.isArray(value) ? value : value === undefined || value === null ? [] : [value];
  if (a.vr === 'SQ') {
    out.header(a, 'SQ', UNDEFINED);
    for (const item of values as NaturalDataset[]) {
      out.marker(0xe000, UNDEFINED);
      writeItem(out, item);
      out.marker(0xe00d, 0);
    }
    out.marker(0xe0dd, 0);
    return;
  }
  if (a.vr === 'US' || a.vr === 'UL') {
    const size = a.vr === 'US' ? 2 : 4;
    const b = Buffer.allocUnsafe(values.length * size);
    values.forEach((v, i) => (size === 2 ? b.writeUInt16LE(Number(v), i * 2) : b.writeUInt32LE(Number(v), i * 4)));
    out.header(a, a.vr, b.length);
    out.parts.push(b);
    return;
  }
  if (SHORT_TEXT.has(a.vr)) {
    let b = Buffer.from(values.map((v) => String(v)).join('\\'), 'utf8');
    if (b.length % 2) b = Buffer.concat([b, Buffer.from(a.vr === 'UI' ? [0] : [0x20])]);
    out.header(a, a.vr, b.length);
    out.parts.push(b);
    return;
  }
  throw new Error(`element-writer: VR ${a.vr} is not written here`);
}

function writeItem(out: Chunks, item: NaturalDataset): void {
  const entries = Object.entries(item)
    .filter(([k, v]) => v !== undefined && !k.startsWith('_'))
    .map(([k, v]) => [attribute(k), v] as const)
    .sort((x, y) => x[0].order - y[0].order);
  for (const [a, v] of entries) writeValue(out, a, v);
}

/** One sequence attribute (e.g. PerFrameFunctionalGroupsSequence) with its items, as bytes. */
export function encodeSequence(keyword: string, items: NaturalDataset[]): Buffer {
  const a = attribute(keyword);
  if (a.vr !== 'SQ') throw new Error(`element-writer: ${keyword} is not a sequence`);
  const out = new Chunks();
  writeValue(out, a, items);
  return Buffer.concat(out.parts);
}

/** Native (not encapsulated) PixelData as OB, padded to even length with a zero byte. */
export function encodePixelDataOB(bytes: Uint8Array): Buffer {
  const out = new Chunks();
  const padded = bytes.length % 2 ? 1 : 0;
  out.header({ group: 0x7fe0, element: 0x0010 }, 'OB', bytes.length + padded);
  out.parts.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  if (padded) out.parts.push(Buffer.alloc(1));
  return Buffer.concat(out.parts);
}

/** The tag of a keyword as a number ((0052,9230) -> 0x52009230), for ordering checks. */
export function tagOrder(keyword: string): number {
  return attribute(keyword).order;
}
