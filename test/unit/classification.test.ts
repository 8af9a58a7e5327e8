/**
 * Classification models on 2D images: the package (manifest and its ONNX graph checked at load),
 * the decoding of logits to probabilities and decisions at each class's operating point, and a
 * real onnxruntime run on the NEMA WG-04 radiograph and photograph whose outputs equal what the
 * test computes from the images itself.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { readPart10 } from '../../src/dicom/part10';
import { initCodecs } from '../../src/dicom/pixel-data';
import { readPlanarImage, type PlanarImage } from '../../src/image/planar-image';
import { loadModelPackage, loadModelPackages } from '../../src/inference/model-package';
import { parseManifest } from '../../src/inference/manifest';
import { createSession } from '../../src/inference/session';
import { imageInput, runImageModel } from '../../src/inference/image-model';
import { aggregate, decide, probabilities } from '../../src/inference/classify';
import { createLogger } from '../../src/observability/logger';
import { classifierModelPackage, GREY_QUADRANTS, quadrantMeans, type QuadrantClassifier } from '../support/test-models';
import { SHARED_DATA, tempDir } from '../support/env';

const WG04 = path.join(SHARED_DATA, 'xr', 'nema-wg04');
const code = (value: string, meaning: string): Record<string, string> => ({ value, scheme: 'SCT', meaning });
const GREY = GREY_QUADRANTS;
const CLASSES = [
  { index: 0, name: 'Bright upper left', finding: code('36118008', 'Pneumothorax'), threshold: 0.5 },
  { index: 1, name: 'Other', finding: code('17621005', 'Normal'), threshold: 0.5 },
];

function read(file: string): PlanarImage {
  const { dataset, transferSyntaxUid } = readPart10(fs.readFileSync(path.join(WG04, file)));
  return readPlanarImage(dataset, transferSyntaxUid, 0, { voi: 'header', maxFramePixels: 8192 * 8192 });
}

describe('classification: the package and its graph', () => {
  it('a classification package loads; its classes, image input and SR series are read', () => {
    const dir = tempDir('ainode-cls-');
    classifierModelPackage(dir, 'quad', GREY, { classes: CLASSES });
    const pkg = loadModelPackage(path.join(dir, 'quad'));
    expect(pkg.manifest.task).to.equal('classification');
    expect(pkg.manifest.level).to.equal('image');
    expect(pkg.manifest.classes.map((c) => c.name)).to.deep.equal(['Bright upper left', 'Other']);
    expect(pkg.manifest.image).to.deep.equal({ size: [64, 64], fit: 'stretch', voi: 'header', colour: 'grey' });
    expect(pkg.manifest.seriesNumbers).to.deep.equal({ seg: 0, sr: 9201 });
    expect(pkg.manifest.segments).to.deep.equal([]);
  });

  it('declared tensors that the ONNX graph does not have are refused at load, with the field', () => {
    const dir = tempDir('ainode-cls-');
    classifierModelPackage(dir, 'wrong-output', GREY, { classes: CLASSES, output: { name: 'probs', channels: 2 } });
    classifierModelPackage(dir, 'wrong-channels', GREY, { classes: CLASSES, output: { name: 'logits', channels: 3 } });
    classifierModelPackage(dir, 'wrong-input', GREY, { classes: CLASSES, input: { name: 'pixels', channels: 1 } });
    const { packages, refused } = loadModelPackages(dir);
    expect([...packages.keys()]).to.deep.equal([]);
    const reasons = Object.fromEntries(refused.map((r) => [path.basename(r.dir), r.reason]));
    expect(reasons['wrong-output']).to.match(
      /\/output\/name "probs" is not an output of the graph \(outputs: logits\)/,
    );
    expect(reasons['wrong-channels']).to.match(/\/output\/channels is 3, the graph's output has 2/);
    expect(reasons['wrong-input']).to.match(/\/input\/name "pixels" is not an input of the graph \(inputs: image\)/);
  });

  it('a classification manifest without operating points, with a bad band or a colour mismatch is refused', () => {
    const dir = tempDir('ainode-cls-');
    classifierModelPackage(dir, 'q', GREY, { classes: CLASSES });
    const m = JSON.parse(fs.readFileSync(path.join(dir, 'q', 'manifest.json'), 'utf8')) as Record<string, unknown>;
    const broken = {
      ...m,
      classes: [
        { index: 0, name: 'a', finding: code('1', 'a') },
        { index: 0, name: 'b', finding: code('2', 'b'), threshold: 0.5, indeterminate: [0.6, 0.8] },
        { index: 5, name: 'c', finding: code('3', 'c'), threshold: 0.5 },
      ],
      image: { size: [64, 64], fit: 'stretch', voi: 'header', colour: 'rgb' },
      segments: [],
    };
    let message = '';
    try {
      parseManifest(broken, 'x.json');
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message.replace(/^x\.json: /, '').split('; ')).to.have.members([
      '/input/channels must be 3 for rgb input (image/colour)',
      '/classes/0/threshold is required for classification (the operating point)',
      '/classes/1/index index 0 is used by an earlier class',
      '/classes/1/indeterminate must be [low, high] with low <= threshold <= high',
      "/classes/2/index index 5 is beyond the output's 2 channels",
      '/segments must have at least 1 item(s)',
      '/segments belongs to segmentation, not classification',
    ]);
    expect(() => parseManifest({ ...m, classification: undefined }, 'x.json')).to.throw(/\/classification is required/);
  });
});

describe('classification: probabilities and decisions', () => {
  it('softmax, sigmoid and probabilities as given', () => {
    const s = probabilities([2, 0, -1], 'softmax');
    const z = Math.exp(2) + 1 + Math.exp(-1);
    [Math.exp(2) / z, 1 / z, Math.exp(-1) / z].forEach((v, i) => expect(s[i]).to.be.closeTo(v, 1e-15));
    expect(Array.from(probabilities([0, 2], 'sigmoid'))).to.deep.equal([0.5, 1 / (1 + Math.exp(-2))]);
    expect(Array.from(probabilities([0.2, 0.9], 'none'))).to.deep.equal([0.2, 0.9]);
    expect(() => probabilities([1.5], 'none')).to.throw(/outside 0\.\.1/);
    expect(() => probabilities([NaN], 'softmax')).to.throw(/not a finite number/);
  });

  it('each class at its operating point; the indeterminate band in between', () => {
    const classes = [
      { index: 0, name: 'a', finding: { value: '1', scheme: 'SCT', meaning: 'a' }, threshold: 0.3 },
      {
        index: 1,
        name: 'b',
        finding: { value: '2', scheme: 'SCT', meaning: 'b' },
        threshold: 0.5,
        indeterminate: [0.4, 0.6] as [number, number],
      },
    ];
    const outcomes = (p: number[]): string[] => decide(p, classes).map((f) => f.outcome);
    expect(outcomes([0.3, 0.39])).to.deep.equal(['present', 'absent']);
    expect(outcomes([0.29, 0.4])).to.deep.equal(['absent', 'indeterminate']);
    expect(outcomes([0.9, 0.59])).to.deep.equal(['present', 'indeterminate']);
    expect(outcomes([0.9, 0.6])).to.deep.equal(['present', 'present']);
  });

  it('study level: the maximum or the mean over images', () => {
    expect(
      Array.from(
        aggregate(
          [
            [0.1, 0.8],
            [0.4, 0.2],
          ],
          'max',
        ),
      ),
    ).to.deep.equal([0.4, 0.8]);
    expect(
      Array.from(
        aggregate(
          [
            [0.1, 0.8],
            [0.4, 0.2],
          ],
          'mean',
        ),
      ),
    ).to.deep.equal([0.25, 0.5]);
  });
});

describe('classification: a real run on the WG-04 images equals what the image itself gives', () => {
  before(() => initCodecs());
  const log = createLogger({ level: 'silent' });

  const run = async (
    file: string,
    model: QuadrantClassifier,
  ): Promise<{ got: number[]; expected: number[]; img: PlanarImage }> => {
    const dir = tempDir('ainode-cls-');
    const classes = model.bias.map((_, i) => ({ ...CLASSES[i % 2], index: i }));
    classifierModelPackage(dir, 'quad', model, { classes });
    const pkg = loadModelPackage(path.join(dir, 'quad'));
    const session = await createSession(pkg.modelPath, ['cpu'], log);
    const img = read(file);
    const input = imageInput(img, pkg.manifest.image!, pkg.manifest.preprocess);
    const out = await runImageModel(pkg, session, input);
    const logits = out.get('logits')!;
    expect(logits.dims).to.deep.equal([1, model.bias.length]);
    const means = quadrantMeans(img);
    const expected = model.bias.map((b, k) => b + means.reduce((s, m, q) => s + m * model.weights[q][k], 0));
    return { got: Array.from(logits.data), expected, img };
  };

  it('the CR hip (MONOCHROME2, 2140 x 1760 stretched to 64 x 64): logits and the softmax probability', async () => {
    const { got, expected } = await run('RG2_J2KI.dcm', GREY);
    // Within 0.002 (measured: 4e-4): the antialiasing kernel at the quadrant borders reaches across them.
    got.forEach((v, k) => expect(v, `logit ${k}`).to.be.closeTo(expected[k], 0.002));
    const p = probabilities(got, 'softmax');
    const pExpected = 1 / (1 + Math.exp(expected[1] - expected[0]));
    expect(p[0]).to.be.closeTo(pExpected, 0.001);
  });

  it('the colour photograph (YBR_ICT) through a three-channel model', async () => {
    const rgb: QuadrantClassifier = {
      channels: 3,
      size: 32,
      weights: Array.from({ length: 12 }, (_, q) => [q < 4 ? 2 : 0, q >= 8 ? 2 : 0, q % 4 === 0 ? -1 : 0]),
      bias: [0, 0, 0.5],
    };
    const { got, expected, img } = await run('VL1_J2KI.dcm', rgb);
    expect(img.channels).to.equal(3);
    // Within 0.002 (measured: 4e-4): the antialiasing kernel at the quadrant borders reaches across them.
    got.forEach((v, k) => expect(v, `logit ${k}`).to.be.closeTo(expected[k], 0.002));
  });

  it('a colour image is refused by a grey model before it runs', () => {
    const dir = tempDir('ainode-cls-');
    classifierModelPackage(dir, 'quad', GREY, { classes: CLASSES });
    const pkg = loadModelPackage(path.join(dir, 'quad'));
    expect(() => imageInput(read('VL1_J2KI.dcm'), pkg.manifest.image!, pkg.manifest.preprocess))
      .to.throw(/YBR_ICT colour image is not an input of a grey model/)
      .with.property('code', 'SERIES_NOT_ACCEPTED');
  });
});
