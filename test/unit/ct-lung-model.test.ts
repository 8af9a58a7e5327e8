import { expect } from 'chai';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildCtLungModel } from '../../scripts/build-ct-lung-model';
import { loadModelPackage, loadModelPackages } from '../../src/inference/model-package';
import { createSession } from '../../src/inference/session';
import { segmentVolume } from '../../src/inference/segment-volume';
import { measure } from '../../src/inference/measure';
import { createLogger } from '../../src/observability/logger';
import type { ScalarVolume } from '../../src/contracts/volume';
import { REPO_ROOT } from '../support/ainode-process';

/** A chest phantom: soft-tissue body (40 HU) in air, two air "lungs" with a vessel, a trachea joining them. */
function phantom(joined: boolean, trachea = false): ScalarVolume {
  const columns = 96,
    rows = 80,
    slices = 24;
  const v = new Float32Array(columns * rows * slices).fill(-1000);
  for (let k = 0; k < slices; k++)
    for (let j = 0; j < rows; j++)
      for (let i = 0; i < columns; i++) {
        const p = k * columns * rows + j * columns + i;
        const body = ((i - 48) / 44) ** 2 + ((j - 40) / 36) ** 2 < 1;
        if (!body) continue;
        v[p] = 40;
        const lungR = ((i - 28) / 14) ** 2 + ((j - 40) / 22) ** 2 + ((k - 12) / 10) ** 2 < 1; // image left = patient right
        const lungL = ((i - 68) / 12) ** 2 + ((j - 40) / 20) ** 2 + ((k - 12) / 10) ** 2 < 1;
        if (lungR || lungL) v[p] = -850;
        if ((lungR || lungL) && i % 16 === 0 && j % 16 === 0) v[p] = 30; // a vessel voxel, closed by the graph
        if (joined && k >= 10 && k <= 13 && j >= 38 && j <= 41 && i >= 28 && i <= 68) v[p] = -900; // airway bridge
        // A trachea on the midline (x = 0) in the superior slices (z grows with k), far enough
        // from the lungs that the graph's closing does not bridge them, and one slice below it a
        // main bronchus into the right lung. (Where an airway meets the lung within one slice,
        // that slice's airway stays with the lung: the tracking works on whole 2D regions.)
        if (trachea && k >= 19 && (i - 48) ** 2 + (j - 40) ** 2 <= 9) v[p] = -950;
        if (trachea && k === 18 && j >= 39 && j <= 41 && i >= 36 && i <= 48) v[p] = -950;
      }
  return {
    geometry: {
      columns,
      rows,
      slices,
      spacing: [2, 2, 5],
      origin: [-96, -80, 0],
      rowDirection: [1, 0, 0],
      columnDirection: [0, 1, 0],
      sliceDirection: [0, 0, 1],
      frameOfReferenceUid: '1.2.3',
    },
    voxels: v,
    slices: Array.from({ length: slices }, (_, k) => ({
      sopClassUid: '1.2.840.10008.5.1.4.1.1.2',
      sopInstanceUid: `1.2.3.${k + 1}`,
      imagePositionPatient: [-96, -80, 5 * k] as [number, number, number],
    })),
    seriesInstanceUid: '1.2.3.100',
  };
}

