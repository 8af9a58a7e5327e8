/**
 * Issue 6 fault tests with real processes: ainode listeners and workers as separate processes,
 * a real Orthanc, and a private redis-server with append-only persistence. Each ends by counting
 * the SEG and SR of every study in Orthanc through QIDO-RS; the assertion is exact.
 */
import { expect } from 'chai';
import * as path from 'path';
import { DicomwebClient } from '../../src/dicomweb/client';
import { startOrthanc, type OrthancProcess } from '../../scripts/support/orthanc';
import { readDicomFolder, stowFiles } from '../../scripts/support/dicom-files';
import { reUid } from '../../scripts/support/reuid';
import { spawnAinode, type AinodeProcess } from '../support/ainode-process';
import { CHEST_CT_DIR, tempDir, uniquePrefix } from '../support/env';
import { startRedis, type RedisProcess } from '../../scripts/support/redis-server';
import { expectExactlyOneResult, resultCounts, waitUntil } from '../support/results';

const report = (line: string): void => void process.stdout.write(`      ${line}\n`);

describe('faults - nothing lost, nothing duplicated', function () {
  this.timeout(600_000);
  let dir: string;
  let orthanc: OrthancProcess;
  let redis: RedisProcess;
  let client: DicomwebClient;
  const procs: AinodeProcess[] = [];
  const ct = readDicomFolder(CHEST_CT_DIR);
  let env: Record<string, string>;

  const spawn = (role: 'listener' | 'worker'): AinodeProcess => {
    const p = spawnAinode(['start', '--role', role], env);
    procs.push(p);
    return p;
  };

  beforeEach(async function () {
    dir = tempDir('faults');
    orthanc = await startOrthanc({ dir: path.join(dir, 'orthanc'), stableAge: 2 });
    redis = await startRedis(path.join(dir, 'redis'));
    client = new DicomwebClient({
      url: orthanc.dicomwebUrl,
      username: undefined,
      password: undefined,
      timeoutMs: 30_000,
    });
    env = {
      AINODE_DICOMWEB_URL: orthanc.dicomwebUrl,
      AINODE_REDIS_URL: redis.url,
      AINODE_REDIS_PREFIX: uniquePrefix('faults'),
      AINODE_POLL_INTERVAL_MS: '300',
      AINODE_EXECUTION_PROVIDERS: 'cpu',
      AINODE_DICOMWEB_TIMEOUT_MS: '10000',
      AINODE_JOB_LOCK_MS: '4000',
      AINODE_STALLED_INTERVAL_MS: '2000',
      AINODE_MAX_STALLED: '20',
      AINODE_RETRY_ATTEMPTS: '12',
      AINODE_RETRY_DELAY_MS: '1000',
      AINODE_LOG_LEVEL: 'info',
    };
  });
  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => p.stop('SIGKILL')));
    await orthanc?.stop();
    await redis?.stop();
  });

  it('kill -9 of a worker in the middle of inference, three times: the study still ends with exactly one SEG and one SR', async () => {
    const t0 = Date.now();
    const listener = spawn('listener');
    await listener.waitForLog(/listening to the Orthanc change feed/, 30_000);
    const study = reUid(ct, 'kill-9');
    await stowFiles(client, study);
    for (let kill = 1; kill <= 3; kill++) {
      const w = spawn('worker');
      await w.waitForLog(/inference started/, 90_000);
      await w.stop('SIGKILL');
      report(`kill -9 #${kill} during inference at ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
    const survivor = spawn('worker');
    await survivor.waitForLog(/results stored/, 120_000);
    await new Promise((r) => setTimeout(r, 4000)); // our own SEG/SR make the study stable again
    await expectExactlyOneResult(client, study[0].studyInstanceUid);
    report(`studies sent 1, results 1, duplicates 0, losses 0; ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });

  it('Orthanc stopped for 30 s while jobs run, then started again: every job completes after it is back', async () => {
    const t0 = Date.now();
    const listener = spawn('listener');
    const worker = spawn('worker');
    await listener.waitForLog(/listening to the Orthanc change feed/, 30_000);
    await worker.waitForLog(/worker ready/, 30_000);
    const studies = [1, 2, 3].map((i) => reUid(ct, `outage-${i}`));
    for (const s of studies) await stowFiles(client, s);
    await waitUntil(
      '3 studies enqueued',
      60_000,
      async () => listener.lines.filter((l) => l.includes('study enqueued')).length >= 3,
    );
    await worker.waitForLog(/inference started/, 60_000);
    await orthanc.stop();
    report(`Orthanc stopped at ${((Date.now() - t0) / 1000).toFixed(1)} s with jobs running`);
    await new Promise((r) => setTimeout(r, 30_000));
    orthanc = await startOrthanc({ dir: orthanc.dir, stableAge: 2, httpPort: orthanc.httpPort });
    report(`Orthanc back at ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await waitUntil('all results', 240_000, async () => {
      for (const s of studies) if ((await resultCounts(client, s[0].studyInstanceUid)).sr === 0) return false;
      return true;
    });
    await new Promise((r) => setTimeout(r, 4000));
    for (const s of studies) await expectExactlyOneResult(client, s[0].studyInstanceUid);
    expect(worker.lines.some((l) => /DICOMWEB_UNREACHABLE|DICOMWEB_HTTP_ERROR|STOW/.test(l))).to.equal(true);
    report(`studies sent 3, results 3, duplicates 0, losses 0; ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });

  it('Redis restarted while jobs are queued and running: listener and workers reconnect, nothing queued is lost', async () => {
    const t0 = Date.now();
    const listener = spawn('listener');
    const worker = spawn('worker');
    await listener.waitForLog(/listening to the Orthanc change feed/, 30_000);
    await worker.waitForLog(/worker ready/, 30_000);
    const studies = [1, 2, 3].map((i) => reUid(ct, `redis-${i}`));
    for (const s of studies) await stowFiles(client, s);
    await waitUntil(
      '3 studies enqueued',
      60_000,
      async () => listener.lines.filter((l) => l.includes('study enqueued')).length >= 3,
    );
    await worker.waitForLog(/inference started/, 60_000);
    await redis.stop('SIGKILL');
    report(`redis-server killed at ${((Date.now() - t0) / 1000).toFixed(1)} s with 1 job running and 2 queued`);
    await new Promise((r) => setTimeout(r, 3000));
    await redis.start();
    report(`redis-server back (append-only file) at ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await waitUntil('all results', 240_000, async () => {
      for (const s of studies) if ((await resultCounts(client, s[0].studyInstanceUid)).sr === 0) return false;
      return true;
    });
    await new Promise((r) => setTimeout(r, 4000));
    for (const s of studies) await expectExactlyOneResult(client, s[0].studyInstanceUid);
    expect(listener.child.exitCode).to.equal(null);
    expect(worker.child.exitCode).to.equal(null);
    report(`studies sent 3, results 3, duplicates 0, losses 0; ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });
});
