/**
 * Issue 4, end to end: the T1 NIfTI converted to a DICOM MR series, stored in a real Orthanc,
 * found by the listener, segmented by the pretrained MeshNet (real onnxruntime), results stored
 * back. The reported volumes must match the model run directly on the conformed NIfTI within 1%.
 */
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { DicomwebClient } from '../../src/dicomweb/client';
import { jsonString, Tag } from '../../src/dicom/json';
import { readPart10 } from '../../src/dicom/part10';
import { niftiToMrSeries } from '../../src/convert/nifti-to-dicom';
import { readNifti } from '../../src/volume/nifti';
import { startOrthanc, type OrthancProcess } from '../../scripts/support/orthanc';
import { spawnAinode, type AinodeProcess, REPO_ROOT } from '../support/ainode-process';
import { BRAIN_T1_NIFTI, REDIS_URL, tempDir, uniquePrefix } from '../support/env';
import { readSeg, readSrNumbers } from '../support/seg-reader';
import { brainVolumesDirect } from '../support/brain-direct';

describe('T1 brain MRI -> pretrained MeshNet -> SEG + SR, through the PACS', function () {
  this.timeout(300_000);
  let orthanc: OrthancProcess;
  let node: AinodeProcess;
  let dir: string;
  const bytes = fs.readFileSync(BRAIN_T1_NIFTI);
  const series = niftiToMrSeries(bytes, readNifti(bytes), { seriesDescription: 'T1 MPRAGE (converted)' });
  let segBytes: Buffer;
  let srBytes: Buffer;

  before(async () => {
    dir = tempDir('brain');
    orthanc = await startOrthanc({ dir, stableAge: 2 });
    node = spawnAinode(['start'], {
      AINODE_DICOMWEB_URL: orthanc.dicomwebUrl,
      AINODE_REDIS_URL: REDIS_URL,
      AINODE_REDIS_PREFIX: uniquePrefix('brain'),
      AINODE_POLL_INTERVAL_MS: '300',
      AINODE_EXECUTION_PROVIDERS: 'cuda,cpu',
    });
    await node.waitForLog(/listening to the Orthanc change feed/, 30_000);
  });
  after(async () => {
    await node?.stop();
    await orthanc?.stop();
  });

  it('the converted series is a valid MR image series (dciodvfy: zero errors)', () => {
    expect(series.instances).to.have.length(256);
    const f = path.join(dir, 'mr.dcm');
    fs.writeFileSync(f, series.instances[100].part10);
    const out = spawnSync('dciodvfy', [f], { encoding: 'utf8' });
    const text = `${out.stdout}${out.stderr}`;
    expect(text).to.match(/^MRImage$/m);
    expect(
      text.split('\n').filter((l) => l.startsWith('Error')),
      text,
    ).to.deep.equal([]);
  });

  it('is found by the listener and comes back with a SEG and an SR from mr-brain-tissue', async () => {
    const client = new DicomwebClient({
      url: orthanc.dicomwebUrl,
      username: undefined,
      password: undefined,
      timeoutMs: 120_000,
    });
    const t0 = Date.now();
    for (let i = 0; i < series.instances.length; i += 32)
      await client.store(series.studyInstanceUid, series.instances.slice(i, i + 32));
    await node.waitForLog(/results stored/, 240_000);
    process.stdout.write(`      stored -> results: ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    const found = await client.search(`/studies/${series.studyInstanceUid}/series`);
    const by = (m: string): string[] =>
      found.filter((s) => jsonString(s, Tag.Modality) === m).map((s) => jsonString(s, Tag.SeriesInstanceUID)!);
    expect(by('SEG')).to.have.length(1);
    expect(by('SR')).to.have.length(1);
    [segBytes] = await client.retrieveSeries(series.studyInstanceUid, by('SEG')[0]);
    [srBytes] = await client.retrieveSeries(series.studyInstanceUid, by('SR')[0]);
    expect(node.lines.join('\n')).to.match(/"modelId":"mr-brain-tissue"/);
  });

  it('SEG and SR pass dciodvfy (zero errors) and dsrdump; the SEG is white and grey matter, frames on the source slices', () => {
    fs.writeFileSync(path.join(dir, 'seg.dcm'), segBytes);
    fs.writeFileSync(path.join(dir, 'sr.dcm'), srBytes);
    for (const [f, iod] of [
      ['seg.dcm', 'Segmentation'],
      ['sr.dcm', 'Comprehensive3DSR'],
    ]) {
      const r = spawnSync('dciodvfy', [path.join(dir, f)], { encoding: 'utf8' });
      const text = `${r.stdout}${r.stderr}`;
      expect(text).to.match(new RegExp(`^${iod}$`, 'm'));
      expect(
        text.split('\n').filter((l) => l.startsWith('Error')),
        text,
      ).to.deep.equal([]);
    }
    expect(execFileSync('dsrdump', [path.join(dir, 'sr.dcm')], { encoding: 'utf8' })).to.include(
      '(389081007,SCT,"Gray matter")',
    );
    const seg = readSeg(segBytes);
    expect(seg.segments.map((s) => s.typeCode)).to.deep.equal(['389080008', '389081007']);
    const positions = new Map(
      series.instances.map((i) => [
        i.sopInstanceUid,
        (readPart10(i.part10).dataset.ImagePositionPatient as unknown[]).map(Number),
      ]),
    );
    for (const f of seg.frames) {
      const p = positions.get(f.sourceSopInstanceUid);
      expect(p, 'frame references a source instance').to.not.equal(undefined);
      f.imagePositionPatient.forEach((v, i) => expect(v).to.be.closeTo(p![i], 1e-3));
    }
  });

  it('reported volumes equal the model run directly on the conformed NIfTI within 1%, and the SEG agrees', async () => {
    const direct = await brainVolumesDirect(
      BRAIN_T1_NIFTI,
      path.join(REPO_ROOT, 'models', 'mr-brain-tissue', 'model.onnx'),
    );
    const sr = readSrNumbers(srBytes);
    const white = sr.get('White matter')!.get('Volume')!;
    const grey = sr.get('Grey matter')!.get('Volume')!;
    const total = sr.get('Brain tissue')!;
    process.stdout.write(
      `      white ${white.toFixed(1)} mL (direct ${direct.whiteMl.toFixed(1)}), grey ${grey.toFixed(1)} mL (direct ${direct.greyMl.toFixed(1)}), sum ${total.get('Volume')!.toFixed(1)} mL, grey/white ${total.get('Grey matter to white matter volume ratio')!.toFixed(3)}\n`,
    );
    expect(white).to.be.closeTo(direct.whiteMl, direct.whiteMl * 0.01);
    expect(grey).to.be.closeTo(direct.greyMl, direct.greyMl * 0.01);
    expect(total.get('Volume')!).to.be.closeTo(white + grey, 1e-6 * (white + grey) + 1e-3);
    expect(total.get('Grey matter to white matter volume ratio')!).to.be.closeTo(grey / white, 1e-6);
    // Anatomically plausible adult values.
    expect(white).to.be.within(300, 800);
    expect(grey).to.be.within(400, 1000);
    const seg = readSeg(segBytes);
    const count = (n: number): number =>
      seg.frames.filter((f) => f.segmentNumber === n).reduce((s, f) => s + f.bits.reduce((a, b) => a + b, 0), 0);
    expect(count(1) * 0.001).to.be.closeTo(white, 1e-6 * white); // 1 mm^3 voxels
    expect(count(2) * 0.001).to.be.closeTo(grey, 1e-6 * grey);
  });
});
