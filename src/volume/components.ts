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
}

export interface Labelling {
  labels: Int32Array;
  components: Component[];
}

/**
 * Labels by runs: each row's runs of mask voxels are joined (union-find) with the overlapping runs
 * of the row above and of the same row in the slice below it, then written out in one fill per
 * run. Time grows with the number of runs, not voxels, which matters for the large air regions
 * of a CT. Labels are numbered in raster order of each component's first voxel.
 * `scratch` lets a caller that labels many masks of one size reuse the large label buffer (the
 * labels it returns are then the scratch labels, overwritten by the next call).
 */
export function labelComponents(mask: Uint8Array, columns: number, rows: number, slices: number, scratch?: { labels: Int32Array }): Labelling {
  const plane = columns * rows;
  const labels = scratch ? scratch.labels.fill(0) : new Int32Array(mask.length);
  const nRows = rows * slices;
  // Runs, row by row in raster order.
  let cap = 1024;
  let start = new Int32Array(cap);
  let end = new Int32Array(cap);
  const rowFirst = new Int32Array(nRows + 1);
  let n = 0;
  for (let r = 0; r < nRows; r++) {
    rowFirst[r] = n;
    const base = r * columns;
    let i = 0;
    while (i < columns) {
      if (!mask[base + i]) {
        i++;
        continue;
      }
      const s0 = i;
      while (i < columns && mask[base + i]) i++;
      if (n === cap) {
        cap *= 2;
        const ns = new Int32Array(cap), ne = new Int32Array(cap);
        ns.set(start), ne.set(end);
        (start = ns), (end = ne);
      }
      start[n] = s0;
      end[n] = i;
      n++;
    }
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
    const ra = find(a), rb = find(b);
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
  const labelOf = new Int32Array(n);
  for (let x = 0; x < n; x++) {
    const root = find(x);
    if (!labelOf[root]) {
      components.push({ label: components.length + 1, size: 0, touchesInPlaneBorder: false, sumI: 0, sumJ: 0, sumK: 0 });
      labelOf[root] = components.length;
    }
    labelOf[x] = labelOf[root];
  }
  for (let r = 0; r < nRows; r++) {
    const k = (r / rows) | 0;
    const j = r - k * rows;
    const base = k * plane + j * columns;
    for (let x = rowFirst[r]; x < rowFirst[r + 1]; x++) {
      const label = labelOf[x];
      const c = components[label - 1];
      const len = end[x] - start[x];
      c.size += len;
      c.sumI += ((start[x] + end[x] - 1) * len) / 2;
      c.sumJ += j * len;
      c.sumK += k * len;
      if (j === 0 || j === rows - 1 || start[x] === 0 || end[x] === columns) c.touchesInPlaneBorder = true;
      labels.fill(label, base + start[x], base + end[x]);
    }
  }
  return { labels, components };
}

/**
 * In-plane city-block (L1) distance of every mask voxel to the nearest non-mask pixel of its
 * slice, pixels outside the image counting as non-mask (two-pass chamfer, exact for L1). A voxel
 * survives e in-plane erosions with the 4-neighbour cross exactly when its depth
 * is greater than e (a unit test checks this against repeated erosion).
 */
export function inPlaneDepth(mask: Uint8Array, columns: number, rows: number, slices: number): Uint16Array {
  const depth = new Uint16Array(mask.length);
  const plane = columns * rows;
  const cap = 65535;
  for (let k = 0; k < slices; k++) {
    const o = k * plane;
    for (let j = 0; j < rows; j++)
      for (let i = 0; i < columns; i++) {
        const p = o + j * columns + i;
        if (!mask[p]) continue;
        const up = j > 0 ? depth[p - columns] : 0;
        const left = i > 0 ? depth[p - 1] : 0;
        depth[p] = Math.min(cap, Math.min(up, left) + 1);
      }
    for (let j = rows - 1; j >= 0; j--)
      for (let i = columns - 1; i >= 0; i--) {
        const p = o + j * columns + i;
        if (!mask[p]) continue;
        const down = j < rows - 1 ? depth[p + columns] : 0;
        const right = i < columns - 1 ? depth[p + 1] : 0;
        const d = Math.min(down, right) + 1;
        if (d < depth[p]) depth[p] = d;
      }
  }
  return depth;
}

/**
 * Grows labelled seeds through `within` (breadth first, 6-connectivity): each voxel of `within`
 * reachable from a seed gets the label of the nearest seed (ties go to the seed reached first).
 */
export function growSeeds<T extends Int32Array | Uint8Array>(seeds: T, within: Uint8Array, columns: number, rows: number, slices: number): T {
  const plane = columns * rows;
  const out = (seeds instanceof Uint8Array ? new Uint8Array(seeds.length) : new Int32Array(seeds.length)) as T;
  const queue = new Int32Array(seeds.length);
  let head = 0;
  let tail = 0;
  for (let p = 0; p < seeds.length; p++) if (seeds[p] && within[p]) (out[p] = seeds[p]), (queue[tail++] = p);
  while (head < tail) {
    const p = queue[head++];
    const label = out[p];
    const k = (p / plane) | 0;
    const rem = p - k * plane;
    const j = (rem / columns) | 0;
    const i = rem - j * columns;
    const visit = (q: number): void => {
      if (within[q] && !out[q]) (out[q] = label), (queue[tail++] = q);
    };
    if (i > 0) visit(p - 1);
    if (i < columns - 1) visit(p + 1);
    if (j > 0) visit(p - columns);
    if (j < rows - 1) visit(p + columns);
    if (k > 0) visit(p - plane);
    if (k < slices - 1) visit(p + plane);
  }
  return out;
}
