/**
 * Bounds on DICOM input, checked before a generic reader (dcmjs) or a decoder allocates anything.
 *
 * - `scanDataset` walks a dataset's element headers without reading values, iteratively (a
 *   hostile nesting cannot overflow the stack): every defined length must fit its container,
 *   sequences may nest at most MAX_SEQUENCE_DEPTH deep, and it reports the top-level pixel
 *   module attributes and where the pixel data starts.
 * - `inflateDataset` inflates a Deflated Explicit VR Little Endian dataset as a stream and stops
 *   as soon as it grows past what it declares: the attributes before the pixel data may take
 *   MAX_ATTRIBUTE_BYTES, the pixel data what Rows x Columns x frames x samples x BitsAllocated
 *   say, which must itself be within the input limits (AINODE_MAX_VOXELS and the per-frame limit).
 *   A 1.3 MB deflate bomb is refused after inflating at most those bytes, not a gigabyte.
 */
import * as zlib from 'zlib';
import * as pako from 'pako';
import { AinodeError } from '../errors';

/** Sequences inside sequences: SR content trees nest about ten deep; dcmjs recurses per level. */
export const MAX_SEQUENCE_DEPTH = 64;
/** Inflated bytes of a deflated dataset's attributes other than the pixel data. */
export const MAX_ATTRIBUTE_BYTES = 32 * 1024 * 1024;
/** Pixels of one frame (Rows x Columns): 8192^2, above any radiograph or mammogram. */
export const DEFAULT_MAX_FRAME_PIXELS = 8192 * 8192;
/** Voxels of a whole series (AINODE_MAX_VOXELS); shared with volume assembly. */
export const DEFAULT_MAX_VOXELS = 1024 * 1024 * 1200;

export interface InputLimits {
  maxVoxels: number;
  maxFramePixels: number;
}

export const DEFAULT_INPUT_LIMITS: InputLimits = {
  maxVoxels: DEFAULT_MAX_VOXELS,
  maxFramePixels: DEFAULT_MAX_FRAME_PIXELS,
};

const ITEM = 0xfffee000;
const ITEM_DELIMITER = 0xfffee00d;
const SEQUENCE_DELIMITER = 0xfffee0dd;
const PIXEL_DATA = 0x7fe00010;
const UNDEFINED = 0xffffffff;
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

export interface DatasetScan {
  /** Deepest sequence nesting met. */
  depth: number;
  /** Top-level pixel module values (undefined where absent). */
  rows?: number;
  columns?: number;
  samplesPerPixel?: number;
  bitsAllocated?: number;
  numberOfFrames?: number;
  /** The top-level PixelData element: where its value starts and its length (undefined: encapsulated). */
  pixelData?: { valueAt: number; length: number | undefined };
  /** Scanning stopped at the end of a prefix (scanDataset with `prefix`): more bytes are needed. */
  incomplete?: boolean;
}

function invalid(message: string): AinodeError {
  return new AinodeError('DICOM_PARSE_FAILED', message, {
    retryable: false,
    hint: 'the object is malformed; ask the sender to resend it',
  });
}

/**
 * Walks the dataset in `bytes[start..]` (little endian unless `bigEndian`; `explicit` VR or implicit). With `prefix`,
 * `bytes` may be the first part of the dataset only: the scan stops, `incomplete`, where it runs
 * out, or at the top-level pixel data header (enough to know the declared pixel size). In implicit
 * VR, `isSequenceTag` (the data dictionary) tells which defined-length elements are sequences.
 */
