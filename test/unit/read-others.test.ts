/**
 * Issue 3: reading SEG and SR objects written by other tools (dcmqi, pydicom's corpus, dcmjs),
 * in every encoding, tolerantly; non-conformant content is reported, not guessed.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { readPart10 } from '../../src/dicom/part10';
import { readSegmentation } from '../../src/dicom/seg/reader';
import { readMeasurementReport } from '../../src/dicom/sr/reader';
import { SHARED_DATA } from '../support/env';

const PYD = path.join(SHARED_DATA, 'reference', 'pydicom-data');
const DCMQI = path.join(SHARED_DATA, 'reference', 'dcmqi');
const DCMJS = path.join(SHARED_DATA, 'reference', 'dcmjs');
const read = (f: string): Promise<Awaited<ReturnType<typeof readSegmentation>>> => readSegmentation(fs.readFileSync(f));
const ones = (a: ArrayLike<number>): number => {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i]) n++;
  return n;
};

/** Set bits in a native 1-bit PixelData element: an independent count of what the frames must hold. */
function popcount(file: string): number {
  const pd = readPart10(fs.readFileSync(file)).dataset.PixelData as ArrayBuffer[];
  let n = 0;
  for (const b of new Uint8Array(pd[0])) for (let x = b; x; x &= x - 1) n++;
  return n;
}

describe('dicom/seg/reader: SEGs written by other tools', () => {
  for (const [base, size] of [
    ['liver', 512],
    ['liver_nonbyte_aligned', 510],
  ] as const) {
    it(`${base}: every encoding (native, big endian, deflate, RLE, JPEG 2000) reads to the same masks`, async () => {
      const ref = await read(path.join(PYD, `${base}.dcm`));
      expect(ref.type).to.equal('BINARY');
      expect([ref.rows, ref.columns]).to.deep.equal([size, size]);
      expect(ref.frames.reduce((s, f) => s + ones(f.pixels), 0)).to.equal(popcount(path.join(PYD, `${base}.dcm`)));
      const variants = fs
        .readdirSync(PYD)
        .filter(
          (f) =>
            f.startsWith(`${base}_`) &&
            f.endsWith('.dcm') &&
            (base === 'liver_nonbyte_aligned' || !f.startsWith('liver_nonbyte')),
        );
      expect(variants.length).to.be.at.least(3);
      for (const v of variants) {
        const other = await read(path.join(PYD, v));
        expect(other.frames.length, v).to.equal(ref.frames.length);
        other.frames.forEach((f, i) => {
          expect(f.segmentNumber, v).to.equal(ref.frames[i].segmentNumber);
          expect(
            Buffer.from(f.pixels as Uint8Array).equals(Buffer.from(ref.frames[i].pixels as Uint8Array)),
            `${v} frame ${i + 1}`,
          ).to.equal(true);
        });
      }
    });
  }

  it('dcmqi 23x38x3: frames whose bits are not byte aligned unpack without losing a bit', async () => {
    const f = path.join(DCMQI, 'segmentations', '23x38x3', 'seg', 'label.seg');
    const seg = await read(f);
    expect([seg.rows, seg.columns]).to.deep.equal([38, 23]);
    expect(seg.frames.reduce((s, fr) => s + ones(fr.pixels), 0)).to.equal(popcount(f));
  });

  it('dcmqi label-map SEGs (with and without a pixel padding value) give the same segments', async () => {
    const a = await read(path.join(DCMQI, 'segmentations', 'sparse-labelmap-ppv5.dcm'));
    const b = await read(path.join(DCMQI, 'segmentations', 'sparse-labelmap-noppv.dcm'));
    expect(a.type).to.equal('LABELMAP');
    const numbers = new Set(a.segments.map((s) => s.number));
    const seen = new Set<number>();
    a.frames.forEach((f, i) => {
      for (let p = 0; p < f.pixels.length; p++) {
        const v = f.pixels[p];
        const w = b.frames[i].pixels[p];
        // Padding (5 in one file) and background (0) both mean "no segment".
        const sa = numbers.has(v) ? v : 0;
        const sb = numbers.has(w) ? w : 0;
        expect(sa).to.equal(sb);
        if (sa) seen.add(sa);
      }
    });
    expect(seen.size).to.be.greaterThan(0);
  });

  it('dcmqi partial overlaps, the dcmqi SR example SEG and the dcmjs tumour SEG read with source references', async () => {
    for (const f of [
      path.join(DCMQI, 'segmentations', 'partial_overlaps.dcm'),
      path.join(DCMQI, 'sr-example', 'seg.dcm'),
      path.join(DCMJS, 'tumor_User1_Manual_Trial1.dcm'),
    ]) {
      const seg = await read(f);
      expect(seg.segments.length, f).to.be.greaterThan(0);
      expect(
        seg.frames.every((fr) => fr.sourceSopInstanceUid && fr.segmentNumber > 0),
        f,
      ).to.equal(true);
      expect(
        seg.frames.some((fr) => ones(fr.pixels) > 0),
        f,
      ).to.equal(true);
    }
  });

  it('a non-SEG object is refused with a clear code', async () => {
    try {
      await read(path.join(DCMQI, 'sr-example', 'sr.dcm'));
      expect.fail('should have thrown');
    } catch (e) {
      expect((e as { code?: string }).code).to.equal('DICOM_PARSE_FAILED');
      expect((e as Error).message).to.match(/not a Segmentation/);
    }
  });
});

describe('dicom/sr/reader: TID 1500 reports written by other tools', () => {
  it("dcmqi's TID 1500 example: measurement groups with referenced segments and values", () => {
    const r = readMeasurementReport(fs.readFileSync(path.join(DCMQI, 'sr-example', 'sr.dcm')));
    expect(r.templateId).to.equal('1500');
    expect(r.problems).to.deep.equal([]);
    expect(r.groups.length).to.be.greaterThan(0);
    expect(r.groups.every((g) => g.referencedSegment?.sopInstanceUid)).to.equal(true);
    expect(r.groups.flatMap((g) => g.measurements).every((m) => Number.isFinite(m.value))).to.equal(true);
  });

  it('the non-conformant dcmjs SR (NUM without MeasuredValueSequence) is read tolerantly and its problem reported', () => {
    const r = readMeasurementReport(fs.readFileSync(path.join(DCMJS, 'structured_report.dcm')));
    expect(r.problems.some((p) => /NUM ".*" has no MeasuredValueSequence/.test(p))).to.equal(true);
    expect(r.groups.flatMap((g) => g.measurements).some((m) => m.value === undefined)).to.equal(true);
  });
});
