/**
 * Builds a ScalarVolume from the Part 10 instances of one series, one instance at a time: each
 * instance is parsed, every frame decoded (any transfer syntax, src/volume/pixel-data.ts) and
 * rescaled to float32 at once into the buffer that becomes the volume (see VolumeBuilder), and the
 * parsed dataset dropped, so a long series never holds all datasets (nor, with the streaming
 * retrieve, the raw multipart body) in memory.
 *
 * Single-frame images and multi-frame Enhanced CT/MR (per-frame functional groups: plane position
 * and orientation, pixel measures, pixel value transformation, stack) are both turned into
 * frames. Then:
 *  - localizers (ImageType LOCALIZER) are separated out;
 *  - frames are grouped into stacks by orientation (and Enhanced StackID); the largest stack is the
 *    volume, other stacks of two or more frames are separated (logged by the caller), a single
 *    stray frame in another orientation is refused (mixed orientations);
 *  - within the stack, sizes, pixel spacing and frame of reference must agree (else refused), the
 *    frames are sorted along the slice normal, spacing comes from the positions (not
 *    SliceThickness) and must be even within 1%, and positions must follow the normal (a gantry
 *    tilt or sheared stack is refused).
 * Everything refused throws a coded AinodeError saying what was wrong.
 */
import { AinodeError } from '../errors';
import { readPart10, type NaturalDataset } from '../dicom/part10';
import { readImageHeader } from '../dicom/image-header';
import { pickPatientStudy, type PatientStudyAttributes } from '../dicom/study-attributes';
import { cross, dot, norm, sub, type Vec3 } from '../contracts/geometry';
import {
  checkPixelModule,
  decodeFrame,
  initCodecs,
  isSupportedTransferSyntax,
  pixelFormat,
  modalityValues,
  rescaleValue,
  type PixelFormat,
} from '../dicom/pixel-data';
import { DEFAULT_MAX_FRAME_PIXELS, DEFAULT_MAX_VOXELS, type InputLimits } from '../dicom/structure';
import type { ScalarVolume, SliceSource } from '../contracts/volume';

const SPACING_TOLERANCE = 0.01;
const ORIENTATION_TOLERANCE = 1e-3;
/** Frames beyond this many voxels in one series are refused before any allocation. */
export { DEFAULT_MAX_VOXELS };

interface Frame {
  source: SliceSource;
  orientation: number[];
  pixelSpacing: [number, number];
  rows: number;
  columns: number;
  frameOfReferenceUid: string;
  stack: string;
  /**
   * The decoded frame as stored values (for native little-endian data, a view into the received
   * instance) and how to rescale it. The float32 values are written on arrival into the staging
   * buffer (`slot`); the stored values are kept until the volume is built, for the frames the
   * staging buffer could not take (another size) or the volume made afresh (several stacks).
   */
  stored: Uint8Array;
  format: PixelFormat;
  rescale: { slope: number; intercept: number; padding: number | undefined; paddingOut: number };
  /** Where the frame's float32 values already are in the staging buffer (see VolumeBuilder). */
  slot?: number;
}

/**
 * Slices the staging buffer holds at first; when full it grows fourfold (one copy of what it
 * holds). A new buffer's pages are touched only as slices arrive, so its unused capacity costs
 * address space, not memory (a kept one, below, is resident already). A resizable ArrayBuffer
 * would avoid the copy, but in Node 20 every typed array over one is read 2-4 times slower
 * (measured), and the volume is read many times.
 */
const STAGING_SLICES = 64;

/**
 * One staging buffer kept from a finished study for the next one (VolumeBuilder.recycle, or
 * VolumeBuilder.keep for a model input of its own that the model has read): its
 * pages stay resident, so the next study's frames are rescaled into memory that is already
 * there instead of being faulted in page by page (on a virtual machine whose host takes back
 * freed memory that is slow: rescaling 64 CT slices into a fresh buffer 140-160 ms, into a kept
 * one 23-30 ms). Safe to reuse across studies because a volume is only ever the staging slots
 * written in its own study: each slot is filled whole by the rescale before it counts (see
 * voxelsInOrder), so nothing of an earlier study can show through.
 */
