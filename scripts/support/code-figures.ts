/**
 * Figures of the source tree that the architecture is judged by: the import graph between the
 * folders of src/ (and its cycles), lines over 120 characters, and the longest functions. Read
 * with the TypeScript compiler's own parser, so imports and functions are what the compiler sees.
 *   npx ts-node scripts/support/code-figures.ts      (or node dist/scripts/support/code-figures.js)
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

/** The checkout: two folders up from this file, from its compiled copy in dist/ one more. */
const ROOT =
  process.env.AINODE_FIGURES_ROOT ??
  path.resolve(__dirname, '..', '..', ...(path.basename(path.resolve(__dirname, '..', '..')) === 'dist' ? ['..'] : []));

export function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

/** The folder of src/ a file belongs to (src/volume/assemble.ts -> volume). */
export function folderOf(file: string, src = path.join(ROOT, 'src')): string {
  return path.relative(src, file).split(path.sep)[0];
}

/** Every relative import of each file under src/, resolved to the file it names. */
export function importGraph(src = path.join(ROOT, 'src')): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(src)) {
    const text = fs.readFileSync(file, 'utf8');
    const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false);
    const targets: string[] = [];
    const add = (spec: string): void => {
      if (!spec.startsWith('.')) return;
      const base = path.resolve(path.dirname(file), spec);
      const hit = [`${base}.ts`, path.join(base, 'index.ts')].find((p) => fs.existsSync(p));
      if (hit) targets.push(hit);
    };
    sf.forEachChild((n) => {
      if (
        (ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) &&
        n.moduleSpecifier &&
        ts.isStringLiteral(n.moduleSpecifier)
      )
        add(n.moduleSpecifier.text);
    });
    graph.set(file, targets);
  }
  return graph;
}

/** Folder -> folders it imports from (its own folder left out). */
export function folderGraph(graph: Map<string, string[]>, src = path.join(ROOT, 'src')): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const [file, targets] of graph) {
    const from = folderOf(file, src);
    const set = out.get(from) ?? new Set<string>();
    for (const t of targets) if (folderOf(t, src) !== from) set.add(folderOf(t, src));
    out.set(from, set);
  }
  return out;
}

/** Cycles of a directed graph (each as the nodes on it), by Tarjan's strongly connected components. */
export function cycles<T>(graph: Map<T, Iterable<T>>): T[][] {
  let index = 0;
  const idx = new Map<T, number>();
  const low = new Map<T, number>();
  const stack: T[] = [];
  const on = new Set<T>();
  const out: T[][] = [];
  const visit = (v: T): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: T[] = [];
      let w: T;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) out.push(comp.reverse());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

/** Functions (declarations, methods, arrows, function expressions) with their length in lines. */
export function functionLengths(files: string[]): { where: string; lines: number }[] {
  const out: { where: string; lines: number }[] = [];
  for (const file of files) {
    const sf = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (n: ts.Node): void => {
      if (
        ts.isFunctionDeclaration(n) ||
        ts.isMethodDeclaration(n) ||
        ts.isArrowFunction(n) ||
        ts.isFunctionExpression(n) ||
        ts.isConstructorDeclaration(n)
      ) {
        const start = sf.getLineAndCharacterOfPosition(n.getStart(sf)).line;
        const end = sf.getLineAndCharacterOfPosition(n.getEnd()).line;
        const name = (n as ts.FunctionDeclaration).name?.getText(sf) ?? '(anonymous)';
        out.push({ where: `${path.relative(ROOT, file)}:${start + 1} ${name}`, lines: end - start + 1 });
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return out.sort((a, b) => b.lines - a.lines);
}

export function longLines(files: string[], limit = 120): { count: number; longest: number } {
  let count = 0;
  let longest = 0;
  for (const f of files) {
    for (const l of fs.readFileSync(f, 'utf8').split('\n')) {
      if (l.length > limit) count++;
      longest = Math.max(longest, l.length);
    }
  }
  return { count, longest };
}

if (require.main === module) {
  const graph = importGraph();
  const folders = folderGraph(graph);
  const files = [
    ...sourceFiles(path.join(ROOT, 'src')),
    ...sourceFiles(path.join(ROOT, 'test')),
    ...sourceFiles(path.join(ROOT, 'scripts')),
  ];
  const fileCycles = cycles(
    new Map([...graph].map(([k, v]) => [path.relative(ROOT, k), v.map((t) => path.relative(ROOT, t))])),
  );
  process.stdout.write(
    `folder imports:\n${[...folders].map(([f, to]) => `  ${f} -> ${[...to].sort().join(', ') || '(none)'}`).join('\n')}\n`,
  );
  process.stdout.write(
    `folder cycles: ${
      cycles(folders)
        .map((c) => c.join(' <-> '))
        .join('; ') || 'none'
    }\n`,
  );
  process.stdout.write(
    `file cycles: ${fileCycles.length}${fileCycles.length ? ` (${fileCycles.map((c) => c.join(' <-> ')).join('; ')})` : ''}\n`,
  );
  const ll = longLines(files);
  process.stdout.write(`lines over 120 characters (src, test, scripts): ${ll.count}, the longest ${ll.longest}\n`);
  process.stdout.write(
    `longest functions in src/:\n${functionLengths(sourceFiles(path.join(ROOT, 'src')))
      .slice(0, 8)
      .map((f) => `  ${f.lines} lines  ${f.where}`)
      .join('\n')}\n`,
  );
}
