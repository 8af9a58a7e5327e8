/**
 * The only module that touches dcmjs: DICOM Part 10 bytes <-> "naturalized" datasets
 * (attributes by keyword). Everything above it works on typed records (src/dicom/instance.ts,
 * src/dicom/seg/, src/dicom/sr/) so dcmjs's mutable model does not leak into the node.
 */
import * as dcmjs from 'dcmjs';
import { AinodeError } from '../errors';

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
    const ts = /^[A-Z]{2}$/.test(vr) ? '1.2.840.10008.1.2.1' : '1.2.840.10008.1.2';
    const value = Buffer.from(ts.length % 2 ? `${ts}\0` : ts, 'latin1');
    const element = Buffer.concat([Buffer.from([0x02, 0x00, 0x10, 0x00, 0x55, 0x49, value.length, 0x00]), value]);
    const groupLength = Buffer.concat([Buffer.from([0x02, 0x00, 0x00, 0x00, 0x55, 0x4c, 0x04, 0x00]), Buffer.from(new Uint32Array([element.length]).buffer)]);
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
      metaEnd += long ? 12 + dv.getUint32(metaEnd + 8, true) : 8 + dv.getUint16(metaEnd + 6, true);
    }
  }
  const groupLength = hasGroupLength ? new Uint8Array(0) : Uint8Array.from([0x02, 0x00, 0x00, 0x00, 0x55, 0x4c, 0x04, 0x00, ...new Uint8Array(new Uint32Array([metaEnd - start]).buffer)]);
  const out = new Uint8Array(132 + groupLength.length + bytes.length - start);
  out.set(DICM, 128);
  out.set(groupLength, 132);
  out.set(bytes.subarray(start), 132 + groupLength.length);
  return out;
}

export function readPart10(input: Buffer | Uint8Array): ParsedPart10 {
  const bytes = normalisePart10(input);
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let dict;
  try {
    dict = dcmjs.data.DicomMessage.readFile(ab, { ignoreErrors: false });
  } catch (e) {
    throw new AinodeError('DICOM_PARSE_FAILED', `not a readable DICOM Part 10 object: ${(e as Error).message}`, { retryable: false });
  }
  const meta = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.meta);
  const dataset = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict);
  return { transferSyntaxUid: String(meta.TransferSyntaxUID ?? ''), dataset };
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
    const entry = Object.values(dcmjs.data.DicomMetaDictionary.nameMap).find((e) => e.tag.replace(/[(),]/g, '').toUpperCase() === hex);
    return { tag: hex, keyword: entry?.name ?? hex, vr: entry?.vr ?? 'UN' };
  }
  const e = dcmjs.data.DicomMetaDictionary.nameMap[name];
  return e ? { tag: e.tag.replace(/[(),]/g, '').toUpperCase(), keyword: e.name, vr: e.vr } : undefined;
}
