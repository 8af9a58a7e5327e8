/**
 * Issue 8: the radiologist sees ainode's results in OHIF. Real Orthanc + DICOMweb plugin, the real
 * `ainode start` with rules asking for both SR profiles, the real `ainode viewer` gateway serving
 * the pinned prebuilt OHIF (npm @ohif/app), and Debian's Chromium driven by playwright-core.
 * For the chest CT and the brain MRI: the viewer-profile SR passes the validators and its outlines
 * lie exactly on the SEG's pixel borders; in OHIF the segment labels appear, the overlay is drawn,
 * and the measurement panel lists each structure with its volume on the image the SR references.
 * Screenshots are written to run/artifacts/ohif/.
 */
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { Browser } from 'playwright-core';
import { DicomwebClient } from '../../src/dicomweb/client';
import { jsonString, Tag } from '../../src/dicom/json';
import { readPart10 } from '../../src/dicom/part10';
import { readMeasurementReport, type ReadMeasurementGroup } from '../../src/dicom/sr/reader';
import { niftiToMrSeries } from '../../src/convert/nifti-to-dicom';
import { readNifti } from '../../src/volume/nifti';
import { VIEWER_TRACKING_ID } from '../../src/results/segmentation-results';
import { polygonAreaPixels } from '../../src/results/planar-roi';
import { startOrthanc, type OrthancProcess } from '../../scripts/support/orthanc';
import { readDicomFolder, stowFiles } from '../../scripts/support/dicom-files';
import { spawnAinode, type AinodeProcess, REPO_ROOT } from '../support/ainode-process';
import { BRAIN_T1_NIFTI, CHEST_CT_DIR, REDIS_URL, tempDir, uniquePrefix } from '../support/env';
import { readSeg, type ReadSeg } from '../support/seg-reader';
import { launchChromium, ohifDist, OhifSession } from '../support/ohif-browser';
import { waitUntil } from '../support/results';

interface StudyResults {
  seg: ReadSeg;
  viewer: ReadMeasurementGroup[];
  standard: ReadMeasurementGroup[];
  viewerFile: string;
}

async function fetchResults(client: DicomwebClient, study: string, dir: string, name: string): Promise<StudyResults> {
  const series = await client.search(`/studies/${study}/series`);
  const of = (m: string): string[] =>
    series.filter((s) => jsonString(s, Tag.Modality) === m).map((s) => jsonString(s, Tag.SeriesInstanceUID)!);
  expect(of('SEG')).to.have.length(1);
  expect(of('SR')).to.have.length(2);
  const [segBytes] = await client.retrieveSeries(study, of('SEG')[0]);
  const srs = await Promise.all(of('SR').map(async (uid) => (await client.retrieveSeries(study, uid))[0]));
  const reports = srs.map((b) => ({ b, r: readMeasurementReport(b) }));
  const viewer = reports.find((x) => x.r.groups.every((g) => g.trackingId === VIEWER_TRACKING_ID))!;
  const standard = reports.find((x) => x !== viewer)!;
  expect(viewer, 'a viewer-profile SR').to.not.equal(undefined);
  for (const x of reports) expect(x.r.problems).to.deep.equal([]);
  const viewerFile = path.join(dir, `${name}-viewer-sr.dcm`);
  fs.writeFileSync(viewerFile, viewer.b);
  return { seg: readSeg(segBytes), viewer: viewer.r.groups, standard: standard.r.groups, viewerFile };
}

