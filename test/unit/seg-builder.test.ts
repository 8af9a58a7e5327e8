/** SEG builder in highdicom's style: invalid input -> coded error; a valid object passes dciodvfy. */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Codes } from '../../src/dicom/codes';
import { buildSegmentation, type SegmentationInit } from '../../src/dicom/seg/builder';
import { SegmentAlgorithmType, SegmentDescription, type SegmentDescriptionInit } from '../../src/dicom/seg/segment';
import { writePart10 } from '../../src/dicom/part10';
import { tempDir } from '../support/env';
import { readSeg } from '../support/seg-reader';

const seg = (over: Partial<SegmentDescriptionInit> = {}): SegmentDescription =>
  new SegmentDescription({
    number: 1,
    label: 'Right lung',
    category: Codes.anatomicalStructure,
    type: Codes.rightLung,
    algorithmType: SegmentAlgorithmType.AUTOMATIC,
    algorithmName: 'test',
    ...over,
  });

function init(over: Partial<SegmentationInit> = {}): SegmentationInit {
  const columns = 8,
    rows = 6,
    slices = 3;
  const labels = new Uint8Array(columns * rows * slices);
  labels[columns * rows + 2 * columns + 3] = 1; // one voxel in slice 1
  labels[2 * columns * rows + 5] = 2; // one voxel in slice 2
  return {
    source: {
      geometry: {
        columns,
        rows,
        slices,
        spacing: [0.5, 0.7, 2],
        origin: [-2, -2, 10],
        rowDirection: [1, 0, 0],
        columnDirection: [0, 1, 0],
        sliceDirection: [0, 0, 1],
        frameOfReferenceUid: '1.2.826.0.1.3680043.10.1443.9.1',
      },
      slices: [0, 1, 2].map((k) => ({
        sopClassUid: '1.2.840.10008.5.1.4.1.1.2',
        sopInstanceUid: `1.2.826.0.1.3680043.10.1443.9.2.${k + 1}`,
        imagePositionPatient: [-2, -2, 10 + 2 * k] as [number, number, number],
      })),
      seriesInstanceUid: '1.2.826.0.1.3680043.10.1443.9.3',
    },
    patientStudy: {
      StudyInstanceUID: '1.2.826.0.1.3680043.10.1443.9.4',
      PatientName: 'Test^Phantom',
      PatientID: 'PHANTOM-1',
    },
    segments: [seg(), seg({ number: 2, label: 'Left lung', type: Codes.leftLung })],
    labels,
    seriesInstanceUid: '1.2.826.0.1.3680043.10.1443.9.5',
    sopInstanceUid: '1.2.826.0.1.3680043.10.1443.9.6',
    seriesNumber: 9001,
    seriesDescription: 'test',
    contentLabel: 'TEST',
    ...over,
  };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe('dicom/seg: binary Segmentation builder', () => {
  it('writes only non-empty frames, each with its source image, position and bit-exact mask', () => {
    const built = buildSegmentation(init());
    const r = readSeg(built.part10);
    expect(r.frames.map((f) => [f.segmentNumber, f.sourceSopInstanceUid])).to.deep.equal([
      [1, '1.2.826.0.1.3680043.10.1443.9.2.2'],
      [2, '1.2.826.0.1.3680043.10.1443.9.2.3'],
    ]);
    expect(r.frames[0].imagePositionPatient).to.deep.equal([-2, -2, 12]);
    expect([...r.frames[0].bits].map((b, p) => (b ? p : -1)).filter((p) => p >= 0)).to.deep.equal([2 * 8 + 3]);
    expect([...r.frames[1].bits].map((b, p) => (b ? p : -1)).filter((p) => p >= 0)).to.deep.equal([5]);
    expect(built.voxelsPerSegment.get(1)).to.equal(1);
  });

  it('blocks of one label (read four and eight voxels at a time) and mixed words give the same frames and counts as a voxel-by-voxel reading', () => {
    const base = init();
    const { columns, rows, slices } = base.source.geometry;
    const plane = columns * rows;
    // Runs of 1-12 voxels of one value, so that words and byte pairs are sometimes uniform,
    // sometimes mixed, and runs start and end at every alignment. Value 3 maps to segment 2,
    // value 7 to background, through labelToSegment.
    const labels = new Uint8Array(plane * slices);
    let seed = 7;
    const rnd = (n: number): number => (seed = (seed * 1103515245 + 12345) >>> 0) % n;
    for (let v = 0; v < labels.length;) {
      const run = 1 + rnd(12);
      const value = [0, 1, 2, 3, 7][rnd(5)];
      labels.fill(value, v, Math.min(labels.length, v + run));
      v += run;
    }
    const labelToSegment = new Uint8Array(256);
    labelToSegment[1] = 1;
    labelToSegment[2] = 2;
    labelToSegment[3] = 2;
    const built = buildSegmentation({ ...base, labels, labelToSegment });
    const r = readSeg(built.part10);
    const expected: { segment: number; k: number; bits: number[] }[] = [];
    for (const segment of [1, 2])
      for (let k = 0; k < slices; k++) {
        const bits = Array.from({ length: plane }, (_, p) =>
          labelToSegment[labels[k * plane + p]] === segment ? 1 : 0,
        );
        if (bits.some(Boolean)) expected.push({ segment, k, bits });
      }
    expect(r.frames.map((f) => f.segmentNumber)).to.deep.equal(expected.map((e) => e.segment));
    expect(r.frames.map((f) => f.sourceSopInstanceUid)).to.deep.equal(
      expected.map((e) => base.source.slices[e.k].sopInstanceUid),
    );
    r.frames.forEach((f, i) => expect([...f.bits].map(Number), `frame ${i + 1}`).to.deep.equal(expected[i].bits));
    for (const segment of [1, 2])
      expect(built.voxelsPerSegment.get(segment)).to.equal(labels.filter((l) => labelToSegment[l] === segment).length);
  });

  it('per-frame functional groups and pixel data, written directly, are the bytes dcmjs writes for the same dataset', () => {
    const built = buildSegmentation(init());
    const viaDcmjs = writePart10(built.dataset, { PixelData: 'OB' });
    expect(built.part10.length).to.equal(viaDcmjs.length);
    expect(built.part10.equals(viaDcmjs)).to.equal(true);
  });

  it('passes dciodvfy with zero errors', () => {
    const dir = tempDir('seg');
    const file = path.join(dir, 'seg.dcm');
    fs.writeFileSync(file, buildSegmentation(init()).part10);
    const r = spawnSync('dciodvfy', [file], { encoding: 'utf8' });
    const out = `${r.stdout}${r.stderr}`;
    expect(out).to.match(/^Segmentation$/m);
    expect(
      out.split('\n').filter((l) => l.startsWith('Error')),
      out,
    ).to.deep.equal([]);
  });

  const invalid: [string, () => unknown][] = [
    ['segment number 0', () => seg({ number: 0 })],
    ['segment number above 65535', () => seg({ number: 65536 })],
    ['empty label', () => seg({ label: '' })],
    ['automatic segment without algorithm name', () => seg({ algorithmName: undefined })],
    ['segment numbers not starting at 1', () => buildSegmentation(init({ segments: [seg({ number: 2 })] }))],
    ['a label value without a segment', () => buildSegmentation(init({ segments: [seg()] }))],
    [
      'an empty segment',
      () => buildSegmentation(init({ labels: new Uint8Array(8 * 6 * 3).fill(0).map((_, i) => (i === 0 ? 1 : 0)) })),
    ],
    ['label map of the wrong size', () => buildSegmentation(init({ labels: new Uint8Array(10) }))],
    ['an invalid UID', () => buildSegmentation(init({ sopInstanceUid: '1.2.03' }))],
    ['no segments', () => buildSegmentation(init({ segments: [] }))],
    [
      'a code value longer than 16 characters (SH)',
      () => seg({ type: { value: 'adrenal_gland_right', scheme: '99X', meaning: 'x' } }),
    ],
  ];
  for (const [name, fn] of invalid) it(`${name} -> SEG_INVALID`, () => expect(codeOf(fn)).to.equal('SEG_INVALID'));
});

describe('dicom/seg: FRACTIONAL and Enhanced multi-frame sources', () => {
  it('a FRACTIONAL (probability) SEG passes dciodvfy and reads back within 1/255', async () => {
    const { readSegmentation } = await import('../../src/dicom/seg/reader');
    const base = init();
    const n = 8 * 6 * 3;
    const p1 = new Float32Array(n).map((_, i) => (i % 7 === 0 ? (i % 255) / 255 : 0));
    const p2 = new Float32Array(n).map((_, i) => (i % 11 === 0 ? 0.5 : 0));
    const built = buildSegmentation({ ...base, fractional: { maps: [p1, p2], type: 'PROBABILITY' } });
    expect(built.part10.equals(writePart10(built.dataset, { PixelData: 'OB' })), 'the same bytes as dcmjs').to.equal(
      true,
    );
    const dir = tempDir('frac');
    const file = path.join(dir, 'frac.dcm');
    fs.writeFileSync(file, built.part10);
    const r = spawnSync('dciodvfy', [file], { encoding: 'utf8' });
    const out = `${r.stdout}${r.stderr}`;
    expect(out).to.match(/^Segmentation$/m);
    expect(
      out.split('\n').filter((l) => l.startsWith('Error')),
      out,
    ).to.deep.equal([]);
    const back = await readSegmentation(built.part10);
    expect(back.type).to.equal('FRACTIONAL');
    for (const f of back.frames) {
      const k = base.source.slices.findIndex((s) => s.sopInstanceUid === f.sourceSopInstanceUid);
      const map = f.segmentNumber === 1 ? p1 : p2;
      for (let p = 0; p < 48; p++)
        expect(Math.abs(f.pixels[p] / 255 - map[k * 48 + p])).to.be.at.most(0.5 / 255 + 1e-6);
    }
  });

  it('an Enhanced CT (multi-frame, per-frame functional groups) becomes a volume; its SEG references frames and passes dciodvfy', async () => {
    const { assembleVolume } = await import('../../src/volume/assemble');
    const { SHARED_DATA } = await import('../support/env');
    const bytes = fs.readFileSync(path.join(SHARED_DATA, 'reference', 'pydicom-data', 'eCT_Supplemental.dcm'));
    const { volume, patientStudy } = await assembleVolume('1.2.3.4', [bytes]);
    expect(volume.geometry.slices).to.equal(2);
    expect(volume.geometry.spacing[2]).to.be.closeTo(10, 1e-6);
    expect(volume.slices.map((s) => s.frameNumber)).to.deep.equal([2, 1]); // sorted along the normal
    const labels = new Uint8Array(volume.voxels.length);
    const mean = volume.voxels.reduce((a, b) => a + b, 0) / volume.voxels.length;
    for (let v = 0; v < labels.length; v++) if (volume.voxels[v] > mean) labels[v] = 1;
    const built = buildSegmentation({
      ...init(),
      source: volume,
      patientStudy,
      labels,
      segments: [seg({ label: 'Dense' })],
    });
    const dir = tempDir('ect');
    const file = path.join(dir, 'ect-seg.dcm');
    fs.writeFileSync(file, built.part10);
    const r = spawnSync('dciodvfy', [file], { encoding: 'utf8' });
    const out = `${r.stdout}${r.stderr}`;
    expect(
      out.split('\n').filter((l) => l.startsWith('Error')),
      out,
    ).to.deep.equal([]);
    // Per-frame groups and pixel data are written directly: the bytes dcmjs writes for the same dataset.
    expect(built.part10.equals(writePart10(built.dataset, { PixelData: 'OB' }))).to.equal(true);
    const frames = (built.dataset.PerFrameFunctionalGroupsSequence as Record<string, unknown>[]).map(
      (f) =>
        (
          (f.DerivationImageSequence as Record<string, unknown>[])[0].SourceImageSequence as Record<string, unknown>[]
        )[0].ReferencedFrameNumber,
    );
    expect(frames).to.deep.equal([2, 1]);
  });

  it('an Enhanced MR multi-frame (dcmjs cine-test: 8 frames, one stack) becomes a volume with spacing from the positions', async () => {
    const { assembleVolume } = await import('../../src/volume/assemble');
    const { SHARED_DATA } = await import('../support/env');
    const { volume } = await assembleVolume('1.2.3.4', [
      fs.readFileSync(path.join(SHARED_DATA, 'reference', 'dcmjs', 'cine-test.dcm')),
    ]);
    expect(volume.geometry.slices).to.equal(8);
    expect(volume.geometry.spacing[2]).to.be.closeTo(1.3, 1e-4);
    expect(new Set(volume.slices.map((s) => s.frameNumber)).size).to.equal(8);
  });
});
