/**
 * The one schema library: JSON Schema (draft 2020-12 subset), checked by ajv. The schema files in
 * src/contracts/schemas/ are the contract itself: the node validates with them and an editor can
 * load the same files to complete and check a rules file or a manifest. ajv was chosen over zod
 * by measurement (docs/architecture.md, "Validation").
 *
 * Every problem is reported at once, each with its JSON path. A schema can word its own message
 * with `errorMessage` (VS Code's JSON editor shows the same field), else a plain one is built
 * from ajv's error ("must be a number", "is not a known field (allowed: ...)").
 */
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';

export type SchemaPath = (string | number)[];
export interface Problem {
  path: SchemaPath;
  message: string;
}

/** `/a/0/b` of a path ("/" for the document itself). */
export function pointer(path: SchemaPath): string {
  return `/${path.join('/')}`;
}

type SchemaObject = Record<string, unknown>;

// strictRequired off: an if/then branch requires fields that the enclosing schema defines (standard JSON Schema).
const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true, verbose: true });
ajv.addKeyword({ keyword: 'errorMessage', schemaType: 'string' });
const compiled = new WeakMap<object, ValidateFunction>();

function decodePointer(p: string): SchemaPath {
  if (p === '') return [];
  return p
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  integer: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'an object',
  null: 'empty',
};

function typeWords(t: unknown): string {
  const types = Array.isArray(t) ? t : [t];
  return types.map((x) => TYPE_WORDS[String(x)] ?? String(x)).join(' or ');
}

function messageOf(e: ErrorObject): Problem | undefined {
  const at = decodePointer(e.instancePath);
  const parent = (e.parentSchema ?? {}) as SchemaObject;
  const own = typeof parent.errorMessage === 'string' ? parent.errorMessage : undefined;
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'if': // the branch's own errors say what is wrong
    case 'anyOf':
    case 'oneOf':
      return own ? { path: at, message: own } : undefined;
    case 'additionalProperties': {
      const allowed = Object.keys((parent.properties as SchemaObject | undefined) ?? {});
      return {
        path: [...at, String(p.additionalProperty)],
        message: allowed.length ? `is not a known field (allowed: ${allowed.join(', ')})` : 'is not a known field',
      };
    }
    case 'required':
      return { path: [...at, String(p.missingProperty)], message: 'is required' };
  }
  if (own) return { path: at, message: own };
  switch (e.keyword) {
    case 'type':
      return {
        path: at,
        message:
          parent.type === 'string' && parent.minLength === 1
            ? 'must be a non-empty string'
            : `must be ${typeWords(p.type)}`,
      };
    case 'minLength':
      return {
        path: at,
        message: p.limit === 1 ? 'must be a non-empty string' : `must have at least ${p.limit} characters`,
      };
    case 'maxLength':
      return { path: at, message: `must have at most ${p.limit} characters` };
    case 'enum':
      return { path: at, message: `must be one of ${(parent.enum as unknown[]).join(', ')}` };
    case 'const':
      return { path: at, message: `must be ${JSON.stringify(parent.const)}` };
    case 'pattern':
      return { path: at, message: `must match /${String(p.pattern)}/` };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return {
        path: at,
        message:
          parent.minimum !== undefined && parent.maximum !== undefined
            ? `must be between ${String(parent.minimum)} and ${String(parent.maximum)}`
            : `must be ${String(p.comparison)} ${String(p.limit)}`,
      };
    case 'minItems':
      return { path: at, message: `must have at least ${String(p.limit)} item(s)` };
    case 'maxItems':
      return { path: at, message: `must have at most ${String(p.limit)} item(s)` };
    case 'uniqueItems':
      return { path: at, message: `must not repeat an item (items ${String(p.j)} and ${String(p.i)} are equal)` };
    case 'minProperties':
      return { path: at, message: `must have at least ${String(p.limit)} field(s)` };
  }
  return { path: at, message: e.message ?? `fails ${e.keyword}` };
}

/**
 * The problems of `doc` against `schema` (empty when it conforms). Defaults are not filled in:
 * a document is never changed by its check.
 */
export function schemaProblems(schema: object, doc: unknown): Problem[] {
  let check = compiled.get(schema);
  if (!check) {
    check = ajv.compile(schema);
    compiled.set(schema, check);
  }
  if (check(doc)) return [];
  const errors = check.errors ?? [];
  // A union (anyOf/oneOf) that words its own message speaks for its branches' errors.
  const unions = errors
    .filter((e) => (e.keyword === 'anyOf' || e.keyword === 'oneOf') && typeof e.parentSchema?.errorMessage === 'string')
    .map((e) => `${e.schemaPath}/`);
  const seen = new Set<string>();
  const out: Problem[] = [];
  for (const e of errors) {
    if (unions.some((u) => e.schemaPath.startsWith(u))) continue;
    const problem = messageOf(e);
    if (!problem) continue;
    const key = `${pointer(problem.path)} ${problem.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(problem);
  }
  return out;
}

/** A JSON object (not an array or null): what the semantic checks read fields of. */
export function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A regular expression's problem (the rules and manifests compile theirs case-insensitively). */
export function regexProblem(source: unknown): string | undefined {
  if (typeof source !== 'string') return undefined;
  try {
    new RegExp(source, 'i');
    return undefined;
  } catch (e) {
    return `is not a regular expression: ${(e as Error).message}`;
  }
}
