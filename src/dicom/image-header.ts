/**
 * A lean reader for the instances a volume is built from: it walks the element headers of a
 * Part 10 image once and decodes only the attributes volume assembly needs (image type, UIDs,
 * plane geometry, Image Pixel module, rescale), with PixelData as a view into the received bytes
 * (no copy). dcmjs decodes every element of every instance (about 2 ms per CT slice on the
 * development machine, more than the transfer of the slice itself); this reader only skips over
 * what it does not need.
 *
 * It reads only the common case: a file with the preamble and "DICM", Implicit or Explicit VR
 * Little Endian, native (not encapsulated) pixel data, and no Enhanced multi-frame functional
 * groups. Anything else, and anything it finds odd (a length past the end, an item where an
 * element should be), it does not read at all: it returns undefined and the caller uses the full
 * dcmjs reader (src/dicom/part10.ts), which accepts more and reports errors with codes. A unit
 * test compares the two readers attribute by attribute and frame by frame over the whole shared
 * corpus; they agree wherever both read a file, and the one file only this reader reads is one
 * whose private nested sequence dcmjs trips over (tolerant when reading).
 *
 * Values are returned the way dcmjs "naturalizes" them (one value: a scalar; several: an array;
 * DS/IS as numbers), so `pixelFormat`, `decodeFrame` and the volume builder read either.
 */
import { MAX_SEQUENCE_DEPTH } from './structure';
import { TransferSyntax, type ParsedPart10 } from './part10';

/** The attributes decoded, with the VR used where the transfer syntax is implicit. */
const WANTED: Record<number, [keyword: string, vr: string]> = {
  0x00080008: ['ImageType', 'CS'],
  0x00080016: ['SOPClassUID', 'UI'],
  0x00080018: ['SOPInstanceUID', 'UI'],
  0x0020000d: ['StudyInstanceUID', 'UI'],
  0x0020000e: ['SeriesInstanceUID', 'UI'],
  0x00200032: ['ImagePositionPatient', 'DS'],
  0x00200037: ['ImageOrientationPatient', 'DS'],
  0x00200052: ['FrameOfReferenceUID', 'UI'],
  0x00280002: ['SamplesPerPixel', 'US'],
  0x00280004: ['PhotometricInterpretation', 'CS'],
  0x00280006: ['PlanarConfiguration', 'US'],
  0x00280008: ['NumberOfFrames', 'IS'],
  0x00280010: ['Rows', 'US'],
  0x00280011: ['Columns', 'US'],
  0x00280030: ['PixelSpacing', 'DS'],
  0x00280100: ['BitsAllocated', 'US'],
  0x00280101: ['BitsStored', 'US'],
  0x00280102: ['HighBit', 'US'],
  0x00280103: ['PixelRepresentation', 'US'],
  // US or SS: in an implicit-VR file the VR follows PixelRepresentation (read before it).
  0x00280120: ['PixelPaddingValue', 'US|SS'],
  0x00281052: ['RescaleIntercept', 'DS'],
  0x00281053: ['RescaleSlope', 'DS'],
};

const PIXEL_DATA = 0x7fe00010;
/** Enhanced multi-frame: per-frame geometry lives in these sequences; the full reader handles it. */
const FUNCTIONAL_GROUPS = new Set([0x52009229, 0x52009230]);
/** Explicit VRs with a 2-byte reserved field and a 4-byte length. */
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const UNDEFINED_LENGTH = 0xffffffff;
const ITEM = 0xfffee000;
const ITEM_DELIMITER = 0xfffee00d;
const SEQUENCE_DELIMITER = 0xfffee0dd;

/** Thrown inside the walk when the bytes are not the simple case; never leaves this module. */
class NotLean extends Error {}

class Walker {
  private readonly view: DataView;
  private depth = 0;

  constructor(
    private readonly bytes: Uint8Array,
    public explicit: boolean,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  tag(pos: number): number {
    this.need(pos, 4);
    return ((this.view.getUint16(pos, true) << 16) | this.view.getUint16(pos + 2, true)) >>> 0;
  }

  /** The element header at `pos`: VR ('' when implicit), value length, where the value starts. */
  header(pos: number): { tag: number; vr: string; length: number; valueAt: number } {
    const tag = this.tag(pos);
    this.need(pos, 8);
    // Items and delimiters have no VR in either encoding; implicit-VR elements have none either.
    if (tag >>> 16 === 0xfffe || !this.explicit)
      return { tag, vr: '', length: this.view.getUint32(pos + 4, true), valueAt: pos + 8 };
    const vr = String.fromCharCode(this.bytes[pos + 4], this.bytes[pos + 5]);
    if (!/^[A-Z]{2}$/.test(vr)) throw new NotLean();
    if (LONG_VRS.has(vr)) {
      this.need(pos, 12);
      return { tag, vr, length: this.view.getUint32(pos + 8, true), valueAt: pos + 12 };
    }
    return { tag, vr, length: this.view.getUint16(pos + 6, true), valueAt: pos + 8 };
  }

  need(pos: number, n: number): void {
    if (pos + n > this.bytes.length) throw new NotLean();
  }

  /**
   * Skips a sequence (or UN) of undefined length starting at `pos` (its first item), returning the
   * position after its delimiter. Items of undefined length are walked element by element.
   * `explicit` is the encoding inside: a UN of undefined length holds implicit VR (PS3.5 6.2.2).
   */
  skipUndefinedSequence(pos: number, explicit: boolean): number {
    const outer = this.explicit;
    this.explicit = explicit;
    // Deeply nested input goes to the full reader, which refuses it with a code (structure.ts).
    if (++this.depth > MAX_SEQUENCE_DEPTH) throw new NotLean();
    try {
      for (;;) {
        const h = this.header(pos);
        if (h.tag === SEQUENCE_DELIMITER) return h.valueAt;
        if (h.tag !== ITEM) throw new NotLean();
        if (h.length !== UNDEFINED_LENGTH) {
          this.need(h.valueAt, h.length);
          pos = h.valueAt + h.length;
          continue;
        }
        pos = h.valueAt;
        for (;;) {
          const e = this.header(pos);
          if (e.tag === ITEM_DELIMITER) {
            pos = e.valueAt;
            break;
          }
          pos = this.skipElement(e);
        }
      }
    } finally {
      this.explicit = outer;
      this.depth--;
    }
  }

  /** The position after the element whose header is `h`. */
  skipElement(h: { tag: number; vr: string; length: number; valueAt: number }): number {
    if (h.tag >>> 16 === 0xfffe) throw new NotLean();
    if (h.length === UNDEFINED_LENGTH)
      return this.skipUndefinedSequence(h.valueAt, h.vr === 'UN' ? false : this.explicit);
    this.need(h.valueAt, h.length);
    return h.valueAt + h.length;
  }
}

function text(bytes: Uint8Array, from: number, length: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + from, length).toString('latin1');
}

