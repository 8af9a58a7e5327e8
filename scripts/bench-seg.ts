/**
 * SEG encoding benchmark (`npm run bench:seg`): ainode's builder against dcmjs's own
 * `derivations.Segmentation` on the same mask (the 64-slice demo CT, three segments: right lung,
 * left lung, body), both ending in Part 10 bytes. Reports medians over alternating runs and the
 * ratio measured in the same run; not a test.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as dcmjs from 'dcmjs';
import { assembleVolume } from '../src/volume/assemble';
import { loadModelPackage } from '../src/inference/model-package';
import { createSession } from '../src/inference/session';
import { segmentVolume } from '../src/inference/segment-volume';
import { createLogger } from '../src/observability/logger';
import { Codes } from '../src/dicom/codes';
import { buildSegmentation } from '../src/dicom/seg/builder';
import { SegmentAlgorithmType, SegmentDescription } from '../src/dicom/seg/segment';
import { randomUid } from '../src/contracts/uid';
import { rerunUnderMallocTuning } from './support/malloc-env';

const REPO = path.resolve(__dirname, '..', '..');
const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
// dcmjs's derivation API is untyped.
const D = dcmjs as unknown as {
  data: {
    DicomMessage: { readFile(b: ArrayBuffer): { dict: Record<string, unknown> } };
    DicomMetaDictionary: { naturalizeDataset(d: unknown): Record<string, unknown> };
    datasetToBuffer(ds: unknown): Buffer;
  };
  normalizers: { Normalizer: { normalizeToDataset(ds: unknown[]): Record<string, unknown> } };
  derivations: {
    Segmentation: new (
      ds: unknown[],
      opts?: Record<string, unknown>,
    ) => {
      setNumberOfFrames(n: number): void;
      addSegmentFromLabelmap(seg: unknown, maps: Uint8Array[], index: number, frames: number[]): void;
      bitPackPixelData(): void;
      dataset: Record<string, unknown>;
    };
  };
};

async function main(): Promise<void> {
  const runs = Number(arg('--runs') ?? 5);
  const dir = path.join(REPO, 'deploy', 'demo', 'data', 'tcia-lung-pet-ct-dx-A0001', 'series');
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.dcm'))
    .sort()
    .map((f) => fs.readFileSync(path.join(dir, f)));
  const { volume, patientStudy } = await assembleVolume('bench', files);
  const pkg = loadModelPackage(path.join(REPO, 'models', 'ct-lung'));
  const lungs = await segmentVolume(
    pkg,
    await createSession(pkg.modelPath, ['cpu'], createLogger({ level: 'silent' })),
    volume,
  );
  // Three segments: 1 right lung, 2 left lung, 3 body (soft tissue and bone above -300 HU).
  const labels = Uint8Array.from(lungs.labels);
  for (let v = 0; v < labels.length; v++) if (!labels[v] && volume.voxels[v] > -300) labels[v] = 3;
  const plane = volume.geometry.columns * volume.geometry.rows;
  const names = ['Right lung', 'Left lung', 'Body'];
  const types = [
    Codes.rightLung,
    Codes.leftLung,
    { value: '38266002', scheme: 'SCT', meaning: 'Entire body as a whole' },
  ];

  const ours = (): Buffer =>
    buildSegmentation({
      source: volume,
      patientStudy,
      labels,
      seriesInstanceUid: randomUid(),
      sopInstanceUid: randomUid(),
      seriesNumber: 1,
      seriesDescription: 'bench',
      contentLabel: 'BENCH',
      segments: names.map(
        (n, i) =>
          new SegmentDescription({
            number: i + 1,
            label: n,
            category: Codes.anatomicalStructure,
            type: types[i],
            algorithmType: SegmentAlgorithmType.AUTOMATIC,
            algorithmName: 'bench',
          }),
      ),
    }).part10;

  // dcmjs wants its datasets in the order of the source frames: our volume's slice order.
  const byUid = new Map(
    files.map((b) => {
      const ds = D.data.DicomMetaDictionary.naturalizeDataset(
        D.data.DicomMessage.readFile(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer).dict,
      );
      return [String(ds.SOPInstanceUID), ds];
    }),
  );
  const datasets = volume.slices.map((s) => byUid.get(s.sopInstanceUid)!);
  const multiframe = D.normalizers.Normalizer.normalizeToDataset(datasets);
  const perSegment = [1, 2, 3].map((l) => {
    const frames: number[] = [];
    const maps: Uint8Array[] = [];
    for (let k = 0; k < volume.geometry.slices; k++) {
      const m = labels.subarray(k * plane, (k + 1) * plane);
      if (m.includes(l)) (frames.push(k + 1), maps.push(m));
    }
    return { frames, maps };
  });
  const theirs = (): Buffer => {
    const seg = new D.derivations.Segmentation([multiframe], { includeSliceSpacing: true });
    seg.setNumberOfFrames(perSegment.reduce((s, p) => s + p.frames.length, 0));
    perSegment.forEach((p, i) =>
      seg.addSegmentFromLabelmap(
        {
          SegmentNumber: i + 1,
          SegmentLabel: names[i],
          SegmentAlgorithmType: 'AUTOMATIC',
          SegmentAlgorithmName: 'bench',
          SegmentedPropertyCategoryCodeSequence: {
            CodeValue: '123037004',
            CodingSchemeDesignator: 'SCT',
            CodeMeaning: 'Anatomical Structure',
          },
          SegmentedPropertyTypeCodeSequence: {
            CodeValue: types[i].value,
            CodingSchemeDesignator: types[i].scheme,
            CodeMeaning: types[i].meaning,
          },
        },
        p.maps,
        i + 1,
        p.frames,
      ),
    );
    seg.bitPackPixelData();
    seg.dataset._meta = {};
    return D.data.datasetToBuffer(seg.dataset);
  };

  const silence = console.warn;
  console.warn = (): void => undefined; // dcmjs prints per call
  const t: { ours: number[]; dcmjs: number[] } = { ours: [], dcmjs: [] };
  const sizes = { ours: 0, dcmjs: 0 };
  ours();
  theirs(); // warm-up, not counted
  for (let r = 0; r < runs; r++) {
    let s = performance.now();
    sizes.ours = ours().length;
    t.ours.push(performance.now() - s);
    s = performance.now();
    sizes.dcmjs = theirs().length;
    t.dcmjs.push(performance.now() - s);
  }
  console.warn = silence;
  const med = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const result = {
    input: `${volume.geometry.columns}x${volume.geometry.rows}x${volume.geometry.slices}, 3 segments, ${perSegment.reduce((s, p) => s + p.frames.length, 0)} frames`,
    runs,
    oursMedianMs: Math.round(med(t.ours)),
    dcmjsMedianMs: Math.round(med(t.dcmjs)),
    ratioOursToDcmjs: Number((med(t.ours) / med(t.dcmjs)).toFixed(2)),
    bytes: sizes,
  };
  process.stdout.write(
    `SEG encoding, ${result.input}, median of ${runs}: ainode ${result.oursMedianMs} ms, dcmjs derivations.Segmentation ${result.dcmjsMedianMs} ms, ratio ${result.ratioOursToDcmjs}\n`,
  );
  const out = arg('--out');
  if (out) fs.writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), ...result }, null, 2));
}

if (!rerunUnderMallocTuning())
  main().catch((e) => {
    process.stderr.write(`bench failed: ${(e as Error).stack}\n`);
    process.exit(1);
  });
