/**
 * Issue 7: the fast paths of post-processing and measurement give what their plain definitions
 * give (argmax for 2 and 3 classes; voxel counts read four labels at a time).
 */
import { expect } from 'chai';
import { toLabels } from '../../src/inference/postprocess';
import { measure } from '../../src/inference/measure';
import type { ModelManifest } from '../../src/inference/manifest';
import type { ScalarVolume } from '../../src/contracts/volume';

/** A deterministic pseudo-random sequence (no Math.random: failures must reproduce). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

function argmaxReference(data: Float32Array, channels: number, voxels: number): Uint8Array {
  const out = new Uint8Array(voxels);
  for (let v = 0; v < voxels; v++) {
    let best = 0;
    for (let c = 1; c < channels; c++) if (data[c * voxels + v] > data[best * voxels + v]) best = c;
    out[v] = best;
  }
  return out;
}

describe('inference/postprocess and measure: fast paths against their definitions', () => {
  for (const channels of [2, 3, 4]) {
    it(`argmax over ${channels} channels: ties to the lower channel, NaN as in the plain loop`, () => {
      const voxels = 10_007;
      const rnd = lcg(channels);
      // Few distinct values so that ties are frequent; some NaN.
      const data = Float32Array.from({ length: channels * voxels }, () =>
        rnd() < 0.02 ? Number.NaN : Math.floor(rnd() * 4),
      );
      const got = toLabels(data, channels, voxels, { activation: 'argmax' });
      expect(Buffer.from(got).equals(Buffer.from(argmaxReference(data, channels, voxels)))).to.equal(true);
    });
  }

  it('volume-only measurements count voxels per label without reading intensities, at any offset and length', () => {
    const manifest = {
      measurements: [{ kind: 'volume' }],
      segments: [{ label: 1 }, { label: 2 }, { label: 7 }],
      derived: [],
    } as unknown as ModelManifest;
    const rnd = lcg(42);
    const backing = new Uint8Array(4 * 9 + 3 + 50_001);
    for (let i = 0; i < backing.length; i++) backing[i] = rnd() < 0.7 ? 0 : [1, 2, 7, 9][Math.floor(rnd() * 4)];
    for (const offset of [0, 1, 36]) {
      const labels = backing.subarray(offset, offset + 50_001 + (offset % 3));
      const volume = { geometry: { spacing: [1, 1, 1] }, voxels: new Float32Array(0) } as unknown as ScalarVolume;
      const m = measure(manifest, volume, labels);
      for (const l of [1, 2, 7]) {
        let n = 0;
        for (const x of labels) if (x === l) n++;
        expect(m.segments.get(l)!.voxelCount, `label ${l} at offset ${offset}`).to.equal(n);
        expect(m.segments.get(l)!.volumeMl).to.be.closeTo(n / 1000, 1e-9);
      }
    }
  });
});
