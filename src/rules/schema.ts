/**
 * The routing rules file (YAML), validated by its JSON Schema (src/contracts/schemas/
 * rules.schema.json, the file an editor loads) and then by the checks a schema cannot express.
 * Every problem is reported at once with its path and line
 * (`/rules/0/series/2/range/min (line 14): must be a number`).
 * Rules are declarative: no evaluated code, only conditions on DICOM attributes and image geometry.
 * The same parser validates rules replaced through the admin API.
 */
import { LineCounter, parseDocument, isMap, isSeq, type Node } from 'yaml';
import { AinodeError } from '../errors';
import { resolveAttribute } from '../dicom/part10';
import type { Orientation } from '../contracts/geometry';
import type { Destination } from '../contracts/destination';
import { DEFAULT_SR_PROFILES, type SrProfile } from '../contracts/sr-profile';
import { isMapping, pointer, regexProblem, schemaProblems, type Problem, type SchemaPath } from '../contracts/validate';
import rulesSchema from '../contracts/schemas/rules.schema.json';

export type MissingPolicy = 'match' | 'no-match' | 'skip';
export interface Range {
  min?: number;
  max?: number;
}

export interface AttributeCondition {
  kind: 'attribute';
  attribute: string;
  tag: string;
  keyword: string;
  equals?: string | number;
  in?: (string | number)[];
  regex?: string;
  range?: Range;
  present?: boolean;
  contains?: string;
  negate: boolean;
  ifMissing: MissingPolicy;
}

export interface GeometryCondition {
  kind: 'geometry';
  orientation?: Orientation[];
  sliceSpacingMm?: Range;
  sliceCount?: Range;
  inPlaneResolutionMm?: Range;
  ifMissing: MissingPolicy;
}

export type Condition = AttributeCondition | GeometryCondition;
export type Preference = { by: 'most-slices' } | { by: 'thinnest-slices' } | { by: 'description'; pattern: string };

export interface Rule {
  name: string;
  enabled: boolean;
  models: string[];
  priority: 'stat' | 'routine';
  /** Routine work of this rule waits for this daily window (local time, "HH:MM"). */
  offPeak?: { start: string; end: string };
  /** "source" or the name of a destination. */
  destination: string;
  /** SR output profiles written to that destination (default: standard). */
  srProfiles: SrProfile[];
  study: Condition[];
  series: Condition[];
  /** 2D models: conditions on each image of the chosen series (attributes only). */
  images: AttributeCondition[];
  prefer: Preference;
}

export interface RuleSet {
  version: 1;
  destinations: Map<string, Destination>;
  rules: Rule[];
}

export class RulesError extends AinodeError {
  constructor(
    readonly problems: string[],
    source: string,
  ) {
    super(
      'CONFIG_INVALID',
      `${source}: ${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`,
      { retryable: false, hint: 'fix the rules file; the previous rules stay in force' },
    );
    this.name = 'RulesError';
  }
}

type Plain = Record<string, unknown>;

const TESTS = ['equals', 'in', 'regex', 'range', 'present', 'contains'] as const;

/**
 * What the JSON Schema cannot say: attribute names are DICOM keywords or tags, regular
 * expressions compile, one test per condition, geometry only on series, unique rule names and
 * declared destinations. Reads the raw document defensively (the schema may have failed too).
 */
function semanticProblems(root: unknown): Problem[] {
  const problems: Problem[] = [];
  const fail = (path: SchemaPath, message: string): void => void problems.push({ path, message });
  const isObj = isMapping;
  if (!isObj(root) || !Array.isArray(root.rules)) return problems;
  const declared = new Set(isObj(root.destinations) ? Object.keys(root.destinations) : []);
  const names = new Set<string>();
  root.rules.forEach((r, i) => {
    if (!isObj(r)) return;
    const p = ['rules', i];
    if (typeof r.name === 'string' && r.name) {
      if (names.has(r.name)) fail([...p, 'name'], `"${r.name}" is used by an earlier rule`);
      names.add(r.name);
    }
    if (typeof r.destination === 'string' && r.destination !== 'source' && !declared.has(r.destination))
      fail([...p, 'destination'], `"${r.destination}" is not a declared destination`);
    if (isObj(r.prefer)) {
      const bad = regexProblem(r.prefer.descriptionPattern);
      if (bad) fail([...p, 'prefer', 'descriptionPattern'], bad);
    }
    for (const level of ['study', 'series', 'images'] as const) {
      const list = r[level];
      if (!Array.isArray(list)) continue;
      list.forEach((c, j) => {
        if (!isObj(c)) return;
        const at = [...p, level, j];
        if ('geometry' in c) {
          if (level !== 'series') fail(at, `geometry conditions belong to series, not ${level}`);
          return;
        }
        if (typeof c.attribute === 'string' && c.attribute && !resolveAttribute(c.attribute))
          fail([...at, 'attribute'], `"${c.attribute}" is not a DICOM keyword or tag`);
        const found = TESTS.filter((k) => c[k] !== undefined).length;
        if (found !== 1) fail(at, `needs exactly one of ${TESTS.join(', ')} (found ${found})`);
        const bad = regexProblem(c.regex);
        if (bad) fail([...at, 'regex'], bad);
      });
    }
  });
  return problems;
}

