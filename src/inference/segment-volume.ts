/**
 * A segmentation model on one source volume, driven by its manifest:
 * source grid -> model grid (reorient/resample) -> intensities (clip, normalise) -> model
 * (whole / per slice / sliding window) -> labels (activation, custom step, components, holes)
 * -> labels back on the source grid (nearest neighbour), so SEG frames line up with the source.
 */
import { AinodeError } from '../errors';
import { resample, resampleLabels, sameGrid, targetGrid, type ValueRange } from '../volume/resample';
import type { ScalarVolume, VolumeGeometry } from '../contracts/volume';
import { LUNG_LABEL_VALUES, splitLungs } from './ct-lung/postprocess';
import type { Normalize, Preprocess } from './manifest';
import type { ModelPackage } from './model-package';
import { fillHoles, keepLargestComponent, toLabels } from './postprocess';
import { runModel, type ModelOutput } from './runner';
import { collectGarbage } from '../observability/memory';
import type { LoadedSession } from './session';

export interface SegmentationOutcome {
  /** Manifest label values on the source grid. */
  labels: Uint8Array;
  modelGrid: VolumeGeometry;
  timingsMs: { preprocess: number; inference: number; postprocess: number };
  note?: string;
  /**
   * The model's input when it was an array of its own (resampled or transformed intensities):
   * nothing reads it after the model run, so the caller may keep its memory for the next study
   * (VolumeBuilder.keep). Absent when the model read the source intensities themselves.
   */
  spentInput?: Float32Array;
}

/**
 * The model input, [channels, D, H, W]: one intensity transform per declared channel. With no
 * transform declared the input is `voxels` itself (the runtime only reads its input).
 */
export function prepareIntensities(
  voxels: Float32Array,
  spec: Preprocess,
  owned = false,
  range?: ValueRange,
): Float32Array {
  const channels = spec.channels ?? [{ clip: spec.clip, normalize: spec.normalize }];
  if (channels.length === 1 && !channels[0].clip && channels[0].normalize.method === 'none') return voxels;
  if (channels.length === 1) return transformChannel(owned ? voxels : voxels.slice(), channels[0], range);
  const out = new Float32Array(channels.length * voxels.length);
  channels.forEach((ch, i) => out.set(transformChannel(voxels.slice(), ch), i * voxels.length));
  return out;
}

// Plain indexed loops over typed arrays: Float32Array.from and for...of go through the iterator
// protocol and were most of the preprocessing time on a 256^3 volume.
/**
 * Transforms `x` in place (callers pass a copy they own). `range`, the lowest and highest value of
 * `x` where already known, spares min-max scaling its own pass (clipping is monotone, so the
 * clipped range is the range clipped).
 */