export function scanDataset(
  bytes: Uint8Array,
  start: number,
  explicit: boolean,
  opts: { prefix?: boolean; bigEndian?: boolean; isSequenceTag?: (tag: number) => boolean } = {},
): DatasetScan {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = !opts.bigEndian;
  const out: DatasetScan = { depth: 0 };
  // Open containers: sequences and items, each with its end (undefined: until its delimiter) and
  // the VR encoding inside (a UN of undefined length holds implicit VR).
  const stack: { kind: 'seq' | 'item'; end: number | undefined; explicit: boolean }[] = [];
  let depth = 0;
  let pos = start;
  const need = (n: number): boolean => {
    if (pos + n <= bytes.length) return true;
    if (opts.prefix) return false;
    throw invalid(`the object ends inside an element header at byte ${pos}`);
  };
  for (;;) {
    const top = stack[stack.length - 1];
    if (top && top.end !== undefined && pos >= top.end) {
      if (pos > top.end)
        throw invalid(`an element runs past the end of its ${top.kind === 'seq' ? 'sequence' : 'item'}`);
      stack.pop();
      if (top.kind === 'seq') depth--;
      continue;
    }
    if (pos >= bytes.length) {
      if (stack.length && !opts.prefix) throw invalid('the object ends inside a sequence');
      if (opts.prefix) out.incomplete = true;
      return out;
    }
    // Trailing padding shorter than an element header after the dataset: tolerated at the top.
    if (!stack.length && bytes.length - pos < 8 && !opts.prefix && bytes.subarray(pos).every((b) => b === 0))
      return out;
    if (!need(8)) return ((out.incomplete = true), out);
    const tag = ((view.getUint16(pos, le) << 16) | view.getUint16(pos + 2, le)) >>> 0;
    const inside = top?.explicit ?? explicit;
    if (tag >>> 16 === 0xfffe) {
      const length = view.getUint32(pos + 4, le);
      pos += 8;
      if (tag === ITEM) {
        if (top?.kind !== 'seq') throw invalid('an item outside a sequence');
        if (length !== UNDEFINED && top.end !== undefined && pos + length > top.end)
          throw invalid('an item runs past the end of its sequence');
        if (length !== UNDEFINED && pos + length > bytes.length && !opts.prefix)
          throw invalid('an item runs past the end of the object');
        stack.push({ kind: 'item', end: length === UNDEFINED ? undefined : pos + length, explicit: inside });
      } else if (tag === ITEM_DELIMITER) {
        if (top?.kind !== 'item' || top.end !== undefined) throw invalid('an item delimiter without its item');
        stack.pop();
      } else if (tag === SEQUENCE_DELIMITER) {
        if (top?.kind !== 'seq' || top.end !== undefined) throw invalid('a sequence delimiter without its sequence');
        stack.pop();
        depth--;
      } else throw invalid(`an unknown item tag (FFFE,${(tag & 0xffff).toString(16).toUpperCase()})`);
      continue;
    }
    if (top?.kind === 'seq') throw invalid('an element directly inside a sequence (items expected)');
    let vr = '';
    let length: number;
    let valueAt: number;
    if (inside) {
      vr = String.fromCharCode(bytes[pos + 4], bytes[pos + 5]);
      if (!/^[A-Z]{2}$/.test(vr))
        throw invalid(`element (${(tag >>> 16).toString(16)},${(tag & 0xffff).toString(16)}) has no valid VR`);
      if (LONG_VRS.has(vr)) {
        if (!need(12)) return ((out.incomplete = true), out);
        length = view.getUint32(pos + 8, le);
        valueAt = pos + 12;
      } else {
        length = view.getUint16(pos + 6, le);
        valueAt = pos + 8;
      }
    } else {
      length = view.getUint32(pos + 4, le);
      valueAt = pos + 8;
    }
    const atTop = stack.length === 0;
    if (tag === PIXEL_DATA && atTop) {
      out.pixelData = { valueAt, length: length === UNDEFINED ? undefined : length };
      if (opts.prefix) return out;
    }
    if (length === UNDEFINED) {
      if (tag === PIXEL_DATA) {
        // Encapsulated: fragments are items of defined length up to the sequence delimiter.
        pos = valueAt;
        for (;;) {
          if (!need(8)) return ((out.incomplete = true), out);
          const t = ((view.getUint16(pos, le) << 16) | view.getUint16(pos + 2, le)) >>> 0;
          const l = view.getUint32(pos + 4, le);
          pos += 8;
          if (t === SEQUENCE_DELIMITER) break;
          if (t !== ITEM || l === UNDEFINED)
            throw invalid('encapsulated pixel data holds something other than fragments');
          if (pos + l > bytes.length) throw invalid('a pixel data fragment runs past the end of the object');
          pos += l;
        }
        continue;
      }
      if (inside && vr !== 'SQ' && vr !== 'UN') throw invalid(`an undefined length on a ${vr} element`);
      if (++depth > MAX_SEQUENCE_DEPTH) throw nestingError();
      out.depth = Math.max(out.depth, depth);
      stack.push({ kind: 'seq', end: undefined, explicit: vr === 'UN' ? false : inside });
      pos = valueAt;
      continue;
    }
    const end = valueAt + length;
    const container = top?.end ?? Number.MAX_SAFE_INTEGER;
    if (end > container) throw invalid('an element runs past the end of its item');
    if (end > bytes.length && !opts.prefix)
      throw invalid(`an element's length (${length}) runs past the end of the object`);
    if (vr === 'SQ' || (!inside && opts.isSequenceTag?.(tag))) {
      if (++depth > MAX_SEQUENCE_DEPTH) throw nestingError();
      out.depth = Math.max(out.depth, depth);
      stack.push({ kind: 'seq', end, explicit: inside });
      pos = valueAt;
      continue;
    }
    if (atTop && (tag >>> 16 === 0x0028 || tag === 0x00280008) && end <= bytes.length) {
      const us = (): number | undefined => (length >= 2 ? view.getUint16(valueAt, le) : undefined);
      if (tag === 0x00280010) out.rows = us();
      else if (tag === 0x00280011) out.columns = us();
      else if (tag === 0x00280002) out.samplesPerPixel = us();
      else if (tag === 0x00280100) out.bitsAllocated = us();
      else if (tag === 0x00280008)
        out.numberOfFrames =
          Number(
            Buffer.from(bytes.buffer, bytes.byteOffset + valueAt, length)
              .toString('latin1')
              .replace(/[\0 ]/g, ''),
          ) || undefined;
    }
    pos = end;
  }
}

