/**
 * Inference benchmark (`npm run bench:inference`): for each shipped model on its real input, the
 * session creation time, the first run and the steady state (median and max over repeated runs),
 * with the execution provider actually used. Runs unchanged on CPU and on a GPU machine
 * (`-- --providers cuda,cpu`). Prints a table and, with `-- --out FILE`, writes JSON.
 * This is a benchmark, not a test: numbers vary with the machine; compare runs on one machine.
 */
import * as fs from 'fs';
import * as path from 'path';
import { loadModelPackage } from '../src/inference/model-package';
import { createSession } from '../src/inference/session';
import { runModel } from '../src/inference/runner';
import { prepareIntensities, toModelGrid } from '../src/inference/segment-volume';
import { assembleVolume } from '../src/volume/assemble';
import { readNifti } from '../src/volume/nifti';
import { niftiToMrSeries } from '../src/convert/nifti-to-dicom';
import { createLogger } from '../src/observability/logger';
import type { ScalarVolume } from '../src/contracts/volume';
import { rerunUnderMallocTuning } from './support/malloc-env';
import { textTable } from './support/text-table';

const REPO = path.resolve(__dirname, '..', '..');
const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

async function ctVolume(): Promise<ScalarVolume> {
  const dir = path.join(REPO, 'deploy', 'demo', 'data', 'tcia-lung-pet-ct-dx-A0001', 'series');
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.dcm'))
    .map((f) => fs.readFileSync(path.join(dir, f)));
  return (await assembleVolume('bench', files)).volume;
}

async function brainVolume(): Promise<ScalarVolume> {
  const bytes = fs.readFileSync(path.join(REPO, 'deploy', 'demo', 'data', 'brain-t1-niivue', 't1_crop.nii.gz'));
  const s = niftiToMrSeries(bytes, readNifti(bytes));
  return (
    await assembleVolume(
      s.seriesInstanceUid,
      s.instances.map((i) => i.part10),
    )
  ).volume;
}

async function main(): Promise<void> {
  const providers = (arg('--providers') ?? 'cuda,cpu').split(',');
  const runs = Number(arg('--runs') ?? 5);
  const log = createLogger({ level: 'warn' });
  const results = [];
  for (const [id, load] of [
    ['ct-lung', ctVolume],
    ['mr-brain-tissue', brainVolume],
  ] as const) {
    const pkg = loadModelPackage(path.join(REPO, 'models', id));
    const volume = await load();
    const { grid, voxels } = toModelGrid(volume, pkg.manifest.preprocess);
    const input = prepareIntensities(voxels, pkg.manifest.preprocess);
    const dims: [number, number, number] = [grid.slices, grid.rows, grid.columns];
    const session = await createSession(pkg.modelPath, providers, log);
    let t = performance.now();
    await runModel(pkg, session, input, dims);
    const firstMs = performance.now() - t;
    const steady: number[] = [];
    for (let r = 0; r < runs; r++) {
      t = performance.now();
      await runModel(pkg, session, input, dims);
      steady.push(performance.now() - t);
    }
    steady.sort((a, b) => a - b);
    results.push({
      model: id,
      provider: session.provider,
      inputShape: [1, pkg.manifest.input.channels, ...dims],
      sessionCreateMs: Math.round(session.createMs),
      firstRunMs: Math.round(firstMs),
      steadyMedianMs: Math.round(steady[Math.floor(steady.length / 2)]),
      steadyMaxMs: Math.round(steady[steady.length - 1]),
      runs,
    });
  }
  const head = ['model', 'provider', 'input', 'session ms', 'first run ms', 'steady median ms', 'steady max ms'];
  process.stdout.write(
    textTable(
      head,
      results.map((r) => [
        r.model,
        r.provider,
        r.inputShape.join('x'),
        r.sessionCreateMs,
        r.firstRunMs,
        r.steadyMedianMs,
        r.steadyMaxMs,
      ]),
    ),
  );
  const out = arg('--out');
  if (out)
    fs.writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), node: process.version, results }, null, 2));
}

if (!rerunUnderMallocTuning())
  main().catch((e) => {
    process.stderr.write(`bench failed: ${(e as Error).message}\n`);
    process.exit(1);
  });
