/** Shared test settings: where the real data is, a unique Redis prefix per run, temp folders. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { randomBytes } from 'crypto';
import { REPO_ROOT } from './ainode-process';

/**
 * The project's shared real test data (../shared/data beside the checkout). A clone elsewhere can
 * point AINODE_SHARED_DATA at it; /work/shared/data is the workplace's standard location.
 */
export const SHARED_DATA: string = (() => {
  const candidates = [
    process.env.AINODE_SHARED_DATA,
    path.resolve(REPO_ROOT, '..', 'shared', 'data'),
    '/work/shared/data',
  ].filter((c): c is string => !!c);
  const found = candidates.find((c) => fs.existsSync(path.join(c, 'README.md')));
  if (!found)
    throw new Error(`shared test data not found (looked in ${candidates.join(', ')}); set AINODE_SHARED_DATA`);
  return found;
})();
/** The chest CT shipped in the repository for the demo (same files as ../shared). */
export const CHEST_CT_DIR = path.join(REPO_ROOT, 'deploy', 'demo', 'data', 'tcia-lung-pet-ct-dx-A0001', 'series');
/** The T1 brain MRI (NIfTI) shipped in the repository (same file as ../shared/data/mr/brain-t1-niivue). */
export const BRAIN_T1_NIFTI = path.join(REPO_ROOT, 'deploy', 'demo', 'data', 'brain-t1-niivue', 't1_crop.nii.gz');
export const REDIS_URL = process.env.AINODE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export function uniquePrefix(name: string): string {
  return `ainode-test-${name}-${randomBytes(4).toString('hex')}`;
}

export function tempDir(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `ainode-${name}-`));
}
