/** Volume morphology used by the lung model's post-processing (src/volume/components.ts). */
import { expect } from 'chai';
import {
  componentRuns,
  growSeeds,
  inPlaneDepthOfRuns,
  labelComponents,
  labelRuns,
  paintRuns,
  type Component,
} from '../../src/volume/components';

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
  const rnd = (): number => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const m = new Uint8Array(columns * rows * slices);
  for (let b = 0; b < 6; b++) {
    const ci = rnd() * columns,
      cj = rnd() * rows,
      ck = rnd() * slices,
      r = 2 + rnd() * 7;
    for (let k = 0; k < slices; k++)
      for (let j = 0; j < rows; j++)
        for (let i = 0; i < columns; i++)
          if ((i - ci) ** 2 + (j - cj) ** 2 + ((k - ck) * 2) ** 2 < r * r) m[k * columns * rows + j * columns + i] = 1;
  }
  return m;
}

/** Reference: breadth-first flood fill from each unlabelled voxel in raster order. */
function floodFill(mask: Uint8Array, c: number, r: number, s: number): { labels: Int32Array; components: Component[] } {
  const labels = new Int32Array(mask.length);
  const components: Component[] = [];
  for (let p0 = 0; p0 < mask.length; p0++) {
    if (!mask[p0] || labels[p0]) continue;
    const comp = {
      label: components.length + 1,
      size: 0,
      touchesInPlaneBorder: false,
      sumI: 0,
      sumJ: 0,
      sumK: 0,
      minI: c,
      maxI: -1,
      minJ: r,
      maxJ: -1,
      minK: s,
      maxK: -1,
    };
    const queue = [p0];
    labels[p0] = comp.label;
    while (queue.length) {
      const p = queue.pop()!;
      const k = Math.floor(p / (c * r)),
        j = Math.floor((p % (c * r)) / c),
        i = p % c;
      (comp.size++, (comp.sumI += i), (comp.sumJ += j), (comp.sumK += k));
      ((comp.minI = Math.min(comp.minI, i)),
        (comp.maxI = Math.max(comp.maxI, i)),
        (comp.minJ = Math.min(comp.minJ, j)),
        (comp.maxJ = Math.max(comp.maxJ, j)));
      ((comp.minK = Math.min(comp.minK, k)), (comp.maxK = Math.max(comp.maxK, k)));
      if (i === 0 || j === 0 || i === c - 1 || j === r - 1) comp.touchesInPlaneBorder = true;
      const nb: number[] = [];
      if (i > 0) nb.push(p - 1);
      if (i < c - 1) nb.push(p + 1);
      if (j > 0) nb.push(p - c);
      if (j < r - 1) nb.push(p + c);
      if (k > 0) nb.push(p - c * r);
      if (k < s - 1) nb.push(p + c * r);
      for (const q of nb) if (mask[q] && !labels[q]) ((labels[q] = comp.label), queue.push(q));
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
      const depth = inPlaneDepthOfRuns(labelRuns(mask, c, r, s));
      let eroded = mask;
      for (let e = 1; e <= 8; e++) {
        eroded = erodeInPlane(eroded, c, r, s);
        const fromDepth = Uint8Array.from(depth, (d) => (d > e ? 1 : 0));
        expect([...fromDepth], `trial ${t}, ${e} erosions`).to.deep.equal([...eroded]);
      }
    }
  });

  it('a capped depth map is the true depth, capped, in bytes when the cap fits (deep regions included)', () => {
    // A filled 600 x 560 slice with a hole: its centre is deeper than a byte holds.
    const [c, r, s] = [600, 560, 2];
    const mask = new Uint8Array(c * r * s).fill(1);
    for (let j = 200; j < 210; j++) for (let i = 300; i < 305; i++) mask[j * c + i] = 0;
    const runs = labelRuns(mask, c, r, s);
    const full = inPlaneDepthOfRuns(runs);
    let deepest = 0;
    for (const d of full) deepest = Math.max(deepest, d);
    expect(deepest).to.be.greaterThan(255);
    for (const max of [31, 255, 300]) {
      const capped = inPlaneDepthOfRuns(runs, max);
      expect(capped, `cap ${max}`).to.be.instanceOf(max <= 255 ? Uint8Array : Uint16Array);
      let mismatches = 0;
      for (let p = 0; p < full.length; p++) if (capped[p] !== Math.min(full[p], max)) mismatches++;
      expect(mismatches, `cap ${max}`).to.equal(0);
    }
  });

  it('run-based labelling equals a plain 6-connected flood fill (labels in raster order, sizes, sums, bounding boxes, border flags), also with a reused buffer', () => {
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

  it('a byte mask with 4-byte aligned rows, read a word at a time, labels as a flood fill does (any non-zero byte is foreground)', () => {
    const [c, r, s] = [32, 17, 6];
    for (let t = 0; t < 6; t++) {
      const mask = randomMask(c, r, s, 31 + t);
      // Other non-zero values, single voxels, runs ending and starting inside a word.
      for (let p = 0; p < mask.length; p++) if (mask[p] && p % 5 === 0) mask[p] = t % 2 ? 255 : 2;
      if (t >= 2) for (let p = 3 * t; p < mask.length; p += 11) mask[p] ^= 1;
      const ref = floodFill(mask, c, r, s);
      expect(labelRuns(mask, c, r, s).components, `trial ${t}`).to.deep.equal(ref.components);
      expect([...labelComponents(mask, c, r, s).labels]).to.deep.equal([...ref.labels]);
      // The same mask at an unaligned offset goes byte by byte, with the same result.
      const shifted = new Uint8Array(mask.length + 1).subarray(1);
      shifted.set(mask);
      expect(labelRuns(shifted, c, r, s).components).to.deep.equal(ref.components);
    }
  });

  it('the runs of one component on its bounding box are the voxels of that component there', () => {
    const [c, r, s] = [23, 19, 7];
    const mask = randomMask(c, r, s, 13);
    const ref = floodFill(mask, c, r, s);
    const runs = labelRuns(mask, c, r, s);
    for (const comp of ref.components) {
      const box = {
        i0: comp.minI,
        j0: comp.minJ,
        k0: comp.minK,
        columns: comp.maxI - comp.minI + 1,
        rows: comp.maxJ - comp.minJ + 1,
        slices: comp.maxK - comp.minK + 1,
      };
      const own = componentRuns(runs, comp.label, box);
      const covered = new Uint8Array(box.columns * box.rows * box.slices);
      for (let row = 0; row < box.rows * box.slices; row++)
        for (let x = own.rowFirst[row]; x < own.rowFirst[row + 1]; x++)
          covered.fill(1, row * box.columns + own.start[x], row * box.columns + own.end[x]);
      for (let k = 0, q = 0; k < box.slices; k++)
        for (let j = 0; j < box.rows; j++)
          for (let i = 0; i < box.columns; i++, q++)
            expect(covered[q], `component ${comp.label}, voxel ${q}`).to.equal(
              ref.labels[(k + box.k0) * c * r + (j + box.j0) * c + i + box.i0] === comp.label ? 1 : 0,
            );
    }
  });

  it('labelling a distance map above a threshold, within the runs of a lower threshold, equals labelling the thresholded mask', () => {
    const [c, r, s] = [31, 23, 5];
    for (let t = 0; t < 4; t++) {
      const depth = inPlaneDepthOfRuns(labelRuns(randomMask(c, r, s, 21 + t), c, r, s));
      let previous: ReturnType<typeof labelRuns> | undefined;
      for (let e = 0; e <= 5; e++) {
        const runs = labelRuns(depth, c, r, s, e, previous);
        const ref = floodFill(
          Uint8Array.from(depth, (d) => (d > e ? 1 : 0)),
          c,
          r,
          s,
        );
        expect(runs.components, `trial ${t}, above ${e}`).to.deep.equal(ref.components);
        previous = runs;
      }
    }
  });

  it('painting runs writes the mapped value of each chosen component, on the whole grid or on a box holding them, and nothing else', () => {
    const [c, r, s] = [23, 19, 7];
    const mask = randomMask(c, r, s, 9);
    const ref = floodFill(mask, c, r, s);
    const runs = labelRuns(mask, c, r, s);
    const chosen = ref.components[0];
    const value = new Uint8Array(runs.components.length + 1);
    value[chosen.label] = 7;
    const whole = new Uint8Array(mask.length).fill(3);
    paintRuns(runs, value, whole);
    for (let p = 0; p < mask.length; p++)
      expect(whole[p], `voxel ${p}`).to.equal(ref.labels[p] === chosen.label ? 7 : 3);
    const box = {
      i0: chosen.minI,
      j0: chosen.minJ,
      k0: chosen.minK,
      columns: chosen.maxI - chosen.minI + 1,
      rows: chosen.maxJ - chosen.minJ + 1,
      slices: chosen.maxK - chosen.minK + 1,
    };
    const inBox = new Uint8Array(box.columns * box.rows * box.slices);
    paintRuns(runs, value, inBox, box);
    let painted = 0;
    for (let k = 0, q = 0; k < box.slices; k++)
      for (let j = 0; j < box.rows; j++)
        for (let i = 0; i < box.columns; i++, q++) {
          const p = (k + box.k0) * c * r + (j + box.j0) * c + i + box.i0;
          expect(inBox[q]).to.equal(ref.labels[p] === chosen.label ? 7 : 0);
          if (inBox[q]) painted++;
        }
    expect(painted).to.equal(chosen.size);
  });

  it('growing seeds labels every reachable voxel with its nearest seed', () => {
    const within = new Uint8Array([1, 1, 1, 1, 1, 0, 1]);
    const seeds = new Int32Array([1, 0, 0, 0, 2, 0, 0]);
    expect([...growSeeds(seeds, within, 7, 1, 1)]).to.deep.equal([1, 1, 1, 2, 2, 0, 0]);
  });

  it('growing seeds within a box with an empty in-plane margin: the unchecked walk gives the same labels', () => {
    const columns = 23,
      rows = 17,
      slices = 9;
    let seed = 11;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const within = new Uint8Array(columns * rows * slices);
    const seeds = new Uint8Array(within.length);
    for (let k = 0; k < slices; k++)
      for (let j = 1; j < rows - 1; j++)
        for (let i = 1; i < columns - 1; i++) {
          const p = k * columns * rows + j * columns + i;
          within[p] = rnd() < 0.7 ? 1 : 0;
          if (within[p] && rnd() < 0.01) seeds[p] = 1 + Math.floor(rnd() * 3);
        }
    const checked = growSeeds(seeds, within, columns, rows, slices);
    expect(checked.filter((l) => l > 0).length).to.be.greaterThan(within.filter((w) => w > 0).length / 2);
    expect([...growSeeds(seeds, within, columns, rows, slices, true)]).to.deep.equal([...checked]);
  });
});
