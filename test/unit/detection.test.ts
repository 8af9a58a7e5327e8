/**
 * Detection outputs (src/inference/detect.ts): both export conventions decoded, thresholded,
 * suppressed and mapped back to the source pixels; and a real onnxruntime run of the peak
 * detector fixture, in both conventions, on a synthetic radiograph whose spots are where the
 * test drew them, letterboxed into the model input.
 */
import { expect } from 'chai';
import * as path from 'path';
import { readPart10 } from '../../src/dicom/part10';
import { initCodecs } from '../../src/dicom/pixel-data';
import { fitTransform, toModel } from '../../src/image/fit';
import { readPlanarImage } from '../../src/image/planar-image';
import { decodeDetections, iou, nonMaximumSuppression } from '../../src/inference/detect';
import type { ClassSpec, DetectionSpec } from '../../src/inference/manifest';
import { imageInput, runImageModel } from '../../src/inference/image-model';
import { loadModelPackage } from '../../src/inference/model-package';
import { createSession } from '../../src/inference/session';
import { createLogger } from '../../src/observability/logger';
import { blobRadiograph, SPOTS } from '../support/blob-radiograph';
import { detectorModelPackage } from '../support/test-models';
import { tempDir } from '../support/env';

const mass = { value: '4147007', scheme: 'SCT', meaning: 'Mass' };
const nodule = { value: '27925004', scheme: 'SCT', meaning: 'Nodule' };
const CLASSES: ClassSpec[] = [
  { index: 0, name: 'Mass', finding: mass },
  { index: 1, name: 'Nodule', finding: nodule },
];
const identity = fitTransform({ rows: 100, columns: 100 }, { rows: 100, columns: 100 }, 'stretch');
const spec = (over: Partial<DetectionSpec>): DetectionSpec => ({
  format: 'boxes-scores-labels',
  outputs: { boxes: 'boxes', scores: 'scores', labels: 'labels' },
  boxFormat: 'xyxy',
  scoreThreshold: 0.5,
  iou: 0.5,
  maxDetections: 10,
  ...over,
});
const tensor = (values: number[], dims: number[]): { data: Float32Array; dims: number[] } => ({
  data: Float32Array.from(values),
  dims,
});

