/**
 * Converts a 3D NIfTI image into a DICOM MR Image series (one instance per slice along the third
 * voxel axis), with geometry taken from the NIfTI affine: ImageOrientationPatient from the first
 * two voxel axes, ImagePositionPatient of each slice from the affine, PixelSpacing from the axis
 * lengths. UIDs are derived from the file's SHA-256, so converting the same file twice gives the
 * same series (and storing it twice does not duplicate it).
 */
import { createHash } from 'crypto';
import { AinodeError } from '../errors';
import { dicomDateTime, ds } from '../dicom/equipment';
import { writePart10 } from '../dicom/part10';
import { deterministicUid } from '../contracts/uid';
import { cross, dot, norm, type Vec3 } from '../contracts/geometry';
import type { NiftiImage } from '../volume/nifti';

export const MR_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.4';

export interface ConversionOptions {
  patientName?: string;
  patientId?: string;
  studyDescription?: string;
  seriesDescription?: string;
  bodyPartExamined?: string;
}

export interface ConvertedInstance {
  sopInstanceUid: string;
  part10: Buffer;
}

export function niftiToMrSeries(
  source: Buffer,
  img: NiftiImage,
  opts: ConversionOptions = {},
): { studyInstanceUid: string; seriesInstanceUid: string; instances: ConvertedInstance[] } {
  const A = img.affineLps;
  const col = (c: number): Vec3 => [A[0][c], A[1][c], A[2][c]];
  const [ci, cj, ck] = [col(0), col(1), col(2)];
  const [si, sj, sk] = [norm(ci), norm(cj), norm(ck)];
  if (!(si > 0 && sj > 0 && sk > 0))
    throw new AinodeError('SERIES_GEOMETRY_INCONSISTENT', 'the NIfTI affine has a zero-length axis');
  const rowDir = ci.map((v) => v / si) as Vec3;
  const colDir = cj.map((v) => v / sj) as Vec3;
  const normal = cross(rowDir, colDir);
  if (Math.abs(dot(rowDir, colDir)) > 1e-4 || Math.abs(Math.abs(dot(normal, ck) / sk) - 1) > 1e-4) {
    throw new AinodeError(
      'SERIES_GEOMETRY_INCONSISTENT',
      'the NIfTI affine is sheared: it cannot be written as a DICOM slice stack',
    );
  }
  let lo = Infinity,
    hi = -Infinity,
    integral = true;
  for (const v of img.data) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
    if (integral && !Number.isInteger(v)) integral = false;
  }
  // Integers that fit in 16 bits are stored as they are; anything else is scaled into 0..65535.
  const signed = integral && lo < 0;
  const direct = integral && (signed ? lo >= -32768 && hi <= 32767 : hi <= 65535);
  const slope = direct ? 1 : (hi - lo) / 65535 || 1;
  const intercept = direct ? 0 : lo;

  const hash = createHash('sha256').update(source).digest('hex');
  const studyUid = deterministicUid('ainode-nifti', hash, 'study');
  const seriesUid = deterministicUid('ainode-nifti', hash, 'series');
  const forUid = deterministicUid('ainode-nifti', hash, 'frame-of-reference');
  const now = dicomDateTime();
  const [nx, ny, nz] = img.dims;
  const plane = nx * ny;
  const instances: ConvertedInstance[] = [];
  for (let k = 0; k < nz; k++) {
    const pos: Vec3 = [A[0][2] * k + A[0][3], A[1][2] * k + A[1][3], A[2][2] * k + A[2][3]];
    const px = signed ? new Int16Array(plane) : new Uint16Array(plane);
    for (let p = 0; p < plane; p++) px[p] = Math.round((img.data[k * plane + p] - intercept) / slope);
    const sopUid = deterministicUid('ainode-nifti', hash, 'instance', String(k));
    const dataset = {
      SpecificCharacterSet: 'ISO_IR 192',
      ImageType: ['DERIVED', 'SECONDARY', 'OTHER'],
      SOPClassUID: MR_IMAGE_STORAGE,
      SOPInstanceUID: sopUid,
      StudyDate: now.date,
      StudyTime: now.time,
      AccessionNumber: '',
      Modality: 'MR',
      Manufacturer: '',
      ReferringPhysicianName: '',
      StudyDescription: opts.studyDescription ?? 'Brain MRI',
      SeriesDescription: opts.seriesDescription ?? 'T1 (converted from NIfTI)',
      PatientName: opts.patientName ?? 'NIFTI^CONVERTED',
      PatientID: opts.patientId ?? `NIFTI-${hash.slice(0, 12)}`,
      PatientBirthDate: '',
      PatientSex: '',
      BodyPartExamined: opts.bodyPartExamined ?? 'HEAD',
      PatientPosition: 'HFS',
      ScanningSequence: 'GR',
      SequenceVariant: 'NONE',
      ScanOptions: '',
      MRAcquisitionType: '3D',
      SliceThickness: ds(sk),
      SpacingBetweenSlices: ds(sk),
      EchoTime: '',
      RepetitionTime: '',
      EchoTrainLength: '',
      SoftwareVersions: 'ainode convert nifti',
      StudyInstanceUID: studyUid,
      SeriesInstanceUID: seriesUid,
      StudyID: '',
      SeriesNumber: 1,
      InstanceNumber: k + 1,
      ImagePositionPatient: pos.map(ds),
      ImageOrientationPatient: [...rowDir, ...colDir].map(ds),
      FrameOfReferenceUID: forUid,
      PositionReferenceIndicator: '',
      SamplesPerPixel: 1,
      PhotometricInterpretation: 'MONOCHROME2',
      Rows: ny,
      Columns: nx,
      PixelSpacing: [ds(sj), ds(si)],
      BitsAllocated: 16,
      BitsStored: 16,
      HighBit: 15,
      PixelRepresentation: signed ? 1 : 0,
      ...(direct ? {} : { RescaleSlope: ds(slope), RescaleIntercept: ds(intercept), RescaleType: 'US' }),
      PixelData: [px.buffer],
    };
    instances.push({ sopInstanceUid: sopUid, part10: writePart10(dataset, { PixelData: 'OW' }) });
  }
  return { studyInstanceUid: studyUid, seriesInstanceUid: seriesUid, instances };
}
