/**
 * A synthetic digital radiograph (DX for presentation, MONOCHROME2, 12 bits) with bright round
 * spots at known places on a dark, gently graded background: the ground truth for detection
 * tests (a detector must find each spot where it was drawn). Spacing and other attributes are
 * chosen per test (`extra`), the spots' brightness by `gain`. Test data only.
 */
import { randomUid } from '../../src/contracts/uid';
import { writePart10, type NaturalDataset } from '../../src/dicom/part10';

export interface Spot {
  /** Centre, continuous image coordinates (x along columns, y along rows). */
  x: number;
  y: number;
  radius: number;
  /** Peak stored value above the background. */
  height: number;
}

export const SPOTS: Spot[] = [
  { x: 150.5, y: 200.5, radius: 18, height: 3000 },
  { x: 620.5, y: 180.5, radius: 24, height: 2600 },
  { x: 400.5, y: 700.5, radius: 30, height: 3400 },
];

export function blobRadiograph(
  opts: { rows?: number; columns?: number; extra?: NaturalDataset; studyInstanceUid?: string; gain?: number } = {},
): { part10: Buffer; dataset: NaturalDataset } {
  const rows = opts.rows ?? 900;
  const columns = opts.columns ?? 800;
  const pixels = new Uint16Array(rows * columns);
  for (let y = 0; y < rows; y++)
    for (let x = 0; x < columns; x++) {
      let v = 200 + Math.round((100 * y) / rows);
      for (const s of SPOTS) {
        const d2 = (x + 0.5 - s.x) ** 2 + (y + 0.5 - s.y) ** 2;
        v += (opts.gain ?? 1) * s.height * Math.exp(-d2 / (2 * (s.radius / 2) ** 2));
      }
      pixels[y * columns + x] = Math.min(4095, Math.round(v));
    }
  const study = opts.studyInstanceUid ?? randomUid();
  const dataset: NaturalDataset = {
    SOPClassUID: '1.2.840.10008.5.1.4.1.1.1.1',
    SOPInstanceUID: randomUid(),
    StudyInstanceUID: study,
    SeriesInstanceUID: randomUid(),
    PatientName: 'Test^Spots',
    PatientID: 'SPOTS-1',
    PatientBirthDate: '',
    PatientSex: 'O',
    StudyDate: '20261208',
    StudyTime: '120000',
    AccessionNumber: '',
    ReferringPhysicianName: '',
    StudyID: 'SPOTS',
    Modality: 'DX',
    SeriesNumber: 1,
    InstanceNumber: 1,
    Manufacturer: 'test',
    ImageType: ['ORIGINAL', 'PRIMARY'],
    PresentationIntentType: 'FOR PRESENTATION',
    PatientOrientation: ['L', 'F'],
    BodyPartExamined: 'CHEST',
    ViewPosition: 'PA',
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: rows,
    Columns: columns,
    BitsAllocated: 16,
    BitsStored: 12,
    HighBit: 11,
    PixelRepresentation: 0,
    PixelIntensityRelationship: 'LIN',
    PixelIntensityRelationshipSign: 1,
    RescaleIntercept: 0,
    RescaleSlope: 1,
    RescaleType: 'US',
    WindowCenter: 2048,
    WindowWidth: 4096,
    LossyImageCompression: '00',
    ...(opts.extra ?? {}),
    PixelData: pixels.buffer,
  };
  return { part10: writePart10(dataset, { PixelData: 'OW' }), dataset };
}
