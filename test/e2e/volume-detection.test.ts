/**
 * Detection on a CT volume end to end through a real Orthanc: a synthetic CT with spheres at known
 * patient positions, stored, routed, assembled into a volume, run through the volume peak detector
 * fixture in a real onnxruntime session, and written back as a TID 1500 report whose findings
 * are SCOORD3D points in the CT's frame of reference: dciodvfy 0 errors, dsrdump, and each point
 * within one voxel of a sphere's centre.
 */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { DicomwebClient } from '../../src/dicomweb/client';
import { jsonString, Tag } from '../../src/dicom/json';
import { readPart10 } from '../../src/dicom/part10';
import { readMeasurementReport } from '../../src/dicom/sr/reader';
import { startOrthanc, type OrthancProcess } from '../../scripts/support/orthanc';
import { spawnAinode, type AinodeProcess } from '../support/ainode-process';
import { volumeDetectorModelPackage } from '../support/test-models';
import { ORIGIN, sphereCt, SIZE, SPACING, SPHERES } from '../support/sphere-ct';
import { PROBE_TRACKING_ID } from '../../src/results/image-reports';
import { waitUntil } from '../support/results';
import { REDIS_URL, tempDir, uniquePrefix } from '../support/env';

describe('detection on a CT volume end to end: spheres at known places', function () {
  this.timeout(300_000);
  let orthanc: OrthancProcess;
  let node: AinodeProcess;
  let client: DicomwebClient;
  let dir: string;

  before(async () => {
    dir = tempDir('voldet');
    const models = path.join(dir, 'models');
    volumeDetectorModelPackage(models, 'spheres', { ...SIZE, threshold: 0.5, box: 6 });
    const rulesFile = path.join(dir, 'rules.yaml');
    fs.writeFileSync(
      rulesFile,
      'version: 1\nrules:\n  - name: ct\n    models: [spheres]\n    srProfiles: [standard, viewer]\n    series: [{ attribute: Modality, equals: CT }]\n',
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
      AINODE_REDIS_PREFIX: uniquePrefix('voldet'),
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

  it('one SCOORD3D point per sphere, within a voxel of its centre, in the CT frame of reference; dciodvfy 0 errors, dsrdump', async () => {
    const ct = sphereCt();
    const t0 = Date.now();
    await client.store(ct.studyInstanceUid, ct.instances);
    let srs: string[] = [];
    await waitUntil('both reports on the CT', 180_000, async () => {
      const series = await client.search(`/studies/${ct.studyInstanceUid}/series`);
      srs = series
        .filter((s) => jsonString(s, Tag.Modality) === 'SR')
        .map((s) => jsonString(s, Tag.SeriesInstanceUID)!);
      return srs.length === 2;
    });
    const reports = await Promise.all(
      srs.map(async (uid) => (await client.retrieveSeries(ct.studyInstanceUid, uid))[0]),
    );
    const viewerBytes = reports.find((b) =>
      readMeasurementReport(b).groups.every((g) => g.trackingId === PROBE_TRACKING_ID),
    )!;
    const srSeries = srs[reports.findIndex((b) => b !== viewerBytes)];
    const visibleMs = Date.now() - t0;
    const stored = await node.waitForLog(/"modelId":"spheres".*results stored/, 10_000);
    console.log(
      `      CT ${SIZE.slices} slices: stored -> report visible ${visibleMs} ms; worker peak RSS ${JSON.stringify(JSON.parse(stored).peakRssMb)}`,
    );
    const [bytes] = await client.retrieveSeries(ct.studyInstanceUid, srSeries!);
    const out = path.join(dir, 'volume-detection.dcm');
    fs.writeFileSync(out, bytes);
    const v = spawnSync('dciodvfy', [out], { encoding: 'utf8' });
    const text = `${v.stdout}${v.stderr}`;
    expect(text).to.match(/^Comprehensive3DSR$/m);
    expect(
      text.split('\n').filter((l) => l.startsWith('Error')),
      text,
    ).to.deep.equal([]);
    const dump = spawnSync('dsrdump', [out], { encoding: 'utf8' });
    expect(dump.status, dump.stderr).to.equal(0);
    expect(dump.stdout).to.match(/<contains SCOORD3D:\(,,"Image Region"\)=\(POINT,/);
    const frameOfReference = String(readPart10(ct.instances[0].part10).dataset.FrameOfReferenceUID);
    const report = readMeasurementReport(bytes);
    const points = report.groups.filter((g) => g.volumeRegion);
    expect(points).to.have.length(SPHERES.length);
    const voxel = Math.hypot(...SPACING);
    for (const s of SPHERES) {
      const g = points.find((p) => Math.hypot(...p.volumeRegion!.points.map((c, a) => c - s.centre[a])) <= voxel);
      expect(g, `a finding at the sphere at ${s.centre.join(', ')} mm`).to.not.equal(undefined);
      expect(g!.volumeRegion!.frameOfReferenceUid).to.equal(frameOfReference);
      expect(g!.finding).to.equal('Nodule');
      const volume = g!.measurements.find((m) => m.concept === 'Volume')!;
      expect(volume.unit).to.equal('cm3');
      expect(volume.value).to.be.closeTo((6 * SPACING[0] * 6 * SPACING[1] * 6 * SPACING[2]) / 1000, 0.01);
      expect(g!.comment).to.match(
        /^Nodule \d+% at \(-?\d+\.\d, -?\d+\.\d, -?\d+\.\d\) mm; box 12\.0 x 12\.0 x 15\.0 mm$/,
      );
    }
    // The viewer profile: each finding a point (OHIF's Probe) on the slice nearest its centre.
    expect(viewerBytes, 'a viewer-profile report').to.not.equal(undefined);
    const vf = path.join(dir, 'volume-detection-viewer.dcm');
    fs.writeFileSync(vf, viewerBytes);
    const vv = spawnSync('dciodvfy', [vf], { encoding: 'utf8' });
    expect(`${vv.stdout}${vv.stderr}`.split('\n').filter((l) => l.startsWith('Error'))).to.deep.equal([]);
    const probes = readMeasurementReport(viewerBytes).groups;
    expect(probes).to.have.length(SPHERES.length);
    const zOf = new Map(
      ct.instances.map((i) => {
        const d = readPart10(i.part10).dataset;
        return [String(d.SOPInstanceUID), Number((d.ImagePositionPatient as string[])[2])];
      }),
    );
    for (const s of SPHERES) {
      const p = probes.find(
        (g) => Math.abs(zOf.get(g.imageRegion!.sopInstanceUid!)! - s.centre[2]) <= SPACING[2] / 2 + 1e-6,
      );
      expect(p, `a point on the slice through ${s.centre[2]} mm`).to.not.equal(undefined);
      expect(p!.imageRegion!.graphicType).to.equal('POINT');
      const [col, row] = p!.imageRegion!.points;
      expect(col).to.be.closeTo((s.centre[0] - ORIGIN[0]) / SPACING[0] + 0.5, 1.01);
      expect(row).to.be.closeTo((s.centre[1] - ORIGIN[1]) / SPACING[1] + 0.5, 1.01);
      expect(p!.comment).to.match(/^Nodule \d+\.\d%$/);
    }
  });
});
