/**
 * Comprehensive 3D SR with a TID 1500 Measurement Report: volumetric measurement groups
 * (TID 1411) that reference segments of a SEG, plain measurement groups (TID 1501) for values
 * not tied to one segment (e.g. totals), and planar ROI groups (TID 1501 with TID 300
 * measurements inferred from an image-region SCOORD) for viewers that load only those.
 * Valid when built; invalid input throws SR_INVALID.
 */
import { AinodeError } from '../../errors';
import { AINODE_SCHEME, Codes, codeItem, type Code } from '../codes';
import { AINODE_EQUIPMENT, dicomDateTime } from '../equipment';
import type { NaturalDataset } from '../part10';
import { writePart10Direct } from '../element-writer';
import { patientStudyModule, type PatientStudyAttributes } from '../study-attributes';
import { isValidUid } from '../../contracts/uid';
import {
  codeValue,
  container,
  image,
  libraryImage,
  num,
  scoord,
  scoord3d,
  text,
  uidRef,
  type ContentItem,
} from './content';
import { uniqueInstances } from '../seg/builder';

export const COMPREHENSIVE_3D_SR_STORAGE = '1.2.840.10008.5.1.4.1.1.88.34';

export interface Measurement {
  concept: Code;
  value: number;
  unit: Code;
  /** e.g. Derivation = Mean. */
  derivation?: Code;
  /** The images (frames) the value was inferred from (TID 300 Source of Measurement). */
  sources?: (InstanceRef & { frameNumber?: number })[];
}

export interface SegmentMeasurementGroup {
  trackingId: string;
  trackingUid: string;
  finding: Code;
  /** TID 1411 Finding Site, e.g. the organ a tissue lies in. */
  findingSite?: Code;
  segmentNumber: number;
  measurements: Measurement[];
}

export interface PlainMeasurementGroup {
  trackingId: string;
  trackingUid: string;
  finding: Code;
  measurements: Measurement[];
  /** Qualitative evaluations: coded concept -> coded answer (inferred from `sources`, when given). */
  evaluations?: { concept: Code; value: Code; sources?: (InstanceRef & { frameNumber?: number })[] }[];
}

/**
 * A structure outlined on one source image: its area inferred from the outline, further
 * measurements of the whole structure, and a human-readable label (TEXT Comment).
 */
export interface PlanarRoiGroup {
  trackingId: string;
  trackingUid: string;
  finding: Code;
  findingSite?: Code;
  /** Closed POLYLINE in the image coordinates of `image`. */
  outline: number[];
  image: InstanceRef & { frameNumber?: number };
  /** The area inside the outline: mm2 (or, without a pixel spacing, square pixels). */
  areaMm2: number;
  areaUnit?: Code;
  measurements: Measurement[];
  label: string;
}

/**
 * A finding at a region of one source image (TID 1410): the region as a SCOORD (a closed
 * rectangle for a detection box, or a point), its measurements (e.g. the score and the size) and
 * a human-readable comment.
 */
export interface RegionFindingGroup {
  trackingId: string;
  trackingUid: string;
  finding: Code;
  /** On one source image (2D), or a point in patient coordinates of the source's frame of reference (3D). */
  region:
    | { graphicType: 'POLYLINE' | 'POINT'; points: number[]; image: InstanceRef & { frameNumber?: number } }
    | { graphicType: 'POINT'; points: [number, number, number]; frameOfReferenceUid: string };
  measurements: Measurement[];
  comment?: string;
}

/**
 * A finding at one point of one source image, for viewers that load points (OHIF's Probe tool):
 * its value (e.g. the score) inferred from the SCOORD POINT, and a human-readable label.
 */
export interface PointFindingGroup {
  trackingId: string;
  trackingUid: string;
  finding: Code;
  /** (column, row) in the image coordinates of `image`. */
  point: [number, number];
  image: InstanceRef & { frameNumber?: number };
  measurement: Measurement;
  label: string;
}

export interface InstanceRef {
  sopClassUid: string;
  sopInstanceUid: string;
}

