/**
 * Lung measurements from the labels and the HU volume: volume (mL = cm3), mean lung density (HU)
 * and %LAA-950, the share of lung voxels below -950 HU (the standard CT emphysema index).
 */
import { voxelVolumeMm3, type ScalarVolume } from '../../volume/volume';

export const LAA_THRESHOLD_HU = -950;

export interface LungMeasurement {
  voxelCount: number;
  volumeMl: number;
  meanHu: number;
  laa950Percent: number;
}

export interface LungMeasurements {
  right: LungMeasurement;
  left: LungMeasurement;
  total: LungMeasurement;
}

function measureWhere(volume: ScalarVolume, include: (p: number) => boolean): LungMeasurement {
  let n = 0;
  let sum = 0;
  let low = 0;
  const v = volume.voxels;
  for (let p = 0; p < v.length; p++) {
    if (!include(p)) continue;
    n++;
    sum += v[p];
    if (v[p] < LAA_THRESHOLD_HU) low++;
  }
  return {
    voxelCount: n,
    volumeMl: (n * voxelVolumeMm3(volume.geometry)) / 1000,
    meanHu: n ? sum / n : NaN,
    laa950Percent: n ? (100 * low) / n : NaN,
  };
}

export function measureLungs(volume: ScalarVolume, labels: Uint8Array): LungMeasurements {
  return {
    right: measureWhere(volume, (p) => labels[p] === 1),
    left: measureWhere(volume, (p) => labels[p] === 2),
    total: measureWhere(volume, (p) => labels[p] !== 0),
  };
}
