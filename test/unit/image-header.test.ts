/**
 * Issue 7: the lean image-header reader (src/dicom/image-header.ts) reads exactly what dcmjs
 * reads, attribute by attribute and frame by frame, over every DICOM file of the shared corpus and
 * the demo CT; it declines (undefined) whatever is not the simple case, so the full reader takes it.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { readImageHeader } from '../../src/dicom/image-header';
import { readPart10, writePart10 } from '../../src/dicom/part10';
import { decodeFrame, pixelFormat } from '../../src/dicom/pixel-data';
import { paddingValue } from '../../src/volume/assemble';
import { CHEST_CT_DIR, SHARED_DATA } from '../support/env';

const KEYWORDS = [
  'ImageType',
  'SOPClassUID',
  'SOPInstanceUID',
  'StudyInstanceUID',
  'SeriesInstanceUID',
  'ImagePositionPatient',
  'ImageOrientationPatient',
  'FrameOfReferenceUID',
  'SamplesPerPixel',
  'PhotometricInterpretation',
  'PlanarConfiguration',
  'NumberOfFrames',
  'Rows',
  'Columns',
  'PixelSpacing',
  'BitsAllocated',
  'BitsStored',
  'PixelRepresentation',
  'RescaleIntercept',
  'RescaleSlope',
];

function dicomFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? dicomFiles(p) : e.name.endsWith('.dcm') ? [p] : [];
  });
}

// Element builders for hand-made files (little endian).
const u16 = (v: number): Buffer => Buffer.from(new Uint16Array([v]).buffer);
const u32 = (v: number): Buffer => Buffer.from(new Uint32Array([v]).buffer);
const tag = (g: number, e: number): Buffer => Buffer.concat([u16(g), u16(e)]);
const even = (s: string): Buffer => Buffer.from(s.length % 2 ? `${s} ` : s, 'latin1');
const uid = (s: string): Buffer => Buffer.from(s.length % 2 ? `${s}\0` : s, 'latin1');
const LONG = new Set(['OB', 'OW', 'SQ', 'UN', 'UT']);
function el(explicit: boolean, g: number, e: number, vr: string, value: Buffer, undefinedLength = false): Buffer {
  const len = undefinedLength ? 0xffffffff : value.length;
  if (!explicit) return Buffer.concat([tag(g, e), u32(len), value]);
  return LONG.has(vr)
    ? Buffer.concat([tag(g, e), Buffer.from(vr), u16(0), u32(len), value])
    : Buffer.concat([tag(g, e), Buffer.from(vr), u16(len), value]);
}
const item = (body: Buffer, undefinedLength: boolean): Buffer =>
  undefinedLength
    ? Buffer.concat([tag(0xfffe, 0xe000), u32(0xffffffff), body, tag(0xfffe, 0xe00d), u32(0)])
    : Buffer.concat([tag(0xfffe, 0xe000), u32(body.length), body]);
const seqEnd = (): Buffer => Buffer.concat([tag(0xfffe, 0xe0dd), u32(0)]);

function part10(ts: string, dataset: Buffer): Buffer {
  const tsEl = el(true, 0x0002, 0x0010, 'UI', uid(ts));
  const meta = Buffer.concat([el(true, 0x0002, 0x0000, 'UL', u32(tsEl.length)), tsEl]);
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), meta, dataset]);
}

/** A 4x2 16-bit signed image with the nested sequences a real CT can carry before its pixels. */
function handMade(
  explicit: boolean,
  opts: { undefinedSeq?: boolean; un?: boolean; enhanced?: boolean; encapsulated?: boolean } = {},
): Buffer {
  const x = explicit;
  const pixels = Buffer.from(new Int16Array([-1000, -2000, 0, 40, 100, 200, 300, 1500]).buffer);
  const nested = el(x, 0x0008, 0x1150, 'UI', uid('1.2.840.10008.5.1.4.1.1.2'));
  const inner = el(x, 0x0008, 0x1115, 'SQ', Buffer.concat([item(nested, true), seqEnd()]), true);
  const parts = [
    el(x, 0x0008, 0x0008, 'CS', even('ORIGINAL\\PRIMARY\\AXIAL')),
    el(x, 0x0008, 0x0016, 'UI', uid('1.2.840.10008.5.1.4.1.1.2')),
    el(x, 0x0008, 0x0018, 'UI', uid('1.2.3.4.5')),
    // A sequence of undefined length, its items of undefined and defined length, one nested sequence.
    opts.undefinedSeq
      ? el(x, 0x0008, 0x1140, 'SQ', Buffer.concat([item(inner, true), item(nested, false), seqEnd()]), true)
      : Buffer.alloc(0),
    // A private element of VR UN and undefined length: implicit VR inside, whatever the file's encoding.
    opts.un
      ? el(
          x,
          0x0029,
          0x1010,
          'UN',
          Buffer.concat([item(el(false, 0x0029, 0x0010, 'LO', even('X')), true), seqEnd()]),
          true,
        )
      : Buffer.alloc(0),
    el(x, 0x0020, 0x000d, 'UI', uid('1.2.3')),
    el(x, 0x0020, 0x0032, 'DS', even('-10.5\\20\\-30')),
    el(x, 0x0020, 0x0037, 'DS', even('1\\0\\0\\0\\1\\0')),
    el(x, 0x0020, 0x0052, 'UI', uid('1.2.3.9')),
    el(x, 0x0028, 0x0002, 'US', u16(1)),
    el(x, 0x0028, 0x0004, 'CS', even('MONOCHROME2')),
    el(x, 0x0028, 0x0010, 'US', u16(2)),
    el(x, 0x0028, 0x0011, 'US', u16(4)),
    el(x, 0x0028, 0x0030, 'DS', even('0.5\\0.5')),
    el(x, 0x0028, 0x0100, 'US', u16(16)),
    el(x, 0x0028, 0x0101, 'US', u16(16)),
    el(x, 0x0028, 0x0103, 'US', u16(1)),
    el(x, 0x0028, 0x0120, 'SS', u16(0xf830)), // -2000
    el(x, 0x0028, 0x1052, 'DS', even('-1024')),
    el(x, 0x0028, 0x1053, 'DS', even('1')),
    opts.enhanced
      ? el(x, 0x5200, 0x9229, 'SQ', Buffer.concat([item(Buffer.alloc(0), true), seqEnd()]), true)
      : Buffer.alloc(0),
    opts.encapsulated
      ? el(
          x,
          0x7fe0,
          0x0010,
          'OB',
          Buffer.concat([tag(0xfffe, 0xe000), u32(0), tag(0xfffe, 0xe000), u32(pixels.length), pixels, seqEnd()]),
          true,
        )
      : el(x, 0x7fe0, 0x0010, 'OW', pixels),
  ];
  return part10(explicit ? '1.2.840.10008.1.2.1' : '1.2.840.10008.1.2', Buffer.concat(parts));
}

