/**
 * Patient and study attributes that derived objects (SEG, SR) must carry unchanged from their
 * source, so the PACS files them into the same patient and study. These values are patient data:
 * they go into DICOM objects only, never into logs or job payloads.
 */
import type { NaturalDataset } from './part10';

export const PATIENT_STUDY_KEYWORDS = [
  'PatientName',
  'PatientID',
  'IssuerOfPatientID',
  'PatientBirthDate',
  'PatientSex',
  'PatientAge',
  'StudyInstanceUID',
  'StudyDate',
  'StudyTime',
  'StudyID',
  'AccessionNumber',
  'ReferringPhysicianName',
  'StudyDescription',
] as const;

export type PatientStudyKeyword = (typeof PATIENT_STUDY_KEYWORDS)[number];
export type PatientStudyAttributes = Partial<Record<PatientStudyKeyword, unknown>> & { StudyInstanceUID: string };

export function pickPatientStudy(ds: NaturalDataset): PatientStudyAttributes {
  const out: Record<string, unknown> = {};
  for (const k of PATIENT_STUDY_KEYWORDS) if (ds[k] !== undefined) out[k] = ds[k];
  return out as PatientStudyAttributes;
}

/** The Type 2 attributes of the Patient and General Study modules, present (empty if unknown). */
export function patientStudyModule(a: PatientStudyAttributes): NaturalDataset {
  return {
    PatientName: a.PatientName ?? '',
    PatientID: a.PatientID ?? '',
    ...(a.IssuerOfPatientID !== undefined ? { IssuerOfPatientID: a.IssuerOfPatientID } : {}),
    PatientBirthDate: a.PatientBirthDate ?? '',
    PatientSex: a.PatientSex ?? '',
    ...(a.PatientAge !== undefined && a.PatientAge !== '' ? { PatientAge: a.PatientAge } : {}),
    StudyInstanceUID: a.StudyInstanceUID,
    StudyDate: a.StudyDate ?? '',
    StudyTime: a.StudyTime ?? '',
    StudyID: a.StudyID ?? '',
    AccessionNumber: a.AccessionNumber ?? '',
    ReferringPhysicianName: a.ReferringPhysicianName ?? '',
    ...(a.StudyDescription !== undefined && a.StudyDescription !== '' ? { StudyDescription: a.StudyDescription } : {}),
  };
}
