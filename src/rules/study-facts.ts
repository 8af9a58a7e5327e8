/**
 * What routing knows about a study, from header data only (never pixels): study-level
 * attributes, and per series its attributes, the first instance's attributes, and its geometry
 * computed from every instance's position and orientation (orientation, slice spacing from the
 * positions, slice count, in-plane resolution). All of it comes from QIDO-RS, except that an
 * intake may offer the instances' positions from a faster source of its own (Orthanc's REST API
 * lists them from its index; its QIDO-RS reads every file). Descriptions are routing inputs only
 * and are never logged.
 */
import type { DicomwebClient } from '../dicomweb/client';
import { jsonNumber, jsonString, jsonStrings, Tag, type DicomJson } from '../dicom/json';
import { orientationOf, type Orientation } from '../contracts/geometry';

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

export interface SeriesGeometry {
  orientation?: Orientation;
  sliceSpacingMm?: number;
  sliceCount: number;
  inPlaneResolutionMm?: number;
}

export interface SeriesFacts extends SeriesDescriptor {
  /** Series-level QIDO attributes, completed by the first instance's. */
  attributes: DicomJson;
  geometry: SeriesGeometry;
}

export interface StudyFacts {
  studyInstanceUid: string;
  study: DicomJson;
  series: SeriesFacts[];
}

const SERIES_FIELDS = [
  Tag.SeriesDescription,
  Tag.BodyPartExamined,
  Tag.ProtocolName,
  Tag.Manufacturer,
  Tag.NumberOfSeriesRelatedInstances,
  Tag.Modality,
];
const INSTANCE_FIELDS = [Tag.ImageType, Tag.ImageOrientationPatient, '00200032', '00280030', '00180050'];
const NON_IMAGE = new Set(['SEG', 'SR', 'KO', 'PR', 'RTSTRUCT', 'RTPLAN', 'DOC', 'REG', 'RWV']);

/**
 * Every instance of each series of a study with its ImagePositionPatient (0020,0032), as DICOM
 * JSON, by SeriesInstanceUID; undefined when the source cannot tell (routing then asks QIDO-RS).
 */
export type InstancePositions = (studyInstanceUid: string) => Promise<Map<string, DicomJson[]> | undefined>;

/** Geometry from the first instance's orientation and pixel spacing and every instance's position. */
function geometryOf(first: DicomJson, instances: DicomJson[]): SeriesGeometry {
  const iop = jsonStrings(first, Tag.ImageOrientationPatient).map(Number);
  const orientation = iop.length === 6 ? orientationOf(iop) : undefined;
  const ps = jsonStrings(first, '00280030').map(Number).filter(Number.isFinite);
  const out: SeriesGeometry = {
    sliceCount: instances.length,
    ...(orientation ? { orientation } : {}),
    ...(ps.length === 2 ? { inPlaneResolutionMm: Math.max(ps[0], ps[1]) } : {}),
  };
  if (iop.length !== 6) return out;
  const n = [iop[1] * iop[5] - iop[2] * iop[4], iop[2] * iop[3] - iop[0] * iop[5], iop[0] * iop[4] - iop[1] * iop[3]];
  const pos = instances
    .map((i) => jsonStrings(i, '00200032').map(Number))
    .filter((p) => p.length === 3 && p.every(Number.isFinite))
    .map((p) => p[0] * n[0] + p[1] * n[1] + p[2] * n[2])
    .sort((a, b) => a - b);
  const distinct = pos.filter((p, i) => i === 0 || p - pos[i - 1] > 1e-3);
  out.sliceCount = distinct.length || instances.length;
  if (distinct.length >= 2) {
    const gaps = distinct
      .slice(1)
      .map((p, i) => p - distinct[i])
      .sort((a, b) => a - b);
    out.sliceSpacingMm = gaps[Math.floor(gaps.length / 2)];
  }
  return out;
}

