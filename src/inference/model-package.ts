/**
 * Model packages: models/<id>/manifest.json beside the .onnx file and its licence. The manifest is
 * validated at load time and the weights' sha256 is checked; a broken package is reported with
 * the path of the bad field and is not offered, while the other packages keep working.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { AinodeError } from '../errors';
import { parseManifest, type ModelManifest } from './manifest';

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
  if (manifest.task !== 'segmentation')
    throw new AinodeError(
      'MODEL_PACKAGE_INVALID',
      `${manifestPath}: /task "${manifest.task}" is not supported by this ainode version (segmentation only)`,
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
  return { manifest, dir, modelPath };
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
