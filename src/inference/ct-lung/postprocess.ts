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
import {
  componentRuns,
  growSeeds,
  inPlaneDepthOfRuns,
  labelComponents,
  labelRuns,
  paintRuns,
  type Box,
  type Component,
  type RunLabelling,
  type Runs,
} from '../../volume/components';
import { voxelToPatient, type VolumeGeometry } from '../../contracts/volume';

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

/** The label values the step writes (right lung, left lung). */
export const LUNG_LABEL_VALUES = [1, 2] as const;

export interface LungLabels {
  /** 0 background, 1 right lung, 2 left lung; same layout as the volume. */
  labels: Uint8Array;
  /** How the split was found, for logs. */
  method: 'separate-components' | 'eroded-split';
  erosions: number;
  /** Voxels of trachea and main bronchi taken out of the lungs. */
  airwayVoxels: number;
}

/** The two largest components that do not touch the in-plane border (air outside the body). */
function twoLargest(l: RunLabelling): { a?: Component; b?: Component } {
  const inside = l.components.filter((c) => !c.touchesInPlaneBorder).sort((x, y) => y.size - x.size);
  return { a: inside[0], b: inside[1] };
}

/** Patient x (LPS) of a centroid given as index sums over n voxels. */
function centroidX(g: VolumeGeometry, n: number, i: number, j: number, k: number): number {
  return voxelToPatient(g, i / n, j / n, k / n)[0];
}

/**
 * Splits component `a` into two comparable parts by in-plane erosion and grows them back through
 * it. Works on the component's bounding box with a one-voxel empty margin in-plane, so erosion
 * and "touches the border" behave as on the whole volume. Returns the box and the grown parts
 * (1, 2) on it.
 */
function erodedSplit(l: RunLabelling, a: Component): { box: Box; parts: Uint8Array; erosions: number } {
  // Component `a` does not touch the in-plane border, so a one-voxel margin fits inside the image.
  const box: Box = {
    i0: a.minI - 1,
    j0: a.minJ - 1,
    k0: a.minK,
    columns: a.maxI - a.minI + 3,
    rows: a.maxJ - a.minJ + 3,
    slices: a.maxK - a.minK + 1,
  };
  const n = box.columns * box.rows * box.slices;
  const joined = new Uint8Array(n);
  const only = new Uint8Array(l.components.length + 1);
  only[a.label] = 1;
  paintRuns(l, only, joined, box);
  // The e-th erosion is the voxels deeper than e: labelled straight off the distance map. Each
  // erosion lies inside the one before (the first inside the component): only its runs are scanned.
  let previous: Runs = componentRuns(l, a.label, box);
  // Only depths up to MAX_SPLIT_EROSIONS + 1 are ever compared: a byte map is enough.
  const depth = inPlaneDepthOfRuns(previous, MAX_SPLIT_EROSIONS + 1);
  for (let erosions = 1; erosions <= MAX_SPLIT_EROSIONS; erosions++) {
    const eroded = labelRuns(depth, box.columns, box.rows, box.slices, erosions, previous);
    previous = eroded;
    const { a: pa, b: pb } = twoLargest(eroded);
    if (!pa) break;
    if (pb && pb.size >= MIN_LUNG_FRACTION * pa.size) {
      const seeds = new Uint8Array(n);
      const value = new Uint8Array(eroded.components.length + 1);
      ((value[pa.label] = 1), (value[pb.label] = 2));
      paintRuns(eroded, value, seeds);
      return { box, parts: growSeeds(seeds, joined, box.columns, box.rows, box.slices, true), erosions };
    }
  }
  throw new AinodeError('SEGMENTATION_EMPTY', 'the air region could not be split into two lungs', { retryable: false });
}

/** In-plane bounds of the lung labels, for the airway step. */
type InPlane = { i0: number; i1: number; j0: number; j1: number };

/**
 * Right (1) and left (2) lung labels on the whole volume, before the airways are taken out, and
 * the patient x of the midline between the two lungs' centroids. Works from the air mask's runs:
 * no label volume of the whole series is written, only the two lungs.
 */
