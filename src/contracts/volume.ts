/**
 * A voxel volume in patient space, kept apart from DICOM attributes and from model tensors.
 * Voxel (i, j, k) is at index i + j*columns + k*columns*rows; i runs along the image rows
 * (ImageOrientationPatient[0..2], step PixelSpacing[1]), j down the columns (IOP[3..5], step
 * PixelSpacing[0]) and k along the slice normal in the order the slices were sorted.
 */
import type { Vec3 } from './geometry';
import { add, scale } from './geometry';

export interface VolumeGeometry {
  columns: number;
  rows: number;
  slices: number;
  /** [column step, row step, slice step] in mm. */
  spacing: Vec3;
  /** ImagePositionPatient of voxel (0,0,0). */
  origin: Vec3;
  rowDirection: Vec3;
  columnDirection: Vec3;
  sliceDirection: Vec3;
  frameOfReferenceUid: string;
}

/** The source image each slice k came from, so derived objects can reference it. */
export interface SliceSource {
  sopClassUid: string;
  sopInstanceUid: string;
  /** 1-based frame of a multi-frame source image; absent for single-frame images. */
  frameNumber?: number;
  imagePositionPatient: Vec3;
}

export interface ScalarVolume {
  geometry: VolumeGeometry;
  /** Values in the modality's units (HU for CT), after rescale. */
  voxels: Float32Array;
  slices: SliceSource[];
  seriesInstanceUid: string;
}

export function voxelCount(g: VolumeGeometry): number {
  return g.columns * g.rows * g.slices;
}

/** Volume of one voxel in mm^3. */
export function voxelVolumeMm3(g: VolumeGeometry): number {
  return g.spacing[0] * g.spacing[1] * g.spacing[2];
}

/** Patient-space position (mm) of voxel (i, j, k). */
export function voxelToPatient(g: VolumeGeometry, i: number, j: number, k: number): Vec3 {
  return add(
    add(add(g.origin, scale(g.rowDirection, i * g.spacing[0])), scale(g.columnDirection, j * g.spacing[1])),
    scale(g.sliceDirection, k * g.spacing[2]),
  );
}
