/**
 * One frame of a 2D image (a radiograph, a mammogram, an angiography frame, a photograph) as a
 * model reads it: grey images through the Modality LUT, the VOI transformation the manifest asks
 * for and MONOCHROME1 inverted (so that brighter is always denser on display, as a model trained
 * on displayed images saw it); colour images as RGB. Every transfer syntax the volume path
 * decodes is decoded here too (src/dicom/pixel-data.ts), and the pixel module is checked against
 * itself and its data before anything is decoded.
 *
 * Intensities follow PS3.3 C.11: the Modality LUT (Rescale Slope/Intercept or a Modality LUT
 * Sequence), then the VOI LUT (a VOI LUT Sequence or Window Center/Width with its VOI LUT
 * Function: LINEAR, LINEAR_EXACT, SIGMOID, C.11.2.1.2-3), then the presentation (MONOCHROME1:
 * minimum is white). Colour (C.7.6.3.1.2): YBR_FULL and YBR_FULL_422 are converted to RGB here;
 * JPEG 2000's YBR_ICT and YBR_RCT come out of the decoder as RGB already (the codestream's own
 * inverse component transform); planar configuration 1 is interleaved.
 */
import { AinodeError } from '../errors';
import type { NaturalDataset } from '../dicom/part10';
import {
  checkPixelModule,
  decodeFrame,
  isNativeTransferSyntax,
  modalityValues,
  pixelFormat,
  rescaleValue,
  storedValues,
  type PixelFormat,
} from '../dicom/pixel-data';
import { pixelSpacingOf, type PixelSpacing } from './spacing';

/**
 * How grey values become a model's input: `header`, the image's own VOI (its VOI LUT Sequence,
 * else its first window; an image with neither is scaled over its stored range); `window`, a
 * fixed window in modality units (e.g. Hounsfield); `minmax`, the frame's own minimum to maximum;
 * `none`, the modality values themselves (MONOCHROME1 mirrored within the stored range).
 * Everything but `none` gives 0..1.
 */
export type VoiChoice = 'header' | 'minmax' | 'none' | { center: number; width: number };

export interface PlanarImage {
  rows: number;
  columns: number;
  /** 1 (grey) or 3 (R, G, B). */
  channels: 1 | 3;
  /** Channel after channel, each rows x columns, row by row. Colour: 0..1. */
  pixels: Float32Array;
  /** The source's photometric interpretation. */
  photometric: string;
  /** 1-based frame number in the source instance. */
  frameNumber: number;
  spacing: PixelSpacing | undefined;
  /** Why there is no spacing, or what was ignored. */
  spacingNote?: string;
  /** How the grey values were windowed (for the report), e.g. "window 511/1024 (header)". */
  voiApplied?: string;
}

export interface PlanarOptions {
  voi: VoiChoice;
  /** Pixels of one frame (Rows x Columns) the input may declare. */
  maxFramePixels: number;
}

function unsupported(message: string, hint?: string): AinodeError {
  return new AinodeError('PIXEL_DATA_UNSUPPORTED', message, { retryable: false, ...(hint ? { hint } : {}) });
}

function first(v: unknown): unknown {
  return Array.isArray(v) ? v[0] : v;
}

function finite(v: unknown): number | undefined {
  const n = Number(first(v));
  return v !== undefined && v !== null && v !== '' && Number.isFinite(n) ? n : undefined;
}

interface Lut {
  entries: number;
  firstMapped: number;
  bits: number;
  data: ArrayLike<number>;
}

/** A LUT item of a Modality or VOI LUT Sequence (PS3.3 C.11.1.1): descriptor and data words. */
function lutOf(item: Record<string, unknown> | undefined, what: string): Lut | undefined {
  if (!item) return undefined;
  const d = item.LUTDescriptor as unknown;
  const desc = Array.isArray(d) ? d.map(Number) : [];
  if (desc.length !== 3 || !desc.every(Number.isFinite)) throw unsupported(`${what}: LUTDescriptor is not 3 numbers`);
  const entries = desc[0] === 0 ? 65536 : desc[0];
  const bits = desc[2];
  const raw = item.LUTData as unknown;
  let data: ArrayLike<number>;
  if (Array.isArray(raw) && typeof raw[0] === 'number') data = raw as number[];
  else {
    const buf = Array.isArray(raw) ? raw[0] : raw;
    if (!(buf instanceof ArrayBuffer) && !ArrayBuffer.isView(buf)) throw unsupported(`${what}: LUTData is missing`);
    const bytes = ArrayBuffer.isView(buf)
      ? new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
      : new Uint8Array(buf as ArrayBuffer);
    const copy = bytes.slice(0, bytes.length - (bytes.length % 2));
    data = new Uint16Array(copy.buffer, 0, copy.length / 2);
  }
  if (data.length < entries)
    throw unsupported(`${what}: LUTData holds ${data.length} entries, the descriptor ${entries}`);
  if (!(bits >= 8 && bits <= 16)) throw unsupported(`${what}: ${bits} bits an entry (8 to 16 expected)`);
  return { entries, firstMapped: desc[1], bits, data };
}