let spare: ArrayBuffer | undefined;
/** A larger buffer (an unusually long series) is let go: an idle worker holds at most this much. */
const SPARE_MAX_BYTES = 256 * 1024 * 1024;
/** Staging buffers handed out by builders and not recycled since: only these are taken back. */
const issued = new WeakSet<ArrayBuffer>();
/** The larger of the spare and `buffer` stays the spare (none over SPARE_MAX_BYTES). */
function offerSpare(buffer: ArrayBuffer): void {
  if (buffer.byteLength <= SPARE_MAX_BYTES && (!spare || spare.byteLength < buffer.byteLength)) spare = buffer;
}

type Item = Record<string, unknown>;
const items = (v: unknown): Item[] =>
  Array.isArray(v) ? (v as Item[]) : v && typeof v === 'object' ? [v as Item] : [];

function numbers(v: unknown, what: string, count: number): number[] {
  const arr = (Array.isArray(v) ? v : v === undefined || v === '' ? [] : [v]).map((x) => Number(x));
  if (arr.length < count || arr.slice(0, count).some((x) => !Number.isFinite(x))) {
    throw new AinodeError('DICOM_ATTRIBUTE_MISSING', `${what} is missing or not ${count} numbers`, {
      retryable: false,
      hint: 'the series has no usable geometry; it cannot be made a volume',
    });
  }
  return arr.slice(0, count);
}

function text(ds: NaturalDataset, keyword: string): string {
  const v = ds[keyword];
  if (typeof v !== 'string' || v === '')
    throw new AinodeError('DICOM_ATTRIBUTE_MISSING', `${keyword} is missing`, { retryable: false });
  return v;
}

/**
 * PixelPaddingValue as a stored value. Its VR is US or SS by PixelRepresentation (PS3.3
 * C.7.5.1.1.2); in an implicit-VR file a generic reader cannot know which and may read a signed
 * -2000 as 63536, which would never match a stored value. Reinterpreted here by the image's own
 * PixelRepresentation.
 */
export function paddingValue(raw: unknown, f: PixelFormat): number | undefined {
  const v = Array.isArray(raw) ? raw[0] : raw;
  if (v === undefined || v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) return undefined;
  if (f.pixelRepresentation === 1 && n >= 0x8000 && n <= 0xffff) return n - 0x10000; // a 16-bit SS read as US
  return n;
}

export interface AssembledSeries {
  volume: ScalarVolume;
  patientStudy: PatientStudyAttributes;
  /** What was separated from the volume: localizers and other stacks (frame counts). */
  separated: { localizers: number; otherStacks: number[] };
}

/**
 * Collects the instances of a series as they arrive and makes the volume. Each frame is rescaled
 * to float32 on arrival, into the next slot of a staging buffer (see STAGING_SLICES), so the work
 * overlaps the transfer. When the series turns out to be one stack (the common case), the staging
 * buffer becomes the volume: its slices are put in order in place, which costs nothing when they
 * arrived in order. Otherwise (several stacks, mixed sizes) the volume is made afresh from the
 * staged and stored values. The stored values are kept until then.
 */
export class VolumeBuilder {
  private readonly frames: Frame[] = [];
  private patientStudy: PatientStudyAttributes | undefined;
  private localizers = 0;
  private voxels = 0;
  private staging: { voxels: Float32Array<ArrayBuffer>; rows: number; columns: number; slots: number } | undefined;

  private readonly limits: InputLimits;

  private constructor(
    private readonly seriesInstanceUid: string,
    private readonly maxVoxels: number,
    maxFramePixels: number,
  ) {
    this.limits = { maxVoxels, maxFramePixels };
  }

  /** A builder; loads the codecs first (once per process). */
  static async create(
    seriesInstanceUid: string,
    maxVoxels = DEFAULT_MAX_VOXELS,
    maxFramePixels = DEFAULT_MAX_FRAME_PIXELS,
  ): Promise<VolumeBuilder> {
    await initCodecs();
    return new VolumeBuilder(seriesInstanceUid, maxVoxels, maxFramePixels);
  }

