/**
 * 3D connected components (6-connectivity) of a binary mask laid out as in ScalarVolume
 * (i fastest, then j, then k), and the in-plane morphology the lung model uses.
 */
export interface Component {
  label: number;
  size: number;
  /** Whether any voxel lies on the in-plane border (i or j at the volume edge). */
  touchesInPlaneBorder: boolean;
  /** Sum of voxel indices per axis, for centroids. */
  sumI: number;
  sumJ: number;
  sumK: number;
  /** Bounding box, inclusive voxel indices. */
  minI: number;
  maxI: number;
  minJ: number;
  maxJ: number;
  minK: number;
  maxK: number;
}

export interface Labelling {
  labels: Int32Array;
  components: Component[];
}

/**
 * Components as runs, without a label volume: run x covers voxels [start[x], end[x]) of row
 * `rowOf(x)` (row r = slice * rows + j), and belongs to component label[x] (1-based). Rows' runs
 * are contiguous: row r holds runs rowFirst[r] .. rowFirst[r + 1] - 1.
 */
export interface Runs {
  columns: number;
  rows: number;
  slices: number;
  start: Int32Array;
  end: Int32Array;
  rowFirst: Int32Array;
}

export interface RunLabelling extends Runs {
  label: Int32Array;
  components: Component[];
}

/**
 * Labels by runs: each row's runs of foreground voxels are joined (union-find) with the
 * overlapping runs of the row above and of the same row in the slice below it. Time grows with
 * the number of runs, not voxels, which matters for the large air regions of a CT. Components are
 * numbered in raster order of their first voxel. A voxel is foreground when its value is above
 * `above` (0 for a binary mask; a distance map thresholded without writing a mask of its own).
 * `within`, runs on the same grid whose voxels contain this one's foreground (a lower threshold
 * of the same map, or the component it was computed on), limits the scan to those runs.
 */
export function labelRuns(
  mask: Uint8Array | Uint16Array,
  columns: number,
  rows: number,
  slices: number,
  above = 0,
  within?: Runs,
): RunLabelling {
  const nRows = rows * slices;
  let cap = 1024;
  let start = new Int32Array(cap);
  let end = new Int32Array(cap);
  const rowFirst = new Int32Array(nRows + 1);
  let n = 0;
  const push = (s0: number, e0: number): void => {
    if (n === cap) {
      cap *= 2;
      const ns = new Int32Array(cap),
        ne = new Int32Array(cap);
      (ns.set(start), ne.set(end));
      ((start = ns), (end = ne));
    }
    start[n] = s0;
    end[n] = e0;
    n++;
  };
  const scan = (base: number, from: number, to: number): void => {
    let i = from;
    while (i < to) {
      if (mask[base + i] <= above) {
        i++;
        continue;
      }
      const s0 = i;
      while (i < to && mask[base + i] > above) i++;
      push(s0, i);
    }
  };
  // A byte mask whose rows start on 4-byte boundaries is read a word at a time where it can be:
  // a zero word is four background voxels, a word without a zero byte four foreground voxels.
  const words =
    !within && above === 0 && mask instanceof Uint8Array && columns % 4 === 0 && mask.byteOffset % 4 === 0
      ? new Uint32Array(mask.buffer, mask.byteOffset, mask.length >> 2)
      : undefined;
  const scanWords = (base: number): void => {
    const w0 = base >> 2;
    let i = 0;
    while (i < columns) {
      while (i < columns) {
        if ((i & 3) === 0 && words![w0 + (i >> 2)] === 0) i += 4;
        else if (mask[base + i] === 0) i++;
        else break;
      }
      if (i === columns) return;
      const s0 = i;
      while (i < columns) {
        let x: number;
        if ((i & 3) === 0 && (((x = words![w0 + (i >> 2)]) - 0x01010101) & ~x & 0x80808080) === 0) i += 4;
        else if (mask[base + i] !== 0) i++;
        else break;
      }
      push(s0, i);
    }
  };
  for (let r = 0; r < nRows; r++) {
    rowFirst[r] = n;
    if (words) scanWords(r * columns);
    else if (!within) scan(r * columns, 0, columns);
    else
      for (let x = within.rowFirst[r]; x < within.rowFirst[r + 1]; x++)
        scan(r * columns, within.start[x], within.end[x]);
  }
  rowFirst[nRows] = n;
  const parent = new Int32Array(n);
  for (let x = 0; x < n; x++) parent[x] = x;
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]];
      x = parent[x];
    }
    return x;
  };
  const union = (a: number, b: number): void => {
    const ra = find(a),
      rb = find(b);
    if (ra !== rb) ra < rb ? (parent[rb] = ra) : (parent[ra] = rb);
  };
  // Join each run with the overlapping runs of another row (both lists sorted by start).
  const joinRows = (r: number, other: number): void => {
    let a = rowFirst[r];
    const aEnd = rowFirst[r + 1];
    let b = rowFirst[other];
    const bEnd = rowFirst[other + 1];
    while (a < aEnd && b < bEnd) {
      if (start[a] < end[b] && start[b] < end[a]) union(a, b);
      if (end[a] < end[b]) a++;
      else b++;
    }
  };
  for (let r = 0; r < nRows; r++) {
    if (rowFirst[r] === rowFirst[r + 1]) continue;
    if (r % rows !== 0) joinRows(r, r - 1); // the row above, same slice
    if (r >= rows) joinRows(r, r - rows); // the same row, previous slice
  }
  const components: Component[] = [];
  const label = new Int32Array(n);
  for (let x = 0; x < n; x++) {
    const root = find(x);
    if (!label[root]) {
      components.push({
        label: components.length + 1,
        size: 0,
        touchesInPlaneBorder: false,
        sumI: 0,
        sumJ: 0,
        sumK: 0,
        minI: columns,
        maxI: -1,
        minJ: rows,
        maxJ: -1,
        minK: slices,
        maxK: -1,
      });
      label[root] = components.length;
    }
    label[x] = label[root];
  }
  for (let r = 0; r < nRows; r++) {
    const k = (r / rows) | 0;
    const j = r - k * rows;
    for (let x = rowFirst[r]; x < rowFirst[r + 1]; x++) {
      const c = components[label[x] - 1];
      const s0 = start[x],
        e0 = end[x];
      const len = e0 - s0;
      c.size += len;
      c.sumI += ((s0 + e0 - 1) * len) / 2;
      c.sumJ += j * len;
      c.sumK += k * len;
      if (s0 < c.minI) c.minI = s0;
      if (e0 - 1 > c.maxI) c.maxI = e0 - 1;
      if (j < c.minJ) c.minJ = j;
      if (j > c.maxJ) c.maxJ = j;
      if (k < c.minK) c.minK = k;
      if (k > c.maxK) c.maxK = k;
      if (j === 0 || j === rows - 1 || s0 === 0 || e0 === columns) c.touchesInPlaneBorder = true;
    }
  }
  return { columns, rows, slices, start, end, rowFirst, label, components };
}

