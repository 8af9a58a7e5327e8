/**
 * Runs a model on a prepared input ([channels, D, H, W] float32) in the mode its manifest declares:
 * the whole volume at once, slice by slice (2D models, batched), or sliding window (3D patches).
 * Returns the output as [outChannels, D, H, W] (uint8 outputs are returned as they are).
 */
import { AinodeError } from '../errors';
import type { ModelPackage } from './model-package';
import { ort, type LoadedSession } from './session';
import { slidingWindow } from './sliding-window';

export interface ModelOutput {
  data: Float32Array | Uint8Array;
  channels: number;
}

async function runOnce(
  pkg: ModelPackage,
  loaded: LoadedSession,
  data: Float32Array,
  shape: number[],
): Promise<Float32Array | Uint8Array> {
  let out: ort.InferenceSession.OnnxValueMapType;
  try {
    out = await loaded.session.run({ [pkg.manifest.input.name]: new ort.Tensor('float32', data, shape) });
  } catch (e) {
    throw new AinodeError('MODEL_RUN_FAILED', `${pkg.manifest.id}: ${(e as Error).message.split('\n')[0]}`, {
      retryable: false,
    });
  }
  const t = out[pkg.manifest.output.name];
  if (!t)
    throw new AinodeError(
      'MODEL_RUN_FAILED',
      `${pkg.manifest.id}: the model has no output named ${pkg.manifest.output.name}`,
    );
  if (t.type !== 'float32' && t.type !== 'uint8')
    throw new AinodeError(
      'MODEL_RUN_FAILED',
      `${pkg.manifest.id}: output type ${t.type} is not supported (float32, uint8)`,
    );
  const expected = shape.slice(2).reduce((a, b) => a * b, 1) * shape[0] * pkg.manifest.output.channels;
  if (t.data.length !== expected)
    throw new AinodeError(
      'MODEL_RUN_FAILED',
      `${pkg.manifest.id}: output has ${t.data.length} values, ${expected} expected (dims ${t.dims.join('x')})`,
    );
  return t.data as Float32Array | Uint8Array;
}

export async function runModel(
  pkg: ModelPackage,
  loaded: LoadedSession,
  input: Float32Array,
  dims: [number, number, number],
): Promise<ModelOutput> {
  const spec = pkg.manifest.inference;
  const cin = pkg.manifest.input.channels;
  const cout = pkg.manifest.output.channels;
  const [D, H, W] = dims;
  if (spec.mode === 'whole') return { data: await runOnce(pkg, loaded, input, [1, cin, D, H, W]), channels: cout };
  if (spec.mode === 'sliding-window') {
    const out = await slidingWindow(
      input,
      dims,
      cin,
      cout,
      spec.patch!,
      spec.overlap ?? 0.5,
      spec.blend ?? 'gaussian',
      async (tile, shape) => {
        const r = await runOnce(pkg, loaded, tile, shape);
        return r instanceof Float32Array ? r : Float32Array.from(r);
      },
    );
    return { data: out, channels: cout };
  }
  // Per slice: batches of [B, cin, H, W] -> [B, cout, H, W], reassembled channel-major.
  const batch = spec.batchSize ?? 1;
  const plane = H * W;
  const vox = D * plane;
  const out = new Float32Array(cout * vox);
  for (let k0 = 0; k0 < D; k0 += batch) {
    const b = Math.min(batch, D - k0);
    const x = new Float32Array(b * cin * plane);
    for (let s = 0; s < b; s++)
      for (let c = 0; c < cin; c++)
        x.set(input.subarray(c * vox + (k0 + s) * plane, c * vox + (k0 + s + 1) * plane), (s * cin + c) * plane);
    const y = await runOnce(pkg, loaded, x, [b, cin, H, W]);
    for (let s = 0; s < b; s++)
      for (let c = 0; c < cout; c++)
        out.set(y.subarray((s * cout + c) * plane, (s * cout + c + 1) * plane), c * vox + (k0 + s) * plane);
  }
  return { data: out, channels: cout };
}
