/**
 * Hostile DICOM inputs, made here from real instances: deflate bombs, size lies, pixel modules
 * that contradict themselves, deep nesting, and seeded random mutations (truncations, bit flips,
 * length and VR lies) for the fuzz runs. Test fixtures only.
 */
import * as zlib from 'zlib';
import { readPart10, writePart10, type NaturalDataset } from '../../src/dicom/part10';

const DEFLATED = '1.2.840.10008.1.2.1.99';

/** A small seeded PRNG (mulberry32): the same seed gives the same mutations. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Where the dataset starts in an explicit-VR Part 10 file written by writePart10. */
export function datasetStart(part10: Buffer): number {
  return 144 + part10.readUInt32LE(140);
}

/** The file meta with another transfer syntax (group length recomputed). */
export function metaWithTransferSyntax(part10: Buffer, ts: string): Buffer {
  const value = Buffer.from(ts.length % 2 ? `${ts}\0` : ts, 'latin1');
  const parts: Buffer[] = [];
  const end = datasetStart(part10);
  for (let p = 144; p < end;) {
    const vr = part10.toString('latin1', p + 4, p + 6);
    const long = ['OB', 'OW', 'UN', 'SQ', 'UT'].includes(vr);
    const len = long ? 12 + part10.readUInt32LE(p + 8) : 8 + part10.readUInt16LE(p + 6);
    parts.push(
      part10.readUInt16LE(p + 2) === 0x0010
        ? Buffer.concat([
            Buffer.from([0x02, 0x00, 0x10, 0x00, 0x55, 0x49]),
            Buffer.from(new Uint16Array([value.length]).buffer),
            value,
          ])
        : part10.subarray(p, p + len),
    );
    p += len;
  }
  const meta = Buffer.concat(parts);
  const gl = Buffer.from([0x02, 0x00, 0x00, 0x00, 0x55, 0x4c, 0x04, 0x00, 0, 0, 0, 0]);
  gl.writeUInt32LE(meta.length, 8);
  return Buffer.concat([part10.subarray(0, 132), gl, meta]);
}

/** The offset of the first top-level element of group >= `group` in an explicit VR LE dataset. */
function firstOfGroup(ds: Buffer, group: number): number {
  for (let p = 0; p + 8 <= ds.length;) {
    if (ds.readUInt16LE(p) >= group) return p;
    const vr = ds.toString('latin1', p + 4, p + 6);
    const long = ['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV'].includes(vr);
    const len = long ? ds.readUInt32LE(p + 8) : ds.readUInt16LE(p + 6);
    if (len === 0xffffffff) throw new Error('firstOfGroup: undefined length before the group');
    p += (long ? 12 : 8) + len;
  }
  return ds.length;
}

/**
 * Raw-deflates pieces of a dataset as one stream without holding the inflated whole: each piece
 * is compressed on its own and ended by a sync flush (no final block), and raw deflate block
 * sequences concatenate; the zeros are one compressed 16 MiB block repeated.
 */
function deflateStream(pieces: (Buffer | { zeros: number })[]): Buffer {
  const sync = (b: Buffer): Buffer => zlib.deflateRawSync(b, { level: 9, finishFlush: zlib.constants.Z_SYNC_FLUSH });
  const CHUNK = 16 * 1024 * 1024;
  const zeroBlock = sync(Buffer.alloc(CHUNK));
  const out: Buffer[] = [];
  for (const p of pieces) {
    if (Buffer.isBuffer(p)) out.push(sync(p));
    else {
      for (let left = p.zeros; left > 0; left -= CHUNK) out.push(left >= CHUNK ? zeroBlock : sync(Buffer.alloc(left)));
    }
  }
  out.push(zlib.deflateRawSync(Buffer.alloc(0))); // the final (empty) block
  return Buffer.concat(out);
}

/** An instance with its dataset deflated (Deflated Explicit VR Little Endian). */
export function deflated(part10: Buffer): Buffer {
  return Buffer.concat([
    metaWithTransferSyntax(part10, DEFLATED),
    zlib.deflateRawSync(part10.subarray(datasetStart(part10)), { level: 9 }),
  ]);
}

/**
 * A deflate bomb: the instance's dataset, deflated, with a private OB element of `bytes` zeros
 * before the pixel data (1 GiB inflates from about 1 MB).
 */
export function deflateBomb(part10: Buffer, bytes: number): Buffer {
  const ds = part10.subarray(datasetStart(part10));
  const cut = firstOfGroup(ds, 0x0010);
  const creator = Buffer.concat([
    Buffer.from([0x09, 0x00, 0x10, 0x00, 0x4c, 0x4f, 12, 0x00]),
    Buffer.from('AINODE TEST ', 'latin1'),
  ]);
  const header = Buffer.from([0x09, 0x00, 0x00, 0x10, 0x4f, 0x42, 0, 0, 0, 0, 0, 0]);
  header.writeUInt32LE(bytes, 8);
  return Buffer.concat([
    metaWithTransferSyntax(part10, DEFLATED),
    deflateStream([ds.subarray(0, cut), creator, header, { zeros: bytes }, ds.subarray(cut)]),
  ]);
}

/** A deflated slice that really holds rows x columns zero pixels (16 bits), small when deflated. */
export function deflatedHugeSlice(part10: Buffer, rows: number, columns: number): Buffer {
  const { dataset } = readPart10(part10);
  dataset.Rows = rows;
  dataset.Columns = columns;
  dataset.PixelData = [new ArrayBuffer(2)]; // replaced below
  const small = writePart10(dataset, { PixelData: 'OW' });
  const ds = small.subarray(datasetStart(small));
  const pd = ds.length - 12 - 2; // PixelData header (OW, 12 bytes) and its 2-byte value come last
  const header = Buffer.from(ds.subarray(pd, pd + 12));
  header.writeUInt32LE(rows * columns * 2, 8);
  return Buffer.concat([
    metaWithTransferSyntax(small, DEFLATED),
    deflateStream([ds.subarray(0, pd), header, { zeros: rows * columns * 2 }]),
  ]);
}

