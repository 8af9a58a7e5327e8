/**
 * A study-level multi-view model end to end through a real Orthanc: a screening mammography study
 * of four synthetic views (L CC, L MLO, R CC, R MLO) in two series, each view one input channel of
 * a quadrant-mean classifier fixture chosen by ViewPosition and ImageLaterality. One study-level
 * result, inferred from all four images across both series, equals what the test computes from the
 * images; dciodvfy 0 errors, dsrdump. A study missing a view is refused with a code, not guessed.
 */
import { expect } from 'chai';
import { jsonString, Tag } from '../../src/dicom/json';
import { readPart10 } from '../../src/dicom/part10';
import { readMeasurementReport } from '../../src/dicom/sr/reader';
import { randomUid } from '../../src/contracts/uid';
import { readPlanarImage } from '../../src/image/planar-image';
import { checkReport, startNodeUnderTest, waitForReports, type NodeUnderTest } from '../support/node-under-test';
import { blobRadiograph } from '../support/blob-radiograph';
import { classifierModelPackage } from '../support/test-models';

const VIEWS = [
  { laterality: 'L', viewPosition: 'CC', gain: 0.3 },
  { laterality: 'L', viewPosition: 'MLO', gain: 0.6 },
  { laterality: 'R', viewPosition: 'CC', gain: 0.9 },
  { laterality: 'R', viewPosition: 'MLO', gain: 1.2 },
];
// logit 0: the mean of each view's top-left quadrant, weighted 1..4 by view; logit 1: a constant.
const WEIGHTS = Array.from({ length: 16 }, (_, q) => [q % 4 === 0 ? 1 + Math.floor(q / 4) : 0, 0]);
const BIAS = [-1, 0.5];

function mammogramStudy(views: typeof VIEWS): { study: string; instances: { series: string; part10: Buffer }[] } {
  const study = randomUid();
  const series = { L: randomUid(), R: randomUid() };
  return {
    study,
    instances: views.map((v, i) => ({
      series: series[v.laterality as 'L' | 'R'],
      part10: blobRadiograph({
        rows: 400,
        columns: 320,
        gain: v.gain,
        studyInstanceUid: study,
        extra: {
          SOPClassUID: '1.2.840.10008.5.1.4.1.1.1.2',
          Modality: 'MG',
          SeriesInstanceUID: series[v.laterality as 'L' | 'R'],
          SeriesNumber: v.laterality === 'L' ? 1 : 2,
          InstanceNumber: i + 1,
          BodyPartExamined: 'BREAST',
          ViewPosition: v.viewPosition,
          ImageLaterality: v.laterality,
          ImagerPixelSpacing: [0.1, 0.1],
        },
      }).part10,
    })),
  };
}

describe('a study-level multi-view model: four mammography views in two series', function () {
  this.timeout(300_000);
  let node: NodeUnderTest;

  before(async () => {
    node = await startNodeUnderTest(
      'multiview',
      (models) => {
        classifierModelPackage(
          models,
          'four-views',
          { channels: 4, size: 32, weights: WEIGHTS, bias: BIAS },
          {
            level: 'study',
            accepts: { modality: ['MG'] },
            input: { name: 'image', channels: 4 },
            image: {
              size: [32, 32],
              fit: 'stretch',
              voi: 'header',
              colour: 'grey',
              views: VIEWS.map(({ laterality, viewPosition }) => ({ laterality, viewPosition })),
            },
            classes: [
              {
                index: 0,
                name: 'Suspicious',
                finding: { value: '4147007', scheme: 'SCT', meaning: 'Mass' },
                threshold: 0.5,
              },
            ],
            seriesNumbers: { sr: 9601 },
          },
        );
      },
      'version: 1\nrules:\n  - name: screening\n    models: [four-views]\n    series: [{ attribute: Modality, equals: MG }]\n',
    );
  });
  after(() => node?.stop());

  it('one study result inferred from the four views in both series, equal to what the images give', async () => {
    const { study, instances } = mammogramStudy(VIEWS);
    await node.client.store(
      study,
      instances.map((i) => ({ sopInstanceUid: String(readPart10(i.part10).dataset.SOPInstanceUID), part10: i.part10 })),
    );
    const [bytes] = await waitForReports(node.client, study, 1);
    const dump = checkReport(bytes, node.dir, 'multiview');
    expect(dump.match(/<inferred from IMAGE:\(,,"Source of Measurement"\)/g)).to.have.length(4);
    const evidence = (
      readPart10(bytes).dataset.CurrentRequestedProcedureEvidenceSequence as Record<string, unknown>[]
    )[0].ReferencedSeriesSequence as Record<string, unknown>[];
    expect(evidence.map((s) => (s.ReferencedSOPSequence as unknown[]).length).sort()).to.deep.equal([2, 2]);
    // Expected: the top-left quadrant mean of each view, windowed by its header (2048/4096).
    const means = instances.map((i) => {
      const { dataset, transferSyntaxUid } = readPart10(i.part10);
      const img = readPlanarImage(dataset, transferSyntaxUid, 0, { voi: 'header', maxFramePixels: 1 << 26 });
      let sum = 0;
      for (let y = 0; y < img.rows / 2; y++)
        for (let x = 0; x < img.columns / 2; x++) sum += img.pixels[y * img.columns + x];
      return sum / ((img.rows / 2) * (img.columns / 2));
    });
    const logit0 = BIAS[0] + means.reduce((s, m, c) => s + (c + 1) * m, 0);
    const p = 1 / (1 + Math.exp(BIAS[1] - logit0));
    const report = readMeasurementReport(bytes);
    expect(report.groups).to.have.length(1);
    expect(report.groups[0].trackingId).to.equal('Suspicious (study)');
    expect(report.groups[0].measurements[0].value).to.be.closeTo(p * 100, 0.1);
    expect(report.groups[0].evaluations[0].value).to.equal(p >= 0.5 ? 'Present' : 'Absent');
    // The report's own arrival makes the study stable again: it must not be run again.
    await new Promise((r) => setTimeout(r, 8000));
    const after = await node.client.search(`/studies/${study}/series`);
    expect(after.filter((s) => jsonString(s, Tag.Modality) === 'SR')).to.have.length(1);
  });

  it('a study without its R MLO view is refused with SERIES_NOT_ACCEPTED, saying which view is missing', async () => {
    const { study, instances } = mammogramStudy(VIEWS.slice(0, 3));
    await node.client.store(
      study,
      instances.map((i) => ({ sopInstanceUid: String(readPart10(i.part10).dataset.SOPInstanceUID), part10: i.part10 })),
    );
    const line = await node.node.waitForLog(
      new RegExp(`"jobId":"${study.replace(/\./g, '\\.')}_four-views.*job failed: SERIES_NOT_ACCEPTED`),
      120_000,
    );
    expect(line).to.match(/the study has no R MLO image, which four-views needs/);
  });
});
