/** Small vector helpers for patient-space (LPS, mm) geometry. */
export type Vec3 = [number, number, number];

export const dot = (a: Vec3, b: Vec3): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
export const cross = (a: Vec3, b: Vec3): Vec3 => [
  a[1] * b[2] - a[2] * b[1],
  a[2] * b[0] - a[0] * b[2],
  a[0] * b[1] - a[1] * b[0],
];
export const norm = (a: Vec3): number => Math.sqrt(dot(a, a));
export const sub = (a: Vec3, b: Vec3): Vec3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
export const add = (a: Vec3, b: Vec3): Vec3 => [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
export const scale = (a: Vec3, s: number): Vec3 => [a[0] * s, a[1] * s, a[2] * s];

/** The plane an image's ImageOrientationPatient is closest to; undefined when oblique (no axis within ~25 degrees). */
export type Orientation = 'axial' | 'coronal' | 'sagittal';

export function orientationOf(iop: number[] | undefined): Orientation | undefined {
  if (!iop) return undefined;
  const n = cross([iop[0], iop[1], iop[2]], [iop[3], iop[4], iop[5]]).map(Math.abs);
  const max = Math.max(...n);
  if (max < 0.9) return undefined; // oblique
  return n[2] === max ? 'axial' : n[1] === max ? 'coronal' : 'sagittal';
}
