/**
 * The reports of classification and detection models (src/results/): a study-level
 * classification combined over two images, a detection on a multi-frame image, and an image
 * without findings, which says so explicitly. Each passes dciodvfy with zero errors and dsrdump,
 * and reads back as written; a reference to an image outside the source series is refused.
 */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { randomUid } from '../../src/contracts/uid';
import { readMeasurementReport } from '../../src/dicom/sr/reader';
import { parseManifest, type ModelManifest } from '../../src/inference/manifest';
import { buildClassificationResults } from '../../src/results/classification-results';
import { buildDetectionResults } from '../../src/results/detection-results';
import { rectangle } from '../../src/results/image-reports';
import { tempDir } from '../support/env';

const DX = '1.2.840.10008.5.1.4.1.1.1.1';
const sct = (value: string, meaning: string): { value: string; scheme: string; meaning: string } => ({
  value,
  scheme: 'SCT',
  meaning,
});

function manifest(task: 'classification' | 'detection'): ModelManifest {
  return parseManifest(
    {
      id: 'm',
      version: '1.0.0',
      task,
      ...(task === 'classification' ? { level: 'study' } : {}),
      file: 'model.onnx',
      sha256: '0'.repeat(64),
      licence: 'Apache-2.0',
      description: 'test',
      accepts: { modality: ['DX'] },
      input: { name: 'image', channels: 1 },
      output: { name: 'out', channels: 2 },
      image: { size: [64, 64], fit: 'letterbox', voi: 'header', colour: 'grey' },
      preprocess: { normalize: { method: 'none' } },
      classes: [
        { index: 0, name: 'Pneumothorax', finding: sct('36118008', 'Pneumothorax'), threshold: 0.5 },
        { index: 1, name: 'Nodule', finding: sct('27925004', 'Nodule'), threshold: 0.5 },
      ],
      ...(task === 'classification'
        ? { classification: { activation: 'softmax', aggregate: 'max' } }
        : {
            detection: {
              format: 'yolo',
              outputs: { predictions: 'out' },
              scoreThreshold: 0.5,
              iou: 0.5,
              maxDetections: 10,
            },
          }),
      procedureReported: { value: '36572-6', scheme: 'LN', meaning: 'Chest X-ray' },
      seriesNumbers: { sr: 9500 },
    },
    'test.json',
  );
}

const study = randomUid();
const series = randomUid();
// A multi-frame X-ray angiography image (frames may be referenced) and a digital radiograph.
const XA = '1.2.840.10008.5.1.4.1.1.12.1';
const images = [
  { sopClassUid: XA, sopInstanceUid: randomUid() },
  { sopClassUid: DX, sopInstanceUid: randomUid() },
];
const key = {
  studyInstanceUid: study,
  seriesInstanceUid: series,
  modelId: 'm',
  modelVersion: '1.0.0',
  resultVersion: 1,
};
const patientStudy = { StudyInstanceUID: study, PatientID: 'T1', PatientName: 'Test^Images' };

function check(part10: Buffer, name: string): string {
  const file = path.join(tempDir('ainode-imgsr-'), `${name}.dcm`);
  fs.writeFileSync(file, part10);
  const v = spawnSync('dciodvfy', [file], { encoding: 'utf8' });
  const out = `${v.stdout}${v.stderr}`;
  expect(out).to.match(/^Comprehensive3DSR$/m);
  expect(
    out.split('\n').filter((l) => l.startsWith('Error')),
    out,
  ).to.deep.equal([]);
  const dump = spawnSync('dsrdump', [file], { encoding: 'utf8' });
  expect(dump.status, dump.stderr).to.equal(0);
  return dump.stdout;
}

