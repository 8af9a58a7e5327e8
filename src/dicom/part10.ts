/**
 * The only module that touches dcmjs: DICOM Part 10 bytes <-> "naturalized" datasets
 * (attributes by keyword). Everything above it works on typed records (src/dicom/instance.ts,
 * src/dicom/seg/, src/dicom/sr/) so dcmjs's mutable model does not leak into the node.
 */
import * as dcmjs from 'dcmjs';
import { AinodeError } from '../errors';
import { DEFAULT_INPUT_LIMITS, declaredPixelBytes, inflateDataset, scanDataset, type InputLimits } from './structure';

// dcmjs writes to the console through loglevel loggers (an unknown private tag, the "OB or OW"
// VR of implicit-VR PixelData). It would flood the node's structured logs; what matters surfaces
// as exceptions, which this module turns into coded errors.
for (const name of ['validation.dcmjs', 'dcmjs', 'AsyncDicomReader']) dcmjs.log.getLogger?.(name).setLevel('silent');
dcmjs.log.setLevel('silent');

export type NaturalDataset = Record<string, unknown>;

export const TransferSyntax = {
  ImplicitVRLittleEndian: '1.2.840.10008.1.2',
  ExplicitVRLittleEndian: '1.2.840.10008.1.2.1',
  DeflatedExplicitVRLittleEndian: '1.2.840.10008.1.2.1.99',
  ExplicitVRBigEndian: '1.2.840.10008.1.2.2',
} as const;

export const IMPLEMENTATION_CLASS_UID = '1.2.826.0.1.3680043.10.1443.1';
export const IMPLEMENTATION_VERSION_NAME = 'AINODE_0_1';

export interface ParsedPart10 {
  transferSyntaxUid: string;
  dataset: NaturalDataset;
}

const DICM = [0x44, 0x49, 0x43, 0x4d];

/**
 * Some tools write Part 10 without the 128-byte preamble and "DICM", or without the file meta
 * group length (0002,0000). dcmjs needs both; add what is missing so such files read normally
 * (tolerant when reading). The meta group is always explicit VR little endian.
 */
function normalisePart10(bytes: Buffer | Uint8Array): Uint8Array {
  const hasMarker = bytes.length > 132 && DICM.every((b, i) => bytes[128 + i] === b);
  if (!hasMarker && bytes.length > 8 && bytes[1] === 0x00 && bytes[0] >= 0x08 && bytes[0] % 2 === 0) {
    // A bare dataset without any file meta (older tools write these): little endian, implicit
    // VR unless a VR follows the first tag.
    const vr = String.fromCharCode(bytes[4], bytes[5]);
    const ts = /^[A-Z]{2}$/.test(vr) ? TransferSyntax.ExplicitVRLittleEndian : TransferSyntax.ImplicitVRLittleEndian;
    const value = Buffer.from(ts.length % 2 ? `${ts}\0` : ts, 'latin1');
    const element = Buffer.concat([Buffer.from([0x02, 0x00, 0x10, 0x00, 0x55, 0x49, value.length, 0x00]), value]);
    const groupLength = Buffer.concat([
      Buffer.from([0x02, 0x00, 0x00, 0x00, 0x55, 0x4c, 0x04, 0x00]),
      Buffer.from(new Uint32Array([element.length]).buffer),
    ]);
    const out = new Uint8Array(132 + groupLength.length + element.length + bytes.length);
    out.set(DICM, 128);
    out.set(groupLength, 132);
    out.set(element, 132 + groupLength.length);
    out.set(bytes, 132 + groupLength.length + element.length);
    return out;
  }
  const start = hasMarker ? 132 : 0;
  if (!hasMarker && !(bytes.length > 8 && bytes[0] === 0x02 && bytes[1] === 0x00)) return bytes;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hasGroupLength = dv.getUint16(start, true) === 0x0002 && dv.getUint16(start + 2, true) === 0x0000;
  if (hasMarker && hasGroupLength) return bytes;
  let metaEnd = start;
  if (!hasGroupLength) {
    while (metaEnd + 8 <= bytes.length && dv.getUint16(metaEnd, true) === 0x0002) {
      const vr = String.fromCharCode(bytes[metaEnd + 4], bytes[metaEnd + 5]);
      const long = ['OB', 'OW', 'OF', 'SQ', 'UT', 'UN'].includes(vr);
      if (long && metaEnd + 12 > bytes.length) break;
      metaEnd += long ? 12 + dv.getUint32(metaEnd + 8, true) : 8 + dv.getUint16(metaEnd + 6, true);
    }
    if (metaEnd > bytes.length)
      throw new AinodeError('DICOM_PARSE_FAILED', 'the file meta information runs past the end of the object', {
        retryable: false,
      });
  }
  const groupLength = hasGroupLength
    ? new Uint8Array(0)
    : Uint8Array.from([
        0x02,
        0x00,
        0x00,
        0x00,
        0x55,
        0x4c,
        0x04,
        0x00,
        ...new Uint8Array(new Uint32Array([metaEnd - start]).buffer),
      ]);
  const out = new Uint8Array(132 + groupLength.length + bytes.length - start);
  out.set(DICM, 128);
  out.set(groupLength, 132);
  out.set(bytes.subarray(start), 132 + groupLength.length);
  return out;
}

