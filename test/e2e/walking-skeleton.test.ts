/**
 * Issue 2, end to end on real services: a real Orthanc with the DICOMweb plugin, the real Redis,
 * the real `ainode start` process with the real ONNX model. The test stores the 64-slice chest CT
 * by STOW-RS and only watches the PACS (QIDO-RS) for the results; it never calls the worker.
 */
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { DicomwebClient } from '../../src/dicomweb/client';
import { jsonString, Tag } from '../../src/dicom/json';
import { readPart10 } from '../../src/dicom/part10';
import { startOrthanc, type OrthancProcess } from '../../scripts/support/orthanc';
import { readDicomFolder, stowFiles, type DicomFile } from '../../scripts/support/dicom-files';
import { spawnAinode, type AinodeProcess } from '../support/ainode-process';
import { CHEST_CT_DIR, REDIS_URL, tempDir, uniquePrefix } from '../support/env';
import { readSeg, readSrNumbers } from '../support/seg-reader';
import { readSegmentation } from '../../src/dicom/seg/reader';
import { readMeasurementReport } from '../../src/dicom/sr/reader';

async function seriesByModality(client: DicomwebClient, study: string): Promise<Map<string, string[]>> {
  const series = await client.search(`/studies/${study}/series`);
  const out = new Map<string, string[]>();
  for (const s of series) {
    const m = jsonString(s, Tag.Modality) ?? '';
    out.set(m, [...(out.get(m) ?? []), jsonString(s, Tag.SeriesInstanceUID) ?? '']);
  }
  return out;
}

