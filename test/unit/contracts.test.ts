/** Pure contracts: job payloads (UIDs only), multipart framing, default routing decisions. */
import { expect } from 'chai';
import { inferenceJobId, parseInferenceJob } from '../../src/contracts/job';
import { buildMultipart, splitMultipart } from '../../src/dicomweb/multipart';
import { judgeSeries } from '../../src/rules/model-acceptance';
import { orientationOf } from '../../src/contracts/geometry';
import { loadModelPackage } from '../../src/inference/model-package';
import { REPO_ROOT } from '../support/ainode-process';
import * as path from 'path';
import type { SeriesDescriptor } from '../../src/rules/study-facts';

const job = { studyInstanceUid: '1.2.3', seriesInstanceUid: '1.2.3.4', modelId: 'ct-lung', modelVersion: '1.0.0' };

describe('queue: job payload contract', () => {
  it('accepts exactly the four identity fields', () => expect(parseInferenceJob(job)).to.deep.equal(job));
  it('rejects any extra field (no patient data can ride along) -> JOB_PAYLOAD_INVALID', () => {
    expect(() => parseInferenceJob({ ...job, PatientName: 'Doe^John' }))
      .to.throw()
      .with.property('code', 'JOB_PAYLOAD_INVALID');
  });
  it('carries SR profile names, and only known ones, each once', () => {
    expect(parseInferenceJob({ ...job, srProfiles: ['standard', 'viewer'] }).srProfiles).to.deep.equal([
      'standard',
      'viewer',
    ]);
    for (const bad of [[], ['viewer', 'viewer'], ['Doe^John'], 'viewer'])
      expect(() => parseInferenceJob({ ...job, srProfiles: bad }))
        .to.throw()
        .with.property('code', 'JOB_PAYLOAD_INVALID');
  });
  it('rejects a study UID that is not a UID', () => {
    expect(() => parseInferenceJob({ ...job, studyInstanceUid: 'Doe^John' }))
      .to.throw()
      .with.property('code', 'JOB_PAYLOAD_INVALID');
  });
  it('job ids are one per (study, model version) and contain no colon', () => {
    expect(inferenceJobId(job)).to.equal('1.2.3_ct-lung_1.0.0');
    expect(inferenceJobId({ ...job, seriesInstanceUid: '9.9' } as typeof job)).to.equal(inferenceJobId(job));
  });
});

describe('dicomweb: multipart/related framing', () => {
  it('splits what it builds, byte for byte, including parts that contain CRLF and dashes', () => {
    const parts = [Buffer.from('\r\n--abc\r\n'), Buffer.alloc(1000, 7), Buffer.from([0, 1, 2, 13, 10])];
    const { body, boundary } = buildMultipart(parts, 'application/dicom');
    const back = splitMultipart(body, boundary);
    expect(back.map((b) => b.toString('hex'))).to.deep.equal(parts.map((b) => b.toString('hex')));
  });
  it('a truncated body -> DICOMWEB_BAD_RESPONSE (retryable)', () => {
    const { body, boundary } = buildMultipart([Buffer.from('abc')], 'application/dicom');
    expect(() => splitMultipart(body.subarray(0, body.length - 12), boundary))
      .to.throw()
      .with.property('code', 'DICOMWEB_BAD_RESPONSE');
  });
});