/** Sequences nested `depth` deep (explicit VR LE, undefined lengths) before the pixel data. */
export function deeplyNested(part10: Buffer, depth: number): Buffer {
  const ds = part10.subarray(datasetStart(part10));
  const cut = firstOfGroup(ds, 0x0009);
  // (0008,1140) ReferencedImageSequence, each item holding the next one.
  const open = Buffer.from([
    0x08, 0x00, 0x40, 0x11, 0x53, 0x51, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xff, 0x00, 0xe0, 0xff, 0xff, 0xff, 0xff,
  ]);
  const close = Buffer.from([0xfe, 0xff, 0x0d, 0xe0, 0, 0, 0, 0, 0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);
  const head = part10.subarray(0, datasetStart(part10));
  // Put the nest where (0008,1140) belongs: before group 0009 (ascending tag order).
  const before = ds.subarray(0, cut);
  const at = firstOfGroupAfter(before, 0x00081140);
  return Buffer.concat([
    head,
    before.subarray(0, at),
    ...Array(depth).fill(open),
    ...Array(depth).fill(close),
    before.subarray(at),
    ds.subarray(cut),
  ]);
}

function firstOfGroupAfter(ds: Buffer, tag: number): number {
  for (let p = 0; p + 8 <= ds.length;) {
    const t = ((ds.readUInt16LE(p) << 16) | ds.readUInt16LE(p + 2)) >>> 0;
    if (t > tag) return p;
    const vr = ds.toString('latin1', p + 4, p + 6);
    const long = ['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV'].includes(vr);
    const len = long ? ds.readUInt32LE(p + 8) : ds.readUInt16LE(p + 6);
    p += (long ? 12 : 8) + len;
  }
  return ds.length;
}

/** The same instance rewritten with attributes changed (dcmjs writes it again). */
export function rewritten(part10: Buffer, change: (ds: NaturalDataset) => void): Buffer {
  const { dataset } = readPart10(part10);
  change(dataset);
  return writePart10(dataset, { PixelData: 'OW' });
}

/** One random mutation of a Part 10 file: truncation, bit flips, a length lie or a VR lie. */
export function mutate(part10: Buffer, rnd: () => number): { kind: string; bytes: Buffer } {
  const b = Buffer.from(part10);
  const at = (): number => 132 + Math.floor(rnd() * (b.length - 140));
  const pick = rnd();
  if (pick < 0.2) return { kind: 'truncation', bytes: b.subarray(0, 132 + Math.floor(rnd() * (b.length - 132))) };
  if (pick < 0.45) {
    const n = 1 + Math.floor(rnd() * 8);
    for (let i = 0; i < n; i++) b[at()] ^= 1 << Math.floor(rnd() * 8);
    return { kind: `bit flips (${n})`, bytes: b };
  }
  // Element headers: find a plausible VR at a random place and lie about its length or VR.
  for (let tries = 0; tries < 200; tries++) {
    const p = at();
    const vr = b.toString('latin1', p + 4, p + 6);
    if (!/^(AE|AS|CS|DA|DS|IS|LO|PN|SH|UI|US|SS|UL|OB|OW|SQ|UN|UT)$/.test(vr) || b[p + 1] !== 0x00) continue;
    if (pick < 0.75) {
      const long = ['OB', 'OW', 'SQ', 'UN', 'UT'].includes(vr);
      const lies = [0xffffffff, 0x7fffffff, b.length, 1, 3, Math.floor(rnd() * 0xffff)];
      const lie = lies[Math.floor(rnd() * lies.length)];
      if (long) b.writeUInt32LE(lie >>> 0, p + 8);
      else b.writeUInt16LE(lie & 0xffff, p + 6);
      return { kind: `length lie (${vr} -> ${lie})`, bytes: b };
    }
    const vrs = ['SQ', 'UN', 'OB', 'US', 'UL', 'FD', 'AT', 'XX'];
    const to = vrs[Math.floor(rnd() * vrs.length)];
    b.write(to, p + 4, 'latin1');
    return { kind: `VR lie (${vr} -> ${to})`, bytes: b };
  }
  return { kind: 'truncation', bytes: b.subarray(0, Math.floor(b.length / 2)) };
}

/** The instance with the first top-level US element `tag` (e.g. 0x00280010 Rows) set to `value`, in place (explicit VR). */
export function patchUs(part10: Buffer, tag: number, value: number): Buffer {
  const b = Buffer.from(part10);
  const pattern = Buffer.from([
    (tag >>> 16) & 0xff,
    tag >>> 24,
    tag & 0xff,
    (tag >>> 8) & 0xff,
    0x55,
    0x53,
    0x02,
    0x00,
  ]);
  const at = b.indexOf(pattern, datasetStart(b));
  if (at < 0) throw new Error(`patchUs: no US element ${tag.toString(16)}`);
  b.writeUInt16LE(value, at + 8);
  return b;
}

/** The instance's attributes without its sequences (for fixtures that walk elements by length). */
export function withoutSequences(part10: Buffer): Buffer {
  return rewritten(part10, (d) => {
    for (const k of Object.keys(d))
      if (
        Array.isArray(d[k]) &&
        (d[k] as unknown[]).some((x) => x !== null && typeof x === 'object' && !(x instanceof ArrayBuffer))
      )
        delete d[k];
  });
}
