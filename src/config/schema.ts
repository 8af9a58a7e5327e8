/**
 * One configuration schema, validated once at start. Values come from environment variables
 * (names below) and, for everything richer, from an optional JSON file named by AINODE_CONFIG_FILE
 * whose keys are the same names. Environment variables win over the file.
 * A bad or missing value throws ConfigError naming the variable; the CLI prints it and exits 2.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ConfigError } from '../errors';
import { schemaProblems } from '../contracts/validate';
import configSchema from '../contracts/schemas/config.schema.json';

export type PacsKind = 'auto' | 'orthanc' | 'dicomweb';
export interface DicomwebConfig {
  /** QIDO/WADO/STOW root, e.g. http://127.0.0.1:8042/dicom-web (no trailing slash). */
  url: string;
  username: string | undefined;
  password: string | undefined;
  /** Bearer token (instead of Basic credentials). */
  token?: string | undefined;
  /** PEM file of a CA to trust for https (a hospital's own CA). */
  caFile?: string | undefined;
  timeoutMs: number;
}

export interface Config {
  dicomweb: DicomwebConfig;
  redisUrl: string;
  /** Redis Sentinel: sentinel addresses and the monitored master's name (the URL then only carries credentials, db and TLS). */
  redisSentinels?: { sentinels: { host: string; port: number }[]; name: string };
  /** Prefix of every Redis key ainode writes (queues, cursor, ledger). One per deployment or test run. */
  redisPrefix: string;
  pacsKind: PacsKind;
  /** Orthanc REST root for the /changes feed; derived from the DICOMweb URL when not given. */
  orthancUrl: string;
  /**
   * How often the listener looks for new studies; undefined = the intake's own default
   * (POLL_DEFAULTS_MS: the Orthanc change feed is cheap to read, a QIDO-RS study list is not).
   */
  pollIntervalMs: number | undefined;
  /** Generic DICOMweb intake: a study is stable once its instance count has not changed for this long. */
  stableSeconds: number;
  modelsDir: string;
  rulesFile: string;
  /** Admin API: bind address (default loopback), port and bearer token (no default token: without one the admin API is off). */
  admin: { host: string; port: number; token: string | undefined };
  workerConcurrency: number;
  /** BullMQ job lock; a worker that dies (kill -9) loses its job after this and another takes it. */
  jobLockMs: number;
  stalledIntervalMs: number;
  maxStalledCount: number;
  /** On SIGTERM: finish the running job within this, else hand it back (its lock expires). */
  shutdownDeadlineMs: number;
  /** Retries of transient faults: attempts and the first backoff delay (doubling, with jitter). */
  retryAttempts: number;
  retryDelayMs: number;
  /** Refuse a series claiming more voxels than this (a header can claim anything). */
  maxVoxels: number;
  /** Pixels of one frame (Rows x Columns) an input may declare; larger ones are refused before decoding. */
  maxFramePixels: number;
  /** Variables that look like ainode's but are not read (misspellings): logged at start. */
  warnings: string[];
  executionProviders: string[];
  runtime: RuntimeOptions;
  logLevel: string;
}

/** onnxruntime session settings (one session per model per worker process). */
export interface RuntimeOptions {
  /** Threads inside one operator; 0 = onnxruntime's default (all cores). */
  intraOpThreads: number;
  /** Threads across operators; 0 = default. */
  interOpThreads: number;
  /** CPU memory arena (faster repeated runs, holds memory between jobs). */
  cpuMemArena: boolean;
  /**
   * onnxruntime's memory pattern: from the second run on, it plans one block for all of a run's
   * intermediate tensors. Measured on the brain model: the warm run's peak 832 MB with it, 641 MB
   * without, at about the same speed; off by default.
   */
  memPattern: boolean;
  /** CUDA device on multi-GPU hosts. */
  cudaDeviceId: number;
}

export type Env = Record<string, string | undefined>;

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

/** Variables that hold secrets; each may instead be read from a file named by `<NAME>_FILE`. */
export const SECRET_VARIABLES = [
  'AINODE_DICOMWEB_PASSWORD',
  'AINODE_DICOMWEB_TOKEN',
  'AINODE_ADMIN_TOKEN',
  'AINODE_REDIS_URL',
  'AINODE_VIEWER_TOKEN',
] as const;

/**
 * Secrets from files (Docker and Kubernetes secrets are mounted as files): AINODE_ADMIN_TOKEN_FILE
 * names a file whose content (without its trailing newline) is AINODE_ADMIN_TOKEN. Setting both
 * the variable and its _FILE is refused, so there is never a doubt which one is in force.
 */