async function instanceCount(client: DicomwebClient, study: string, series: string): Promise<number> {
  return (await client.search(`/studies/${study}/series/${series}/instances`)).length;
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function dciodvfy(file: string): { errors: string[]; output: string } {
  const r = spawnSync('dciodvfy', [file], { encoding: 'utf8' });
  const output = `${r.stdout}${r.stderr}`;
  return { errors: output.split('\n').filter((l) => /^Error/.test(l)), output };
}

describe('walking skeleton, chest CT -> SEG + SR on real services', function () {
  this.timeout(300_000);
  let orthanc: OrthancProcess;
  let client: DicomwebClient;
  let node: AinodeProcess | undefined;
  let dir: string;
  const prefix = uniquePrefix('e2e');
  let files: DicomFile[];
  let study: string;
  let env: Record<string, string>;
  let segBytes: Buffer;
  let srBytes: Buffer;
  let elapsedMs: number;

  before(async () => {
    dir = tempDir('e2e');
    orthanc = await startOrthanc({ dir, stableAge: 2 });
    client = new DicomwebClient({
      url: orthanc.dicomwebUrl,
      username: undefined,
      password: undefined,
      timeoutMs: 60_000,
    });
    files = readDicomFolder(CHEST_CT_DIR);
    study = files[0].studyInstanceUid;
    env = {
      AINODE_DICOMWEB_URL: orthanc.dicomwebUrl,
      AINODE_REDIS_URL: REDIS_URL,
      AINODE_REDIS_PREFIX: prefix,
      AINODE_POLL_INTERVAL_MS: '300',
      AINODE_EXECUTION_PROVIDERS: 'cpu',
    };
  });

  after(async () => {
    await node?.stop();
    await orthanc?.stop();
  });

  it('finds the stored study by itself and writes one SEG and one SR into it', async () => {
    expect(files).to.have.length(64);
    node = spawnAinode(['start'], env);
    await node.waitForLog(/listening to the Orthanc change feed/, 30_000);
    await node.waitForLog(/worker ready/, 30_000);
    const t0 = Date.now();
    await stowFiles(client, files);
    const found = await waitFor('SEG and SR in the study', 180_000, async () => {
      const m = await seriesByModality(client, study);
      return m.get('SEG')?.length && m.get('SR')?.length ? m : undefined;
    });
    elapsedMs = Date.now() - t0;
    process.stdout.write(`      stored -> SEG and SR visible: ${(elapsedMs / 1000).toFixed(1)} s\n`);
    expect(found.get('SEG')).to.have.length(1);
    expect(found.get('SR')).to.have.length(1);
    [segBytes] = await client.retrieveSeries(study, found.get('SEG')![0]);
    [srBytes] = await client.retrieveSeries(study, found.get('SR')![0]);
    fs.writeFileSync(path.join(dir, 'seg.dcm'), segBytes);
    fs.writeFileSync(path.join(dir, 'sr.dcm'), srBytes);
  });

  it('both objects pass dciodvfy with zero errors, and dsrdump reads the SR', () => {
    const seg = dciodvfy(path.join(dir, 'seg.dcm'));
    const sr = dciodvfy(path.join(dir, 'sr.dcm'));
    process.stdout.write(
      `      dciodvfy SEG:\n${seg.output.replace(/^/gm, '        ')}\n      dciodvfy SR:\n${sr.output.replace(/^/gm, '        ')}\n`,
    );
    expect(seg.output).to.match(/^Segmentation$/m);
    expect(seg.errors, seg.output).to.deep.equal([]);
    expect(sr.output).to.match(/^Comprehensive3DSR/m);
    expect(sr.errors, sr.output).to.deep.equal([]);
    const dump = execFileSync('dsrdump', [path.join(dir, 'sr.dcm')], { encoding: 'utf8' });
    expect(dump).to.include('CODE:(,,"Pulmonary emphysema")=(373067005,SCT,"No")');
    expect(dump).to.include('Imaging Measurement Report');
    expect(dump).to.include('(3341006,SCT,"Right lung")');
    expect(dump).to.include('(44029006,SCT,"Left lung")');
  });

  it("ainode's own readers read both back with no conformance problem", async () => {
    const seg = await readSegmentation(segBytes);
    expect(seg.type).to.equal('BINARY');
    expect(seg.segments.map((s) => s.label)).to.deep.equal(['Right lung', 'Left lung']);
    const sr = readMeasurementReport(srBytes);
    expect(sr.problems).to.deep.equal([]);
    expect(sr.groups.map((g) => g.trackingId)).to.deep.equal(['Right lung', 'Left lung', 'Both lungs']);
    expect(sr.groups[0].referencedSegment).to.deep.equal({ sopInstanceUid: seg.sopInstanceUid, segmentNumber: 1 });
    expect(sr.groups[2].evaluations).to.deep.equal([{ concept: 'Pulmonary emphysema', value: 'No' }]);
  });

  it("every SEG frame references a source instance at that instance's position", () => {
    const seg = readSeg(segBytes);
    const byUid = new Map(files.map((f) => [f.sopInstanceUid, readPart10(f.part10).dataset]));
    expect(seg.segments.map((s) => s.typeCode)).to.deep.equal(['3341006', '44029006']);
    expect(seg.frames.length).to.be.greaterThan(0);
    for (const f of seg.frames) {
      const src = byUid.get(f.sourceSopInstanceUid);
      expect(src, `frame references ${f.sourceSopInstanceUid}`).to.not.equal(undefined);
      const ipp = (src!.ImagePositionPatient as number[]).map(Number);
      f.imagePositionPatient.forEach((v, i) => expect(v).to.be.closeTo(ipp[i], 1e-3));
    }
    expect(seg.dataset.StudyInstanceUID).to.equal(study);
    expect(seg.dataset.FrameOfReferenceUID).to.equal(byUid.get(files[0].sopInstanceUid)!.FrameOfReferenceUID);
  });

  it('lungs are plausible, dense like air (mean HU < -600), right of left, and the SR volumes equal the SEG voxel counts', () => {
    const seg = readSeg(segBytes);
    const sources = new Map(files.map((f) => [f.sopInstanceUid, readPart10(f.part10).dataset]));
    const ref = sources.get(files[0].sopInstanceUid)!;
    const spacing = (ref.PixelSpacing as number[]).map(Number);
    const zs = [...sources.values()].map((d) => Number((d.ImagePositionPatient as number[])[2])).sort((a, b) => a - b);
    const sliceSpacing = (zs[zs.length - 1] - zs[0]) / (zs.length - 1);
    const voxelMl = (spacing[0] * spacing[1] * sliceSpacing) / 1000;
    const stats = new Map<number, { n: number; huSum: number; xSum: number }>();
    for (const f of seg.frames) {
      const src = sources.get(f.sourceSopInstanceUid)!;
      const px = new Uint16Array((src.PixelData as ArrayBuffer[])[0]);
      const slope = Number(src.RescaleSlope ?? 1);
      const intercept = Number(src.RescaleIntercept ?? 0);
      const ipp = (src.ImagePositionPatient as number[]).map(Number);
      const s = stats.get(f.segmentNumber) ?? { n: 0, huSum: 0, xSum: 0 };
      for (let p = 0; p < f.bits.length; p++) {
        if (!f.bits[p]) continue;
        s.n++;
        s.huSum += px[p] * slope + intercept;
        s.xSum += ipp[0] + (p % seg.columns) * spacing[1];
      }
      stats.set(f.segmentNumber, s);
    }
    const right = stats.get(1)!;
    const left = stats.get(2)!;
    const sr = readSrNumbers(srBytes);
    const report: string[] = [];
    for (const [name, s] of [
      ['Right lung', right],
      ['Left lung', left],
    ] as const) {
      const volumeMl = s.n * voxelMl;
      const meanHu = s.huSum / s.n;
      const values = sr.get(name)!;
      report.push(
        `${name}: ${volumeMl.toFixed(1)} mL, mean ${meanHu.toFixed(1)} HU, %LAA-950 ${values.get('Lung volume below -950 HU, percent of lung volume')!.toFixed(3)}`,
      );
      expect(volumeMl, `${name} volume`).to.be.within(800, 5000);
      expect(meanHu, `${name} mean HU`).to.be.below(-600);
      expect(values.get('Volume')!, `${name} SR volume`).to.be.closeTo(volumeMl, volumeMl * 1e-6);
      expect(values.get('Attenuation Coefficient')!, `${name} SR mean HU`).to.be.closeTo(meanHu, 0.01);
    }
    const total = sr.get('Both lungs')!;
    const totalMl = (right.n + left.n) * voxelMl;
    report.push(
      `Both lungs: ${totalMl.toFixed(1)} mL, %LAA-950 ${total.get('Lung volume below -950 HU, percent of lung volume')!.toFixed(3)}`,
    );
    process.stdout.write(report.map((l) => `      ${l}\n`).join(''));
    expect(total.get('Volume')!).to.be.closeTo(totalMl, totalMl * 1e-6);
    expect(totalMl).to.be.within(2000, 9000);
    // Patient's right lung lies at smaller LPS x than the left lung.
    expect(right.xSum / right.n).to.be.below(left.xSum / left.n);
  });

  it('no patient data in the job payload or in the logs', async () => {
    const { Queue } = await import('bullmq');
    const IORedis = (await import('ioredis')).default;
    const conn = new IORedis(REDIS_URL, { maxRetriesPerRequest: null });
    const queue = new Queue('inference', { connection: conn, prefix });
    const jobs = await queue.getJobs(['completed', 'failed', 'waiting', 'active', 'delayed']);
    expect(jobs).to.have.length(1);
    expect(Object.keys(jobs[0].data).sort()).to.deep.equal([
      'destination',
      'modelId',
      'modelVersion',
      'rule',
      'seriesInstanceUid',
      'studyInstanceUid',
    ]);
    expect(jobs[0].data.rule).to.equal('chest-ct-lungs');
    const patient = readPart10(files[0].part10).dataset;
    const flat = (v: unknown): string =>
      Array.isArray(v)
        ? v.map(flat).join('')
        : v && typeof v === 'object'
          ? String((v as { Alphabetic?: string }).Alphabetic ?? '')
          : String(v ?? '');
    const secrets = [patient.PatientName, patient.PatientID, patient.PatientBirthDate, patient.AccessionNumber]
      .map(flat)
      .filter((v) => v.length > 2);
    expect(secrets, 'the test CT has a patient name/ID to look for').to.not.be.empty;
    const stored = JSON.stringify(jobs[0].data) + JSON.stringify(jobs[0].returnvalue);
    const logs = node!.lines.join('\n');
    for (const secret of secrets) {
      expect(stored, 'job').to.not.include(secret);
      expect(logs, 'logs').to.not.include(secret);
    }
    await queue.close();
    conn.disconnect();
  });

  it('after a listener restart the study still has exactly one SEG and one SR', async () => {
    await node!.waitForLog(/results already delivered/, 60_000); // our own SEG/SR made Orthanc report the study stable again
    expect(await node!.stop()).to.equal(0);
    node = spawnAinode(['start', '--role', 'listener'], env);
    await node.waitForLog(/listening to the Orthanc change feed/, 30_000);
    // Store the CT again: Orthanc reports the study stable once more; nothing new may be written.
    await stowFiles(client, files.slice(0, 4));
    await new Promise((r) => setTimeout(r, 5000));
    const m = await seriesByModality(client, study);
    expect(m.get('SEG')).to.have.length(1);
    expect(m.get('SR')).to.have.length(1);
    expect(await instanceCount(client, study, m.get('SEG')![0])).to.equal(1);
    expect(await instanceCount(client, study, m.get('SR')![0])).to.equal(1);
  });

  it('a node with a fresh queue and ledger that re-reads the whole feed still leaves exactly one SEG and one SR', async () => {
    await node!.stop();
    const fresh = { ...env, AINODE_REDIS_PREFIX: uniquePrefix('rerun') };
    node = spawnAinode(['start', '--intake-start', 'beginning'], fresh);
    await node.waitForLog(/results already in the PACS/, 90_000);
    const m = await seriesByModality(client, study);
    expect(m.get('SEG')).to.have.length(1);
    expect(m.get('SR')).to.have.length(1);
    expect(await instanceCount(client, study, m.get('SEG')![0])).to.equal(1);
    expect(await instanceCount(client, study, m.get('SR')![0])).to.equal(1);
  });
});
