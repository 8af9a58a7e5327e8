// How ajv and zod were compared for ainode's one schema library (docs/architecture.md,
// "Validation"). Not part of the build: run it in a scratch folder, after `npm i ajv@8 zod@4`,
// with `node validators.cjs`. The same shape (the rules file's conditions, a union told apart by
// a field's presence) is written in both; six documents with planted faults are checked, and each
// library's issues are matched against the faults' paths. Speed: one valid and one three-fault
// document, checked many times.
const Ajv = require('ajv'); const { z } = require('zod');
const range = { type: 'object', additionalProperties: false, minProperties: 1, properties: { min: { type: 'number' }, max: { type: 'number' } } };
const attr = { type: 'object', additionalProperties: false, required: ['attribute'], properties: {
  attribute: { type: 'string', minLength: 1 }, equals: { type: ['string', 'number'] }, in: { type: 'array', minItems: 1, items: { type: ['string', 'number'] } },
  regex: { type: 'string', minLength: 1 }, range, present: { type: 'boolean' }, contains: { type: 'string' }, negate: { type: 'boolean' },
  ifMissing: { enum: ['match', 'no-match', 'skip'] } } };
const geo = { type: 'object', additionalProperties: false, required: ['geometry'], properties: { ifMissing: { enum: ['match', 'no-match', 'skip'] },
  geometry: { type: 'object', additionalProperties: false, minProperties: 1, properties: { orientation: { type: 'array', items: { enum: ['axial', 'coronal', 'sagittal'] } }, sliceSpacingMm: range, sliceCount: range } } } };
const cond = { if: { type: 'object', properties: { geometry: true }, required: ['geometry'] }, then: geo, else: attr };
const rule = { type: 'object', additionalProperties: false, required: ['name', 'models'], properties: {
  name: { type: 'string', minLength: 1 }, enabled: { type: 'boolean' }, models: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
  priority: { enum: ['stat', 'routine'] }, destination: { type: 'string' }, study: { type: 'array', items: cond }, series: { type: 'array', items: cond } } };
const schema = { type: 'object', additionalProperties: false, required: ['version', 'rules'], properties: { version: { const: 1 }, rules: { type: 'array', items: rule } } };
const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }); const check = ajv.compile(schema);

const zr = z.strictObject({ min: z.number().optional(), max: z.number().optional() });
const zm = z.enum(['match', 'no-match', 'skip']).optional();
const zattr = z.strictObject({ attribute: z.string().min(1), equals: z.union([z.string(), z.number()]).optional(), in: z.array(z.union([z.string(), z.number()])).min(1).optional(),
  regex: z.string().min(1).optional(), range: zr.optional(), present: z.boolean().optional(), contains: z.string().optional(), negate: z.boolean().optional(), ifMissing: zm });
const zgeo = z.strictObject({ ifMissing: zm, geometry: z.strictObject({ orientation: z.array(z.enum(['axial', 'coronal', 'sagittal'])).optional(), sliceSpacingMm: zr.optional(), sliceCount: zr.optional() }) });
const zcond = z.union([zgeo, zattr]);
const zrule = z.strictObject({ name: z.string().min(1), enabled: z.boolean().optional(), models: z.array(z.string().min(1)).min(1), priority: z.enum(['stat', 'routine']).optional(),
  destination: z.string().optional(), study: z.array(zcond).optional(), series: z.array(zcond).optional() });
const zs = z.strictObject({ version: z.literal(1), rules: z.array(zrule) });

const good = { version: 1, rules: [{ name: 'ct', models: ['m'], priority: 'stat', study: [{ attribute: 'ModalitiesInStudy', in: ['CT'] }],
  series: [{ attribute: 'Modality', equals: 'CT' }, { geometry: { orientation: ['axial'], sliceSpacingMm: { max: 5 } } }] }] };
const clone = (x) => JSON.parse(JSON.stringify(x));
// Each case: a document with planted faults and the paths they sit at.
const cases = [];
const add = (label, f, paths) => { const d = clone(good); f(d); cases.push({ label, d, paths }); };
add('typo in field', (d) => { d.rules[0].priorty = 'stat'; delete d.rules[0].priority; }, ['/rules/0/priorty']);
add('wrong type in condition', (d) => { d.rules[0].series[0].negate = 'yes'; }, ['/rules/0/series/0/negate']);
add('bad enum in geometry', (d) => { d.rules[0].series[1].geometry.orientation = ['oblique']; }, ['/rules/0/series/1/geometry/orientation/0']);
add('three faults', (d) => { d.version = 2; d.rules[0].models = []; d.rules[0].series[1].geometry.sliceCount = { min: 'ten' }; }, ['/version', '/rules/0/models', '/rules/0/series/1/geometry/sliceCount/min']);
add('missing attribute', (d) => { delete d.rules[0].series[0].attribute; }, ['/rules/0/series/0']);
add('unknown key in geometry cond', (d) => { d.rules[0].series[1].extra = 1; }, ['/rules/0/series/1/extra']);
for (const lib of ['ajv', 'zod']) {
  let found = 0, planted = 0, noise = 0;
  for (const c of cases) {
    const issues = lib === 'ajv' ? (check(c.d) ? [] : check.errors.filter((e) => e.keyword !== 'if').map((e) => ({ p: e.instancePath + (e.params.additionalProperty ? '/' + e.params.additionalProperty : ''), m: e.message })))
      : (zs.safeParse(c.d).error?.issues ?? []).flatMap((i) => (i.code === 'unrecognized_keys' ? i.keys.map((k) => ({ p: '/' + [...i.path, k].join('/'), m: i.message })) : [{ p: '/' + i.path.join('/'), m: i.message }]));
    planted += c.paths.length;
    const hit = c.paths.filter((p) => issues.some((i) => i.p.replace(/\/$/, '') === p.replace(/\/$/, '') || (p.endsWith('/0') && i.p === p.slice(0, -2)))).length;
    found += hit; noise += Math.max(0, issues.length - hit);
    console.log(lib, '|', c.label, '|', JSON.stringify(issues));
  }
  const N = 200000; const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) lib === 'ajv' ? check(good) : zs.safeParse(good);
  const okUs = Number(process.hrtime.bigint() - t0) / 1e3 / N;
  const bad = cases[3].d; const t1 = process.hrtime.bigint();
  for (let i = 0; i < N / 10; i++) lib === 'ajv' ? check(bad) : zs.safeParse(bad);
  const badUs = Number(process.hrtime.bigint() - t1) / 1e3 / (N / 10);
  console.log(`SUMMARY ${lib}: planted faults located ${found}/${planted}, extra issues ${noise}, valid doc ${okUs.toFixed(2)} us, 3-fault doc ${badUs.toFixed(2)} us`);
}