describe('reports of 2D image models', () => {
  it('study-level classification: one group per class, inferred from every image it combined', () => {
    const m = manifest('classification');
    const findings = [
      { class: m.classes[0], probability: 0.8123456, outcome: 'present' as const },
      { class: m.classes[1], probability: 0.1, outcome: 'absent' as const },
    ];
    const { reports } = buildClassificationResults(
      key,
      m,
      patientStudy,
      { seriesInstanceUid: series, instances: images },
      [],
      {
        findings,
        images,
      },
    );
    const dump = check(reports[0].part10, 'classification');
    expect(dump.match(/<inferred from IMAGE:\(,,"Source of Measurement"\)/g)).to.have.length(4);
    const read = readMeasurementReport(reports[0].part10);
    expect(
      read.groups.map((g) => [g.trackingId, g.finding, g.measurements[0].value, g.evaluations[0].value]),
    ).to.deep.equal([
      ['Pneumothorax (study)', 'Pneumothorax', 81.2346, 'Present'],
      ['Nodule (study)', 'Nodule', 10, 'Absent'],
    ]);
  });

  it('classification, viewer profile: each image framed, labelled with every class, outcome and probability', () => {
    const m = manifest('classification');
    const findings = [
      { class: m.classes[0], probability: 0.8123456, outcome: 'present' as const },
      { class: m.classes[1], probability: 0.1, outcome: 'absent' as const },
    ];
    const perImage = [
      {
        image: images[1],
        findings,
        rows: 100,
        columns: 80,
        spacing: { rowMm: 0.2, columnMm: 0.2, basis: 'detector' as const, source: 'ImagerPixelSpacing' },
      },
    ];
    const { reports } = buildClassificationResults(
      key,
      m,
      patientStudy,
      { seriesInstanceUid: series, instances: images },
      perImage,
      undefined,
      ['standard', 'viewer'],
    );
    check(reports[1].part10, 'classification-viewer');
    const read = readMeasurementReport(reports[1].part10);
    expect(read.groups.map((g) => [g.trackingId, g.finding, g.comment, g.imageRegion?.points])).to.deep.equal([
      [
        'Cornerstone3DTools@^0.1.0:RectangleROI',
        'Pneumothorax',
        'Pneumothorax: present 81.2%; Nodule: absent 10.0%',
        rectangle({ x0: 0.5, y0: 0.5, x1: 79.5, y1: 99.5 }),
      ],
    ]);
    expect(read.groups[0].measurements.find((x) => x.concept === 'Area')).to.deep.equal({
      concept: 'Area',
      value: Math.round(79 * 0.2 * 99 * 0.2),
      unit: 'mm2',
    });
  });

  it('detection: a box on frame 2 of a multi-frame image, and an explicit absence on the image without findings', () => {
    const m = manifest('detection');
    const box = { x0: 10.25, y0: 20, x1: 40, y1: 52.5 };
    const { reports } = buildDetectionResults(key, m, patientStudy, { seriesInstanceUid: series, instances: images }, [
      {
        image: { ...images[0], frameNumber: 2 },
        detections: [{ box, score: 0.91, class: m.classes[1] }],
        spacing: { rowMm: 0.2, columnMm: 0.1, basis: 'detector', source: 'ImagerPixelSpacing' },
        rows: 100,
        columns: 80,
      },
      {
        image: images[1],
        detections: [],
        spacing: undefined,
        spacingNote: 'no PixelSpacing or ImagerPixelSpacing',
        rows: 100,
        columns: 80,
      },
    ]);
    const dump = check(reports[0].part10, 'detection');
    expect(dump).to.match(/<contains SCOORD:\(,,"Image Region"\)=\(POLYLINE,10.25\/20,/);
    const read = readMeasurementReport(reports[0].part10);
    const region = read.groups.find((g) => g.imageRegion)!;
    expect(region.imageRegion).to.deep.equal({
      graphicType: 'POLYLINE',
      points: rectangle(box),
      sopInstanceUid: images[0].sopInstanceUid,
      frameNumber: 2,
    });
    expect(region.measurements.map((x) => [x.concept, x.value, x.unit])).to.deep.equal([
      ['Certainty of Finding', 91, '%'],
      ['Area', Math.round(29.75 * 0.1 * 32.5 * 0.2 * 100) / 100, 'mm2'],
    ]);
    expect(region.comment).to.equal(
      'Nodule 91%; size in mm from ImagerPixelSpacing, at the detector (not corrected for magnification)',
    );
    // Image 1 has no pneumothorax; image 2 has neither finding: each absence is a group of its own.
    const absent = read.groups.filter((g) => !g.imageRegion).map((g) => [g.trackingId, g.evaluations[0]?.value]);
    expect(absent).to.deep.equal([
      ['Pneumothorax (image 1 frame 2)', 'Absent'],
      ['Pneumothorax (image 2)', 'Absent'],
      ['Nodule (image 2)', 'Absent'],
    ]);
  });

  it('the viewer profile: each box a RectangleROI labelled with finding and score; an image without findings framed and said so', () => {
    const m = manifest('detection');
    const box = { x0: 10, y0: 20, x1: 40, y1: 50 };
    const { reports } = buildDetectionResults(
      key,
      m,
      patientStudy,
      { seriesInstanceUid: series, instances: images },
      [
        {
          image: { ...images[0], frameNumber: 2 },
          detections: [{ box, score: 0.915, class: m.classes[1] }],
          spacing: undefined,
          rows: 100,
          columns: 80,
        },
        { image: images[1], detections: [], spacing: undefined, rows: 100, columns: 80 },
      ],
      ['standard', 'viewer'],
    );
    expect(reports.map((r) => r.profile)).to.deep.equal(['standard', 'viewer']);
    check(reports[1].part10, 'detection-viewer');
    const read = readMeasurementReport(reports[1].part10);
    expect(read.groups.map((g) => [g.trackingId, g.comment, g.imageRegion?.points])).to.deep.equal([
      ['Cornerstone3DTools@^0.1.0:RectangleROI', 'Nodule 91.5%', rectangle(box)],
      [
        'Cornerstone3DTools@^0.1.0:RectangleROI',
        'no findings (Pneumothorax, Nodule)',
        rectangle({ x0: 0.5, y0: 0.5, x1: 79.5, y1: 99.5 }),
      ],
    ]);
    expect(read.groups[0].measurements.find((x) => x.concept === 'Area')).to.deep.equal({
      concept: 'Area',
      value: 900,
      unit: '{px2}',
    });
  });

  it('a result on an image outside the source series is refused', () => {
    const m = manifest('detection');
    expect(() =>
      buildDetectionResults(key, m, patientStudy, { seriesInstanceUid: series, instances: [images[0]] }, [
        {
          image: images[1],
          detections: [{ box: { x0: 0, y0: 0, x1: 1, y1: 1 }, score: 0.9, class: m.classes[0] }],
          spacing: undefined,
          rows: 10,
          columns: 10,
        },
      ]),
    )
      .to.throw(/its image is not in the source series/)
      .with.property('code', 'SR_INVALID');
  });
});
