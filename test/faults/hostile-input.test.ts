/**
 * Issue 6: a corpus of bad inputs stored in a real Orthanc next to one good study. Each bad one is
 * either skipped by the rules or fails its job with a clear code; none crashes a process, none
 * gets stuck, and the good study gets its results. The memory bomb is refused before allocating.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import IORedis from 'ioredis';
import { Queue } from 'bullmq';
import { DicomwebClient } from '../../src/dicomweb/client';
import { readPart10, writePart10, type NaturalDataset } from '../../src/dicom/part10';
import { deterministicUid } from '../../src/contracts/uid';
import { INFERENCE_QUEUE, type InferenceJob } from '../../src/contracts/job';
import { startOrthanc, type OrthancProcess } from '../../scripts/support/orthanc';
import { readDicomFolder, stowFiles, type DicomFile } from '../../scripts/support/dicom-files';
import { reUid } from '../../scripts/support/reuid';
import { spawnAinode, type AinodeProcess } from '../support/ainode-process';
import { REDIS_URL, SHARED_DATA, tempDir, uniquePrefix } from '../support/env';
import { resultCounts, waitUntil } from '../support/results';
import { anyCtRules, thresholdModelPackage } from '../support/test-models';
import {
  datasetStart,
  deflateBomb,
  deflatedHugeSlice,
  metaWithTransferSyntax,
  mutate,
  prng,
  withoutSequences,
} from '../support/hostile-dicom';

const small = readDicomFolder(path.join(SHARED_DATA, 'reference', 'dcmqi', 'segmentations', 'ct-3slice'));
const DEB = path.join(SHARED_DATA, 'reference', 'pydicom-debian', 'test_files');
void fs;

function variant(seed: string, change: (ds: NaturalDataset, i: number) => void): DicomFile[] {
  return reUid(small, seed).map((f, i) => {
    const { dataset } = readPart10(f.part10);
    change(dataset, i);
    return { ...f, part10: writePart10(dataset, { PixelData: 'OW' }) };
  });
}

function file(p: string, seed: string): DicomFile {
  const { dataset } = readPart10(fs.readFileSync(p));
  const study = deterministicUid('hostile', seed, 'study');
  dataset.StudyInstanceUID = study;
  return {
    studyInstanceUid: study,
    seriesInstanceUid: String(dataset.SeriesInstanceUID),
    sopInstanceUid: String(dataset.SOPInstanceUID),
    part10: writePart10(dataset),
  };
}

/** The same Part 10 bytes with another TransferSyntaxUID in the file meta (group length fixed). */
function withTransferSyntax(part10: Buffer, ts: string): Buffer {
  return Buffer.concat([metaWithTransferSyntax(part10, ts), part10.subarray(datasetStart(part10))]);
}

