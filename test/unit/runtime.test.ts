/**
 * Issue 4, model runtime: provider fallback, sliding-window and per-slice inference against
 * whole-volume inference (real onnxruntime sessions on generated graphs), manifest refusals.
 */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { DataType, encodeModel } from '../../src/inference/onnx-proto';
import { parseManifest, type ModelManifest } from '../../src/inference/manifest';
import { loadModelPackages, type ModelPackage } from '../../src/inference/model-package';
import { runModel } from '../../src/inference/runner';
import { createSession } from '../../src/inference/session';
import { windowStarts } from '../../src/inference/sliding-window';
import { undeclaredLabelsPossible } from '../../src/inference/segment-volume';
import { createLogger } from '../../src/observability/logger';
import { REPO_ROOT } from '../support/ainode-process';
import { tempDir } from '../support/env';

const silent = createLogger({ level: 'silent' });

/** A pointwise model: Conv with a 1x..x1 kernel (1 -> 2 channels) and a sigmoid, for 2D or 3D input. */
function pointwiseModel(spatialDims: 2 | 3): Uint8Array {
  const k = spatialDims === 3 ? [1, 1, 1] : [1, 1];
  const shape = spatialDims === 3 ? ['n', 1, 'd', 'h', 'w'] : ['n', 1, 'h', 'w'];
  const outShape = spatialDims === 3 ? ['n', 2, 'd', 'h', 'w'] : ['n', 2, 'h', 'w'];
  return encodeModel({
    graphName: 'pointwise',
    producerName: 'ainode test',
    producerVersion: '1',
    docString: 'test model',
    opsetVersion: 13,
    nodes: [
      {
        op: 'Conv',
        name: 'conv',
        inputs: ['x', 'W', 'B'],
        outputs: ['c'],
        attributes: [{ name: 'kernel_shape', ints: k }],
      },
      { op: 'Sigmoid', name: 'sig', inputs: ['c'], outputs: ['y'] },
    ],
    initializers: [
      { name: 'W', dataType: DataType.FLOAT, dims: [2, 1, ...k], floats: [0.8, -1.3] },
      { name: 'B', dataType: DataType.FLOAT, dims: [2], floats: [-0.2, 0.4] },
    ],
    inputs: [{ name: 'x', dataType: DataType.FLOAT, shape }],
    outputs: [{ name: 'y', dataType: DataType.FLOAT, shape: outShape }],
  });
}

function pkgFor(modelPath: string, inference: ModelManifest['inference']): ModelPackage {
  const manifest = {
    id: 't',
    version: '1',
    input: { name: 'x', channels: 1 },
    output: { name: 'y', channels: 2 },
    inference,
  } as ModelManifest;
  return { manifest, dir: path.dirname(modelPath), modelPath };
}

