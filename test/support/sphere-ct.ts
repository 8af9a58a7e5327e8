/**
 * A synthetic CT series (axial, 2 x 2 x 2.5 mm, HU) holding bright spheres at known patient
 * positions in air-like background: the ground truth of volume detection tests. Test data only.
 */
import { randomUid } from '../../src/contracts/uid';
import { writePart10 } from '../../src/dicom/part10';

export interface Sphere {
  /** Centre in patient coordinates (mm). */
  centre: [number, number, number];
  radiusMm: number;
}

export const ORIGIN: [number, number, number] = [-64, -80, -40];
export const SPACING: [number, number, number] = [2, 2, 2.5];
export const SIZE = { columns: 64, rows: 64, slices: 32 };
export const SPHERES: Sphere[] = [
  { centre: [-30, -50, -20], radiusMm: 6 },
  { centre: [20, 10, 15], radiusMm: 8 },
];

export function sphereCt(): {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  instances: { sopInstanceUid: string; part10: Buffer }[];
} {
  const study = randomUid();
  const series = randomUid();
  const frameOfReference = randomUid();
  const instances: { sopInstanceUid: string; part10: Buffer }[] = [];
  for (let k = 0; k < SIZE.slices; k++) {
    const z = ORIGIN[2] + k * SPACING[2];
    const px = new Int16Array(SIZE.rows * SIZE.columns);
    for (let j = 0; j < SIZE.rows; j++)
      for (let i = 0; i < SIZE.columns; i++) {
        const x = ORIGIN[0] + i * SPACING[0];
        const y = ORIGIN[1] + j * SPACING[1];
        let hu = -900;
        for (const s of SPHERES) {
          const d = Math.hypot(x - s.centre[0], y - s.centre[1], z - s.centre[2]);
          hu += 1200 * Math.exp(-(d * d) / (2 * (s.radiusMm / 2) ** 2));
        }
        px[j * SIZE.columns + i] = Math.round(hu) + 1024; // stored with intercept -1024
      }
    const sop = randomUid();
    const dataset = {
      SOPClassUID: '1.2.840.10008.5.1.4.1.1.2',
      SOPInstanceUID: sop,
      StudyInstanceUID: study,
      SeriesInstanceUID: series,
      FrameOfReferenceUID: frameOfReference,
      PositionReferenceIndicator: '',
      PatientName: 'Test^Spheres',
      PatientID: 'SPHERES-1',
      PatientBirthDate: '',
      PatientSex: 'O',
      StudyDate: '20261208',
      StudyTime: '120000',
      AccessionNumber: '',
      ReferringPhysicianName: '',
      StudyID: 'SPHERES',
      Modality: 'CT',
      Manufacturer: 'test',
      SeriesNumber: 1,
      InstanceNumber: k + 1,
      ImageType: ['ORIGINAL', 'PRIMARY', 'AXIAL'],
      BodyPartExamined: 'CHEST',
      KVP: '120',
      SliceThickness: String(SPACING[2]),
      PatientPosition: 'HFS',
      ImagePositionPatient: [ORIGIN[0], ORIGIN[1], z].map(String),
      ImageOrientationPatient: ['1', '0', '0', '0', '1', '0'],
      SamplesPerPixel: 1,
      PhotometricInterpretation: 'MONOCHROME2',
      Rows: SIZE.rows,
      Columns: SIZE.columns,
      PixelSpacing: [String(SPACING[1]), String(SPACING[0])],
      BitsAllocated: 16,
      BitsStored: 16,
      HighBit: 15,
      PixelRepresentation: 0,
      RescaleIntercept: '-1024',
      RescaleSlope: '1',
      RescaleType: 'HU',
      PixelData: px.buffer,
    };
    instances.push({ sopInstanceUid: sop, part10: writePart10(dataset, { PixelData: 'OW' }) });
  }
  return { studyInstanceUid: study, seriesInstanceUid: series, instances };
}
