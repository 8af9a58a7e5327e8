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

export function readPart10(bytes: Buffer | Uint8Array): ParsedPart10 {
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
