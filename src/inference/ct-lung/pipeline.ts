/**
 * The CT lung model end to end on one volume: HU tensor -> ONNX graph (air mask) -> right/left
 * lung labels -> measurements. Volume, tensor and labels stay distinct types.
 */
import { AinodeError } from '../../errors';
import type { ScalarVolume } from '../../volume/volume';
import { ort, type LoadedSession } from '../session';
import type { ModelPackage } from '../model-package';
import { splitLungs, type LungLabels } from './postprocess';
import { measureLungs, type LungMeasurements } from './measure';

export interface CtLungResult {
  lungs: LungLabels;
  measurements: LungMeasurements;
  inferenceMs: number;
}

export async function runCtLung(pkg: ModelPackage, loaded: LoadedSession, volume: ScalarVolume): Promise<CtLungResult> {
  const g = volume.geometry;
  const input = new ort.Tensor('float32', volume.voxels, [1, 1, g.slices, g.rows, g.columns]);
  const t0 = performance.now();
  let out: ort.InferenceSession.OnnxValueMapType;
  try {
    out = await loaded.session.run({ [pkg.manifest.input]: input });
  } catch (e) {
    throw new AinodeError('MODEL_RUN_FAILED', `${pkg.manifest.id}: ${(e as Error).message.split('\n')[0]}`, { retryable: false });
  }
  const inferenceMs = performance.now() - t0;
  const mask = out[pkg.manifest.output];
  if (!mask || mask.type !== 'uint8' || mask.data.length !== volume.voxels.length) {
    throw new AinodeError('MODEL_RUN_FAILED', `${pkg.manifest.id}: output ${pkg.manifest.output} is not a uint8 mask of the input's shape`, { retryable: false });
  }
  const lungs = splitLungs(mask.data as Uint8Array, g);
  return { lungs, measurements: measureLungs(volume, lungs.labels), inferenceMs };
}
