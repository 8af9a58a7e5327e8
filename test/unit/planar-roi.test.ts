/**
 * Key-slice outlines (viewer SR profile): the traced outline lies on pixel borders, encloses
 * exactly the outlined piece (holes filled), and the SR carrying it passes dciodvfy.
 */
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { keySlice, planarRoi, polygonAreaPixels, traceOuterBoundary } from '../../src/results/planar-roi';
import { buildMeasurementReport, type MeasurementReportInit } from '../../src/dicom/sr/measurement-report';
import { Codes } from '../../src/dicom/codes';
import { AinodeError } from '../../src/errors';
import type { VolumeGeometry } from '../../src/contracts/volume';
import { writePart10 } from '../../src/dicom/part10';
import { tempDir } from '../support/env';

/** Pixel centres inside a closed polygon (even-odd rule). */
function rasterise(points: number[], w: number, h: number): Uint8Array {
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const px = x + 0.5,
        py = y + 0.5;
      let inside = false;
      for (let i = 0; i + 3 < points.length; i += 2) {
        const [x1, y1, x2, y2] = [points[i], points[i + 1], points[i + 2], points[i + 3]];
        if (y1 > py !== y2 > py && px < ((x2 - x1) * (py - y1)) / (y2 - y1) + x1) inside = !inside;
      }
      out[y * w + x] = inside ? 1 : 0;
    }
  return out;
}

function fromRows(rows: string[]): { mask: Uint8Array; w: number; h: number } {
  const h = rows.length,
    w = rows[0].length;
  const mask = new Uint8Array(w * h);
  rows.forEach((r, y) => [...r].forEach((c, x) => (mask[y * w + x] = c === '#' ? 1 : 0)));
  return { mask, w, h };
}

