/**
 * Generic DICOMweb intake (QIDO-RS polling with a quiet period) against a real Orthanc that
 * requires HTTP Basic authentication, with the listener and the worker as separate processes.
 */
import { expect } from 'chai';
import { DicomwebClient } from '../../src/dicomweb/client';
import { jsonString, Tag } from '../../src/dicom/json';
import { startOrthanc, type OrthancProcess } from '../../scripts/support/orthanc';
import { readDicomFolder, stowFiles } from '../../scripts/support/dicom-files';
import { spawnAinode, type AinodeProcess } from '../support/ainode-process';
import { CHEST_CT_DIR, REDIS_URL, tempDir, uniquePrefix } from '../support/env';

describe('intake: any DICOMweb server (QIDO-RS polling), with credentials, listener and worker apart', function () {
  this.timeout(180_000);
  let orthanc: OrthancProcess;
  const procs: AinodeProcess[] = [];
  const users = { ainode: 's3cret-test' };

  before(async () => {
    orthanc = await startOrthanc({ dir: tempDir('qido'), users, stableAge: 60 });
  });
  after(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await orthanc?.stop();
  });

  it('wrong credentials: the listener says what failed and what to check', async () => {
    const p = spawnAinode(['start', '--role', 'listener'], {
      AINODE_DICOMWEB_URL: orthanc.dicomwebUrl,
      AINODE_REDIS_URL: REDIS_URL,
      AINODE_REDIS_PREFIX: uniquePrefix('badauth'),
      AINODE_PACS_KIND: 'dicomweb',
      AINODE_DICOMWEB_USERNAME: 'ainode',
      AINODE_DICOMWEB_PASSWORD: 'wrong',
      AINODE_POLL_INTERVAL_MS: '200',
    });
    procs.push(p);
    const line = await p.waitForLog(/intake tick failed/, 20_000);
    expect(line).to.include('HTTP 401');
    expect(line).to.include('AINODE_DICOMWEB_USERNAME/PASSWORD');
  });

  it('finds a study once its instance count is quiet and writes SEG + SR', async () => {
    const env = {
      AINODE_DICOMWEB_URL: orthanc.dicomwebUrl,
      AINODE_REDIS_URL: REDIS_URL,
      AINODE_REDIS_PREFIX: uniquePrefix('qido'),
      AINODE_PACS_KIND: 'dicomweb',
      AINODE_STABLE_SECONDS: '2',
      AINODE_POLL_INTERVAL_MS: '300',
      AINODE_DICOMWEB_USERNAME: 'ainode',
      AINODE_DICOMWEB_PASSWORD: users.ainode,
      AINODE_EXECUTION_PROVIDERS: 'cpu',
    };
    const listener = spawnAinode(['start', '--role', 'listener'], env);
    const worker = spawnAinode(['start', '--role', 'worker'], env);
    procs.push(listener, worker);
    await listener.waitForLog(/polling QIDO-RS for stable studies/, 20_000);
    await worker.waitForLog(/worker ready/, 20_000);
    const client = new DicomwebClient({
      url: orthanc.dicomwebUrl,
      username: 'ainode',
      password: users.ainode,
      timeoutMs: 60_000,
    });
    const files = readDicomFolder(CHEST_CT_DIR);
    await stowFiles(client, files);
    const study = files[0].studyInstanceUid;
    await worker.waitForLog(/results stored/, 120_000);
    const modalities = (await client.search(`/studies/${study}/series`)).map((s) => jsonString(s, Tag.Modality)).sort();
    expect(modalities).to.deep.equal(['CT', 'SEG', 'SR']);
    // The listener ran the routing; the worker never polls.
    expect(listener.lines.some((l) => l.includes('study enqueued'))).to.equal(true);
    expect(worker.lines.some((l) => l.includes('study enqueued'))).to.equal(false);
    // After our own SEG/SR changed the study's instance count, it becomes quiet again: no second result.
    await listener.waitForLog(/results already delivered/, 30_000);
    expect((await client.search(`/studies/${study}/series`)).length).to.equal(3);
  });
});
