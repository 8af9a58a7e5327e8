/**
 * Rule evaluation: a pure function of the rules, the study's facts and the loaded models, that
 * explains itself. For every rule and series it says which conditions held, failed or met a
 * missing attribute (and what the rule said that means), which series the rule chooses by its
 * preference, and which models would run on it (a model must also accept the series by its own
 * manifest). The dry run prints exactly this; the listener enqueues from it.
 */
import type { DicomJson } from '../dicom/json';
import type { ModelPackage } from '../inference/model-package';
import { judgeSeries } from './model-acceptance';
import type { AttributeCondition, Condition, GeometryCondition, Range, Rule, RuleSet } from './schema';
import type { SeriesFacts, StudyFacts } from './study-facts';

export type Outcome = 'held' | 'failed' | 'missing: match' | 'missing: no match' | 'missing: skip series';

export interface ConditionResult {
  condition: string;
  outcome: Outcome;
}

export interface SeriesEvaluation {
  seriesInstanceUid: string;
  modality: string;
  /** The geometry read from the images' headers, as the geometry conditions saw it. */
  geometry: SeriesFacts['geometry'];
  conditions: ConditionResult[];
  qualifies: boolean;
  skipped: boolean;
}

export interface ModelDecision {
  modelId: string;
  runs: boolean;
  why: string;
}

export interface RuleEvaluation {
  rule: string;
  enabled: boolean;
  studyConditions: ConditionResult[];
  applies: boolean;
  series: SeriesEvaluation[];
  chosenSeries: string | undefined;
  models: ModelDecision[];
  priority: Rule['priority'];
  destination: string;
  srProfiles: Rule['srProfiles'];
}

export interface RoutingDecision {
  studyInstanceUid: string;
  rules: RuleEvaluation[];
  /** What to enqueue: one entry per (model), first rule wins. */
  jobs: {
    rule: string;
    modelId: string;
    seriesInstanceUid: string;
    priority: Rule['priority'];
    offPeak?: Rule['offPeak'];
    destination: string;
    srProfiles: Rule['srProfiles'];
  }[];
}

function values(ds: DicomJson, tag: string): unknown[] {
  return (ds[tag]?.Value ?? []).filter((v) => v !== null && v !== undefined && v !== '');
}

function asText(v: unknown): string {
  if (v && typeof v === 'object' && 'Alphabetic' in (v as object))
    return String((v as { Alphabetic: unknown }).Alphabetic);
  return String(v);
}

/** PatientAge (AS, e.g. 058Y, 006M) in years. */
function ageYears(s: string): number {
  const m = /^(\d{1,3})([DWMY])$/.exec(s.trim());
  if (!m) return Number(s);
  const n = Number(m[1]);
  return m[2] === 'Y' ? n : m[2] === 'M' ? n / 12 : m[2] === 'W' ? n / 52.1775 : n / 365.25;
}

const inRange = (x: number, r: Range): boolean =>
  (r.min === undefined || x >= r.min) && (r.max === undefined || x <= r.max);
const rangeText = (r: Range): string =>
  r.min !== undefined && r.max !== undefined
    ? `in ${r.min}..${r.max}`
    : r.min !== undefined
      ? `>= ${r.min}`
      : `<= ${r.max}`;

function missingOutcome(c: Condition): Outcome {
  return c.ifMissing === 'match'
    ? 'missing: match'
    : c.ifMissing === 'skip'
      ? 'missing: skip series'
      : 'missing: no match';
}

export function describeCondition(c: Condition): string {
  if (c.kind === 'geometry') {
    const parts: string[] = [];
    if (c.orientation) parts.push(`orientation in ${c.orientation.join('/')}`);
    if (c.sliceSpacingMm) parts.push(`slice spacing ${rangeText(c.sliceSpacingMm)} mm`);
    if (c.sliceCount) parts.push(`slice count ${rangeText(c.sliceCount)}`);
    if (c.inPlaneResolutionMm) parts.push(`in-plane resolution ${rangeText(c.inPlaneResolutionMm)} mm`);
    return parts.join(', ');
  }
  const test =
    c.equals !== undefined
      ? `= ${c.equals}`
      : c.in
        ? `in [${c.in.join(', ')}]`
        : c.regex
          ? `matches /${c.regex}/i`
          : c.range
            ? rangeText(c.range)
            : c.present !== undefined
              ? c.present
                ? 'is present'
                : 'is absent'
              : `contains ${c.contains}`;
  return `${c.negate ? 'NOT ' : ''}${c.keyword} ${test}`;
}

export function evaluateAttribute(c: AttributeCondition, ds: DicomJson): Outcome {
  const vals = values(ds, c.tag).map(asText);
  if (c.present !== undefined) return vals.length > 0 === c.present ? 'held' : 'failed';
  if (vals.length === 0) return missingOutcome(c);
  let ok: boolean;
  if (c.equals !== undefined)
    ok = vals.some((v) =>
      typeof c.equals === 'number' ? Number(v) === c.equals : v.trim().toUpperCase() === String(c.equals).toUpperCase(),
    );
  else if (c.in)
    ok = vals.some((v) =>
      c.in!.some((x) => (typeof x === 'number' ? Number(v) === x : v.trim().toUpperCase() === x.toUpperCase())),
    );
  else if (c.regex) ok = vals.some((v) => new RegExp(c.regex!, 'i').test(v));
  else if (c.range) {
    const x = c.keyword === 'PatientAge' ? ageYears(vals[0]) : Number(vals[0]);
    if (!Number.isFinite(x)) return missingOutcome(c);
    ok = inRange(x, c.range);
  } else ok = vals.some((v) => v.trim().toUpperCase() === String(c.contains).toUpperCase());
  return ok !== c.negate ? 'held' : 'failed';
}

