/**
 * Issue 3: the JPEG 2000 abdominal CT end to end (stored as is, retrieved as stored, decoded in
 * the node), and its 31-organ TotalSegmentator reference mask written as a SEG on that CT, stored,
 * read back bit-exact, with the mean HU under liver, spleen and aorta matching the reference
 * values in NOTES.md within 5 HU: a geometry check no self-consistent bug can pass.
 */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { DicomwebClient } from '../../src/dicomweb/client';
import { jsonString, Tag } from '../../src/dicom/json';
import { code } from '../../src/dicom/codes';
import { buildSegmentation } from '../../src/dicom/seg/builder';
import { SegmentAlgorithmType, SegmentDescription } from '../../src/dicom/seg/segment';
import { randomUid } from '../../src/contracts/uid';
import { anyCtRules, thresholdModelPackage } from '../support/test-models';
import { VolumeBuilder } from '../../src/volume/assemble';
import { readNifti } from '../../src/volume/nifti';
import type { ScalarVolume } from '../../src/contracts/volume';
import type { PatientStudyAttributes } from '../../src/dicom/study-attributes';
import { startOrthanc, type OrthancProcess } from '../../scripts/support/orthanc';
import { readDicomFolder, stowFiles, type DicomFile } from '../../scripts/support/dicom-files';
import { spawnAinode, type AinodeProcess } from '../support/ainode-process';
import { REDIS_URL, SHARED_DATA, tempDir, uniquePrefix } from '../support/env';
import { readSeg } from '../support/seg-reader';

const ABDOMEN = path.join(SHARED_DATA, 'ct', 'totalsegmentator-abdomen');
// SNOMED CT codes for the organs whose HU is checked; the rest use TotalSegmentator's own names
// in a declared local scheme.
const SCT: Record<string, [string, string]> = {
  spleen: ['78961009', 'Spleen'],
  liver: ['10200004', 'Liver'],
  aorta: ['15825003', 'Aorta'],
};

