/**
 * The demo's driver (started by scripts/demo.sh, which provides Redis): a private Orthanc, the
 * real `ainode start` process, the chest CT stored by STOW-RS, then the results read back from the
 * PACS and printed. Prints progress as it goes; a failure says what to look at.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { DicomwebClient } from '../src/dicomweb/client';
import { jsonString, Tag } from '../src/dicom/json';
import { readPart10 } from '../src/dicom/part10';
import { mallocTuningEnv } from '../src/observability/memory';
import { startOrthanc, freePort } from './support/orthanc';
import { readDicomFolder, stowFiles } from './support/dicom-files';

const REPO = path.resolve(__dirname, '..', '..');
const CT_DIR = path.join(REPO, 'deploy', 'demo', 'data', 'tcia-lung-pet-ct-dx-A0001', 'series');

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const say = (s: string): void => void process.stdout.write(`${s}\n`);

type Item = Record<string, unknown>;
const seq = (ds: Item, k: string): Item[] => (Array.isArray(ds[k]) ? (ds[k] as Item[]) : []);

function srGroups(part10: Buffer): { name: string; values: string[] }[] {
  const { dataset } = readPart10(part10);
  const out: { name: string; values: string[] }[] = [];
  const walk = (items: Item[]): void => {
    for (const it of items) {
      const meaning = String(seq(it, 'ConceptNameCodeSequence')[0]?.CodeMeaning ?? '');
      if (it.ValueType === 'CONTAINER' && meaning === 'Measurement Group') {
        const kids = seq(it, 'ContentSequence');
        const name = String(
          kids.find((k) => seq(k, 'ConceptNameCodeSequence')[0]?.CodeMeaning === 'Tracking Identifier')?.TextValue ??
            '?',
        );
        const values = kids
          .filter((k) => k.ValueType === 'NUM')
          .map((k) => {
            const mv = seq(k, 'MeasuredValueSequence')[0] ?? {};
            const unit = String(seq(mv, 'MeasurementUnitsCodeSequence')[0]?.CodeValue ?? '');
            const label = String(seq(k, 'ConceptNameCodeSequence')[0]?.CodeMeaning)
              .replace('Attenuation Coefficient', 'Mean density')
              .replace('Lung volume below -950 HU, percent of lung volume', '%LAA-950');
            return `${label} ${Number(mv.NumericValue).toFixed(unit === '%' ? 2 : 1)} ${unit === "[hnsf'U]" ? 'HU' : unit === 'cm3' ? 'mL' : unit}`;
          });
        out.push({ name, values });
      } else walk(seq(it, 'ContentSequence'));
    }
  };
  walk(seq(dataset, 'ContentSequence'));
  return out;
}

async function main(): Promise<number> {
  const runDir = arg('--run-dir') ?? fs.mkdtempSync('/tmp/ainode-demo-');
  const redisUrl = arg('--redis-url');
  if (!redisUrl) throw new Error('--redis-url is required (scripts/demo.sh provides it)');
  const keep = !process.argv.includes('--exit') && process.stdout.isTTY;

  say(`1/5 starting Orthanc with DICOMweb in ${runDir}/orthanc`);
  let port = 8042;
  try {
    await fetch('http://127.0.0.1:8042/system', { signal: AbortSignal.timeout(500) });
    port = await freePort(); // 8042 is taken
  } catch {
    /* 8042 is free */
  }
  const orthanc = await startOrthanc({ dir: path.join(runDir, 'orthanc'), httpPort: port, stableAge: 3 });
  say(`    Orthanc ${orthanc.url}  (DICOMweb ${orthanc.dicomwebUrl})`);

  say('2/5 starting ainode (listener + worker) and the OHIF viewer gateway');
  const logFile = path.join(runDir, 'ainode.log');
  const log = fs.openSync(logFile, 'a');
  // The default rules, asking for both SR profiles so the results also show in OHIF's panel.
  const rulesFile = path.join(runDir, 'rules.yaml');
  fs.writeFileSync(
    rulesFile,
    fs
      .readFileSync(path.join(REPO, 'deploy', 'rules', 'default.yaml'), 'utf8')
      .replace(/^(\s+)priority: routine$/gm, '$1priority: routine\n$1srProfiles: [standard, viewer]'),
  );
  const node = spawn(process.execPath, [path.join(REPO, 'bin', 'ainode.js'), 'start'], {
    env: {
      ...process.env,
      ...mallocTuningEnv(),
      AINODE_DICOMWEB_URL: orthanc.dicomwebUrl,
      AINODE_REDIS_URL: redisUrl,
      AINODE_RULES_FILE: rulesFile,
    },
    stdio: ['ignore', log, log],
  });
  const ohifDist = arg('--ohif-dist');
  let viewerPort = 3000;
  try {
    await fetch('http://127.0.0.1:3000/', { signal: AbortSignal.timeout(500) });
    viewerPort = await freePort(); // 3000 is taken
  } catch {
    /* 3000 is free */
  }
  const viewer = ohifDist
    ? spawn(process.execPath, [path.join(REPO, 'bin', 'ainode.js'), 'viewer', '--ohif-dist', ohifDist], {
        env: { ...process.env, AINODE_DICOMWEB_URL: orthanc.dicomwebUrl, AINODE_VIEWER_PORT: String(viewerPort) },
        stdio: ['ignore', log, log],
      })
    : undefined;
  const stopAll = async (): Promise<void> => {
    for (const p of [node, viewer]) {
      if (!p) continue;
      p.kill('SIGTERM');
      await new Promise((r) => (p.exitCode !== null ? r(null) : p.once('exit', r)));
    }
    await orthanc.stop();
  };
  const deadline = Date.now() + 30_000;
  while (!fs.readFileSync(logFile, 'utf8').includes('listening to the Orthanc change feed')) {
    if (node.exitCode !== null || Date.now() > deadline) {
      await orthanc.stop();
      throw new Error(`ainode did not start; see ${logFile}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  say(`    ainode is running; its JSON log: ${logFile}`);

  const client = new DicomwebClient({
    url: orthanc.dicomwebUrl,
    username: undefined,
    password: undefined,
    timeoutMs: 60_000,
  });
  const files = readDicomFolder(CT_DIR);
  const study = files[0].studyInstanceUid;
  say(`3/5 storing the chest CT (${files.length} slices, TCIA Lung-PET-CT-Dx A0001, CC BY 4.0) by STOW-RS`);
  const t0 = Date.now();
  await stowFiles(client, files);

  say(
    '4/5 waiting for ainode to find the study and write its results (Orthanc calls a study stable 3 s after its last image)',
  );
  let seg: string | undefined;
  let sr: string | undefined;
  let lastStage = '';
  while (!(seg && sr)) {
    if (Date.now() - t0 > 300_000) {
      await stopAll();
      throw new Error(`no results after 5 minutes; see ${logFile}`);
    }
    await new Promise((r) => setTimeout(r, 500));
    const series = await client.search(`/studies/${study}/series`);
    // The standard SR (the key-slice SR for OHIF is stored beside it).
    const uidOf = (modality: string): string | undefined => {
      const s = series.find(
        (x) =>
          jsonString(x, Tag.Modality) === modality && !/key slices/.test(jsonString(x, Tag.SeriesDescription) ?? ''),
      );
      return s && jsonString(s, Tag.SeriesInstanceUID);
    };
    seg = uidOf('SEG');
    sr = uidOf('SR');
    const stage =
      /"msg":"(study enqueued|results stored)"/.exec(
        fs.readFileSync(logFile, 'utf8').split('\n').reverse().join('\n'),
      )?.[1] ?? '';
    if (stage && stage !== lastStage) say(`    ${((Date.now() - t0) / 1000).toFixed(1)} s: ${stage}`);
    lastStage = stage;
  }
  const seconds = (Date.now() - t0) / 1000;
  const [srBytes] = await client.retrieveSeries(study, sr);

  say(`5/5 done: stored -> SEG and SR in the PACS in ${seconds.toFixed(1)} s\n`);
  say(`Study               ${study}`);
  say(`SEG series (lungs)  ${seg}`);
  say(`SR series           ${sr}  (and the key-slice SR for OHIF)`);
  for (const g of srGroups(srBytes)) say(`  ${g.name.padEnd(11)} ${g.values.join(', ')}`);
  const orthancStudy = (await (await fetch(`${orthanc.url}/tools/lookup`, { method: 'POST', body: study })).json()) as {
    ID: string;
  }[];
  say('\nWhere to look:');
  say(`  Orthanc Explorer  ${orthanc.url}/app/explorer.html#study?uuid=${orthancStudy[0]?.ID ?? ''}`);
  if (viewer)
    say(
      `  OHIF viewer       http://127.0.0.1:${viewerPort}/viewer?StudyInstanceUIDs=${study}\n                    (double-click the SEG, then the "key slices" SR, and confirm)`,
    );
  say(`  DICOMweb (any viewer)  ${orthanc.dicomwebUrl}`);
  say(
    `  dciodvfy / dsrdump: download with  curl -H 'Accept: multipart/related; type="application/dicom"' ${orthanc.dicomwebUrl}/studies/${study}/series/${sr}`,
  );
  if (keep) {
    say('\nOrthanc and ainode keep running; press Ctrl-C to stop them.');
    await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  }
  await stopAll();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`demo failed: ${(e as Error).message}\n`);
    process.exit(1);
  },
);