function nestingError(): AinodeError {
  return new AinodeError('DICOM_PARSE_FAILED', `sequences nest deeper than ${MAX_SEQUENCE_DEPTH} levels`, {
    retryable: false,
    hint: 'the object is malformed or hostile; it was not read',
  });
}

/** Bytes the pixel data declares, checked against the limits (a coded error when over them). */
export function declaredPixelBytes(
  s: Pick<DatasetScan, 'rows' | 'columns' | 'samplesPerPixel' | 'bitsAllocated' | 'numberOfFrames'>,
  limits: InputLimits,
): number {
  const rows = s.rows ?? 0;
  const columns = s.columns ?? 0;
  const frames = s.numberOfFrames ?? 1;
  const samples = s.samplesPerPixel ?? 1;
  const bits = s.bitsAllocated ?? 0;
  if (!rows || !columns || !bits)
    throw new AinodeError('PIXEL_MODULE_INVALID', 'the pixel data has no Rows, Columns or BitsAllocated before it', {
      retryable: false,
    });
  if (rows * columns > limits.maxFramePixels)
    throw tooLarge(
      `a frame of ${rows} x ${columns} pixels is more than the limit of ${limits.maxFramePixels}`,
      'AINODE_MAX_FRAME_PIXELS',
    );
  if (rows * columns * frames > limits.maxVoxels)
    throw tooLarge(
      `${frames} frames of ${rows} x ${columns} are more than the limit of ${limits.maxVoxels} voxels`,
      'AINODE_MAX_VOXELS',
    );
  return Math.ceil((rows * columns * frames * samples * bits) / 8);
}

export function tooLarge(message: string, variable: string): AinodeError {
  return new AinodeError('DICOM_INPUT_TOO_LARGE', message, {
    retryable: false,
    hint: `refused before reading it; raise ${variable} if this is a genuine image`,
  });
}

/**
 * Inflates a deflated dataset (raw deflate, PS3.5 A.5), stopping with a coded error as soon as it
 * is larger than it declares (see the module comment). Returns the explicit VR little endian bytes.
 */
export function inflateDataset(deflated: Uint8Array, limits: InputLimits): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  let limit: number | undefined;
  let nextScan = 64 * 1024;
  const inflator = new pako.Inflate({ raw: true, chunkSize: 256 * 1024 });
  inflator.onData = (chunk: Uint8Array) => {
    chunks.push(chunk);
    total += chunk.length;
    if (limit === undefined && (total >= nextScan || total > MAX_ATTRIBUTE_BYTES)) {
      nextScan = total * 2;
      const prefix = Buffer.concat(chunks);
      chunks.length = 0;
      chunks.push(prefix);
      const scan = scanDataset(prefix, 0, true, { prefix: true });
      if (scan.pixelData) {
        const declared = declaredPixelBytes(scan, limits);
        if (scan.pixelData.length !== undefined && scan.pixelData.length > declared + 1)
          throw new AinodeError(
            'PIXEL_MODULE_INVALID',
            `PixelData holds ${scan.pixelData.length} bytes, ${declared} declared`,
            { retryable: false },
          );
        // The pixel data, and a little room for padding after it.
        limit = scan.pixelData.valueAt + declared + 1 + 64 * 1024;
      } else if (total > MAX_ATTRIBUTE_BYTES) {
        throw tooLarge(
          `the attributes before the pixel data inflate to more than ${MAX_ATTRIBUTE_BYTES / 1024 / 1024} MB`,
          'nothing (a fixed limit)',
        );
      }
    }
    if (limit !== undefined && total > limit)
      throw tooLarge(
        `the deflated dataset inflates past the ${limit} bytes it declares`,
        'nothing (the object lies about its size)',
      );
  };
  inflator.push(deflated, true);
  if (inflator.err) throw invalid(`the deflated dataset cannot be inflated: ${inflator.msg || inflator.err}`);
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
}

/**
 * One frame of Deflated Image Frame Compression (or a deflated SEG frame), inflated to at most
 * `expected` bytes and a little padding: a frame that inflates further is refused, not held.
 */
export function inflateFrame(encoded: Uint8Array, expected: number, frame: number): Buffer {
  try {
    return zlib.inflateRawSync(encoded, { maxOutputLength: expected + 64 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError)
      throw tooLarge(
        `deflated frame ${frame} inflates past the ${expected} bytes it declares`,
        'nothing (the object lies about its size)',
      );
    throw new AinodeError(
      'PIXEL_DATA_UNSUPPORTED',
      `deflated frame ${frame} cannot be inflated: ${(e as Error).message}`,
      { retryable: false },
    );
  }
}