describe('inference runtime', () => {
  const dir = tempDir('runtime');
  const m3 = path.join(dir, 'pointwise3d.onnx');
  const m2 = path.join(dir, 'pointwise2d.onnx');
  fs.writeFileSync(m3, pointwiseModel(3));
  fs.writeFileSync(m2, pointwiseModel(2));
  const dims: [number, number, number] = [20, 18, 23];
  const input = Float32Array.from({ length: dims[0] * dims[1] * dims[2] }, (_, i) => Math.sin(i * 0.37) * 3);

  it('sliding-window inference (overlap, Gaussian blending, padded edge tiles) equals whole-volume inference', async () => {
    const session = await createSession(m3, ['cpu'], silent);
    const whole = await runModel(pkgFor(m3, { mode: 'whole' }), session, input, dims);
    const tiled = await runModel(
      pkgFor(m3, { mode: 'sliding-window', patch: [8, 8, 8], overlap: 0.5, blend: 'gaussian' }),
      session,
      input,
      dims,
    );
    expect(tiled.data.length).to.equal(whole.data.length);
    let worst = 0;
    for (let i = 0; i < whole.data.length; i++) worst = Math.max(worst, Math.abs(tiled.data[i] - whole.data[i]));
    expect(worst).to.be.below(1e-5);
    // A patch larger than the volume along an axis is zero-padded and still matches.
    const big = await runModel(
      pkgFor(m3, { mode: 'sliding-window', patch: [32, 8, 8], overlap: 0.25, blend: 'constant' }),
      session,
      input,
      dims,
    );
    for (let i = 0; i < whole.data.length; i++) expect(Math.abs(big.data[i] - whole.data[i])).to.be.below(1e-5);
  });

  it('window starts cover the axis with the declared overlap and end flush', () => {
    expect(windowStarts(20, 8, 0.5)).to.deep.equal([0, 4, 8, 12]);
    expect(windowStarts(23, 8, 0.5)).to.deep.equal([0, 4, 8, 12, 15]);
    expect(windowStarts(5, 8, 0.5)).to.deep.equal([0]);
  });

  it('per-slice inference of a 2D model (batched) equals the 3D pointwise model on the whole volume', async () => {
    const s3 = await createSession(m3, ['cpu'], silent);
    const s2 = await createSession(m2, ['cpu'], silent);
    const whole = await runModel(pkgFor(m3, { mode: 'whole' }), s3, input, dims);
    const slices = await runModel(pkgFor(m2, { mode: 'slice', batchSize: 7 }), s2, input, dims);
    for (let i = 0; i < whole.data.length; i++) expect(Math.abs(slices.data[i] - whole.data[i])).to.be.below(1e-6);
  });

  it('when CUDA cannot load: one clear warning line and the session runs on CPU (no crash)', () => {
    const script = `
      const { createSession } = require(${JSON.stringify(path.join(REPO_ROOT, 'dist/src/inference/session.js'))});
      const { createLogger } = require(${JSON.stringify(path.join(REPO_ROOT, 'dist/src/observability/logger.js'))});
      createSession(${JSON.stringify(path.join(REPO_ROOT, 'models/ct-lung/model.onnx'))}, ['cuda', 'cpu'], createLogger())
        .then((s) => process.stdout.write('PROVIDER ' + s.provider + '\\n'), (e) => { process.stdout.write('FAILED ' + e.message + '\\n'); process.exit(1); });`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).to.equal(0);
    const lines = `${r.stdout}${r.stderr}`.split('\n').filter(Boolean);
    const provider = lines.find((l) => l.startsWith('PROVIDER '))!.slice(9);
    if (provider === 'cuda') {
      // A machine with a working CUDA provider: no fallback, nothing to warn about.
      expect(lines.filter((l) => /unavailable/.test(l))).to.deep.equal([]);
      return;
    }
    expect(provider).to.equal('cpu');
    expect(lines, lines.join('\n')).to.have.length(2); // the warning and PROVIDER
    const warning = JSON.parse(lines.find((l) => l.startsWith('{'))!) as { level: number; msg: string };
    expect(warning.level).to.equal(40);
    expect(warning.msg).to.equal('execution provider cuda unavailable; running on cpu');
  });
});