export function secretFileLayer(env: Env): Env {
  const out: Env = {};
  for (const name of SECRET_VARIABLES) {
    const file = env[`${name}_FILE`]?.trim();
    if (!file) continue;
    if (env[name]) throw new ConfigError(`${name}_FILE`, `set either ${name} or ${name}_FILE, not both`);
    try {
      out[name] = fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (e) {
      throw new ConfigError(`${name}_FILE`, `cannot read ${file}: ${(e as Error).message}`);
    }
    if (!out[name]) throw new ConfigError(`${name}_FILE`, `${file} is empty`);
  }
  return out;
}

function readFileLayer(env: Env): Env {
  const file = env.AINODE_CONFIG_FILE;
  if (!file) return {};
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError('AINODE_CONFIG_FILE', `cannot read ${file}: ${(e as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ConfigError('AINODE_CONFIG_FILE', `${file} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError('AINODE_CONFIG_FILE', `${file} must hold a JSON object of AINODE_* keys`);
  }
  const out: Env = {};
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (!k.startsWith('AINODE_'))
      throw new ConfigError(`AINODE_CONFIG_FILE`, `unknown key "${k}" in ${file} (keys are AINODE_* variable names)`);
    if (typeof v !== 'string' && typeof v !== 'number')
      throw new ConfigError(k, `must be a string or number in ${file}`);
    out[k] = String(v);
  }
  return out;
}

interface VariableSchema {
  type?: 'string' | 'integer' | 'boolean';
  enum?: string[];
  default?: string | number | boolean;
}
const VARIABLES = configSchema.properties as Record<string, VariableSchema>;

/**
 * Every variable an ainode command reads (the node's roles, the viewer, the CLI): the properties
 * of src/contracts/schemas/config.schema.json, which also gives each one's type, range and default.
 */
export const KNOWN_VARIABLES: readonly string[] = Object.keys(VARIABLES);

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)] as number[]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length][b.length];
}

/**
 * AINODE_* variables in the environment that no ainode command reads: most likely misspelt
 * (a setting silently ignored otherwise). Each warning names the closest known variable.
 */
export function unknownVariables(env: Env): string[] {
  const known = new Set([...KNOWN_VARIABLES, ...SECRET_VARIABLES.map((v) => `${v}_FILE`)]);
  return Object.keys(env)
    .filter((k) => k.startsWith('AINODE_') && !known.has(k) && !k.startsWith('AINODE_TEST_'))
    .sort()
    .map((k) => {
      const [best] = [...known].map((v) => [v, editDistance(k, v)] as const).sort((x, y) => x[1] - y[1]);
      return `${k} is not a variable ainode reads${best && best[1] <= 4 ? `; did you mean ${best[0]}?` : ''} (docs/configuration.md lists them)`;
    });
}

/**
 * The problems of one loadConfig: each check reports into it and goes on with the default, so
 * that a start reports every problem at once.
 */
let collecting: ConfigError[] | undefined;

function report<T>(e: ConfigError, fallback: T): T {
  if (!collecting) throw e;
  collecting.push(e);
  return fallback;
}

/** Runs a check that throws ConfigError, reporting instead (fallback where it failed). */
function checked<T>(fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ConfigError) return report(e, fallback);
    throw e;
  }
}

function url(env: Env, name: string, protocols: string[], required: true): string;
function url(env: Env, name: string, protocols: string[], required: false): string | undefined;
function url(env: Env, name: string, protocols: string[], required: boolean): string | undefined {
  const raw = env[name];
  const example = `${protocols[0]}//127.0.0.1:${protocols[0].startsWith('redis') ? '6379' : '8042/dicom-web'}`;
  if (raw === undefined || raw.trim() === '') {
    if (required) return report(new ConfigError(name, `is required (e.g. ${example})`), example);
    return undefined;
  }
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    return report(new ConfigError(name, `"${raw}" is not a URL`), required ? example : undefined);
  }
  if (!protocols.includes(u.protocol))
    return report(
      new ConfigError(name, `must use ${protocols.join(' or ')} (got ${u.protocol})`),
      required ? example : undefined,
    );
  return raw.trim().replace(/\/+$/, '');
}

type Typed = Record<string, string | number | boolean | undefined>;

const SECRETS: ReadonlySet<string> = new Set(SECRET_VARIABLES);

/**
 * Every known variable that is set, read as the type its schema declares (whole numbers; true/
 * false, 1/0, yes/no) and checked against the schema (range, choices, pattern, length); then the
 * schema's defaults for the rest. A bad value is reported and its default kept. Secrets are taken
 * as they are (not trimmed) and never echoed in a message.
 */
