/**
 * NIfTI-1 reader (single file .nii or .nii.gz): header, voxel data scaled by scl_slope/inter, and
 * the voxel-to-patient affine from the sform (preferred) or qform, converted from NIfTI's RAS
 * world to DICOM's LPS. Used by the NIfTI -> DICOM converter and by tests that compare against
 * reference masks.
 */
import * as zlib from 'zlib';
import { AinodeError } from '../errors';

export interface NiftiImage {
  dims: [number, number, number];
  /** Voxel values (after scl_slope/scl_inter), i fastest. */
  data: Float32Array;
  /** 4x4 row-major affine: voxel (i,j,k,1) -> LPS mm. */
  affineLps: number[][];
  datatype: number;
}

export function readNifti(file: Buffer): NiftiImage {
  const buf = file[0] === 0x1f && file[1] === 0x8b ? zlib.gunzipSync(file) : file;
  if (buf.length < 352) throw new AinodeError('DICOM_PARSE_FAILED', 'not a NIfTI-1 file (too short)');
  let le = true;
  if (buf.readInt32LE(0) !== 348) {
    if (buf.readInt32BE(0) !== 348)
      throw new AinodeError('DICOM_PARSE_FAILED', 'not a NIfTI-1 file (sizeof_hdr is not 348)');
    le = false;
  }
  const i16 = (o: number): number => (le ? buf.readInt16LE(o) : buf.readInt16BE(o));
  const f32 = (o: number): number => (le ? buf.readFloatLE(o) : buf.readFloatBE(o));
  const ndim = i16(40);
  const dims = [i16(42), i16(44), i16(46)].map((d, i) => (i < ndim ? d : 1)) as [number, number, number];
  for (let d = 3; d < ndim; d++)
    if (i16(42 + 2 * d) > 1)
      throw new AinodeError('PIXEL_DATA_UNSUPPORTED', 'NIfTI images with more than 3 dimensions are not supported');
  const datatype = i16(70);
  const pixdim = Array.from({ length: 8 }, (_, k) => f32(76 + 4 * k));
  const voxOffset = Math.max(352, Math.round(f32(108)));
  let slope = f32(112);
  const inter = f32(116);
  if (!slope || !Number.isFinite(slope)) slope = 1;
  const n = dims[0] * dims[1] * dims[2];
  const readers: Record<number, [number, (o: number) => number]> = {
    2: [1, (o) => buf.readUInt8(o)],
    256: [1, (o) => buf.readInt8(o)],
    4: [2, (o) => (le ? buf.readInt16LE(o) : buf.readInt16BE(o))],
    512: [2, (o) => (le ? buf.readUInt16LE(o) : buf.readUInt16BE(o))],
    8: [4, (o) => (le ? buf.readInt32LE(o) : buf.readInt32BE(o))],
    768: [4, (o) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o))],
    16: [4, (o) => (le ? buf.readFloatLE(o) : buf.readFloatBE(o))],
    64: [8, (o) => (le ? buf.readDoubleLE(o) : buf.readDoubleBE(o))],
  };
  const r = readers[datatype];
  if (!r) throw new AinodeError('PIXEL_DATA_UNSUPPORTED', `NIfTI datatype ${datatype} is not supported`);
  if (buf.length < voxOffset + n * r[0]) throw new AinodeError('DICOM_PARSE_FAILED', 'NIfTI voxel data is truncated');
  const data = new Float32Array(n);
  for (let p = 0; p < n; p++) data[p] = r[1](voxOffset + p * r[0]) * slope + inter;

  const qformCode = i16(252);
  const sformCode = i16(254);
  let ras: number[][];
  if (sformCode > 0) {
    ras = [0, 1, 2].map((row) => [0, 1, 2, 3].map((c) => f32(280 + 16 * row + 4 * c)));
  } else if (qformCode > 0) {
    const b = f32(256),
      c = f32(260),
      d = f32(264);
    const a = Math.sqrt(Math.max(0, 1 - b * b - c * c - d * d));
    const R = [
      [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
      [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
      [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
    ];
    const qfac = pixdim[0] < 0 ? -1 : 1;
    const s = [pixdim[1], pixdim[2], qfac * pixdim[3]];
    const off = [f32(268), f32(272), f32(276)];
    ras = R.map((row, i) => [row[0] * s[0], row[1] * s[1], row[2] * s[2], off[i]]);
  } else {
    ras = [
      [pixdim[1], 0, 0, 0],
      [0, pixdim[2], 0, 0],
      [0, 0, pixdim[3], 0],
    ];
  }
  // RAS -> LPS: negate the x and y rows.
  const affineLps = [ras[0].map((v) => -v), ras[1].map((v) => -v), ras[2].slice(), [0, 0, 0, 1]];
  return { dims, data, affineLps, datatype };
}
