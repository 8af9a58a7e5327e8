/**
 * Builds a ScalarVolume from the Part 10 instances of one series: parses each instance, keeps its
 * geometry and rescaled pixels (the parsed dataset is dropped at once), sorts the slices along the
 * slice normal and checks that they form one sound, evenly spaced stack. What cannot be made a sound
 * volume is refused with a coded error, never processed.
 *
 * Supported here: single-frame images, native (uncompressed) little-endian pixel data, 8/16 bit,
 * signed or unsigned, BitsStored < BitsAllocated, RescaleSlope/Intercept, PixelPaddingValue.
 */
import { AinodeError } from '../errors';
import { readPart10, TransferSyntax, type NaturalDataset } from '../dicom/part10';
import { pickPatientStudy, type PatientStudyAttributes } from '../dicom/study-attributes';
import { cross, dot, norm, sub, type Vec3 } from './geometry';
import type { ScalarVolume, SliceSource } from './volume';

const NATIVE_SYNTAXES = new Set<string>([TransferSyntax.ImplicitVRLittleEndian, TransferSyntax.ExplicitVRLittleEndian, TransferSyntax.DeflatedExplicitVRLittleEndian]);

/** Relative tolerance on the spacing between consecutive slices. */
const SPACING_TOLERANCE = 0.01;
/** Direction cosines of two slices are "the same" within this. */
const ORIENTATION_TOLERANCE = 1e-3;

interface ParsedSlice {
  source: SliceSource;
  orientation: number[];
  pixelSpacing: [number, number];
  rows: number;
  columns: number;
  frameOfReferenceUid: string;
  pixels: Float32Array;
}

function numbers(ds: NaturalDataset, keyword: string, count: number): number[] {
  const v = ds[keyword];
  const arr = (Array.isArray(v) ? v : [v]).map((x) => Number(x));
  if (arr.length < count || arr.slice(0, count).some((x) => !Number.isFinite(x))) {
    throw new AinodeError('DICOM_ATTRIBUTE_MISSING', `${keyword} is missing or not ${count} numbers`, { retryable: false });
  }
  return arr.slice(0, count);
}

function text(ds: NaturalDataset, keyword: string): string {
  const v = ds[keyword];
  if (typeof v !== 'string' || v === '') throw new AinodeError('DICOM_ATTRIBUTE_MISSING', `${keyword} is missing`, { retryable: false });
  return v;
}

function decodePixels(ds: NaturalDataset, transferSyntaxUid: string, rows: number, columns: number): Float32Array {
  if (!NATIVE_SYNTAXES.has(transferSyntaxUid)) {
    throw new AinodeError('PIXEL_DATA_UNSUPPORTED', `transfer syntax ${transferSyntaxUid} is not decoded yet (native little endian only)`, { retryable: false });
  }
  const frames = Number(ds.NumberOfFrames ?? 1);
  if (frames !== 1) throw new AinodeError('PIXEL_DATA_UNSUPPORTED', `multi-frame images (${frames} frames) are not assembled yet`, { retryable: false });
  if (Number(ds.SamplesPerPixel ?? 1) !== 1) throw new AinodeError('PIXEL_DATA_UNSUPPORTED', 'only single-sample (grey) images can be assembled', { retryable: false });
  const bitsAllocated = Number(ds.BitsAllocated);
  const bitsStored = Number(ds.BitsStored ?? bitsAllocated);
  const signed = Number(ds.PixelRepresentation ?? 0) === 1;
  const slope = ds.RescaleSlope === undefined || ds.RescaleSlope === '' ? 1 : Number(ds.RescaleSlope);
  const intercept = ds.RescaleIntercept === undefined || ds.RescaleIntercept === '' ? 0 : Number(ds.RescaleIntercept);
  if (!Number.isFinite(slope) || !Number.isFinite(intercept)) throw new AinodeError('DICOM_ATTRIBUTE_MISSING', 'RescaleSlope/RescaleIntercept are not numbers', { retryable: false });
  const pd = ds.PixelData;
  const first = Array.isArray(pd) ? pd[0] : pd;
  if (!(first instanceof ArrayBuffer)) throw new AinodeError('DICOM_ATTRIBUTE_MISSING', 'PixelData is missing', { retryable: false });
  const n = rows * columns;
  const bytesNeeded = (n * bitsAllocated) / 8;
  if (first.byteLength < bytesNeeded) throw new AinodeError('PIXEL_DATA_UNSUPPORTED', `PixelData holds ${first.byteLength} bytes, ${bytesNeeded} expected`, { retryable: false });
  let raw: ArrayLike<number>;
  if (bitsAllocated === 16) raw = signed ? new Int16Array(first, 0, n) : new Uint16Array(first, 0, n);
  else if (bitsAllocated === 8) raw = signed ? new Int8Array(first, 0, n) : new Uint8Array(first, 0, n);
  else throw new AinodeError('PIXEL_DATA_UNSUPPORTED', `BitsAllocated ${bitsAllocated} is not supported`, { retryable: false });
  const padding = ds.PixelPaddingValue === undefined ? undefined : Number(ds.PixelPaddingValue);
  const out = new Float32Array(n);
  const mask = (1 << bitsStored) - 1;
  const signBit = 1 << (bitsStored - 1);
  const needsMask = bitsStored < bitsAllocated;
  // Padding voxels become the lowest representable value (air for CT), not a real measurement.
  const paddingOut = intercept + slope * (signed ? -signBit : 0);
  for (let p = 0; p < n; p++) {
    let v = raw[p];
    if (padding !== undefined && v === padding) {
      out[p] = paddingOut;
      continue;
    }
    if (needsMask) {
      v &= mask;
      if (signed && v & signBit) v -= 1 << bitsStored;
    }
    out[p] = v * slope + intercept;
  }
  return out;
}