/** A box inside a labelling's grid: its first voxel and its size. */
export interface Box {
  i0: number;
  j0: number;
  k0: number;
  columns: number;
  rows: number;
  slices: number;
}

/**
 * Writes value[label] for every run whose component maps to a non-zero value (value[0] unused),
 * into `out` laid out on the labelling's grid, or on `box` (which must contain those runs).
 * Only the runs are touched: `out` keeps what it held elsewhere.
 */
export function paintRuns(l: RunLabelling, value: ArrayLike<number>, out: Uint8Array | Int32Array, box?: Box): void {
  const b = box ?? { i0: 0, j0: 0, k0: 0, columns: l.columns, rows: l.rows, slices: l.slices };
  const nRows = l.rows * l.slices;
  for (let r = 0; r < nRows; r++) {
    const first = l.rowFirst[r],
      last = l.rowFirst[r + 1];
    if (first === last) continue;
    const k = (r / l.rows) | 0;
    const j = r - k * l.rows;
    const base = ((k - b.k0) * b.rows + (j - b.j0)) * b.columns - b.i0;
    for (let x = first; x < last; x++) {
      const v = value[l.label[x]];
      if (v) out.fill(v, base + l.start[x], base + l.end[x]);
    }
  }
}

/** The runs of one component, on `box` (which must contain it). */
export function componentRuns(l: RunLabelling, label: number, box: Box): Runs {
  const nRows = box.rows * box.slices;
  const rowFirst = new Int32Array(nRows + 1);
  const starts: number[] = [];
  const ends: number[] = [];
  for (let r = 0; r < nRows; r++) {
    rowFirst[r] = starts.length;
    const k = ((r / box.rows) | 0) + box.k0;
    const j = (r % box.rows) + box.j0;
    const src = k * l.rows + j;
    for (let x = l.rowFirst[src]; x < l.rowFirst[src + 1]; x++)
      if (l.label[x] === label) (starts.push(l.start[x] - box.i0), ends.push(l.end[x] - box.i0));
  }
  rowFirst[nRows] = starts.length;
  return {
    columns: box.columns,
    rows: box.rows,
    slices: box.slices,
    start: Int32Array.from(starts),
    end: Int32Array.from(ends),
    rowFirst,
  };
}

/**
 * Components of a binary mask as a label volume (see labelRuns). `scratch` lets a caller that
 * labels many masks of one size reuse the large label buffer (the labels it returns are then the
 * scratch labels, overwritten by the next call).
 */
export function labelComponents(
  mask: Uint8Array,
  columns: number,
  rows: number,
  slices: number,
  scratch?: { labels: Int32Array },
): Labelling {
  const runs = labelRuns(mask, columns, rows, slices);
  const labels = scratch ? scratch.labels.fill(0) : new Int32Array(mask.length);
  const identity = Int32Array.from({ length: runs.components.length + 1 }, (_, i) => i);
  paintRuns(runs, identity, labels);
  return { labels, components: runs.components };
}