describe('model packages: refused with a clear message, the others keep working', () => {
  const good = path.join(REPO_ROOT, 'models', 'ct-lung');
  const setup = (
    mutate: (dir: string, manifest: Record<string, unknown>) => void,
  ): ReturnType<typeof loadModelPackages> => {
    const root = tempDir('pkgs');
    fs.cpSync(good, path.join(root, 'ct-lung'), { recursive: true });
    fs.cpSync(path.join(REPO_ROOT, 'models', 'mr-brain-tissue'), path.join(root, 'mr-brain-tissue'), {
      recursive: true,
    });
    const manifest = JSON.parse(fs.readFileSync(path.join(root, 'mr-brain-tissue', 'manifest.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    mutate(path.join(root, 'mr-brain-tissue'), manifest);
    fs.writeFileSync(path.join(root, 'mr-brain-tissue', 'manifest.json'), JSON.stringify(manifest));
    return loadModelPackages(root);
  };
  const cases: [string, (dir: string, m: Record<string, unknown>) => void, RegExp][] = [
    [
      'a wrong sha256',
      (_d, m) => (m.sha256 = crypto.createHash('sha256').update('other').digest('hex')),
      /^MODEL_WEIGHTS_CHECKSUM_MISMATCH: .*model\.onnx: sha256 [0-9a-f]{64} does not match/,
    ],
    [
      'a missing weights file',
      (d) => fs.rmSync(path.join(d, 'model.onnx')),
      /^MODEL_PACKAGE_INVALID: .*model\.onnx: weights file missing/,
    ],
    [
      'an unknown field',
      (_d, m) => ((m.preprocess as Record<string, unknown>).normalise = { method: 'minmax' }),
      /^MODEL_PACKAGE_INVALID: .*manifest\.json: \/preprocess\/normalise is not a known field/,
    ],
    [
      'a bad nested value',
      (_d, m) => ((m.inference as Record<string, unknown>).mode = 'tiles'),
      /^MODEL_PACKAGE_INVALID: .*\/inference\/mode must be one of whole, slice, sliding-window/,
    ],
    [
      'a derived ratio of an undeclared label',
      (_d, m) => (((m.derived as Record<string, unknown>[])[0].ratios as Record<string, unknown>[])[0].numerator = 7),
      /\/derived\/0\/ratios\/0\/numerator label 7 is not a declared segment/,
    ],
  ];
  for (const [name, mutate, reason] of cases) {
    it(`${name}`, () => {
      const { packages, refused } = setup(mutate);
      expect([...packages.keys()]).to.deep.equal(['ct-lung']);
      expect(refused).to.have.length(1);
      expect(refused[0].reason).to.match(reason);
    });
  }

  it('a new package dropped into the folder is found without code changes', () => {
    const { packages, refused } = setup(() => undefined);
    expect([...packages.keys()].sort()).to.deep.equal(['ct-lung', 'mr-brain-tissue']);
    expect(refused).to.deep.equal([]);
  });

  it('undeclared label values: possible after argmax/sigmoid only when a channel is not a declared segment, after a custom step only when a value it writes is not declared, always for label maps', () => {
    const m = (
      activation: string,
      channels: number,
      labels: number[],
      custom?: string,
    ): Parameters<typeof undeclaredLabelsPossible>[0] =>
      ({
        output: { name: 'o', channels },
        segments: labels.map((label) => ({ label })),
        postprocess: { activation, ...(custom ? { custom } : {}) },
      }) as unknown as Parameters<typeof undeclaredLabelsPossible>[0];
    expect(undeclaredLabelsPossible(m('argmax', 3, [1, 2]))).to.equal(false);
    expect(undeclaredLabelsPossible(m('argmax', 3, [1]))).to.equal(true);
    expect(undeclaredLabelsPossible(m('sigmoid', 2, [1, 2]))).to.equal(false);
    expect(undeclaredLabelsPossible(m('sigmoid', 2, [1]))).to.equal(true);
    expect(undeclaredLabelsPossible(m('none', 1, [1, 2]))).to.equal(true);
    // The lung step writes right (1) and left (2) lung only, whatever the activation.
    expect(undeclaredLabelsPossible(m('none', 1, [1, 2], 'ct-lung-left-right'))).to.equal(false);
    expect(undeclaredLabelsPossible(m('argmax', 3, [1, 2], 'ct-lung-left-right'))).to.equal(false);
    expect(undeclaredLabelsPossible(m('none', 1, [1], 'ct-lung-left-right'))).to.equal(true);
  });

  it('a manifest with many faults: every problem at once, each with its path', () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a document to break in many places
    const m = JSON.parse(fs.readFileSync(path.join(good, 'manifest.json'), 'utf8')) as Record<string, any>;
    m.inference = { mode: 'sliding-window', overlap: 2 };
    m.preprocess.normalize = { method: 'fixed', scale: 'x' };
    m.accepts.orientation = ['oblique'];
    m.accepts.bodyPartPattern = '(';
    m.seriesNumbers.seg = 0;
    m.segments[1].label = 99;
    let message = '';
    try {
      parseManifest(m, 'x.json');
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message.replace(/^x\.json: /, '').split('; ')).to.have.members([
      '/accepts/orientation/0 must be one of axial, coronal, sagittal',
      '/preprocess/normalize/offset is required',
      '/preprocess/normalize/scale must be a number',
      '/inference/patch is required',
      '/inference/overlap must be between 0 and 0.9',
      '/seriesNumbers/seg must be between 1 and 99999',
      '/accepts/bodyPartPattern is not a regular expression: Invalid regular expression: /(/i: Unterminated group',
      '/derived/0/union/1 label 2 is not a declared segment',
    ]);
  });

  it('sliding-window without a patch size is refused', () => {
    const m = JSON.parse(fs.readFileSync(path.join(good, 'manifest.json'), 'utf8')) as Record<string, unknown>;
    m.inference = { mode: 'sliding-window' };
    expect(() => parseManifest(m, 'x.json')).to.throw(/\/inference\/patch is required/);
  });
});

describe('preprocessing: intensity channels', () => {
  it('two declared windows become two input channels, each clipped and normalised', async () => {
    const { prepareIntensities } = await import('../../src/inference/segment-volume');
    const hu = Float32Array.from([-1000, -500, 0, 40, 400, 1000]);
    const x = prepareIntensities(hu, {
      normalize: { method: 'none' },
      channels: [
        { clip: [-1000, 0], normalize: { method: 'minmax' } },
        { clip: [-160, 240], normalize: { method: 'fixed', offset: -160, scale: 1 / 400 } },
      ],
    });
    expect(Array.from(x.subarray(0, 6))).to.deep.equal([0, 0.5, 1, 1, 1, 1]);
    expect(Array.from(x.subarray(6)).map((v) => Math.round(v * 1000) / 1000)).to.deep.equal([0, 0, 0.4, 0.5, 1, 1]);
  });

  it('a manifest whose channel list does not match the input channels is refused', () => {
    const m = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'models', 'ct-lung', 'manifest.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    (m.input as Record<string, unknown>).channels = 2;
    expect(() => parseManifest(m, 'x.json')).to.throw(
      /\/preprocess\/channels must list one transform per input channel \(2\)/,
    );
  });
});
