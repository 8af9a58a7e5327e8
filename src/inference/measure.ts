/**
 * Measurements of a label map on its source volume, as the manifest declares them: per segment
 * (volume, mean intensity, percent below a threshold) and derived groups (the same over a union
 * of labels; ratios of segment volumes).
 */
import { voxelVolumeMm3, type ScalarVolume } from '../contracts/volume';
import type { ModelManifest } from './manifest';

export interface RegionStats {
  voxelCount: number;
  volumeMl: number;
  meanIntensity: number;
  /** threshold -> percent of the region's voxels below it */
  percentBelow: Map<number, number>;
}

export interface Measurements {
  /** by manifest label */
  segments: Map<number, RegionStats>;
  /** by derived group name */
  derived: Map<string, { union?: RegionStats; ratios: number[]; qualitative: boolean[] }>;
}

/** Whether the manifest's measurements read the source intensities (else only voxel counts). */
export function needsIntensities(manifest: ModelManifest): boolean {
  return manifest.measurements.some((m) => m.kind !== 'volume');
}

/**
 * Calls `visit` for every voxel in order, except runs of four background (0) labels, which are
 * skipped a word at a time (background is most of a label map); `visit` still sees the zeros
 * that share a word with a label.
 */
function eachInLabelledWords(labels: Uint8Array, visit: (p: number) => void): void {
  let p = 0;
  if (labels.byteOffset % 4 === 0) {
    const words = new Uint32Array(labels.buffer, labels.byteOffset, labels.length >> 2);
    for (let w = 0; w < words.length; w++) {
      if (words[w] === 0) continue;
      const q = w << 2;
      (visit(q), visit(q + 1), visit(q + 2), visit(q + 3));
    }
    p = words.length << 2;
  }
  for (; p < labels.length; p++) visit(p);
}

/**
 * Count, sum and counts below each threshold for every label value, in one pass over the volume;
 * counts only when `intensities` is false (the sums are then NaN).
 */
function perLabelSums(
  volume: ScalarVolume,
  labels: Uint8Array,
  thresholds: number[],
  intensities: boolean,
): { count: Float64Array; sum: Float64Array; below: Float64Array } {
  const T = thresholds.length;
  const count = new Float64Array(256);
  const sum = new Float64Array(256);
  const below = new Float64Array(256 * T);
  if (!intensities) {
    eachInLabelledWords(labels, (p) => count[labels[p]]++);
    count[0] = 0;
    sum.fill(Number.NaN);
    return { count, sum, below };
  }
  const v = volume.voxels;
  if (v.length !== labels.length)
    throw new Error(`measure: the volume holds ${v.length} intensities for ${labels.length} labels`);
  eachInLabelledWords(labels, (p) => {
    const l = labels[p];
    if (l === 0) return;
    const x = v[p];
    count[l]++;
    sum[l] += x;
    for (let t = 0; t < T; t++) if (x < thresholds[t]) below[l * T + t]++;
  });
  return { count, sum, below };
}

export function measure(manifest: ModelManifest, volume: ScalarVolume, labels: Uint8Array): Measurements {
  const thresholds = manifest.measurements.flatMap((m) => (m.kind === 'percentBelow' ? [m.threshold] : []));
  const acc = perLabelSums(volume, labels, thresholds, needsIntensities(manifest));
  const stats = (members: number[]): RegionStats => {
    let n = 0;
    let total = 0;
    const below = thresholds.map(() => 0);
    for (const l of members) {
      n += acc.count[l];
      total += acc.sum[l];
      thresholds.forEach((_, t) => (below[t] += acc.below[l * thresholds.length + t]));
    }
    return {
      voxelCount: n,
      volumeMl: (n * voxelVolumeMm3(volume.geometry)) / 1000,
      meanIntensity: n ? total / n : NaN,
      percentBelow: new Map(thresholds.map((t, i) => [t, n ? (100 * below[i]) / n : NaN])),
    };
  };
  const segments = new Map(manifest.segments.map((s) => [s.label, stats([s.label])]));
  const derived = new Map(
    manifest.derived.map((d) => [
      d.name,
      {
        union: d.union ? stats([...new Set(d.union)]) : undefined,
        ratios: (d.ratios ?? []).map(
          (r) => segments.get(r.numerator)!.volumeMl / segments.get(r.denominator)!.volumeMl,
        ),
        qualitative: [] as boolean[],
      },
    ]),
  );
  for (const d of manifest.derived) {
    const m = derived.get(d.name)!;
    m.qualitative = (d.qualitative ?? []).map((q) => (m.union?.percentBelow.get(q.percentBelow) ?? NaN) >= q.atLeast);
  }
  return { segments, derived };
}
