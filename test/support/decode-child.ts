/**
 * Reads DICOM files through the worker's own path (VolumeBuilder: structure checks, readers,
 * decoders, volume) in a process of its own, and prints one JSON line: the outcome (ok, or the
 * error's code and whether it was a coded AinodeError) and the process's peak resident memory
 * (VmHWM), so that a hostile input's memory cost is measured alone.
 *   node dist/test/support/decode-child.js <file>...
 */
import * as fs from 'fs';
import { VolumeBuilder } from '../../src/volume/assemble';
import { isAinodeError } from '../../src/errors';
import { readPart10 } from '../../src/dicom/part10';
import { mutate, prng } from './hostile-dicom';

function vmHwmMb(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : 0;
}

/**
 * `--fuzz <iterations> <seed> <file>...`: that many seeded mutations of the files (hostile-dicom.ts),
 * each read as the worker reads a first instance; prints how many ended how, and every error
 * that was not a coded AinodeError.
 */
async function fuzz(iterations: number, seed: number, files: string[]): Promise<void> {
  const corpus = files.map((f) => fs.readFileSync(f));
  const rnd = prng(seed);
  const outcomes: Record<string, number> = {};
  const uncoded: string[] = [];
  for (let i = 0; i < iterations; i++) {
    const m = mutate(corpus[i % corpus.length], rnd);
    let outcome: string;
    try {
      readPart10(m.bytes);
      const b = await VolumeBuilder.create('2.25.1');
      b.add(m.bytes);
      b.build();
      outcome = 'read';
    } catch (e) {
      outcome = isAinodeError(e) ? e.code : 'UNCODED';
      if (!isAinodeError(e))
        uncoded.push(
          `${files[i % files.length].split('/').pop()} ${m.kind}: ${(e as Error).name}: ${String((e as Error).message).slice(0, 120)}`,
        );
    }
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
  }
  process.stdout.write(`${JSON.stringify({ iterations, outcomes, uncoded, peakMb: vmHwmMb() })}\n`);
}

async function main(): Promise<void> {
  if (process.argv[2] === '--fuzz')
    return fuzz(Number(process.argv[3]), Number(process.argv[4]), process.argv.slice(5));
  const files = process.argv.slice(2);
  const startMb = vmHwmMb();
  let result: Record<string, unknown>;
  try {
    const b = await VolumeBuilder.create('2.25.1');
    for (const f of files) b.add(fs.readFileSync(f));
    const { volume } = b.build();
    result = { ok: true, slices: volume.geometry.slices };
  } catch (e) {
    result = {
      ok: false,
      coded: isAinodeError(e),
      code: isAinodeError(e) ? e.code : (e as Error).name,
      message: String((e as Error).message).slice(0, 160),
    };
  }
  process.stdout.write(`${JSON.stringify({ ...result, startMb, peakMb: vmHwmMb() })}\n`);
}

void main();
