/**
 * Classification end to end through a real Orthanc: the NEMA WG-04 CR hip radiograph (MONOCHROME2,
 * JPEG 2000) and colour photograph (YBR_ICT) stored as they are, found by the listener, routed by
 * modality, classified by real onnxruntime sessions of test-fixture models whose outputs are known
 * from the image (quadrant means), and written back as TID 1500 reports that pass dciodvfy and
 * dsrdump; the probabilities read back equal what the test computes from the pixels.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { readPart10 } from '../../src/dicom/part10';
import { initCodecs } from '../../src/dicom/pixel-data';
import { readMeasurementReport } from '../../src/dicom/sr/reader';
import { readPlanarImage, type PlanarImage } from '../../src/image/planar-image';
import { dicomFile, stowFiles, type DicomFile } from '../../scripts/support/dicom-files';
import { checkReport, startNodeUnderTest, waitForReports, type NodeUnderTest } from '../support/node-under-test';
import { classifierModelPackage, GREY_QUADRANTS, quadrantMeans, type QuadrantClassifier } from '../support/test-models';
import { SHARED_DATA } from '../support/env';

const WG04 = path.join(SHARED_DATA, 'xr', 'nema-wg04');
const sct = (value: string, meaning: string): Record<string, string> => ({ value, scheme: 'SCT', meaning });

const GREY = GREY_QUADRANTS;
const RGB: QuadrantClassifier = {
  channels: 3,
  size: 32,
  weights: Array.from({ length: 12 }, (_, q) => [q < 4 ? 3 : 0, q >= 8 ? 3 : 0]),
  bias: [0, 0.5],
};

/** The softmax probabilities the fixture gives for this image, computed here from its pixels. */
function expectedProbabilities(f: DicomFile, m: QuadrantClassifier): number[] {
  const { dataset, transferSyntaxUid } = readPart10(f.part10);
  const img: PlanarImage = readPlanarImage(dataset, transferSyntaxUid, 0, { voi: 'header', maxFramePixels: 1 << 26 });
  const means = quadrantMeans(img);
  const logits = m.bias.map((b, k) => b + means.reduce((s, v, q) => s + v * m.weights[q][k], 0));
  const z = logits.reduce((s, l) => s + Math.exp(l), 0);
  return logits.map((l) => Math.exp(l) / z);
}

describe('classification end to end: a radiograph and a colour photograph through the PACS', function () {
  this.timeout(300_000);
  let n: NodeUnderTest;
  const classes = [
    { index: 0, name: 'Finding A', finding: sct('36118008', 'Pneumothorax'), threshold: 0.5 },
    { index: 1, name: 'Finding B', finding: sct('17621005', 'Normal'), threshold: 0.5, indeterminate: [0.45, 0.55] },
  ];

  before(async () => {
    await initCodecs();
    n = await startNodeUnderTest(
      'classify',
      (models) => {
        classifierModelPackage(models, 'cr-quadrants', GREY, { classes, accepts: { modality: ['CR'] } });
        classifierModelPackage(models, 'photo-quadrants', RGB, {
          classes,
          accepts: { modality: ['OT'] },
          seriesNumbers: { sr: 9301 },
          procedureReported: { value: '55111-9', scheme: 'LN', meaning: 'Photograph' },
        });
      },
      [
        'version: 1',
        'rules:',
        '  - name: radiographs',
        '    models: [cr-quadrants]',
        '    series: [{ attribute: Modality, equals: CR }]',
        '  - name: photographs',
        '    models: [photo-quadrants]',
        '    series: [{ attribute: Modality, equals: OT }]',
        '',
      ].join('\n'),
    );
  });
  after(() => n?.stop());

  for (const [name, model, modelId] of [
    ['RG2_J2KI.dcm', GREY, 'cr-quadrants'],
    ['VL1_J2KI.dcm', RGB, 'photo-quadrants'],
  ] as const)
    it(`${name}: one report with every class, its probability and outcome as the image gives them; dciodvfy 0 errors, dsrdump`, async () => {
      const f = dicomFile(fs.readFileSync(path.join(WG04, name)));
      const t0 = Date.now();
      await stowFiles(n.client, [f]);
      const [bytes] = await waitForReports(n.client, f.studyInstanceUid, 1, 120_000);
      const visibleMs = Date.now() - t0;
      const stored = await n.node.waitForLog(new RegExp(`"modelId":"${modelId}".*results stored`), 10_000);
      console.log(
        `      ${name}: stored -> report visible ${visibleMs} ms; worker ${JSON.stringify(JSON.parse(stored).peakRssMb)}`,
      );
      const dump = checkReport(bytes, n.dir, modelId);
      expect(dump).to.include('Certainty of Finding');
      // Each probability is inferred from its image (the source radiograph or photograph).
      expect(dump.match(/<inferred from IMAGE:\(,,"Source of Measurement"\)=\(/g)).to.have.length(2);
      const report = readMeasurementReport(bytes);
      expect(report.groups.map((g) => g.finding)).to.deep.equal(['Pneumothorax', 'Normal']);
      const expected = expectedProbabilities(f, model);
      report.groups.forEach((g, k) => {
        const certainty = g.measurements.find((m) => m.concept === 'Certainty of Finding');
        expect(certainty?.unit).to.equal('%');
        // The SR holds the percent to 4 decimals; the fitted input differs from the source quadrants by < 0.1 %.
        expect(certainty?.value, `class ${k}`).to.be.closeTo(expected[k] * 100, 0.1);
        const outcome =
          k === 1 && expected[k] >= 0.45 && expected[k] < 0.55
            ? 'Indeterminate'
            : expected[k] >= 0.5
              ? 'Present'
              : 'Absent';
        expect(g.evaluations, `class ${k}`).to.deep.equal([{ concept: classes[k].finding.meaning, value: outcome }]);
      });
    });
});
