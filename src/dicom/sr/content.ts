/**
 * SR content items (PS3.3 C.17.3) as small typed constructors. Each returns the dataset item in
 * dcmjs' naturalized form; relationship type is set by the parent through `rel`.
 */
import { AinodeError } from '../../errors';
import { codeItem, type Code } from '../codes';
import { ds } from '../equipment';
import { isValidUid } from '../../contracts/uid';

export type RelationshipType =
  | 'CONTAINS'
  | 'HAS PROPERTIES'
  | 'HAS CONCEPT MOD'
  | 'HAS OBS CONTEXT'
  | 'INFERRED FROM'
  | 'SELECTED FROM'
  | 'HAS ACQ CONTEXT';
export type ContentItem = Record<string, unknown>;

const base = (rel: RelationshipType, valueType: string, concept: Code): ContentItem => ({
  RelationshipType: rel,
  ValueType: valueType,
  ConceptNameCodeSequence: [codeItem(concept)],
});

export function container(
  rel: RelationshipType,
  concept: Code,
  children: ContentItem[],
  template?: string,
): ContentItem {
  return {
    ...base(rel, 'CONTAINER', concept),
    ContinuityOfContent: 'SEPARATE',
    ...(template ? { ContentTemplateSequence: [{ MappingResource: 'DCMR', TemplateIdentifier: template }] } : {}),
    ContentSequence: children,
  };
}

export function text(rel: RelationshipType, concept: Code, value: string): ContentItem {
  if (!value) throw new AinodeError('SR_INVALID', `TEXT ${concept.meaning}: empty value`);
  return { ...base(rel, 'TEXT', concept), TextValue: value };
}

export function codeValue(rel: RelationshipType, concept: Code, value: Code): ContentItem {
  return { ...base(rel, 'CODE', concept), ConceptCodeSequence: [codeItem(value)] };
}

export function uidRef(rel: RelationshipType, concept: Code, uid: string): ContentItem {
  if (!isValidUid(uid)) throw new AinodeError('SR_INVALID', `UIDREF ${concept.meaning}: "${uid}" is not a UID`);
  return { ...base(rel, 'UIDREF', concept), UID: uid };
}

export function num(
  rel: RelationshipType,
  concept: Code,
  value: number,
  unit: Code,
  modifiers: ContentItem[] = [],
): ContentItem {
  if (!Number.isFinite(value))
    throw new AinodeError('SR_INVALID', `NUM ${concept.meaning}: value must be finite (got ${value})`);
  return {
    ...base(rel, 'NUM', concept),
    MeasuredValueSequence: [{ NumericValue: ds(value), MeasurementUnitsCodeSequence: [codeItem(unit)] }],
    ...(modifiers.length ? { ContentSequence: modifiers } : {}),
  };
}

export function image(
  rel: RelationshipType,
  concept: Code,
  ref: { sopClassUid: string; sopInstanceUid: string; segmentNumber?: number; frameNumber?: number },
): ContentItem {
  return {
    ...base(rel, 'IMAGE', concept),
    ReferencedSOPSequence: [
      {
        ReferencedSOPClassUID: ref.sopClassUid,
        ReferencedSOPInstanceUID: ref.sopInstanceUid,
        ...(ref.frameNumber !== undefined ? { ReferencedFrameNumber: ref.frameNumber } : {}),
        ...(ref.segmentNumber !== undefined ? { ReferencedSegmentNumber: ref.segmentNumber } : {}),
      },
    ],
  };
}

/** An IMAGE item without a concept name (Image Library entries, TID 1601). */
export function libraryImage(ref: { sopClassUid: string; sopInstanceUid: string }): ContentItem {
  return {
    RelationshipType: 'CONTAINS',
    ValueType: 'IMAGE',
    ReferencedSOPSequence: [{ ReferencedSOPClassUID: ref.sopClassUid, ReferencedSOPInstanceUID: ref.sopInstanceUid }],
  };
}

/**
 * A 2D spatial coordinate (SCOORD, no concept name) in image coordinates of the one image it is
 * SELECTED FROM (PS3.3 C.18.6). A POLYLINE whose last point equals its first is closed.
 */
export function scoord(
  rel: RelationshipType,
  graphicType: 'POINT' | 'POLYLINE' | 'POLYGON',
  points: number[],
  source: { sopClassUid: string; sopInstanceUid: string; frameNumber?: number },
  concept?: Code,
): ContentItem {
  if (points.length < 2 || points.length % 2 || !points.every(Number.isFinite))
    throw new AinodeError('SR_INVALID', `SCOORD ${graphicType}: needs finite (column,row) pairs`);
  return {
    RelationshipType: rel,
    ValueType: 'SCOORD',
    ...(concept ? { ConceptNameCodeSequence: [codeItem(concept)] } : {}),
    GraphicType: graphicType,
    GraphicData: points,
    ContentSequence: [
      {
        RelationshipType: 'SELECTED FROM',
        ValueType: 'IMAGE',
        ReferencedSOPSequence: [
          {
            ReferencedSOPClassUID: source.sopClassUid,
            ReferencedSOPInstanceUID: source.sopInstanceUid,
            ...(source.frameNumber !== undefined ? { ReferencedFrameNumber: source.frameNumber } : {}),
          },
        ],
      },
    ],
  };
}

/** A 3D spatial coordinate (SCOORD3D) in patient coordinates (mm) of a frame of reference (PS3.3 C.18.9). */
export function scoord3d(
  rel: RelationshipType,
  graphicType: 'POINT' | 'POLYLINE' | 'POLYGON',
  points: number[],
  frameOfReferenceUid: string,
  concept?: Code,
): ContentItem {
  if (points.length < 3 || points.length % 3 || !points.every(Number.isFinite))
    throw new AinodeError('SR_INVALID', `SCOORD3D ${graphicType}: needs finite (x,y,z) triples`);
  if (!isValidUid(frameOfReferenceUid))
    throw new AinodeError('SR_INVALID', `SCOORD3D: "${frameOfReferenceUid}" is not a valid frame of reference UID`);
  return {
    RelationshipType: rel,
    ValueType: 'SCOORD3D',
    ...(concept ? { ConceptNameCodeSequence: [codeItem(concept)] } : {}),
    GraphicType: graphicType,
    GraphicData: points,
    ReferencedFrameOfReferenceUID: frameOfReferenceUid,
  };
}
