/**
 * The worker's accept stage reads a series' slice spacing from its facts (QIDO-RS instance
 * positions) before anything is downloaded: against a real Orthanc it must equal the spacing of
 * the volume assembled from the pixels.
 */
import { expect } from 'chai';
import * as path from 'path';
import { DicomwebClient } from '../../src/dicomweb/client';
import { assembleVolume } from '../../src/volume/assemble';
import { factSpacing } from '../../src/worker/process-inference';
import { startOrthanc, type OrthancProcess } from '../../scripts/support/orthanc';
import { readDicomFolder, stowFiles } from '../../scripts/support/dicom-files';
import { reUid } from '../../scripts/support/reuid';
import { CHEST_CT_DIR, tempDir } from '../support/env';

describe('worker: slice spacing from the series facts, before retrieval', function () {
  this.timeout(120_000);
  let orthanc: OrthancProcess;
  after(async () => orthanc?.stop());

  it('equals the spacing of the volume made from the pixels (chest CT)', async () => {
    orthanc = await startOrthanc({ dir: path.join(tempDir('accept'), 'orthanc') });
    const client = new DicomwebClient({
      url: orthanc.dicomwebUrl,
      username: undefined,
      password: undefined,
      timeoutMs: 60_000,
    });
    const files = reUid(readDicomFolder(CHEST_CT_DIR), 'accept-facts');
    await stowFiles(client, files);
    const job = {
      studyInstanceUid: files[0].studyInstanceUid,
      seriesInstanceUid: files[0].seriesInstanceUid,
      modelId: 'ct-lung',
      modelVersion: '1.0.0',
    };
    const fromFacts = await factSpacing(client, job);
    const { volume } = await assembleVolume(
      job.seriesInstanceUid,
      files.map((f) => f.part10),
    );
    expect(fromFacts, 'spacing from QIDO-RS').to.be.a('number');
    expect(fromFacts!).to.be.closeTo(volume.geometry.spacing[2], 1e-3);
  });
});
