/**
 * Reading Segmentation objects written by anyone (tolerant when reading): BINARY with bits packed
 * across frame boundaries (non-byte-aligned frames), FRACTIONAL, and LABELMAP SEGs
 * (1.2.840.10008.5.1.4.1.1.66.7); native, deflated, big-endian and encapsulated pixel data (RLE,
 * JPEG 2000, Deflated Image Frame Compression). Each frame comes back with its segment, its source
 * reference and position, and one byte per pixel.
 */
import { inflateFrame } from '../structure';
import { AinodeError } from '../../errors';
import { readPart10, type NaturalDataset } from '../part10';
import { decodeFrame, initCodecs, isNativeTransferSyntax, pixelFormat, type PixelFormat } from '../pixel-data';

export const LABELMAP_SEGMENTATION_STORAGE = '1.2.840.10008.5.1.4.1.1.66.7';
const SEGMENTATION_STORAGE = '1.2.840.10008.5.1.4.1.1.66.4';
const DEFLATED_FRAMES = '1.2.840.10008.1.2.8.1';
const RLE = '1.2.840.10008.1.2.5';

export interface SegmentInfo {
  number: number;
  label: string;
  categoryCode?: string;
  typeCode?: string;
  typeScheme?: string;
  algorithmType?: string;
}

export interface SegFrame {
  /** 0 for a label-map frame (pixel values are segment numbers). */
  segmentNumber: number;
  sourceSopInstanceUid?: string;
  sourceFrameNumber?: number;
  imagePositionPatient?: number[];
  /** One byte per pixel: 0/1 (BINARY), 0..MaximumFractionalValue (FRACTIONAL), segment number (LABELMAP). */
  pixels: Uint8Array | Uint16Array;
}

export interface ReadSegmentation {
  sopInstanceUid: string;
  type: 'BINARY' | 'FRACTIONAL' | 'LABELMAP';
  rows: number;
  columns: number;
  segments: SegmentInfo[];
  frames: SegFrame[];
  frameOfReferenceUid?: string;
}

type Item = Record<string, unknown>;
const items = (v: unknown): Item[] =>
  Array.isArray(v) ? (v as Item[]) : v && typeof v === 'object' ? [v as Item] : [];
const first = (v: unknown, k: string): unknown => items(v)[0]?.[k];

/** PackBits RLE (PS3.5 Annex G) of one frame; for BitsAllocated 1 the single segment holds packed bits. */
function decodeRleFrame(encoded: Uint8Array, expected: number): Uint8Array {
  const dv = new DataView(encoded.buffer, encoded.byteOffset, encoded.byteLength);
  const segments = dv.getUint32(0, true);
  if (segments !== 1)
    throw new AinodeError('PIXEL_DATA_UNSUPPORTED', `RLE 1-bit frames must have one segment (found ${segments})`, {
      retryable: false,
    });
  const start = dv.getUint32(4, true);
  const out = new Uint8Array(expected);
  let o = 0;
  for (let i = start; i < encoded.length && o < expected;) {
    const n = (encoded[i++] << 24) >> 24;
    if (n >= 0) {
      for (let j = 0; j <= n && o < expected; j++) out[o++] = encoded[i++];
    } else if (n !== -128) {
      const b = encoded[i++];
      for (let j = 0; j < 1 - n && o < expected; j++) out[o++] = b;
    }
  }
  return out;
}

function unpackBits(packed: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (packed[i >> 3] >> (i & 7)) & 1;
  return out;
}

