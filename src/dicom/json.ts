/**
 * Read access to DICOM JSON (PS3.18 F.2) as returned by QIDO-RS. Tolerant when reading:
 * a missing attribute is `undefined`, never an exception.
 */
export interface DicomJsonAttribute {
  vr: string;
  Value?: unknown[];
}
export type DicomJson = Record<string, DicomJsonAttribute>;

export function jsonValues(ds: DicomJson, tag: string): unknown[] {
  return ds[tag]?.Value ?? [];
}

export function jsonString(ds: DicomJson, tag: string): string | undefined {
  const v = jsonValues(ds, tag)[0];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'object' && v !== null && 'Alphabetic' in v)
    return String((v as { Alphabetic: unknown }).Alphabetic);
  return String(v);
}

export function jsonStrings(ds: DicomJson, tag: string): string[] {
  return jsonValues(ds, tag)
    .filter((v) => v !== null && v !== undefined)
    .map((v) => String(v));
}

export function jsonNumber(ds: DicomJson, tag: string): number | undefined {
  const s = jsonString(ds, tag);
  if (s === undefined || s.trim() === '') return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

export function jsonSequence(ds: DicomJson, tag: string): DicomJson[] {
  return jsonValues(ds, tag) as DicomJson[];
}

/** Tags used by the node, by keyword, so code reads in DICOM's own terms. */
export const Tag = {
  StudyInstanceUID: '0020000D',
  SeriesInstanceUID: '0020000E',
  SOPInstanceUID: '00080018',
  SOPClassUID: '00080016',
  Modality: '00080060',
  ModalitiesInStudy: '00080061',
  StudyDescription: '00081030',
  SeriesDescription: '0008103E',
  ProtocolName: '00181030',
  BodyPartExamined: '00180015',
  Manufacturer: '00080070',
  ManufacturerModelName: '00081090',
  NumberOfStudyRelatedInstances: '00201208',
  NumberOfSeriesRelatedInstances: '00201209',
  ImageType: '00080008',
  ImageOrientationPatient: '00200037',
  SeriesNumber: '00200011',
} as const;