function isSequenceTag(tag: number): boolean {
  const key = `(${(tag >>> 16).toString(16).padStart(4, '0').toUpperCase()},${(tag & 0xffff).toString(16).padStart(4, '0').toUpperCase()})`;
  return dcmjs.data.DicomMetaDictionary.dictionary[key]?.vr === 'SQ';
}

/** The file meta elements after "DICM" (without the group length) and where the dataset starts. */
function fileMeta(bytes: Uint8Array): { elements: Uint8Array; transferSyntaxUid: string; datasetAt: number } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 144 || dv.getUint32(132, true) !== 0x00000002)
    throw new AinodeError('DICOM_PARSE_FAILED', 'not a DICOM Part 10 object (no file meta information)', {
      retryable: false,
    });
  const datasetAt = 144 + dv.getUint32(140, true);
  if (datasetAt > bytes.length)
    throw new AinodeError('DICOM_PARSE_FAILED', 'the file meta information runs past the end of the object', {
      retryable: false,
    });
  let transferSyntaxUid = '';
  for (let pos = 144; pos + 8 <= datasetAt;) {
    const group = dv.getUint16(pos, true);
    const element = dv.getUint16(pos + 2, true);
    const vr = String.fromCharCode(bytes[pos + 4], bytes[pos + 5]);
    const long = ['OB', 'OW', 'OF', 'SQ', 'UT', 'UN'].includes(vr);
    const length = long ? dv.getUint32(pos + 8, true) : dv.getUint16(pos + 6, true);
    const at = pos + (long ? 12 : 8);
    if (group !== 0x0002 || at + length > datasetAt)
      throw new AinodeError('DICOM_PARSE_FAILED', 'the file meta information is malformed', { retryable: false });
    if (element === 0x0010)
      transferSyntaxUid = Buffer.from(bytes.buffer, bytes.byteOffset + at, length)
        .toString('latin1')
        .replace(/[\0 ]+$/, '');
    pos = at + length;
  }
  return { elements: bytes.subarray(144, datasetAt), transferSyntaxUid, datasetAt };
}

/** File meta elements with the transfer syntax replaced (the group length is recomputed by normalisePart10). */
function withTransferSyntax(elements: Uint8Array, uid: string): Uint8Array {
  const dv = new DataView(elements.buffer, elements.byteOffset, elements.byteLength);
  const parts: Uint8Array[] = [];
  for (let pos = 0; pos + 8 <= elements.length;) {
    const vr = String.fromCharCode(elements[pos + 4], elements[pos + 5]);
    const long = ['OB', 'OW', 'OF', 'SQ', 'UT', 'UN'].includes(vr);
    const end = pos + (long ? 12 + dv.getUint32(pos + 8, true) : 8 + dv.getUint16(pos + 6, true));
    if (dv.getUint16(pos + 2, true) === 0x0010) {
      const value = Buffer.from(uid.length % 2 ? `${uid}\0` : uid, 'latin1');
      parts.push(Buffer.from([0x02, 0x00, 0x10, 0x00, 0x55, 0x49, value.length, 0x00]), value);
    } else parts.push(elements.subarray(pos, end));
    pos = end;
  }
  return Buffer.concat(parts);
}

/**
 * Reads a Part 10 object, within `limits`: its structure is walked first (lengths that fit,
 * sequence nesting, the declared pixel size against the limits) and a deflated dataset is
 * inflated only as far as it declares (src/dicom/structure.ts), before dcmjs reads anything.
 * The transfer syntax reported is the object's own (a deflated one stays deflated: its
 * inflated pixel data is native little endian).
 */
export function readPart10(input: Buffer | Uint8Array, limits: InputLimits = DEFAULT_INPUT_LIMITS): ParsedPart10 {
  try {
    return readChecked(input, limits);
  } catch (e) {
    if (e instanceof AinodeError) throw e;
    // A bound the checks above missed (a view past the end): still a coded refusal, never a crash.
    throw new AinodeError('DICOM_PARSE_FAILED', `not a readable DICOM Part 10 object: ${(e as Error).message}`, {
      retryable: false,
    });
  }
}