describe('viewer profile: key-slice outline of a segment', () => {
  it('a rectangle: 4 corners on pixel borders, closed, area = pixel count', () => {
    const { mask, w, h } = fromRows(['......', '.###..', '.###..', '......']);
    const pts = traceOuterBoundary(mask, w, h);
    expect(pts).to.deep.equal([1, 1, 4, 1, 4, 3, 1, 3, 1, 1]);
    expect(polygonAreaPixels(pts)).to.equal(6);
  });

  it('an L shape with a hole and a diagonal-only neighbour: outlines the 4-connected piece, hole filled', () => {
    const { mask, w, h } = fromRows(['#####....', '#...#....', '#####....', '#.....#..', '#......#.', '######...']);
    // The largest 4-connected piece is everything but the two diagonal pixels at right.
    const pts = traceOuterBoundary(mask, w, h);
    const inside = rasterise(pts, w, h);
    const expected = fromRows(['#####....', '#####....', '#####....', '#........', '#........', '######...']).mask;
    expect([...inside]).to.deep.equal([...expected]);
    expect(polygonAreaPixels(pts)).to.equal(expected.reduce((a, b) => a + b, 0));
  });

  it('random blobs: the outline encloses exactly the filled largest piece, and every edge has the piece on its right', () => {
    let seed = 7;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let trial = 0; trial < 20; trial++) {
      const w = 40,
        h = 30;
      const g: VolumeGeometry = {
        columns: w,
        rows: h,
        slices: 1,
        spacing: [0.7, 0.9, 2],
        origin: [0, 0, 0],
        rowDirection: [1, 0, 0],
        columnDirection: [0, 1, 0],
        sliceDirection: [0, 0, 1],
        frameOfReferenceUid: '1.2.3',
      };
      const labels = new Uint8Array(w * h);
      for (let b = 0; b < 4; b++) {
        const cx = rnd() * w,
          cy = rnd() * h,
          r = 2 + rnd() * 8;
        for (let y = 0; y < h; y++)
          for (let x = 0; x < w; x++)
            if ((x - cx) ** 2 + ((y - cy) * 1.3) ** 2 < r * r * (0.7 + 0.6 * rnd())) labels[y * w + x] = 3;
      }
      const roi = planarRoi(g, labels, 3);
      if (!roi) continue;
      const pts = roi.points;
      expect(pts.every(Number.isInteger)).to.equal(true);
      expect(pts.slice(0, 2)).to.deep.equal(pts.slice(-2));
      // Walk every unit step of the outline: the pixel on its right is the segment, the one on its left is not.
      const at = (x: number, y: number): number => (x >= 0 && y >= 0 && x < w && y < h ? labels[y * w + x] : 0);
      for (let i = 0; i + 3 < pts.length; i += 2) {
        const dx = Math.sign(pts[i + 2] - pts[i]),
          dy = Math.sign(pts[i + 3] - pts[i + 1]);
        expect(Math.abs(dx) + Math.abs(dy)).to.equal(1);
        for (let x = pts[i], y = pts[i + 1]; x !== pts[i + 2] || y !== pts[i + 3]; x += dx, y += dy) {
          const right = dx === 1 ? [x, y] : dx === -1 ? [x - 1, y - 1] : dy === 1 ? [x - 1, y] : [x, y - 1];
          const left = dx === 1 ? [x, y - 1] : dx === -1 ? [x - 1, y] : dy === 1 ? [x, y] : [x - 1, y - 1];
          expect(at(right[0], right[1]), `trial ${trial} step at ${x},${y}`).to.equal(3);
          expect(at(left[0], left[1]), `trial ${trial} step at ${x},${y}`).to.equal(0);
        }
      }
      const inside = rasterise(pts, w, h);
      const n = inside.reduce((a, b) => a + b, 0);
      expect(n).to.equal(roi.outlinedPixels);
      expect(roi.areaMm2).to.be.closeTo(n * 0.7 * 0.9, 1e-9);
      for (let p = 0; p < w * h; p++)
        if (labels[p] === 3 && !inside[p]) expect(roi.slicePixels).to.be.greaterThan(roi.outlinedPixels - 1);
    }
  });

  it('the key slice is the one with the most pixels of the label; an absent label has none', () => {
    const g: VolumeGeometry = {
      columns: 4,
      rows: 4,
      slices: 3,
      spacing: [1, 1, 1],
      origin: [0, 0, 0],
      rowDirection: [1, 0, 0],
      columnDirection: [0, 1, 0],
      sliceDirection: [0, 0, 1],
      frameOfReferenceUid: '1.2.3',
    };
    const labels = new Uint8Array(48);
    labels[16] = labels[17] = labels[18] = 1;
    labels[0] = labels[40] = 1;
    expect(keySlice(g, labels, 1)).to.deep.equal({ slice: 1, pixels: 3 });
    expect(planarRoi(g, labels, 2)).to.equal(undefined);
  });
});

