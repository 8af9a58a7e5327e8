/** SEG builder in highdicom's style: invalid input -> coded error; a valid object passes dciodvfy. */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Codes } from '../../src/dicom/codes';
import { buildSegmentation, type SegmentationInit } from '../../src/dicom/seg/builder';
import { SegmentAlgorithmType, SegmentDescription, type SegmentDescriptionInit } from '../../src/dicom/seg/segment';
import { tempDir } from '../support/env';
import { readSeg } from '../support/seg-reader';

const seg = (over: Partial<SegmentDescriptionInit> = {}): SegmentDescription =>
  new SegmentDescription({ number: 1, label: 'Right lung', category: Codes.anatomicalStructure, type: Codes.rightLung, algorithmType: SegmentAlgorithmType.AUTOMATIC, algorithmName: 'test', ...over });

function init(over: Partial<SegmentationInit> = {}): SegmentationInit {
  const columns = 8, rows = 6, slices = 3;
  const labels = new Uint8Array(columns * rows * slices);
  labels[columns * rows + 2 * columns + 3] = 1; // one voxel in slice 1
  labels[2 * columns * rows + 5] = 2; // one voxel in slice 2
  return {
    source: {
      geometry: { columns, rows, slices, spacing: [0.5, 0.7, 2], origin: [-2, -2, 10], rowDirection: [1, 0, 0], columnDirection: [0, 1, 0], sliceDirection: [0, 0, 1], frameOfReferenceUid: '1.2.826.0.1.3680043.10.1443.9.1' },
      slices: [0, 1, 2].map((k) => ({ sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: `1.2.826.0.1.3680043.10.1443.9.2.${k + 1}`, imagePositionPatient: [-2, -2, 10 + 2 * k] as [number, number, number] })),
      seriesInstanceUid: '1.2.826.0.1.3680043.10.1443.9.3',
    },
    patientStudy: { StudyInstanceUID: '1.2.826.0.1.3680043.10.1443.9.4', PatientName: 'Test^Phantom', PatientID: 'PHANTOM-1' },
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

  it('passes dciodvfy with zero errors', () => {
    const dir = tempDir('seg');
    const file = path.join(dir, 'seg.dcm');
    fs.writeFileSync(file, buildSegmentation(init()).part10);
    const r = spawnSync('dciodvfy', [file], { encoding: 'utf8' });
    const out = `${r.stdout}${r.stderr}`;
    expect(out).to.match(/^Segmentation$/m);
    expect(out.split('\n').filter((l) => l.startsWith('Error')), out).to.deep.equal([]);
  });

  const invalid: [string, () => unknown][] = [
    ['segment number 0', () => seg({ number: 0 })],
    ['segment number above 65535', () => seg({ number: 65536 })],
    ['empty label', () => seg({ label: '' })],
    ['automatic segment without algorithm name', () => seg({ algorithmName: undefined })],
    ['segment numbers not starting at 1', () => buildSegmentation(init({ segments: [seg({ number: 2 })] }))],
    ['a label value without a segment', () => buildSegmentation(init({ segments: [seg()] }))],
    ['an empty segment', () => buildSegmentation(init({ labels: new Uint8Array(8 * 6 * 3).fill(0).map((_, i) => (i === 0 ? 1 : 0)) }))],
    ['label map of the wrong size', () => buildSegmentation(init({ labels: new Uint8Array(10) }))],
    ['an invalid UID', () => buildSegmentation(init({ sopInstanceUid: '1.2.03' }))],
    ['no segments', () => buildSegmentation(init({ segments: [] }))],
    ['a code value longer than 16 characters (SH)', () => seg({ type: { value: 'adrenal_gland_right', scheme: '99X', meaning: 'x' } })],
  ];
  for (const [name, fn] of invalid) it(`${name} -> SEG_INVALID`, () => expect(codeOf(fn)).to.equal('SEG_INVALID'));
});