describe('detection: decoding, suppression and mapping back', () => {
  it('intersection over union', () => {
    expect(iou({ x0: 0, y0: 0, x1: 10, y1: 10 }, { x0: 5, y0: 0, x1: 15, y1: 10 })).to.equal(50 / 150);
    expect(iou({ x0: 0, y0: 0, x1: 10, y1: 10 }, { x0: 10, y0: 0, x1: 20, y1: 10 })).to.equal(0);
  });

  it('non-maximum suppression keeps the best of overlapping boxes of one class, not across classes', () => {
    const c = (index: number): { index: number } => ({ index });
    const kept = nonMaximumSuppression(
      [
        { box: { x0: 0, y0: 0, x1: 10, y1: 10 }, score: 0.7, class: c(0) },
        { box: { x0: 1, y0: 1, x1: 11, y1: 11 }, score: 0.9, class: c(0) },
        { box: { x0: 1, y0: 1, x1: 11, y1: 11 }, score: 0.8, class: c(1) },
        { box: { x0: 50, y0: 50, x1: 60, y1: 60 }, score: 0.6, class: c(0) },
      ],
      0.5,
      10,
    );
    expect(kept.map((k) => k.score)).to.deep.equal([0.9, 0.8, 0.6]);
    expect(nonMaximumSuppression(kept, 0.5, 2)).to.have.length(2);
  });

  it('boxes-scores-labels: below the threshold dropped, undeclared labels ignored, boxes as given', () => {
    const outputs = new Map([
      ['boxes', tensor([10, 20, 30, 40, 0, 0, 5, 5, 50, 50, 60, 70, 1, 1, 2, 2], [4, 4])],
      ['scores', tensor([0.9, 0.4, 0.75, 0.99], [4])],
      ['labels', tensor([1, 0, 0, 7], [4])],
    ]);
    const found = decodeDetections(outputs, spec({}), CLASSES, identity);
    expect(found.map((d) => [d.class.name, d.score, d.box])).to.deep.equal([
      ['Nodule', Math.fround(0.9), { x0: 10, y0: 20, x1: 30, y1: 40 }],
      ['Mass', Math.fround(0.75), { x0: 50, y0: 50, x1: 60, y1: 70 }],
    ]);
  });

  it('yolo: centre-size boxes, objectness x class score, both layouts', () => {
    // Two candidates: (cx 20, cy 30, w 10, h 6, obj 0.9, [0.5, 1.0]) and (cx 70, cy 70, w 4, h 4, obj 0.3, [1, 0]).
    const rows = [
      [20, 30, 10, 6, 0.9, 0.5, 1.0],
      [70, 70, 4, 4, 0.3, 1, 0],
    ];
    const yolo = spec({ format: 'yolo', outputs: { predictions: 'p' }, boxFormat: 'cxcywh', scoreThreshold: 0.4 });
    const expected = [
      ['Nodule', 0.9, { x0: 15, y0: 27, x1: 25, y1: 33 }],
      ['Mass', 0.45, { x0: 15, y0: 27, x1: 25, y1: 33 }],
    ];
    for (const layout of ['rows', 'columns'] as const) {
      const data = layout === 'rows' ? rows.flat() : rows[0].map((_, k) => rows.map((r) => r[k])).flat();
      const dims = layout === 'rows' ? [1, 2, 7] : [1, 7, 2];
      const found = decodeDetections(new Map([['p', tensor(data, dims)]]), yolo, CLASSES, identity);
      expect(
        found.map((d) => [d.class.name, Math.round(d.score * 1e6) / 1e6, d.box]),
        layout,
      ).to.deep.equal(expected);
    }
  });

  it('yolo: a head with more classes than the manifest declares is read by its own width', () => {
    // Three candidates, 4 box + 1 objectness + 3 classes = 8 values each; the manifest declares classes 0 and 1.
    const rows = [
      [20, 30, 10, 6, 1, 0.9, 0.1, 0.95],
      [70, 70, 4, 4, 1, 0.1, 0.8, 0.2],
      [50, 50, 4, 4, 1, 0.2, 0.2, 0.99],
    ];
    const yolo = spec({ format: 'yolo', outputs: { predictions: 'p' }, boxFormat: 'cxcywh', scoreThreshold: 0.5 });
    const found = decodeDetections(new Map([['p', tensor(rows.flat(), [1, 3, 8])]]), yolo, CLASSES, identity);
    expect(found.map((d) => [d.class.name, Math.round(d.score * 100) / 100])).to.deep.equal([
      ['Mass', 0.9],
      ['Nodule', 0.8],
    ]);
    expect(() =>
      decodeDetections(new Map([['p', tensor([1, 2, 3, 4, 5, 6], [1, 1, 6])]]), yolo, CLASSES, identity),
    ).to.throw(/needs a width of at least 7/);
  });

  it('letterbox: boxes map back to the source grid, clipped to it; a box wholly in the padding is dropped', () => {
    const t = fitTransform({ rows: 400, columns: 200 }, { rows: 100, columns: 100 }, 'letterbox');
    // scale 0.25, offset x 25: model x 25..75 covers the source's 0..200.
    const outputs = new Map([
      ['boxes', tensor([35, 10, 45, 30, 20, 90, 30, 99, 2, 2, 20, 20], [3, 4])],
      ['scores', tensor([0.9, 0.8, 0.7], [3])],
    ]);
    const found = decodeDetections(outputs, spec({ outputs: { boxes: 'boxes', scores: 'scores' } }), CLASSES, t);
    expect(found.map((d) => d.box)).to.deep.equal([
      { x0: 40, y0: 40, x1: 80, y1: 120 },
      { x0: 0, y0: 360, x1: 20, y1: 396 },
    ]);
    expect(found.every((d) => d.class.name === 'Mass')).to.equal(true);
  });

  it('a detector output that does not fit its declaration is refused', () => {
    const outputs = new Map([
      ['boxes', tensor([1, 2, 3], [1, 3])],
      ['scores', tensor([0.9], [1])],
    ]);
    expect(() => decodeDetections(outputs, spec({ outputs: { boxes: 'boxes', scores: 'scores' } }), CLASSES, identity))
      .to.throw(/gave 3 box values for 1 scores \(4 a box\)/)
      .with.property('code', 'MODEL_RUN_FAILED');
    const nan = new Map([
      ['boxes', tensor([NaN, 0, 1, 1], [1, 4])],
      ['scores', tensor([0.9], [1])],
    ]);
    expect(() =>
      decodeDetections(nan, spec({ outputs: { boxes: 'boxes', scores: 'scores' } }), CLASSES, identity),
    ).to.throw(/not finite/);
  });
});

