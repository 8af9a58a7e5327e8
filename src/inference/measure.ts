/**
 * Measurements of a label map on its source volume, as the manifest declares them: per segment
 * (volume, mean intensity, percent below a threshold) and derived groups (the same over a union
 * of labels; ratios of segment volumes).
 */
import { voxelVolumeMm3, type ScalarVolume } from '../volume/volume';
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

export function regionStats(volume: ScalarVolume, labels: Uint8Array, include: (label: number) => boolean, thresholds: number[]): RegionStats {
  let n = 0;
  let sum = 0;
  const below = thresholds.map(() => 0);
  const v = volume.voxels;
  for (let p = 0; p < v.length; p++) {
    const l = labels[p];
    if (l === 0 || !include(l)) continue;
    n++;
    sum += v[p];
    for (let t = 0; t < thresholds.length; t++) if (v[p] < thresholds[t]) below[t]++;
  }
  return {
    voxelCount: n,
    volumeMl: (n * voxelVolumeMm3(volume.geometry)) / 1000,
    meanIntensity: n ? sum / n : NaN,
    percentBelow: new Map(thresholds.map((t, i) => [t, n ? (100 * below[i]) / n : NaN])),
  };
}

export function measure(manifest: ModelManifest, volume: ScalarVolume, labels: Uint8Array): Measurements {
  const thresholds = manifest.measurements.flatMap((m) => (m.kind === 'percentBelow' ? [m.threshold] : []));
  const segments = new Map(manifest.segments.map((s) => [s.label, regionStats(volume, labels, (l) => l === s.label, thresholds)]));
  const derived = new Map(
    manifest.derived.map((d) => [
      d.name,
      {
        union: d.union ? regionStats(volume, labels, (l) => d.union!.includes(l), thresholds) : undefined,
        ratios: (d.ratios ?? []).map((r) => segments.get(r.numerator)!.volumeMl / segments.get(r.denominator)!.volumeMl),
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