  get frameCount(): number {
    return this.frames.length;
  }

  /**
   * Parses one instance and keeps only its decoded frames and geometry. The first instance is
   * read in full (its patient and study attributes go into the results); the others through the
   * lean image-header reader where they are the common case, else in full as well.
   */
  add(part10: Buffer): void {
    const { transferSyntaxUid, dataset: ds } =
      (this.patientStudy && readImageHeader(part10)) || readPart10(part10, this.limits);
    if (!isSupportedTransferSyntax(transferSyntaxUid)) {
      throw new AinodeError(
        'PIXEL_DATA_UNSUPPORTED',
        `transfer syntax ${transferSyntaxUid || '(none)'} is not supported`,
        { retryable: false },
      );
    }
    if (ds.PixelData === undefined)
      throw new AinodeError('DICOM_ATTRIBUTE_MISSING', 'the instance has no pixel data (not an image)', {
        retryable: false,
      });
    const f = pixelFormat(ds);
    checkPixelModule(ds, f, transferSyntaxUid, this.limits.maxFramePixels);
    // Refuse absurd sizes before allocating anything (a header can claim anything).
    const claimed = f.rows * f.columns * f.frames;
    if (this.voxels + claimed > this.maxVoxels) {
      throw new AinodeError(
        'DICOM_INPUT_TOO_LARGE',
        `the series claims ${this.voxels + claimed} voxels, more than the limit ${this.maxVoxels}`,
        { retryable: false, hint: 'raise AINODE_MAX_VOXELS if this is a genuine series' },
      );
    }
    this.patientStudy ??= pickPatientStudy(ds);
    const imageType = (Array.isArray(ds.ImageType) ? ds.ImageType : [ds.ImageType]).map((v) =>
      String(v ?? '').toUpperCase(),
    );
    if (imageType.includes('LOCALIZER')) {
      this.localizers += f.frames;
      return;
    }
    const sopClassUid = text(ds, 'SOPClassUID');
    const sopInstanceUid = text(ds, 'SOPInstanceUID');
    const frameOfReferenceUid = text(ds, 'FrameOfReferenceUID');
    const shared = items(ds.SharedFunctionalGroupsSequence)[0] ?? {};
    const perFrame = items(ds.PerFrameFunctionalGroupsSequence);
    const enhanced = perFrame.length > 0;
    for (let i = 0; i < f.frames; i++) {
      const pf = perFrame[i] ?? {};
      const group = (seq: string, attr: string): unknown => items(pf[seq])[0]?.[attr] ?? items(shared[seq])[0]?.[attr];
      const ipp = numbers(
        enhanced ? group('PlanePositionSequence', 'ImagePositionPatient') : ds.ImagePositionPatient,
        'ImagePositionPatient',
        3,
      ) as Vec3;
      const iop = numbers(
        enhanced ? group('PlaneOrientationSequence', 'ImageOrientationPatient') : ds.ImageOrientationPatient,
        'ImageOrientationPatient',
        6,
      );
      const spacing = numbers(
        enhanced ? group('PixelMeasuresSequence', 'PixelSpacing') : ds.PixelSpacing,
        'PixelSpacing',
        2,
      ) as [number, number];
      const slopeRaw = enhanced
        ? (group('PixelValueTransformationSequence', 'RescaleSlope') ?? ds.RescaleSlope)
        : ds.RescaleSlope;
      const interRaw = enhanced
        ? (group('PixelValueTransformationSequence', 'RescaleIntercept') ?? ds.RescaleIntercept)
        : ds.RescaleIntercept;
      const slope = rescaleValue(slopeRaw, 'RescaleSlope');
      const intercept = rescaleValue(interRaw, 'RescaleIntercept');
      const padding = paddingValue(ds.PixelPaddingValue, f);
      // Padding becomes the lowest modality value the stored range reaches: with a negative
      // slope (applied exactly, like any other) that is the highest stored value's.
      const lowest = f.pixelRepresentation === 1 ? -(2 ** (f.bitsStored - 1)) : 0;
      const highest = f.pixelRepresentation === 1 ? 2 ** (f.bitsStored - 1) - 1 : 2 ** f.bitsStored - 1;
      const frame: Frame = {
        source: {
          sopClassUid,
          sopInstanceUid,
          imagePositionPatient: ipp,
          ...(enhanced || f.frames > 1 ? { frameNumber: i + 1 } : {}),
        },
        orientation: iop,
        pixelSpacing: spacing,
        rows: f.rows,
        columns: f.columns,
        frameOfReferenceUid,
        stack: enhanced ? String(group('FrameContentSequence', 'StackID') ?? '') : '',
        stored: decodeFrame(ds, transferSyntaxUid, f, i),
        format: f,
        rescale: { slope, intercept, padding, paddingOut: Math.min(lowest * slope, highest * slope) + intercept },
      };
      this.stage(frame);
      this.frames.push(frame);
      this.voxels += f.rows * f.columns;
    }
  }

