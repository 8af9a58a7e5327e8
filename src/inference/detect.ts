/**
 * Detection outputs in the two common export conventions, decoded to boxes on the source image:
 *  - boxes-scores-labels: a boxes tensor [N, 4] (or [1, N, 4]), scores [N] and optionally labels
 *    [N], as torchvision's and MONAI RetinaNet's exports give them;
 *  - yolo: one dense tensor [1, N, 4 + 1 + classes] (or transposed, [1, 4 + 1 + classes, N]),
 *    centre-size boxes, an objectness and per-class scores (score = objectness x class score).
 * Boxes below the score threshold are dropped, then non-maximum suppression per class keeps the
 * highest-scoring of overlapping boxes, at most `maxDetections`; each box is mapped back from the
 * model input to the source pixel grid through the fit transform and clipped to the image.
 */
import { AinodeError } from '../errors';
import { toSource, type FitTransform } from '../image/fit';
import type { ClassSpec, DetectionSpec } from './manifest';

/** A box in continuous image coordinates (x along columns, y along rows; pixel corners at integers). */
export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export interface Detection {
  box: Box;
  score: number;
  class: ClassSpec;
}

type Tensor = { data: Float32Array; dims: number[] };

function failed(message: string): AinodeError {
  return new AinodeError('MODEL_RUN_FAILED', message, { retryable: false });
}

function asBox(a: number, b: number, c: number, d: number, format: DetectionSpec['boxFormat']): Box {
  return format === 'xyxy'
    ? { x0: Math.min(a, c), y0: Math.min(b, d), x1: Math.max(a, c), y1: Math.max(b, d) }
    : { x0: a - c / 2, y0: b - d / 2, x1: a + c / 2, y1: b + d / 2 };
}

/** Intersection over union of two boxes. */
export function iou(a: Box, b: Box): number {
  const w = Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0);
  const h = Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / ((a.x1 - a.x0) * (a.y1 - a.y0) + (b.x1 - b.x0) * (b.y1 - b.y0) - inter);
}

/** Greedy non-maximum suppression per class: highest score first, overlaps above `threshold` dropped. */
export function nonMaximumSuppression<T extends { box: Box; score: number; class: { index: number } }>(
  candidates: T[],
  threshold: number,
  max: number,
): T[] {
  const sorted = [...candidates].sort((a, b) => b.score - a.score);
  const kept: T[] = [];
  for (const c of sorted) {
    if (kept.length >= max) break;
    if (kept.some((k) => k.class.index === c.class.index && iou(k.box, c.box) > threshold)) continue;
    kept.push(c);
  }
  return kept;
}

