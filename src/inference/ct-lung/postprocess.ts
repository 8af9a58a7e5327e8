/**
 * CT lung model, stage 2 (TypeScript): from the graph's air mask to a right and a left lung.
 *  1. 3D connected components of the air mask.
 *  2. Drop components that touch the in-plane border (air outside the body) and small ones
 *     (bowel gas, noise): below MIN_LUNG_FRACTION of the largest candidate.
 *  3. If the two largest remaining components are comparable in size, they are the two lungs.
 *     Otherwise the lungs are joined through the trachea and main bronchi in one component:
 *     erode it in-plane until it falls apart into two comparable parts, then grow those parts
 *     back through the original component (nearest seed wins), which splits the airways near
 *     the carina.
 *  4. Right/left by the centroid's patient x (LPS: x grows towards the patient's left).
 */
import { AinodeError } from '../../errors';
import { erodeInPlane, growSeeds, labelComponents } from '../../volume/components';
import { voxelToPatient, type VolumeGeometry } from '../../volume/volume';

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
}

function twoLargest(mask: Uint8Array, g: VolumeGeometry): { labels: Int32Array; a: number; b: number; sizeA: number; sizeB: number } {
  const { labels, components } = labelComponents(mask, g.columns, g.rows, g.slices);
  const inside = components.filter((c) => !c.touchesInPlaneBorder).sort((x, y) => y.size - x.size);
  return { labels, a: inside[0]?.label ?? 0, b: inside[1]?.label ?? 0, sizeA: inside[0]?.size ?? 0, sizeB: inside[1]?.size ?? 0 };
}

function keepLabels(labels: Int32Array, wanted: Map<number, number>): Int32Array {
  const out = new Int32Array(labels.length);
  for (let p = 0; p < labels.length; p++) {
    const w = wanted.get(labels[p]);
    if (w) out[p] = w;
  }
  return out;
}

export function splitLungs(airMask: Uint8Array, g: VolumeGeometry): LungLabels {
  const mlPerVoxel = (g.spacing[0] * g.spacing[1] * g.spacing[2]) / 1000;
  const first = twoLargest(airMask, g);
  if (first.sizeA * mlPerVoxel < MIN_LUNG_ML) {
    throw new AinodeError('SEGMENTATION_EMPTY', 'no air region inside the body large enough to be a lung (is this a chest CT?)', { retryable: false });
  }
  let seeds: Int32Array;
  let method: LungLabels['method'] = 'separate-components';
  let erosions = 0;
  if (first.sizeB >= MIN_LUNG_FRACTION * first.sizeA) {
    seeds = keepLabels(first.labels, new Map([[first.a, 1], [first.b, 2]]));
  } else {
    method = 'eroded-split';
    let current: Uint8Array = new Uint8Array(airMask.length);
    for (let p = 0; p < airMask.length; p++) if (first.labels[p] === first.a) current[p] = 1;
    const joined = current;
    let found: Int32Array | undefined;
    for (erosions = 1; erosions <= MAX_SPLIT_EROSIONS; erosions++) {
      current = erodeInPlane(current, g.columns, g.rows, g.slices);
      const parts = twoLargest(current, g);
      if (parts.sizeA === 0) break;
      if (parts.sizeB >= MIN_LUNG_FRACTION * parts.sizeA) {
        found = growSeeds(keepLabels(parts.labels, new Map([[parts.a, 1], [parts.b, 2]])), joined, g.columns, g.rows, g.slices);
        break;
      }
    }
    if (!found) throw new AinodeError('SEGMENTATION_EMPTY', 'the air region could not be split into two lungs', { retryable: false });
    seeds = found;
  }
  // Which seed is the patient's right lung? Compare centroids along patient x.
  const sums = [0, 0, 0].map(() => ({ n: 0, i: 0, j: 0, k: 0 }));
  const plane = g.columns * g.rows;
  for (let p = 0; p < seeds.length; p++) {
    const l = seeds[p];
    if (!l) continue;
    const k = (p / plane) | 0;
    const rem = p - k * plane;
    const j = (rem / g.columns) | 0;
    const s = sums[l];
    s.n++, (s.i += rem - j * g.columns), (s.j += j), (s.k += k);
  }
  const x = (l: number): number => voxelToPatient(g, sums[l].i / sums[l].n, sums[l].j / sums[l].n, sums[l].k / sums[l].n)[0];
  const oneIsRight = x(1) < x(2);
  const labels = new Uint8Array(seeds.length);
  for (let p = 0; p < seeds.length; p++) {
    const l = seeds[p];
    if (l) labels[p] = (l === 1) === oneIsRight ? 1 : 2;
  }
  return { labels, method, erosions };
}