  /**
   * Keeps the buffer under a finished study's volume for the next builder of this process (see
   * `spare`). Call it only once nothing reads `voxels` any more (the worker: after the results
   * are stored). Arrays that no builder handed out, or handed back already, are ignored.
   */
  static recycle(voxels: Float32Array): void {
    const buffer = voxels.buffer;
    if (!(buffer instanceof ArrayBuffer) || !issued.has(buffer)) return;
    issued.delete(buffer);
    offerSpare(buffer);
  }

  /**
   * Keeps a float32 array that the caller made and that nothing reads any more (the model input a
   * resampling or an intensity transform wrote) as the spare for the next builder, under the same
   * rules as `recycle`: a volume only ever exposes staging slots its own study filled whole. Only
   * an array that spans its whole buffer is taken (a view could share its buffer with live data).
   */
  static keep(voxels: Float32Array): void {
    const buffer = voxels.buffer;
    if (
      !(buffer instanceof ArrayBuffer) ||
      voxels.byteOffset !== 0 ||
      voxels.byteLength !== buffer.byteLength ||
      issued.has(buffer)
    )
      return;
    offerSpare(buffer);
  }

  /** A staging buffer of at least `length` floats: the spare when it is large enough. */
  private static stagingBuffer(length: number, limit: number): Float32Array<ArrayBuffer> {
    let voxels: Float32Array<ArrayBuffer>;
    if (spare && spare.byteLength >= length * 4) {
      // All of it: more slots before the buffer has to grow, up to the voxel limit.
      voxels = new Float32Array(spare, 0, Math.min(spare.byteLength / 4, Math.max(length, limit)));
      spare = undefined;
    } else voxels = new Float32Array(length);
    issued.add(voxels.buffer);
    return voxels;
  }

  /** Rescales the frame into the next staging slot, when it has the staged frames' size. */
  private stage(fr: Frame): void {
    const plane = fr.rows * fr.columns;
    // The claimed size was checked against maxVoxels before this frame was accepted.
    const limitSlots = Math.max(1, Math.floor(this.maxVoxels / plane));
    this.staging ??= {
      voxels: VolumeBuilder.stagingBuffer(plane * Math.min(STAGING_SLICES, limitSlots), plane * limitSlots),
      rows: fr.rows,
      columns: fr.columns,
      slots: 0,
    };
    const st = this.staging;
    if (fr.rows !== st.rows || fr.columns !== st.columns) return;
    if ((st.slots + 1) * plane > st.voxels.length) {
      const slots = Math.min(4 * Math.floor(st.voxels.length / plane), limitSlots);
      if (slots <= st.slots) return;
      const bigger = VolumeBuilder.stagingBuffer(slots * plane, slots * plane);
      bigger.set(st.voxels.subarray(0, st.slots * plane));
      issued.delete(st.voxels.buffer);
      st.voxels = bigger;
    }
    const r = fr.rescale;
    modalityValues(
      fr.stored,
      fr.format,
      r.slope,
      r.intercept,
      r.padding,
      r.paddingOut,
      st.voxels.subarray(st.slots * plane, (st.slots + 1) * plane),
    );
    fr.slot = st.slots++;
  }