/** Candidates in model input coordinates, before thresholding. */
function candidates(
  outputs: Map<string, Tensor>,
  spec: DetectionSpec,
  classes: ClassSpec[],
): { box: Box; score: number; class: ClassSpec }[] {
  const byIndex = new Map(classes.map((c) => [c.index, c]));
  const get = (name: string | undefined, what: string): Tensor => {
    const t = name ? outputs.get(name) : undefined;
    if (!t) throw failed(`the detector has no ${what} output${name ? ` named ${name}` : ''}`);
    return t;
  };
  const out: { box: Box; score: number; class: ClassSpec }[] = [];
  if (spec.format === 'boxes-scores-labels') {
    const boxes = get(spec.outputs.boxes, 'boxes');
    const scores = get(spec.outputs.scores, 'scores');
    const labels = spec.outputs.labels ? get(spec.outputs.labels, 'labels') : undefined;
    const n = scores.data.length;
    if (boxes.data.length !== 4 * n)
      throw failed(`the detector gave ${boxes.data.length} box values for ${n} scores (4 a box)`);
    if (labels && labels.data.length !== n)
      throw failed(`the detector gave ${labels.data.length} labels and ${n} scores`);
    for (let i = 0; i < n; i++) {
      const index = labels ? Math.round(labels.data[i]) : classes[0].index;
      const cls = byIndex.get(index);
      if (!cls) continue; // a label the manifest does not declare is not reported
      const b = boxes.data.subarray(4 * i, 4 * i + 4);
      out.push({ box: asBox(b[0], b[1], b[2], b[3], spec.boxFormat), score: scores.data[i], class: cls });
    }
    return out;
  }
  const pred = get(spec.outputs.predictions, 'predictions');
  const needed = 5 + Math.max(...classes.map((c) => c.index)) + 1;
  const dims = pred.dims.length === 3 && pred.dims[0] === 1 ? pred.dims.slice(1) : pred.dims;
  // [N, 5 + classes] or its transpose: the width is the dimension that fits the classes; where
  // both do, the smaller one (a head has more candidates than values a candidate).
  const fits = (d: number): boolean => d >= needed;
  if (dims.length !== 2 || (!fits(dims[0]) && !fits(dims[1])))
    throw failed(
      `the detector's predictions are ${pred.dims.join('x')}; a [1, N, 5 + classes] output with class index ${needed - 6} needs a width of at least ${needed}`,
    );
  const transposed = !fits(dims[1]) || (fits(dims[0]) && dims[0] < dims[1]); // [width, N]
  const width = transposed ? dims[0] : dims[1];
  const n = transposed ? dims[1] : dims[0];
  const at = (i: number, k: number): number => (transposed ? pred.data[k * n + i] : pred.data[i * width + k]);
  for (let i = 0; i < n; i++) {
    const objectness = at(i, 4);
    for (const cls of classes) {
      const score = objectness * at(i, 5 + cls.index);
      if (score <= 0) continue;
      out.push({ box: asBox(at(i, 0), at(i, 1), at(i, 2), at(i, 3), spec.boxFormat), score, class: cls });
    }
  }
  return out;
}

/** The detections of one image on its source pixel grid: thresholded, suppressed, mapped back, clipped. */
export function decodeDetections(
  outputs: Map<string, Tensor>,
  spec: DetectionSpec,
  classes: ClassSpec[],
  transform: FitTransform,
): Detection[] {
  const all = candidates(outputs, spec, classes).filter(
    (c) => Number.isFinite(c.score) && c.score >= spec.scoreThreshold,
  );
  for (const c of all)
    if (![c.box.x0, c.box.y0, c.box.x1, c.box.y1].every(Number.isFinite))
      throw failed('the detector gave a box that is not finite');
  const kept = nonMaximumSuppression(all, spec.iou, spec.maxDetections);
  const clip = (v: number, hi: number): number => (v < 0 ? 0 : v > hi ? hi : v);
  return kept
    .map((k) => {
      const [x0, y0] = toSource(transform, k.box.x0, k.box.y0);
      const [x1, y1] = toSource(transform, k.box.x1, k.box.y1);
      const box = {
        x0: clip(x0, transform.sourceColumns),
        y0: clip(y0, transform.sourceRows),
        x1: clip(x1, transform.sourceColumns),
        y1: clip(y1, transform.sourceRows),
      };
      return { ...k, box };
    })
    .filter((d) => d.box.x1 > d.box.x0 && d.box.y1 > d.box.y0); // wholly in the letterbox padding: no finding
}

/** A box in a volume's continuous voxel coordinates (x columns, y rows, z slices; corners at integers). */
export interface Box3 {
  x0: number;
  y0: number;
  z0: number;
  x1: number;
  y1: number;
  z1: number;
}

/** A finding in a volume: its box on the model grid, its centre in patient coordinates (mm) and its extent (mm). */
export interface Detection3D {
  box: Box3;
  centreMm: [number, number, number];
  sizeMm: [number, number, number];
  score: number;
  class: ClassSpec;
}

export function iou3(a: Box3, b: Box3): number {
  const w = Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0);
  const h = Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0);
  const d = Math.min(a.z1, b.z1) - Math.max(a.z0, b.z0);
  if (w <= 0 || h <= 0 || d <= 0) return 0;
  const inter = w * h * d;
  const vol = (x: Box3): number => (x.x1 - x.x0) * (x.y1 - x.y0) * (x.z1 - x.z0);
  return inter / (vol(a) + vol(b) - inter);
}

