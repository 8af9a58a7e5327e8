/**
 * CT lung model, stage 2 (TypeScript): from the graph's air mask to a right and a left lung.
 *  1. 3D connected components of the air mask.
 *  2. Drop components that touch the in-plane border (air outside the body) and small ones
 *     (bowel gas, noise): below MIN_LUNG_FRACTION of the largest candidate.
 *  3. If the two largest remaining components are comparable in size, they are the two lungs.
 *     Otherwise the lungs are joined through the trachea and main bronchi in one component:
 *     erode it in-plane until it falls apart into two comparable parts, then grow those parts
 *     back through the original component (nearest seed wins), which splits the airways near
 *     the carina. This works in the component's bounding box, and the e-th erosion is read off
 *     one in-plane distance map (depth > e) instead of eroding e times.
 *  4. Right/left by the centroid's patient x (LPS: x grows towards the patient's left).
 *  5. The trachea and main bronchi are taken out: from the most superior slices down, small
 *     regions near the midline between the lungs are followed slice by slice (each overlapping
 *     the one above) until they open into lung (a cross-section larger than an airway's).
 */
import { AinodeError } from '../../errors';
import { growSeeds, inPlaneDepth, labelComponents } from '../../volume/components';
import { voxelToPatient, type VolumeGeometry } from '../../volume/volume';

/** Airway tracking: the trachea starts within this distance of the midline (mm)... */
const AIRWAY_START_MAX_OFFSET_MM = 25;
/** ...in the top slices of the lungs (mm below the most superior lung voxel)... */
const AIRWAY_START_DEPTH_MM = 30;
/** ...and an airway cross-section is smaller than this (mm^2; the trachea is about 2-4 cm^2). */
const AIRWAY_MAX_AREA_MM2 = 700;
/** Main bronchi stay within this distance of the midline (mm) before they enter the lungs. */
const AIRWAY_MAX_OFFSET_MM = 70;

/** Components smaller than this fraction of the largest are not lung. */
const MIN_LUNG_FRACTION = 0.25;
const MAX_SPLIT_EROSIONS = 30;
/** The smallest plausible single-lung volume (mL); below it the model reports no lungs. */
const MIN_LUNG_ML = 100;

export interface LungLabels {
  /** 0 background, 1 right lung, 2 left lung; same layout as the volume. */
  labels: Uint8Array;
  /** How the split was found, for logs. */
  method: 'separate-components' | 'eroded-split';
  erosions: number;
  /** Voxels of trachea and main bronchi taken out of the lungs. */
  airwayVoxels: number;
}

type Dims = { columns: number; rows: number; slices: number };

function twoLargest(mask: Uint8Array, g: Dims, scratch?: { labels: Int32Array }): { labels: Int32Array; a: number; b: number; sizeA: number; sizeB: number } {
  const { labels, components } = labelComponents(mask, g.columns, g.rows, g.slices, scratch);
  const inside = components.filter((c) => !c.touchesInPlaneBorder).sort((x, y) => y.size - x.size);
  return { labels, a: inside[0]?.label ?? 0, b: inside[1]?.label ?? 0, sizeA: inside[0]?.size ?? 0, sizeB: inside[1]?.size ?? 0 };
}

/** Component a becomes seed 1, component b seed 2, everything else 0. */
function keepTwo(labels: Int32Array, a: number, b: number): Uint8Array {
  const out = new Uint8Array(labels.length);
  for (let p = 0; p < labels.length; p++) {
    const l = labels[p];
    if (l === a) out[p] = 1;
    else if (l === b) out[p] = 2;
  }
  return out;
}

/**
 * Splits component `a` of `labels` into two comparable parts by in-plane erosion and grows them
 * back through it. Works on the component's bounding box with a one-voxel empty margin in-plane,
 * so erosion and "touches the border" behave as on the whole volume.
 */
function erodedSplit(labels: Int32Array, a: number, g: VolumeGeometry): { seeds: Uint8Array; erosions: number } {
  const { columns, rows, slices } = g;
  const plane = columns * rows;
  let i0 = columns, i1 = -1, j0 = rows, j1 = -1, k0 = slices, k1 = -1;
  for (let k = 0, p = 0; k < slices; k++)
    for (let j = 0; j < rows; j++)
      for (let i = 0; i < columns; i++, p++)
        if (labels[p] === a) {
          if (i < i0) i0 = i;
          if (i > i1) i1 = i;
          if (j < j0) j0 = j;
          if (j > j1) j1 = j;
          if (k < k0) k0 = k;
          if (k > k1) k1 = k;
        }
  // Component `a` does not touch the in-plane border, so a one-voxel margin fits inside the image.
  i0--, j0--, i1++, j1++;
  const box: Dims = { columns: i1 - i0 + 1, rows: j1 - j0 + 1, slices: k1 - k0 + 1 };
  const n = box.columns * box.rows * box.slices;
  const joined = new Uint8Array(n);
  for (let k = 0, q = 0; k < box.slices; k++)
    for (let j = 0; j < box.rows; j++) {
      const row = (k + k0) * plane + (j + j0) * columns + i0;
      for (let i = 0; i < box.columns; i++, q++) if (labels[row + i] === a) joined[q] = 1;
    }
  const depth = inPlaneDepth(joined, box.columns, box.rows, box.slices);
  const scratch = { labels: new Int32Array(n) };
  const eroded = new Uint8Array(n);
  for (let erosions = 1; erosions <= MAX_SPLIT_EROSIONS; erosions++) {
    for (let q = 0; q < n; q++) eroded[q] = depth[q] > erosions ? 1 : 0;
    const parts = twoLargest(eroded, box, scratch);
    if (parts.sizeA === 0) break;
    if (parts.sizeB >= MIN_LUNG_FRACTION * parts.sizeA) {
      const grown = growSeeds(keepTwo(parts.labels, parts.a, parts.b), joined, box.columns, box.rows, box.slices);
      const seeds = new Uint8Array(labels.length);
      for (let k = 0, q = 0; k < box.slices; k++)
        for (let j = 0; j < box.rows; j++) {
          const row = (k + k0) * plane + (j + j0) * columns + i0;
          for (let i = 0; i < box.columns; i++, q++) if (grown[q]) seeds[row + i] = grown[q];
        }
      return { seeds, erosions };
    }
  }
  throw new AinodeError('SEGMENTATION_EMPTY', 'the air region could not be split into two lungs', { retryable: false });
}

