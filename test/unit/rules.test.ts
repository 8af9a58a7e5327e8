/**
 * Issue 5: the rules schema (problems with path and line) and rule evaluation, table-driven,
 * including every missing-attribute policy and the geometry conditions.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { parseRules, RulesError, type AttributeCondition, type GeometryCondition } from '../../src/rules/schema';
import { evaluateAttribute, evaluateGeometry, evaluateRules, type Outcome } from '../../src/rules/evaluate';
import { RulesStore } from '../../src/rules/rules-store';
import { offPeakDelay } from '../../src/intake/study-intake';
import type { SeriesFacts } from '../../src/rules/study-facts';
import { createLogger } from '../../src/observability/logger';
import { loadModelPackages } from '../../src/inference/model-package';
import { REPO_ROOT } from '../support/ainode-process';
import { tempDir } from '../support/env';

function problems(text: string): string[] {
  try {
    parseRules(text, 'test.yaml');
  } catch (e) {
    if (e instanceof RulesError) return e.problems;
    throw e;
  }
  return [];
}

const cond = (yaml: string): AttributeCondition | GeometryCondition =>
  parseRules(
    `version: 1\nrules:\n  - name: r\n    models: [m]\n    series:\n      - ${yaml.split('\n').join('\n        ')}\n`,
  ).rules[0].series[0];

describe('rules schema: every problem with its path and line', () => {
  const cases: [string, string, RegExp][] = [
    ['YAML syntax', 'version: 1\nrules: [\n', /^YAML \(line \d+\)/],
    ['wrong version', 'version: 2\nrules: []\n', /^\/version \(line 1\): must be 1$/],
    [
      'unknown rule field',
      'version: 1\nrules:\n  - name: a\n    models: [x]\n    modles: [y]\n',
      /^\/rules\/0\/modles \(line 5\): is not a known field/,
    ],
    [
      'unknown attribute',
      'version: 1\nrules:\n  - name: a\n    models: [x]\n    series:\n      - attribute: SliceThicknes\n        range: { max: 3 }\n',
      /^\/rules\/0\/series\/0\/attribute \(line 6\): "SliceThicknes" is not a DICOM keyword or tag$/,
    ],
    [
      'range not a number',
      'version: 1\nrules:\n  - name: a\n    models: [x]\n    series:\n      - attribute: SliceThickness\n        range: { max: thin }\n',
      /^\/rules\/0\/series\/0\/range\/max \(line 7\): must be a number$/,
    ],
    [
      'two tests in one condition',
      'version: 1\nrules:\n  - name: a\n    models: [x]\n    series:\n      - attribute: Modality\n        equals: CT\n        regex: CT\n',
      /needs exactly one of/,
    ],
    [
      'bad missing policy',
      'version: 1\nrules:\n  - name: a\n    models: [x]\n    series:\n      - attribute: Modality\n        equals: CT\n        ifMissing: maybe\n',
      /ifMissing \(line 8\): must be match, no-match or skip/,
    ],
    [
      'bad regex',
      "version: 1\nrules:\n  - name: a\n    models: [x]\n    series:\n      - attribute: SeriesDescription\n        regex: '('\n",
      /is not a regular expression/,
    ],
    [
      'unknown destination',
      'version: 1\nrules:\n  - name: a\n    models: [x]\n    destination: elsewhere\n',
      /"elsewhere" is not a declared destination/,
    ],
    [
      'geometry at study level',
      'version: 1\nrules:\n  - name: a\n    models: [x]\n    study:\n      - geometry: { sliceCount: { min: 3 } }\n',
      /geometry conditions belong to series/,
    ],
    [
      'unknown SR profile',
      'version: 1\nrules:\n  - name: a\n    models: [x]\n    srProfiles: [standard, ohif]\n',
      /^\/rules\/0\/srProfiles\/1 \(line 5\): must be standard or viewer$/,
    ],
    [
      'empty SR profiles',
      'version: 1\nrules:\n  - name: a\n    models: [x]\n    srProfiles: []\n',
      /srProfiles \(line 5\): must be a non-empty list/,
    ],
    [
      'bad off-peak time',
      'version: 1\nrules:\n  - name: a\n    models: [x]\n    offPeak: { start: "25:00", end: "06:00" }\n',
      /offPeak\/start \(line 5\): must be a time HH:MM/,
    ],
  ];
  for (const [name, text, pattern] of cases) it(name, () => expect(problems(text).join('\n')).to.match(pattern));

  it("a file with many faults: every problem at once, in the file's order, each with path and line", () => {
    const text = [
      'version: 2',
      'destinations:',
      '  r: { url: ftp://x }',
      'rules:',
      '  - name: a',
      '    models: []',
      '    priorty: stat',
      '    series:',
      '      - attribute: Modalty',
      '        equals: CT',
      '        ifMissing: maybe',
      '      - geometry: { orientation: [oblique], sliceCount: { min: ten } }',
      '      - { attribute: SeriesDescription, regex: "(", in: [a] }',
      '  - name: a',
      '    models: [x]',
      '    destination: nowhere',
      '    study:',
      '      - geometry: { sliceCount: { min: 3 } }',
      '',
    ].join('\n');
    expect(problems(text)).to.deep.equal([
      '/version (line 1): must be 1',
      '/destinations/r/url (line 3): must be an http(s) URL',
      '/rules/0/models (line 6): must be a non-empty list of model ids',
      '/rules/0/priorty (line 7): is not a known field (allowed: name, enabled, models, priority, offPeak, destination, srProfiles, study, series, images, prefer)',
      '/rules/0/series/0/attribute (line 9): "Modalty" is not a DICOM keyword or tag',
      '/rules/0/series/0/ifMissing (line 11): must be match, no-match or skip',
      '/rules/0/series/1/geometry/orientation/0 (line 12): must be one of axial, coronal, sagittal',
      '/rules/0/series/1/geometry/sliceCount/min (line 12): must be a number',
      '/rules/0/series/2 (line 13): needs exactly one of equals, in, regex, range, present, contains (found 2)',
      '/rules/0/series/2/regex (line 13): is not a regular expression: Invalid regular expression: /(/i: Unterminated group',
      '/rules/1/name (line 14): "a" is used by an earlier rule',
      '/rules/1/destination (line 16): "nowhere" is not a declared destination',
      '/rules/1/study/0 (line 18): geometry conditions belong to series, not study',
    ]);
  });

  it('image conditions (2D models): attribute conditions on each image; geometry belongs to series', () => {
    const set = parseRules(
      'version: 1\nrules:\n  - name: mg\n    models: [x]\n    images:\n      - attribute: ViewPosition\n        in: [CC, MLO]\n',
    );
    expect(set.rules[0].images.map((c) => [c.keyword, c.in])).to.deep.equal([['ViewPosition', ['CC', 'MLO']]]);
    expect(parseRules('version: 1\nrules:\n  - name: a\n    models: [x]\n').rules[0].images).to.deep.equal([]);
    expect(
      problems(
        'version: 1\nrules:\n  - name: a\n    models: [x]\n    images:\n      - geometry: { sliceCount: { min: 1 } }\n',
      ),
    ).to.deep.equal(['/rules/0/images/0 (line 6): geometry conditions belong to series, not images']);
  });

  it('SR profiles: standard by default; a rule can ask for the viewer profile too', () => {
    const set = parseRules(
      'version: 1\nrules:\n  - name: a\n    models: [x]\n  - name: b\n    models: [y]\n    srProfiles: [standard, viewer]\n',
    );
    expect(set.rules.map((r) => r.srProfiles)).to.deep.equal([['standard'], ['standard', 'viewer']]);
  });

  it('the shipped default rules are valid', () => {
    const set = parseRules(fs.readFileSync(path.join(REPO_ROOT, 'deploy', 'rules', 'default.yaml'), 'utf8'));
    expect(set.rules.map((r) => r.name)).to.deep.equal(['chest-ct-lungs', 'brain-t1-tissue']);
  });
});

describe('rule evaluation: attribute conditions and missing-attribute policies', () => {
  const ds = {
    '00080060': { vr: 'CS', Value: ['CT'] },
    '00080008': { vr: 'CS', Value: ['ORIGINAL', 'PRIMARY', 'AXIAL'] },
    '00180050': { vr: 'DS', Value: [1.25] },
    '00101010': { vr: 'AS', Value: ['058Y'] },
    '0008103E': { vr: 'LO', Value: ['Thorax 1.25 B70f'] },
    '00201209': { vr: 'IS', Value: [312] },
    '00180015': { vr: 'CS' },
  };
  const table: [string, string, Outcome][] = [
    ['equals', 'attribute: Modality\nequals: CT', 'held'],
    ['equals is case-insensitive', 'attribute: Modality\nequals: ct', 'held'],
    ['equals fails', 'attribute: Modality\nequals: MR', 'failed'],
    ['in list', 'attribute: Modality\nin: [MR, CT]', 'held'],
    ['tag instead of keyword', "attribute: '00080060'\nequals: CT", 'held'],
    ['regex', 'attribute: SeriesDescription\nregex: thorax|chest', 'held'],
    ['numeric range', 'attribute: SliceThickness\nrange: { max: 1.5 }', 'held'],
    ['numeric range fails', 'attribute: SliceThickness\nrange: { min: 2 }', 'failed'],
    ['PatientAge in years', 'attribute: PatientAge\nrange: { min: 18, max: 65 }', 'held'],
    ['number of instances', 'attribute: NumberOfSeriesRelatedInstances\nrange: { min: 100 }', 'held'],
    ['ImageType contains', 'attribute: ImageType\ncontains: AXIAL', 'held'],
    ['negated contains', 'attribute: ImageType\ncontains: LOCALIZER\nnegate: true', 'held'],
    ['present', 'attribute: SliceThickness\npresent: true', 'held'],
    ['absent (empty value counts as absent)', 'attribute: BodyPartExamined\npresent: false', 'held'],
    ['missing -> no-match by default', 'attribute: BodyPartExamined\nequals: CHEST', 'missing: no match'],
    ['missing -> match', 'attribute: BodyPartExamined\nequals: CHEST\nifMissing: match', 'missing: match'],
    [
      'missing -> skip the series',
      'attribute: BodyPartExamined\nequals: CHEST\nifMissing: skip',
      'missing: skip series',
    ],
    ['missing private/custom tag', "attribute: '00191010'\nequals: X\nifMissing: match", 'missing: match'],
  ];
  for (const [name, yaml, expected] of table)
    it(name, () => expect(evaluateAttribute(cond(yaml) as AttributeCondition, ds)).to.equal(expected));
});

describe('rule evaluation: geometry conditions', () => {
  const series = (g: SeriesFacts['geometry']): SeriesFacts => ({
    seriesInstanceUid: '1.2',
    modality: 'CT',
    studyDescription: '',
    seriesDescription: '',
    protocolName: '',
    bodyPartExamined: '',
    manufacturer: '',
    numberOfInstances: g.sliceCount,
    imageType: [],
    imageOrientationPatient: undefined,
    attributes: {},
    geometry: g,
  });
  const table: [string, string, SeriesFacts['geometry'], Outcome][] = [
    ['orientation', 'geometry: { orientation: [axial] }', { orientation: 'axial', sliceCount: 64 }, 'held'],
    ['orientation fails', 'geometry: { orientation: [axial] }', { orientation: 'coronal', sliceCount: 64 }, 'failed'],
    [
      'oblique counts as missing',
      'geometry: { orientation: [axial] }\nifMissing: skip',
      { sliceCount: 64 },
      'missing: skip series',
    ],
    ['slice spacing', 'geometry: { sliceSpacingMm: { max: 3 } }', { sliceSpacingMm: 5, sliceCount: 64 }, 'failed'],
    ['slice count', 'geometry: { sliceCount: { min: 100 } }', { sliceCount: 64 }, 'failed'],
    [
      'in-plane resolution',
      'geometry: { inPlaneResolutionMm: { max: 1 } }',
      { inPlaneResolutionMm: 0.84, sliceCount: 64 },
      'held',
    ],
    [
      'unknown spacing -> match',
      'geometry: { sliceSpacingMm: { max: 3 } }\nifMissing: match',
      { sliceCount: 1 },
      'missing: match',
    ],
  ];
  for (const [name, yaml, g, expected] of table)
    it(name, () => expect(evaluateGeometry(cond(yaml) as GeometryCondition, series(g))).to.equal(expected));

  it('preference picks the thinnest slices, then most slices; a later rule does not schedule a model twice', () => {
    const set = parseRules(
      'version: 1\nrules:\n  - name: a\n    models: [ct-lung]\n    prefer: thinnest-slices\n    series:\n      - attribute: Modality\n        equals: CT\n  - name: b\n    models: [ct-lung]\n',
    );
    const mk = (uid: string, spacing: number, count: number): SeriesFacts => ({
      ...series({ orientation: 'axial', sliceSpacingMm: spacing, sliceCount: count }),
      seriesInstanceUid: uid,
      studyDescription: 'Chest',
      imageOrientationPatient: [1, 0, 0, 0, 1, 0],
      attributes: { '00080060': { vr: 'CS', Value: ['CT'] } },
    });
    const { packages } = loadModelPackages(path.join(REPO_ROOT, 'models'));
    const d = evaluateRules(
      set,
      { studyInstanceUid: '1.2.3', study: {}, series: [mk('1.1', 5, 64), mk('1.2', 1.25, 256), mk('1.3', 1.25, 200)] },
      packages,
    );
    expect(d.rules[0].chosenSeries).to.equal('1.2');
    expect(d.jobs).to.deep.equal([
      {
        rule: 'a',
        modelId: 'ct-lung',
        seriesInstanceUid: '1.2',
        priority: 'routine',
        destination: 'source',
        srProfiles: ['standard'],
      },
    ]);
    expect(d.rules[1].models[0].why).to.equal('already scheduled by an earlier rule');
  });
});

describe('rules store: hot reload', () => {
  const good = 'version: 1\nrules:\n  - name: a\n    models: [ct-lung]\n';
  it('a valid change takes effect; an invalid one keeps the previous rules and is reported', async () => {
    const file = path.join(tempDir('rules'), 'rules.yaml');
    fs.writeFileSync(file, good);
    const store = new RulesStore(file, createLogger({ level: 'silent' }));
    store.load();
    fs.writeFileSync(file, good.replace('name: a', 'name: b'));
    fs.utimesSync(file, new Date(), new Date(Date.now() + 2000));
    store.reloadIfChanged();
    expect(store.rules.rules[0].name).to.equal('b');
    fs.writeFileSync(file, 'version: 1\nrules:\n  - name: c\n    modles: [x]\n');
    fs.utimesSync(file, new Date(), new Date(Date.now() + 4000));
    store.reloadIfChanged();
    expect(store.rules.rules[0].name).to.equal('b');
    expect(store.status().error).to.match(/\/rules\/0\/modles \(line 4\)/);
  });
});

describe('priorities: off-peak window', () => {
  const at = (h: number, m: number): Date => new Date(2026, 10, 29, h, m, 0, 0);
  it('inside the window: no delay; before it: until it opens; windows may wrap midnight', () => {
    expect(offPeakDelay({ start: '20:00', end: '06:00' }, at(23, 0))).to.equal(0);
    expect(offPeakDelay({ start: '20:00', end: '06:00' }, at(3, 0))).to.equal(0);
    expect(offPeakDelay({ start: '20:00', end: '06:00' }, at(19, 30))).to.equal(30 * 60_000);
    expect(offPeakDelay({ start: '01:00', end: '05:00' }, at(6, 0))).to.equal(19 * 3600_000);
  });
});
