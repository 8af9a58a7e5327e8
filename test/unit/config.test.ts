import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { tempDir } from '../support/env';
import { KNOWN_VARIABLES, loadConfig, loadViewerSettings, SECRET_VARIABLES } from '../../src/config/schema';
import { REPO_ROOT } from '../support/ainode-process';
import { ConfigError } from '../../src/errors';
import { AINODE_BIN } from '../support/ainode-process';

const base = { AINODE_DICOMWEB_URL: 'http://127.0.0.1:8042/dicom-web', AINODE_REDIS_URL: 'redis://127.0.0.1:6379' };

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (e) {
    expect(e).to.be.instanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('loadConfig accepted a bad configuration');
}

describe('config: one schema, validated at start', () => {
  it('works with only the two required variables, with documented defaults', () => {
    const c = loadConfig(base);
    expect(c.dicomweb.url).to.equal('http://127.0.0.1:8042/dicom-web');
    expect(c.orthancUrl).to.equal('http://127.0.0.1:8042');
    expect(c.redisPrefix).to.equal('ainode');
    expect(c.pacsKind).to.equal('auto');
    expect(c.executionProviders).to.deep.equal(['cuda', 'cpu']);
    expect(c.dicomweb.username).to.equal(undefined);
  });

  const cases: [string, Record<string, string>, string, RegExp][] = [
    ['missing DICOMweb URL', { AINODE_REDIS_URL: base.AINODE_REDIS_URL }, 'AINODE_DICOMWEB_URL', /required/],
    ['missing Redis URL', { AINODE_DICOMWEB_URL: base.AINODE_DICOMWEB_URL }, 'AINODE_REDIS_URL', /required/],
    [
      'DICOMweb URL not a URL',
      { ...base, AINODE_DICOMWEB_URL: 'orthanc:8042' },
      'AINODE_DICOMWEB_URL',
      /must use http/,
    ],
    [
      'Redis URL with the wrong scheme',
      { ...base, AINODE_REDIS_URL: 'http://127.0.0.1:6379' },
      'AINODE_REDIS_URL',
      /redis:/,
    ],
    ['user without password', { ...base, AINODE_DICOMWEB_USERNAME: 'u' }, 'AINODE_DICOMWEB_PASSWORD', /both/],
    [
      'poll interval not a number',
      { ...base, AINODE_POLL_INTERVAL_MS: 'fast' },
      'AINODE_POLL_INTERVAL_MS',
      /whole number/,
    ],
    ['unknown PACS kind', { ...base, AINODE_PACS_KIND: 'dcm4chee' }, 'AINODE_PACS_KIND', /one of/],
    [
      'unknown execution provider',
      { ...base, AINODE_EXECUTION_PROVIDERS: 'tpu' },
      'AINODE_EXECUTION_PROVIDERS',
      /unknown provider/,
    ],
    ['prefix with a colon', { ...base, AINODE_REDIS_PREFIX: 'a:b' }, 'AINODE_REDIS_PREFIX', /letters/],
    [
      'config file missing',
      { ...base, AINODE_CONFIG_FILE: '/nonexistent/ainode.json' },
      'AINODE_CONFIG_FILE',
      /cannot read/,
    ],
  ];
  for (const [name, env, variable, pattern] of cases) {
    it(`${name} -> CONFIG_INVALID naming ${variable}`, () => {
      const e = configError(env);
      expect(e.code).to.equal('CONFIG_INVALID');
      expect(e.variable).to.equal(variable);
      expect(e.message).to.match(pattern);
    });
  }

  it('secrets can come from files (<NAME>_FILE, as Docker and Kubernetes mount them), never from both places', () => {
    const dir = tempDir('secrets');
    const file = (name: string, text: string): string => (
      fs.writeFileSync(path.join(dir, name), text),
      path.join(dir, name)
    );
    const c = loadConfig({
      AINODE_DICOMWEB_URL: base.AINODE_DICOMWEB_URL,
      AINODE_REDIS_URL_FILE: file('redis', 'redis://:s3cret@redis:6379\n'),
      AINODE_ADMIN_TOKEN_FILE: file('admin', 'a-long-admin-token-from-a-file\n'),
      AINODE_DICOMWEB_USERNAME: 'ainode',
      AINODE_DICOMWEB_PASSWORD_FILE: file('pw', 'pacs-password'),
    });
    expect(c.redisUrl).to.equal('redis://:s3cret@redis:6379');
    expect(c.admin.token).to.equal('a-long-admin-token-from-a-file');
    expect(c.dicomweb.password).to.equal('pacs-password');
    const both = configError({
      ...base,
      AINODE_ADMIN_TOKEN: 'x'.repeat(20),
      AINODE_ADMIN_TOKEN_FILE: file('t', 'y'.repeat(20)),
    });
    expect(both.variable).to.equal('AINODE_ADMIN_TOKEN_FILE');
    expect(both.message).to.match(/not both/);
    expect(configError({ ...base, AINODE_DICOMWEB_TOKEN_FILE: path.join(dir, 'missing') }).message).to.match(
      /cannot read/,
    );
    expect(configError({ ...base, AINODE_DICOMWEB_TOKEN_FILE: file('empty', '\n') }).message).to.match(/is empty/);
  });

  it('`ainode start` with a bad configuration exits non-zero and names the variable', () => {
    const r = spawnSync(process.execPath, [AINODE_BIN, 'start'], {
      env: { PATH: process.env.PATH ?? '', AINODE_REDIS_URL: 'redis://127.0.0.1:6379' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).to.equal(2);
    expect(r.stderr).to.include('AINODE_DICOMWEB_URL');
    expect(r.stderr).to.match(/configuration error/);
  });

  it('`ainode start --role` with an unknown role exits non-zero with usage', () => {
    const r = spawnSync(process.execPath, [AINODE_BIN, 'start', '--role', 'scheduler'], {
      env: { PATH: process.env.PATH ?? '', ...base },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).to.equal(2);
    expect(r.stderr).to.match(/--role must be listener, worker or admin/);
  });

  it('reports every problem at once, each with its variable', () => {
    const e = configError({
      AINODE_REDIS_URL: 'http://wrong',
      AINODE_WORKER_CONCURRENCY: 'two',
      AINODE_PACS_KIND: 'pacs',
      AINODE_ADMIN_HOST: 'not a host!',
    });
    expect(e.problems.map((p) => p.variable)).to.deep.equal([
      'AINODE_ADMIN_HOST',
      'AINODE_DICOMWEB_URL',
      'AINODE_PACS_KIND',
      'AINODE_REDIS_URL',
      'AINODE_WORKER_CONCURRENCY',
    ]);
    const r = spawnSync(process.execPath, [AINODE_BIN, 'start'], {
      env: { PATH: process.env.PATH ?? '', AINODE_WORKER_CONCURRENCY: 'two', AINODE_PACS_KIND: 'pacs' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).to.equal(2);
    expect(r.stderr.match(/^ainode: configuration error: /gm)).to.have.length(4);
  });

  it('warns about AINODE_* variables it does not read, naming the closest one', () => {
    const c = loadConfig({
      ...base,
      AINODE_WORKER_CONCURENCY: '4',
      AINODE_SOMETHING_ELSE_ENTIRELY: 'x',
      AINODE_TEST_REDIS_URL: 'ignored',
    });
    expect(c.warnings).to.deep.equal([
      'AINODE_SOMETHING_ELSE_ENTIRELY is not a variable ainode reads (docs/configuration.md lists them)',
      'AINODE_WORKER_CONCURENCY is not a variable ainode reads; did you mean AINODE_WORKER_CONCURRENCY? (docs/configuration.md lists them)',
    ]);
    expect(loadConfig(base).warnings).to.deep.equal([]);
    expect(loadViewerSettings({ ...base, AINODE_VIEWER_PROT: '3000' }).warnings[0]).to.match(
      /did you mean AINODE_VIEWER_PORT\?/,
    );
  });

  it('KNOWN_VARIABLES is every AINODE_* variable the code reads', () => {
    const found = new Set<string>();
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (p.endsWith('.ts')) {
          // The list itself is left out of what is searched: the code that reads must name them.
          const text = fs.readFileSync(p, 'utf8').replace(/export const KNOWN_VARIABLES[\s\S]*?\];/, '');
          for (const m of text.matchAll(/\bAINODE_[A-Z0-9_]*[A-Z0-9]\b/g)) found.add(m[0]);
        }
      }
    };
    walk(path.join(REPO_ROOT, 'src'));
    const secretFiles = new Set(SECRET_VARIABLES.map((v) => `${v}_FILE`));
    // Names in the code that are not variables: the implementation version and two constants.
    const constants = new Set(['AINODE_0_1', 'AINODE_EQUIPMENT', 'AINODE_SCHEME']);
    const read = [...found].filter((v) => !secretFiles.has(v) && !constants.has(v)).sort();
    expect([...KNOWN_VARIABLES].sort()).to.deep.equal(read);
  });

  it("the viewer reads the PACS settings with the node's checks, every problem at once", () => {
    let err: unknown;
    try {
      loadViewerSettings({
        AINODE_DICOMWEB_URL: 'http://u:p@pacs/dicom-web',
        AINODE_DICOMWEB_USERNAME: 'x',
        AINODE_VIEWER_PORT: 'x',
      });
    } catch (e) {
      err = e;
    }
    expect((err as ConfigError).problems.map((p) => p.variable)).to.deep.equal([
      'AINODE_DICOMWEB_PASSWORD',
      'AINODE_DICOMWEB_URL',
      'AINODE_VIEWER_PORT',
    ]);
  });
});
