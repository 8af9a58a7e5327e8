/**
 * Segment descriptions (PS3.3 C.8.20.4, Segment Description Macro), valid when constructed.
 */
import { AinodeError } from '../../errors';
import { codeItem, type Code } from '../codes';

export enum SegmentAlgorithmType {
  AUTOMATIC = 'AUTOMATIC',
  SEMIAUTOMATIC = 'SEMIAUTOMATIC',
  MANUAL = 'MANUAL',
}

export interface SegmentDescriptionInit {
  number: number;
  label: string;
  category: Code;
  type: Code;
  algorithmType: SegmentAlgorithmType;
  /** Required unless MANUAL. */
  algorithmName?: string;
  /** Algorithm Identification (CID 7162 family, e.g. Artificial Intelligence) and version. */
  algorithmFamily?: Code;
  algorithmVersion?: string;
  anatomicRegion?: Code;
  trackingId?: string;
  trackingUid?: string;
  /** CIELab as DICOM scales it (0..65535). */
  recommendedDisplayCIELab?: [number, number, number];
}

export class SegmentDescription {
  readonly init: Readonly<SegmentDescriptionInit>;

  constructor(init: SegmentDescriptionInit) {
    if (!Number.isInteger(init.number) || init.number < 1 || init.number > 65535) {
      throw new AinodeError('SEG_INVALID', `segment number must be an integer in 1..65535 (got ${init.number})`);
    }
    if (!init.label || init.label.length > 64)
      throw new AinodeError('SEG_INVALID', `segment ${init.number}: label must be 1..64 characters`);
    if (init.algorithmType !== SegmentAlgorithmType.MANUAL && !init.algorithmName) {
      throw new AinodeError(
        'SEG_INVALID',
        `segment ${init.number}: algorithm name is required for ${init.algorithmType} segments`,
      );
    }
    for (const c of [init.category, init.type, ...(init.anatomicRegion ? [init.anatomicRegion] : [])]) {
      if (!c.value || !c.scheme || !c.meaning)
        throw new AinodeError('SEG_INVALID', `segment ${init.number}: codes need a value, a scheme and a meaning`);
      if (c.value.length > 16 || c.scheme.length > 16 || c.meaning.length > 64)
        throw new AinodeError(
          'SEG_INVALID',
          `segment ${init.number}: code "${c.value}" too long (value and scheme at most 16 characters, meaning 64)`,
        );
    }
    this.init = Object.freeze({ ...init });
  }

  toItem(): Record<string, unknown> {
    const s = this.init;
    return {
      SegmentNumber: s.number,
      SegmentLabel: s.label,
      SegmentedPropertyCategoryCodeSequence: [codeItem(s.category)],
      SegmentedPropertyTypeCodeSequence: [codeItem(s.type)],
      ...(s.anatomicRegion ? { AnatomicRegionSequence: [codeItem(s.anatomicRegion)] } : {}),
      SegmentAlgorithmType: s.algorithmType,
      ...(s.algorithmName ? { SegmentAlgorithmName: s.algorithmName } : {}),
      ...(s.algorithmName && s.algorithmFamily
        ? {
            SegmentationAlgorithmIdentificationSequence: [
              {
                AlgorithmFamilyCodeSequence: [codeItem(s.algorithmFamily)],
                AlgorithmName: s.algorithmName,
                AlgorithmVersion: s.algorithmVersion ?? '',
              },
            ],
          }
        : {}),
      ...(s.trackingId ? { TrackingID: s.trackingId } : {}),
      ...(s.trackingUid ? { TrackingUID: s.trackingUid } : {}),
      ...(s.recommendedDisplayCIELab ? { RecommendedDisplayCIELabValue: s.recommendedDisplayCIELab } : {}),
    };
  }
}