describe('detection: the peak detector fixture on a radiograph with spots drawn at known places', () => {
  before(() => initCodecs());
  const log = createLogger({ level: 'silent' });
  for (const format of ['yolo', 'boxes-scores-labels'] as const)
    it(`${format}: each spot found once, its box centred on it on the source grid (within one model pixel)`, async () => {
      const dir = tempDir('ainode-det-');
      detectorModelPackage(dir, 'peaks', { size: 128, threshold: 0.3, box: 12, format }, {});
      const pkg = loadModelPackage(path.join(dir, 'peaks'));
      const session = await createSession(pkg.modelPath, ['cpu'], log);
      const { part10 } = blobRadiograph();
      const { dataset, transferSyntaxUid } = readPart10(part10);
      const img = readPlanarImage(dataset, transferSyntaxUid, 0, { voi: 'minmax', maxFramePixels: 1 << 26 });
      const input = imageInput(img, pkg.manifest.image!, pkg.manifest.preprocess);
      const outputs = await runImageModel(pkg, session, input);
      const found = decodeDetections(outputs, pkg.manifest.detection!, pkg.manifest.classes, input.transform);
      expect(found, 'one finding per spot').to.have.length(SPOTS.length);
      const t = input.transform;
      const modelPixel = 1 / t.scaleX; // source pixels per model pixel
      for (const s of SPOTS) {
        const d = found.find(
          (f) => Math.hypot((f.box.x0 + f.box.x1) / 2 - s.x, (f.box.y0 + f.box.y1) / 2 - s.y) < 2 * modelPixel,
        );
        expect(d, `spot at ${s.x}, ${s.y}`).to.not.equal(undefined);
        const cx = (d!.box.x0 + d!.box.x1) / 2;
        const cy = (d!.box.y0 + d!.box.y1) / 2;
        // The box is centred on a model pixel centre; the spot's centre lies within that pixel.
        const [mx, my] = toModel(t, s.x, s.y);
        const [pcx, pcy] = toModel(t, cx, cy);
        expect(Math.abs(pcx - mx), 'x in model pixels').to.be.at.most(1);
        expect(Math.abs(pcy - my), 'y in model pixels').to.be.at.most(1);
        // Width: 12 model pixels mapped back.
        expect(d!.box.x1 - d!.box.x0).to.be.closeTo(12 * modelPixel, 1e-6);
        expect(d!.score).to.be.within(0.3, 1);
      }
    });
});

describe('2D models: which images of a series a model takes', () => {
  it('by view position, laterality and size, with the reason for each left out', async () => {
    const { imageNotAccepted } = await import('../../src/contracts/acceptance');
    const mgCc = {
      modality: ['MG'],
      viewPosition: ['CC'],
      laterality: ['L', 'R'],
      minimumSize: { rows: 1000, columns: 800 },
    };
    expect(imageNotAccepted(mgCc, { viewPosition: 'CC', laterality: 'l', rows: 4664, columns: 3064 })).to.equal(
      undefined,
    );
    expect(imageNotAccepted(mgCc, { viewPosition: 'MLO', laterality: 'L', rows: 4664, columns: 3064 })).to.equal(
      'view MLO not in CC',
    );
    expect(imageNotAccepted(mgCc, { viewPosition: 'CC', rows: 4664, columns: 3064 })).to.equal(
      'laterality missing not in L/R',
    );
    expect(imageNotAccepted(mgCc, { viewPosition: 'CC', laterality: 'R', rows: 512, columns: 3064 })).to.equal(
      '512 x 3064 is smaller than 1000 x 800',
    );
    expect(imageNotAccepted({ modality: ['CR'] }, { rows: 1, columns: 1 })).to.equal(undefined);
  });
});
