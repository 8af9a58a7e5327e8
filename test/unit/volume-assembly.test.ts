/** Volume assembly on the real 64-slice CT: order, spacing, HU; unsound stacks refused with a code. */
import { expect } from 'chai';
import { assembleVolume } from '../../src/volume/assemble';
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

  it('applies the rescale: air outside the body is about -1000 HU', async () => {
    const { volume } = await assembleVolume(files[0].seriesInstanceUid, bytes);
    expect(volume.voxels[0]).to.be.within(-1030, -950); // corner voxel of the first slice
    let min = Infinity;
    for (const v of volume.voxels) if (v < min) min = v;
    expect(min).to.be.at.least(-1024);
  });

  it('a missing slice in the middle (uneven spacing) -> SERIES_GEOMETRY_INCONSISTENT', async () => {
    const gap = [...bytes.slice(0, 30), ...bytes.slice(31)];
    expect(await codeOf(() => assembleVolume(files[0].seriesInstanceUid, gap))).to.equal('SERIES_GEOMETRY_INCONSISTENT');
  });

  it('the same slice twice -> SERIES_GEOMETRY_INCONSISTENT', async () => {
    expect(await codeOf(() => assembleVolume(files[0].seriesInstanceUid, [...bytes, bytes[10]]))).to.equal('SERIES_GEOMETRY_INCONSISTENT');
  });

  it('a file that is not DICOM -> DICOM_PARSE_FAILED', async () => {
    expect(await codeOf(() => assembleVolume(files[0].seriesInstanceUid, [bytes[0], Buffer.from('not dicom at all')]))).to.equal('DICOM_PARSE_FAILED');
  });
});
