/**
 * Issue 6: a burst of 100 studies (re-UIDed copies of a small real CT series, dcmqi's 3-slice GE
 * CT) with two listeners and three worker processes: every study gets exactly one result set.
 */
import { expect } from 'chai';
import * as path from 'path';
import { DicomwebClient } from '../../src/dicomweb/client';
import { startOrthanc, type OrthancProcess } from '../../scripts/support/orthanc';
import { readDicomFolder, stowFiles } from '../../scripts/support/dicom-files';
import { reUid } from '../../scripts/support/reuid';
import { spawnAinode, type AinodeProcess } from '../support/ainode-process';
import { REDIS_URL, SHARED_DATA, tempDir, uniquePrefix } from '../support/env';
import { resultCounts, waitUntil } from '../support/results';
import { anyCtRules, thresholdModelPackage } from '../support/test-models';

describe('burst of 100 studies, 2 listeners, 3 workers', function () {
  this.timeout(900_000);
  let orthanc: OrthancProcess;
  const procs: AinodeProcess[] = [];
  after(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await orthanc?.stop();
  });

  it('every study gets exactly one SEG and one SR; none lost, none duplicated', async () => {
    const dir = tempDir('burst');
    orthanc = await startOrthanc({ dir: path.join(dir, 'orthanc'), stableAge: 2 });
    const models = path.join(dir, 'models');
    thresholdModelPackage(models, 'ct-body', -300);
    const rules = path.join(dir, 'rules.yaml');
    anyCtRules(rules, 'ct-body');
    const env = {
      AINODE_DICOMWEB_URL: orthanc.dicomwebUrl,
      AINODE_REDIS_URL: REDIS_URL,
      AINODE_REDIS_PREFIX: uniquePrefix('burst'),
      AINODE_MODELS_DIR: models,
      AINODE_RULES_FILE: rules,
      AINODE_POLL_INTERVAL_MS: '300',
      AINODE_EXECUTION_PROVIDERS: 'cpu',
      AINODE_ORT_INTRA_OP_THREADS: '1',
    };
    const listeners = [1, 2].map(() => spawnAinode(['start', '--role', 'listener'], env));
    const workers = [1, 2, 3].map(() => spawnAinode(['start', '--role', 'worker'], env));
    procs.push(...listeners, ...workers);
    for (const l of listeners) await l.waitForLog(/listening to the Orthanc change feed/, 30_000);
    for (const w of workers) await w.waitForLog(/worker ready/, 30_000);
    const client = new DicomwebClient({
      url: orthanc.dicomwebUrl,
      username: undefined,
      password: undefined,
      timeoutMs: 60_000,
    });
    const source = readDicomFolder(path.join(SHARED_DATA, 'reference', 'dcmqi', 'segmentations', 'ct-3slice'));
    const studies = Array.from({ length: 100 }, (_, i) => reUid(source, `burst-${i}`));
    const t0 = Date.now();
    for (let i = 0; i < studies.length; i += 10)
      await Promise.all(studies.slice(i, i + 10).map((s) => stowFiles(client, s)));
    const stored = Date.now();
    let done = 0;
    await waitUntil('results for all 100 studies', 600_000, async () => {
      done = 0;
      for (const s of studies) if ((await resultCounts(client, s[0].studyInstanceUid)).sr > 0) done++;
      return done === studies.length;
    });
    const finished = Date.now();
    await new Promise((r) => setTimeout(r, 5000)); // let our own results make every study stable again
    let duplicates = 0;
    let lost = 0;
    for (const s of studies) {
      const c = await resultCounts(client, s[0].studyInstanceUid);
      if (c.seg === 0 || c.sr === 0) lost++;
      if (c.seg > 1 || c.sr > 1 || c.segInstances > 1 || c.srInstances > 1) duplicates++;
    }
    const perWorker = workers.map((w) => w.lines.filter((l) => l.includes('results stored')).length);
    const enqueuedBy = listeners.map((l) => l.lines.filter((x) => x.includes('study enqueued')).length);
    process.stdout.write(
      `      100 studies (300 instances) stored in ${((stored - t0) / 1000).toFixed(1)} s; all results in ${((finished - t0) / 1000).toFixed(1)} s; ` +
        `results ${done}, duplicates ${duplicates}, losses ${lost}; jobs per worker ${perWorker.join('/')}; enqueued per listener ${enqueuedBy.join('/')}\n`,
    );
    expect(lost).to.equal(0);
    expect(duplicates).to.equal(0);
    expect(perWorker.reduce((a, b) => a + b, 0)).to.equal(100);
    expect(
      enqueuedBy.reduce((a, b) => a + b, 0),
      'one job per study across both listeners',
    ).to.equal(100);
    expect(perWorker.filter((n) => n > 0).length, 'all three workers took work').to.equal(3);
    for (const p of procs) expect(p.child.exitCode).to.equal(null);
  });
});
