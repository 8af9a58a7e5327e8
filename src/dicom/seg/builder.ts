/**
 * Binary Segmentation Storage (PS3.3 A.51) from a label map on the source volume's grid.
 * The object is complete and valid when built; invalid input throws SEG_INVALID.
 *
 * Frames: one per (segment, source slice) where the segment has voxels, ordered by segment then
 * by position along the slice normal. Each frame references its source image
 * (DerivationImageSequence/SourceImageSequence, purpose 121322), carries its PlanePosition and
 * DimensionIndexValues (segment number, 1-based slice position). Orientation and pixel
 * measures are shared. Pixel data: 1 bit per pixel, packed continuously, first pixel in bit 0.
 */
import { AinodeError } from '../../errors';
import { Codes, codeItem } from '../codes';
import { AINODE_EQUIPMENT, dicomDateTime, ds } from '../equipment';
import { writePart10, type NaturalDataset } from '../part10';
import { patientStudyModule, type PatientStudyAttributes } from '../study-attributes';
import { deterministicUid, isValidUid } from '../uid';
import type { ScalarVolume } from '../../volume/volume';
import type { SegmentDescription } from './segment';

export const SEGMENTATION_STORAGE = '1.2.840.10008.5.1.4.1.1.66.4';

export interface SegmentationInit {
  source: Pick<ScalarVolume, 'geometry' | 'slices' | 'seriesInstanceUid'>;
  patientStudy: PatientStudyAttributes;
  segments: SegmentDescription[];
  /** Label map on the source grid: 0 background, otherwise a segment number (BINARY). */
  labels: Uint8Array;
  /**
   * FRACTIONAL instead of BINARY: per segment (index = number - 1) a map of values 0..1 on the
   * source grid, stored as 8-bit fractions of MaximumFractionalValue 255. `labels` is then unused.
   */
  fractional?: { maps: Float32Array[]; type: 'PROBABILITY' | 'OCCUPANCY' };
  /** The algorithm as Contributing Equipment (IHE AI Results: purpose Processing Equipment). */
  contributingEquipment?: { manufacturer: string; modelName: string; softwareVersions: string; deviceUid: string };
  seriesInstanceUid: string;
  sopInstanceUid: string;
  seriesNumber: number;
  seriesDescription: string;
  contentLabel: string;
  contentDescription?: string;
  instanceNumber?: number;
  createdAt?: Date;
  /** Local coding schemes used by segment codes, declared in CodingSchemeIdentificationSequence. */
  codingSchemes?: { designator: string; name: string; organization: string }[];
}

export interface BuiltSegmentation {
  dataset: NaturalDataset;
  part10: Buffer;
  numberOfFrames: number;
  /** Voxels per segment number, counted from the frames written. */
  voxelsPerSegment: Map<number, number>;
}

/** Each source instance once (a multi-frame source contributes many slices). */
export function uniqueInstances<T extends { sopInstanceUid: string }>(slices: T[]): T[] {
  const seen = new Set<string>();
  return slices.filter((s) => !seen.has(s.sopInstanceUid) && (seen.add(s.sopInstanceUid), true));
}

function check(cond: boolean, message: string): void {
  if (!cond) throw new AinodeError('SEG_INVALID', message);
}