/** Two seeds (1, 2) for the lungs; the full-volume component labels are dropped on return. */
function lungSeeds(airMask: Uint8Array, g: VolumeGeometry): { seeds: Uint8Array; method: LungLabels['method']; erosions: number } {
  const mlPerVoxel = (g.spacing[0] * g.spacing[1] * g.spacing[2]) / 1000;
  const first = twoLargest(airMask, g);
  if (first.sizeA * mlPerVoxel < MIN_LUNG_ML) {
    throw new AinodeError('SEGMENTATION_EMPTY', 'no air region inside the body large enough to be a lung (is this a chest CT?)', { retryable: false });
  }
  if (first.sizeB >= MIN_LUNG_FRACTION * first.sizeA) return { seeds: keepTwo(first.labels, first.a, first.b), method: 'separate-components', erosions: 0 };
  const split = erodedSplit(first.labels, first.a, g);
  return { seeds: split.seeds, method: 'eroded-split', erosions: split.erosions };
}

export function splitLungs(airMask: Uint8Array, g: VolumeGeometry): LungLabels {
  const { seeds, method, erosions } = lungSeeds(airMask, g);
  // Which seed is the patient's right lung? Compare centroids along patient x.
  const sums = [0, 0, 0].map(() => ({ n: 0, i: 0, j: 0, k: 0 }));
  for (let k = 0, p = 0; k < g.slices; k++)
    for (let j = 0; j < g.rows; j++)
      for (let i = 0; i < g.columns; i++, p++) {
        const l = seeds[p];
        if (!l) continue;
        const s = sums[l];
        s.n++, (s.i += i), (s.j += j), (s.k += k);
      }
  const x = (l: number): number => voxelToPatient(g, sums[l].i / sums[l].n, sums[l].j / sums[l].n, sums[l].k / sums[l].n)[0];
  const oneIsRight = x(1) < x(2);
  // Seeds become labels in place: 1 right lung, 2 left lung.
  if (!oneIsRight) for (let p = 0; p < seeds.length; p++) if (seeds[p]) seeds[p] = 3 - seeds[p];
  const airwayVoxels = removeAirways(seeds, g, (x(1) + x(2)) / 2);
  return { labels: seeds, method, erosions, airwayVoxels };
}

/**
 * Clears the trachea and main bronchi from the lung labels (in place); returns how many voxels.
 * Slice by slice from the most superior lung slice down: 2D regions of lung label that are small
 * (an airway's cross-section) and either start near the midline in the top slices or overlap an
 * airway region of the slice above. A region larger than an airway ends that branch: the airway
 * has opened into lung, which stays.
 */
function removeAirways(labels: Uint8Array, g: VolumeGeometry, midlineX: number): number {
  const { columns, rows, slices } = g;
  const plane = columns * rows;
  const pixelMm2 = g.spacing[0] * g.spacing[1];
  const z = (k: number): number => voxelToPatient(g, 0, 0, k)[2];
  const down = z(slices - 1) < z(0); // k runs from head to feet
  const order = Array.from({ length: slices }, (_, n) => (down ? n : slices - 1 - n));
  const mask = new Uint8Array(plane);
  const scratch = { labels: new Int32Array(plane) };
  let previous = new Uint8Array(plane);
  let topZ: number | undefined;
  let removed = 0;
  for (const k of order) {
    const base = k * plane;
    let any = false;
    for (let p = 0; p < plane; p++) any = (mask[p] = labels[base + p] ? 1 : 0) === 1 || any;
    if (!any) {
      if (topZ !== undefined) break; // below the lungs
      continue;
    }
    topZ ??= z(k);
    const depthMm = Math.abs(topZ - z(k));
    const { labels: cc, components } = labelComponents(mask, columns, rows, 1, scratch);
    const airway = new Uint8Array(components.length + 1);
    let found = false;
    for (const c of components) {
      if (c.size * pixelMm2 >= AIRWAY_MAX_AREA_MM2) continue;
      const offset = Math.abs(voxelToPatient(g, c.sumI / c.size, c.sumJ / c.size, k)[0] - midlineX);
      const starts = depthMm <= AIRWAY_START_DEPTH_MM && offset <= AIRWAY_START_MAX_OFFSET_MM;
      if (starts || offset <= AIRWAY_MAX_OFFSET_MM) airway[c.label] = starts ? 1 : 2;
    }
    // Keep the continuing candidates only where they overlap the airway of the slice above.
    const overlaps = new Uint8Array(components.length + 1);
    for (let p = 0; p < plane; p++) if (previous[p] && cc[p] && airway[cc[p]] === 2) overlaps[cc[p]] = 1;
    const next = new Uint8Array(plane);
    for (let p = 0; p < plane; p++) {
      const l = cc[p];
      if (l && (airway[l] === 1 || (airway[l] === 2 && overlaps[l]))) {
        next[p] = 1;
        labels[base + p] = 0;
        removed++;
        found = true;
      }
    }
    previous = next;
    if (!found && depthMm > AIRWAY_START_DEPTH_MM) break; // the airway has ended in the lungs
  }
  return removed;
}
