/**
 * 2D images as model inputs (src/image/): the real NEMA WG-04 radiographs, mammogram,
 * angiography frame and photograph decoded and windowed, MONOCHROME1 inverted, colour in every
 * photometric interpretation to the same RGB, pixel spacing with its basis (and none where the
 * header's is invalid), and resizing whose transform maps back exactly.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { readPart10, TransferSyntax, type NaturalDataset } from '../../src/dicom/part10';
import { decodeFrame, initCodecs, pixelFormat, storedValues } from '../../src/dicom/pixel-data';
import { readPlanarImage, windowValue, type PlanarImage, type VoiChoice } from '../../src/image/planar-image';
import { pixelSpacingOf } from '../../src/image/spacing';
import { fitTransform, resample, toModel, toSource } from '../../src/image/fit';
import { SHARED_DATA } from '../support/env';

const WG04 = path.join(SHARED_DATA, 'xr', 'nema-wg04');
const PYD = path.join(SHARED_DATA, 'reference', 'pydicom-data');
const DEB = path.join(SHARED_DATA, 'reference', 'pydicom-debian', 'test_files');
const LIMIT = 8192 * 8192;

function open(file: string): { ds: NaturalDataset; ts: string } {
  const { dataset, transferSyntaxUid } = readPart10(fs.readFileSync(file));
  return { ds: dataset, ts: transferSyntaxUid };
}

function planar(file: string, voi: VoiChoice = 'header'): PlanarImage {
  const { ds, ts } = open(file);
  return readPlanarImage(ds, ts, 0, { voi, maxFramePixels: LIMIT });
}

describe('2D images: the NEMA WG-04 radiographs, mammogram and photograph', () => {
  before(() => initCodecs());

  it('each decodes at its declared size; grey images windowed to 0..1 by their own window', () => {
    const expected: [string, number, number, 1 | 3][] = [
      ['RG1_J2KI.dcm', 1955, 1841, 1],
      ['RG2_J2KI.dcm', 2140, 1760, 1],
      ['RG3_J2KI.dcm', 1760, 1760, 1],
      ['MG1_J2KI.dcm', 4664, 3064, 1],
      ['XA1_J2KI.dcm', 1024, 1024, 1],
      ['VL1_J2KI.dcm', 486, 756, 3],
    ];
    for (const [file, rows, columns, channels] of expected) {
      const img = planar(path.join(WG04, file));
      expect([img.rows, img.columns, img.channels], file).to.deep.equal([rows, columns, channels]);
      expect(img.pixels.length, file).to.equal(rows * columns * channels);
      let mn = Infinity;
      let mx = -Infinity;
      for (const v of img.pixels) {
        if (v < mn) mn = v;
        if (v > mx) mx = v;
      }
      expect(mn, file).to.be.at.least(0);
      expect(mx, file).to.be.at.most(1);
      expect(mx - mn, `${file}: not a flat image`).to.be.greaterThan(0.2);
      if (channels === 1) expect(img.voiApplied, file).to.match(/header/);
    }
  });

  it('MONOCHROME1 (the CR chest): every pixel is 1 minus the header window of its stored value', () => {
    const file = path.join(WG04, 'RG1_J2KI.dcm');
    const { ds, ts } = open(file);
    const f = pixelFormat(ds);
    const stored = storedValues(decodeFrame(ds, ts, f, 0), f);
    const img = planar(file);
    expect(img.voiApplied).to.equal('window 15000/30000 (header), MONOCHROME1 inverted');
    // PS3.3 C.11.2.1.2, written out here: centre 15000, width 30000, no rescale in this header.
    const c = 15000 - 0.5;
    const w = 30000 - 1;
    let worst = 0;
    for (let i = 0; i < stored.length; i += 997) {
      const x = stored[i];
      const y = x <= c - w / 2 ? 0 : x > c + w / 2 ? 1 : (x - c) / w + 0.5;
      worst = Math.max(worst, Math.abs(img.pixels[i] - (1 - y)));
    }
    expect(worst).to.be.below(1e-6);
    // The densest stored value (high in MONOCHROME1: dark on film) is the darkest input.
    let hi = 0;
    let lo = 0;
    for (let i = 0; i < stored.length; i++) {
      if (stored[i] > stored[hi]) hi = i;
      if (stored[i] < stored[lo]) lo = i;
    }
    expect(img.pixels[hi]).to.be.below(img.pixels[lo]);
  });

  it('the VOI choices: a manifest window, the frame min-max, and the modality values untouched', () => {
    const file = path.join(WG04, 'RG2_J2KI.dcm');
    const { ds, ts } = open(file);
    const f = pixelFormat(ds);
    const stored = storedValues(decodeFrame(ds, ts, f, 0), f);
    const none = planar(file, 'none');
    expect(none.voiApplied).to.equal('none');
    for (let i = 0; i < stored.length; i += 1009) expect(none.pixels[i]).to.equal(stored[i]);
    const minmax = planar(file, 'minmax');
    expect(minmax.voiApplied).to.equal('minmax 0..937');
    for (let i = 0; i < stored.length; i += 1009) expect(minmax.pixels[i]).to.be.closeTo(stored[i] / 937, 1e-6);
    const manifest = planar(file, { center: 300, width: 201 });
    expect(manifest.voiApplied).to.equal('window 300/201 (manifest)');
    for (let i = 0; i < stored.length; i += 1009) {
      const x = stored[i];
      const expected = x <= 199.5 ? 0 : x > 399.5 ? 1 : (x - 299.5) / 200 + 0.5;
      expect(manifest.pixels[i]).to.be.closeTo(expected, 1e-6);
    }
  });

  it('the colour photograph (YBR_ICT): its JPEG 2000 codestream applies the inverse colour transform, so it is RGB as decoded', () => {
    const { ds, ts } = open(path.join(WG04, 'VL1_J2KI.dcm'));
    const f = pixelFormat(ds);
    const pd = ds.PixelData as ArrayBuffer[];
    const code = Buffer.concat(pd.map((b) => new Uint8Array(b)));
    // COD marker (FF52): Lcod(2) Scod(1) progression(1) layers(2) then the multiple component transform flag.
    let cod = -1;
    for (let i = 0; i + 1 < code.length; i++)
      if (code[i] === 0xff && code[i + 1] === 0x52) {
        cod = i;
        break;
      }
    expect(cod).to.be.greaterThan(0);
    expect(code[cod + 2 + 2 + 1 + 1 + 2], 'MCT flag').to.equal(1);
    const bytes = decodeFrame(ds, ts, f, 0);
    const img = readPlanarImage(ds, ts, 0, { voi: 'header', maxFramePixels: LIMIT });
    const n = f.rows * f.columns;
    for (let i = 0; i < n; i += 101)
      for (let c = 0; c < 3; c++) expect(img.pixels[c * n + i]).to.be.closeTo(bytes[3 * i + c] / 255, 1e-6);
  });

  it('pixel spacing: invalid 0\\0 and absent give none (pixels only), with the reason; a CR Pixel Spacing is not said to be in the patient', () => {
    expect(pixelSpacingOf(open(path.join(WG04, 'RG1_J2KI.dcm')).ds)).to.deep.equal({
      spacing: undefined,
      note: 'PixelSpacing is 0\\0, not two positive numbers: ignored',
    });
    expect(pixelSpacingOf(open(path.join(WG04, 'RG3_J2KI.dcm')).ds)).to.deep.equal({
      spacing: undefined,
      note: 'no PixelSpacing or ImagerPixelSpacing',
    });
    expect(pixelSpacingOf(open(path.join(WG04, 'RG2_J2KI.dcm')).ds)).to.deep.equal({
      spacing: { rowMm: 0.2, columnMm: 0.2, basis: 'unstated-plane', source: 'PixelSpacing' },
    });
    const planarRg1 = planar(path.join(WG04, 'RG1_J2KI.dcm'));
    expect(planarRg1.spacing).to.equal(undefined);
    expect(planarRg1.spacingNote).to.match(/0\\0/);
  });

  it('pixel spacing: detector, magnification-corrected, calibrated and cross-sectional', () => {
    const dx = { SOPClassUID: '1.2.840.10008.5.1.4.1.1.1.1', Modality: 'DX', ImagerPixelSpacing: [0.15, 0.15] };
    expect(pixelSpacingOf(dx).spacing).to.deep.equal({
      rowMm: 0.15,
      columnMm: 0.15,
      basis: 'detector',
      source: 'ImagerPixelSpacing',
    });
    expect(pixelSpacingOf({ ...dx, EstimatedRadiographicMagnificationFactor: 1.2 }).spacing).to.deep.include({
      rowMm: 0.15 / 1.2,
      basis: 'magnification-corrected',
    });
    expect(pixelSpacingOf({ ...dx, PixelSpacing: [0.15, 0.15] }).spacing?.basis).to.equal('detector');
    expect(
      pixelSpacingOf({ ...dx, PixelSpacing: [0.125, 0.125], PixelSpacingCalibrationType: 'GEOMETRY' }).spacing,
    ).to.deep.equal({ rowMm: 0.125, columnMm: 0.125, basis: 'calibrated', source: 'PixelSpacing (GEOMETRY)' });
    expect(pixelSpacingOf({ Modality: 'CT', PixelSpacing: [0.7, 0.6] }).spacing).to.deep.equal({
      rowMm: 0.7,
      columnMm: 0.6,
      basis: 'patient',
      source: 'PixelSpacing',
    });
    expect(pixelSpacingOf({ Modality: 'CT', PixelSpacing: [0.7] }).note).to.match(/1 value\(s\), not 2/);
  });
});

describe('2D images: colour in every photometric interpretation gives the same RGB', () => {
  before(() => initCodecs());
  const reference = (): PlanarImage => planar(path.join(PYD, 'SC_rgb.dcm'));
  // [file, photometric, largest difference in 0..1]. The YBR files were made from the RGB one
  // with 8-bit rounding: saturated blue (0, 0, 255) comes back as (0, 2, 249) whoever converts it
  // (dcmtk's own JPEG files give the same). dcmtk's 4:2:0 JPEG variants (+np, +n1) are left out:
  // their vertically halved chroma bleeds across this image's horizontal colour bands.
  const cases: [string, string, number][] = [
    [path.join(DEB, 'SC_rgb_rle.dcm'), 'RGB', 0],
    [path.join(PYD, 'SC_rgb_gdcm2k_uncompressed.dcm'), 'RGB', 0],
    [path.join(DEB, 'SC_rgb_dcmtk_+eb+cr.dcm'), 'RGB', 2 / 255],
    [path.join(PYD, 'SC_ybr_full_uncompressed.dcm'), 'YBR_FULL', 6 / 255],
    [path.join(DEB, 'SC_ybr_full_422_uncompressed.dcm'), 'YBR_FULL_422', 6 / 255],
    [path.join(DEB, 'SC_rgb_jpeg_dcmtk.dcm'), 'YBR_FULL', 6 / 255],
    [path.join(DEB, 'SC_rgb_dcmtk_+eb+cy+s2.dcm'), 'YBR_FULL_422', 6 / 255],
  ];
  for (const [file, photometric, tolerance] of cases)
    it(`${path.basename(file)} (${photometric})`, () => {
      const ref = reference();
      const img = planar(file);
      expect(img.photometric).to.equal(photometric);
      expect([img.rows, img.columns, img.channels]).to.deep.equal([ref.rows, ref.columns, 3]);
      let worst = 0;
      let sum = 0;
      for (let i = 0; i < ref.pixels.length; i++) {
        const d = Math.abs(img.pixels[i] - ref.pixels[i]);
        worst = Math.max(worst, d);
        sum += d;
      }
      expect(worst, 'largest difference').to.be.at.most(tolerance + 1e-6);
      expect(sum / ref.pixels.length, 'mean difference').to.be.below(2 / 255);
    });

  it('planar configuration 1 (colour by plane) reads as the interleaved original', () => {
    const { ds } = open(path.join(PYD, 'SC_rgb.dcm'));
    const f = pixelFormat(ds);
    const src = new Uint8Array(ds.PixelData instanceof ArrayBuffer ? ds.PixelData : (ds.PixelData as ArrayBuffer[])[0]);
    const n = f.rows * f.columns;
    const planes = new Uint8Array(3 * n);
    for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) planes[c * n + i] = src[3 * i + c];
    const byPlane = { ...ds, PlanarConfiguration: 1, PixelData: planes.buffer };
    const img = readPlanarImage(byPlane, TransferSyntax.ExplicitVRLittleEndian, 0, {
      voi: 'header',
      maxFramePixels: LIMIT,
    });
    expect(Array.from(img.pixels)).to.deep.equal(Array.from(reference().pixels));
  });

  it('a palette colour image is refused with a code before a model sees it', () => {
    expect(() => planar(path.join(PYD, 'OT-PAL-8-face.dcm')))
      .to.throw(/PhotometricInterpretation PALETTE COLOR: a model input is MONOCHROME1, MONOCHROME2, RGB/)
      .with.property('code', 'PIXEL_MODULE_INVALID');
  });
});

describe('2D images: VOI and Modality LUTs, and the window functions', () => {
  const grey = (extra: NaturalDataset, pixels: number[]): NaturalDataset => ({
    SOPClassUID: '1.2.840.10008.5.1.4.1.1.7',
    Rows: 1,
    Columns: pixels.length,
    SamplesPerPixel: 1,
    BitsAllocated: 16,
    BitsStored: 12,
    HighBit: 11,
    PixelRepresentation: 0,
    PhotometricInterpretation: 'MONOCHROME2',
    PixelData: Uint16Array.from(pixels).buffer,
    ...extra,
  });
  const read = (ds: NaturalDataset, voi: VoiChoice = 'header'): number[] =>
    Array.from(readPlanarImage(ds, TransferSyntax.ExplicitVRLittleEndian, 0, { voi, maxFramePixels: LIMIT }).pixels);

  it('LINEAR, LINEAR_EXACT and SIGMOID as PS3.3 C.11.2.1 defines them', () => {
    // LINEAR, centre 2048 width 4096: 0 up to 0, 1 above 4095, linear between.
    expect(windowValue(0, 2048, 4096, 'LINEAR')).to.equal(0);
    expect(windowValue(4095.5, 2048, 4096, 'LINEAR')).to.equal(1);
    expect(windowValue(2047.5, 2048, 4096, 'LINEAR')).to.equal(0.5);
    expect(windowValue(100, 100, 50, 'LINEAR_EXACT')).to.equal(0.5);
    expect(windowValue(75, 100, 50, 'LINEAR_EXACT')).to.equal(0);
    expect(windowValue(100, 100, 50, 'SIGMOID')).to.equal(0.5);
    expect(windowValue(125, 100, 50, 'SIGMOID')).to.be.closeTo(1 / (1 + Math.exp(-2)), 1e-12);
  });

  it('a VOI LUT Sequence in the header wins over a window; a Modality LUT Sequence comes first', () => {
    const lut = { LUTDescriptor: [4, 10, 8], LUTData: [0, 51, 102, 255] };
    const viaLut = read(grey({ VOILUTSequence: [lut], WindowCenter: 1, WindowWidth: 1 }, [9, 10, 11, 12, 13, 40]));
    [0, 0, 0.2, 0.4, 1, 1].forEach((v, k) => expect(viaLut[k]).to.be.closeTo(v, 1e-7));
    const modality = { LUTDescriptor: [3, 0, 12], LUTData: [100, 200, 300] };
    expect(read(grey({ ModalityLUTSequence: [modality] }, [0, 1, 2, 5]), 'none')).to.deep.equal([100, 200, 300, 300]);
    expect(read(grey({ RescaleSlope: 2, RescaleIntercept: -10 }, [0, 5]), 'none')).to.deep.equal([-10, 0]);
  });

  it('no window in the header: scaled over the stored range; MONOCHROME1 mirrored when nothing is windowed', () => {
    expect(read(grey({}, [0, 4095]))).to.deep.equal([0, 1]);
    expect(read(grey({ PhotometricInterpretation: 'MONOCHROME1' }, [0, 1000, 4095]), 'none')).to.deep.equal([
      4095, 3095, 0,
    ]);
  });

  it('an unknown VOI LUT function is refused', () => {
    expect(() => read(grey({ WindowCenter: 10, WindowWidth: 10, VOILUTFunction: 'CUBIC' }, [1])))
      .to.throw(/VOILUTFunction "CUBIC"/)
      .with.property('code', 'PIXEL_MODULE_INVALID');
  });
});

describe('2D images: fitting to the model input and back', () => {
  it('letterbox keeps the aspect ratio and centres; every point maps back exactly', () => {
    const t = fitTransform({ rows: 1955, columns: 1841 }, { rows: 256, columns: 256 }, 'letterbox');
    const s = 256 / 1955;
    expect(t.scaleX).to.equal(s);
    expect(t.scaleY).to.equal(s);
    expect(t.offsetY).to.be.closeTo(0, 1e-12);
    expect(t.offsetX).to.be.closeTo((256 - 1841 * s) / 2, 1e-12);
    for (const [x, y] of [
      [0, 0],
      [1841, 1955],
      [920.5, 977.5],
      [13.25, 1800.75],
    ]) {
      const [mx, my] = toModel(t, x, y);
      const [bx, by] = toSource(t, mx, my);
      expect(bx).to.be.closeTo(x, 1e-9);
      expect(by).to.be.closeTo(y, 1e-9);
    }
    // The source's corners land on the padded band's edges.
    expect(toModel(t, 0, 0)[0]).to.be.closeTo(t.offsetX, 1e-12);
    expect(toModel(t, 1841, 0)[0]).to.be.closeTo(256 - t.offsetX, 1e-9);
    const st = fitTransform({ rows: 100, columns: 50 }, { rows: 10, columns: 20 }, 'stretch');
    expect([st.scaleX, st.scaleY, st.offsetX, st.offsetY]).to.deep.equal([0.4, 0.1, 0, 0]);
  });

  it('a constant image stays constant inside, padding outside; a linear ramp stays a ramp', () => {
    const rows = 30;
    const columns = 60;
    const flat = new Float32Array(rows * columns).fill(0.7);
    const t = fitTransform({ rows, columns }, { rows: 16, columns: 16 }, 'letterbox');
    const out = resample(flat, 1, t, -1);
    for (let i = 0; i < 16; i++)
      for (let j = 0; j < 16; j++) {
        const [, y] = toSource(t, j + 0.5, i + 0.5);
        const v = out[i * 16 + j];
        if (y < 0 || y > rows) expect(v, `pad at ${i},${j}`).to.equal(-1);
        else expect(v).to.be.closeTo(0.7, 1e-6);
      }
    // Ramp along x: value = source x coordinate of the pixel centre; enlarging samples it linearly.
    const ramp = new Float32Array(rows * columns);
    for (let y = 0; y < rows; y++) for (let x = 0; x < columns; x++) ramp[y * columns + x] = x + 0.5;
    const up = fitTransform({ rows, columns }, { rows: 45, columns: 150 }, 'stretch');
    const big = resample(ramp, 1, up);
    for (let j = 5; j < 145; j++) expect(big[20 * 150 + j]).to.be.closeTo(toSource(up, j + 0.5, 0)[0], 1e-4);
  });

  it('shrinking averages what a pixel covers (antialiased): a one-pixel checkerboard becomes grey', () => {
    const n = 64;
    const board = new Float32Array(n * n);
    for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) board[y * n + x] = (x + y) % 2;
    const out = resample(board, 1, fitTransform({ rows: n, columns: n }, { rows: 8, columns: 8 }, 'stretch'));
    for (const v of out) expect(v).to.be.closeTo(0.5, 0.02);
  });
});

describe('2D images: hostile and broken inputs are refused with a code before anything is decoded', () => {
  const rgb = (extra: NaturalDataset): NaturalDataset => ({
    SOPClassUID: '1.2.840.10008.5.1.4.1.1.7',
    Rows: 4,
    Columns: 4,
    SamplesPerPixel: 3,
    BitsAllocated: 8,
    BitsStored: 8,
    HighBit: 7,
    PixelRepresentation: 0,
    PlanarConfiguration: 0,
    PhotometricInterpretation: 'RGB',
    PixelData: new Uint8Array(48).buffer,
    ...extra,
  });
  const read = (ds: NaturalDataset, frame = 0, maxFramePixels = LIMIT): PlanarImage =>
    readPlanarImage(ds, TransferSyntax.ExplicitVRLittleEndian, frame, { voi: 'header', maxFramePixels });
  const cases: [string, () => unknown, string, RegExp][] = [
    [
      'pixel data shorter than the header says',
      () => read(rgb({ PixelData: new Uint8Array(40).buffer })),
      'PIXEL_MODULE_INVALID',
      /PixelData holds 40 bytes/,
    ],
    [
      'three samples declared MONOCHROME2',
      () => read(rgb({ PhotometricInterpretation: 'MONOCHROME2' })),
      'PIXEL_MODULE_INVALID',
      /SamplesPerPixel 3/,
    ],
    [
      'RGB with one sample',
      () => read(rgb({ SamplesPerPixel: 1, PixelData: new Uint8Array(16).buffer })),
      'PIXEL_MODULE_INVALID',
      /SamplesPerPixel 1 on a RGB image/,
    ],
    [
      'a planar configuration of 2',
      () => read(rgb({ PlanarConfiguration: 2 })),
      'PIXEL_MODULE_INVALID',
      /PlanarConfiguration 2/,
    ],
    [
      'native YBR_FULL_422 with the length of full colour',
      () => read(rgb({ PhotometricInterpretation: 'YBR_FULL_422' })),
      'PIXEL_MODULE_INVALID',
      /PixelData holds 48 bytes/,
    ],
    ['a frame beyond the last', () => read(rgb({}), 1), 'DICOM_ATTRIBUTE_MISSING', /frame 2 of 1 does not exist/],
    [
      'a frame larger than the limit',
      () => read(rgb({ Rows: 4000, Columns: 4000 }), 0, 1 << 20),
      'DICOM_INPUT_TOO_LARGE',
      /4000 x 4000 pixels is more than the limit/,
    ],
    [
      'an unknown photometric interpretation',
      () => read(rgb({ PhotometricInterpretation: 'HSV' })),
      'PIXEL_MODULE_INVALID',
      /PhotometricInterpretation HSV/,
    ],
  ];
  for (const [name, run, code, message] of cases)
    it(name, () => expect(run).to.throw(message).with.property('code', code));
});
