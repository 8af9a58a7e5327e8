/**
 * Issue 6: graceful shutdown (SIGTERM finishes the running job; past the deadline the job is
 * handed back and another worker completes it) and re-runs when a selected series changes (a new
 * result version with its own series; earlier results stay).
 */
import { expect } from 'chai';
import * as path from 'path';
import { DicomwebClient } from '../../src/dicomweb/client';
import { jsonNumber, jsonString, Tag } from '../../src/dicom/json';
import { startOrthanc, type OrthancProcess } from '../../scripts/support/orthanc';
import { readDicomFolder, stowFiles } from '../../scripts/support/dicom-files';
import { reUid } from '../../scripts/support/reuid';
import { spawnAinode, type AinodeProcess } from '../support/ainode-process';
import { CHEST_CT_DIR, REDIS_URL, tempDir, uniquePrefix } from '../support/env';
import { expectExactlyOneResult, waitUntil } from '../support/results';

describe('shutdown and re-runs', function () {
  this.timeout(300_000);
  let orthanc: OrthancProcess;
  let client: DicomwebClient;
  const procs: AinodeProcess[] = [];
  const ct = readDicomFolder(CHEST_CT_DIR);
  let env: Record<string, string>;
  const spawn = (args: string[], extra: Record<string, string> = {}): AinodeProcess => {
    const p = spawnAinode(args, { ...env, ...extra });
    procs.push(p);
    return p;
  };

  beforeEach(async () => {
    orthanc = await startOrthanc({ dir: path.join(tempDir('lifecycle'), 'orthanc'), stableAge: 2 });
    client = new DicomwebClient({
      url: orthanc.dicomwebUrl,
      username: undefined,
      password: undefined,
      timeoutMs: 60_000,
    });
    env = {
      AINODE_DICOMWEB_URL: orthanc.dicomwebUrl,
      AINODE_REDIS_URL: REDIS_URL,
      AINODE_REDIS_PREFIX: uniquePrefix('life'),
      AINODE_POLL_INTERVAL_MS: '300',
      AINODE_EXECUTION_PROVIDERS: 'cpu',
      AINODE_JOB_LOCK_MS: '4000',
      AINODE_STALLED_INTERVAL_MS: '2000',
    };
  });
  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => p.stop('SIGKILL')));
    await orthanc.stop();
  });

  it('SIGTERM during inference: the worker takes no new job, finishes the running one and exits 0', async () => {
    const listener = spawn(['start', '--role', 'listener']);
    const worker = spawn(['start', '--role', 'worker']);
    await listener.waitForLog(/listening to the Orthanc change feed/, 30_000);
    await worker.waitForLog(/worker ready/, 30_000);
    const study = reUid(ct, 'sigterm');
    await stowFiles(client, study);
    await worker.waitForLog(/inference started/, 60_000);
    const code = await worker.stop('SIGTERM');
    expect(code).to.equal(0);
    expect(worker.lines.some((l) => l.includes('results stored'))).to.equal(true);
    expect(worker.lines.findIndex((l) => l.includes('stopping: no new jobs'))).to.be.lessThan(
      worker.lines.findIndex((l) => l.includes('results stored')),
    );
    await expectExactlyOneResult(client, study[0].studyInstanceUid);
  });

  it('past the shutdown deadline the job is handed back and another worker completes it, once', async () => {
    const listener = spawn(['start', '--role', 'listener']);
    const first = spawn(['start', '--role', 'worker'], { AINODE_SHUTDOWN_DEADLINE_MS: '50' });
    await listener.waitForLog(/listening to the Orthanc change feed/, 30_000);
    const study = reUid(ct, 'deadline');
    await stowFiles(client, study);
    await first.waitForLog(/inference started/, 60_000);
    await first.stop('SIGTERM');
    expect(first.lines.some((l) => l.includes('shutdown deadline passed'))).to.equal(true);
    expect(first.lines.some((l) => l.includes('results stored'))).to.equal(false);
    const second = spawn(['start', '--role', 'worker']);
    await second.waitForLog(/results stored/, 90_000);
    await new Promise((r) => setTimeout(r, 4000));
    await expectExactlyOneResult(client, study[0].studyInstanceUid);
  });

  it('more instances arrive in the selected series later: a new result version with its own series; the first result stays', async () => {
    const node = spawn(['start']);
    await node.waitForLog(/listening to the Orthanc change feed/, 30_000);
    const study = reUid(ct, 'rerun');
    const uid = study[0].studyInstanceUid;
    await stowFiles(client, study.slice(0, 40));
    await waitUntil(
      'first result',
      90_000,
      async () => node.lines.filter((l) => l.includes('results stored')).length === 1,
    );
    await new Promise((r) => setTimeout(r, 4000)); // our own results come back as a stable study: no re-run
    expect(node.lines.some((l) => l.includes('re-running as a new result version'))).to.equal(false);
    await stowFiles(client, study.slice(40));
    await waitUntil(
      'second result',
      90_000,
      async () => node.lines.filter((l) => l.includes('results stored')).length === 2,
    );
    await new Promise((r) => setTimeout(r, 4000));
    const series = await client.search(`/studies/${uid}/series`, { includefield: [Tag.SeriesNumber] });
    const segs = series.filter((s) => jsonString(s, Tag.Modality) === 'SEG');
    const srs = series.filter((s) => jsonString(s, Tag.Modality) === 'SR');
    expect(segs).to.have.length(2);
    expect(srs).to.have.length(2);
    expect(segs.map((s) => jsonNumber(s, Tag.SeriesNumber)).sort()).to.deep.equal([9001, 9101]);
    expect(node.lines.filter((l) => l.includes('re-running as a new result version'))).to.have.length(1);
    // A third stable event with nothing new changes nothing.
    expect(node.lines.filter((l) => l.includes('results stored'))).to.have.length(2);
  });
});
