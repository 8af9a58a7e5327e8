/**
 * A 2D image fitted to a model's input size, and the transform that maps every model coordinate
 * back to the source pixel grid exactly.
 *
 * Coordinates are continuous image coordinates as DICOM's SCOORD uses them (PS3.3 C.18.6.1.1):
 * x along the columns, y along the rows, the top left corner of the top left pixel at (0, 0) and
 * its centre at (0.5, 0.5). The transform is `model = source * scale + offset` per axis; `stretch`
 * scales each axis to fill the input, `letterbox` keeps the aspect ratio with one scale and
 * centres the image, the rest filled with `pad`.
 *
 * Resampling is separable, with a triangle (linear) kernel widened by the reduction factor when
 * the image shrinks (as antialiased bilinear resizing in torchvision and PIL does): a 2000-pixel
 * radiograph reduced to 256 averages the pixels it covers instead of sampling one in eight.
 */
export type FitMode = 'letterbox' | 'stretch';

export interface FitTransform {
  sourceRows: number;
  sourceColumns: number;
  rows: number;
  columns: number;
  scaleX: number;
  scaleY: number;
  offsetX: number;
  offsetY: number;
}

export function fitTransform(
  source: { rows: number; columns: number },
  target: { rows: number; columns: number },
  mode: FitMode,
): FitTransform {
  let scaleX = target.columns / source.columns;
  let scaleY = target.rows / source.rows;
  let offsetX = 0;
  let offsetY = 0;
  if (mode === 'letterbox') {
    const s = Math.min(scaleX, scaleY);
    scaleX = s;
    scaleY = s;
    offsetX = (target.columns - source.columns * s) / 2;
    offsetY = (target.rows - source.rows * s) / 2;
  }
  return {
    sourceRows: source.rows,
    sourceColumns: source.columns,
    rows: target.rows,
    columns: target.columns,
    scaleX,
    scaleY,
    offsetX,
    offsetY,
  };
}

/** A point in model input coordinates to source image coordinates. */
export function toSource(t: FitTransform, x: number, y: number): [number, number] {
  return [(x - t.offsetX) / t.scaleX, (y - t.offsetY) / t.scaleY];
}

/** A point in source image coordinates to model input coordinates. */
export function toModel(t: FitTransform, x: number, y: number): [number, number] {
  return [x * t.scaleX + t.offsetX, y * t.scaleY + t.offsetY];
}

interface Taps {
  /** First source index of each output sample. */
  start: Int32Array;
  /** Number of taps of each output sample. */
  count: Int32Array;
  /** Weights, `maxTaps` per output sample. */
  weights: Float32Array;
  maxTaps: number;
  /** Output samples outside the source (letterbox padding). */
  outside: Uint8Array;
}

/** Kernel taps of one axis: output sample j's centre maps to source (j + 0.5 - offset) / scale. */
function taps(sourceLength: number, outLength: number, scale: number, offset: number): Taps {
  const support = scale < 1 ? 1 / scale : 1; // kernel radius in source pixels
  const maxTaps = Math.ceil(2 * support) + 2;
  const start = new Int32Array(outLength);
  const count = new Int32Array(outLength);
  const weights = new Float32Array(outLength * maxTaps);
  const outside = new Uint8Array(outLength);
  for (let j = 0; j < outLength; j++) {
    const centre = (j + 0.5 - offset) / scale; // continuous source coordinate
    if (centre < 0 || centre > sourceLength) {
      outside[j] = 1;
      continue;
    }
    const lo = Math.max(0, Math.floor(centre - support - 0.5));
    const hi = Math.min(sourceLength - 1, Math.ceil(centre + support - 0.5));
    let sum = 0;
    let k = 0;
    for (let i = lo; i <= hi && k < maxTaps; i++, k++) {
      const d = Math.abs(i + 0.5 - centre) / support;
      const w = d < 1 ? 1 - d : 0;
      weights[j * maxTaps + k] = w;
      sum += w;
    }
    if (sum === 0) {
      // Between samples at the very edge: the nearest pixel.
      const nearest = Math.min(sourceLength - 1, Math.max(0, Math.floor(centre)));
      start[j] = nearest;
      count[j] = 1;
      weights[j * maxTaps] = 1;
      continue;
    }
    for (let q = 0; q < k; q++) weights[j * maxTaps + q] /= sum;
    start[j] = lo;
    count[j] = k;
  }
  return { start, count, weights, maxTaps, outside };
}

/**
 * `channels` planes of `rows` x `columns` (channel after channel) resampled onto the transform's
 * target grid; samples outside the source get `pad`.
 */
export function resample(
  pixels: Float32Array,
  channels: number,
  t: FitTransform,
  pad = 0,
  out = new Float32Array(channels * t.rows * t.columns),
): Float32Array {
  const { sourceRows: sr, sourceColumns: sc, rows, columns } = t;
  const tx = taps(sc, columns, t.scaleX, t.offsetX);
  const ty = taps(sr, rows, t.scaleY, t.offsetY);
  const across = new Float32Array(sr * columns); // horizontal pass of one channel
  for (let c = 0; c < channels; c++) {
    const plane = pixels.subarray(c * sr * sc, (c + 1) * sr * sc);
    for (let y = 0; y < sr; y++) {
      const row = y * sc;
      for (let j = 0; j < columns; j++) {
        if (tx.outside[j]) continue;
        let v = 0;
        const base = j * tx.maxTaps;
        const s = row + tx.start[j];
        for (let k = 0; k < tx.count[j]; k++) v += plane[s + k] * tx.weights[base + k];
        across[y * columns + j] = v;
      }
    }
    const dst = out.subarray(c * rows * columns, (c + 1) * rows * columns);
    for (let i = 0; i < rows; i++) {
      const base = i * ty.maxTaps;
      for (let j = 0; j < columns; j++) {
        if (ty.outside[i] || tx.outside[j]) {
          dst[i * columns + j] = pad;
          continue;
        }
        let v = 0;
        for (let k = 0; k < ty.count[i]; k++) v += across[(ty.start[i] + k) * columns + j] * ty.weights[base + k];
        dst[i * columns + j] = v;
      }
    }
  }
  return out;
}
