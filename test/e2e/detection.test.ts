/**
 * Detection end to end through a real Orthanc: a synthetic digital radiograph with spots drawn at
 * known places (Imager Pixel Spacing and a magnification factor: sizes in mm), the NEMA WG-04 CR
 * chest (its Pixel Spacing is 0\0: sizes in pixels only, said so) and the WG-04 mammogram, each
 * stored, routed, run through the peak detector fixture in a real onnxruntime session and written
 * back as a TID 1500 report that passes dciodvfy and dsrdump. The boxes read back lie on the
 * drawn spots; on the real images every box is a local maximum of the image as the test computes
 * it from the model input.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { readPart10 } from '../../src/dicom/part10';
import { initCodecs } from '../../src/dicom/pixel-data';
import { readMeasurementReport } from '../../src/dicom/sr/reader';
import { readPlanarImage } from '../../src/image/planar-image';
import { toModel } from '../../src/image/fit';
import { imageInput } from '../../src/inference/image-model';
import { loadModelPackage } from '../../src/inference/model-package';
import { dicomFile, stowFiles, type DicomFile } from '../../scripts/support/dicom-files';
import { checkReport, startNodeUnderTest, waitForReports, type NodeUnderTest } from '../support/node-under-test';
import { detectorModelPackage, type PeakDetector } from '../support/test-models';
import { blobRadiograph, SPOTS } from '../support/blob-radiograph';
import { SHARED_DATA } from '../support/env';

const WG04 = path.join(SHARED_DATA, 'xr', 'nema-wg04');
const DETECTOR: PeakDetector = { size: 128, threshold: 0.3, box: 12, format: 'yolo' };

describe('detection end to end: a radiograph with known spots, the CR chest and the mammogram', function () {
  this.timeout(300_000);
  let node: NodeUnderTest;

  before(async () => {
    await initCodecs();
    node = await startNodeUnderTest(
      'detect',
      // The three images' views (the radiographs PA, the mammogram MLO): each passes the image filter.
      (models) =>
        detectorModelPackage(models, 'peaks', DETECTOR, {
          accepts: { modality: ['DX', 'CR', 'RG'], viewPosition: ['PA', 'MLO'] },
        }),
      'version: 1\nrules:\n  - name: projections\n    models: [peaks]\n    series: [{ attribute: Modality, in: [DX, CR, RG] }]\n    images: [{ attribute: ViewPosition, in: [PA, AP, MLO, CC] }]\n',
    );
  });
  after(() => node?.stop());

  /** Stores one image, waits for its report, checks it with dciodvfy and dsrdump, returns it read back. */
  async function detect(f: DicomFile, label: string): Promise<ReturnType<typeof readMeasurementReport>> {
    const t0 = Date.now();
    await stowFiles(node.client, [f]);
    const [bytes] = await waitForReports(node.client, f.studyInstanceUid, 1);
    const visibleMs = Date.now() - t0;
    const stored = await node.node.waitForLog(
      new RegExp(`"studyInstanceUid":"${f.studyInstanceUid.replace(/\./g, '\\.')}".*results stored`),
      10_000,
    );
    console.log(
      `      ${label}: stored -> report visible ${visibleMs} ms; worker peak RSS ${JSON.stringify(JSON.parse(stored).peakRssMb)}`,
    );
    checkReport(bytes, node.dir, label);
    return readMeasurementReport(bytes);
  }

  it('the synthetic radiograph: one box on each drawn spot, its area in mm (magnification-corrected)', async () => {
    const { part10 } = blobRadiograph({
      extra: { ImagerPixelSpacing: [0.15, 0.15], EstimatedRadiographicMagnificationFactor: 1.25 },
    });
    const report = await detect(dicomFile(part10), 'synthetic DX');
    const boxes = report.groups.filter((g) => g.imageRegion);
    expect(boxes).to.have.length(SPOTS.length);
    const modelPixel = Math.max(900, 800) / DETECTOR.size; // letterbox: source pixels per model pixel
    for (const s of SPOTS) {
      const g = boxes.find((b) => {
        const p = b.imageRegion!.points;
        return Math.hypot((p[0] + p[4]) / 2 - s.x, (p[1] + p[5]) / 2 - s.y) <= 1.5 * modelPixel;
      });
      expect(g, `a box on the spot at ${s.x}, ${s.y}`).to.not.equal(undefined);
      const p = g!.imageRegion!.points;
      expect(g!.imageRegion!.graphicType).to.equal('POLYLINE');
      expect([p[8], p[9]]).to.deep.equal([p[0], p[1]]); // closed
      const area = g!.measurements.find((m) => m.concept === 'Area')!;
      const w = p[2] - p[0];
      const h = p[5] - p[1];
      expect(area.unit).to.equal('mm2');
      expect(area.value).to.be.closeTo(w * (0.15 / 1.25) * h * (0.15 / 1.25), 0.05);
      expect(g!.comment).to.match(
        /ImagerPixelSpacing \/ EstimatedRadiographicMagnificationFactor, magnification-corrected/,
      );
      expect(g!.finding).to.equal('Mass');
    }
  });

  it("an image the rule's image conditions leave out (a lateral view) is not run; its series is refused, saying why", async () => {
    const { part10, dataset } = blobRadiograph({ extra: { ViewPosition: 'LL' } });
    await stowFiles(node.client, [dicomFile(part10)]);
    const line = await node.node.waitForLog(
      new RegExp(
        `"jobId":"${String(dataset.StudyInstanceUID).replace(/\./g, '\\.')}_peaks.*job failed: SERIES_NOT_ACCEPTED`,
      ),
      120_000,
    );
    expect(line).to.match(/no image of the series is for peaks: rule projections: ViewPosition failed/);
  });

  for (const [name, label] of [
    ['RG1_J2KI.dcm', 'CR chest'],
    ['MG1_J2KI.dcm', 'mammogram'],
  ] as const)
    it(`the ${label} (${name}): every box is on a local maximum of the image computed here; sizes as the spacing allows`, async () => {
      const f = dicomFile(fs.readFileSync(path.join(WG04, name)));
      const report = await detect(f, label);
      const boxes = report.groups.filter((g) => g.imageRegion);
      // The model input, as the worker prepares it (tested on its own), smoothed here by the fixture's rule.
      const pkg = loadModelPackage(path.join(node.models, 'peaks'));
      const { dataset, transferSyntaxUid } = readPart10(f.part10);
      const img = readPlanarImage(dataset, transferSyntaxUid, 0, { voi: 'minmax', maxFramePixels: 1 << 26 });
      const input = imageInput(img, pkg.manifest.image!, pkg.manifest.preprocess);
      const n = DETECTOR.size;
      const smooth = new Float64Array(n * n);
      for (let y = 0; y < n; y++)
        for (let x = 0; x < n; x++) {
          let sum = 0;
          let count = 0;
          for (let dy = -2; dy <= 2; dy++)
            for (let dx = -2; dx <= 2; dx++) {
              const yy = y + dy;
              const xx = x + dx;
              if (yy < 0 || xx < 0 || yy >= n || xx >= n) continue;
              sum += input.data[yy * n + xx];
              count++;
            }
          smooth[y * n + x] = sum / count;
        }
      expect(boxes.length, 'findings').to.be.within(1, 20);
      for (const g of boxes) {
        const p = g.imageRegion!.points;
        // The box's centre in the model input; a box clipped at the image's edge keeps its far side.
        const t = input.transform;
        const half = DETECTOR.box / 2;
        const [x0, y0] = toModel(t, p[0], p[1]);
        const [x1, y1] = toModel(t, p[4], p[5]);
        const mx = p[0] <= 0 ? x1 - half : p[4] >= t.sourceColumns ? x0 + half : (x0 + x1) / 2;
        const my = p[1] <= 0 ? y1 - half : p[5] >= t.sourceRows ? y0 + half : (y0 + y1) / 2;
        const x = Math.floor(mx);
        const y = Math.floor(my);
        let max = -Infinity;
        for (let dy = -4; dy <= 4; dy++)
          for (let dx = -4; dx <= 4; dx++) {
            const yy = y + dy;
            const xx = x + dx;
            if (yy >= 0 && xx >= 0 && yy < n && xx < n) max = Math.max(max, smooth[yy * n + xx]);
          }
        expect(smooth[y * n + x], `box at model ${x}, ${y} is its neighbourhood's maximum`).to.be.closeTo(max, 1e-5);
        const certainty = g.measurements.find((m) => m.concept === 'Certainty of Finding')!;
        expect(certainty.value! / 100, 'score = the smoothed value').to.be.closeTo(smooth[y * n + x], 1e-4);
        const area = g.measurements.find((m) => m.concept === 'Area')!;
        // RG1's spacing is 0\0 and the mammogram (a secondary capture) has none: pixels only.
        expect(area.unit).to.equal('{px2}');
        expect(g.comment).to.match(/size in pixels only: (PixelSpacing is 0\\0|no PixelSpacing)/);
      }
    });
});