describe('JPEG 2000 abdominal CT end to end, and its 31-organ mask as a SEG', function () {
  this.timeout(300_000);
  let orthanc: OrthancProcess;
  let node: AinodeProcess;
  let client: DicomwebClient;
  let dir: string;
  let files: DicomFile[];
  let study: string;
  let volume: ScalarVolume;
  let patientStudy: PatientStudyAttributes;

  before(async () => {
    dir = tempDir('j2k');
    const models = path.join(dir, 'models');
    thresholdModelPackage(models, 'ct-dense', 150);
    const rulesFile = path.join(dir, 'rules.yaml');
    anyCtRules(rulesFile, 'ct-dense');
    orthanc = await startOrthanc({ dir, stableAge: 2 });
    client = new DicomwebClient({
      url: orthanc.dicomwebUrl,
      username: undefined,
      password: undefined,
      timeoutMs: 60_000,
    });
    files = readDicomFolder(path.join(ABDOMEN, 'series-j2k'));
    study = files[0].studyInstanceUid;
    node = spawnAinode(['start'], {
      AINODE_DICOMWEB_URL: orthanc.dicomwebUrl,
      AINODE_REDIS_URL: REDIS_URL,
      AINODE_REDIS_PREFIX: uniquePrefix('j2k'),
      AINODE_POLL_INTERVAL_MS: '300',
      AINODE_MODELS_DIR: models,
      AINODE_RULES_FILE: rulesFile,
      AINODE_EXECUTION_PROVIDERS: 'cpu',
    });
    await node.waitForLog(/listening to the Orthanc change feed/, 30_000);
  });
  after(async () => {
    await node?.stop();
    await orthanc?.stop();
  });

  it('the J2K series, stored as is, is decoded by the worker and gets a SEG and an SR that pass dciodvfy', async () => {
    expect(files).to.have.length(20);
    await stowFiles(client, files);
    await node.waitForLog(/results stored/, 120_000);
    const series = await client.search(`/studies/${study}/series`);
    const seg = series.find((s) => jsonString(s, Tag.Modality) === 'SEG');
    const sr = series.find((s) => jsonString(s, Tag.Modality) === 'SR');
    expect(seg && sr).to.not.equal(undefined);
    for (const [s, iod] of [
      [seg!, 'Segmentation'],
      [sr!, 'Comprehensive3DSR'],
    ] as const) {
      const [bytes] = await client.retrieveSeries(study, jsonString(s, Tag.SeriesInstanceUID)!);
      const f = path.join(dir, `${iod}.dcm`);
      fs.writeFileSync(f, bytes);
      const r = spawnSync('dciodvfy', [f], { encoding: 'utf8' });
      const out = `${r.stdout}${r.stderr}`;
      expect(out).to.match(new RegExp(`^${iod}$`, 'm'));
      expect(
        out.split('\n').filter((l) => l.startsWith('Error')),
        out,
      ).to.deep.equal([]);
      if (iod === 'Comprehensive3DSR') expect(spawnSync('dsrdump', [f], { encoding: 'utf8' }).status).to.equal(0);
    }
  });

  it('WADO-RS as stored + streaming decode gives the 20-slice volume in HU', async () => {
    const seriesUid = files[0].seriesInstanceUid;
    const b = await VolumeBuilder.create(seriesUid);
    const n = await client.retrieveSeriesStreaming(study, seriesUid, (p) => b.add(p));
    expect(n).to.equal(20);
    ({ volume, patientStudy } = b.build());
    expect([volume.geometry.columns, volume.geometry.rows, volume.geometry.slices]).to.deep.equal([512, 512, 20]);
    expect(volume.geometry.spacing[2]).to.be.closeTo(2, 1e-3);
  });

  it('the 31-organ mask written as a SEG, stored and read back, is bit-exact; HU under liver, spleen and aorta match NOTES.md within 5 HU', async () => {
    const names = (
      JSON.parse(fs.readFileSync(path.join(ABDOMEN, 'class_map_total.json'), 'utf8')) as {
        total: Record<string, string>;
      }
    ).total;
    const mask = readNifti(fs.readFileSync(path.join(ABDOMEN, 'organ-mask-totalsegmentator.nii.gz')));
    const [nx, ny, nz] = mask.dims;
    const g = volume.geometry;
    expect([nx, ny, nz]).to.deep.equal([g.columns, g.rows, g.slices]);
    // NOTES.md: nifti[i, j, k] <-> DICOM slice k sorted by z ascending, row = 511 - j, column = i.
    expect(g.sliceDirection[2]).to.be.greaterThan(0.99); // our slices are sorted by z ascending too
    const organLabels = new Uint8Array(nx * ny * nz);
    for (let k = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++)
          organLabels[k * nx * ny + (ny - 1 - j) * nx + i] = mask.data[k * nx * ny + j * nx + i];
    const present = [...new Set(organLabels)].filter((l) => l > 0).sort((a, b) => a - b);
    expect(present).to.have.length(31);
    const segNumber = new Map(present.map((l, i) => [l, i + 1]));
    const labels = organLabels.map((l) => (l ? segNumber.get(l)! : 0));
    const segments = present.map((l, i) => {
      const name = names[String(l)];
      const type = SCT[name]
        ? code(SCT[name][0], 'SCT', SCT[name][1])
        : code(`TS${l}`, '99TOTALSEG', name.replace(/_/g, ' '));
      return new SegmentDescription({
        number: i + 1,
        label: name.slice(0, 64),
        category: code('123037004', 'SCT', 'Anatomical Structure'),
        type,
        algorithmType: SegmentAlgorithmType.AUTOMATIC,
        algorithmName: 'TotalSegmentator (reference output)',
      });
    });
    const built = buildSegmentation({
      source: volume,
      patientStudy,
      segments,
      labels,
      seriesInstanceUid: randomUid(),
      sopInstanceUid: randomUid(),
      seriesNumber: 9201,
      seriesDescription: 'TotalSegmentator reference mask',
      contentLabel: 'TOTALSEG',
      codingSchemes: [{ designator: '99TOTALSEG', name: 'TotalSegmentator class names', organization: 'ainode tests' }],
    });
    await client.store(study, [{ sopInstanceUid: String(built.dataset.SOPInstanceUID), part10: built.part10 }]);
    const [back] = await client.retrieveSeries(study, String(built.dataset.SeriesInstanceUID));
    const f = path.join(dir, 'totalseg.dcm');
    fs.writeFileSync(f, back);
    const r = spawnSync('dciodvfy', [f], { encoding: 'utf8' });
    const out = `${r.stdout}${r.stderr}`;
    expect(
      out.split('\n').filter((l) => l.startsWith('Error')),
      out,
    ).to.deep.equal([]);

    const seg = readSeg(back);
    const sliceOf = new Map(volume.slices.map((s, k) => [s.sopInstanceUid, k]));
    const plane = nx * ny;
    const rebuilt = new Uint8Array(labels.length);
    for (const fr of seg.frames) {
      const k = sliceOf.get(fr.sourceSopInstanceUid)!;
      expect(fr.imagePositionPatient[2]).to.be.closeTo(volume.slices[k].imagePositionPatient[2], 1e-3);
      for (let p = 0; p < plane; p++)
        if (fr.bits[p]) {
          expect(rebuilt[k * plane + p], 'segments do not overlap').to.equal(0);
          rebuilt[k * plane + p] = fr.segmentNumber;
        }
    }
    let mismatches = 0;
    for (let v = 0; v < labels.length; v++) if (rebuilt[v] !== labels[v]) mismatches++;
    expect(mismatches, 'voxels differing between the mask and the SEG read back').to.equal(0);

    const meanHu = (organ: string): number => {
      const n = segNumber.get(Number(Object.keys(names).find((k) => names[k] === organ)))!;
      let s = 0,
        c = 0;
      for (let v = 0; v < rebuilt.length; v++) if (rebuilt[v] === n) ((s += volume.voxels[v]), c++);
      return s / c;
    };
    const found = { liver: meanHu('liver'), spleen: meanHu('spleen'), aorta: meanHu('aorta') };
    process.stdout.write(
      `      mean HU: liver ${found.liver.toFixed(1)}, spleen ${found.spleen.toFixed(1)}, aorta ${found.aorta.toFixed(1)}; SEG ${seg.frames.length} frames, ${seg.segments.length} segments\n`,
    );
    expect(found.liver).to.be.closeTo(89, 5);
    expect(found.spleen).to.be.closeTo(80, 5);
    expect(found.aorta).to.be.closeTo(177, 5);
  });
});
