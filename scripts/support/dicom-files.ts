/** Reading a folder of DICOM files and storing it by STOW-RS, for the demo and the tests. */
import * as fs from 'fs';
import * as path from 'path';
import { DicomwebClient } from '../../src/dicomweb/client';
import { readPart10 } from '../../src/dicom/part10';

export interface DicomFile {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  part10: Buffer;
}

/** One Part 10 object with the UIDs it is stored under. */
export function dicomFile(part10: Buffer): DicomFile {
  const { dataset } = readPart10(part10);
  return {
    studyInstanceUid: String(dataset.StudyInstanceUID),
    seriesInstanceUid: String(dataset.SeriesInstanceUID),
    sopInstanceUid: String(dataset.SOPInstanceUID),
    part10,
  };
}

export function readDicomFolder(dir: string): DicomFile[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.toLowerCase().endsWith('.dcm'))
    .sort()
    .map((f) => dicomFile(fs.readFileSync(path.join(dir, f))));
}

/** Stores the files by STOW-RS, one request per study, in batches; throws unless every instance is acknowledged. */
export async function stowFiles(client: DicomwebClient, files: DicomFile[], batch = 16): Promise<void> {
  const byStudy = new Map<string, DicomFile[]>();
  for (const f of files) byStudy.set(f.studyInstanceUid, [...(byStudy.get(f.studyInstanceUid) ?? []), f]);
  for (const [study, list] of byStudy) {
    for (let i = 0; i < list.length; i += batch) await client.store(study, list.slice(i, i + batch));
  }
}