export function buildSegmentation(init: SegmentationInit): BuiltSegmentation {
  const g = init.source.geometry;
  const plane = g.columns * g.rows;
  if (!init.fractional) check(init.labels.length === plane * g.slices, `label map has ${init.labels.length} voxels, the source grid ${plane * g.slices}`);
  check(init.source.slices.length === g.slices, 'every slice of the source grid needs its source image');
  check(init.segments.length > 0, 'a segmentation needs at least one segment');
  init.segments.forEach((s, i) => check(s.init.number === i + 1, `segment numbers must start at 1 and increase by 1 (found ${s.init.number} at position ${i + 1})`));
  for (const uid of [init.seriesInstanceUid, init.sopInstanceUid, init.patientStudy.StudyInstanceUID, g.frameOfReferenceUid]) {
    check(isValidUid(uid), `"${uid}" is not a valid UID`);
  }
  check(Number.isInteger(init.seriesNumber) && init.seriesNumber >= 0, 'series number must be a non-negative integer');

  // Which (segment, slice) frames are non-empty.
  const nSeg = init.segments.length;
  const counts = new Map<number, number>();
  const sliceHas: Uint8Array[] = init.segments.map(() => new Uint8Array(g.slices));
  const frac = init.fractional;
  if (frac) {
    check(frac.maps.length === nSeg, `fractional maps: ${frac.maps.length} given for ${nSeg} segments`);
    frac.maps.forEach((m, i) => {
      check(m.length === plane * g.slices, `fractional map ${i + 1} is not on the source grid`);
      for (let k = 0; k < g.slices; k++)
        for (let p = 0; p < plane; p++) {
          const v = m[k * plane + p];
          if (!(v >= 0 && v <= 1)) check(false, `fractional map ${i + 1} has a value outside 0..1`);
          if (Math.round(v * 255) > 0) (sliceHas[i][k] = 1), counts.set(i + 1, (counts.get(i + 1) ?? 0) + 1);
        }
    });
  } else {
    const perLabel = new Float64Array(256);
    for (let k = 0; k < g.slices; k++) {
      const base = k * plane;
      for (let p = 0; p < plane; p++) {
        const l = init.labels[base + p];
        if (l === 0) continue;
        if (l > nSeg) check(false, `label value ${l} has no segment description`);
        sliceHas[l - 1][k] = 1;
        perLabel[l]++;
      }
    }
    for (let l = 1; l <= nSeg; l++) if (perLabel[l]) counts.set(l, perLabel[l]);
  }
  for (const s of init.segments) check((counts.get(s.init.number) ?? 0) > 0, `segment ${s.init.number} (${s.init.label}) is empty`);

  const frames: { segment: number; k: number }[] = [];
  for (let s = 1; s <= nSeg; s++) for (let k = 0; k < g.slices; k++) if (sliceHas[s - 1][k]) frames.push({ segment: s, k });

  let pixelBytes: Uint8Array;
  if (frac) {
    // 8 bits per pixel, frames back to back.
    pixelBytes = new Uint8Array(frames.length * plane + ((frames.length * plane) % 2));
    frames.forEach((f, i) => {
      const m = frac.maps[f.segment - 1];
      for (let p = 0; p < plane; p++) pixelBytes[i * plane + p] = Math.round(m[f.k * plane + p] * 255);
    });
  } else {
    // 1 bit per pixel, packed continuously across frames, first pixel in the lowest bit.
    const totalBits = frames.length * plane;
    pixelBytes = new Uint8Array(Math.ceil(totalBits / 8) + (Math.ceil(totalBits / 8) % 2));
    let bit = 0;
    const L = init.labels;
    for (const f of frames) {
      const base = f.k * plane;
      const seg = f.segment;
      let p = 0;
      if ((bit & 7) === 0) {
        // Byte-aligned frame start (always, when rows x columns is a multiple of 8): 8 pixels a byte.
        let o = bit >> 3;
        for (; p + 8 <= plane; p += 8, o++) {
          const q = base + p;
          pixelBytes[o] =
            (L[q] === seg ? 1 : 0) | (L[q + 1] === seg ? 2 : 0) | (L[q + 2] === seg ? 4 : 0) | (L[q + 3] === seg ? 8 : 0) |
            (L[q + 4] === seg ? 16 : 0) | (L[q + 5] === seg ? 32 : 0) | (L[q + 6] === seg ? 64 : 0) | (L[q + 7] === seg ? 128 : 0);
        }
        bit += p;
      }
      for (; p < plane; p++, bit++) if (L[base + p] === seg) pixelBytes[bit >> 3] |= 1 << (bit & 7);
    }
  }

  const dimensionOrganizationUid = deterministicUid(init.sopInstanceUid, 'dimension-organization');
  const now = dicomDateTime(init.createdAt);
  const perFrame = frames.map((f) => {
    const src = init.source.slices[f.k];
    return {
      DerivationImageSequence: [
        {
          SourceImageSequence: [
            {
              ReferencedSOPClassUID: src.sopClassUid,
              ReferencedSOPInstanceUID: src.sopInstanceUid,
              ...(src.frameNumber !== undefined ? { ReferencedFrameNumber: src.frameNumber } : {}),
              PurposeOfReferenceCodeSequence: [codeItem(Codes.sourceImageForProcessing)],
            },
          ],
          DerivationCodeSequence: [codeItem(Codes.segmentation)],
        },
      ],
      FrameContentSequence: [{ DimensionIndexValues: [f.segment, f.k + 1] }],
      PlanePositionSequence: [{ ImagePositionPatient: src.imagePositionPatient.map(ds) }],
      SegmentIdentificationSequence: [{ ReferencedSegmentNumber: f.segment }],
    };
  });

  const dataset: NaturalDataset = {
    SpecificCharacterSet: 'ISO_IR 192',
    SOPClassUID: SEGMENTATION_STORAGE,
    SOPInstanceUID: init.sopInstanceUid,
    InstanceCreationDate: now.date,
    InstanceCreationTime: now.time,
    ...(init.codingSchemes?.length
      ? { CodingSchemeIdentificationSequence: init.codingSchemes.map((c) => ({ CodingSchemeDesignator: c.designator, CodingSchemeName: c.name, CodingSchemeResponsibleOrganization: c.organization })) }
      : {}),
    ...patientStudyModule(init.patientStudy),
    // General Series + Segmentation Series
    Modality: 'SEG',
    SeriesInstanceUID: init.seriesInstanceUid,
    SeriesNumber: init.seriesNumber,
    SeriesDescription: init.seriesDescription,
    SeriesDate: now.date,
    SeriesTime: now.time,
    // Frame of Reference
    FrameOfReferenceUID: g.frameOfReferenceUid,
    PositionReferenceIndicator: '',
    // General + Enhanced General Equipment
    ...AINODE_EQUIPMENT,
    ...(init.contributingEquipment
      ? {
          ContributingEquipmentSequence: [
            {
              Manufacturer: init.contributingEquipment.manufacturer,
              ManufacturerModelName: init.contributingEquipment.modelName,
              SoftwareVersions: init.contributingEquipment.softwareVersions,
              DeviceUID: init.contributingEquipment.deviceUid,
              PurposeOfReferenceCodeSequence: [codeItem(Codes.processingEquipment)],
              ContributionDateTime: `${now.date}${now.time}`,
              ContributionDescription: 'AI segmentation',
            },
          ],
        }
      : {}),
    // General Image / Segmentation Image (Content Identification)
    InstanceNumber: init.instanceNumber ?? 1,
    ContentDate: now.date,
    ContentTime: now.time,
    ImageType: ['DERIVED', 'PRIMARY'],
    ContentLabel: init.contentLabel,
    ContentDescription: init.contentDescription ?? '',
    ContentCreatorName: '',
    SegmentationType: frac ? 'FRACTIONAL' : 'BINARY',
    ...(frac ? { SegmentationFractionalType: frac.type, MaximumFractionalValue: 255 } : {}),
    SegmentSequence: init.segments.map((s) => s.toItem()),
    // Image Pixel
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: g.rows,
    Columns: g.columns,
    BitsAllocated: frac ? 8 : 1,
    BitsStored: frac ? 8 : 1,
    HighBit: frac ? 7 : 0,
    PixelRepresentation: 0,
    LossyImageCompression: '00',
    // Multi-frame Functional Groups
    NumberOfFrames: frames.length,
    SharedFunctionalGroupsSequence: [
      {
        PlaneOrientationSequence: [{ ImageOrientationPatient: [...g.rowDirection, ...g.columnDirection].map(ds) }],
        PixelMeasuresSequence: [
          {
            PixelSpacing: [ds(g.spacing[1]), ds(g.spacing[0])],
            SliceThickness: ds(g.spacing[2]),
            SpacingBetweenSlices: ds(g.spacing[2]),
          },
        ],
      },
    ],
    PerFrameFunctionalGroupsSequence: perFrame,
    // Multi-frame Dimension
    DimensionOrganizationSequence: [{ DimensionOrganizationUID: dimensionOrganizationUid }],
    DimensionIndexSequence: [
      {
        DimensionOrganizationUID: dimensionOrganizationUid,
        DimensionIndexPointer: 0x0062000b,
        FunctionalGroupPointer: 0x0062000a,
        DimensionDescriptionLabel: 'Segment Number',
      },
      {
        DimensionOrganizationUID: dimensionOrganizationUid,
        DimensionIndexPointer: 0x00200032,
        FunctionalGroupPointer: 0x00209113,
        DimensionDescriptionLabel: 'Image Position Patient',
      },
    ],
    // Common Instance Reference
    ReferencedSeriesSequence: [
      {
        SeriesInstanceUID: init.source.seriesInstanceUid,
        ReferencedInstanceSequence: uniqueInstances(init.source.slices).map((s) => ({ ReferencedSOPClassUID: s.sopClassUid, ReferencedSOPInstanceUID: s.sopInstanceUid })),
      },
    ],
    PixelData: [pixelBytes.buffer],
  };
  const part10 = writePart10(dataset, { PixelData: 'OB' });
  return { dataset, part10, numberOfFrames: frames.length, voxelsPerSegment: counts };
}
