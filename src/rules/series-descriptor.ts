/**
 * What routing knows about a study's series, gathered by QIDO-RS (series level, plus one
 * instance per candidate series for ImageType and ImageOrientationPatient). Header data only:
 * routing never reads pixels. Descriptions are routing inputs only and are never logged.
 */
import type { DicomwebClient } from '../dicomweb/client';
import { jsonNumber, jsonString, jsonStrings, Tag } from '../dicom/json';

export interface SeriesDescriptor {
  seriesInstanceUid: string;
  modality: string;
  studyDescription: string;
  seriesDescription: string;
  protocolName: string;
  bodyPartExamined: string;
  manufacturer: string;
  numberOfInstances: number;
  imageType: string[];
  imageOrientationPatient: number[] | undefined;
}

const SERIES_FIELDS = [Tag.SeriesDescription, Tag.BodyPartExamined, Tag.ProtocolName, Tag.Manufacturer, Tag.NumberOfSeriesRelatedInstances, Tag.Modality];

export async function describeStudySeries(client: DicomwebClient, studyUid: string, needsInstanceDetail: (modality: string) => boolean): Promise<SeriesDescriptor[]> {
  const [study] = await client.search('/studies', { StudyInstanceUID: studyUid, includefield: [Tag.StudyDescription] });
  const studyDescription = study ? jsonString(study, Tag.StudyDescription) ?? '' : '';
  const series = await client.search(`/studies/${studyUid}/series`, { includefield: SERIES_FIELDS });
  const out: SeriesDescriptor[] = [];
  for (const s of series) {
    const seriesInstanceUid = jsonString(s, Tag.SeriesInstanceUID);
    if (!seriesInstanceUid) continue;
    const modality = jsonString(s, Tag.Modality) ?? '';
    let imageType: string[] = [];
    let iop: number[] | undefined;
    if (needsInstanceDetail(modality)) {
      const [inst] = await client.search(`/studies/${studyUid}/series/${seriesInstanceUid}/instances`, { limit: 1, includefield: [Tag.ImageType, Tag.ImageOrientationPatient] });
      if (inst) {
        imageType = jsonStrings(inst, Tag.ImageType).map((v) => v.toUpperCase());
        const o = jsonStrings(inst, Tag.ImageOrientationPatient).map(Number);
        iop = o.length === 6 && o.every(Number.isFinite) ? o : undefined;
      }
    }
    out.push({
      seriesInstanceUid,
      modality,
      studyDescription,
      seriesDescription: jsonString(s, Tag.SeriesDescription) ?? '',
      protocolName: jsonString(s, Tag.ProtocolName) ?? '',
      bodyPartExamined: (jsonString(s, Tag.BodyPartExamined) ?? '').toUpperCase(),
      manufacturer: jsonString(s, Tag.Manufacturer) ?? '',
      numberOfInstances: jsonNumber(s, Tag.NumberOfSeriesRelatedInstances) ?? 0,
      imageType,
      imageOrientationPatient: iop,
    });
  }
  return out;
}
