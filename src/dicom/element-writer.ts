/**
 * A direct Explicit VR Little Endian encoder for the parts of an object that dcmjs writes slowly:
 * long sequences of small items (a SEG's Per-frame Functional Groups, one item per frame with four
 * nested sequences; an SR's evidence and content tree, one image item per source instance) and
 * the pixel data. dcmjs's generic writer spent most of the encoding time there; this one writes
 * the same bytes (sequences and items of undefined length with delimiters, the same padding),
 * which unit tests check byte for byte against dcmjs on the node's real SEG and SR objects.
 *
 * `writePart10Direct` lets dcmjs write the file meta and the attributes below a given tag and
 * encodes the rest here; the two byte runs join because a dataset is written in tag order.
 *
 * Values are naturalized like dcmjs's (keywords, strings for text VRs incl. DS/IS, numbers for
 * US/UL/FL/FD, arrays for several values, arrays of objects for SQ, ArrayBuffers for OB). Only
 * these VRs are accepted (PN, for one, is not); anything else throws, so nothing is written
 * wrongly in silence.
 */
import { resolveAttribute, writePart10, type NaturalDataset } from './part10';

const SHORT_TEXT = new Set(['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'SH', 'TM', 'UI', 'ST', 'LT']);
const LONG_TEXT = new Set(['UT', 'UC', 'UR']);
/** Explicit VRs with a 2-byte reserved field and a 4-byte length (PS3.5 7.1.2). */
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

interface Attribute {
  group: number;
  element: number;
  vr: string;
  order: number;
}

const cache = new Map<string, Attribute>();
function attribute(keyword: string, vrOverride?: string): Attribute {
  const key = vrOverride ? `${keyword}/${vrOverride}` : keyword;
  let a = cache.get(key);
  if (!a) {
    const r = resolveAttribute(keyword);
    const vr = vrOverride ?? r?.vr ?? '';
    if (!r || r.keyword !== keyword || !/^[A-Z]{2}$/.test(vr))
      throw new Error(`element-writer: no single VR for "${keyword}"`);
    const tag = parseInt(r.tag, 16);
    a = { group: tag >>> 16, element: tag & 0xffff, vr, order: tag };
    cache.set(key, a);
  }
  return a;
}

class Chunks {
  readonly parts: Buffer[] = [];

  header(a: { group: number; element: number }, vr: string, length: number): void {
    const long = LONG_VRS.has(vr);
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

const BINARY: Record<string, { size: number; write: (b: Buffer, v: number, at: number) => void }> = {
  US: { size: 2, write: (b, v, at) => b.writeUInt16LE(v, at) },
  SS: { size: 2, write: (b, v, at) => b.writeInt16LE(v, at) },
  UL: { size: 4, write: (b, v, at) => b.writeUInt32LE(v, at) },
  SL: { size: 4, write: (b, v, at) => b.writeInt32LE(v, at) },
  FL: { size: 4, write: (b, v, at) => b.writeFloatLE(v, at) },
  FD: { size: 8, write: (b, v, at) => b.writeDoubleLE(v, at) },
};

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
  const binary = BINARY[a.vr];
  if (binary) {
    const b = Buffer.allocUnsafe(values.length * binary.size);
    values.forEach((v, i) => binary.write(b, Number(v), i * binary.size));
    out.header(a, a.vr, b.length);
    out.parts.push(b);
    return;
  }
  if (a.vr === 'OB') {
    const parts = values.map((v) =>
      v instanceof ArrayBuffer
        ? Buffer.from(v)
        : ArrayBuffer.isView(v)
          ? Buffer.from(v.buffer, v.byteOffset, v.byteLength)
          : undefined,
    );
    if (parts.some((p) => p === undefined))
      throw new Error(`element-writer: OB value of (${a.group.toString(16)},${a.element.toString(16)}) is not binary`);
    const length = parts.reduce((n, p) => n + p!.length, 0);
    out.header(a, 'OB', length + (length % 2));
    out.parts.push(...(parts as Buffer[]));
    if (length % 2) out.parts.push(Buffer.alloc(1));
    return;
  }
  if (SHORT_TEXT.has(a.vr) || LONG_TEXT.has(a.vr)) {
    let b = Buffer.from(values.map((v) => String(v)).join('\\'), 'utf8');
    if (b.length % 2) b = Buffer.concat([b, Buffer.from(a.vr === 'UI' ? [0] : [0x20])]);
    out.header(a, a.vr, b.length);
    out.parts.push(b);
    return;
  }
  throw new Error(`element-writer: VR ${a.vr} is not written here`);
}

function writeItem(out: Chunks, item: NaturalDataset, vrOverrides: Record<string, string> = {}): void {
  const entries = Object.entries(item)
    .filter(([k, v]) => v !== undefined && !k.startsWith('_'))
    .map(([k, v]) => [attribute(k, vrOverrides[k]), v] as const)
    .sort((x, y) => x[0].order - y[0].order);
  for (const [a, v] of entries) writeValue(out, a, v);
}

/** Attributes (any of the VRs above), in tag order, as bytes. */
export function encodeElements(attributes: NaturalDataset, vrOverrides: Record<string, string> = {}): Buffer {
  const out = new Chunks();
  writeItem(out, attributes, vrOverrides);
  return Buffer.concat(out.parts);
}

/** The tag of a keyword as a number (PerFrameFunctionalGroupsSequence -> 0x52009230). */
export function tagOrder(keyword: string): number {
  return attribute(keyword).order;
}

/**
 * Part 10 bytes of `dataset` (as `writePart10` writes them): dcmjs writes the file meta and the
 * attributes whose tag is below `directFrom`'s, this module encodes the others.
 */
export function writePart10Direct(
  dataset: NaturalDataset,
  directFrom: string,
  vrOverrides: Record<string, string> = {},
): Buffer {
  const from = tagOrder(directFrom);
  const head: NaturalDataset = {};
  const tail: NaturalDataset = {};
  for (const [k, v] of Object.entries(dataset)) {
    if (k.startsWith('_')) continue;
    const r = resolveAttribute(k);
    if (!r) throw new Error(`element-writer: unknown attribute "${k}"`);
    if (parseInt(r.tag, 16) >= from) tail[k] = v;
    else head[k] = v;
  }
  return Buffer.concat([writePart10(head, vrOverrides), encodeElements(tail, vrOverrides)]);
}