function parseSlice(bytes: Buffer): { slice: ParsedSlice; dataset: NaturalDataset } {
  const { transferSyntaxUid, dataset: ds } = readPart10(bytes);
  const rows = Number(ds.Rows);
  const columns = Number(ds.Columns);
  if (!(rows > 0 && columns > 0)) throw new AinodeError('DICOM_ATTRIBUTE_MISSING', 'Rows/Columns are missing', { retryable: false });
  const ipp = numbers(ds, 'ImagePositionPatient', 3) as Vec3;
  const slice: ParsedSlice = {
    source: { sopClassUid: text(ds, 'SOPClassUID'), sopInstanceUid: text(ds, 'SOPInstanceUID'), imagePositionPatient: ipp },
    orientation: numbers(ds, 'ImageOrientationPatient', 6),
    pixelSpacing: numbers(ds, 'PixelSpacing', 2) as [number, number],
    rows,
    columns,
    frameOfReferenceUid: text(ds, 'FrameOfReferenceUID'),
    pixels: decodePixels(ds, transferSyntaxUid, rows, columns),
  };
  return { slice, dataset: ds };
}

export interface AssembledSeries {
  volume: ScalarVolume;
  patientStudy: PatientStudyAttributes;
}

export function assembleVolume(seriesInstanceUid: string, instances: Buffer[]): AssembledSeries {
  if (instances.length < 2) throw new AinodeError('SERIES_GEOMETRY_INCONSISTENT', `a volume needs at least 2 slices, the series has ${instances.length}`, { retryable: false });
  const slices: ParsedSlice[] = [];
  let patientStudy: PatientStudyAttributes | undefined;
  for (const bytes of instances) {
    const { slice, dataset } = parseSlice(bytes);
    patientStudy ??= pickPatientStudy(dataset);
    slices.push(slice);
  }
  const ref = slices[0];
  for (const s of slices) {
    if (s.rows !== ref.rows || s.columns !== ref.columns) throw new AinodeError('SERIES_GEOMETRY_INCONSISTENT', 'slices of different sizes in one series', { retryable: false });
    if (s.orientation.some((v, i) => Math.abs(v - ref.orientation[i]) > ORIENTATION_TOLERANCE)) throw new AinodeError('SERIES_GEOMETRY_INCONSISTENT', 'slices with different orientations in one series', { retryable: false });
    if (s.pixelSpacing.some((v, i) => Math.abs(v - ref.pixelSpacing[i]) > 1e-4)) throw new AinodeError('SERIES_GEOMETRY_INCONSISTENT', 'slices with different pixel spacing in one series', { retryable: false });
    if (s.frameOfReferenceUid !== ref.frameOfReferenceUid) throw new AinodeError('SERIES_GEOMETRY_INCONSISTENT', 'slices in different frames of reference', { retryable: false });
  }
  const rowDirection = ref.orientation.slice(0, 3) as Vec3;
  const columnDirection = ref.orientation.slice(3, 6) as Vec3;
  const normal = cross(rowDirection, columnDirection);
  if (Math.abs(norm(normal) - 1) > 1e-2) throw new AinodeError('SERIES_GEOMETRY_INCONSISTENT', 'ImageOrientationPatient is not two orthonormal vectors', { retryable: false });
  slices.sort((a, b) => dot(a.source.imagePositionPatient, normal) - dot(b.source.imagePositionPatient, normal));
  const positions = slices.map((s) => dot(s.source.imagePositionPatient, normal));
  const gaps = positions.slice(1).map((p, i) => p - positions[i]);
  const spacing = (positions[positions.length - 1] - positions[0]) / (slices.length - 1);
  if (!(spacing > 1e-3)) throw new AinodeError('SERIES_GEOMETRY_INCONSISTENT', 'slices share one position (duplicates or a second stack)', { retryable: false });
  const worst = Math.max(...gaps.map((g) => Math.abs(g - spacing)));
  if (worst > SPACING_TOLERANCE * spacing + 1e-3) {
    throw new AinodeError('SERIES_GEOMETRY_INCONSISTENT', `uneven slice spacing: ${spacing.toFixed(3)} mm on average, a gap differs by ${worst.toFixed(3)} mm`, { retryable: false });
  }
  // In-plane offsets between slices must lie along the normal (no gantry tilt / shear).
  for (let k = 1; k < slices.length; k++) {
    const d = sub(slices[k].source.imagePositionPatient, slices[0].source.imagePositionPatient);
    const along = dot(d, normal);
    const offPlane = norm([d[0] - along * normal[0], d[1] - along * normal[1], d[2] - along * normal[2]]);
    if (offPlane > 0.01 * spacing + 1e-2) throw new AinodeError('SERIES_GEOMETRY_INCONSISTENT', 'slice positions do not follow the slice normal (gantry tilt or sheared stack)', { retryable: false });
  }
  const plane = ref.rows * ref.columns;
  const voxels = new Float32Array(plane * slices.length);
  slices.forEach((s, k) => voxels.set(s.pixels, k * plane));
  return {
    volume: {
      geometry: {
        columns: ref.columns,
        rows: ref.rows,
        slices: slices.length,
        spacing: [ref.pixelSpacing[1], ref.pixelSpacing[0], spacing],
        origin: slices[0].source.imagePositionPatient,
        rowDirection,
        columnDirection,
        sliceDirection: normal,
        frameOfReferenceUid: ref.frameOfReferenceUid,
      },
      voxels,
      slices: slices.map((s) => s.source),
      seriesInstanceUid,
    },
    patientStudy: patientStudy as PatientStudyAttributes,
  };
}
