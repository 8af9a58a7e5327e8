/**
 * An independent reader for the SEG objects under test: frames, their source references and
 * plane positions, and the mask bits. Kept apart from the writer so a writer bug cannot hide.
 */
import { readPart10 } from '../../src/dicom/part10';

export interface SegFrame {
  segmentNumber: number;
  sourceSopInstanceUid: string;
  imagePositionPatient: number[];
  bits: Uint8Array; // one byte per pixel, 0/1
}

export interface ReadSeg {
  rows: number;
  columns: number;
  frames: SegFrame[];
  segments: { number: number; label: string; typeCode: string }[];
  dataset: Record<string, unknown>;
}

type Item = Record<string, unknown>;
const seq = (ds: Item, k: string): Item[] => (Array.isArray(ds[k]) ? (ds[k] as Item[]) : []);

export function readSeg(part10: Buffer): ReadSeg {
  const { dataset } = readPart10(part10);
  const rows = Number(dataset.Rows);
  const columns = Number(dataset.Columns);
  const n = Number(dataset.NumberOfFrames);
  const pd = dataset.PixelData as ArrayBuffer[];
  const bytes = new Uint8Array(pd[0]);
  const plane = rows * columns;
  const perFrame = seq(dataset, 'PerFrameFunctionalGroupsSequence');
  if (perFrame.length !== n) throw new Error(`NumberOfFrames ${n} but ${perFrame.length} per-frame items`);
  const frames = perFrame.map((f, idx) => {
    const src = seq(seq(f, 'DerivationImageSequence')[0] ?? {}, 'SourceImageSequence')[0] ?? {};
    const bits = new Uint8Array(plane);
    for (let p = 0; p < plane; p++) {
      const b = idx * plane + p;
      bits[p] = (bytes[b >> 3] >> (b & 7)) & 1;
    }
    return {
      segmentNumber: Number(seq(f, 'SegmentIdentificationSequence')[0]?.ReferencedSegmentNumber),
      sourceSopInstanceUid: String(src.ReferencedSOPInstanceUID),
      imagePositionPatient: (seq(f, 'PlanePositionSequence')[0]?.ImagePositionPatient as unknown[]).map(Number),
      bits,
    };
  });
  const segments = seq(dataset, 'SegmentSequence').map((s) => ({
    number: Number(s.SegmentNumber),
    label: String(s.SegmentLabel),
    typeCode: String(seq(s, 'SegmentedPropertyTypeCodeSequence')[0]?.CodeValue),
  }));
  return { rows, columns, frames, segments, dataset };
}

/** NUM values of an SR by (measurement group tracking id, concept meaning). */
export function readSrNumbers(part10: Buffer): Map<string, Map<string, number>> {
  const { dataset } = readPart10(part10);
  const out = new Map<string, Map<string, number>>();
  const walk = (items: Item[]): void => {
    for (const it of items) {
      const concept = String(seq(it, 'ConceptNameCodeSequence')[0]?.CodeMeaning ?? '');
      if (it.ValueType === 'CONTAINER' && concept === 'Measurement Group') {
        const children = seq(it, 'ContentSequence');
        const tid = children.find((c) => seq(c, 'ConceptNameCodeSequence')[0]?.CodeMeaning === 'Tracking Identifier');
        const values = new Map<string, number>();
        for (const c of children) {
          if (c.ValueType === 'NUM')
            values.set(
              String(seq(c, 'ConceptNameCodeSequence')[0]?.CodeMeaning),
              Number(seq(c, 'MeasuredValueSequence')[0]?.NumericValue),
            );
        }
        out.set(String(tid?.TextValue), values);
      } else walk(seq(it, 'ContentSequence'));
    }
  };
  walk(seq(dataset, 'ContentSequence'));
  return out;
}
