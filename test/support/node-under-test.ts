/**
 * What the end-to-end tests of model kinds share: a real Orthanc, the real `ainode start` with a
 * folder of test model packages and a rules file, and the checks every report gets (dciodvfy with
 * zero errors, dsrdump).
 */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { DicomwebClient } from '../../src/dicomweb/client';
import { jsonString, Tag } from '../../src/dicom/json';
import { startOrthanc, type OrthancProcess } from '../../scripts/support/orthanc';
import { spawnAinode, type AinodeProcess } from './ainode-process';
import { waitUntil } from './results';
import { REDIS_URL, tempDir, uniquePrefix } from './env';

export interface NodeUnderTest {
  dir: string;
  models: string;
  orthanc: OrthancProcess;
  client: DicomwebClient;
  node: AinodeProcess;
  stop(): Promise<void>;
}

/** Orthanc and a node (listener and worker, CPU) with the packages `writeModels` puts in its models folder. */
export async function startNodeUnderTest(
  name: string,
  writeModels: (modelsDir: string) => void,
  rules: string,
  env: Record<string, string> = {},
): Promise<NodeUnderTest> {
  const dir = tempDir(name);
  const models = path.join(dir, 'models');
  writeModels(models);
  const rulesFile = path.join(dir, 'rules.yaml');
  fs.writeFileSync(rulesFile, rules);
  const orthanc = await startOrthanc({ dir, stableAge: 2 });
  const client = new DicomwebClient({
    url: orthanc.dicomwebUrl,
    username: undefined,
    password: undefined,
    timeoutMs: 60_000,
  });
  const node = spawnAinode(['start'], {
    AINODE_DICOMWEB_URL: orthanc.dicomwebUrl,
    AINODE_REDIS_URL: REDIS_URL,
    AINODE_REDIS_PREFIX: uniquePrefix(name),
    AINODE_POLL_INTERVAL_MS: '300',
    AINODE_MODELS_DIR: models,
    AINODE_RULES_FILE: rulesFile,
    AINODE_EXECUTION_PROVIDERS: 'cpu',
    ...env,
  });
  await node.waitForLog(/listening to the Orthanc change feed/, 30_000);
  return {
    dir,
    models,
    orthanc,
    client,
    node,
    async stop() {
      await node.stop();
      await orthanc.stop();
    },
  };
}

/** Waits until the study holds `count` SR series; returns each one's first instance. */
export async function waitForReports(
  client: DicomwebClient,
  study: string,
  count: number,
  timeoutMs = 180_000,
): Promise<Buffer[]> {
  let uids: string[] = [];
  await waitUntil(`${count} report(s) on ${study}`, timeoutMs, async () => {
    const series = await client.search(`/studies/${study}/series`);
    uids = series.filter((s) => jsonString(s, Tag.Modality) === 'SR').map((s) => jsonString(s, Tag.SeriesInstanceUID)!);
    return uids.length >= count;
  });
  return Promise.all(uids.map(async (uid) => (await client.retrieveSeries(study, uid))[0]));
}

/** dciodvfy with zero errors (a Comprehensive 3D SR) and dsrdump reading it; dsrdump's text. */
export function checkReport(part10: Buffer, dir: string, name: string): string {
  const file = path.join(dir, `${name.replace(/\W+/g, '-')}.dcm`);
  fs.writeFileSync(file, part10);
  const v = spawnSync('dciodvfy', [file], { encoding: 'utf8' });
  const text = `${v.stdout}${v.stderr}`;
  expect(text).to.match(/^Comprehensive3DSR$/m);
  expect(
    text.split('\n').filter((l) => l.startsWith('Error')),
    text,
  ).to.deep.equal([]);
  const dump = spawnSync('dsrdump', [file], { encoding: 'utf8' });
  expect(dump.status, dump.stderr).to.equal(0);
  return dump.stdout;
}