/**
 * The detections of a volume model (boxes [N, 6] as x0 y0 z0 x1 y1 z1, or centre and size with
 * `cxcywh`, in the model grid's continuous voxel coordinates; scores [N]; optional labels [N]):
 * thresholded, suppressed per class in 3D, each centre placed in patient coordinates through the
 * model grid's geometry (a voxel's centre is at index + 0.5).
 */
export function decodeVolumeDetections(
  outputs: Map<string, Tensor>,
  spec: DetectionSpec,
  classes: ClassSpec[],
  grid: {
    origin: [number, number, number];
    rowDirection: [number, number, number];
    columnDirection: [number, number, number];
    sliceDirection: [number, number, number];
    spacing: [number, number, number];
  },
): Detection3D[] {
  if (spec.format !== 'boxes-scores-labels')
    throw failed('a volume detector writes boxes, scores and labels (the yolo format is for 2D images)');
  const byIndex = new Map(classes.map((c) => [c.index, c]));
  const boxes = outputs.get(spec.outputs.boxes ?? '');
  const scores = outputs.get(spec.outputs.scores ?? '');
  const labels = spec.outputs.labels ? outputs.get(spec.outputs.labels) : undefined;
  if (!boxes || !scores) throw failed('the detector has no boxes or scores output');
  const n = scores.data.length;
  if (boxes.data.length !== 6 * n)
    throw failed(`the detector gave ${boxes.data.length} box values for ${n} scores (6 a box)`);
  const all: { box: Box3; score: number; class: ClassSpec }[] = [];
  for (let i = 0; i < n; i++) {
    const score = scores.data[i];
    if (!(score >= spec.scoreThreshold)) continue;
    const cls = byIndex.get(labels ? Math.round(labels.data[i]) : classes[0].index);
    if (!cls) continue;
    const b = Array.from(boxes.data.subarray(6 * i, 6 * i + 6));
    if (!b.every(Number.isFinite)) throw failed('the detector gave a box that is not finite');
    const box: Box3 =
      spec.boxFormat === 'cxcywh'
        ? {
            x0: b[0] - b[3] / 2,
            y0: b[1] - b[4] / 2,
            z0: b[2] - b[5] / 2,
            x1: b[0] + b[3] / 2,
            y1: b[1] + b[4] / 2,
            z1: b[2] + b[5] / 2,
          }
        : { x0: b[0], y0: b[1], z0: b[2], x1: b[3], y1: b[4], z1: b[5] };
    all.push({ box, score, class: cls });
  }
  all.sort((a, b) => b.score - a.score);
  const kept: typeof all = [];
  for (const c of all) {
    if (kept.length >= spec.maxDetections) break;
    if (kept.some((k) => k.class.index === c.class.index && iou3(k.box, c.box) > spec.iou)) continue;
    kept.push(c);
  }
  const [sx, sy, sz] = grid.spacing;
  return kept.map((k) => {
    // Continuous voxel coordinates: the centre of voxel i is at i + 0.5.
    const i = (k.box.x0 + k.box.x1) / 2 - 0.5;
    const j = (k.box.y0 + k.box.y1) / 2 - 0.5;
    const s = (k.box.z0 + k.box.z1) / 2 - 0.5;
    const centreMm = [0, 1, 2].map(
      (a) =>
        grid.origin[a] +
        grid.rowDirection[a] * i * sx +
        grid.columnDirection[a] * j * sy +
        grid.sliceDirection[a] * s * sz,
    ) as [number, number, number];
    return {
      ...k,
      centreMm,
      sizeMm: [(k.box.x1 - k.box.x0) * sx, (k.box.y1 - k.box.y0) * sy, (k.box.z1 - k.box.z0) * sz],
    };
  });
}
