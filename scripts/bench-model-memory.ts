/**
 * The model's own working memory, measured in a process of its own (used by `npm run bench`):
 * reads an input tensor from a file, then resets the peak-RSS counter, creates the onnxruntime
 * session (the worker's options) and runs it twice: a warm run can need more than the first (with
 * onnxruntime's memory pattern it did, by 190 MB on the brain model). Prints JSON: the resident
 * memory before the session (Node, the runtime library and the input), what creating the session
 * added (in a worker that is part of its resident memory before any job), and the working memory:
 * the larger of the two runs' peaks above the resident memory just before that run.
 *   node dist/scripts/bench-model-memory.js <model.onnx> <inputName> <dims,comma,separated> <input.f32> [provider]
 */
import * as fs from 'fs';
import * as ort from 'onnxruntime-node';
import { sessionOptions } from '../src/inference/session';

const status = (): string => fs.readFileSync('/proc/self/status', 'utf8');
const mb = (key: 'VmRSS' | 'VmHWM'): number => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status())?.[1] ?? 0) / 1024;

async function main(): Promise<void> {
  const [modelPath, inputName, dimsText, inputFile, provider = 'cpu'] = process.argv.slice(2);
  const dims = dimsText.split(',').map(Number);
  const bytes = fs.readFileSync(inputFile);
  const data = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  const gc = (): void => (globalThis as { gc?: () => void }).gc?.();
  gc();
  const beforeMb = mb('VmRSS');
  fs.writeFileSync('/proc/self/clear_refs', '5'); // reset VmHWM to the current RSS
  const session = await ort.InferenceSession.create(modelPath, { ...sessionOptions(), executionProviders: [provider] }); // as a worker by default
  const sessionMb = mb('VmHWM') - beforeMb;
  // Each run's peak above the resident memory just before it; the larger of a first and a warm run.
  let workingMb = 0;
  let outputMb = 0;
  for (let run = 0; run < 2; run++) {
    gc();
    const runStart = mb('VmRSS');
    fs.writeFileSync('/proc/self/clear_refs', '5');
    const out = await session.run({ [inputName]: new ort.Tensor('float32', data, dims) });
    workingMb = Math.max(workingMb, mb('VmHWM') - runStart);
    outputMb = Object.values(out).reduce((a, t) => a + (t.data as Float32Array).byteLength, 0) / 1048576;
  }
  const peakMb = beforeMb + sessionMb + workingMb;
  process.stdout.write(
    JSON.stringify({
      beforeMb: Math.round(beforeMb),
      sessionMb: Math.round(sessionMb),
      peakMb: Math.round(peakMb),
      workingMb: Math.round(workingMb),
      inputMb: Math.round(bytes.length / 1048576),
      outputMb: Math.round(outputMb),
    }) + '\n',
  );
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
