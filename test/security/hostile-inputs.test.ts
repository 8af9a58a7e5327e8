/**
 * Hostile DICOM inputs, each read alone by the worker's own decoding path in a process of its own
 * (test/support/decode-child.ts), so that its memory peak is its own: every one must end in the
 * coded error it deserves, before any model could see it, within the memory budget that
 * `npm run bench` reports for a normal chest CT (docs/performance.md). Then a seeded fuzz run of
 * the readers over the real corpus: coded errors only, bounded memory. AINODE_FUZZ_ITERATIONS
 * runs it longer (the CI run is 3000 mutations, a few seconds).
 */
import { expect } from 'chai';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { readPart10 } from '../../src/dicom/part10';
import { VolumeBuilder } from '../../src/volume/assemble';
import { decodeFrame, initCodecs, pixelFormat } from '../../src/dicom/pixel-data';
import { readDicomFolder } from '../../scripts/support/dicom-files';
import { REPO_ROOT } from '../support/ainode-process';
import { CHEST_CT_DIR, SHARED_DATA, tempDir } from '../support/env';
import {
  deeplyNested,
  deflateBomb,
  deflated,
  deflatedHugeSlice,
  patchUs,
  rewritten,
  withoutSequences,
} from '../support/hostile-dicom';

const CHILD = path.join(REPO_ROOT, 'dist', 'test', 'support', 'decode-child.js');

interface ChildResult {
  ok: boolean;
  coded?: boolean;
  code?: string;
  message?: string;
  peakMb: number;
}

function decodeAlone(files: string[]): ChildResult {
  // The allocator settings of a deployed worker (scripts/test.sh sets them for the suite too).
  return JSON.parse(
    execFileSync(process.execPath, [CHILD, ...files], { encoding: 'utf8', maxBuffer: 1 << 20, timeout: 120_000 }),
  ) as ChildResult;
}

/** The chest CT's memory budget in the last benchmark table of docs/performance.md. */
function benchBudgetMb(): number {
  const rows = [
    ...fs
      .readFileSync(path.join(REPO_ROOT, 'docs', 'performance.md'), 'utf8')
      .matchAll(/^\| chest CT \|.*\| (\d+) MB \|$/gm),
  ];
  expect(rows.length, 'docs/performance.md reports a memory budget for the chest CT').to.be.greaterThan(0);
  return Number(rows[rows.length - 1][1]);
}