function framePixels(ds: NaturalDataset, ts: string, f: PixelFormat, index: number): Uint8Array | Uint16Array {
  const n = f.rows * f.columns;
  if (f.bitsAllocated === 1 && (ts === RLE || ts === DEFLATED_FRAMES)) {
    const parts = (Array.isArray(ds.PixelData) ? ds.PixelData : [ds.PixelData]) as ArrayBuffer[];
    if (parts.length !== f.frames)
      throw new AinodeError('PIXEL_DATA_UNSUPPORTED', `${parts.length} fragments for ${f.frames} frames`, {
        retryable: false,
      });
    const enc = new Uint8Array(parts[index]);
    const packed = ts === RLE ? decodeRleFrame(enc, Math.ceil(n / 8)) : inflateFrame(enc, Math.ceil(n / 8), index + 1);
    return unpackBits(packed, n);
  }
  if (ts === DEFLATED_FRAMES) {
    const parts = (Array.isArray(ds.PixelData) ? ds.PixelData : [ds.PixelData]) as ArrayBuffer[];
    const raw = inflateFrame(new Uint8Array(parts[index]), n * (f.bitsAllocated / 8), index + 1);
    return f.bitsAllocated === 16 ? new Uint16Array(raw.buffer, raw.byteOffset, n) : raw.subarray(0, n);
  }
  if (f.bitsAllocated === 1 && !isNativeTransferSyntax(ts)) {
    // Encapsulated 1-bit frames (e.g. JPEG 2000) decode to one byte per pixel.
    return decodeFrame(ds, ts, { ...f, bitsAllocated: 8, bitsStored: 1 }, index).subarray(0, n);
  }
  const bytes = decodeFrame(ds, ts, f, index);
  if (f.bitsAllocated === 1) return unpackBits(bytes, n);
  if (f.bitsAllocated === 16) return new Uint16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + 2 * n));
  return bytes.subarray(0, n);
}

export async function readSegmentation(part10: Buffer): Promise<ReadSegmentation> {
  await initCodecs();
  const { transferSyntaxUid: ts, dataset: ds } = readPart10(part10);
  const sopClass = String(ds.SOPClassUID ?? '');
  if (sopClass !== SEGMENTATION_STORAGE && sopClass !== LABELMAP_SEGMENTATION_STORAGE) {
    throw new AinodeError('DICOM_PARSE_FAILED', `not a Segmentation (SOP Class ${sopClass || 'missing'})`, {
      retryable: false,
    });
  }
  const declared = String(ds.SegmentationType ?? '').toUpperCase();
  const type: ReadSegmentation['type'] =
    sopClass === LABELMAP_SEGMENTATION_STORAGE || declared === 'LABELMAP'
      ? 'LABELMAP'
      : declared === 'FRACTIONAL'
        ? 'FRACTIONAL'
        : 'BINARY';
  const f = pixelFormat(ds);
  const shared = items(ds.SharedFunctionalGroupsSequence)[0] ?? {};
  const perFrame = items(ds.PerFrameFunctionalGroupsSequence);
  const frames: SegFrame[] = [];
  for (let i = 0; i < f.frames; i++) {
    const pf = perFrame[i] ?? {};
    const group = (seq: string, k: string): unknown => first(pf[seq], k) ?? first(shared[seq], k);
    const source = items(first(pf.DerivationImageSequence, 'SourceImageSequence'))[0];
    const ipp = group('PlanePositionSequence', 'ImagePositionPatient');
    frames.push({
      segmentNumber:
        type === 'LABELMAP' ? 0 : Number(group('SegmentIdentificationSequence', 'ReferencedSegmentNumber') ?? 0),
      ...(source?.ReferencedSOPInstanceUID ? { sourceSopInstanceUid: String(source.ReferencedSOPInstanceUID) } : {}),
      ...(source?.ReferencedFrameNumber !== undefined
        ? { sourceFrameNumber: Number(source.ReferencedFrameNumber) }
        : {}),
      ...(Array.isArray(ipp) ? { imagePositionPatient: ipp.map(Number) } : {}),
      pixels: framePixels(ds, ts, f, i),
    });
  }
  const segments = items(ds.SegmentSequence).map((s) => ({
    number: Number(s.SegmentNumber),
    label: String(s.SegmentLabel ?? ''),
    categoryCode: first(s.SegmentedPropertyCategoryCodeSequence, 'CodeValue') as string | undefined,
    typeCode: first(s.SegmentedPropertyTypeCodeSequence, 'CodeValue') as string | undefined,
    typeScheme: first(s.SegmentedPropertyTypeCodeSequence, 'CodingSchemeDesignator') as string | undefined,
    algorithmType: s.SegmentAlgorithmType as string | undefined,
  }));
  return {
    sopInstanceUid: String(ds.SOPInstanceUID),
    type,
    rows: f.rows,
    columns: f.columns,
    segments,
    frames,
    frameOfReferenceUid: ds.FrameOfReferenceUID as string | undefined,
  };
}