export interface MeasurementReportInit {
  patientStudy: PatientStudyAttributes;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  seriesNumber: number;
  seriesDescription: string;
  procedureReported: Code;
  /** The device (algorithm) that made the observations. */
  observer: { uid: string; name: string };
  sourceSeries: { seriesInstanceUid: string; instances: InstanceRef[] };
  /** Further series of the study the results were inferred from (a multi-view study-level model). */
  otherSourceSeries?: { seriesInstanceUid: string; instances: InstanceRef[] }[];
  /** The SEG the segment groups reference; required when there are segment groups. */
  segmentation?: { seriesInstanceUid: string; instance: InstanceRef };
  segmentGroups: SegmentMeasurementGroup[];
  plainGroups: PlainMeasurementGroup[];
  planarGroups?: PlanarRoiGroup[];
  regionGroups?: RegionFindingGroup[];
  pointGroups?: PointFindingGroup[];
  /** Algorithm Identification (TID 4019) attached to every measurement. */
  algorithm?: { name: string; version: string; family: Code };
  createdAt?: Date;
}

export interface BuiltReport {
  dataset: NaturalDataset;
  part10: Buffer;
}

function measurementItem(m: Measurement, algorithm?: MeasurementReportInit['algorithm']): ContentItem {
  const mods: ContentItem[] = [];
  if (m.derivation) mods.push(codeValue('HAS CONCEPT MOD', Codes.derivation, m.derivation));
  if (algorithm) {
    mods.push(codeValue('HAS CONCEPT MOD', Codes.algorithmFamily, algorithm.family));
    mods.push(text('HAS CONCEPT MOD', Codes.algorithmName, algorithm.name));
    mods.push(text('HAS CONCEPT MOD', Codes.algorithmVersion, algorithm.version));
  }
  for (const src of m.sources ?? []) mods.push(image('INFERRED FROM', Codes.sourceOfMeasurement, src));
  return num('CONTAINS', m.concept, m.value, m.unit, mods);
}

