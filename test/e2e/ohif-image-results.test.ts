/**
 * Detection and classification results in OHIF (headless Chromium), as a radiologist sees them:
 * real Orthanc, the real `ainode start` with rules asking for both SR profiles, the real
 * `ainode viewer` gateway with the pinned prebuilt OHIF. A synthetic radiograph with spots at
 * known places gets one box per spot: the measurement panel lists each with its score, and on
 * the screen each box is drawn where its spot is. The CR hip radiograph's classification shows as
 * the image framed and labelled with each class, outcome and probability; a volume detector's
 * findings on a synthetic CT show as probes on the slices through them. Screenshots are written
 * to run/artifacts/ohif/.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import type { Browser } from 'playwright-core';
import { DicomwebClient } from '../../src/dicomweb/client';
import { jsonString, Tag } from '../../src/dicom/json';
import { readPart10 } from '../../src/dicom/part10';
import { readMeasurementReport, type ReadMeasurementGroup } from '../../src/dicom/sr/reader';
import { PROBE_TRACKING_ID, RECTANGLE_TRACKING_ID } from '../../src/results/image-reports';
import { startOrthanc, type OrthancProcess } from '../../scripts/support/orthanc';
import { dicomFile, stowFiles } from '../../scripts/support/dicom-files';
import { spawnAinode, type AinodeProcess } from '../support/ainode-process';
import { blobRadiograph, SPOTS } from '../support/blob-radiograph';
import {
  classifierModelPackage,
  detectorModelPackage,
  GREY_QUADRANTS,
  volumeDetectorModelPackage,
} from '../support/test-models';
import { sphereCt, SIZE, SPHERES } from '../support/sphere-ct';
import { launchChromium, ohifDist, OhifSession } from '../support/ohif-browser';
import { waitUntil } from '../support/results';
import { REDIS_URL, SHARED_DATA, tempDir, uniquePrefix } from '../support/env';

describe('detection and classification results in the OHIF viewer (headless Chromium)', function () {
  this.timeout(600_000);
  let orthanc: OrthancProcess;
  let client: DicomwebClient;
  let node: AinodeProcess;
  let viewer: AinodeProcess;
  let viewerUrl: string;
  let browser: Browser;
  const dx = dicomFile(blobRadiograph({ extra: { ImagerPixelSpacing: [0.15, 0.15] } }).part10);
  const cr = dicomFile(fs.readFileSync(path.join(SHARED_DATA, 'xr', 'nema-wg04', 'RG2_J2KI.dcm')));
  const viewerGroups = new Map<string, ReadMeasurementGroup[]>();
  const ct = sphereCt();

  before(async () => {
    const dir = tempDir('ohif-2d');
    const models = path.join(dir, 'models');
    detectorModelPackage(models, 'peaks', { size: 128, threshold: 0.3, box: 12, format: 'yolo' }, {});
    volumeDetectorModelPackage(models, 'spheres', { ...SIZE, threshold: 0.5, box: 6 });
    classifierModelPackage(models, 'quadrants', GREY_QUADRANTS, {
      accepts: { modality: ['CR'] },
      classes: [
        {
          index: 0,
          name: 'Finding A',
          finding: { value: '36118008', scheme: 'SCT', meaning: 'Pneumothorax' },
          threshold: 0.5,
        },
        {
          index: 1,
          name: 'Finding B',
          finding: { value: '17621005', scheme: 'SCT', meaning: 'Normal' },
          threshold: 0.5,
        },
      ],
    });
    fs.writeFileSync(
      path.join(dir, 'rules.yaml'),
      [
        'version: 1',
        'rules:',
        '  - name: spots',
        '    models: [peaks]',
        '    srProfiles: [standard, viewer]',
        '    series: [{ attribute: Modality, equals: DX }]',
        '  - name: spheres',
        '    models: [spheres]',
        '    srProfiles: [standard, viewer]',
        '    series: [{ attribute: Modality, equals: CT }]',
        '  - name: hips',
        '    models: [quadrants]',
        '    srProfiles: [standard, viewer]',
        '    series: [{ attribute: Modality, equals: CR }]',
        '',
      ].join('\n'),
    );
    orthanc = await startOrthanc({ dir, stableAge: 2 });
    client = new DicomwebClient({
      url: orthanc.dicomwebUrl,
      username: undefined,
      password: undefined,
      timeoutMs: 60_000,
    });
    node = spawnAinode(['start'], {
      AINODE_DICOMWEB_URL: orthanc.dicomwebUrl,
      AINODE_REDIS_URL: REDIS_URL,
      AINODE_REDIS_PREFIX: uniquePrefix('ohif2d'),
      AINODE_POLL_INTERVAL_MS: '300',
      AINODE_EXECUTION_PROVIDERS: 'cpu',
      AINODE_MODELS_DIR: models,
      AINODE_RULES_FILE: path.join(dir, 'rules.yaml'),
    });
    viewer = spawnAinode(['viewer', '--ohif-dist', ohifDist()], {
      AINODE_DICOMWEB_URL: orthanc.dicomwebUrl,
      AINODE_VIEWER_PORT: '0',
    });
    viewerUrl = JSON.parse(await viewer.waitForLog(/OHIF viewer served/, 30_000)).url;
    await node.waitForLog(/worker ready/, 30_000);
    await stowFiles(client, [dx, cr]);
    await client.store(ct.studyInstanceUid, ct.instances);
    for (const f of [dx, cr, { studyInstanceUid: ct.studyInstanceUid }]) {
      let uids: string[] = [];
      await waitUntil(`both reports on ${f.studyInstanceUid}`, 180_000, async () => {
        const s = await client.search(`/studies/${f.studyInstanceUid}/series`);
        uids = s.filter((x) => jsonString(x, Tag.Modality) === 'SR').map((x) => jsonString(x, Tag.SeriesInstanceUID)!);
        return uids.length === 2;
      });
      for (const uid of uids) {
        const r = readMeasurementReport((await client.retrieveSeries(f.studyInstanceUid, uid))[0]);
        if (r.groups.every((g) => g.trackingId === RECTANGLE_TRACKING_ID || g.trackingId === PROBE_TRACKING_ID))
          viewerGroups.set(f.studyInstanceUid, r.groups);
      }
      expect(viewerGroups.get(f.studyInstanceUid), 'a viewer-profile report').to.not.equal(undefined);
    }
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await viewer?.stop();
    await node?.stop();
    await orthanc?.stop();
  });

  it('the radiograph: a row per box with its score, and each box drawn on its spot', async () => {
    const groups = viewerGroups.get(dx.studyInstanceUid)!;
    expect(groups).to.have.length(SPOTS.length);
    const ohif = await OhifSession.open(browser, viewerUrl, dx.studyInstanceUid, true);
    await ohif.loadDerivedSeries('key images');
    const rows = await ohif.measurementRows(groups.length);
    for (const g of groups)
      expect(
        rows.some((r) => r.includes(g.comment!)),
        `a row "${g.comment}" in ${JSON.stringify(rows)}`,
      ).to.equal(true);
    expect(groups.every((g) => /^Bright spot \d+\.\d%$/.test(g.comment!))).to.equal(true);
    await ohif.page.waitForTimeout(1000);
    await ohif.screenshot('dx-detection-boxes.png');
    // Where the image lies on the screen: OHIF fits it into the viewport, centred.
    const { width, height, rgba: d } = await ohif.viewportPixels();
    const coloured = (x: number, y: number): boolean => {
      for (let dy = -3; dy <= 3; dy++)
        for (let dx = -3; dx <= 3; dx++) {
          const xx = Math.round(x) + dx;
          const yy = Math.round(y) + dy;
          if (xx < 0 || yy < 0 || xx >= width || yy >= height) continue;
          const i = 4 * (yy * width + xx);
          if (Math.max(d[i], d[i + 1], d[i + 2]) - Math.min(d[i], d[i + 1], d[i + 2]) > 60) return true;
        }
      return false;
    };
    const [imgRows, imgCols] = [900, 800];
    const scale = Math.min(width / imgCols, height / imgRows);
    const ox = (width - imgCols * scale) / 2;
    const oy = (height - imgRows * scale) / 2;
    const hits = groups.map((g) => {
      // Sample along the four edges of the box, on the screen.
      const p = g.imageRegion!.points;
      const [x0, y0, x1, y1] = [p[0], p[1], p[2], p[5]];
      let on = 0;
      let n = 0;
      for (let t = 0.1; t <= 0.9; t += 0.2) {
        for (const [x, y] of [
          [x0 + t * (x1 - x0), y0],
          [x0 + t * (x1 - x0), y1],
          [x0, y0 + t * (y1 - y0)],
          [x1, y0 + t * (y1 - y0)],
        ]) {
          n++;
          if (coloured(ox + x * scale, oy + y * scale)) on++;
        }
      }
      // And a control: the same box moved by three of its widths, where nothing is drawn.
      const shift = 3 * (x1 - x0);
      let off = 0;
      for (let t = 0.1; t <= 0.9; t += 0.2)
        if (coloured(ox + (x0 + shift + t * (x1 - x0)) * scale, oy + y0 * scale)) off++;
      return { on, n, off };
    });
    process.stdout.write(`      OHIF: box edges drawn where the SR puts them: ${JSON.stringify(hits)}\n`);
    for (const h of hits) {
      expect(h.on / h.n, 'share of a box edge that is drawn on screen').to.be.at.least(0.8);
      expect(h.off, 'the same box moved away is not drawn').to.be.at.most(1);
    }
    expect(ohif.errors, 'errors in the page or its console').to.deep.equal([]);
    await ohif.page.close();
  });

  it('the CT: each finding of the volume detector a probe on the slice through its centre, with its score', async () => {
    const groups = viewerGroups.get(ct.studyInstanceUid)!;
    expect(groups).to.have.length(SPHERES.length);
    const instanceOf = new Map(
      ct.instances.map((i) => {
        const d = readPart10(i.part10).dataset;
        return [String(d.SOPInstanceUID), Number(d.InstanceNumber)];
      }),
    );
    const ohif = await OhifSession.open(browser, viewerUrl, ct.studyInstanceUid);
    await ohif.loadDerivedSeries('key slices');
    const rows = await ohif.measurementRows(groups.length);
    for (const g of groups) {
      const row = rows.find((r) => r.includes(g.comment!));
      expect(row, `a row "${g.comment}" in ${JSON.stringify(rows)}`).to.not.equal(undefined);
    }
    // OHIF went to the first finding's slice: the one its point is on.
    expect(await ohif.shownInstance()).to.equal(instanceOf.get(groups[0].imageRegion!.sopInstanceUid!));
    await ohif.page.waitForTimeout(1000);
    await ohif.screenshot('ct-detection-probes.png');
    process.stdout.write(`      OHIF: probes ${rows.map((r) => r.split('\n').slice(0, 2).join(' ')).join(' | ')}\n`);
    expect(ohif.errors, 'errors in the page or its console').to.deep.equal([]);
    await ohif.page.close();
  });

  it('the CR hip: the classification as the image framed and labelled with each class, outcome and probability', async () => {
    const groups = viewerGroups.get(cr.studyInstanceUid)!;
    expect(groups).to.have.length(1);
    expect(groups[0].comment).to.match(/^Finding A: (present|absent) \d+\.\d%; Finding B: (present|absent) \d+\.\d%$/);
    const ohif = await OhifSession.open(browser, viewerUrl, cr.studyInstanceUid, true);
    const before = await ohif.colouredFraction();
    await ohif.loadDerivedSeries('key images');
    const rows = await ohif.measurementRows(1);
    expect(rows[0]).to.include(groups[0].comment!);
    await ohif.page.waitForTimeout(1000);
    const after = await ohif.colouredFraction();
    await ohif.screenshot('cr-classification-label.png');
    process.stdout.write(
      `      OHIF: "${groups[0].comment}"; coloured viewport pixels ${(100 * before).toFixed(2)} % -> ${(100 * after).toFixed(2)} %\n`,
    );
    expect(after).to.be.above(before);
    expect(ohif.errors, 'errors in the page or its console').to.deep.equal([]);
    await ohif.page.close();
  });
});
