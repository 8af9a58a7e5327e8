/**
 * Sliding-window inference for volumes larger than a model's input: overlapping patches,
 * Gaussian (or constant) importance weighting, accumulation into one output buffer. Memory is
 * bounded by the output (channels x voxels), one weight map and one patch, never all patches.
 */
export type PatchRunner = (
  patch: Float32Array,
  shape: [number, number, number, number, number],
) => Promise<Float32Array>;

export function windowStarts(n: number, p: number, overlap: number): number[] {
  if (n <= p) return [0];
  const step = Math.max(1, Math.round(p * (1 - overlap)));
  const starts: number[] = [];
  for (let s = 0; s + p < n; s += step) starts.push(s);
  starts.push(n - p);
  return [...new Set(starts)];
}

/** Importance map of a patch: Gaussian with sigma = size/8 per axis (as nnU-Net), max 1, floor 1e-3. */
export function importanceMap(p: [number, number, number], blend: 'gaussian' | 'constant'): Float32Array {
  const [pd, ph, pw] = p;
  const w = new Float32Array(pd * ph * pw);
  if (blend === 'constant') return w.fill(1);
  const g = (n: number): number[] =>
    Array.from({ length: n }, (_, i) => Math.exp(-(((i - (n - 1) / 2) / (n / 8)) ** 2) / 2));
  const gz = g(pd),
    gy = g(ph),
    gx = g(pw);
  let q = 0;
  for (let z = 0; z < pd; z++)
    for (let y = 0; y < ph; y++) for (let x = 0; x < pw; x++) w[q++] = Math.max(1e-3, gz[z] * gy[y] * gx[x]);
  return w;
}

/**
 * Runs `run` over patches of `input` ([inChannels, D, H, W], channel-major) and blends the outputs
 * into [outChannels, D, H, W]. Patches that reach past the volume are zero-padded; only the part
 * inside the volume is accumulated.
 */
export async function slidingWindow(
  input: Float32Array,
  dims: [number, number, number],
  inChannels: number,
  outChannels: number,
  patch: [number, number, number],
  overlap: number,
  blend: 'gaussian' | 'constant',
  run: PatchRunner,
): Promise<Float32Array> {
  const [D, H, W] = dims;
  const [pd, ph, pw] = patch;
  const vox = D * H * W;
  const pvox = pd * ph * pw;
  const out = new Float32Array(outChannels * vox);
  const weight = new Float32Array(vox);
  const imp = importanceMap(patch, blend);
  const tile = new Float32Array(inChannels * pvox);
  for (const z0 of windowStarts(D, pd, overlap))
    for (const y0 of windowStarts(H, ph, overlap))
      for (const x0 of windowStarts(W, pw, overlap)) {
        tile.fill(0);
        for (let c = 0; c < inChannels; c++)
          for (let z = 0; z < pd && z0 + z < D; z++)
            for (let y = 0; y < ph && y0 + y < H; y++) {
              const src = c * vox + (z0 + z) * H * W + (y0 + y) * W + x0;
              const dst = c * pvox + z * ph * pw + y * pw;
              tile.set(input.subarray(src, src + Math.min(pw, W - x0)), dst);
            }
        const res = await run(tile, [1, inChannels, pd, ph, pw]);
        for (let z = 0; z < pd && z0 + z < D; z++)
          for (let y = 0; y < ph && y0 + y < H; y++)
            for (let x = 0; x < pw && x0 + x < W; x++) {
              const q = z * ph * pw + y * pw + x;
              const v = (z0 + z) * H * W + (y0 + y) * W + (x0 + x);
              const w = imp[q];
              weight[v] += w;
              for (let c = 0; c < outChannels; c++) out[c * vox + v] += w * res[c * pvox + q];
            }
      }
  for (let v = 0; v < vox; v++) {
    const w = weight[v];
    for (let c = 0; c < outChannels; c++) out[c * vox + v] /= w;
  }
  return out;
}
