/**
 * The model's own working memory, measured in a process of its own (used by `npm run bench`):
 * reads an input tensor from a file, then resets the peak-RSS counter, creates the onnxruntime
 * session and runs it once. Prints JSON: the resident memory before the session (Node, the
 * runtime library and the input) and the peak during session creation and the run; their
 * difference is what the model needs beyond its input.
 *   node dist/scripts/bench-model-memory.js <model.onnx> <inputName> <dims,comma,separated> <input.f32> [provider]
 */
import * as fs from 'fs';
import * as ort from 'onnxruntime-node';

const status = (): string => fs.readFileSync('/proc/self/status', 'utf8');
const mb = (key: 'VmRSS' | 'VmHWM'): number => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status())?.[1] ?? 0) / 1024;

async function main(): Promise<void> {
  const [modelPath, inputName, dimsText, inputFile, provider = 'cpu'] = process.argv.slice(2);
  const dims = dimsText.split(',').map(Number);
  const bytes = fs.readFileSync(inputFile);
  const data = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  (globalThis as { gc?: () => void }).gc?.();
  const beforeMb = mb('VmRSS');
  fs.writeFileSync('/proc/self/clear_refs', '5'); // reset VmHWM to the current RSS
  const session = await ort.InferenceSession.create(modelPath, { executionProviders: [provider], enableCpuMemArena: false }); // as a worker by default
  const out = await session.run({ [inputName]: new ort.Tensor('float32', data, dims) });
  const outputMb = Object.values(out).reduce((a, t) => a + (t.data as Float32Array).byteLength, 0) / 1048576;
  const peakMb = mb('VmHWM');
  process.stdout.write(JSON.stringify({ beforeMb: Math.round(beforeMb), peakMb: Math.round(peakMb), workingMb: Math.round(peakMb - beforeMb), inputMb: Math.round(bytes.length / 1048576), outputMb: Math.round(outputMb) }) + '\n');
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