/** TID 1411 (per segment), 1501 (plain, planar outline, point) and 1410 (region) groups, checked against the source images. */
function measurementGroups(init: MeasurementReportInit, sourceInstances: InstanceRef[]): ContentItem[] {
  const planarGroups = init.planarGroups ?? [];
  const regionGroups = init.regionGroups ?? [];
  const pointGroups = init.pointGroups ?? [];
  const segmentation = init.segmentation;
  const inSource = (sop: string, what: string): void => {
    if (!sourceInstances.some((i) => i.sopInstanceUid === sop))
      throw new AinodeError('SR_INVALID', `${what}: its image is not in the source series`);
  };
  // TID 1411 (per segment) and TID 1501 (derived) groups share their opening rows.
  const group = (
    template: '1410' | '1411' | '1501',
    g: { trackingId: string; trackingUid: string; finding: Code },
    rest: ContentItem[],
  ): ContentItem =>
    container(
      'CONTAINS',
      Codes.measurementGroup,
      [
        text('HAS OBS CONTEXT', Codes.trackingIdentifier, g.trackingId),
        uidRef('HAS OBS CONTEXT', Codes.trackingUid, g.trackingUid),
        codeValue('CONTAINS', Codes.finding, g.finding),
        ...rest,
      ],
      template,
    );
  const groups: ContentItem[] = [
    ...init.segmentGroups.map((g) =>
      group('1411', g, [
        ...(g.findingSite ? [codeValue('HAS CONCEPT MOD', Codes.findingSite, g.findingSite)] : []),
        image('CONTAINS', Codes.referencedSegment, { ...segmentation!.instance, segmentNumber: g.segmentNumber }),
        uidRef('CONTAINS', Codes.sourceSeriesForSegmentation, init.sourceSeries.seriesInstanceUid),
        ...g.measurements.map((m) => measurementItem(m, init.algorithm)),
      ]),
    ),
    ...init.plainGroups.map((g) => {
      for (const m of g.measurements)
        for (const src of m.sources ?? [])
          if (!sourceInstances.some((i) => i.sopInstanceUid === src.sopInstanceUid))
            throw new AinodeError(
              'SR_INVALID',
              `group "${g.trackingId}": a measurement's source image is not in the source series`,
            );
      return group('1501', g, [
        ...g.measurements.map((m) => measurementItem(m, init.algorithm)),
        ...(g.evaluations ?? []).map((e) => {
          const item = codeValue('CONTAINS', e.concept, e.value);
          for (const src of e.sources ?? []) inSource(src.sopInstanceUid, `group "${g.trackingId}"`);
          if (e.sources?.length)
            item.ContentSequence = e.sources.map((src) => image('INFERRED FROM', Codes.sourceOfMeasurement, src));
          return item;
        }),
      ]);
    }),
    ...planarGroups.map((g) => {
      const closed =
        g.outline.length >= 8 &&
        g.outline[0] === g.outline[g.outline.length - 2] &&
        g.outline[1] === g.outline[g.outline.length - 1];
      if (!closed)
        throw new AinodeError(
          'SR_INVALID',
          `planar ROI "${g.trackingId}": the outline must be a closed polyline of at least 3 points`,
        );
      if (!sourceInstances.some((i) => i.sopInstanceUid === g.image.sopInstanceUid))
        throw new AinodeError('SR_INVALID', `planar ROI "${g.trackingId}": its image is not in the source series`);
      const area = measurementItem(
        { concept: Codes.area, value: g.areaMm2, unit: g.areaUnit ?? Codes.squareMillimeter },
        init.algorithm,
      );
      area.ContentSequence = [
        ...((area.ContentSequence as ContentItem[] | undefined) ?? []),
        scoord('INFERRED FROM', 'POLYLINE', g.outline, g.image),
      ];
      return group('1501', g, [
        ...(g.findingSite ? [codeValue('HAS CONCEPT MOD', Codes.findingSite, g.findingSite)] : []),
        area,
        ...g.measurements.map((m) => measurementItem(m, init.algorithm)),
        text('CONTAINS', Codes.comment, g.label),
      ]);
    }),
  ];

  for (const g of regionGroups) {
    const r = g.region;
    const p = r.points;
    if ('image' in r) {
      inSource(r.image.sopInstanceUid, `region "${g.trackingId}"`);
      if (r.graphicType === 'POLYLINE' && !(p.length >= 8 && p[0] === p[p.length - 2] && p[1] === p[p.length - 1]))
        throw new AinodeError('SR_INVALID', `region "${g.trackingId}": a POLYLINE region must be closed`);
    }
    groups.push(
      group('1410', g, [
        'image' in r
          ? scoord('CONTAINS', r.graphicType, p, r.image, Codes.imageRegion)
          : scoord3d('CONTAINS', r.graphicType, p, r.frameOfReferenceUid, Codes.imageRegion),
        ...g.measurements.map((m) => measurementItem(m, init.algorithm)),
        ...(g.comment ? [text('CONTAINS', Codes.comment, g.comment)] : []),
      ]),
    );
  }

  for (const g of pointGroups) {
    inSource(g.image.sopInstanceUid, `point "${g.trackingId}"`);
    const value = measurementItem(g.measurement, init.algorithm);
    value.ContentSequence = [
      ...((value.ContentSequence as ContentItem[] | undefined) ?? []),
      scoord('INFERRED FROM', 'POINT', g.point, g.image),
    ];
    groups.push(group('1501', g, [value, text('CONTAINS', Codes.comment, g.label)]));
  }

  return groups;
}