/** Every unit step of the outline has the segment's pixel on its right and a non-segment pixel on its left. */
function outlineOnSegmentBorder(
  points: number[],
  bits: Uint8Array,
  w: number,
  h: number,
): { steps: number; wrong: number } {
  const at = (x: number, y: number): number => (x >= 0 && y >= 0 && x < w && y < h ? bits[y * w + x] : 0);
  let steps = 0;
  let wrong = 0;
  for (let i = 0; i + 3 < points.length; i += 2) {
    const dx = Math.sign(points[i + 2] - points[i]);
    const dy = Math.sign(points[i + 3] - points[i + 1]);
    for (let x = points[i], y = points[i + 1]; x !== points[i + 2] || y !== points[i + 3]; x += dx, y += dy) {
      const right = dx === 1 ? at(x, y) : dx === -1 ? at(x - 1, y - 1) : dy === 1 ? at(x - 1, y) : at(x, y - 1);
      const left = dx === 1 ? at(x, y - 1) : dx === -1 ? at(x - 1, y) : dy === 1 ? at(x, y) : at(x - 1, y - 1);
      steps++;
      if (right !== 1 || left !== 0) wrong++;
    }
  }
  return { steps, wrong };
}

/** Pixel centres inside a closed polygon (even-odd). */
function insidePolygon(points: number[], w: number, h: number): Uint8Array {
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    const py = y + 0.5;
    const xs: number[] = [];
    for (let i = 0; i + 3 < points.length; i += 2) {
      const [x1, y1, x2, y2] = [points[i], points[i + 1], points[i + 2], points[i + 3]];
      if (y1 > py !== y2 > py) xs.push(((x2 - x1) * (py - y1)) / (y2 - y1) + x1);
    }
    xs.sort((a, b) => a - b);
    for (let k = 0; k + 1 < xs.length; k += 2)
      for (let x = Math.ceil(xs[k] - 0.5); x + 0.5 < xs[k + 1]; x++) if (x >= 0 && x < w) out[y * w + x] = 1;
  }
  return out;
}

function value(g: ReadMeasurementGroup, concept: string): number {
  const m = g.measurements.find((x) => x.concept === concept);
  expect(m, `${g.finding}: ${concept}`).to.not.equal(undefined);
  return m!.value!;
}

