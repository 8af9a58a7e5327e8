/**
 * Issue 3 regression tests, one per class of bad input: each is refused with a coded error that
 * says what was wrong, never processed. Real files from the shared corpus and from the demo CT,
 * altered where a class needs it.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { readPart10, writePart10, type NaturalDataset } from '../../src/dicom/part10';
import { assembleVolume } from '../../src/volume/assemble';
import { readDicomFolder } from '../../scripts/support/dicom-files';
import { CHEST_CT_DIR, SHARED_DATA } from '../support/env';

const DEB = path.join(SHARED_DATA, 'reference', 'pydicom-debian', 'test_files');
const ct = readDicomFolder(CHEST_CT_DIR)
  .slice(20, 32)
  .map((f) => f.part10);

async function refusal(instances: Buffer[]): Promise<{ code: string; message: string }> {
  try {
    await assembleVolume('1.2.3', instances);
  } catch (e) {
    return { code: (e as { code: string }).code, message: (e as Error).message };
  }
  throw new Error('the input was accepted');
}

function altered(bytes: Buffer, change: (ds: NaturalDataset) => void): Buffer {
  const { dataset } = readPart10(bytes);
  change(dataset);
  return writePart10(dataset, { PixelData: 'OW' });
}

describe('bad input is refused with a coded error', () => {
  it('the unaltered 12 slices make a volume (control)', async () => {
    const { volume } = await assembleVolume('1.2.3', ct);
    expect(volume.geometry.slices).to.equal(12);
  });

  it('a truncated file -> DICOM_PARSE_FAILED or PIXEL_DATA_UNSUPPORTED, saying what broke', async () => {
    const r = await refusal([fs.readFileSync(path.join(DEB, 'MR_truncated.dcm'))]);
    expect(r.code).to.be.oneOf(['DICOM_PARSE_FAILED', 'PIXEL_DATA_UNSUPPORTED']);
    expect(r.message).to.match(/not a readable DICOM|PixelData holds \d+ bytes|runs past the end of the object/);
  });

  it('a truncated copy of a real CT slice -> DICOM_PARSE_FAILED', async () => {
    const r = await refusal([ct[0].subarray(0, Math.floor(ct[0].length * 0.6))]);
    expect(r.code).to.be.oneOf(['DICOM_PARSE_FAILED', 'PIXEL_DATA_UNSUPPORTED']);
  });

  it('a bad VR (pydicom badVR.dcm: IS "1A") -> DICOM_PARSE_FAILED naming the attribute', async () => {
    const r = await refusal([fs.readFileSync(path.join(DEB, 'badVR.dcm'))]);
    expect(r.code).to.equal('DICOM_PARSE_FAILED');
    expect(r.message).to.equal('NumberOfFrames holds a value that is invalid for its VR');
  });

  it('missing geometry (no ImagePositionPatient) -> DICOM_ATTRIBUTE_MISSING naming the attribute', async () => {
    const r = await refusal([...ct.slice(0, 5), altered(ct[5], (d) => delete d.ImagePositionPatient), ...ct.slice(6)]);
    expect(r.code).to.equal('DICOM_ATTRIBUTE_MISSING');
    expect(r.message).to.match(/ImagePositionPatient/);
  });

  it('mixed sizes in one stack -> SERIES_GEOMETRY_INCONSISTENT', async () => {
    const half = altered(ct[6], (d) => {
      const src = new Int16Array((d.PixelData as ArrayBuffer[])[0]);
      const out = new Int16Array(256 * 256);
      for (let j = 0; j < 256; j++) for (let i = 0; i < 256; i++) out[j * 256 + i] = src[2 * j * 512 + 2 * i];
      d.Rows = 256;
      d.Columns = 256;
      d.PixelSpacing = (d.PixelSpacing as number[]).map((v) => v * 2);
      d.PixelData = [out.buffer];
    });
    const r = await refusal([...ct.slice(0, 6), half, ...ct.slice(7)]);
    expect(r.code).to.equal('SERIES_GEOMETRY_INCONSISTENT');
    expect(r.message).to.match(/mixed sizes/);
  });

  it('gantry tilt (positions sheared along y) -> SERIES_GEOMETRY_INCONSISTENT', async () => {
    const tilted = ct.map((b, k) =>
      altered(b, (d) => {
        const ipp = (d.ImagePositionPatient as number[]).map(Number);
        d.ImagePositionPatient = [ipp[0], ipp[1] + k * 5 * Math.tan((15 * Math.PI) / 180), ipp[2]].map((v) =>
          Number(v.toFixed(4)),
        );
      }),
    );
    const r = await refusal(tilted);
    expect(r.code).to.equal('SERIES_GEOMETRY_INCONSISTENT');
    expect(r.message).to.match(/gantry tilt/);
  });

  it('a single stray frame in another orientation -> SERIES_GEOMETRY_INCONSISTENT (mixed orientations)', async () => {
    const coronal = altered(ct[3], (d) => (d.ImageOrientationPatient = [1, 0, 0, 0, 0, -1]));
    const r = await refusal([...ct.slice(0, 3), coronal, ...ct.slice(4)]);
    expect(r.code).to.equal('SERIES_GEOMETRY_INCONSISTENT');
    expect(r.message).to.match(/mixed orientations/);
  });

  it('a localizer mixed into the series is separated, not mixed in', async () => {
    const scout = altered(ct[0], (d) => {
      d.ImageType = ['ORIGINAL', 'PRIMARY', 'LOCALIZER'];
      d.ImageOrientationPatient = [0, 1, 0, 0, 0, -1];
      d.SOPInstanceUID = '1.2.3.4.5.6.7';
    });
    const { volume, separated } = await assembleVolume('1.2.3', [scout, ...ct]);
    expect(volume.geometry.slices).to.equal(12);
    expect(separated.localizers).to.equal(1);
  });

  it('a header claiming an enormous image (memory bomb) is refused before allocating', async () => {
    const bomb = altered(ct[0], (d) => {
      d.Rows = 65535;
      d.Columns = 65535;
      d.NumberOfFrames = 1000;
    });
    const before = process.memoryUsage().rss;
    const r = await refusal([bomb]);
    expect(r.code).to.equal('DICOM_INPUT_TOO_LARGE');
    expect(r.message).to.match(/a frame of 65535 x 65535 pixels is more than the limit/);
    expect(process.memoryUsage().rss - before).to.be.below(512 * 1024 * 1024);
  });

  it('an unsupported transfer syntax -> PIXEL_DATA_UNSUPPORTED', async () => {
    const { dataset } = readPart10(ct[0]);
    const bytes = writePart10(dataset, { PixelData: 'OW' });
    // Patch the transfer syntax in the file meta to JPEG XL (1.2.840.10008.1.2.4.110), keeping the length.
    const s = bytes.toString('latin1').replace('1.2.840.10008.1.2.1\0', '1.2.840.10008.1.2.4.110'.slice(0, 20));
    const r = await refusal([Buffer.from(s, 'latin1')]);
    expect(r.code).to.be.oneOf(['PIXEL_DATA_UNSUPPORTED', 'DICOM_PARSE_FAILED']);
  });
});