function applyLut(lut: Lut, v: number): number {
  const i = Math.round(v) - lut.firstMapped;
  return lut.data[i <= 0 ? 0 : i >= lut.entries ? lut.entries - 1 : i];
}

/** The window of C.11.2.1.2 (LINEAR), C.11.2.1.3.2 (LINEAR_EXACT) or C.11.2.1.3.1 (SIGMOID), to 0..1. */
export function windowValue(x: number, center: number, width: number, fn: string): number {
  if (fn === 'SIGMOID') return 1 / (1 + Math.exp((-4 * (x - center)) / width));
  if (fn === 'LINEAR_EXACT') {
    const y = (x - center) / width + 0.5;
    return y <= 0 ? 0 : y >= 1 ? 1 : y;
  }
  // LINEAR: width >= 1, centred on center - 0.5.
  const c = center - 0.5;
  const w = width - 1;
  if (x <= c - w / 2) return 0;
  if (x > c + w / 2) return 1;
  return (x - c) / w + 0.5;
}

/** Modality values of a grey frame (Rescale, or the Modality LUT Sequence), and their possible range. */
function greyModality(
  ds: NaturalDataset,
  bytes: Uint8Array,
  f: PixelFormat,
): { values: Float32Array; lo: number; hi: number } {
  const signed = f.pixelRepresentation === 1;
  const storedLo = signed ? -(2 ** (f.bitsStored - 1)) : 0;
  const storedHi = signed ? 2 ** (f.bitsStored - 1) - 1 : 2 ** f.bitsStored - 1;
  const seq = ds.ModalityLUTSequence as Record<string, unknown>[] | undefined;
  const lut = lutOf(Array.isArray(seq) ? seq[0] : undefined, 'Modality LUT Sequence');
  if (lut) {
    const stored = storedValues(bytes, f);
    const values = new Float32Array(stored.length);
    for (let i = 0; i < stored.length; i++) values[i] = applyLut(lut, stored[i]);
    return { values, lo: 0, hi: 2 ** lut.bits - 1 };
  }
  const slope = rescaleValue(ds.RescaleSlope, 'RescaleSlope');
  const intercept = rescaleValue(ds.RescaleIntercept, 'RescaleIntercept');
  const values = modalityValues(bytes, f, slope, intercept, undefined, 0);
  const a = storedLo * slope + intercept;
  const b = storedHi * slope + intercept;
  return { values, lo: Math.min(a, b), hi: Math.max(a, b) };
}

/** The VOI transformation of a grey frame, in place, to 0..1 (or unchanged for `none`); what was applied. */
function applyVoi(
  ds: NaturalDataset,
  v: Float32Array,
  lo: number,
  hi: number,
  voi: VoiChoice,
  invert: boolean,
): string {
  if (voi === 'none') {
    if (invert) for (let i = 0; i < v.length; i++) v[i] = lo + hi - v[i];
    return invert ? 'none (MONOCHROME1 mirrored)' : 'none';
  }
  let map: (x: number) => number;
  let applied: string;
  if (voi === 'header') {
    const seq = ds.VOILUTSequence as Record<string, unknown>[] | undefined;
    const lut = lutOf(Array.isArray(seq) ? seq[0] : undefined, 'VOI LUT Sequence');
    const center = finite(ds.WindowCenter);
    const width = finite(ds.WindowWidth);
    const fn = String(ds.VOILUTFunction ?? 'LINEAR').trim() || 'LINEAR';
    if (lut) {
      const top = 2 ** lut.bits - 1;
      map = (x) => applyLut(lut, x) / top;
      applied = 'VOI LUT Sequence (header)';
    } else if (center !== undefined && width !== undefined && width >= (fn === 'LINEAR' ? 1 : Number.MIN_VALUE)) {
      if (!['LINEAR', 'LINEAR_EXACT', 'SIGMOID'].includes(fn))
        throw new AinodeError('PIXEL_MODULE_INVALID', `VOILUTFunction "${fn}" is not LINEAR, LINEAR_EXACT or SIGMOID`, {
          retryable: false,
        });
      map = (x) => windowValue(x, center, width, fn);
      applied = `window ${center}/${width}${fn === 'LINEAR' ? '' : ` ${fn}`} (header)`;
    } else {
      const span = hi - lo || 1;
      map = (x) => (x - lo) / span;
      applied = `stored range ${lo}..${hi} (no window in the header)`;
    }
  } else if (voi === 'minmax') {
    let mn = Infinity;
    let mx = -Infinity;
    for (let i = 0; i < v.length; i++) {
      if (v[i] < mn) mn = v[i];
      if (v[i] > mx) mx = v[i];
    }
    const span = mx - mn || 1;
    map = (x) => (x - mn) / span;
    applied = `minmax ${mn}..${mx}`;
  } else {
    const { center, width } = voi;
    map = (x) => windowValue(x, center, width, 'LINEAR');
    applied = `window ${center}/${width} (manifest)`;
  }
  for (let i = 0; i < v.length; i++) {
    const y = map(v[i]);
    v[i] = invert ? 1 - y : y;
  }
  return invert ? `${applied}, MONOCHROME1 inverted` : applied;
}