describe('rules: model acceptance from the shipped manifests (chest CT -> ct-lung, T1 brain MR -> mr-brain-tissue)', () => {
  const lung = loadModelPackage(path.join(REPO_ROOT, 'models', 'ct-lung')).manifest.accepts;
  const brain = loadModelPackage(path.join(REPO_ROOT, 'models', 'mr-brain-tissue')).manifest.accepts;
  const judgeChestCt = (s: SeriesDescriptor): { qualifies: boolean; why: string } => judgeSeries(s, lung);
  const ct = (over: Partial<SeriesDescriptor>): SeriesDescriptor => ({
    seriesInstanceUid: '1.2.3.1',
    modality: 'CT',
    studyDescription: 'Chest',
    seriesDescription: '5mm',
    protocolName: '',
    bodyPartExamined: '',
    manufacturer: 'Philips',
    numberOfInstances: 64,
    imageType: ['ORIGINAL', 'PRIMARY', 'AXIAL'],
    imageOrientationPatient: [1, 0, 0, 0, 1, 0],
    ...over,
  });
  it('an axial chest CT qualifies', () => expect(judgeChestCt(ct({})).qualifies).to.equal(true));
  it('BodyPartExamined alone is enough', () =>
    expect(judgeChestCt(ct({ studyDescription: '', bodyPartExamined: 'THORAX' })).qualifies).to.equal(true));
  const refused: [string, Partial<SeriesDescriptor>, RegExp][] = [
    [
      'a head CT',
      { studyDescription: 'Head', seriesDescription: 'brain' },
      /body part missing and no description names it/,
    ],
    ['a localizer', { imageType: ['ORIGINAL', 'PRIMARY', 'LOCALIZER'] }, /localizer/],
    ['a coronal reformat', { imageOrientationPatient: [1, 0, 0, 0, 0, -1] }, /orientation coronal not in axial/],
    ['too few slices', { numberOfInstances: 3 }, /instances/],
    ['an MR', { modality: 'MR' }, /modality MR/],
    ["ainode's own output", { manufacturer: 'ainode', modality: 'SEG' }, /written by ainode/],
  ];
  for (const [name, over, why] of refused)
    it(`${name} does not`, () => expect(judgeChestCt(ct(over)).why).to.match(why));
  it('orientation from ImageOrientationPatient', () => {
    expect(orientationOf([1, 0, 0, 0, 1, 0])).to.equal('axial');
    expect(orientationOf([1, 0, 0, 0, 0, -1])).to.equal('coronal');
    expect(orientationOf([0, 1, 0, 0, 0, -1])).to.equal('sagittal');
    expect(orientationOf([1, 0, 0, 0, 0.7071, 0.7071])).to.equal(undefined);
  });
  it('a T1 brain MR goes to the brain model, a T2 or a chest CT does not', () => {
    const mr = ct({
      modality: 'MR',
      studyDescription: 'Brain MRI',
      seriesDescription: 'T1 MPRAGE',
      bodyPartExamined: 'HEAD',
      numberOfInstances: 176,
    });
    expect(judgeSeries(mr, brain).qualifies).to.equal(true);
    expect(judgeSeries({ ...mr, seriesDescription: 'T2 FLAIR' }, brain).why).to.match(/does not match/);
    expect(judgeSeries(ct({}), brain).why).to.match(/modality CT/);
    expect(judgeSeries(mr, lung).why).to.match(/modality MR/);
  });
});

describe('dicomweb: streaming multipart', () => {
  it('hands each part over as soon as it is complete, before the body has ended', async () => {
    const { MultipartSplitter } = await import('../../src/dicomweb/multipart');
    const parts = [Buffer.alloc(5000, 1), Buffer.alloc(7000, 2), Buffer.alloc(3000, 3)];
    const { body, boundary } = buildMultipart(parts, 'application/dicom');
    const got: { len: number; atChunk: number }[] = [];
    let chunk = 0;
    const s = new MultipartSplitter(boundary, (p) => got.push({ len: p.length, atChunk: chunk }));
    for (let i = 0; i < body.length; i += 1000, chunk++) s.push(body.subarray(i, i + 1000));
    expect(s.end()).to.equal(3);
    expect(got.map((g) => g.len)).to.deep.equal([5000, 7000, 3000]);
    // The first part was delivered after about 5 of the 16 chunks, not at the end.
    expect(got[0].atChunk).to.be.below(8);
  });

  it('any chunking (1 byte to 300 kB, boundaries split across chunks) gives back every part byte for byte', async () => {
    const { MultipartSplitter } = await import('../../src/dicomweb/multipart');
    let seed = 3;
    const rnd = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const parts = [200_000, 1, 70_000, 0, 513_000, 4096, 17].map((n, i) =>
      Buffer.from(Array.from({ length: n }, (_, j) => (j * 31 + i) % 256)),
    );
    parts[1] = Buffer.from('\r\n--'); // looks like the start of a delimiter
    const { body, boundary } = buildMultipart(parts, 'application/dicom');
    for (const maxChunk of [1, 7, 1000, 65_536, 300_000]) {
      const got: Buffer[] = [];
      const s = new MultipartSplitter(boundary, (p) => got.push(p));
      for (let i = 0; i < body.length;) {
        const n = 1 + rnd(maxChunk);
        s.push(body.subarray(i, i + n));
        i += n;
      }
      expect(s.end(), `chunks up to ${maxChunk}`).to.equal(parts.length);
      got.forEach((p, i) => expect(p.equals(parts[i]), `part ${i}, chunks up to ${maxChunk}`).to.equal(true));
    }
  });
});
