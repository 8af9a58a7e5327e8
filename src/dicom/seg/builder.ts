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
import type { NaturalDataset } from '../part10';
import { writePart10Direct } from '../element-writer';
import { patientStudyModule, type PatientStudyAttributes } from '../study-attributes';
import { deterministicUid, isValidUid } from '../../contracts/uid';
import type { ScalarVolume } from '../../contracts/volume';
import type { SegmentDescription } from './segment';

export const SEGMENTATION_STORAGE = '1.2.840.10008.5.1.4.1.1.66.4';

export interface SegmentationInit {
  source: Pick<ScalarVolume, 'geometry' | 'slices' | 'seriesInstanceUid'>;
  patientStudy: PatientStudyAttributes;
  segments: SegmentDescription[];
  /** Label map on the source grid: 0 background, otherwise a segment number (BINARY). */
  labels: Uint8Array;
  /**
   * Where the label map holds other values than segment numbers (a model's own labels): for
   * each of the 256 values its segment number, 0 for background. Saves rewriting the map.
   */
  labelToSegment?: Uint8Array;
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

/** Whether the four label bytes of a word are one value (each byte equals the next; integer operations only). */
function uniformWord(w: number): boolean {
  return ((w ^ (w >>> 8)) & 0xffffff) === 0;
}

function check(cond: boolean, message: string): void {
  if (!cond) throw new AinodeError('SEG_INVALID', message);
}

export function buildSegmentation(init: SegmentationInit): BuiltSegmentation {
  const g = init.source.geometry;
  const plane = g.columns * g.rows;
  if (!init.fractional)
    check(
      init.labels.length === plane * g.slices,
      `label map has ${init.labels.length} voxels, the source grid ${plane * g.slices}`,
    );
  check(init.source.slices.length === g.slices, 'every slice of the source grid needs its source image');
  check(init.segments.length > 0, 'a segmentation needs at least one segment');
  init.segments.forEach((s, i) =>
    check(
      s.init.number === i + 1,
      `segment numbers must start at 1 and increase by 1 (found ${s.init.number} at position ${i + 1})`,
    ),
  );
  for (const uid of [
    init.seriesInstanceUid,
    init.sopInstanceUid,
    init.patientStudy.StudyInstanceUID,
    g.frameOfReferenceUid,
  ]) {
    check(isValidUid(uid), `"${uid}" is not a valid UID`);
  }
  check(Number.isInteger(init.seriesNumber) && init.seriesNumber >= 0, 'series number must be a non-negative integer');

  // Which (segment, slice) frames are non-empty.
  const nSeg = init.segments.length;
  const L = init.labels;
  // Label values -> segment numbers: the given table, or the values themselves.
  const segmentOf = init.labelToSegment ?? Uint8Array.from({ length: 256 }, (_, i) => i);
  check(segmentOf.length === 256, 'labelToSegment must map all 256 label values');
  // Word reads stay aligned only when every slice starts on a multiple of four voxels.
  const words =
    L.byteOffset % 4 === 0 && L.length % 4 === 0 && plane % 4 === 0
      ? new Uint32Array(L.buffer, L.byteOffset, L.length / 4)
      : undefined;
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
          if (Math.round(v * 255) > 0) ((sliceHas[i][k] = 1), counts.set(i + 1, (counts.get(i + 1) ?? 0) + 1));
        }
    });
  } else {
    // Background is most of a label map: read it four voxels at a time and skip zero words; a
    // word of one label (the inside of a segment) counts four voxels at once.
    const perLabel = new Float64Array(256);
    for (let k = 0; k < g.slices; k++) {
      const base = k * plane;
      const visit = (l: number, n: number): void => {
        if (l === 0) return;
        if (l > nSeg) check(false, `label value ${l} has no segment description`);
        sliceHas[l - 1][k] = 1;
        perLabel[l] += n;
      };
      let p = 0;
      if (words) {
        for (; p + 4 <= plane; p += 4) {
          const w = words[(base + p) >> 2];
          if (w === 0) continue;
          if (uniformWord(w)) {
            visit(segmentOf[w & 0xff], 4);
            continue;
          }
          visit(segmentOf[L[base + p]], 1);
          visit(segmentOf[L[base + p + 1]], 1);
          visit(segmentOf[L[base + p + 2]], 1);
          visit(segmentOf[L[base + p + 3]], 1);
        }
      }
      for (; p < plane; p++) visit(segmentOf[L[base + p]], 1);
    }
    for (let l = 1; l <= nSeg; l++) if (perLabel[l]) counts.set(l, perLabel[l]);
  }
  for (const s of init.segments)
    check((counts.get(s.init.number) ?? 0) > 0, `segment ${s.init.number} (${s.init.label}) is empty`);

  const frames: { segment: number; k: number }[] = [];
  for (let s = 1; s <= nSeg; s++)
    for (let k = 0; k < g.slices; k++) if (sliceHas[s - 1][k]) frames.push({ segment: s, k });

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
    if (words && plane % 8 === 0) {
      // Every frame starts on a byte: one pass over each slice fills the frames of all its
      // segments, eight pixels a byte, skipping background words.
      const frameByte = new Int32Array((nSeg + 1) * g.slices).fill(-1);
      frames.forEach((f, i) => (frameByte[f.segment * g.slices + f.k] = (i * plane) / 8));
      for (let k = 0; k < g.slices; k++) {
        const base = k * plane;
        for (let o = 0; o < plane / 8; o++) {
          const w = (base >> 2) + 2 * o;
          const a = words[w];
          const b = words[w + 1];
          if ((a | b) === 0) continue;
          if (a === b && uniformWord(a)) {
            // Eight voxels of one label: one byte of one frame.
            const seg = segmentOf[a & 0xff];
            if (seg) pixelBytes[frameByte[seg * g.slices + k] + o] = 0xff;
            continue;
          }
          const q = base + 8 * o;
          for (let j = 0; j < 8; j++) {
            const seg = segmentOf[L[q + j]];
            if (seg) pixelBytes[frameByte[seg * g.slices + k] + o] |= 1 << j;
          }
        }
      }
    } else {
      let bit = 0;
      for (const f of frames) {
        const base = f.k * plane;
        for (let p = 0; p < plane; p++, bit++)
          if (segmentOf[L[base + p]] === f.segment) pixelBytes[bit >> 3] |= 1 << (bit & 7);
      }
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
      ? {
          CodingSchemeIdentificationSequence: init.codingSchemes.map((c) => ({
            CodingSchemeDesignator: c.designator,
            CodingSchemeName: c.name,
            CodingSchemeResponsibleOrganization: c.organization,
          })),
        }
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
        ReferencedInstanceSequence: uniqueInstances(init.source.slices).map((s) => ({
          ReferencedSOPClassUID: s.sopClassUid,
          ReferencedSOPInstanceUID: s.sopInstanceUid,
        })),
      },
    ],
    PixelData: [pixelBytes.buffer],
  };
  // The per-frame groups and the pixel data, most of the object and most of dcmjs's writing
  // time, are encoded directly (the same bytes dcmjs writes: checked in the unit tests).
  const part10 = writePart10Direct(dataset, 'PerFrameFunctionalGroupsSequence', { PixelData: 'OB' });
  return { dataset, part10, numberOfFrames: frames.length, voxelsPerSegment: counts };
}