describe('models/ct-lung: the generated ONNX graph and its post-processing', () => {
  const dir = path.join(REPO_ROOT, 'models', 'ct-lung');

  it('the committed model.onnx is exactly what scripts/build-ct-lung-model.ts generates', () => {
    const committed = fs.readFileSync(path.join(dir, 'model.onnx'));
    expect(Buffer.from(buildCtLungModel()).equals(committed)).to.equal(true);
  });

  it('the manifest validates and its sha256 matches the weights', () => {
    const pkg = loadModelPackage(dir);
    expect(pkg.manifest.sha256).to.equal(
      crypto.createHash('sha256').update(fs.readFileSync(pkg.modelPath)).digest('hex'),
    );
  });

  for (const joined of [false, true]) {
    it(`finds right and left lung in a phantom (${joined ? 'joined by an airway' : 'separate'}), with real onnxruntime`, async () => {
      const pkg = loadModelPackage(dir);
      const session = await createSession(pkg.modelPath, ['cpu'], createLogger({ level: 'silent' }));
      const vol = phantom(joined);
      const r = await segmentVolume(pkg, session, vol);
      expect(r.note).to.match(joined ? /^eroded-split/ : /^separate-components/);
      const m = measure(pkg.manifest, vol, r.labels);
      const right = m.segments.get(1)!;
      const left = m.segments.get(2)!;
      // Right lung (patient right = smaller x) is the bigger phantom lung here.
      expect(right.voxelCount).to.be.greaterThan(left.voxelCount);
      expect(right.meanIntensity).to.be.below(-800);
      // Analytic ellipsoid volume: 4/3*pi*a*b*c voxels of 2x2x5 mm.
      const rightExpected = ((4 / 3) * Math.PI * 14 * 22 * 10 * 20) / 1000;
      expect(right.volumeMl).to.be.closeTo(rightExpected, rightExpected * 0.15);
      expect(m.derived.get('Both lungs')!.union!.voxelCount).to.equal(right.voxelCount + left.voxelCount);
    });
  }

  it('takes the trachea out of the lungs, and nothing else', async () => {
    const pkg = loadModelPackage(dir);
    const session = await createSession(pkg.modelPath, ['cpu'], createLogger({ level: 'silent' }));
    const vol = phantom(false, true);
    const r = await segmentVolume(pkg, session, vol);
    expect(r.note).to.match(/, [1-9]\d* airway voxels removed$/);
    const { columns, rows } = vol.geometry;
    let inTrachea = 0;
    for (let k = 19; k < 24; k++)
      for (let j = 36; j <= 44; j++)
        for (let i = 44; i <= 52; i++)
          if ((i - 48) ** 2 + (j - 40) ** 2 <= 9 && r.labels[k * columns * rows + j * columns + i]) inTrachea++;
    expect(inTrachea, 'trachea voxels left labelled as lung').to.equal(0);
    const m = measure(pkg.manifest, vol, r.labels);
    const rightExpected = ((4 / 3) * Math.PI * 14 * 22 * 10 * 20) / 1000;
    const leftExpected = ((4 / 3) * Math.PI * 12 * 20 * 10 * 20) / 1000;
    expect(m.segments.get(1)!.volumeMl).to.be.closeTo(rightExpected, rightExpected * 0.15);
    expect(m.segments.get(2)!.volumeMl).to.be.closeTo(leftExpected, leftExpected * 0.15);
    // Without a trachea nothing is removed.
    expect((await segmentVolume(pkg, session, phantom(false))).note).to.match(/, 0 airway voxels removed$/);
  });

  it('a volume without air inside the body is refused with SEGMENTATION_EMPTY', async () => {
    const pkg = loadModelPackage(dir);
    const session = await createSession(pkg.modelPath, ['cpu'], createLogger({ level: 'silent' }));
    const vol = phantom(false);
    vol.voxels.fill(40);
    try {
      await segmentVolume(pkg, session, vol);
      expect.fail('should have thrown');
    } catch (e) {
      expect((e as { code?: string }).code).to.equal('SEGMENTATION_EMPTY');
    }
  });

  it('a package whose weights do not match the manifest is refused, the others still load', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ainode-models-'));
    fs.cpSync(dir, path.join(tmp, 'ct-lung'), { recursive: true });
    fs.mkdirSync(path.join(tmp, 'broken'));
    fs.writeFileSync(path.join(tmp, 'broken', 'manifest.json'), JSON.stringify({ id: 'broken', version: 1 }));
    const { packages, refused } = loadModelPackages(tmp);
    expect([...packages.keys()]).to.deep.equal(['ct-lung']);
    expect(refused).to.have.length(1);
    // Every problem at once: each missing field and the version that is not a string.
    const [, list] = /broken\/manifest\.json: (.*?)(?: \(next: .*\))?$/.exec(refused[0].reason) ?? [];
    expect(refused[0].reason).to.match(/^MODEL_PACKAGE_INVALID: /);
    expect(list.split('; ')).to.have.members([
      // (inference, postprocess, segments and measurements are required of a segmentation model only)
      ...['task', 'file', 'sha256', 'licence', 'description', 'accepts', 'input', 'output', 'preprocess']
        .concat(['procedureReported', 'seriesNumbers'])
        .map((k) => `/${k} is required`),
      '/version must be a string',
    ]);
    fs.appendFileSync(path.join(tmp, 'ct-lung', 'model.onnx'), Buffer.from([0]));
    expect(loadModelPackages(tmp).refused.map((r) => r.reason.split(':')[0])).to.include(
      'MODEL_WEIGHTS_CHECKSUM_MISMATCH',
    );
  });
});
