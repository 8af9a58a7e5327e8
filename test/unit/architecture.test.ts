/**
 * The boundaries of src/ (docs/architecture.md), enforced over the import graph the TypeScript
 * parser reads (scripts/support/code-figures.ts): each folder imports only the folders below it
 * in the table, there are no cycles between folders or between files, and the contract layer
 * imports no stage.
 */
import { expect } from 'chai';
import * as path from 'path';
import { cycles, folderGraph, folderOf, importGraph } from '../../scripts/support/code-figures';
import { REPO_ROOT } from '../support/ainode-process';

/** What each folder may import (besides itself). Kept equal to the table in docs/architecture.md. */
export const ALLOWED: Record<string, string[]> = {
  errors: [],
  contracts: ['errors'],
  config: ['errors', 'contracts'],
  observability: ['errors', 'contracts'],
  dicom: ['errors', 'contracts'],
  volume: ['errors', 'contracts', 'dicom'],
  image: ['errors', 'contracts', 'dicom'],
  dicomweb: ['errors', 'contracts', 'config', 'observability', 'dicom'],
  queue: ['errors', 'contracts'],
  inference: ['errors', 'contracts', 'config', 'observability', 'dicom', 'volume', 'image'],
  results: ['errors', 'contracts', 'dicom', 'image', 'inference'],
  rules: ['errors', 'contracts', 'observability', 'dicom', 'dicomweb', 'inference'],
  convert: ['errors', 'contracts', 'dicom', 'volume'],
  viewer: ['errors', 'contracts', 'config', 'observability', 'dicom'],
  intake: [
    'errors',
    'contracts',
    'config',
    'observability',
    'dicom',
    'dicomweb',
    'queue',
    'inference',
    'results',
    'rules',
  ],
  worker: [
    'image',
    'errors',
    'contracts',
    'config',
    'observability',
    'dicom',
    'dicomweb',
    'volume',
    'queue',
    'inference',
    'results',
    'rules',
  ],
  admin: [
    'errors',
    'contracts',
    'observability',
    'dicom',
    'dicomweb',
    'queue',
    'inference',
    'results',
    'rules',
    'intake',
  ],
  app: [
    'errors',
    'contracts',
    'config',
    'observability',
    'dicomweb',
    'queue',
    'inference',
    'results',
    'rules',
    'intake',
    'worker',
    'admin',
  ],
  cli: [
    'errors',
    'contracts',
    'config',
    'observability',
    'dicom',
    'dicomweb',
    'volume',
    'inference',
    'rules',
    'convert',
    'viewer',
    'intake',
    'app',
  ],
};

describe('architecture: the boundaries of src/', () => {
  const src = path.join(REPO_ROOT, 'src');
  const graph = importGraph(src);

  it('every folder of src/ is in the table, and imports only what the table allows', () => {
    const folders = folderGraph(graph, src);
    const off: string[] = [];
    for (const [from, to] of folders) {
      if (from === 'types') continue; // ambient declarations of untyped packages
      expect(ALLOWED, `src/${from} is not in the table of docs/architecture.md`).to.have.property(from);
      for (const t of to) if (!ALLOWED[from].includes(t)) off.push(`${from} -> ${t}`);
    }
    // Name the files, so that a broken rule says where.
    const where = off.map((edge) => {
      const [from, to] = edge.split(' -> ');
      const files = [...graph]
        .filter(([f, ts]) => folderOf(f, src) === from && ts.some((t) => folderOf(t, src) === to))
        .map(([f]) => path.relative(REPO_ROOT, f));
      return `${edge} (${files.join(', ')})`;
    });
    expect(where, 'imports the table does not allow').to.deep.equal([]);
  });

  it('no cycles between folders or between files', () => {
    expect(cycles(folderGraph(graph, src)).map((c) => c.join(' <-> '))).to.deep.equal([]);
    const files = new Map(
      [...graph].map(([k, v]) => [path.relative(REPO_ROOT, k), v.map((t) => path.relative(REPO_ROOT, t))]),
    );
    expect(cycles(files).map((c) => c.join(' <-> '))).to.deep.equal([]);
  });

  it('the table itself has no cycle (it is a layering)', () => {
    expect(cycles(new Map(Object.entries(ALLOWED)))).to.deep.equal([]);
  });
});
