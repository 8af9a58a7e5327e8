/** Copies of a real series under new Study/Series/SOP Instance UIDs (for tests and benchmarks). */
import { readPart10, writePart10 } from '../../src/dicom/part10';
import { deterministicUid } from '../../src/contracts/uid';
import type { DicomFile } from './dicom-files';

export function reUid(files: DicomFile[], seed: string): DicomFile[] {
  const study = deterministicUid('reuid', seed, 'study');
  const series = deterministicUid('reuid', seed, 'series');
  return files.map((f) => {
    const { dataset } = readPart10(f.part10);
    const sop = deterministicUid('reuid', seed, f.sopInstanceUid);
    dataset.StudyInstanceUID = study;
    dataset.SeriesInstanceUID = series;
    dataset.SOPInstanceUID = sop;
    return {
      studyInstanceUid: study,
      seriesInstanceUid: series,
      sopInstanceUid: sop,
      part10: writePart10(dataset, { PixelData: Number(dataset.BitsAllocated) > 8 ? 'OW' : 'OB' }),
    };
  });
}