function typedSettings(env: Env): Typed {
  const typed: Typed = {};
  const got = (name: string): string => (SECRETS.has(name) ? '' : ` (got ${JSON.stringify(env[name])})`);
  for (const [name, schema] of Object.entries(VARIABLES)) {
    const raw = SECRETS.has(name) ? env[name] : env[name]?.trim();
    if (raw === undefined || raw === '') continue;
    if (schema.type === 'integer') {
      if (/^\d+$/.test(raw)) typed[name] = Number(raw);
      else report(new ConfigError(name, `must be a whole number${got(name)}`), undefined);
    } else if (schema.type === 'boolean') {
      const word = raw.toLowerCase();
      if (['true', '1', 'yes'].includes(word)) typed[name] = true;
      else if (['false', '0', 'no'].includes(word)) typed[name] = false;
      else report(new ConfigError(name, `must be true or false${got(name)}`), undefined);
    } else typed[name] = raw;
  }
  for (const problem of schemaProblems(configSchema, typed)) {
    const name = String(problem.path[0]);
    report(new ConfigError(name, `${problem.message}${got(name)}`), undefined);
    delete typed[name];
  }
  for (const [name, schema] of Object.entries(VARIABLES))
    if (typed[name] === undefined && schema.default !== undefined) typed[name] = schema.default;
  return typed;
}

/** The PACS's DICOMweb root and ainode's account there: the node and the viewer read it alike. */
function dicomwebSettings(env: Env, t: Typed): Config['dicomweb'] {
  const dicomwebUrl = url(env, 'AINODE_DICOMWEB_URL', ['http:', 'https:'], true);
  const u = new URL(dicomwebUrl); // url() has checked it (or reported it and returned an example)
  if (u.username || u.password || u.search || u.hash)
    report(
      new ConfigError('AINODE_DICOMWEB_URL', 'must be the DICOMweb root, without credentials, query or fragment'),
      undefined,
    );
  const username = env.AINODE_DICOMWEB_USERNAME || undefined;
  const password = env.AINODE_DICOMWEB_PASSWORD || undefined;
  if ((username === undefined) !== (password === undefined)) {
    report(
      new ConfigError(
        username ? 'AINODE_DICOMWEB_PASSWORD' : 'AINODE_DICOMWEB_USERNAME',
        'set both AINODE_DICOMWEB_USERNAME and AINODE_DICOMWEB_PASSWORD, or neither',
      ),
      undefined,
    );
  }
  const token = env.AINODE_DICOMWEB_TOKEN || undefined;
  if (token && username)
    report(
      new ConfigError(
        'AINODE_DICOMWEB_TOKEN',
        'set either a bearer token or AINODE_DICOMWEB_USERNAME/PASSWORD, not both',
      ),
      undefined,
    );
  const caFile = env.AINODE_DICOMWEB_CA_FILE?.trim() || undefined;
  if (caFile && !fs.existsSync(caFile))
    report(new ConfigError('AINODE_DICOMWEB_CA_FILE', `${caFile} does not exist`), undefined);
  return {
    url: dicomwebUrl,
    username,
    password,
    token,
    caFile,
    timeoutMs: t.AINODE_DICOMWEB_TIMEOUT_MS as number,
  };
}

/** What `ainode viewer` reads: the same PACS settings as the node, and its own. */
export interface ViewerSettings {
  dicomweb: Config['dicomweb'];
  ohifDist: string | undefined;
  host: string;
  port: number;
  auth: { mode: 'proxy' | 'none' | undefined; token: string | undefined; usersFile: string | undefined };
  warnings: string[];
}

/** The viewer's settings, checked whole like loadConfig (one ConfigError with every problem). */
export function loadViewerSettings(processEnv: Env = process.env): ViewerSettings {
  const outer = collecting;
  collecting = [];
  try {
    const env: Env = { ...processEnv, ...checked(() => secretFileLayer(processEnv), {}) };
    const t = typedSettings(env);
    const settings: ViewerSettings = {
      dicomweb: dicomwebSettings(env, t),
      ohifDist: t.AINODE_OHIF_DIST as string | undefined,
      host: t.AINODE_VIEWER_HOST as string,
      port: t.AINODE_VIEWER_PORT as number,
      auth: {
        mode: t.AINODE_VIEWER_AUTH as ViewerSettings['auth']['mode'],
        token: t.AINODE_VIEWER_TOKEN as string | undefined,
        usersFile: t.AINODE_VIEWER_USERS_FILE as string | undefined,
      },
      warnings: unknownVariables(processEnv),
    };
    if (collecting.length) throw ConfigError.all(collecting);
    return settings;
  } finally {
    collecting = outer;
  }
}

