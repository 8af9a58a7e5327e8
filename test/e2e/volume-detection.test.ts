/**
 * Detection on a CT volume end to end through a real Orthanc: a synthetic CT with spheres at known
 * patient positions, stored, routed, assembled into a volume, run through the volume peak detector
 * fixture in a real onnxruntime session, and written back as a TID 1500 report whose findings
 * are SCOORD3D points in the CT's frame of reference: dciodvfy 0 errors, dsrdump, and each point
 * within one voxel of a sphere's centre.
 */
import { expect } from 'chai';
import { readPart10 } from '../../src/dicom/part10';
import { readMeasurementReport } from '../../src/dicom/sr/reader';
import { checkReport, startNodeUnderTest, waitForReports, type NodeUnderTest } from '../support/node-under-test';
import { volumeDetectorModelPackage } from '../support/test-models';
import { ORIGIN, sphereCt, SIZE, SPACING, SPHERES } from '../support/sphere-ct';
import { PROBE_TRACKING_ID } from '../../src/results/image-reports';

describe('detection on a CT volume end to end: spheres at known places', function () {
  this.timeout(300_000);
  let node: NodeUnderTest;

  before(async () => {
    node = await startNodeUnderTest(
      'voldet',
      (models) => volumeDetectorModelPackage(models, 'spheres', { ...SIZE, threshold: 0.5, box: 6 }),
      'version: 1\nrules:\n  - name: ct\n    models: [spheres]\n    srProfiles: [standard, viewer]\n    series: [{ attribute: Modality, equals: CT }]\n',
    );
  });
  after(() => node?.stop());

  it('one SCOORD3D point per sphere, within a voxel of its centre, in the CT frame of reference; dciodvfy 0 errors, dsrdump', async () => {
    const ct = sphereCt();
    const t0 = Date.now();
    await node.client.store(ct.studyInstanceUid, ct.instances);
    const reports = await waitForReports(node.client, ct.studyInstanceUid, 2);
    const viewerBytes = reports.find((b) =>
      readMeasurementReport(b).groups.every((g) => g.trackingId === PROBE_TRACKING_ID),
    )!;
    const bytes = reports.find((b) => b !== viewerBytes)!;
    const visibleMs = Date.now() - t0;
    const stored = await node.node.waitForLog(/"modelId":"spheres".*results stored/, 10_000);
    console.log(
      `      CT ${SIZE.slices} slices: stored -> report visible ${visibleMs} ms; worker peak RSS ${JSON.stringify(JSON.parse(stored).peakRssMb)}`,
    );
    const dump = checkReport(bytes, node.dir, 'volume-detection');
    expect(dump).to.match(/<contains SCOORD3D:\(,,"Image Region"\)=\(POINT,/);
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
    checkReport(viewerBytes, node.dir, 'volume-detection-viewer');
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