/** One value as dcmjs naturalizes it: a scalar for one value, an array for several. */
function single<T>(values: T[]): T | T[] | undefined {
  return values.length === 0 ? undefined : values.length === 1 ? values[0] : values;
}

function decodeValue(bytes: Uint8Array, vr: string, at: number, length: number): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, length);
  switch (vr) {
    case 'US':
    case 'SS': {
      const out: number[] = [];
      for (let i = 0; i + 2 <= length; i += 2) out.push(vr === 'US' ? view.getUint16(i, true) : view.getInt16(i, true));
      return single(out);
    }
    case 'UI':
      return text(bytes, at, length).replace(/[\0 ]+$/, '');
    case 'DS':
    case 'IS': {
      const raw = text(bytes, at, length).trim();
      if (raw === '') return undefined;
      const parts = raw.split('\\').map((s) => s.trim());
      // A value that is not a number stays with the full reader (it reports it with a code).
      if (parts.some((s) => s === '' || !Number.isFinite(Number(s)))) throw new NotLean();
      return single(parts.map(Number));
    }
    case 'CS': {
      const raw = text(bytes, at, length).replace(/[\0 ]+$/, '');
      if (raw === '') return undefined;
      return single(raw.split('\\').map((s) => s.trim()));
    }
    default:
      throw new NotLean();
  }
}

/**
 * The attributes volume assembly needs and a view of the native pixel data, or undefined where
 * the instance is not the simple case (then read it with `readPart10`).
 */
export function readImageHeader(bytes: Uint8Array): ParsedPart10 | undefined {
  try {
    return walk(bytes);
  } catch (e) {
    if (e instanceof NotLean) return undefined;
    throw e;
  }
}

function walk(bytes: Uint8Array): ParsedPart10 | undefined {
  if (bytes.length < 132 || bytes[128] !== 0x44 || bytes[129] !== 0x49 || bytes[130] !== 0x43 || bytes[131] !== 0x4d)
    return undefined;
  // File meta information: always explicit VR little endian.
  const meta = new Walker(bytes, true);
  let pos = 132;
  let transferSyntaxUid = '';
  while (pos + 8 <= bytes.length && meta.tag(pos) >>> 16 === 0x0002) {
    const h = meta.header(pos);
    if (h.length === UNDEFINED_LENGTH) return undefined;
    meta.need(h.valueAt, h.length);
    if (h.tag === 0x00020010) transferSyntaxUid = text(bytes, h.valueAt, h.length).replace(/[\0 ]+$/, '');
    pos = h.valueAt + h.length;
  }
  const explicit = transferSyntaxUid === TransferSyntax.ExplicitVRLittleEndian;
  if (!explicit && transferSyntaxUid !== TransferSyntax.ImplicitVRLittleEndian) return undefined;

  const w = new Walker(bytes, explicit);
  const dataset: Record<string, unknown> = {};
  while (pos < bytes.length) {
    const h = w.header(pos);
    if (h.tag === PIXEL_DATA) {
      if (h.length === UNDEFINED_LENGTH) return undefined; // encapsulated
      w.need(h.valueAt, h.length);
      dataset.PixelData = bytes.subarray(h.valueAt, h.valueAt + h.length);
      dataset._vrMap = { PixelData: explicit ? h.vr : 'OW' };
      return { transferSyntaxUid, dataset };
    }
    if (FUNCTIONAL_GROUPS.has(h.tag)) return undefined;
    if (h.tag > PIXEL_DATA) break;
    const wanted = WANTED[h.tag];
    if (wanted && h.length !== UNDEFINED_LENGTH) {
      w.need(h.valueAt, h.length);
      let vr = explicit ? h.vr : wanted[1];
      if (vr === 'US|SS') vr = dataset.PixelRepresentation === 1 ? 'SS' : 'US';
      if (explicit && !wanted[1].split('|').includes(vr)) return undefined; // an unexpected VR: leave it to dcmjs
      const value = decodeValue(bytes, vr, h.valueAt, h.length);
      if (value !== undefined) dataset[wanted[0]] = value;
    }
    pos = w.skipElement(h);
  }
  return undefined; // no pixel data: not an image for a volume
}
