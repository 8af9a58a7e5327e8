/**
 * Model packages: models/<id>/manifest.json beside the .onnx file and its licence. The manifest is
 * validated at load time and the weights' sha256 is checked; a broken package is reported with
 * the path of the bad field and is not offered, while the other packages keep working.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { AinodeError } from '../errors';

export interface ModelManifest {
  id: string;
  version: string;
  task: 'segmentation';
  /** The TypeScript pipeline that prepares inputs and turns outputs into results. */
  pipeline: 'ct-lung';
  file: string;
  sha256: string;
  input: string;
  output: string;
  licence: string;
  description: string;
}

export interface ModelPackage {
  manifest: ModelManifest;
  dir: string;
  modelPath: string;
}

export interface RefusedPackage {
  dir: string;
  reason: string;
}

function fail(dir: string, field: string, msg: string): never {
  throw new AinodeError('MODEL_PACKAGE_INVALID', `${path.join(dir, 'manifest.json')}: ${field} ${msg}`);
}

function str(m: Record<string, unknown>, dir: string, field: string, pattern?: RegExp): string {
  const v = m[field];
  if (typeof v !== 'string' || v === '') fail(dir, `/${field}`, 'must be a non-empty string');
  if (pattern && !pattern.test(v)) fail(dir, `/${field}`, `must match ${pattern}`);
  return v;
}

export function loadModelPackage(dir: string): ModelPackage {
  const manifestPath = path.join(dir, 'manifest.json');
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  } catch (e) {
    throw new AinodeError('MODEL_PACKAGE_INVALID', `${manifestPath}: ${(e as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(dir, '/', 'must be a JSON object');
  const m = raw as Record<string, unknown>;
  const manifest: ModelManifest = {
    id: str(m, dir, 'id', /^[a-z0-9][a-z0-9-]{0,62}$/),
    version: str(m, dir, 'version', /^[0-9A-Za-z.+-]{1,32}$/),
    task: str(m, dir, 'task', /^segmentation$/) as 'segmentation',
    pipeline: str(m, dir, 'pipeline', /^ct-lung$/) as 'ct-lung',
    file: str(m, dir, 'file', /^[^/\\]+\.onnx$/),
    sha256: str(m, dir, 'sha256', /^[0-9a-f]{64}$/),
    input: str(m, dir, 'input'),
    output: str(m, dir, 'output'),
    licence: str(m, dir, 'licence'),
    description: str(m, dir, 'description'),
  };
  if (manifest.id !== path.basename(dir)) fail(dir, '/id', `must equal the folder name "${path.basename(dir)}"`);
  const modelPath = path.join(dir, manifest.file);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(modelPath);
  } catch {
    throw new AinodeError('MODEL_PACKAGE_INVALID', `${modelPath}: weights file missing`);
  }
  const sha = crypto.createHash('sha256').update(bytes).digest('hex');
  if (sha !== manifest.sha256) {
    throw new AinodeError('MODEL_WEIGHTS_CHECKSUM_MISMATCH', `${modelPath}: sha256 ${sha} does not match the manifest's ${manifest.sha256}`);
  }
  return { manifest, dir, modelPath };
}

/** Loads every package under `modelsDir`; refused ones are returned with their reason. */
export function loadModelPackages(modelsDir: string): { packages: Map<string, ModelPackage>; refused: RefusedPackage[] } {
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
