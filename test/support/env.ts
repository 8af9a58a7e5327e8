/** Shared test settings: where the real data is, a unique Redis prefix per run, temp folders. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { randomBytes } from 'crypto';
import { REPO_ROOT } from './ainode-process';

export const SHARED_DATA = process.env.AINODE_SHARED_DATA ?? path.resolve(REPO_ROOT, '..', 'shared', 'data');
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