/** The first instance's attributes and every instance's position, for one image series. */
type SeriesInstances = { first: DicomJson; positions: DicomJson[] };

/**
 * Gathers the facts; `studyTags` and `seriesTags` are the extra attributes the rules ask for
 * (8-hex tags). Instance-level detail is fetched for image series only: with `positions`, the
 * first instance by QIDO-RS (limit 1) and the positions from that source; else every instance by
 * QIDO-RS.
 */
export async function gatherStudyFacts(
  client: DicomwebClient,
  studyInstanceUid: string,
  studyTags: string[] = [],
  seriesTags: string[] = [],
  positions?: InstancePositions,
): Promise<StudyFacts> {
  const [[study], seriesList, known] = await Promise.all([
    client.search('/studies', {
      StudyInstanceUID: studyInstanceUid,
      includefield: [Tag.StudyDescription, ...studyTags],
    }),
    client.search(`/studies/${studyInstanceUid}/series`, { includefield: [...SERIES_FIELDS, ...seriesTags] }),
    positions?.(studyInstanceUid).catch(() => undefined),
  ]);
  const studyJson = study ?? {};
  const studyDescription = jsonString(studyJson, Tag.StudyDescription) ?? '';
  const out: SeriesFacts[] = [];
  const instancesOf = async (seriesUid: string): Promise<SeriesInstances> => {
    const path = `/studies/${studyInstanceUid}/series/${seriesUid}/instances`;
    const listed = known?.get(seriesUid);
    if (listed) {
      const [first] = await client.search(path, { includefield: [...INSTANCE_FIELDS, ...seriesTags], limit: 1 });
      return { first: first ?? {}, positions: listed };
    }
    const all = await client.search(path, { includefield: [...INSTANCE_FIELDS, ...seriesTags] });
    return { first: all[0] ?? {}, positions: all };
  };
  // Instance-level detail per image series, four at a time.
  const perSeries: SeriesInstances[] = [];
  for (let i = 0; i < seriesList.length; i += 4)
    perSeries.push(
      ...(await Promise.all(
        seriesList.slice(i, i + 4).map((s) => {
          const uid = jsonString(s, Tag.SeriesInstanceUID);
          return uid && !NON_IMAGE.has(jsonString(s, Tag.Modality) ?? '')
            ? instancesOf(uid)
            : Promise.resolve({ first: {}, positions: [] });
        }),
      )),
    );
  for (const [index, s] of seriesList.entries()) {
    const seriesInstanceUid = jsonString(s, Tag.SeriesInstanceUID);
    if (!seriesInstanceUid) continue;
    const modality = jsonString(s, Tag.Modality) ?? '';
    const { first, positions: instances } = perSeries[index];
    const attributes: DicomJson = {
      ...first,
      ...Object.fromEntries(Object.entries(s).filter(([, v]) => v.Value !== undefined && v.Value.length > 0)),
    };
    const iop = jsonStrings(first, Tag.ImageOrientationPatient).map(Number);
    out.push({
      seriesInstanceUid,
      modality,
      studyDescription,
      seriesDescription: jsonString(s, Tag.SeriesDescription) ?? '',
      protocolName: jsonString(attributes, Tag.ProtocolName) ?? '',
      bodyPartExamined: (jsonString(attributes, Tag.BodyPartExamined) ?? '').toUpperCase(),
      manufacturer: jsonString(attributes, Tag.Manufacturer) ?? '',
      numberOfInstances: jsonNumber(s, Tag.NumberOfSeriesRelatedInstances) ?? instances.length,
      imageType: jsonStrings(first, Tag.ImageType).map((v) => v.toUpperCase()),
      imageOrientationPatient: iop.length === 6 && iop.every(Number.isFinite) ? iop : undefined,
      attributes,
      geometry: geometryOf(first, instances),
    });
  }
  return { studyInstanceUid, study: studyJson, series: out };
}