export function transformChannel(
  x: Float32Array,
  spec: { clip?: [number, number]; normalize: Normalize },
  range?: ValueRange,
): Float32Array {
  const len = x.length;
  const clip = (v: number): number =>
    spec.clip ? (v < spec.clip[0] ? spec.clip[0] : v > spec.clip[1] ? spec.clip[1] : v) : v;
  if (spec.clip) {
    const [a, b] = spec.clip;
    for (let i = 0; i < len; i++) {
      const v = x[i];
      x[i] = v < a ? a : v > b ? b : v;
    }
  }
  const n = spec.normalize;
  if (n.method === 'minmax') {
    let lo = Infinity,
      hi = -Infinity;
    if (range && len > 0) ((lo = clip(range.min)), (hi = clip(range.max)));
    else
      for (let i = 0; i < len; i++) {
        const v = x[i];
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    const width = hi - lo || 1;
    for (let i = 0; i < len; i++) x[i] = (x[i] - lo) / width;
  } else if (n.method === 'zscore') {
    let sum = 0,
      sq = 0;
    for (let i = 0; i < len; i++) {
      const v = x[i];
      sum += v;
      sq += v * v;
    }
    const mean = sum / x.length;
    const sd = Math.sqrt(Math.max(sq / x.length - mean * mean, 1e-12));
    for (let i = 0; i < x.length; i++) x[i] = (x[i] - mean) / sd;
  } else if (n.method === 'fixed') {
    for (let i = 0; i < x.length; i++) x[i] = (x[i] - n.offset) * n.scale;
  }
  return x;
}

/**
 * The volume on the model's grid (the source grid itself when nothing is declared), with the
 * lowest and highest value where reorientation found them on the way.
 */
export function toModelGrid(
  volume: ScalarVolume,
  spec: Preprocess,
): { grid: VolumeGeometry; voxels: Float32Array; range?: ValueRange } {
  if (!spec.reorient && !spec.resample) return { grid: volume.geometry, voxels: volume.voxels };
  const grid = targetGrid(volume.geometry, spec.reorient, spec.resample?.shape, spec.resample?.spacingMm);
  if (sameGrid(grid, volume.geometry)) return { grid, voxels: volume.voxels };
  const minimum = (): number => {
    let min = Infinity;
    const src = volume.voxels;
    for (let i = 0; i < src.length; i++) if (src[i] < min) min = src[i];
    return min;
  };
  const range: ValueRange = { min: Number.NaN, max: Number.NaN };
  const voxels = resample(volume.voxels, volume.geometry, grid, 'linear', minimum, range);
  return { grid, voxels, ...(Number.isNaN(range.min) ? {} : { range }) };
}

/**
 * Model grid, intensities and the model run; the input copy is out of reach when this returns.
 * With `releaseSource`, the source intensities are dropped (volume.voxels becomes empty) once the
 * model input exists as an array of its own, so they are not held while the model runs.
 */
async function inferOnModelGrid(
  pkg: ModelPackage,
  loaded: LoadedSession,
  volume: ScalarVolume,
  releaseSource = false,
): Promise<{
  grid: VolumeGeometry;
  out: ModelOutput | undefined;
  preprocess: number;
  inference: number;
  spentInput?: Float32Array;
}> {
  const m = pkg.manifest;
  let t = performance.now();
  const { grid, voxels, range } = toModelGrid(volume, m.preprocess);
  // A resampled volume is a fresh array: transform it in place instead of copying it again.
  const input = prepareIntensities(voxels, m.preprocess, voxels !== volume.voxels, range);
  if (releaseSource) {
    if (input !== volume.voxels) volume.voxels = new Float32Array(0);
    // Returns them (when the input is a copy), any preprocessing intermediate and the caller's
    // earlier garbage (the retrieved instances) before the model runs.
    collectGarbage();
  }
  const dims: [number, number, number] = [grid.slices, grid.rows, grid.columns];
  const preprocess = performance.now() - t;
  t = performance.now();
  const out = await runModel(pkg, loaded, input, dims);
  // The input is either the source array itself or a fresh array of its own (see toModelGrid and
  // prepareIntensities); only the latter is handed back as spent.
  return {
    grid,
    out,
    preprocess,
    inference: performance.now() - t,
    spentInput: input === volume.voxels ? undefined : input,
  };
}

/** The label values each custom post-processing step can write. */
const CUSTOM_STEP_LABELS: Record<NonNullable<ModelPackage['manifest']['postprocess']['custom']>, readonly number[]> = {
  'ct-lung-left-right': LUNG_LABEL_VALUES,
};

/**
 * Whether post-processing can leave label values that are not declared segments: argmax yields
 * 0..channels-1, sigmoid 0..channels and a custom step the values it names, so with every one of
 * those declared it cannot; a label map taken as is ('none') can hold anything.
 */
export function undeclaredLabelsPossible(m: ModelPackage['manifest']): boolean {
  const declared = new Set(m.segments.map((s) => s.label));
  if (m.postprocess.custom) return !CUSTOM_STEP_LABELS[m.postprocess.custom].every((l) => declared.has(l));
  const a = m.postprocess.activation;
  if (a !== 'argmax' && a !== 'sigmoid') return true;
  const highest = a === 'argmax' ? m.output.channels - 1 : m.output.channels;
  for (let l = 1; l <= highest; l++) if (!declared.has(l)) return true;
  return false;
}

/**
 * `options.releaseSource`: the caller will not read the source intensities again (the manifest
 * measures volumes only), so they are dropped before the model runs (see inferOnModelGrid).
 */
export async function segmentVolume(
  pkg: ModelPackage,
  loaded: LoadedSession,
  volume: ScalarVolume,
  options: { releaseSource?: boolean } = {},
): Promise<SegmentationOutcome> {
  const m = pkg.manifest;
  const run = await inferOnModelGrid(pkg, loaded, volume, options.releaseSource);
  const { grid, preprocess, inference } = run;
  // No collection here: the model's input and the runtime's intermediates are freed with the rest
  // once the job is reported; the worker's peak is the model run, which has passed (measured: a
  // collection here cost 25 ms of every brain MRI and lowered no peak).

  const t = performance.now();
  const nvox = grid.columns * grid.rows * grid.slices;
  let labels: Uint8Array;
  let note: string | undefined;
  // The model output is dropped as soon as it has become a label map (it can be 3 x 16.7 M floats).
  let out: ModelOutput | undefined = run.out!;
  run.out = undefined;
  if (m.postprocess.custom === 'ct-lung-left-right') {
    const mask = toLabels(out.data, out.channels, nvox, { activation: 'none' });
    // eslint-disable-next-line no-useless-assignment -- drops the reference so the output can be collected
    out = undefined;
    const lungs = splitLungs(mask, grid);
    labels = lungs.labels;
    note = `${lungs.method}${lungs.erosions ? ` after ${lungs.erosions} erosions` : ''}, ${lungs.airwayVoxels} airway voxels removed`;
  } else {
    labels = toLabels(out.data, out.channels, nvox, m.postprocess);
    // eslint-disable-next-line no-useless-assignment -- drops the reference so the output can be collected
    out = undefined;
  }
  const cdims: [number, number, number] = [grid.columns, grid.rows, grid.slices];
  for (const s of m.segments) {
    if (m.postprocess.largestComponent) keepLargestComponent(labels, s.label, cdims);
    if (m.postprocess.fillHoles) fillHoles(labels, s.label, cdims);
  }
  if (!sameGrid(grid, volume.geometry)) labels = resampleLabels(labels, grid, volume.geometry);
  const known = new Uint8Array(256);
  for (const s of m.segments) known[s.label] = 1;
  // Values the manifest does not name become background (a pass skipped when none can occur).
  if (undeclaredLabelsPossible(m)) for (let v = 0; v < labels.length; v++) if (!known[labels[v]]) labels[v] = 0;
  const postprocess = performance.now() - t;
  let any = false;
  for (let v = 0; v < labels.length && !any; v++) any = labels[v] !== 0;
  if (!any)
    throw new AinodeError('SEGMENTATION_EMPTY', `${m.id}: the model found none of its segments in this series`, {
      retryable: false,
    });
  return {
    labels,
    modelGrid: grid,
    timingsMs: { preprocess, inference, postprocess },
    note,
    spentInput: run.spentInput,
  };
}