/**
 * In-plane city-block (L1) distance of every voxel the runs cover to the nearest uncovered pixel
 * of its slice, pixels outside the image counting as uncovered (two-pass chamfer, exact for L1);
 * 0 elsewhere. A voxel survives e in-plane erosions with the 4-neighbour cross exactly when its
 * depth is greater than e (a unit test checks this against repeated erosion). Only the covered
 * voxels are visited, run by run: for a component in its bounding box, a fraction of the box.
 * Depths above `max` read as `max` (the minimum of the true depth and `max`: both passes take
 * minima of neighbours plus one, which a cap preserves), so a caller that thresholds below 255
 * gets a byte map, half the memory.
 */
export function inPlaneDepthOfRuns(runs: Runs, max = 65535): Uint8Array | Uint16Array {
  const { columns, rows, slices, start, end, rowFirst } = runs;
  const cap = Math.min(max, 65535);
  const depth = cap <= 255 ? new Uint8Array(columns * rows * slices) : new Uint16Array(columns * rows * slices);
  for (let k = 0; k < slices; k++) {
    for (let j = 0; j < rows; j++) {
      const r = k * rows + j;
      const base = r * columns;
      for (let x = rowFirst[r]; x < rowFirst[r + 1]; x++)
        for (let i = start[x]; i < end[x]; i++) {
          const p = base + i;
          const up = j > 0 ? depth[p - columns] : 0;
          const left = i > 0 ? depth[p - 1] : 0;
          depth[p] = Math.min(cap, Math.min(up, left) + 1);
        }
    }
    for (let j = rows - 1; j >= 0; j--) {
      const r = k * rows + j;
      const base = r * columns;
      for (let x = rowFirst[r + 1] - 1; x >= rowFirst[r]; x--)
        for (let i = end[x] - 1; i >= start[x]; i--) {
          const p = base + i;
          const down = j < rows - 1 ? depth[p + columns] : 0;
          const right = i < columns - 1 ? depth[p + 1] : 0;
          const d = Math.min(down, right) + 1;
          if (d < depth[p]) depth[p] = d;
        }
    }
  }
  return depth;
}

/**
 * Grows labelled seeds through `within` (breadth first, 6-connectivity): each voxel of `within`
 * reachable from a seed gets the label of the nearest seed (ties go to the seed reached first).
 * `inPlaneMargin`: the caller guarantees that the first and last column and row of every slice
 * of `within` are empty (a bounding box with a one-voxel margin), so a voxel's in-plane
 * neighbours need no bounds checks and the walk no divisions; the result is the same.
 */
export function growSeeds<T extends Int32Array | Uint8Array>(
  seeds: T,
  within: Uint8Array,
  columns: number,
  rows: number,
  slices: number,
  inPlaneMargin = false,
): T {
  const plane = columns * rows;
  const n = seeds.length;
  const out = (seeds instanceof Uint8Array ? new Uint8Array(n) : new Int32Array(n)) as T;
  // Each voxel of `within` enters the queue at most once.
  let size = 0;
  for (let p = 0; p < n; p++) if (within[p]) size++;
  const queue = new Int32Array(size);
  let head = 0;
  let tail = 0;
  for (let p = 0; p < n; p++) if (seeds[p] && within[p]) ((out[p] = seeds[p]), (queue[tail++] = p));
  if (inPlaneMargin) {
    while (head < tail) {
      const p = queue[head++];
      const label = out[p];
      let q: number;
      if (within[(q = p - 1)] && !out[q]) ((out[q] = label), (queue[tail++] = q));
      if (within[(q = p + 1)] && !out[q]) ((out[q] = label), (queue[tail++] = q));
      if (within[(q = p - columns)] && !out[q]) ((out[q] = label), (queue[tail++] = q));
      if (within[(q = p + columns)] && !out[q]) ((out[q] = label), (queue[tail++] = q));
      if (p >= plane && within[(q = p - plane)] && !out[q]) ((out[q] = label), (queue[tail++] = q));
      if ((q = p + plane) < n && within[q] && !out[q]) ((out[q] = label), (queue[tail++] = q));
    }
    return out;
  }
  while (head < tail) {
    const p = queue[head++];
    const label = out[p];
    const k = (p / plane) | 0;
    const rem = p - k * plane;
    const j = (rem / columns) | 0;
    const i = rem - j * columns;
    let q: number;
    if (i > 0 && within[(q = p - 1)] && !out[q]) ((out[q] = label), (queue[tail++] = q));
    if (i < columns - 1 && within[(q = p + 1)] && !out[q]) ((out[q] = label), (queue[tail++] = q));
    if (j > 0 && within[(q = p - columns)] && !out[q]) ((out[q] = label), (queue[tail++] = q));
    if (j < rows - 1 && within[(q = p + columns)] && !out[q]) ((out[q] = label), (queue[tail++] = q));
    if (k > 0 && within[(q = p - plane)] && !out[q]) ((out[q] = label), (queue[tail++] = q));
    if (k < slices - 1 && within[(q = p + plane)] && !out[q]) ((out[q] = label), (queue[tail++] = q));
  }
  return out;
}