function condition(c: Plain): Condition {
  const ifMissing = (c.ifMissing as MissingPolicy | undefined) ?? 'no-match';
  if ('geometry' in c) {
    const g = c.geometry as Omit<GeometryCondition, 'kind' | 'ifMissing'>;
    return { kind: 'geometry', ...g, ifMissing };
  }
  const attr = resolveAttribute(c.attribute as string)!;
  const out: AttributeCondition = {
    kind: 'attribute',
    attribute: c.attribute as string,
    tag: attr.tag,
    keyword: attr.keyword,
    negate: c.negate === true,
    ifMissing,
  };
  for (const k of TESTS) if (c[k] !== undefined) Object.assign(out, { [k]: c[k] });
  return out;
}

/** The rule set of a document that has passed the schema and the semantic checks. */
function build(root: Plain): RuleSet {
  const destinations = new Map<string, Destination>();
  for (const [name, v] of Object.entries((root.destinations as Record<string, Plain> | undefined) ?? {}))
    destinations.set(name, {
      name,
      url: (v.url as string).replace(/\/+$/, ''),
      ...(v.usernameEnv ? { usernameEnv: v.usernameEnv as string } : {}),
      ...(v.passwordEnv ? { passwordEnv: v.passwordEnv as string } : {}),
    });
  const rules = (root.rules as Plain[]).map((r): Rule => {
    const prefer: Preference =
      r.prefer === undefined
        ? { by: 'most-slices' }
        : typeof r.prefer === 'string'
          ? { by: r.prefer as 'most-slices' | 'thinnest-slices' }
          : { by: 'description', pattern: (r.prefer as Plain).descriptionPattern as string };
    return {
      name: r.name as string,
      enabled: r.enabled !== false,
      models: r.models as string[],
      priority: (r.priority as Rule['priority'] | undefined) ?? 'routine',
      ...(r.offPeak ? { offPeak: r.offPeak as Rule['offPeak'] } : {}),
      destination: (r.destination as string | undefined) ?? 'source',
      srProfiles: (r.srProfiles as SrProfile[] | undefined) ?? [...DEFAULT_SR_PROFILES],
      study: ((r.study as Plain[] | undefined) ?? []).map(condition),
      series: ((r.series as Plain[] | undefined) ?? []).map(condition),
      images: ((r.images as Plain[] | undefined) ?? []).map(condition) as AttributeCondition[],
      prefer,
    };
  });
  return { version: 1, destinations, rules };
}

export function parseRules(text: string, source = 'rules'): RuleSet {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  if (doc.errors.length)
    throw new RulesError(
      doc.errors.map((e) => `YAML (line ${lc.linePos(e.pos[0]).line}): ${e.message.split('\n')[0]}`),
      source,
    );
  // The line of the node at `path`; for a field that is missing, the line of what should hold it.
  const lineOf = (path: SchemaPath): number | undefined => {
    let node: unknown = doc.contents;
    let found = node as Node | undefined;
    for (const k of path) {
      if (isMap(node)) node = node.get(k, true);
      else if (isSeq(node)) node = node.get(Number(k), true);
      else break;
      if (node === undefined) break;
      found = node as Node;
    }
    const range = found?.range;
    return range ? lc.linePos(range[0]).line : undefined;
  };
  const root = doc.toJS() as unknown;
  const problems = [...schemaProblems(rulesSchema, root), ...semanticProblems(root)].map((p) => ({
    ...p,
    line: lineOf(p.path),
  }));
  if (problems.length)
    throw new RulesError(
      problems
        .sort((a, b) => (a.line ?? 0) - (b.line ?? 0)) // in the file's order (stable within a line)
        .map((p) => `${pointer(p.path)}${p.line ? ` (line ${p.line})` : ''}: ${p.message}`),
      source,
    );
  return build(root as Plain);
}

/**
 * References from the rules to what lives elsewhere: every model a rule names must be a loaded
 * model package (its id). Destinations are checked by parseRules (they live in the same file).
 * Problems in the same `path: message` form as parseRules'.
 */
export function ruleReferenceProblems(set: RuleSet, models: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  set.rules.forEach((r, i) =>
    r.models.forEach((m, j) => {
      if (!models.has(m))
        problems.push(
          `/rules/${i}/models/${j}: "${m}" is not a loaded model package (loaded: ${[...models].sort().join(', ') || 'none'})`,
        );
    }),
  );
  return problems;
}