/**
 * The configuration from the environment (and AINODE_CONFIG_FILE, and the *_FILE secrets),
 * checked whole: every problem is reported at once in one ConfigError. Variables that look like
 * ainode's but are not (a misspelling) are returned as warnings.
 */
export function loadConfig(processEnv: Env = process.env): Config {
  const outer = collecting;
  collecting = [];
  try {
    const config = readConfig(processEnv);
    if (collecting.length) throw ConfigError.all(collecting);
    return config;
  } finally {
    collecting = outer;
  }
}

function readConfig(processEnv: Env): Config {
  const layered: Env = { ...checked(() => readFileLayer(processEnv), {}), ...processEnv };
  const env: Env = { ...layered, ...checked(() => secretFileLayer(layered), {}) };
  const t = typedSettings(env);
  const dicomweb = dicomwebSettings(env, t);
  const dicomwebUrl = dicomweb.url;
  const redisUrl = url(env, 'AINODE_REDIS_URL', ['redis:', 'rediss:'], true);
  let redisSentinels: Config['redisSentinels'];
  if (env.AINODE_REDIS_SENTINELS?.trim()) {
    const sentinels = env.AINODE_REDIS_SENTINELS.split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((hp) => {
        const m = /^([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(hp);
        if (!m || Number(m[2]) > 65535)
          return report(new ConfigError('AINODE_REDIS_SENTINELS', `"${hp}" is not host:port`), { host: hp, port: 0 });
        return { host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) };
      });
    redisSentinels = { sentinels, name: t.AINODE_REDIS_SENTINEL_NAME as string };
  }
  const orthancUrl =
    url(env, 'AINODE_ORTHANC_URL', ['http:', 'https:'], false) ?? dicomwebUrl.replace(/\/dicom-web$/i, '');
  const providers = (t.AINODE_EXECUTION_PROVIDERS as string)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const p of providers)
    if (p !== 'cuda' && p !== 'cpu')
      report(new ConfigError('AINODE_EXECUTION_PROVIDERS', `unknown provider "${p}" (cuda, cpu)`), undefined);
  if (providers.length === 0)
    report(new ConfigError('AINODE_EXECUTION_PROVIDERS', 'name at least one provider (cuda, cpu)'), undefined);
  return {
    dicomweb,
    redisUrl,
    ...(redisSentinels ? { redisSentinels } : {}),
    redisPrefix: t.AINODE_REDIS_PREFIX as string,
    pacsKind: t.AINODE_PACS_KIND as PacsKind,
    orthancUrl,
    pollIntervalMs: t.AINODE_POLL_INTERVAL_MS as number | undefined,
    stableSeconds: t.AINODE_STABLE_SECONDS as number,
    modelsDir: path.resolve((t.AINODE_MODELS_DIR as string | undefined) ?? path.join(REPO_ROOT, 'models')),
    rulesFile: path.resolve(
      (t.AINODE_RULES_FILE as string | undefined) ?? path.join(REPO_ROOT, 'deploy', 'rules', 'default.yaml'),
    ),
    admin: {
      host: t.AINODE_ADMIN_HOST as string,
      port: t.AINODE_ADMIN_PORT as number,
      token: t.AINODE_ADMIN_TOKEN as string | undefined,
    },
    workerConcurrency: t.AINODE_WORKER_CONCURRENCY as number,
    jobLockMs: t.AINODE_JOB_LOCK_MS as number,
    stalledIntervalMs: t.AINODE_STALLED_INTERVAL_MS as number,
    maxStalledCount: t.AINODE_MAX_STALLED as number,
    shutdownDeadlineMs: t.AINODE_SHUTDOWN_DEADLINE_MS as number,
    retryAttempts: t.AINODE_RETRY_ATTEMPTS as number,
    retryDelayMs: t.AINODE_RETRY_DELAY_MS as number,
    maxVoxels: t.AINODE_MAX_VOXELS as number,
    maxFramePixels: t.AINODE_MAX_FRAME_PIXELS as number,
    warnings: unknownVariables(layered),
    executionProviders: providers,
    runtime: {
      intraOpThreads: t.AINODE_ORT_INTRA_OP_THREADS as number,
      interOpThreads: t.AINODE_ORT_INTER_OP_THREADS as number,
      cpuMemArena: t.AINODE_ORT_CPU_MEM_ARENA as boolean,
      memPattern: t.AINODE_ORT_MEM_PATTERN as boolean,
      cudaDeviceId: t.AINODE_CUDA_DEVICE_ID as number,
    },
    logLevel: t.AINODE_LOG_LEVEL as string,
  };
}