describe('security: hostile inputs, each alone, refused with a code within the memory budget', function () {
  this.timeout(300_000);
  const dir = tempDir('hostile-alone');
  const series = readDicomFolder(CHEST_CT_DIR);
  // Explicit VR little endian (the repository's chest CT is implicit VR): what the fixtures edit.
  const slice = withoutSequences(series[0].part10);
  const rows: string[] = [];
  let budget = 0;

  before(() => {
    budget = benchBudgetMb();
  });
  after(() => {
    if (rows.length)
      process.stdout.write(
        `\n      | input | expected | observed | peak |\n      |---|---|---|---|\n${rows.map((r) => `      | ${r} |`).join('\n')}\n`,
      );
  });

  it('a normal chest CT series (64 slices), for comparison, is read whole', () => {
    const files = series.map((f, i) => {
      const p = path.join(dir, `normal-${i}.dcm`);
      fs.writeFileSync(p, f.part10);
      return p;
    });
    const r = decodeAlone(files);
    expect(r.ok, JSON.stringify(r)).to.equal(true);
    rows.push(`normal chest CT, 64 slices (baseline) | read | read | ${r.peakMb} MB`);
  });

  const cases: [string, () => Buffer, string, RegExp?][] = [
    [
      'deflate bomb: 1 GiB private tag',
      () => deflateBomb(slice, 1024 * 1024 * 1024),
      'DICOM_INPUT_TOO_LARGE',
      /attributes before the pixel data/,
    ],
    [
      'deflated slice really holding 20000 x 20000 pixels',
      () => deflatedHugeSlice(slice, 20000, 20000),
      'DICOM_INPUT_TOO_LARGE',
      /20000 x 20000/,
    ],
    [
      'deflated slice claiming 65535 x 65535 (data 512 x 512)',
      () => deflated(rewritten(slice, (d) => ((d.Rows = 65535), (d.Columns = 65535)))),
      'DICOM_INPUT_TOO_LARGE',
    ],
    [
      'RescaleSlope "NaN"',
      () => rewritten(slice, (d) => (d.RescaleSlope = 'NaN')),
      'PIXEL_MODULE_INVALID',
      /RescaleSlope is not a finite number/,
    ],
    [
      'RescaleSlope "inf"',
      () => rewritten(slice, (d) => (d.RescaleSlope = 'inf')),
      'PIXEL_MODULE_INVALID',
      /RescaleSlope/,
    ],
    [
      'RescaleSlope 0',
      () => rewritten(slice, (d) => (d.RescaleSlope = 0)),
      'PIXEL_MODULE_INVALID',
      /RescaleSlope is 0/,
    ],
    [
      'RescaleIntercept "abc"',
      () => rewritten(slice, (d) => (d.RescaleIntercept = 'abc')),
      'PIXEL_MODULE_INVALID',
      /RescaleIntercept/,
    ],
    [
      'Rows smaller than the data (256 x 512)',
      () => rewritten(slice, (d) => (d.Rows = 256)),
      'PIXEL_MODULE_INVALID',
      /PixelData holds/,
    ],
    [
      'Rows larger than the data (1024 x 512)',
      () => rewritten(slice, (d) => (d.Rows = 1024)),
      'PIXEL_MODULE_INVALID',
      /PixelData holds/,
    ],
    [
      'BitsAllocated 32 on a CT',
      () => rewritten(slice, (d) => ((d.BitsAllocated = 32), (d.BitsStored = 32), (d.HighBit = 31))),
      'PIXEL_MODULE_INVALID',
      /BitsAllocated 32/,
    ],
    [
      'BitsAllocated 1 on a CT',
      () => rewritten(slice, (d) => ((d.BitsAllocated = 1), (d.BitsStored = 1), (d.HighBit = 0))),
      'PIXEL_MODULE_INVALID',
      /BitsAllocated 1/,
    ],
    [
      'BitsAllocated 8 on a CT',
      () => rewritten(slice, (d) => ((d.BitsAllocated = 8), (d.BitsStored = 8), (d.HighBit = 7), (d.Rows = 1024))),
      'PIXEL_MODULE_INVALID',
      /BitsAllocated 8 on a CT/,
    ],
    [
      'BitsStored 17 > BitsAllocated 16',
      () => rewritten(slice, (d) => ((d.BitsStored = 17), (d.HighBit = 16))),
      'PIXEL_DATA_UNSUPPORTED',
      /BitsStored 17/,
    ],
    [
      'HighBit 15 with BitsStored 12',
      () => rewritten(slice, (d) => ((d.BitsStored = 12), (d.HighBit = 15))),
      'PIXEL_MODULE_INVALID',
      /HighBit 15/,
    ],
    [
      'PixelRepresentation 2',
      () => rewritten(slice, (d) => (d.PixelRepresentation = 2)),
      'PIXEL_MODULE_INVALID',
      /PixelRepresentation 2/,
    ],
    [
      'PALETTE COLOR on a grey slice',
      () => rewritten(slice, (d) => (d.PhotometricInterpretation = 'PALETTE COLOR')),
      'PIXEL_MODULE_INVALID',
      /PALETTE COLOR/,
    ],
    [
      'RGB (3 samples) for a volume',
      () =>
        rewritten(
          slice,
          (d) => ((d.SamplesPerPixel = 3), (d.PhotometricInterpretation = 'RGB'), (d.PlanarConfiguration = 0)),
        ),
      'PIXEL_MODULE_INVALID',
      /SamplesPerPixel 3/,
    ],
    ['sequences nested 100 000 deep', () => deeplyNested(slice, 100_000), 'DICOM_PARSE_FAILED', /nest deeper than 64/],
    ['a truncated slice', () => slice.subarray(0, Math.floor(slice.length * 0.7)), 'DICOM_PARSE_FAILED'],
  ];
  for (const [name, make, code, message] of cases) {
    it(`${name} -> ${code}`, () => {
      const file = path.join(dir, `${name.replace(/[^a-z0-9]+/gi, '-')}.dcm`);
      const bytes = make();
      fs.writeFileSync(file, bytes);
      const r = decodeAlone([file]);
      rows.push(
        `${name} (${(bytes.length / 1024).toFixed(0)} KB) | ${code} | ${r.ok ? 'read!' : `${r.code}${r.coded ? '' : ' (uncoded)'}`} | ${r.peakMb} MB`,
      );
      expect(r.ok, `${name} was read`).to.equal(false);
      expect(r.coded, `${name}: ${r.code} ${r.message}`).to.equal(true);
      expect(r.code, r.message).to.equal(code);
      if (message) expect(r.message).to.match(message);
      expect(r.peakMb, `${name}: peak ${r.peakMb} MB against the budget ${budget} MB`).to.be.at.most(budget);
    });
  }

  it('a JPEG-LS codestream coded at another size than the header says is refused before decoding', async function () {
    await initCodecs();
    const src = path.join(SHARED_DATA, 'reference', 'pydicom-data', 'emri_small_jpeg_ls_lossless.dcm');
    // ../shared holds the only JPEG-LS series here; without it there is nothing to alter.
    if (!fs.existsSync(src)) this.skip();
    // The file has no plane geometry (a volume would refuse it for that first): the decoder itself.
    const { transferSyntaxUid, dataset } = readPart10(
      patchUs(patchUs(fs.readFileSync(src), 0x00280010, 4096), 0x00280011, 4096),
    );
    const f = pixelFormat(dataset);
    let err: unknown;
    try {
      decodeFrame(dataset, transferSyntaxUid, f, 0);
    } catch (e) {
      err = e;
    }
    rows.push(
      `JPEG-LS frame coded 64 x 64, header 4096 x 4096 | PIXEL_MODULE_INVALID | ${(err as { code?: string })?.code} | -`,
    );
    expect((err as { code?: string })?.code, String(err)).to.equal('PIXEL_MODULE_INVALID');
    expect((err as Error).message).to.match(/coded as 64 x 64/);
  });

  it('a negative slope is applied exactly: negated stored values with slope -1 give the same volume', async () => {
    const three = series.slice(0, 3).map((f) => f.part10);
    const { dataset: first } = readPart10(three[0]);
    expect(Number(first.RescaleSlope ?? 1), 'the chest CT has slope 1').to.equal(1);
    const negated = three.map((p) =>
      rewritten(p, (d) => {
        const bits = Number(d.BitsStored);
        const signed = Number(d.PixelRepresentation) === 1;
        const src = signed
          ? new Int16Array((d.PixelData as ArrayBuffer[])[0].slice(0))
          : new Uint16Array((d.PixelData as ArrayBuffer[])[0].slice(0));
        const out = new Int16Array(src.length);
        for (let i = 0; i < src.length; i++) out[i] = -src[i];
        expect(Math.max(...src.slice(0, 4096)), 'values fit a signed negation').to.be.below(
          2 ** (bits - 1) + (signed ? 0 : 2 ** 15),
        );
        d.PixelData = [out.buffer];
        d.PixelRepresentation = 1;
        d.BitsStored = 16;
        d.HighBit = 15;
        d.RescaleSlope = -1;
        delete d.PixelPaddingValue;
      }),
    );
    const plain = three.map((p) => rewritten(p, (d) => delete d.PixelPaddingValue));
    const build = async (files: Buffer[]): Promise<Float32Array> => {
      const b = await VolumeBuilder.create('2.25.2');
      for (const f of files) b.add(f);
      return b.build().volume.voxels.slice();
    };
    const [a, b] = [await build(plain), await build(negated)];
    expect(b.length).to.equal(a.length);
    let differ = 0;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) differ++;
    expect(differ, 'voxels that differ').to.equal(0);
    rows.push(`negative slope (-1, stored values negated) | same volume | ${differ} of ${a.length} voxels differ | -`);
  });
});