function readChecked(input: Buffer | Uint8Array, limits: InputLimits): ParsedPart10 {
  let bytes = normalisePart10(input);
  const meta = fileMeta(bytes);
  const ts = meta.transferSyntaxUid;
  if (ts === TransferSyntax.DeflatedExplicitVRLittleEndian) {
    const inflated = inflateDataset(bytes.subarray(meta.datasetAt), limits);
    checkStructure(inflated, 0, true, false, limits);
    const head = new Uint8Array(132);
    head.set(DICM, 128);
    bytes = normalisePart10(
      Buffer.concat([head, withTransferSyntax(meta.elements, TransferSyntax.ExplicitVRLittleEndian), inflated]),
    );
  } else {
    checkStructure(
      bytes,
      meta.datasetAt,
      ts !== TransferSyntax.ImplicitVRLittleEndian,
      ts === TransferSyntax.ExplicitVRBigEndian,
      limits,
    );
  }
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let dict;
  try {
    dict = dcmjs.data.DicomMessage.readFile(ab, { ignoreErrors: false });
  } catch (e) {
    throw new AinodeError('DICOM_PARSE_FAILED', `not a readable DICOM Part 10 object: ${(e as Error).message}`, {
      retryable: false,
    });
  }
  let dataset: NaturalDataset;
  let fileMetaDataset: NaturalDataset;
  try {
    fileMetaDataset = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.meta);
    dataset = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict);
  } catch (e) {
    throw new AinodeError('DICOM_PARSE_FAILED', `the object's attributes cannot be read: ${(e as Error).message}`, {
      retryable: false,
    });
  }
  return { transferSyntaxUid: ts || String(fileMetaDataset.TransferSyntaxUID ?? ''), dataset };
}

function checkStructure(
  bytes: Uint8Array,
  start: number,
  explicit: boolean,
  bigEndian: boolean,
  limits: InputLimits,
): void {
  const scan = scanDataset(bytes, start, explicit, { bigEndian, isSequenceTag });
  // An image's declared size within the limits before anything is decoded or copied.
  if (scan.pixelData && scan.rows !== undefined) declaredPixelBytes(scan, limits);
}

/**
 * Writes a dataset as Part 10, Explicit VR Little Endian. `vrOverrides` picks the VR where the
 * dictionary allows several (PixelData OB for a binary SEG).
 */
export function writePart10(dataset: NaturalDataset, vrOverrides: Record<string, string> = {}): Buffer {
  const sopClassUid = dataset.SOPClassUID;
  const sopInstanceUid = dataset.SOPInstanceUID;
  if (typeof sopClassUid !== 'string' || typeof sopInstanceUid !== 'string') {
    throw new AinodeError('DICOM_ATTRIBUTE_MISSING', 'cannot write a dataset without SOPClassUID and SOPInstanceUID');
  }
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: sopClassUid,
    MediaStorageSOPInstanceUID: sopInstanceUid,
    TransferSyntaxUID: TransferSyntax.ExplicitVRLittleEndian,
    ImplementationClassUID: IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: IMPLEMENTATION_VERSION_NAME,
  };
  const dict = new dcmjs.data.DicomDict(dcmjs.data.DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = dcmjs.data.DicomMetaDictionary.denaturalizeDataset({ ...dataset, _vrMap: vrOverrides });
  return Buffer.from(dict.write({ fragmentMultiframe: false }));
}

/**
 * A DICOM attribute named by keyword (StudyDescription) or tag (00081030, 0008,1030, (0008,1030)),
 * resolved with dcmjs's data dictionary. Returns the 8-hex-digit tag and the keyword, or undefined.
 */
export function resolveAttribute(name: string): { tag: string; keyword: string; vr: string } | undefined {
  const hex = name.replace(/[(),\s]/g, '').toUpperCase();
  if (/^[0-9A-F]{8}$/.test(hex)) {
    const entry = Object.values(dcmjs.data.DicomMetaDictionary.nameMap).find(
      (e) => e.tag.replace(/[(),]/g, '').toUpperCase() === hex,
    );
    return { tag: hex, keyword: entry?.name ?? hex, vr: entry?.vr ?? 'UN' };
  }
  const e = dcmjs.data.DicomMetaDictionary.nameMap[name];
  return e ? { tag: e.tag.replace(/[(),]/g, '').toUpperCase(), keyword: e.name, vr: e.vr } : undefined;
}

/**
 * A parsed dataset's attributes as DICOM JSON (tag -> {vr, Value}), its pixel data left out: for
 * evaluating rule conditions on one image.
 */
export function attributesAsJson(ds: NaturalDataset): Record<string, { vr: string; Value?: unknown[] }> {
  const plain: NaturalDataset = {};
  for (const [k, v] of Object.entries(ds))
    if (k !== 'PixelData' && k !== '_vrMap' && !(v instanceof ArrayBuffer) && !ArrayBuffer.isView(v)) plain[k] = v;
  try {
    return dcmjs.data.DicomMetaDictionary.denaturalizeDataset(plain) as Record<
      string,
      { vr: string; Value?: unknown[] }
    >;
  } catch (e) {
    throw new AinodeError('DICOM_PARSE_FAILED', `the image's attributes cannot be read: ${(e as Error).message}`, {
      retryable: false,
    });
  }
}
