// Minimal typings for the parts of dcmjs that src/dicom/part10.ts uses. dcmjs ships no types;
// nothing outside src/dicom/part10.ts imports dcmjs.
declare module 'dcmjs' {
  interface DicomDictLike {
    meta: Record<string, unknown>;
    dict: Record<string, unknown>;
    write(options?: Record<string, unknown>): ArrayBuffer;
  }
  export const data: {
    DicomMessage: { readFile(buf: ArrayBuffer, options?: Record<string, unknown>): DicomDictLike };
    DicomDict: new (meta: Record<string, unknown>) => DicomDictLike;
    DicomMetaDictionary: {
      nameMap: Record<string, { tag: string; vr: string; name: string }>;
      dictionary: Record<string, { tag: string; vr: string; name: string } | undefined>;
      naturalizeDataset(dict: Record<string, unknown>): Record<string, unknown>;
      denaturalizeDataset(ds: Record<string, unknown>): Record<string, unknown>;
    };
  };
  export const log: { setLevel(level: string): void; getLogger?(name: string): { setLevel(level: string): void } };
}
