/**
 * WADO-RS retrieval on a thread of its own (src/dicomweb/retrieve-thread.ts), against a real
 * Orthanc that requires HTTP Basic authentication: the same instances as the in-process client,
 * errors with the same codes, a failing callback stops the transfer and leaves the thread usable.
 */
import * as diagnostics from 'diagnostics_channel';
import { expect } from 'chai';
import { DicomwebClient } from '../../src/dicomweb/client';
import { RetrieveThread } from '../../src/dicomweb/retrieve-thread';
import { AinodeError } from '../../src/errors';
import { startOrthanc, type OrthancProcess } from '../../scripts/support/orthanc';
import { readDicomFolder, stowFiles } from '../../scripts/support/dicom-files';
import { CHEST_CT_DIR, tempDir } from '../support/env';

describe('WADO-RS retrieval on its own thread', function () {
  this.timeout(120_000);
  let orthanc: OrthancProcess;
  const users = { ainode: 'thread-test' };
  const ct = readDicomFolder(CHEST_CT_DIR);
  const study = ct[0].studyInstanceUid;
  const series = ct[0].seriesInstanceUid;
  let cfg: ConstructorParameters<typeof DicomwebClient>[0];
  let thread: RetrieveThread;

  before(async () => {
    orthanc = await startOrthanc({ dir: tempDir('wado-thread'), users, stableAge: 60 });
    cfg = { url: orthanc.dicomwebUrl, username: 'ainode', password: users.ainode, timeoutMs: 60_000 };
    await stowFiles(new DicomwebClient(cfg), ct);
    thread = new RetrieveThread(cfg);
  });
  after(async () => {
    await thread?.close();
    await orthanc?.stop();
  });

  it('hands over every instance, byte for byte what the in-process client receives, in the same order', async () => {
    const direct: Buffer[] = [];
    const viaThread: Buffer[] = [];
    expect(await new DicomwebClient(cfg).retrieveSeriesStreaming(study, series, (p) => void direct.push(p))).to.equal(
      64,
    );
    expect(await thread.retrieveSeriesStreaming(study, series, (p) => void viaThread.push(p))).to.equal(64);
    expect(viaThread).to.have.length(64);
    for (let i = 0; i < 64; i++) expect(viaThread[i].equals(direct[i]), `instance ${i}`).to.equal(true);
    // The stored files, as sent: every one came back.
    const sent = new Set(ct.map((f) => f.part10.toString('base64')));
    expect(viaThread.every((b) => sent.has(b.toString('base64')))).to.equal(true);
  });

  it('requests in a row share one connection, although Orthanc announces a keep-alive of one second', async () => {
    let connects = 0;
    const count = (): void => void connects++;
    diagnostics.subscribe('undici:client:connected', count);
    try {
      const client = new DicomwebClient(cfg);
      // (Not a retrieval: Orthanc streams a WADO-RS answer and closes its connection.)
      for (let i = 0; i < 5; i++)
        expect(await client.search('/studies', { StudyInstanceUID: study })).to.have.length(1);
      await new Promise((r) => setTimeout(r, 300)); // an idle pause, as between two change-feed reads
      expect(await client.search(`/studies/${study}/series`)).to.have.length(1);
    } finally {
      diagnostics.unsubscribe('undici:client:connected', count);
    }
    expect(connects).to.equal(1);
  });

  it('a callback that throws rejects with its error and stops the transfer; the thread serves the next retrieval', async () => {
    let calls = 0;
    const boom = new AinodeError('PIXEL_DATA_UNSUPPORTED', 'test: refused on the third instance');
    try {
      await thread.retrieveSeriesStreaming(study, series, () => {
        if (++calls === 3) throw boom;
      });
      expect.fail('should have thrown');
    } catch (e) {
      expect(e).to.equal(boom);
    }
    expect(calls).to.equal(3);
    let n = 0;
    expect(await thread.retrieveSeriesStreaming(study, series, () => void n++)).to.equal(64);
    expect(n).to.equal(64);
  });

  it('errors raised on the thread keep their codes: unknown series, wrong password, PACS unreachable', async () => {
    const codeOf = async (
      t: RetrieveThread,
      seriesUid: string,
    ): Promise<{ code?: string; retryable?: boolean; message: string }> => {
      try {
        await t.retrieveSeriesStreaming(study, seriesUid, () => undefined);
        return { message: 'no error' };
      } catch (e) {
        return e as AinodeError;
      }
    };
    const unknown = await codeOf(thread, '1.2.3.4.5.6.7.8.9');
    expect(unknown).to.be.instanceOf(AinodeError);
    expect(unknown.code).to.be.oneOf(['SERIES_NOT_FOUND', 'DICOMWEB_HTTP_ERROR']);
    const wrong = new RetrieveThread({ ...cfg, password: 'wrong' });
    const refused = await codeOf(wrong, series);
    await wrong.close();
    expect(refused.code).to.equal('DICOMWEB_HTTP_ERROR');
    expect(refused.message).to.include('HTTP 401');
    expect(refused.retryable).to.equal(false);
    const nowhere = new RetrieveThread({ ...cfg, url: 'http://127.0.0.1:9/dicom-web' });
    const down = await codeOf(nowhere, series);
    await nowhere.close();
    expect(down.code).to.equal('DICOMWEB_UNREACHABLE');
    expect(down.retryable).to.equal(true);
  });
});
