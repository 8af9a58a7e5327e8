/** Volume morphology used by the lung model's post-processing (src/volume/components.ts). */
import { expect } from 'chai';
import { growSeeds, inPlaneDepth, labelComponents } from '../../src/volume/components';

/** Reference: one in-plane erosion step with a 4-neighbour cross; in-plane border voxels are cleared. */
function erodeInPlane(mask: Uint8Array, columns: number, rows: number, slices: number): Uint8Array {
  const out = new Uint8Array(mask.length);
  const plane = columns * rows;
  for (let k = 0; k < slices; k++)
    for (let j = 1; j < rows - 1; j++)
      for (let i = 1; i < columns - 1; i++) {
        const p = k * plane + j * columns + i;
        if (mask[p] && mask[p - 1] && mask[p + 1] && mask[p - columns] && mask[p + columns]) out[p] = 1;
      }
  return out;
}

function randomMask(columns: number, rows: number, slices: number, seed: number): Uint8Array {
  let s = seed;
  const rnd = (): number => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const m = new Uint8Array(columns * rows * slices);
  for (let b = 0; b < 6; b++) {
    const ci = rnd() * columns, cj = rnd() * rows, ck = rnd() * slices, r = 2 + rnd() * 7;
    for (let k = 0; k < slices; k++) for (let j = 0; j < rows; j++) for (let i = 0; i < columns; i++) if ((i - ci) ** 2 + (j - cj) ** 2 + ((k - ck) * 2) ** 2 < r * r) m[k * columns * rows + j * columns + i] = 1;
  }
  return m;
}

/** Reference: breadth-first flood fill from each unlabelled voxel in raster order. */
function floodFill(mask: Uint8Array, c: number, r: number, s: number): { labels: Int32Array; components: { label: number; size: number; touchesInPlaneBorder: boolean; sumI: number; sumJ: number; sumK: number }[] } {
  const labels = new Int32Array(mask.length);
  const components: { label: number; size: number; touchesInPlaneBorder: boolean; sumI: number; sumJ: number; sumK: number }[] = [];
  for (let p0 = 0; p0 < mask.length; p0++) {
    if (!mask[p0] || labels[p0]) continue;
    const comp = { label: components.length + 1, size: 0, touchesInPlaneBorder: false, sumI: 0, sumJ: 0, sumK: 0 };
    const queue = [p0];
    labels[p0] = comp.label;
    while (queue.length) {
      const p = queue.pop()!;
      const k = Math.floor(p / (c * r)), j = Math.floor((p % (c * r)) / c), i = p % c;
      comp.size++, (comp.sumI += i), (comp.sumJ += j), (comp.sumK += k);
      if (i === 0 || j === 0 || i === c - 1 || j === r - 1) comp.touchesInPlaneBorder = true;
      const nb: number[] = [];
      if (i > 0) nb.push(p - 1);
      if (i < c - 1) nb.push(p + 1);
      if (j > 0) nb.push(p - c);
      if (j < r - 1) nb.push(p + c);
      if (k > 0) nb.push(p - c * r);
      if (k < s - 1) nb.push(p + c * r);
      for (const q of nb) if (mask[q] && !labels[q]) (labels[q] = comp.label), queue.push(q);
    }
    components.push(comp);
  }
  return { labels, components };
}

describe('volume morphology', () => {
  it('depth > e is exactly e in-plane erosions with the 4-neighbour cross (border pixels cleared)', () => {
    for (let t = 0; t < 5; t++) {
      const [c, r, s] = [31, 23, 5];
      const mask = randomMask(c, r, s, 11 + t);
      const depth = inPlaneDepth(mask, c, r, s);
      let eroded = mask;
      for (let e = 1; e <= 8; e++) {
        eroded = erodeInPlane(eroded, c, r, s);
        const fromDepth = Uint8Array.from(depth, (d) => (d > e ? 1 : 0));
        expect([...fromDepth], `trial ${t}, ${e} erosions`).to.deep.equal([...eroded]);
      }
    }
  });

  it('run-based labelling equals a plain 6-connected flood fill (labels in raster order, sizes, sums, border flags), also with a reused buffer', () => {
    const [c, r, s] = [23, 19, 7];
    const scratch = { labels: new Int32Array(c * r * s) };
    for (let t = 0; t < 6; t++) {
      const mask = randomMask(c, r, s, 5 + t);
      if (t % 2) for (let p = 0; p < mask.length; p += 7) mask[p] ^= 1; // speckle: many small pieces
      const ref = floodFill(mask, c, r, s);
      const fresh = labelComponents(mask, c, r, s);
      expect(fresh.components, `trial ${t}`).to.deep.equal(ref.components);
      expect([...fresh.labels]).to.deep.equal([...ref.labels]);
      const reused = labelComponents(mask, c, r, s, scratch);
      expect([...reused.labels]).to.deep.equal([...ref.labels]);
    }
  });

  it('growing seeds labels every reachable voxel with its nearest seed', () => {
    const within = new Uint8Array([1, 1, 1, 1, 1, 0, 1]);
    const seeds = new Int32Array([1, 0, 0, 0, 2, 0, 0]);
    expect([...growSeeds(seeds, within, 7, 1, 1)]).to.deep.equal([1, 1, 1, 2, 2, 0, 0]);
  });
});
