/**
 * The published JSON Schemas (src/contracts/schemas/): valid schemas, the ones the node checks
 * with, every shipped rules file, manifest and documented example conforms, the shipped files
 * point an editor at them, and their value lists agree with the code's.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import Ajv from 'ajv';
import { parse } from 'yaml';
import { schemaProblems } from '../../src/contracts/validate';
import { SR_PROFILES } from '../../src/contracts/sr-profile';
import { KNOWN_VARIABLES } from '../../src/config/schema';
import { parseRules } from '../../src/rules/schema';
import { parseManifest } from '../../src/inference/manifest';
import rulesSchema from '../../src/contracts/schemas/rules.schema.json';
import manifestSchema from '../../src/contracts/schemas/manifest.schema.json';
import configSchema from '../../src/contracts/schemas/config.schema.json';
import { REPO_ROOT } from '../support/ainode-process';

const SCHEMAS = path.join(REPO_ROOT, 'src', 'contracts', 'schemas');

describe('published JSON Schemas', () => {
  it('each is a valid draft-07 schema that a plain ajv (as an editor or CI would use) compiles', () => {
    for (const file of fs.readdirSync(SCHEMAS).filter((f) => f.endsWith('.schema.json'))) {
      const schema = JSON.parse(fs.readFileSync(path.join(SCHEMAS, file), 'utf8')) as object;
      const plain = new Ajv({ strict: false });
      expect(plain.validateSchema(schema), `${file}: ${plain.errorsText()}`).to.equal(true);
      expect(() => plain.compile(schema), file).not.to.throw();
    }
  });

  it('the node checks with the published files themselves (the compiled copies are the same text)', () => {
    for (const [name, schema] of [
      ['rules', rulesSchema],
      ['manifest', manifestSchema],
      ['config', configSchema],
    ] as const)
      expect(schema, name).to.deep.equal(
        JSON.parse(fs.readFileSync(path.join(SCHEMAS, `${name}.schema.json`), 'utf8')),
      );
  });

  it('every shipped rules file conforms and names the schema for editors', () => {
    const dir = path.join(REPO_ROOT, 'deploy', 'rules');
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    expect(files).to.not.be.empty;
    for (const f of files) {
      const text = fs.readFileSync(path.join(dir, f), 'utf8');
      expect(text.split('\n')[0], f).to.equal(
        '# yaml-language-server: $schema=../../src/contracts/schemas/rules.schema.json',
      );
      expect(schemaProblems(rulesSchema, parse(text)), f).to.deep.equal([]);
      expect(() => parseRules(text, f)).not.to.throw();
    }
  });

  it("docs/rules.md's format example conforms (the guide shows a file the node accepts)", () => {
    const doc = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'rules.md'), 'utf8');
    const [, example] = /## Format\s+```yaml\n([\s\S]*?)```/.exec(doc) ?? [];
    expect(example, 'the yaml block under "## Format"').to.be.a('string');
    expect(schemaProblems(rulesSchema, parse(example))).to.deep.equal([]);
    expect(parseRules(example).rules[0].srProfiles).to.deep.equal(['standard', 'viewer']);
  });

  it('every shipped manifest conforms and names the schema for editors', () => {
    const dir = path.join(REPO_ROOT, 'models');
    const ids = fs.readdirSync(dir).filter((d) => fs.existsSync(path.join(dir, d, 'manifest.json')));
    expect(ids).to.include.members(['ct-lung', 'mr-brain-tissue']);
    for (const id of ids) {
      const raw = JSON.parse(fs.readFileSync(path.join(dir, id, 'manifest.json'), 'utf8')) as Record<string, unknown>;
      expect(raw.$schema, id).to.equal('../../src/contracts/schemas/manifest.schema.json');
      expect(fs.existsSync(path.resolve(dir, id, raw.$schema as string)), id).to.equal(true);
      expect(schemaProblems(manifestSchema, raw), id).to.deep.equal([]);
      expect(parseManifest(raw, id).id).to.equal(id);
    }
  });

  it("value lists agree with the code's", () => {
    const rule = rulesSchema.definitions.rule.properties;
    expect(rule.srProfiles.items.enum).to.deep.equal([...SR_PROFILES]);
    const orientations = ['axial', 'coronal', 'sagittal'];
    expect(
      rulesSchema.definitions.geometryCondition.properties.geometry.properties.orientation.items.enum,
    ).to.deep.equal(orientations);
    expect(manifestSchema.definitions.accepts.properties.orientation.items.enum).to.deep.equal(orientations);
    expect(Object.keys(configSchema.properties)).to.deep.equal([...KNOWN_VARIABLES]);
  });

  it('docs/configuration.md documents every variable of the configuration schema, and no other', () => {
    const doc = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'configuration.md'), 'utf8');
    const table = doc.split('\n').filter((l) => l.startsWith('| `AINODE_'));
    const documented = new Set(
      table.flatMap((l) => [...l.split('|')[1].matchAll(/`(AINODE_[A-Z0-9_]+)`/g)].map((m) => m[1])),
    );
    expect([...documented].sort()).to.deep.equal([...KNOWN_VARIABLES].sort());
  });
});
