/**
 * The brain model run directly on the conformed NIfTI (no PACS, no DICOM, no resampling): the
 * reference the node's reported volumes are compared against.
 */
import * as fs from 'fs';
import * as ort from 'onnxruntime-node';
import { readNifti } from '../../src/volume/nifti';

export async function brainVolumesDirect(
  niftiPath: string,
  modelPath: string,
): Promise<{ whiteMl: number; greyMl: number }> {
  const img = readNifti(fs.readFileSync(niftiPath));
  const [nx, ny, nz] = img.dims;
  let lo = Infinity,
    hi = -Infinity;
  for (const v of img.data) ((lo = Math.min(lo, v)), (hi = Math.max(hi, v)));
  const x = new Float32Array(img.data.length);
  for (let i = 0; i < x.length; i++) x[i] = (img.data[i] - lo) / (hi - lo);
  const session = await ort.InferenceSession.create(modelPath, { executionProviders: ['cpu'] });
  const out = await session.run({ input: new ort.Tensor('float32', x, [1, 1, nz, ny, nx]) });
  const y = out.output.data as Float32Array;
  const n = x.length;
  let white = 0,
    grey = 0;
  for (let v = 0; v < n; v++) {
    const a = y[v],
      b = y[n + v],
      c = y[2 * n + v];
    if (b > a && b >= c) white++;
    else if (c > a && c > b) grey++;
  }
  const A = img.affineLps;
  const voxMl =
    (Math.hypot(A[0][0], A[1][0], A[2][0]) *
      Math.hypot(A[0][1], A[1][1], A[2][1]) *
      Math.hypot(A[0][2], A[1][2], A[2][2])) /
    1000;
  return { whiteMl: white * voxMl, greyMl: grey * voxMl };
}