  build(): AssembledSeries {
    if (this.frames.length === 0)
      throw new AinodeError(
        'SERIES_GEOMETRY_INCONSISTENT',
        this.localizers ? 'the series holds only localizers' : 'the series holds no image frames',
        { retryable: false },
      );
    // Stacks by orientation (and Enhanced StackID).
    const stacks: Frame[][] = [];
    for (const fr of this.frames) {
      const s = stacks.find(
        (st) =>
          st[0].stack === fr.stack &&
          st[0].orientation.every((v, i) => Math.abs(v - fr.orientation[i]) <= ORIENTATION_TOLERANCE),
      );
      if (s) s.push(fr);
      else stacks.push([fr]);
    }
    stacks.sort((a, b) => b.length - a.length);
    const [main, ...others] = stacks;
    if (others.some((s) => s.length === main.length))
      throw new AinodeError(
        'SERIES_GEOMETRY_INCONSISTENT',
        `the series holds ${stacks.length} stacks of equal size (${main.length} frames): which one is the volume is ambiguous`,
        { retryable: false },
      );
    if (others.some((s) => s.length === 1))
      throw new AinodeError(
        'SERIES_GEOMETRY_INCONSISTENT',
        'mixed orientations: a single frame lies in another orientation than the rest',
        { retryable: false },
      );
    const volume = this.buildStack(main);
    return {
      volume,
      patientStudy: this.patientStudy!,
      separated: { localizers: this.localizers, otherStacks: others.map((s) => s.length) },
    };
  }

  private buildStack(frames: Frame[]): ScalarVolume {
    if (frames.length < 2)
      throw new AinodeError(
        'SERIES_GEOMETRY_INCONSISTENT',
        `a volume needs at least 2 slices, the stack has ${frames.length}`,
        { retryable: false },
      );
    const ref = frames[0];
    for (const s of frames) {
      if (s.rows !== ref.rows || s.columns !== ref.columns)
        throw new AinodeError(
          'SERIES_GEOMETRY_INCONSISTENT',
          `mixed sizes in one stack (${ref.columns}x${ref.rows} and ${s.columns}x${s.rows})`,
          { retryable: false },
        );
      if (s.pixelSpacing.some((v, i) => Math.abs(v - ref.pixelSpacing[i]) > 1e-4))
        throw new AinodeError('SERIES_GEOMETRY_INCONSISTENT', 'mixed pixel spacing in one stack', { retryable: false });
      if (s.frameOfReferenceUid !== ref.frameOfReferenceUid)
        throw new AinodeError('SERIES_GEOMETRY_INCONSISTENT', 'frames in different frames of reference', {
          retryable: false,
        });
    }
    const rowDirection = ref.orientation.slice(0, 3) as Vec3;
    const columnDirection = ref.orientation.slice(3, 6) as Vec3;
    const normal = cross(rowDirection, columnDirection);
    if (Math.abs(norm(normal) - 1) > 1e-2 || Math.abs(dot(rowDirection, columnDirection)) > 1e-3) {
      throw new AinodeError('SERIES_GEOMETRY_INCONSISTENT', 'ImageOrientationPatient is not two orthonormal vectors', {
        retryable: false,
      });
    }
    frames.sort((a, b) => dot(a.source.imagePositionPatient, normal) - dot(b.source.imagePositionPatient, normal));
    const positions = frames.map((s) => dot(s.source.imagePositionPatient, normal));
    const gaps = positions.slice(1).map((p, i) => p - positions[i]);
    const spacing = (positions[positions.length - 1] - positions[0]) / (frames.length - 1);
    if (gaps.some((g) => g < 1e-3))
      throw new AinodeError(
        'SERIES_GEOMETRY_INCONSISTENT',
        'frames share one position (duplicates, several phases or a second acquisition)',
        { retryable: false },
      );
    const worst = Math.max(...gaps.map((g) => Math.abs(g - spacing)));
    if (worst > SPACING_TOLERANCE * spacing + 1e-3) {
      throw new AinodeError(
        'SERIES_GEOMETRY_INCONSISTENT',
        `uneven slice spacing: ${spacing.toFixed(3)} mm on average, a gap differs by ${worst.toFixed(3)} mm (missing or extra slices?)`,
        { retryable: false },
      );
    }
    for (let k = 1; k < frames.length; k++) {
      const d = sub(frames[k].source.imagePositionPatient, frames[0].source.imagePositionPatient);
      const along = dot(d, normal);
      const off = norm([d[0] - along * normal[0], d[1] - along * normal[1], d[2] - along * normal[2]]);
      if (off > 0.01 * spacing * k + 1e-2)
        throw new AinodeError(
          'SERIES_GEOMETRY_INCONSISTENT',
          'slice positions do not follow the slice normal (gantry tilt or a sheared stack is not supported)',
          { retryable: false },
        );
    }
    const voxels = this.voxelsInOrder(frames);
    for (const fr of this.frames) fr.stored = new Uint8Array(0); // the received instances can go
    return {
      geometry: {
        columns: ref.columns,
        rows: ref.rows,
        slices: frames.length,
        spacing: [ref.pixelSpacing[1], ref.pixelSpacing[0], spacing],
        origin: frames[0].source.imagePositionPatient,
        rowDirection,
        columnDirection,
        sliceDirection: normal,
        frameOfReferenceUid: ref.frameOfReferenceUid,
      },
      voxels,
      slices: frames.map((s) => s.source),
      seriesInstanceUid: this.seriesInstanceUid,
    };
  }

