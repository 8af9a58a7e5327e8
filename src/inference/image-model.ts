/**
 * Models on 2D images: the frame fitted to the model's input (src/image/fit.ts, transform kept
 * so results map back to the source pixels), intensities prepared as the manifest says, one run,
 * and the outputs as named float arrays. Classification and detection decode these
 * (classify.ts, detect.ts).
 */
import { AinodeError } from '../errors';
import { fitTransform, resample, type FitTransform } from '../image/fit';
import type { PlanarImage } from '../image/planar-image';
import type { ImageInputSpec, Preprocess } from './manifest';
import type { ModelPackage } from './model-package';
import { transformChannel } from './segment-volume';
import { ort, type LoadedSession } from './session';

export interface ImageModelInput {
  /** [channels, rows, columns] of the model input. */
  data: Float32Array;
  channels: number;
  transform: FitTransform;
}

/**
 * The model input of one frame: colour matched to the input (a grey image repeated for an RGB
 * model; a colour image refused by a grey one), fitted, and each channel clipped and normalised
 * by the manifest's preprocessing.
 */
export function imageInput(img: PlanarImage, spec: ImageInputSpec, pre: Preprocess): ImageModelInput {
  if (spec.colour === 'grey' && img.channels === 3)
    throw new AinodeError('SERIES_NOT_ACCEPTED', `a ${img.photometric} colour image is not an input of a grey model`, {
      retryable: false,
      hint: 'the rule sent a colour image to a model for grey images; narrow the rule (e.g. by PhotometricInterpretation)',
    });
  const channels = spec.colour === 'rgb' ? 3 : 1;
  const transform = fitTransform(img, { rows: spec.size[0], columns: spec.size[1] }, spec.fit);
  const fitted = resample(img.pixels, img.channels, transform, spec.pad ?? 0);
  const plane = transform.rows * transform.columns;
  const data = new Float32Array(channels * plane);
  for (let c = 0; c < channels; c++)
    data.set(fitted.subarray((img.channels === 3 ? c : 0) * plane).subarray(0, plane), c * plane);
  const perChannel = pre.channels ?? [{ clip: pre.clip, normalize: pre.normalize }];
  for (let c = 0; c < channels; c++) {
    const ch = perChannel[Math.min(c, perChannel.length - 1)];
    if (ch.clip || ch.normalize.method !== 'none') transformChannel(data.subarray(c * plane, (c + 1) * plane), ch);
  }
  return { data, channels, transform };
}

/** One run of a 2D model; every output it declares, as float32 (int64 labels converted). */
export function runImageModel(
  pkg: ModelPackage,
  loaded: LoadedSession,
  input: ImageModelInput,
): Promise<Map<string, { data: Float32Array; dims: number[] }>> {
  const { rows, columns } = input.transform;
  return runModelOutputs(pkg, loaded, input.data, [1, input.channels, rows, columns]);
}

/** One run on an input of the given shape; every output, as float32 (int64 labels converted). */
export async function runModelOutputs(
  pkg: ModelPackage,
  loaded: LoadedSession,
  data: Float32Array,
  shape: number[],
): Promise<Map<string, { data: Float32Array; dims: number[] }>> {
  let out: ort.InferenceSession.OnnxValueMapType;
  try {
    out = await loaded.session.run({ [pkg.manifest.input.name]: new ort.Tensor('float32', data, shape) });
  } catch (e) {
    throw new AinodeError('MODEL_RUN_FAILED', `${pkg.manifest.id}: ${(e as Error).message.split('\n')[0]}`, {
      retryable: false,
    });
  }
  const result = new Map<string, { data: Float32Array; dims: number[] }>();
  for (const [name, t] of Object.entries(out)) {
    const dims = t.dims.map(Number);
    if (t.type === 'float32') result.set(name, { data: t.data as Float32Array, dims });
    else if (t.type === 'int64' || t.type === 'int32' || t.type === 'uint8' || t.type === 'float64')
      result.set(name, { data: Float32Array.from(t.data as ArrayLike<number | bigint>, Number), dims });
    else
      throw new AinodeError('MODEL_RUN_FAILED', `${pkg.manifest.id}: output ${name} has type ${t.type}`, {
        retryable: false,
      });
  }
  return result;
}