describe('results in the OHIF viewer (headless Chromium), chest CT and brain MRI', function () {
  this.timeout(600_000);
  let dir: string;
  let orthanc: OrthancProcess;
  let client: DicomwebClient;
  let node: AinodeProcess;
  let viewer: AinodeProcess;
  let viewerUrl: string;
  let browser: Browser;
  const ct = readDicomFolder(CHEST_CT_DIR);
  const niftiBytes = fs.readFileSync(BRAIN_T1_NIFTI);
  const mr = niftiToMrSeries(niftiBytes, readNifti(niftiBytes), { seriesDescription: 'T1 MPRAGE (converted)' });
  const results = new Map<string, StudyResults>();
  const sources = new Map<string, Record<string, unknown>>();

  before(async () => {
    dir = tempDir('ohif');
    const dist = ohifDist();
    orthanc = await startOrthanc({ dir, stableAge: 2 });
    client = new DicomwebClient({
      url: orthanc.dicomwebUrl,
      username: undefined,
      password: undefined,
      timeoutMs: 60_000,
    });
    const rules = fs
      .readFileSync(path.join(REPO_ROOT, 'deploy', 'rules', 'default.yaml'), 'utf8')
      .replace(/^(\s+)priority: routine$/gm, '$1priority: routine\n$1srProfiles: [standard, viewer]');
    expect(rules.match(/srProfiles/g)).to.have.length(2);
    fs.writeFileSync(path.join(dir, 'rules.yaml'), rules);
    node = spawnAinode(['start'], {
      AINODE_DICOMWEB_URL: orthanc.dicomwebUrl,
      AINODE_REDIS_URL: REDIS_URL,
      AINODE_REDIS_PREFIX: uniquePrefix('ohif'),
      AINODE_POLL_INTERVAL_MS: '300',
      AINODE_EXECUTION_PROVIDERS: 'cpu',
      AINODE_RULES_FILE: path.join(dir, 'rules.yaml'),
    });
    viewer = spawnAinode(['viewer', '--ohif-dist', dist], {
      AINODE_DICOMWEB_URL: orthanc.dicomwebUrl,
      AINODE_VIEWER_PORT: '0',
    });
    viewerUrl = JSON.parse(await viewer.waitForLog(/OHIF viewer served/, 30_000)).url;
    await node.waitForLog(/listening to the Orthanc change feed/, 30_000);
    await node.waitForLog(/worker ready/, 30_000);
    await stowFiles(client, ct);
    for (let i = 0; i < mr.instances.length; i += 32)
      await client.store(mr.studyInstanceUid, mr.instances.slice(i, i + 32));
    for (const f of ct) sources.set(f.sopInstanceUid, readPart10(f.part10).dataset);
    for (const f of mr.instances) sources.set(f.sopInstanceUid, readPart10(f.part10).dataset);
    const done = async (study: string): Promise<boolean> => {
      const s = await client.search(`/studies/${study}/series`);
      return (
        s.filter((x) => jsonString(x, Tag.Modality) === 'SEG').length === 1 &&
        s.filter((x) => jsonString(x, Tag.Modality) === 'SR').length === 2
      );
    };
    await waitUntil(
      'SEG and both SRs for the CT and the MR',
      240_000,
      async () => (await done(ct[0].studyInstanceUid)) && (await done(mr.studyInstanceUid)),
    );
    results.set('ct', await fetchResults(client, ct[0].studyInstanceUid, dir, 'ct'));
    results.set('mr', await fetchResults(client, mr.studyInstanceUid, dir, 'mr'));
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await viewer?.stop();
    await node?.stop();
    await orthanc?.stop();
  });

  it('the viewer gateway: OHIF with cross-origin isolation, its config for Orthanc, SPA routes, and the PACS read-only', async () => {
    const page = await fetch(`${viewerUrl}/viewer?StudyInstanceUIDs=${ct[0].studyInstanceUid}`);
    expect(page.status).to.equal(200);
    expect(page.headers.get('cross-origin-opener-policy')).to.equal('same-origin');
    expect(page.headers.get('cross-origin-embedder-policy')).to.equal('require-corp');
    expect(await page.text()).to.include('app-config.js');
    const config = await (await fetch(`${viewerUrl}/app-config.js`)).text();
    expect(config).to.include('"omitQuotationForMultipartRequest": true');
    expect(config).to.include('"qidoRoot": "/dicom-web"');
    const qido = await fetch(`${viewerUrl}/dicom-web/studies?StudyInstanceUID=${ct[0].studyInstanceUid}`, {
      headers: { Accept: 'application/dicom+json' },
    });
    expect(qido.status).to.equal(200);
    expect(qido.headers.get('cross-origin-resource-policy')).to.equal('same-origin');
    expect(((await qido.json()) as unknown[]).length).to.equal(1);
    const before = (await client.search(`/studies/${ct[0].studyInstanceUid}/series`)).length;
    const post = await fetch(`${viewerUrl}/dicom-web/studies/${ct[0].studyInstanceUid}`, {
      method: 'POST',
      body: 'x',
      headers: { 'Content-Type': 'application/dicom' },
    });
    expect(post.status).to.equal(405);
    expect(((await post.json()) as { code: string }).code).to.equal('GATEWAY_REQUEST_REFUSED');
    const del = await fetch(`${viewerUrl}/dicom-web/studies/${ct[0].studyInstanceUid}`, { method: 'DELETE' });
    expect(del.status).to.equal(405);
    expect((await client.search(`/studies/${ct[0].studyInstanceUid}/series`)).length).to.equal(before);
  });

  for (const name of ['ct', 'mr'] as const) {
    it(`${name}: the viewer-profile SR passes dciodvfy (0 errors) and dsrdump shows one planar group per segment`, () => {
      const r = results.get(name)!;
      const v = spawnSync('dciodvfy', [r.viewerFile], { encoding: 'utf8' });
      const out = `${v.stdout}${v.stderr}`;
      expect(out).to.match(/^Comprehensive3DSR/m);
      expect(
        out.split('\n').filter((l) => /^Error/.test(l)),
        out,
      ).to.deep.equal([]);
      const dump = execFileSync('dsrdump', ['+Pl', r.viewerFile], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      expect(dump.match(/Cornerstone3DTools@\^0\.1\.0:PlanarFreehandROI/g)).to.have.length(r.seg.segments.length);
      expect(dump.match(/<inferred from SCOORD:=\(POLYLINE,/g)).to.have.length(r.seg.segments.length);
      expect(r.viewer.map((g) => g.comment)).to.deep.equal(
        r.standard
          .filter((g) => g.referencedSegment)
          .map((g) => `${g.trackingId}: ${value(g, 'Volume').toFixed(1)} mL`),
      );
    });

    it(`${name}: each outline lies exactly on the SEG's pixel borders on its key slice, and its area is the one reported`, () => {
      const r = results.get(name)!;
      const report: string[] = [];
      r.viewer.forEach((g, i) => {
        const region = g.imageRegion!;
        expect(region.graphicType).to.equal('POLYLINE');
        const segNumber = r.seg.segments.find((s) => s.label === r.standard[i].trackingId)!.number;
        const frame = r.seg.frames.find(
          (f) => f.segmentNumber === segNumber && f.sourceSopInstanceUid === region.sopInstanceUid,
        );
        expect(frame, `${g.finding}: a SEG frame on the outlined image`).to.not.equal(undefined);
        const { steps, wrong } = outlineOnSegmentBorder(region.points, frame!.bits, r.seg.columns, r.seg.rows);
        expect(wrong, `${g.finding}: outline steps off the segment border`).to.equal(0);
        // The key slice is where the segment covers the most pixels.
        const count = (bits: Uint8Array): number => bits.reduce((a, b) => a + b, 0);
        const most = Math.max(...r.seg.frames.filter((f) => f.segmentNumber === segNumber).map((f) => count(f.bits)));
        expect(count(frame!.bits)).to.equal(most);
        const src = sources.get(region.sopInstanceUid!)!;
        const spacing = (src.PixelSpacing as number[]).map(Number);
        const area = polygonAreaPixels(region.points) * spacing[0] * spacing[1];
        expect(value(g, 'Area')).to.be.closeTo(area, 1e-3);
        // Mean value of the source pixels inside the outline (for CT: HU, air-like for lungs).
        const inside = insidePolygon(region.points, r.seg.columns, r.seg.rows);
        const px =
          src.BitsAllocated === 16
            ? src.PixelRepresentation === 1
              ? new Int16Array((src.PixelData as ArrayBuffer[])[0])
              : new Uint16Array((src.PixelData as ArrayBuffer[])[0])
            : new Uint8Array((src.PixelData as ArrayBuffer[])[0]);
        let sum = 0;
        let n = 0;
        let inSeg = 0;
        for (let p = 0; p < inside.length; p++)
          if (inside[p]) {
            sum += px[p] * Number(src.RescaleSlope ?? 1) + Number(src.RescaleIntercept ?? 0);
            n++;
            inSeg += frame!.bits[p];
          }
        expect(n * spacing[0] * spacing[1]).to.be.closeTo(area, 1e-6);
        report.push(
          `${g.finding}: ${steps} border steps on image ${region.sopInstanceUid!.slice(-6)}, area ${area.toFixed(0)} mm2, ${((100 * inSeg) / n).toFixed(1)} % of it in the segment, mean ${(sum / n).toFixed(1)}`,
        );
        // Lungs have few holes (vessels); a grey-matter ribbon's outer outline also encloses white
        // matter, so only the CT gets a share threshold (docs/dicom-objects.md, viewer profile).
        if (name === 'ct') {
          expect(inSeg / n, `${g.finding}: share of the outlined area that is the segment`).to.be.above(0.9);
          expect(sum / n, `${g.finding}: mean HU inside the outline`).to.be.below(-600);
        }
      });
      process.stdout.write(report.map((l) => `      ${l}\n`).join(''));
    });

    it(`${name}: OHIF shows the SR's structures with their volumes on the referenced images, and the SEG's segments as an overlay`, async () => {
      const r = results.get(name)!;
      const study = name === 'ct' ? ct[0].studyInstanceUid : mr.studyInstanceUid;
      const t0 = Date.now();
      const ohif = await OhifSession.open(browser, viewerUrl, study);
      const opened = Date.now() - t0;
      const before = await ohif.colouredFraction();

      await ohif.loadDerivedSeries('key slices');
      await ohif.measurementRows(r.viewer.length);
      // OHIF lists a row before it has computed the outline's statistics (under load, visibly
      // so): wait for the first row's area, then read the rows.
      await ohif.page
        .waitForFunction(
          () => /mm²/.test(document.querySelector('[data-cy="measurement-table-row-0"]')?.textContent ?? ''),
          undefined,
          { timeout: 30_000 },
        )
        .catch(() => undefined);
      const rows = await ohif.measurementRows(r.viewer.length);
      expect(rows).to.have.length(r.viewer.length);
      r.viewer.forEach((g) => {
        const row = rows.find((x) => x.includes(g.comment!));
        expect(row, `a measurement row "${g.comment}" in ${JSON.stringify(rows)}`).to.not.equal(undefined);
        const instance = Number(sources.get(g.imageRegion!.sopInstanceUid!)!.InstanceNumber);
        expect(row).to.match(new RegExp(`I:\\s*${instance}\\b`));
      });
      // OHIF jumped to the first measurement's image: the one the SR references.
      const firstInstance = Number(sources.get(r.viewer[0].imageRegion!.sopInstanceUid!)!.InstanceNumber);
      expect(await ohif.shownInstance()).to.equal(firstInstance);
      expect(rows[0]).to.match(/mm²/);
      const withOutline = await ohif.colouredFraction();
      await ohif.screenshot(`${name}-sr-outlines.png`);

      await ohif.loadDerivedSeries(/^\s*SEG/);
      const labels = await ohif.segmentLabels(r.seg.segments.length);
      expect(labels).to.deep.equal(r.seg.segments.map((s) => s.label));
      // Back on the key slice (a radiologist clicks the measurement), the segments are painted over the image.
      await ohif.showPanel(
        'trackedMeasurements-btn',
        '[data-cy="trackedMeasurements-panel"] [data-cy="measurement-table-row-0"]',
      );
      await ohif.page.locator('[data-cy="measurement-table-row-0"] [data-cy="data-row-title"]').click();
      await ohif.page
        .waitForFunction(
          (n) =>
            new RegExp(`I:\\s*${n}\\b`).test(
              document.querySelector('[data-cy="viewport-overlay-bottom-right"]')?.textContent ?? '',
            ),
          firstInstance,
          { timeout: 15_000 },
        )
        .catch(() => undefined);
      expect(await ohif.shownInstance()).to.equal(firstInstance);
      const withSegments = await ohif.colouredFraction();
      await ohif.screenshot(`${name}-seg-and-sr.png`);
      process.stdout.write(
        `      OHIF: study open in ${(opened / 1000).toFixed(1)} s; coloured viewport pixels: ${(100 * before).toFixed(2)} % -> outlines ${(100 * withOutline).toFixed(2)} % -> + SEG ${(100 * withSegments).toFixed(2)} %; rows: ${rows.map((x) => x.split('\n')[1] ?? x).join(' | ')}\n`,
      );
      expect(withOutline).to.be.above(before);
      expect(withSegments - withOutline, 'the SEG overlay colours a visible part of the image').to.be.above(0.03);
      expect(ohif.errors, 'errors in the page or its console').to.deep.equal([]);
      await ohif.page.close();
    });
  }
});