describe('viewer profile: planar measurement group in the TID 1500 report', () => {
  const uid = (n: number): string => `1.2.826.0.1.3680043.10.1443.77.${n}`;
  const base = (outline: number[], imageUid = uid(10)): MeasurementReportInit => ({
    patientStudy: { StudyInstanceUID: uid(1), PatientName: 'Test^Phantom', PatientID: 'PHANTOM-1' },
    seriesInstanceUid: uid(2),
    sopInstanceUid: uid(3),
    seriesNumber: 9003,
    seriesDescription: 'AI test key slices',
    procedureReported: Codes.ctChest,
    observer: { uid: uid(4), name: 'ainode test' },
    sourceSeries: {
      seriesInstanceUid: uid(5),
      instances: [{ sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: uid(10) }],
    },
    segmentGroups: [],
    plainGroups: [],
    planarGroups: [
      {
        trackingId: 'Cornerstone3DTools@^0.1.0:PlanarFreehandROI',
        trackingUid: uid(6),
        finding: Codes.rightLung,
        findingSite: Codes.lung,
        outline,
        image: { sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: imageUid },
        areaMm2: 6,
        measurements: [{ concept: Codes.volume, value: 12.5, unit: Codes.cubicCentimeter }],
        label: 'Right lung: 12.5 mL',
      },
    ],
  });

  it('passes dciodvfy with zero errors; dsrdump shows the outline inferred from the image and the label', () => {
    const sr = buildMeasurementReport(base([1, 1, 4, 1, 4, 3, 1, 3, 1, 1]));
    const dir = tempDir('planar-sr');
    const file = path.join(dir, 'sr.dcm');
    fs.writeFileSync(file, sr.part10);
    const v = spawnSync('dciodvfy', [file], { encoding: 'utf8' });
    const out = `${v.stdout}${v.stderr}`;
    expect(out).to.match(/^Comprehensive3DSR/m);
    expect(
      out.split('\n').filter((l) => /^Error/.test(l)),
      out,
    ).to.deep.equal([]);
    const dump = execFileSync('dsrdump', ['+Pl', '+Pc', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(dump).to.include('"Tracking Identifier")="Cornerstone3DTools@^0.1.0:PlanarFreehandROI"');
    expect(dump).to.match(/NUM:\(42798000,SCT,"Area"\)="6" \(mm2,UCUM,"square millimeter"\)/);
    expect(dump).to.match(
      /<inferred from SCOORD:\(,,""\)=\(POLYLINE,1\/1,4\/1,4\/3,1\/3,1\/1\)>|<inferred from SCOORD:=\(POLYLINE,1\/1,4\/1,4\/3,1\/3,1\/1\)>/,
    );
    expect(dump).to.include('<selected from IMAGE:');
    expect(dump).to.include('"Comment")="Right lung: 12.5 mL"');
  });

  it('evidence and content tree, written directly, are the bytes dcmjs writes for the same dataset (segment, plain and planar groups, 300 source images)', () => {
    const init = base([1, 1, 4, 1, 4, 3, 1, 3, 1, 1]);
    const instances = Array.from({ length: 300 }, (_, i) => ({
      sopClassUid: '1.2.840.10008.5.1.4.1.1.2',
      sopInstanceUid: uid(1000 + i),
    }));
    const full: MeasurementReportInit = {
      ...init,
      sourceSeries: {
        seriesInstanceUid: uid(5),
        instances: [{ sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: uid(10) }, ...instances],
      },
      segmentation: {
        seriesInstanceUid: uid(7),
        instance: { sopClassUid: '1.2.840.10008.5.1.4.1.1.66.4', sopInstanceUid: uid(8) },
      },
      segmentGroups: [
        {
          trackingId: 'Right lung',
          trackingUid: uid(20),
          finding: Codes.rightLung,
          findingSite: Codes.lung,
          segmentNumber: 1,
          measurements: [
            { concept: Codes.volume, value: 3207.123456, unit: Codes.cubicCentimeter },
            {
              concept: Codes.attenuationCoefficient,
              value: -832.9,
              unit: Codes.hounsfieldUnit,
              derivation: Codes.mean,
            },
          ],
        },
      ],
      plainGroups: [
        {
          trackingId: 'Both lungs',
          trackingUid: uid(21),
          finding: Codes.lung,
          measurements: [{ concept: Codes.volume, value: 5500.7, unit: Codes.cubicCentimeter }],
          evaluations: [{ concept: Codes.lung, value: Codes.present }],
        },
      ],
      algorithm: { name: 'ainode test', version: '1.0.0', family: Codes.artificialIntelligence },
      createdAt: new Date('2026-11-29T12:00:00Z'),
    };
    const sr = buildMeasurementReport(full);
    const viaDcmjs = writePart10(sr.dataset);
    expect(sr.part10.length).to.equal(viaDcmjs.length);
    expect(sr.part10.equals(viaDcmjs)).to.equal(true);
    // The planar-only report of the test above, too.
    const planar = buildMeasurementReport(init);
    expect(planar.part10.equals(writePart10(planar.dataset))).to.equal(true);
  });

  it('refuses an open outline and an image outside the source series -> SR_INVALID', () => {
    expect(() => buildMeasurementReport(base([1, 1, 4, 1, 4, 3, 1, 3]))).to.throw(AinodeError, /closed polyline/);
    expect(() => buildMeasurementReport(base([1, 1, 4, 1, 4, 3, 1, 3, 1, 1], uid(99)))).to.throw(
      AinodeError,
      /not in the source series/,
    );
  });
});