export function buildMeasurementReport(init: MeasurementReportInit): BuiltReport {
  const planarGroups = init.planarGroups ?? [];
  const regionGroups = init.regionGroups ?? [];
  const pointGroups = init.pointGroups ?? [];
  for (const uid of [
    init.seriesInstanceUid,
    init.sopInstanceUid,
    init.observer.uid,
    init.sourceSeries.seriesInstanceUid,
    ...(init.segmentation ? [init.segmentation.instance.sopInstanceUid] : []),
  ]) {
    if (!isValidUid(uid)) throw new AinodeError('SR_INVALID', `"${uid}" is not a valid UID`);
  }
  if (
    init.segmentGroups.length +
      init.plainGroups.length +
      planarGroups.length +
      regionGroups.length +
      pointGroups.length ===
    0
  )
    throw new AinodeError('SR_INVALID', 'a measurement report needs at least one measurement group');
  const segmentation = init.segmentation;
  if (init.segmentGroups.length && !segmentation)
    throw new AinodeError('SR_INVALID', 'segment measurement groups need the SEG they reference');
  const otherSeries = (init.otherSourceSeries ?? []).filter(
    (x) => x.seriesInstanceUid !== init.sourceSeries.seriesInstanceUid,
  );
  for (const o of otherSeries)
    if (!isValidUid(o.seriesInstanceUid))
      throw new AinodeError('SR_INVALID', `"${o.seriesInstanceUid}" is not a valid UID`);
  const sourceInstances = uniqueInstances([...init.sourceSeries.instances, ...otherSeries.flatMap((o) => o.instances)]);
  if (sourceInstances.length === 0)
    throw new AinodeError('SR_INVALID', 'the source series has no instances to reference');
  const now = dicomDateTime(init.createdAt);

  const groups = measurementGroups(init, sourceInstances);

  const content: ContentItem[] = [
    codeValue('HAS CONCEPT MOD', Codes.languageOfContent, Codes.englishUS),
    codeValue('HAS OBS CONTEXT', Codes.observerType, Codes.device),
    uidRef('HAS OBS CONTEXT', Codes.deviceObserverUid, init.observer.uid),
    text('HAS OBS CONTEXT', Codes.deviceObserverName, init.observer.name),
    text('HAS OBS CONTEXT', Codes.deviceObserverManufacturer, AINODE_EQUIPMENT.Manufacturer),
    text('HAS OBS CONTEXT', Codes.deviceObserverModelName, AINODE_EQUIPMENT.ManufacturerModelName),
    codeValue('HAS CONCEPT MOD', Codes.procedureReported, init.procedureReported),
    container('CONTAINS', Codes.imageLibrary, [
      container('CONTAINS', Codes.imageLibraryGroup, sourceInstances.map(libraryImage)),
    ]),
    container('CONTAINS', Codes.imagingMeasurements, groups),
  ];

  const evidence = [
    {
      StudyInstanceUID: init.patientStudy.StudyInstanceUID,
      ReferencedSeriesSequence: [
        ...[init.sourceSeries, ...otherSeries].map((series) => ({
          SeriesInstanceUID: series.seriesInstanceUid,
          ReferencedSOPSequence: uniqueInstances(series.instances).map((i) => ({
            ReferencedSOPClassUID: i.sopClassUid,
            ReferencedSOPInstanceUID: i.sopInstanceUid,
          })),
        })),
        ...(segmentation && init.segmentGroups.length
          ? [
              {
                SeriesInstanceUID: segmentation.seriesInstanceUid,
                ReferencedSOPSequence: [
                  {
                    ReferencedSOPClassUID: segmentation.instance.sopClassUid,
                    ReferencedSOPInstanceUID: segmentation.instance.sopInstanceUid,
                  },
                ],
              },
            ]
          : []),
      ],
    },
  ];

  const usesPrivateScheme = JSON.stringify(content).includes(`"${AINODE_SCHEME}"`);
  const dataset: NaturalDataset = {
    SpecificCharacterSet: 'ISO_IR 192',
    SOPClassUID: COMPREHENSIVE_3D_SR_STORAGE,
    SOPInstanceUID: init.sopInstanceUid,
    InstanceCreationDate: now.date,
    InstanceCreationTime: now.time,
    ...(usesPrivateScheme
      ? {
          CodingSchemeIdentificationSequence: [
            {
              CodingSchemeDesignator: AINODE_SCHEME,
              CodingSchemeName: 'ainode local codes',
              CodingSchemeResponsibleOrganization: 'ainode project',
            },
          ],
        }
      : {}),
    ...patientStudyModule(init.patientStudy),
    // SR Document Series
    Modality: 'SR',
    SeriesInstanceUID: init.seriesInstanceUid,
    SeriesNumber: init.seriesNumber,
    SeriesDescription: init.seriesDescription,
    SeriesDate: now.date,
    SeriesTime: now.time,
    ReferencedPerformedProcedureStepSequence: [],
    // General Equipment
    ...AINODE_EQUIPMENT,
    // SR Document General
    InstanceNumber: 1,
    CompletionFlag: 'COMPLETE',
    VerificationFlag: 'UNVERIFIED',
    ContentDate: now.date,
    ContentTime: now.time,
    PerformedProcedureCodeSequence: [],
    CurrentRequestedProcedureEvidenceSequence: evidence,
    // SR Document Content (root)
    ValueType: 'CONTAINER',
    ConceptNameCodeSequence: [codeItem(Codes.imagingMeasurementReport)],
    ContinuityOfContent: 'SEPARATE',
    ContentTemplateSequence: [{ MappingResource: 'DCMR', TemplateIdentifier: '1500' }],
    ContentSequence: content,
  };
  // The evidence and the content tree (one item per source image, outlines) are encoded directly:
  // the same bytes dcmjs writes (unit tests), in a fraction of its time.
  return { dataset, part10: writePart10Direct(dataset, 'CurrentRequestedProcedureEvidenceSequence') };
}