describe('security: fuzzed DICOM readers over the real corpus', function () {
  this.timeout(600_000);
  it('seeded mutations (truncations, bit flips, length and VR lies) end in coded errors only, in bounded memory', () => {
    const iterations = Number(process.env.AINODE_FUZZ_ITERATIONS ?? 3000);
    const corpus = readDicomFolder(CHEST_CT_DIR)
      .slice(0, 2)
      .map((f, i) => {
        const p = path.join(tempDir('fuzz'), `ct-${i}.dcm`);
        fs.writeFileSync(p, f.part10);
        return p;
      });
    const deb = path.join(SHARED_DATA, 'reference', 'pydicom-debian', 'test_files');
    // The shared corpus adds every transfer syntax and many odd files; the repository's chest CT alone where it is absent.
    for (const d of [
      deb,
      path.join(SHARED_DATA, 'reference', 'pydicom-data'),
      path.join(SHARED_DATA, 'xr', 'nema-wg04'),
    ]) {
      if (fs.existsSync(d))
        for (const f of fs.readdirSync(d).sort())
          if (f.endsWith('.dcm') && fs.statSync(path.join(d, f)).size < 4_000_000) corpus.push(path.join(d, f));
    }
    const out = execFileSync(process.execPath, [CHILD, '--fuzz', String(iterations), '20261204', ...corpus], {
      encoding: 'utf8',
      maxBuffer: 16 << 20,
      timeout: 580_000,
    });
    const r = JSON.parse(out) as {
      iterations: number;
      outcomes: Record<string, number>;
      uncoded: string[];
      peakMb: number;
    };
    process.stdout.write(
      `      ${r.iterations} mutations of ${corpus.length} files: ${Object.entries(r.outcomes)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}; peak ${r.peakMb} MB\n`,
    );
    expect(r.uncoded, 'errors without a code').to.deep.equal([]);
    expect(r.peakMb, 'peak memory of the fuzz run').to.be.at.most(benchBudgetMb());
  });
});
