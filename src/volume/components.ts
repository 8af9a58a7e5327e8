/**
 * 3D connected components (6-connectivity) of a binary mask laid out as in ScalarVolume
 * (i fastest, then j, then k). Iterative flood fill with an explicit stack: no recursion,
 * memory O(voxels).
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

export function labelComponents(mask: Uint8Array, columns: number, rows: number, slices: number): Labelling {
  const plane = columns * rows;
  const labels = new Int32Array(mask.length);
  const components: Component[] = [];
  const stack = new Int32Array(mask.length);
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || labels[start]) continue;
    const label = components.length + 1;
    const c: Component = { label, size: 0, touchesInPlaneBorder: false, sumI: 0, sumJ: 0, sumK: 0 };
    let top = 0;
    stack[top++] = start;
    labels[start] = label;
    while (top > 0) {
      const p = stack[--top];
      const k = (p / plane) | 0;
      const rem = p - k * plane;
      const j = (rem / columns) | 0;
      const i = rem - j * columns;
      c.size++;
      c.sumI += i;
      c.sumJ += j;
      c.sumK += k;
      if (i === 0 || j === 0 || i === columns - 1 || j === rows - 1) c.touchesInPlaneBorder = true;
      if (i > 0 && mask[p - 1] && !labels[p - 1]) (labels[p - 1] = label), (stack[top++] = p - 1);
      if (i < columns - 1 && mask[p + 1] && !labels[p + 1]) (labels[p + 1] = label), (stack[top++] = p + 1);
      if (j > 0 && mask[p - columns] && !labels[p - columns]) (labels[p - columns] = label), (stack[top++] = p - columns);
      if (j < rows - 1 && mask[p + columns] && !labels[p + columns]) (labels[p + columns] = label), (stack[top++] = p + columns);
      if (k > 0 && mask[p - plane] && !labels[p - plane]) (labels[p - plane] = label), (stack[top++] = p - plane);
      if (k < slices - 1 && mask[p + plane] && !labels[p + plane]) (labels[p + plane] = label), (stack[top++] = p + plane);
    }
    components.push(c);
  }
  return { labels, components };
}

/** One in-plane erosion step with a 4-neighbour cross; voxels on the in-plane border are cleared. */
export function erodeInPlane(mask: Uint8Array, columns: number, rows: number, slices: number): Uint8Array {
  const out = new Uint8Array(mask.length);
  const plane = columns * rows;
  for (let k = 0; k < slices; k++) {
    for (let j = 1; j < rows - 1; j++) {
      for (let i = 1; i < columns - 1; i++) {
        const p = k * plane + j * columns + i;
        if (mask[p] && mask[p - 1] && mask[p + 1] && mask[p - columns] && mask[p + columns]) out[p] = 1;
      }
    }
  }
  return out;
}

/**
 * Grows labelled seeds through `within` (breadth first, 6-connectivity): each voxel of `within`
 * reachable from a seed gets the label of the nearest seed (ties go to the seed reached first).
 */
export function growSeeds(seeds: Int32Array, within: Uint8Array, columns: number, rows: number, slices: number): Int32Array {
  const plane = columns * rows;
  const out = new Int32Array(seeds.length);
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
