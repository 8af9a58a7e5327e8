/**
 * Model packages: models/<id>/manifest.json beside the .onnx file and its licence. The manifest is
 * validated at load time, the weights' sha256 is checked and the tensors the manifest names are
 * checked against the graph's declared inputs and outputs; a broken package is reported with the
 * path of the bad field and is not offered, while the other packages keep working.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { AinodeError } from '../errors';
import { parseManifest, type ModelManifest } from './manifest';
import { readGraphSignature, type GraphSignature, type GraphValue } from './onnx-proto';

export type { ModelManifest };

export interface ModelPackage {
  manifest: ModelManifest;
  dir: string;
  modelPath: string;
}

export interface RefusedPackage {
  dir: string;
  reason: string;
}

export function loadModelPackage(dir: string): ModelPackage {
  const manifestPath = path.join(dir, 'manifest.json');
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  } catch (e) {
    throw new AinodeError('MODEL_PACKAGE_INVALID', `${manifestPath}: ${(e as Error).message}`);
  }
  const manifest = parseManifest(raw, manifestPath);
  if (manifest.id !== path.basename(dir))
    throw new AinodeError(
      'MODEL_PACKAGE_INVALID',
      `${manifestPath}: /id must equal the folder name "${path.basename(dir)}"`,
    );
  const modelPath = path.join(dir, manifest.file);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(modelPath);
  } catch {
    throw new AinodeError('MODEL_PACKAGE_INVALID', `${modelPath}: weights file missing`);
  }
  const sha = crypto.createHash('sha256').update(bytes).digest('hex');
  if (sha !== manifest.sha256) {
    throw new AinodeError(
      'MODEL_WEIGHTS_CHECKSUM_MISMATCH',
      `${modelPath}: sha256 ${sha} does not match the manifest's ${manifest.sha256}`,
    );
  }
  let signature: GraphSignature;
  try {
    signature = readGraphSignature(bytes);
  } catch (e) {
    throw new AinodeError('MODEL_PACKAGE_INVALID', `${modelPath}: not a readable ONNX model (${(e as Error).message})`);
  }
  const problems = signatureProblems(manifest, signature);
  if (problems.length)
    throw new AinodeError('MODEL_PACKAGE_INVALID', `${manifestPath}: ${problems.join('; ')}`, {
      retryable: false,
      hint: `the manifest must name the inputs and outputs ${manifest.file} declares`,
    });
  return { manifest, dir, modelPath };
}

/**
 * The manifest's tensors against the graph's: the input and every output it names exist, and a
 * fixed channel dimension (the second) equals the declared channels.
 */
export function signatureProblems(manifest: ModelManifest, graph: GraphSignature): string[] {
  const problems: string[] = [];
  const names = (vs: GraphValue[]): string => vs.map((v) => v.name).join(', ') || 'none';
  const input = graph.inputs.find((v) => v.name === manifest.input.name);
  if (!input)
    problems.push(`/input/name "${manifest.input.name}" is not an input of the graph (inputs: ${names(graph.inputs)})`);
  else if (typeof input.dims[1] === 'number' && input.dims[1] !== manifest.input.channels)
    problems.push(`/input/channels is ${manifest.input.channels}, the graph's input has ${input.dims[1]}`);
  const outputs: [string, string, number | undefined][] = [
    ['/output/name', manifest.output.name, manifest.task === 'detection' ? undefined : manifest.output.channels],
  ];
  for (const [k, v] of Object.entries(manifest.detection?.outputs ?? {}))
    if (v) outputs.push([`/detection/outputs/${k}`, v, undefined]);
  for (const [at, name, channels] of outputs) {
    const out = graph.outputs.find((v) => v.name === name);
    if (!out) problems.push(`${at} "${name}" is not an output of the graph (outputs: ${names(graph.outputs)})`);
    else if (channels !== undefined && typeof out.dims[1] === 'number' && out.dims[1] !== channels)
      problems.push(`/output/channels is ${channels}, the graph's output has ${out.dims[1]}`);
  }
  return problems;
}

/** Loads every package under `modelsDir`; refused ones are returned with their reason. */
export function loadModelPackages(modelsDir: string): {
  packages: Map<string, ModelPackage>;
  refused: RefusedPackage[];
} {
  const packages = new Map<string, ModelPackage>();
  const refused: RefusedPackage[] = [];
  const entries = fs.existsSync(modelsDir) ? fs.readdirSync(modelsDir, { withFileTypes: true }) : [];
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const dir = path.join(modelsDir, e.name);
    if (!fs.existsSync(path.join(dir, 'manifest.json'))) continue;
    try {
      const pkg = loadModelPackage(dir);
      packages.set(pkg.manifest.id, pkg);
    } catch (err) {
      refused.push({ dir, reason: err instanceof AinodeError ? err.oneLine() : String(err) });
    }
  }
  return { packages, refused };
}
