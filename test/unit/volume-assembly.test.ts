/** Volume assembly on the real 64-slice CT: order, spacing, HU; unsound stacks refused with a code. */
import { expect } from 'chai';
import { assembleVolume, VolumeBuilder } from '../../src/volume/assemble';
import { decodeFrame, modalityValues, pixelFormat, type PixelFormat } from '../../src/dicom/pixel-data';
import { readPart10, writePart10 } from '../../src/dicom/part10';
import { readDicomFolder } from '../../scripts/support/dicom-files';
import { CHEST_CT_DIR } from '../support/env';

async function codeOf(fn: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe('volume: assembling a CT series', () => {
  const files = readDicomFolder(CHEST_CT_DIR);
  const bytes = files.map((f) => f.part10);

  it('sorts slices along the normal whatever the input order, with spacing from positions', async () => {
    const shuffled = [...bytes].sort(() => Math.random() - 0.5);
    const { volume } = await assembleVolume(files[0].seriesInstanceUid, shuffled);
    const g = volume.geometry;
    expect([g.columns, g.rows, g.slices]).to.deep.equal([512, 512, 64]);
    expect(g.spacing[2]).to.be.closeTo(5, 1e-6);
    const z = volume.slices.map((s) => s.imagePositionPatient[2]);
    for (let k = 1; k < z.length; k++) expect(z[k] - z[k - 1]).to.be.closeTo(5, 1e-6);
    expect(g.origin[2]).to.equal(Math.min(...z));
  });

  it('the voxels follow their slices whatever the arrival order (in order, reversed, shuffled: bit-identical volumes)', async () => {
    const reference = (await assembleVolume(files[0].seriesInstanceUid, bytes)).volume;
    const orders = [[...bytes].reverse(), ...[1, 2, 3].map(() => [...bytes].sort(() => Math.random() - 0.5))];
    for (const order of orders) {
      const { volume } = await assembleVolume(files[0].seriesInstanceUid, order);
      expect(volume.slices.map((x) => x.sopInstanceUid)).to.deep.equal(reference.slices.map((x) => x.sopInstanceUid));
      expect(
        Buffer.from(volume.voxels.buffer, volume.voxels.byteOffset, volume.voxels.byteLength).equals(
          Buffer.from(reference.voxels.buffer, reference.voxels.byteOffset, reference.voxels.byteLength),
        ),
      ).to.equal(true);
    }
    // And slice k holds the rescaled pixels of the instance at position k (read on its own).
    for (const k of [0, 31, 63]) {
      const one = bytes.find((b) => readPart10(b).dataset.SOPInstanceUID === reference.slices[k].sopInstanceUid)!;
      const ds = readPart10(one).dataset;
      const f = pixelFormat(ds);
      const alone = modalityValues(
        decodeFrame(ds, readPart10(one).transferSyntaxUid, f, 0),
        f,
        Number(ds.RescaleSlope ?? 1),
        Number(ds.RescaleIntercept ?? 0),
        undefined,
        0,
      );
      const plane = 512 * 512;
      expect(
        Buffer.from(reference.voxels.slice(k * plane, (k + 1) * plane).buffer).equals(Buffer.from(alone.buffer)),
        `slice ${k}`,
      ).to.equal(true);
    }
  });

  it('a second stack of the same size among the slices: the volume is made afresh from the main stack, unchanged', async () => {
    const main = bytes.slice(10, 30);
    const reference = (await assembleVolume(files[0].seriesInstanceUid, main)).volume;
    // Three frames of a coronal stack (same rows and columns), arriving in between.
    const coronal = bytes.slice(0, 3).map((b, i) => {
      const { dataset } = readPart10(b);
      dataset.ImageOrientationPatient = [1, 0, 0, 0, 0, -1];
      dataset.ImagePositionPatient = [0, 10 * i, 0];
      dataset.SOPInstanceUID = `1.2.3.4.5.6.7.${i + 1}`;
      return writePart10(dataset, { PixelData: 'OW' });
    });
    const { volume, separated } = await assembleVolume(files[0].seriesInstanceUid, [
      ...main.slice(0, 5),
      ...coronal,
      ...main.slice(5),
    ]);
    expect(separated.otherStacks).to.deep.equal([3]);
    expect(volume.slices.map((x) => x.sopInstanceUid)).to.deep.equal(reference.slices.map((x) => x.sopInstanceUid));
    expect(
      Buffer.from(volume.voxels.buffer, volume.voxels.byteOffset, volume.voxels.byteLength).equals(
        Buffer.from(reference.voxels.buffer, reference.voxels.byteOffset, reference.voxels.byteLength),
      ),
    ).to.equal(true);
  });

  it('applies the rescale: air outside the body is about -1000 HU', async () => {
    const { volume } = await assembleVolume(files[0].seriesInstanceUid, bytes);
    expect(volume.voxels[0]).to.be.within(-1030, -950); // corner voxel of the first slice
    let min = Infinity;
    for (const v of volume.voxels) if (v < min) min = v;
    expect(min).to.be.at.least(-1024);
  });

  it('a missing slice in the middle (uneven spacing) -> SERIES_GEOMETRY_INCONSISTENT', async () => {
    const gap = [...bytes.slice(0, 30), ...bytes.slice(31)];
    expect(await codeOf(() => assembleVolume(files[0].seriesInstanceUid, gap))).to.equal(
      'SERIES_GEOMETRY_INCONSISTENT',
    );
  });

  it('the same slice twice -> SERIES_GEOMETRY_INCONSISTENT', async () => {
    expect(await codeOf(() => assembleVolume(files[0].seriesInstanceUid, [...bytes, bytes[10]]))).to.equal(
      'SERIES_GEOMETRY_INCONSISTENT',
    );
  });

  it('a file that is not DICOM -> DICOM_PARSE_FAILED', async () => {
    expect(
      await codeOf(() => assembleVolume(files[0].seriesInstanceUid, [bytes[0], Buffer.from('not dicom at all')])),
    ).to.equal('DICOM_PARSE_FAILED');
  });
});

describe('volume: the staging buffer kept from one study for the next (VolumeBuilder.recycle)', () => {
  const files = readDicomFolder(CHEST_CT_DIR);
  const bytes = files.map((f) => f.part10);
  const uid = files[0].seriesInstanceUid;
  const same = (a: Float32Array, b: Float32Array): boolean =>
    Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  /** Instance `b` as slice k of a longer stack: 5 mm apart, an identity of its own. */
  const shifted = (b: Buffer, k: number): Buffer => {
    const { dataset } = readPart10(b);
    const ipp = dataset.ImagePositionPatient as unknown[];
    dataset.ImagePositionPatient = [Number(ipp[0]), Number(ipp[1]), 5 * k];
    dataset.SOPInstanceUID = `1.2.826.0.1.3680043.10.1443.77.${k + 1}`;
    return writePart10(dataset, { PixelData: 'OW' });
  };

  it('the next volume is made in the kept buffer and holds only its own values, whatever the earlier study left there', async () => {
    const part = bytes.slice(20, 40);
    const reference = (await assembleVolume(uid, part)).volume;
    // A finished study's volume, its whole buffer overwritten, handed back.
    const first = (await assembleVolume(uid, bytes)).volume;
    new Float32Array(first.voxels.buffer).fill(Number.NaN);
    VolumeBuilder.recycle(first.voxels);
    // Fewer slices, arriving in reverse (the slices are put in order in place, in the kept buffer).
    const second = (await assembleVolume(uid, [...part].reverse())).volume;
    expect(second.voxels.buffer).to.equal(first.voxels.buffer);
    expect(second.voxels.length).to.equal(reference.voxels.length);
    expect(same(second.voxels, reference.voxels)).to.equal(true);
    // Kept and taken again: ten slices in order (nothing moves), over the overwritten buffer.
    new Float32Array(second.voxels.buffer).fill(Number.NaN);
    VolumeBuilder.recycle(second.voxels);
    const third = (await assembleVolume(uid, part.slice(0, 10))).volume;
    expect(same(third.voxels, (await assembleVolume(uid, part.slice(0, 10))).volume.voxels)).to.equal(true);
  });

  it('a buffer is taken back once, only one a builder handed out, and none over 256 MB', async () => {
    const first = (await assembleVolume(uid, bytes)).volume;
    VolumeBuilder.recycle(first.voxels);
    VolumeBuilder.recycle(first.voxels);
    VolumeBuilder.recycle(new Float32Array(first.voxels.length * 2));
    const a = (await assembleVolume(uid, bytes)).volume;
    const b = (await assembleVolume(uid, bytes)).volume;
    expect(a.voxels.buffer).to.equal(first.voxels.buffer);
    expect(b.voxels.buffer).to.not.equal(first.voxels.buffer);
    expect(same(a.voxels, b.voxels)).to.equal(true);
    // A series of more than 256 MB as float32 (257 slices of 512^2; only its headers are read
    // twice, its frames are real): its buffer is not kept.
    const long = (
      await assembleVolume(
        uid,
        Array.from({ length: 257 }, (_, k) => shifted(bytes[k % bytes.length], k)),
      )
    ).volume;
    expect(long.voxels.buffer.byteLength).to.be.greaterThan(256 * 1024 * 1024);
    VolumeBuilder.recycle(long.voxels);
    const c = (await assembleVolume(uid, bytes)).volume;
    expect(c.voxels.buffer).to.not.equal(long.voxels.buffer);
  });

  it("a spent model input (VolumeBuilder.keep) becomes the next volume, holding only that volume's values", async () => {
    const reference = (await assembleVolume(uid, bytes)).volume;
    // A resampled model input, say: an array of its own, overwritten (NaN) before it is kept.
    const input = new Float32Array(reference.voxels.length).fill(Number.NaN);
    VolumeBuilder.keep(input);
    const next = (await assembleVolume(uid, [...bytes].reverse())).volume;
    expect(next.voxels.buffer).to.equal(input.buffer);
    expect(same(next.voxels, reference.voxels)).to.equal(true);
  });

  it('keep takes no view into a larger buffer, no buffer a builder still uses, and none over 256 MB', async () => {
    const inUse = (await assembleVolume(uid, bytes)).volume;
    const whole = new Float32Array(inUse.voxels.length * 2);
    VolumeBuilder.keep(whole.subarray(inUse.voxels.length)); // shares its buffer with the first half
    VolumeBuilder.keep(whole.subarray(0, inUse.voxels.length));
    VolumeBuilder.keep(inUse.voxels); // still the volume of a study in progress
    VolumeBuilder.keep(new Float32Array((256 * 1024 * 1024) / 4 + 1));
    const next = (await assembleVolume(uid, bytes)).volume;
    expect(next.voxels.buffer).to.not.equal(whole.buffer);
    expect(next.voxels.buffer).to.not.equal(inUse.voxels.buffer);
    expect(next.voxels.buffer.byteLength).to.be.at.most(256 * 1024 * 1024);
    expect(same(next.voxels, inUse.voxels)).to.equal(true);
  });
});

describe('volume: the rescale (Modality LUT) of stored values', () => {
  const format = (bitsStored: number, pixelRepresentation: number): PixelFormat => ({
    rows: 64,
    columns: 1024,
    samplesPerPixel: 1,
    bitsAllocated: 16,
    bitsStored,
    pixelRepresentation,
    planarConfiguration: 0,
    photometricInterpretation: 'MONOCHROME2',
    frames: 1,
  });
  /** Reference: the Modality LUT voxel by voxel, as PS3.3 C.11.1 states it. */
  function reference(
    words: Uint16Array,
    bitsStored: number,
    signed: boolean,
    slope: number,
    intercept: number,
    padding: number | undefined,
    paddingOut: number,
  ): Float32Array {
    return Float32Array.from(words, (w) => {
      let v = w % 2 ** bitsStored;
      if (signed && v >= 2 ** (bitsStored - 1)) v -= 2 ** bitsStored;
      return v === padding ? paddingOut : v * slope + intercept;
    });
  }
  for (const [bitsStored, signed, slope, intercept, padding] of [
    [16, false, 1, -1024, undefined],
    [16, true, 1, 0, -2000],
    [12, true, 0.5, -100, -2048],
    [12, false, 2.25, 7, 4095],
  ] as const) {
    it(`16 bits allocated, ${bitsStored} stored, ${signed ? 'signed' : 'unsigned'}, slope ${slope}, intercept ${intercept}, padding ${padding}: every one of the 65536 words`, () => {
      const words = new Uint16Array(65536);
      for (let w = 0; w < 65536; w++) words[w] = (w * 40503) & 0xffff; // every word once, shuffled
      const bytes = new Uint8Array(words.buffer);
      const got = modalityValues(bytes, format(bitsStored, signed ? 1 : 0), slope, intercept, padding, -3000);
      const want = reference(words, bitsStored, signed, slope, intercept, padding, -3000);
      let differing = 0;
      for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) differing++;
      expect(differing).to.equal(0);
      // The same frame again (the table is reused) and another rescale right after it.
      expect(
        Buffer.from(
          modalityValues(bytes, format(bitsStored, signed ? 1 : 0), slope, intercept, padding, -3000).buffer,
        ).equals(Buffer.from(want.buffer)),
      ).to.equal(true);
      const other = modalityValues(bytes, format(bitsStored, signed ? 1 : 0), slope * 2, intercept, padding, -3000);
      expect(
        Buffer.from(other.buffer).equals(
          Buffer.from(reference(words, bitsStored, signed, slope * 2, intercept, padding, -3000).buffer),
        ),
      ).to.equal(true);
    });
  }
});
