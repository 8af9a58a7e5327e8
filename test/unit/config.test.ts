import { expect } from 'chai';
import { spawnSync } from 'child_process';
import { loadConfig } from '../../src/config/schema';
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
    ['DICOMweb URL not a URL', { ...base, AINODE_DICOMWEB_URL: 'orthanc:8042' }, 'AINODE_DICOMWEB_URL', /must use http/],
    ['Redis URL with the wrong scheme', { ...base, AINODE_REDIS_URL: 'http://127.0.0.1:6379' }, 'AINODE_REDIS_URL', /redis:/],
    ['user without password', { ...base, AINODE_DICOMWEB_USERNAME: 'u' }, 'AINODE_DICOMWEB_PASSWORD', /both/],
    ['poll interval not a number', { ...base, AINODE_POLL_INTERVAL_MS: 'fast' }, 'AINODE_POLL_INTERVAL_MS', /whole number/],
    ['unknown PACS kind', { ...base, AINODE_PACS_KIND: 'dcm4chee' }, 'AINODE_PACS_KIND', /one of/],
    ['unknown execution provider', { ...base, AINODE_EXECUTION_PROVIDERS: 'tpu' }, 'AINODE_EXECUTION_PROVIDERS', /unknown provider/],
    ['prefix with a colon', { ...base, AINODE_REDIS_PREFIX: 'a:b' }, 'AINODE_REDIS_PREFIX', /letters/],
    ['config file missing', { ...base, AINODE_CONFIG_FILE: '/nonexistent/ainode.json' }, 'AINODE_CONFIG_FILE', /cannot read/],
  ];
  for (const [name, env, variable, pattern] of cases) {
    it(`${name} -> CONFIG_INVALID naming ${variable}`, () => {
      const e = configError(env);
      expect(e.code).to.equal('CONFIG_INVALID');
      expect(e.variable).to.equal(variable);
      expect(e.message).to.match(pattern);
    });
  }

  it('`ainode start` with a bad configuration exits non-zero and names the variable', () => {
    const r = spawnSync(process.execPath, [AINODE_BIN, 'start'], { env: { PATH: process.env.PATH ?? '', AINODE_REDIS_URL: 'redis://127.0.0.1:6379' }, encoding: 'utf8', timeout: 20_000 });
    expect(r.status).to.equal(2);
    expect(r.stderr).to.include('AINODE_DICOMWEB_URL');
    expect(r.stderr).to.match(/configuration error/);
  });

  it('`ainode start --role` with an unknown role exits non-zero with usage', () => {
    const r = spawnSync(process.execPath, [AINODE_BIN, 'start', '--role', 'scheduler'], { env: { PATH: process.env.PATH ?? '', ...base }, encoding: 'utf8', timeout: 20_000 });
    expect(r.status).to.equal(2);
    expect(r.stderr).to.match(/--role must be listener, worker or admin/);
  });
});