describe('dicom/image-header: the lean reader of the images a volume is built from', () => {
  it('over the whole shared corpus and the demo CT: every attribute and every frame it reads equals what dcmjs reads', () => {
    const files = [...dicomFiles(SHARED_DATA), ...dicomFiles(CHEST_CT_DIR)];
    let read = 0;
    let compared = 0;
    for (const file of files) {
      const bytes = fs.readFileSync(file);
      const lean = readImageHeader(bytes);
      if (!lean) continue;
      read++;
      let full;
      try {
        full = readPart10(bytes);
      } catch {
        continue; // dcmjs cannot read it (a private sequence it trips over); nothing to compare with
      }
      compared++;
      const where = path.relative(SHARED_DATA, file);
      expect(lean.transferSyntaxUid, where).to.equal(full.transferSyntaxUid);
      for (const k of KEYWORDS) expect(lean.dataset[k], `${where} ${k}`).to.deep.equal(full.dataset[k]);
      const f = pixelFormat(full.dataset);
      expect(pixelFormat(lean.dataset), where).to.deep.equal(f);
      // PixelPaddingValue: compared as the stored value it stands for (dcmjs reads an implicit-VR SS as US).
      expect(paddingValue(lean.dataset.PixelPaddingValue, f), `${where} PixelPaddingValue`).to.equal(
        paddingValue(full.dataset.PixelPaddingValue, f),
      );
      // Each frame: the same bytes, or the same coded error (a file whose PixelData is too short).
      const frame = (r: typeof full, i: number): string => {
        try {
          return Buffer.from(decodeFrame(r.dataset, r.transferSyntaxUid, f, i)).toString('base64');
        } catch (e) {
          return `error ${(e as { code?: string }).code}`;
        }
      };
      for (let i = 0; i < f.frames; i++) expect(frame(lean, i), `${where} frame ${i + 1}`).to.equal(frame(full, i));
    }
    // Every slice of the demo CT, and most of the corpus's native images, take the lean path.
    for (const file of dicomFiles(CHEST_CT_DIR))
      expect(readImageHeader(fs.readFileSync(file)), file).to.not.equal(undefined);
    expect(compared).to.be.greaterThan(150);
    expect(read - compared).to.be.at.most(1);
  });

  for (const explicit of [false, true]) {
    const vrs = explicit ? 'explicit' : 'implicit';
    it(`${vrs} VR: skips sequences of undefined length (nested, items of both kinds) and UN of undefined length, then reads values and pixels`, () => {
      const bytes = handMade(explicit, { undefinedSeq: true, un: true });
      const lean = readImageHeader(bytes);
      expect(lean).to.not.equal(undefined);
      const ds = lean!.dataset;
      expect(ds.ImageType).to.deep.equal(['ORIGINAL', 'PRIMARY', 'AXIAL']);
      expect(ds.SOPInstanceUID).to.equal('1.2.3.4.5');
      expect(ds.ImagePositionPatient).to.deep.equal([-10.5, 20, -30]);
      expect(ds.PixelSpacing).to.deep.equal([0.5, 0.5]);
      expect([
        ds.Rows,
        ds.Columns,
        ds.BitsAllocated,
        ds.PixelRepresentation,
        ds.RescaleIntercept,
        ds.RescaleSlope,
      ]).to.deep.equal([2, 4, 16, 1, -1024, 1]);
      // Implicit VR: PixelPaddingValue is read as SS because PixelRepresentation is 1.
      expect(paddingValue(ds.PixelPaddingValue, pixelFormat(ds))).to.equal(-2000);
      const frame = decodeFrame(ds, lean!.transferSyntaxUid, pixelFormat(ds), 0);
      expect(Array.from(new Int16Array(frame.slice().buffer))).to.deep.equal([
        -1000, -2000, 0, 40, 100, 200, 300, 1500,
      ]);
    });

    it(`${vrs} VR: declines Enhanced functional groups, encapsulated pixel data and a truncated file`, () => {
      expect(readImageHeader(handMade(explicit, { enhanced: true }))).to.equal(undefined);
      expect(readImageHeader(handMade(explicit, { encapsulated: true }))).to.equal(undefined);
      const whole = handMade(explicit, { undefinedSeq: true });
      expect(readImageHeader(whole)).to.not.equal(undefined);
      for (const cut of [whole.length - 3, whole.length - 20, 200, 140])
        expect(readImageHeader(whole.subarray(0, cut)), `cut at ${cut}`).to.equal(undefined);
    });
  }

  it('declines what is not Implicit or Explicit VR Little Endian Part 10 (big endian, deflate, no preamble)', () => {
    const ds = readPart10(handMade(true)).dataset;
    const written = writePart10({ ...ds, SOPClassUID: '1.2.840.10008.5.1.4.1.1.2', SOPInstanceUID: '1.2.3.4.5' });
    expect(readImageHeader(written)).to.not.equal(undefined);
    expect(readImageHeader(written.subarray(132))).to.equal(undefined); // no preamble / DICM
    const deb = path.join(SHARED_DATA, 'reference', 'pydicom-debian', 'test_files');
    expect(readImageHeader(fs.readFileSync(path.join(deb, 'MR_small_bigendian.dcm')))).to.equal(undefined);
    expect(readImageHeader(fs.readFileSync(path.join(deb, 'image_dfl.dcm')))).to.equal(undefined);
  });

  it('an implicit-VR signed CT with PixelPaddingValue -2000 (dcmqi ct-3slice): both readers give the padding as -2000 after paddingValue', () => {
    const file = path.join(SHARED_DATA, 'reference', 'dcmqi', 'segmentations', 'ct-3slice', '01.dcm');
    const bytes = fs.readFileSync(file);
    const full = readPart10(bytes);
    const f = pixelFormat(full.dataset);
    expect(f.pixelRepresentation).to.equal(1);
    expect(full.dataset.PixelPaddingValue).to.equal(63536); // what a generic implicit-VR read gives
    expect(paddingValue(full.dataset.PixelPaddingValue, f)).to.equal(-2000);
    expect(paddingValue(readImageHeader(bytes)!.dataset.PixelPaddingValue, f)).to.equal(-2000);
  });
});
