/**
 * The routing rules file (YAML), validated by one schema. An invalid file is reported with the
 * path of the problem and its line (`/rules/0/series/2/range/min (line 14): must be a number`).
 * Rules are declarative: no evaluated code, only conditions on DICOM attributes and image geometry.
 * The same parser validates rules replaced through the admin API.
 */
import { LineCounter, parseDocument, isMap, isSeq, type Node } from 'yaml';
import { AinodeError } from '../errors';
import { resolveAttribute } from '../dicom/part10';
import type { Orientation } from '../contracts/geometry';
import { DEFAULT_SR_PROFILES, SR_PROFILES, isSrProfile, type SrProfile } from '../contracts/sr-profile';

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

export interface Destination {
  name: string;
  url: string;
  usernameEnv?: string;
  passwordEnv?: string;
}

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

export function parseRules(text: string, source = 'rules'): RuleSet {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  const problems: string[] = [];
  if (doc.errors.length) {
    for (const e of doc.errors) problems.push(`YAML (line ${lc.linePos(e.pos[0]).line}): ${e.message.split('\n')[0]}`);
    throw new RulesError(problems, source);
  }
  const lineOf = (path: (string | number)[]): string => {
    let node: unknown = doc.contents;
    for (const k of path) {
      if (isMap(node)) node = node.get(k, true);
      else if (isSeq(node)) node = node.get(Number(k), true);
      else break;
    }
    const range = (node as Node | undefined)?.range;
    return range ? ` (line ${lc.linePos(range[0]).line})` : '';
  };
  const fail = (path: (string | number)[], msg: string): void =>
    void problems.push(`/${path.join('/')}${lineOf(path)}: ${msg}`);
  const root = doc.toJS() as unknown;

  const obj = (v: unknown, path: (string | number)[], allowed: string[]): Plain | undefined => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return void fail(path, 'must be a mapping');
    for (const k of Object.keys(v))
      if (!allowed.includes(k)) fail([...path, k], `is not a known field (allowed: ${allowed.join(', ')})`);
    return v as Plain;
  };
  const str = (v: unknown, path: (string | number)[]): string | undefined =>
    typeof v === 'string' && v !== '' ? v : void fail(path, 'must be a non-empty string');
  const num = (v: unknown, path: (string | number)[]): number | undefined =>
    typeof v === 'number' && Number.isFinite(v) ? v : void fail(path, 'must be a number');
  const range = (v: unknown, path: (string | number)[]): Range | undefined => {
    const o = obj(v, path, ['min', 'max']);
    if (!o) return undefined;
    const r: Range = {};
    if (o.min !== undefined) r.min = num(o.min, [...path, 'min']);
    if (o.max !== undefined) r.max = num(o.max, [...path, 'max']);
    if (o.min === undefined && o.max === undefined) fail(path, 'needs min, max or both');
    return r;
  };
  const regex = (v: unknown, path: (string | number)[]): string | undefined => {
    const s = str(v, path);
    if (s === undefined) return undefined;
    try {
      new RegExp(s, 'i');
    } catch (e) {
      fail(path, `is not a regular expression: ${(e as Error).message}`);
    }
    return s;
  };
  const missing = (v: unknown, path: (string | number)[]): MissingPolicy => {
    if (v === undefined) return 'no-match';
    if (v === 'match' || v === 'no-match' || v === 'skip') return v;
    fail(path, 'must be match, no-match or skip');
    return 'no-match';
  };

  const condition = (v: unknown, path: (string | number)[]): Condition | undefined => {
    if (typeof v === 'object' && v !== null && 'geometry' in v) {
      const c = obj(v, path, ['geometry', 'ifMissing']);
      const g =
        c &&
        obj(c.geometry, [...path, 'geometry'], ['orientation', 'sliceSpacingMm', 'sliceCount', 'inPlaneResolutionMm']);
      if (!c || !g) return undefined;
      const out: GeometryCondition = { kind: 'geometry', ifMissing: missing(c.ifMissing, [...path, 'ifMissing']) };
      if (g.orientation !== undefined) {
        if (
          !Array.isArray(g.orientation) ||
          g.orientation.some((o) => !['axial', 'coronal', 'sagittal'].includes(o as string))
        )
          fail([...path, 'geometry', 'orientation'], 'must be a list of axial, coronal, sagittal');
        else out.orientation = g.orientation as Orientation[];
      }
      if (g.sliceSpacingMm !== undefined)
        out.sliceSpacingMm = range(g.sliceSpacingMm, [...path, 'geometry', 'sliceSpacingMm']);
      if (g.sliceCount !== undefined) out.sliceCount = range(g.sliceCount, [...path, 'geometry', 'sliceCount']);
      if (g.inPlaneResolutionMm !== undefined)
        out.inPlaneResolutionMm = range(g.inPlaneResolutionMm, [...path, 'geometry', 'inPlaneResolutionMm']);
      if (Object.keys(g).length === 0)
        fail([...path, 'geometry'], 'needs orientation, sliceSpacingMm, sliceCount or inPlaneResolutionMm');
      return out;
    }
    const c = obj(v, path, [
      'attribute',
      'equals',
      'in',
      'regex',
      'range',
      'present',
      'contains',
      'negate',
      'ifMissing',
    ]);
    if (!c) return undefined;
    const name = str(c.attribute, [...path, 'attribute']);
    const attr = name ? resolveAttribute(name) : undefined;
    if (name && !attr) fail([...path, 'attribute'], `"${name}" is not a DICOM keyword or tag`);
    const tests = ['equals', 'in', 'regex', 'range', 'present', 'contains'].filter((k) => c[k] !== undefined);
    if (tests.length !== 1)
      fail(path, `needs exactly one of equals, in, regex, range, present, contains (found ${tests.length})`);
    const out: AttributeCondition = {
      kind: 'attribute',
      attribute: name ?? '',
      tag: attr?.tag ?? '',
      keyword: attr?.keyword ?? '',
      negate: c.negate === true,
      ifMissing: missing(c.ifMissing, [...path, 'ifMissing']),
    };
    if (c.negate !== undefined && typeof c.negate !== 'boolean') fail([...path, 'negate'], 'must be true or false');
    if (c.equals !== undefined) {
      if (typeof c.equals !== 'string' && typeof c.equals !== 'number')
        fail([...path, 'equals'], 'must be a string or a number');
      else out.equals = c.equals;
    }
    if (c.in !== undefined) {
      if (!Array.isArray(c.in) || c.in.length === 0 || c.in.some((x) => typeof x !== 'string' && typeof x !== 'number'))
        fail([...path, 'in'], 'must be a non-empty list of strings or numbers');
      else out.in = c.in as (string | number)[];
    }
    if (c.regex !== undefined) out.regex = regex(c.regex, [...path, 'regex']);
    if (c.range !== undefined) out.range = range(c.range, [...path, 'range']);
    if (c.present !== undefined) {
      if (typeof c.present !== 'boolean') fail([...path, 'present'], 'must be true or false');
      else out.present = c.present;
    }
    if (c.contains !== undefined) out.contains = str(c.contains, [...path, 'contains']);
    return out;
  };
  const conditions = (v: unknown, path: (string | number)[]): Condition[] => {
    if (v === undefined) return [];
    if (!Array.isArray(v)) return (fail(path, 'must be a list of conditions'), []);
    return v.map((c, i) => condition(c, [...path, i])).filter((c): c is Condition => !!c);
  };
  const time = (v: unknown, path: (string | number)[]): string => {
    if (typeof v === 'string' && /^([01]\d|2[0-3]):[0-5]\d$/.test(v)) return v;
    fail(path, 'must be a time HH:MM');
    return '00:00';
  };

  const top = obj(root, [], ['version', 'destinations', 'rules']);
  const destinations = new Map<string, Destination>();
  const rules: Rule[] = [];
  if (top) {
    if (top.version !== 1) fail(['version'], 'must be 1');
    if (top.destinations !== undefined) {
      const d = obj(top.destinations, ['destinations'], Object.keys((top.destinations as Plain) ?? {}));
      for (const [name, v] of Object.entries(d ?? {})) {
        const o = obj(v, ['destinations', name], ['url', 'usernameEnv', 'passwordEnv']);
        const url = o && str(o.url, ['destinations', name, 'url']);
        if (url && !/^https?:\/\//.test(url)) fail(['destinations', name, 'url'], 'must be an http(s) URL');
        if (o && url)
          destinations.set(name, {
            name,
            url: url.replace(/\/+$/, ''),
            ...(o.usernameEnv ? { usernameEnv: String(o.usernameEnv) } : {}),
            ...(o.passwordEnv ? { passwordEnv: String(o.passwordEnv) } : {}),
          });
      }
    }
    if (!Array.isArray(top.rules)) fail(['rules'], 'must be a list of rules');
    else
      top.rules.forEach((v, i) => {
        const p = ['rules', i];
        const r = obj(v, p, [
          'name',
          'enabled',
          'models',
          'priority',
          'offPeak',
          'destination',
          'srProfiles',
          'study',
          'series',
          'prefer',
        ]);
        if (!r) return;
        const name = str(r.name, [...p, 'name']) ?? `rule ${i}`;
        if (rules.some((x) => x.name === name)) fail([...p, 'name'], `"${name}" is used by an earlier rule`);
        const models =
          Array.isArray(r.models) && r.models.length > 0 && r.models.every((m) => typeof m === 'string')
            ? (r.models as string[])
            : (fail([...p, 'models'], 'must be a non-empty list of model ids'), []);
        const priority =
          r.priority === undefined
            ? 'routine'
            : r.priority === 'stat' || r.priority === 'routine'
              ? r.priority
              : (fail([...p, 'priority'], 'must be stat or routine'), 'routine');
        let offPeak: Rule['offPeak'];
        if (r.offPeak !== undefined) {
          const o = obj(r.offPeak, [...p, 'offPeak'], ['start', 'end']);
          if (o)
            offPeak = { start: time(o.start, [...p, 'offPeak', 'start']), end: time(o.end, [...p, 'offPeak', 'end']) };
        }
        const destination =
          r.destination === undefined
            ? 'source'
            : typeof r.destination === 'string'
              ? r.destination
              : (fail([...p, 'destination'], 'must be "source" or a destination name'), 'source');
        if (destination !== 'source' && !destinations.has(destination))
          fail([...p, 'destination'], `"${destination}" is not a declared destination`);
        let srProfiles: SrProfile[] = [...DEFAULT_SR_PROFILES];
        if (r.srProfiles !== undefined) {
          const list = r.srProfiles;
          if (Array.isArray(list) && list.length > 0 && list.every(isSrProfile) && new Set(list).size === list.length)
            srProfiles = list as SrProfile[];
          else fail([...p, 'srProfiles'], `must be a non-empty list of ${SR_PROFILES.join(', ')} (each once)`);
        }
        let prefer: Preference = { by: 'most-slices' };
        if (r.prefer !== undefined) {
          if (r.prefer === 'most-slices' || r.prefer === 'thinnest-slices') prefer = { by: r.prefer };
          else if (typeof r.prefer === 'object' && r.prefer !== null && 'descriptionPattern' in r.prefer) {
            const pat = regex((r.prefer as Plain).descriptionPattern, [...p, 'prefer', 'descriptionPattern']);
            if (pat) prefer = { by: 'description', pattern: pat };
          } else fail([...p, 'prefer'], 'must be most-slices, thinnest-slices or { descriptionPattern: regex }');
        }
        if (r.enabled !== undefined && typeof r.enabled !== 'boolean') fail([...p, 'enabled'], 'must be true or false');
        const studyConditions = conditions(r.study, [...p, 'study']);
        studyConditions.forEach(
          (c, j) =>
            c.kind === 'geometry' && fail([...p, 'study', j], 'geometry conditions belong to series, not study'),
        );
        rules.push({
          name,
          enabled: r.enabled !== false,
          models,
          priority,
          ...(offPeak ? { offPeak } : {}),
          destination,
          srProfiles,
          study: studyConditions,
          series: conditions(r.series, [...p, 'series']),
          prefer,
        });
      });
  }
  if (problems.length) throw new RulesError(problems, source);
  return { version: 1, destinations, rules };
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