/** A colour frame's decoded bytes to RGB, channel after channel, 0..1. */
function colourToRgb(bytes: Uint8Array, f: PixelFormat, native: boolean): Float32Array {
  const n = f.rows * f.columns;
  const top = 2 ** f.bitsStored - 1;
  const pi = f.photometricInterpretation;
  const sample =
    f.bitsAllocated === 16
      ? (() => {
          const aligned = bytes.byteOffset % 2 === 0 ? bytes : bytes.slice();
          return new Uint16Array(aligned.buffer, aligned.byteOffset, Math.floor(aligned.byteLength / 2));
        })()
      : bytes;
  const mask = top;
  const out = new Float32Array(3 * n);
  const r = out.subarray(0, n);
  const g = out.subarray(n, 2 * n);
  const b = out.subarray(2 * n);
  if (pi === 'YBR_FULL_422' && native) {
    // Two pixels share one Cb and one Cr: Y0 Y1 Cb Cr (C.7.6.3.1.2); an odd last column keeps its pair's chroma.
    const half = 2 ** (f.bitsStored - 1);
    for (let row = 0; row < f.rows; row++)
      for (let col = 0; col < f.columns; col++) {
        const pairAt = 2 * (row * f.columns + (col & ~1));
        const y = sample[pairAt + (col & 1)] & mask;
        const cb = (sample[pairAt + 2] & mask) - half;
        const cr = (sample[pairAt + 3] & mask) - half;
        ybrPixel(row * f.columns + col, y, cb, cr, top, r, g, b);
      }
    return out;
  }
  const planar = native && f.planarConfiguration === 1;
  const at = (i: number, c: number): number => (planar ? sample[c * n + i] : sample[3 * i + c]) & mask;
  if (pi === 'YBR_FULL' || pi === 'YBR_FULL_422') {
    const half = 2 ** (f.bitsStored - 1);
    for (let i = 0; i < n; i++) ybrPixel(i, at(i, 0), at(i, 1) - half, at(i, 2) - half, top, r, g, b);
    return out;
  }
  // RGB, and YBR_ICT / YBR_RCT (JPEG 2000 decoded with its inverse component transform: RGB).
  for (let i = 0; i < n; i++) {
    r[i] = at(i, 0) / top;
    g[i] = at(i, 1) / top;
    b[i] = at(i, 2) / top;
  }
  return out;
}

/** YCbCr (full range, Cb/Cr centred on 0) to RGB 0..1, clamped (C.7.6.3.1.2). */
function ybrPixel(
  i: number,
  y: number,
  cb: number,
  cr: number,
  top: number,
  r: Float32Array,
  g: Float32Array,
  b: Float32Array,
): void {
  const clamp = (v: number): number => (v <= 0 ? 0 : v >= top ? 1 : v / top);
  r[i] = clamp(y + 1.402 * cr);
  g[i] = clamp(y - 0.344136 * cb - 0.714136 * cr);
  b[i] = clamp(y + 1.772 * cb);
}

/**
 * Frame `frameIndex` (0-based) of a 2D image, checked and decoded for a model (see above).
 * Compressed data needs `initCodecs()` to have been awaited.
 */
export function readPlanarImage(
  ds: NaturalDataset,
  transferSyntaxUid: string,
  frameIndex: number,
  options: PlanarOptions,
): PlanarImage {
  const f = pixelFormat(ds);
  const native = isNativeTransferSyntax(transferSyntaxUid);
  checkPixelModule(ds, f, transferSyntaxUid, options.maxFramePixels, true);
  if (!Number.isInteger(frameIndex) || frameIndex < 0 || frameIndex >= f.frames)
    throw new AinodeError('DICOM_ATTRIBUTE_MISSING', `frame ${frameIndex + 1} of ${f.frames} does not exist`, {
      retryable: false,
    });
  // Native YBR_FULL_422 is sliced at two samples a pixel; decoders give three.
  const sliced = native && f.photometricInterpretation === 'YBR_FULL_422' ? { ...f, samplesPerPixel: 2 } : f;
  const bytes = decodeFrame(ds, transferSyntaxUid, sliced, frameIndex);
  const { spacing, note } = pixelSpacingOf(ds);
  const base = {
    rows: f.rows,
    columns: f.columns,
    photometric: f.photometricInterpretation,
    frameNumber: frameIndex + 1,
    spacing,
    ...(note ? { spacingNote: note } : {}),
  };
  if (f.samplesPerPixel === 3) return { ...base, channels: 3, pixels: colourToRgb(bytes, f, native) };
  const { values, lo, hi } = greyModality(ds, bytes, f);
  const voiApplied = applyVoi(ds, values, lo, hi, options.voi, f.photometricInterpretation === 'MONOCHROME1');
  return { ...base, channels: 1, pixels: values, voiApplied };
}