  /**
   * The float32 values of `frames` (sorted) as one volume. When the staging buffer holds exactly
   * these frames it becomes the volume, its slices permuted in place into order (cycle by cycle,
   * one slice of scratch; nothing moves when they arrived in order); else a fresh array is
   * filled from the staging slots and the stored values.
   */
  private voxelsInOrder(frames: Frame[]): Float32Array {
    const plane = frames[0].rows * frames[0].columns;
    const st = this.staging;
    this.staging = undefined;
    if (st && st.slots === frames.length && frames.every((f) => f.slot !== undefined)) {
      const voxels = st.voxels.subarray(0, plane * frames.length);
      const placed = new Uint8Array(frames.length);
      let scratch: Float32Array | undefined;
      for (let start = 0; start < frames.length; start++) {
        if (placed[start]) continue;
        if (frames[start].slot === start) {
          placed[start] = 1;
          continue;
        }
        // Position k takes the slice in slot frames[k].slot; follow the cycle back to `start`.
        scratch ??= new Float32Array(plane);
        scratch.set(voxels.subarray(start * plane, (start + 1) * plane));
        for (let k = start; ;) {
          const from = frames[k].slot!;
          placed[k] = 1;
          if (from === start) {
            voxels.set(scratch, k * plane);
            break;
          }
          voxels.copyWithin(k * plane, from * plane, (from + 1) * plane);
          k = from;
        }
      }
      return voxels;
    }
    const voxels = new Float32Array(plane * frames.length);
    const staged = st?.voxels;
    frames.forEach((s, k) => {
      const out = voxels.subarray(k * plane, (k + 1) * plane);
      if (staged && s.slot !== undefined) out.set(staged.subarray(s.slot * plane, (s.slot + 1) * plane));
      else {
        const r = s.rescale;
        modalityValues(s.stored, s.format, r.slope, r.intercept, r.padding, r.paddingOut, out);
      }
    });
    return voxels;
  }
}

/** Convenience: all instances at once (tests, converters). */
export async function assembleVolume(
  seriesInstanceUid: string,
  instances: Iterable<Buffer>,
  maxVoxels?: number,
): Promise<AssembledSeries> {
  const b = await VolumeBuilder.create(seriesInstanceUid, maxVoxels);
  for (const i of instances) b.add(i);
  return b.build();
}

export type { PixelFormat };