describe('hostile and broken input', function () {
  this.timeout(300_000);
  let orthanc: OrthancProcess;
  let node: AinodeProcess;
  const prefix = uniquePrefix('hostile');
  after(async () => {
    await node?.stop();
    await orthanc?.stop();
  });

  it('each bad input is skipped or fails with a code; nothing crashes or sticks; the good study gets results', async () => {
    const dir = tempDir('hostile');
    orthanc = await startOrthanc({ dir: path.join(dir, 'orthanc'), stableAge: 2 });
    const models = path.join(dir, 'models');
    thresholdModelPackage(models, 'ct-body', -300);
    const rules = path.join(dir, 'rules.yaml');
    anyCtRules(rules, 'ct-body');
    node = spawnAinode(['start'], {
      AINODE_DICOMWEB_URL: orthanc.dicomwebUrl,
      AINODE_REDIS_URL: REDIS_URL,
      AINODE_REDIS_PREFIX: prefix,
      AINODE_MODELS_DIR: models,
      AINODE_RULES_FILE: rules,
      AINODE_POLL_INTERVAL_MS: '300',
      AINODE_EXECUTION_PROVIDERS: 'cpu',
      AINODE_MAX_VOXELS: '50000000',
      AINODE_RETRY_ATTEMPTS: '2',
      AINODE_RETRY_DELAY_MS: '200',
    });
    await node.waitForLog(/listening to the Orthanc change feed/, 30_000);
    const client = new DicomwebClient({
      url: orthanc.dicomwebUrl,
      username: undefined,
      password: undefined,
      timeoutMs: 60_000,
    });

    const jobsExpected: Record<string, { files: DicomFile[]; code: string }> = {
      'memory bomb (65535 x 65535 x 1000 claimed)': {
        files: variant('bomb', (d) => ((d.Rows = 65535), (d.Columns = 65535), (d.NumberOfFrames = 1000))),
        code: 'DICOM_INPUT_TOO_LARGE',
      },
      'voxel bomb within the frame limit (4096 x 4096 x 1000 claimed)': {
        files: variant('voxels', (d) => ((d.Rows = 4096), (d.Columns = 4096), (d.NumberOfFrames = 1000))),
        code: 'DICOM_INPUT_TOO_LARGE',
      },
      'RescaleSlope "NaN"': { files: variant('nan', (d) => (d.RescaleSlope = 'NaN')), code: 'PIXEL_MODULE_INVALID' },
      'BitsAllocated 32 on a CT': {
        files: variant('bits32', (d) => ((d.BitsAllocated = 32), (d.BitsStored = 32), (d.HighBit = 31))),
        code: 'PIXEL_MODULE_INVALID',
      },
      'Rows smaller than the data': { files: variant('rows', (d) => (d.Rows = 256)), code: 'PIXEL_MODULE_INVALID' },
      'deflate bomb (1 GiB private tag)': {
        files: variant('dbomb', () => undefined).map((f, i) =>
          i === 0 ? { ...f, part10: deflateBomb(withoutSequences(f.part10), 1024 * 1024 * 1024) } : f,
        ),
        code: 'DICOM_INPUT_TOO_LARGE',
      },
      'deflated slice holding 20000 x 20000 pixels': {
        files: variant('huge', () => undefined).map((f, i) =>
          i === 0 ? { ...f, part10: deflatedHugeSlice(withoutSequences(f.part10), 20000, 20000) } : f,
        ),
        code: 'DICOM_INPUT_TOO_LARGE',
      },
      'missing geometry': {
        files: variant('nogeo', (d) => delete d.ImagePositionPatient),
        code: 'DICOM_ATTRIBUTE_MISSING',
      },
      'mixed sizes': {
        files: variant('mixed', (d, i) => {
          if (i !== 1) return;
          const src = new Int16Array((d.PixelData as ArrayBuffer[])[0]);
          const out = new Int16Array(256 * 256);
          for (let j = 0; j < 256; j++) for (let k = 0; k < 256; k++) out[j * 256 + k] = src[2 * j * 512 + 2 * k];
          d.Rows = 256;
          d.Columns = 256;
          d.PixelData = [out.buffer];
        }),
        code: 'SERIES_GEOMETRY_INCONSISTENT',
      },
      'gantry tilt': {
        files: variant(
          'tilt',
          (d, i) =>
            (d.ImagePositionPatient = (d.ImagePositionPatient as number[]).map((v, a) =>
              a === 1 ? Number(v) + i * 3 : Number(v),
            )),
        ),
        code: 'SERIES_GEOMETRY_INCONSISTENT',
      },
    };
    const skipped: Record<string, DicomFile[]> = {
      'structured report (dcmqi TID 1500)': [
        file(path.join(SHARED_DATA, 'reference', 'dcmqi', 'sr-example', 'sr.dcm'), 'sr'),
      ],
      RTSTRUCT: [file(path.join(DEB, 'rtstruct.dcm'), 'rtstruct')],
      'RT dose with a bad VR': [file(path.join(DEB, 'badVR.dcm'), 'badvr')],
      "a SEG (someone's output)": [
        file(path.join(SHARED_DATA, 'reference', 'dcmqi', 'segmentations', 'liver.dcm'), 'seg'),
      ],
    };
    // Encapsulated PDF, written here (the corpus has none).
    const pdfStudy = deterministicUid('hostile', 'pdf', 'study');
    const pdf = writePart10(
      {
        SOPClassUID: '1.2.840.10008.5.1.4.1.1.104.1',
        SOPInstanceUID: deterministicUid('hostile', 'pdf', 'sop'),
        StudyInstanceUID: pdfStudy,
        SeriesInstanceUID: deterministicUid('hostile', 'pdf', 'series'),
        Modality: 'DOC',
        PatientName: 'Hostile^Pdf',
        PatientID: 'HOSTILE-PDF',
        ConversionType: 'WSD',
        BurnedInAnnotation: 'YES',
        DocumentTitle: 'report',
        MIMETypeOfEncapsulatedDocument: 'application/pdf',
        EncapsulatedDocument: [new TextEncoder().encode('%PDF-1.4\n%%EOF\n').buffer],
      },
      { EncapsulatedDocument: 'OB' },
    );
    // Key object selection and a presentation state, written here (the corpus has none).
    const plain = (kind: string, sopClass: string, modality: string): DicomFile[] => {
      const st = deterministicUid('hostile', kind, 'study');
      const sop = deterministicUid('hostile', kind, 'sop');
      return [
        {
          studyInstanceUid: st,
          seriesInstanceUid: deterministicUid('hostile', kind, 'series'),
          sopInstanceUid: sop,
          part10: writePart10({
            SOPClassUID: sopClass,
            SOPInstanceUID: sop,
            StudyInstanceUID: st,
            SeriesInstanceUID: deterministicUid('hostile', kind, 'series'),
            Modality: modality,
            PatientName: 'Hostile^Object',
            PatientID: 'HOSTILE-OBJ',
          }),
        },
      ];
    };
    skipped['key object selection (KOS)'] = plain('kos', '1.2.840.10008.5.1.4.1.1.88.59', 'KO');
    skipped['presentation state'] = plain('pr', '1.2.840.10008.5.1.4.1.1.11.1', 'PR');
    skipped['encapsulated PDF'] = [
      {
        studyInstanceUid: pdfStudy,
        seriesInstanceUid: deterministicUid('hostile', 'pdf', 'series'),
        sopInstanceUid: deterministicUid('hostile', 'pdf', 'sop'),
        part10: pdf,
      },
    ];

    // Files the PACS itself refuses never reach ainode; they are reported, not counted.
    const refusedByPacs: string[] = [];
    const tryStore = async (name: string, files: DicomFile[]): Promise<void> => {
      try {
        await stowFiles(client, files);
      } catch (e) {
        refusedByPacs.push(`${name}: ${(e as Error).message.slice(0, 80)}`);
      }
    };
    const truncated = small[0].part10.subarray(0, Math.floor(small[0].part10.length * 0.6));
    await tryStore('truncated file', [
      {
        studyInstanceUid: deterministicUid('hostile', 'truncated'),
        seriesInstanceUid: '',
        sopInstanceUid: '',
        part10: Buffer.from(truncated),
      },
    ]);
    // A transfer syntax ainode does not decode (JPEG XL): the file meta says so, the data set is
    // native. Orthanc stores it as it is.
    const unsupported = variant('jpegxl', () => undefined).map((f) => ({
      ...f,
      part10: withTransferSyntax(f.part10, '1.2.840.10008.1.2.4.110'),
    }));
    jobsExpected['unsupported transfer syntax (JPEG XL)'] = { files: unsupported, code: 'PIXEL_DATA_UNSUPPORTED' };
    for (const [name, v] of Object.entries(jobsExpected)) await tryStore(name, v.files);
    // Fuzzed studies beside them: one mutated instance each (hostile-dicom.ts). Whatever Orthanc
    // accepts must end delivered, skipped or failed with a code.
    const rnd = prng(4242);
    const fuzzed: DicomFile[][] = [];
    for (let i = 0; i < 12; i++) {
      const files = reUid(small, `fuzz-${i}`);
      files[1] = { ...files[1], part10: mutate(files[1].part10, rnd).bytes };
      fuzzed.push(files);
      await tryStore(`fuzzed study ${i}`, files);
    }
    for (const [name, f] of Object.entries(skipped)) await tryStore(name, f);
    const good = reUid(small, 'good');
    await stowFiles(client, good);

    await waitUntil(
      'the good study',
      120_000,
      async () => (await resultCounts(client, good[0].studyInstanceUid)).sr === 1,
    );
    const conn = new IORedis(REDIS_URL, { maxRetriesPerRequest: null });
    const queue = new Queue<InferenceJob>(INFERENCE_QUEUE, { connection: conn, prefix });
    await waitUntil(
      'every bad job failed',
      120_000,
      async () => (await queue.getJobs(['failed'])).length >= Object.keys(jobsExpected).length,
    );
    const failed = await queue.getJobs(['failed']);
    const lines: string[] = [];
    for (const [name, v] of Object.entries(jobsExpected)) {
      const j = failed.find((x) => x.data.studyInstanceUid === v.files[0].studyInstanceUid);
      expect(j, name).to.not.equal(undefined);
      expect(j!.failedReason, name).to.match(new RegExp(`^${v.code}: `));
      expect(j!.attemptsMade, `${name}: bad input is not retried`).to.equal(1);
      lines.push(`${name}: job failed once, ${j!.failedReason!.slice(0, 110)}`);
    }
    for (const [name, f] of Object.entries(skipped)) {
      const study = f[0].studyInstanceUid;
      await waitUntil(`${name} routed`, 30_000, async () =>
        node.lines.some((l) => l.includes(study) && l.includes('no rule routes this study')),
      );
      expect(
        (await queue.getJobs(['waiting', 'active', 'completed', 'failed', 'delayed'])).some(
          (j) => j.data.studyInstanceUid === study,
        ),
        name,
      ).to.equal(false);
      lines.push(`${name}: skipped by the rules`);
    }
    for (const r of refusedByPacs) lines.push(`refused by Orthanc at STOW: ${r}`);
    await waitUntil(
      'every fuzzed job settled',
      120_000,
      async () => (await queue.getJobs(['active', 'waiting', 'delayed', 'prioritized'])).length === 0,
    );
    const settled = await queue.getJobs(['completed', 'failed']);
    for (const [i, files] of fuzzed.entries()) {
      const j = settled.find((x) => x.data.studyInstanceUid === files[0].studyInstanceUid);
      if (!j) continue; // refused by Orthanc, or no series the rules route
      if (j.failedReason) expect(j.failedReason, `fuzzed study ${i}`).to.match(/^[A-Z][A-Z_]+: /);
      lines.push(`fuzzed study ${i}: ${j.failedReason ? `failed, ${j.failedReason.slice(0, 90)}` : 'delivered'}`);
    }
    process.stdout.write(lines.map((l) => `      ${l}\n`).join(''));
    expect((await queue.getJobs(['active', 'waiting', 'delayed'])).length, 'nothing stuck').to.equal(0);
    expect(node.child.exitCode, 'the node is still running').to.equal(null);
    expect(node.lines.some((l) => /allocation|heap out of memory/i.test(l))).to.equal(false);
    await queue.close();
    conn.disconnect();
  });
});
