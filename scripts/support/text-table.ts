/**
 * The benchmarks' printed tables: columns padded to their widest cell, a rule under the header,
 * columns of numbers right-aligned; NaN prints as '-'.
 */
export function textTable(headers: string[], rows: (string | number)[][]): string {
  const cells = [
    headers,
    ...rows.map((r) => r.map((c) => (typeof c === 'number' && Number.isNaN(c) ? '-' : String(c)))),
  ];
  const width = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const numeric = headers.map((_, i) => rows.every((r) => typeof r[i] === 'number'));
  const line = (r: string[]): string =>
    r
      .map((c, i) => (numeric[i] ? c.padStart(width[i]) : c.padEnd(width[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), line(width.map((w) => '-'.repeat(w))), ...cells.slice(1).map(line)].join('\n') + '\n';
}
