/**
 * A planar region of interest for a segment: the key slice (the slice where the segment covers
 * the most pixels), and on it the outer boundary of the segment's largest 4-connected piece,
 * traced along pixel edges. Coordinates are DICOM image coordinates (PS3.3 C.18.6.1.1): column,
 * row, with (0,0) the outer top-left corner of the top-left pixel, so the outline lies exactly on
 * the pixel borders of the mask in the SEG and the polygon encloses exactly that piece's pixels
 * (holes included).
 */
import type { VolumeGeometry } from '../contracts/volume';

export interface PlanarRoi {
  /** Slice index k in the volume. */
  slice: number;
  /** Closed polyline, x0,y0,x1,y1,...; the last point repeats the first. */
  points: number[];
  /** Area enclosed by the outline, mm^2. */
  areaMm2: number;
  /** Pixels of the segment on the key slice (all pieces), and of the outlined piece with its holes filled. */
  slicePixels: number;
  outlinedPixels: number;
}

/** Slice with the most voxels of `label`; -1 when the label is absent. */
export function keySlice(g: VolumeGeometry, labels: Uint8Array, label: number): { slice: number; pixels: number } {
  const plane = g.columns * g.rows;
  let best = -1;
  let bestCount = 0;
  for (let k = 0; k < g.slices; k++) {
    let n = 0;
    const end = (k + 1) * plane;
    for (let v = k * plane; v < end; v++) if (labels[v] === label) n++;
    if (n > bestCount) ((best = k), (bestCount = n));
  }
  return { slice: best, pixels: bestCount };
}

/** The largest 4-connected piece of a binary plane, as a 0/1 mask. */
function largestPiece(mask: Uint8Array, w: number, h: number): Uint8Array {
  const piece = new Int32Array(w * h);
  const stack = new Int32Array(w * h);
  let bestId = 0;
  let bestSize = 0;
  let id = 0;
  for (let start = 0; start < w * h; start++) {
    if (!mask[start] || piece[start]) continue;
    id++;
    let top = 0;
    let size = 0;
    stack[top++] = start;
    piece[start] = id;
    while (top) {
      const p = stack[--top];
      size++;
      const x = p % w;
      const visit = (q: number): void => {
        if (mask[q] && !piece[q]) ((piece[q] = id), (stack[top++] = q));
      };
      if (x > 0) visit(p - 1);
      if (x < w - 1) visit(p + 1);
      if (p >= w) visit(p - w);
      if (p < w * (h - 1)) visit(p + w);
    }
    if (size > bestSize) ((bestSize = size), (bestId = id));
  }
  const out = new Uint8Array(w * h);
  for (let p = 0; p < w * h; p++) if (piece[p] === bestId && bestId) out[p] = 1;
  return out;
}

// Directions E, S, W, N with y pointing down; the traced boundary keeps the inside on its right.
const DX = [1, 0, -1, 0];
const DY = [0, 1, 0, -1];
// Pixel ahead-right and ahead-left of a lattice vertex, per direction (offsets from the vertex).
const AR = [
  [0, 0],
  [-1, 0],
  [-1, -1],
  [0, -1],
];
const AL = [
  [0, -1],
  [0, 0],
  [-1, 0],
  [-1, -1],
];

/**
 * Outer boundary of a 4-connected pixel set, along pixel edges, as lattice vertices where the
 * direction changes (closed: the first vertex is repeated at the end).
 */
export function traceOuterBoundary(piece: Uint8Array, w: number, h: number): number[] {
  const inside = (x: number, y: number): boolean => x >= 0 && y >= 0 && x < w && y < h && piece[y * w + x] === 1;
  const first = piece.indexOf(1);
  if (first < 0) return [];
  const x0 = first % w;
  const y0 = Math.floor(first / w);
  // The topmost-leftmost pixel's top edge lies on the outer boundary; walk it eastwards.
  const points = [x0, y0];
  let x = x0;
  let y = y0;
  let d = 0;
  for (let steps = 0; steps < 4 * (w + 1) * (h + 1); steps++) {
    x += DX[d];
    y += DY[d];
    if (x === x0 && y === y0 && d === 3) break;
    let next: number;
    if (!inside(x + AR[d][0], y + AR[d][1]))
      next = (d + 1) % 4; // also splits diagonal (8-only) contacts
    else if (inside(x + AL[d][0], y + AL[d][1])) next = (d + 3) % 4;
    else next = d;
    if (next !== d) points.push(x, y);
    d = next;
  }
  points.push(x0, y0);
  return points;
}

/** Shoelace area of a closed polyline in pixel units. */
export function polygonAreaPixels(points: number[]): number {
  let twice = 0;
  for (let i = 0; i + 3 < points.length; i += 2) twice += points[i] * points[i + 3] - points[i + 2] * points[i + 1];
  return Math.abs(twice) / 2;
}

/** The planar ROI of `label`, or undefined when the label is absent from the volume. */
export function planarRoi(g: VolumeGeometry, labels: Uint8Array, label: number): PlanarRoi | undefined {
  const { slice, pixels } = keySlice(g, labels, label);
  if (slice < 0) return undefined;
  const w = g.columns;
  const h = g.rows;
  const mask = new Uint8Array(w * h);
  const offset = slice * w * h;
  for (let p = 0; p < w * h; p++) mask[p] = labels[offset + p] === label ? 1 : 0;
  const piece = largestPiece(mask, w, h);
  const points = traceOuterBoundary(piece, w, h);
  const areaPx = polygonAreaPixels(points);
  return { slice, points, areaMm2: areaPx * g.spacing[0] * g.spacing[1], slicePixels: pixels, outlinedPixels: areaPx };
}