export function evaluateGeometry(c: GeometryCondition, s: SeriesFacts): Outcome {
  const g = s.geometry;
  const checks: (boolean | undefined)[] = [];
  if (c.orientation) checks.push(g.orientation === undefined ? undefined : c.orientation.includes(g.orientation));
  if (c.sliceSpacingMm)
    checks.push(g.sliceSpacingMm === undefined ? undefined : inRange(g.sliceSpacingMm, c.sliceSpacingMm));
  if (c.sliceCount) checks.push(inRange(g.sliceCount, c.sliceCount));
  if (c.inPlaneResolutionMm)
    checks.push(
      g.inPlaneResolutionMm === undefined ? undefined : inRange(g.inPlaneResolutionMm, c.inPlaneResolutionMm),
    );
  if (checks.some((x) => x === false)) return 'failed';
  if (checks.some((x) => x === undefined)) return missingOutcome(c);
  return 'held';
}

const passes = (o: Outcome): boolean => o === 'held' || o === 'missing: match';

function choose(rule: Rule, candidates: SeriesFacts[]): SeriesFacts | undefined {
  const byUid = (a: SeriesFacts, b: SeriesFacts): number => (a.seriesInstanceUid < b.seriesInstanceUid ? -1 : 1);
  const p = rule.prefer;
  const sorted = [...candidates].sort((a, b) => {
    if (p.by === 'thinnest-slices')
      return (
        (a.geometry.sliceSpacingMm ?? Infinity) - (b.geometry.sliceSpacingMm ?? Infinity) ||
        b.geometry.sliceCount - a.geometry.sliceCount ||
        byUid(a, b)
      );
    if (p.by === 'description') {
      const re = new RegExp(p.pattern, 'i');
      const m = (s: SeriesFacts): number => (re.test(s.seriesDescription) || re.test(s.protocolName) ? 0 : 1);
      return m(a) - m(b) || b.geometry.sliceCount - a.geometry.sliceCount || byUid(a, b);
    }
    return b.geometry.sliceCount - a.geometry.sliceCount || byUid(a, b);
  });
  return sorted[0];
}

export function evaluateRules(rules: RuleSet, facts: StudyFacts, models: Map<string, ModelPackage>): RoutingDecision {
  const evaluations: RuleEvaluation[] = [];
  const jobs: RoutingDecision['jobs'] = [];
  for (const rule of rules.rules) {
    const studyConditions = rule.study.map((c) => ({
      condition: describeCondition(c),
      outcome: c.kind === 'attribute' ? evaluateAttribute(c, facts.study) : ('failed' as Outcome),
    }));
    const applies = rule.enabled && studyConditions.every((r) => passes(r.outcome));
    const series: SeriesEvaluation[] = facts.series.map((s) => {
      const conditions = rule.series.map((c) => ({
        condition: describeCondition(c),
        outcome: c.kind === 'attribute' ? evaluateAttribute(c, s.attributes) : evaluateGeometry(c, s),
      }));
      const skipped = conditions.some((r) => r.outcome === 'missing: skip series');
      return {
        seriesInstanceUid: s.seriesInstanceUid,
        modality: s.modality,
        geometry: s.geometry,
        conditions,
        skipped,
        qualifies: applies && !skipped && conditions.every((r) => passes(r.outcome)),
      };
    });
    const chosen = applies
      ? choose(
          rule,
          facts.series.filter((_, i) => series[i].qualifies),
        )
      : undefined;
    const decisions: ModelDecision[] = rule.models.map((modelId) => {
      if (!applies) return { modelId, runs: false, why: rule.enabled ? 'study conditions not met' : 'rule disabled' };
      if (!chosen) return { modelId, runs: false, why: 'no series qualifies' };
      const pkg = models.get(modelId);
      if (!pkg) return { modelId, runs: false, why: 'model not loaded (see `ainode models list`)' };
      const acc = judgeSeries(chosen, pkg.manifest.accepts);
      if (!acc.qualifies)
        return { modelId, runs: false, why: `the model does not accept the chosen series: ${acc.why}` };
      if (jobs.some((j) => j.modelId === modelId))
        return { modelId, runs: false, why: 'already scheduled by an earlier rule' };
      return { modelId, runs: true, why: `runs on ${chosen.seriesInstanceUid}` };
    });
    for (const d of decisions)
      if (d.runs)
        jobs.push({
          rule: rule.name,
          modelId: d.modelId,
          seriesInstanceUid: chosen!.seriesInstanceUid,
          priority: rule.priority,
          ...(rule.offPeak ? { offPeak: rule.offPeak } : {}),
          destination: rule.destination,
          srProfiles: rule.srProfiles,
        });
    evaluations.push({
      rule: rule.name,
      enabled: rule.enabled,
      studyConditions,
      applies,
      series,
      chosenSeries: chosen?.seriesInstanceUid,
      models: decisions,
      priority: rule.priority,
      destination: rule.destination,
      srProfiles: rule.srProfiles,
    });
  }
  return { studyInstanceUid: facts.studyInstanceUid, rules: evaluations, jobs };
}

/** The attribute tags the rules read, by level, for the QIDO-RS includefield lists. */
export function requiredTags(rules: RuleSet): { study: string[]; series: string[] } {
  const study = new Set<string>();
  const series = new Set<string>();
  for (const r of rules.rules) {
    for (const c of r.study) if (c.kind === 'attribute') study.add(c.tag);
    for (const c of r.series) if (c.kind === 'attribute') series.add(c.tag);
  }
  return { study: [...study], series: [...series] };
}