function lungLabels(
  airMask: Uint8Array,
  g: VolumeGeometry,
): { labels: Uint8Array; method: LungLabels['method']; erosions: number; midlineX: number; inPlane: InPlane } {
  const mlPerVoxel = (g.spacing[0] * g.spacing[1] * g.spacing[2]) / 1000;
  const air = labelRuns(airMask, g.columns, g.rows, g.slices);
  const { a, b } = twoLargest(air);
  if (!a || a.size * mlPerVoxel < MIN_LUNG_ML) {
    throw new AinodeError(
      'SEGMENTATION_EMPTY',
      'no air region inside the body large enough to be a lung (is this a chest CT?)',
      { retryable: false },
    );
  }
  // From here on the air mask is read through its runs only: its memory becomes the labels
  // (already resident, where a new array of the volume's size would be faulted in page by page).
  const labels = airMask.fill(0);
  if (b && b.size >= MIN_LUNG_FRACTION * a.size) {
    // Which is the patient's right lung? Compare centroids along patient x (LPS: x grows to the left).
    const xa = centroidX(g, a.size, a.sumI, a.sumJ, a.sumK);
    const xb = centroidX(g, b.size, b.sumI, b.sumJ, b.sumK);
    const value = new Uint8Array(air.components.length + 1);
    ((value[a.label] = xa < xb ? 1 : 2), (value[b.label] = xa < xb ? 2 : 1));
    paintRuns(air, value, labels);
    const inPlane = {
      i0: Math.min(a.minI, b.minI),
      i1: Math.max(a.maxI, b.maxI),
      j0: Math.min(a.minJ, b.minJ),
      j1: Math.max(a.maxJ, b.maxJ),
    };
    return { labels, method: 'separate-components', erosions: 0, midlineX: (xa + xb) / 2, inPlane };
  }
  const { box, parts, erosions } = erodedSplit(air, a);
  // The parts go into the volume as they are, summed for their centroids on the way; then they
  // are swapped if part 1 turns out to be the left lung.
  const sums = [0, 0, 0].map(() => ({ n: 0, i: 0, j: 0, k: 0 }));
  const plane = g.columns * g.rows;
  for (let k = 0, q = 0; k < box.slices; k++)
    for (let j = 0; j < box.rows; j++) {
      const row = (k + box.k0) * plane + (j + box.j0) * g.columns + box.i0;
      for (let i = 0; i < box.columns; i++, q++) {
        const l = parts[q];
        if (!l) continue;
        labels[row + i] = l;
        const s = sums[l];
        (s.n++, (s.i += i + box.i0), (s.j += j + box.j0), (s.k += k + box.k0));
      }
    }
  const x1 = centroidX(g, sums[1].n, sums[1].i, sums[1].j, sums[1].k);
  const x2 = centroidX(g, sums[2].n, sums[2].i, sums[2].j, sums[2].k);
  if (x1 >= x2)
    for (let k = 0, q = 0; k < box.slices; k++)
      for (let j = 0; j < box.rows; j++) {
        const row = (k + box.k0) * plane + (j + box.j0) * g.columns + box.i0;
        for (let i = 0; i < box.columns; i++, q++) if (parts[q]) labels[row + i] = 3 - parts[q];
      }
  const inPlane = { i0: a.minI, i1: a.maxI, j0: a.minJ, j1: a.maxJ };
  return { labels, method: 'eroded-split', erosions, midlineX: (x1 + x2) / 2, inPlane };
}

/**
 * The lungs in the air mask. Consumes `airMask`: the labels are written into its memory (the
 * returned `labels` is the same array), so the caller must not read the mask afterwards.
 */
export function splitLungs(airMask: Uint8Array, g: VolumeGeometry): LungLabels {
  const { labels, method, erosions, midlineX, inPlane } = lungLabels(airMask, g);
  const airwayVoxels = removeAirways(labels, g, midlineX, inPlane);
  return { labels, method, erosions, airwayVoxels };
}

/**
 * Clears the trachea and main bronchi from the lung labels (in place); returns how many voxels.
 * Slice by slice from the most superior lung slice down: 2D regions of lung label that are small
 * (an airway's cross-section) and either start near the midline in the top slices or overlap an
 * airway region of the slice above. A region larger than an airway ends that branch: the airway
 * has opened into lung, which stays.
 */
function removeAirways(labels: Uint8Array, g: VolumeGeometry, midlineX: number, box: InPlane): number {
  const { columns, slices } = g;
  const plane = columns * g.rows;
  // Every lung voxel lies inside `box`; its components there are those of the whole slice.
  const bc = box.i1 - box.i0 + 1;
  const br = box.j1 - box.j0 + 1;
  const bplane = bc * br;
  const pixelMm2 = g.spacing[0] * g.spacing[1];
  const z = (k: number): number => voxelToPatient(g, 0, 0, k)[2];
  const down = z(slices - 1) < z(0); // k runs from head to feet
  const order = Array.from({ length: slices }, (_, n) => (down ? n : slices - 1 - n));
  const mask = new Uint8Array(bplane);
  const scratch = { labels: new Int32Array(bplane) };
  let previous = new Uint8Array(bplane);
  let topZ: number | undefined;
  let removed = 0;
  const at = (k: number, q: number): number => {
    const j = (q / bc) | 0;
    return k * plane + (j + box.j0) * columns + box.i0 + (q - j * bc);
  };
  for (const k of order) {
    let any = false;
    for (let j = 0, q = 0; j < br; j++) {
      const row = k * plane + (j + box.j0) * columns + box.i0;
      for (let i = 0; i < bc; i++, q++) any = (mask[q] = labels[row + i] ? 1 : 0) === 1 || any;
    }
    if (!any) {
      if (topZ !== undefined) break; // below the lungs
      continue;
    }
    topZ ??= z(k);
    const depthMm = Math.abs(topZ - z(k));
    const { labels: cc, components } = labelComponents(mask, bc, br, 1, scratch);
    const airway = new Uint8Array(components.length + 1);
    let found = false;
    for (const c of components) {
      if (c.size * pixelMm2 >= AIRWAY_MAX_AREA_MM2) continue;
      const offset = Math.abs(voxelToPatient(g, c.sumI / c.size + box.i0, c.sumJ / c.size + box.j0, k)[0] - midlineX);
      const starts = depthMm <= AIRWAY_START_DEPTH_MM && offset <= AIRWAY_START_MAX_OFFSET_MM;
      if (starts || offset <= AIRWAY_MAX_OFFSET_MM) airway[c.label] = starts ? 1 : 2;
    }
    // Keep the continuing candidates only where they overlap the airway of the slice above.
    const overlaps = new Uint8Array(components.length + 1);
    for (let q = 0; q < bplane; q++) if (previous[q] && cc[q] && airway[cc[q]] === 2) overlaps[cc[q]] = 1;
    const next = new Uint8Array(bplane);
    for (let q = 0; q < bplane; q++) {
      const l = cc[q];
      if (l && (airway[l] === 1 || (airway[l] === 2 && overlaps[l]))) {
        next[q] = 1;
        labels[at(k, q)] = 0;
        removed++;
        found = true;
      }
    }
    previous = next;
    if (!found && depthMm > AIRWAY_START_DEPTH_MM) break; // the airway has ended in the lungs
  }
  return removed;
}
