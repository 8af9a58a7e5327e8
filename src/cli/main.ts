/**
 * The `ainode` command line. Entry points only wire; the work lives in the stage modules.
 *
 *   ainode start [--role listener|worker] [--intake-start now|beginning]
 *   ainode models list
 *   ainode convert nifti <file.nii[.gz]> <output-folder>
 *   ainode viewer [--ohif-dist DIR]
 *   ainode viewer add-user <name>
 *   ainode version
 */
import { loadConfig } from '../config/schema';
import { ConfigError, describeError } from '../errors';
import { createLogger } from '../observability/logger';
import { startNode, type NodeRole } from '../app/node';
import { loadModelPackages } from '../inference/model-package';
import { AINODE_EQUIPMENT } from '../dicom/equipment';
import * as path from 'path';
import * as fs from 'fs';
import { parseArgs } from 'util';
import { readNifti } from '../volume/nifti';
import { niftiToMrSeries } from '../convert/nifti-to-dicom';
import { parseRules, ruleReferenceProblems, RulesError } from '../rules/schema';
import { RulesStore } from '../rules/rules-store';
import { decideStudy } from '../intake/study-intake';
import { DicomwebClient } from '../dicomweb/client';
import { formatDecision } from '../rules/format';
import { loadViewerConfig, startViewer } from '../viewer/ohif-gateway';
import { hashUserLine } from '../viewer/viewer-auth';

const USAGE = `usage: ainode <command>

  start [--role listener|worker|admin] [--intake-start now|beginning]
        run the listener and the worker (and the admin API when AINODE_ADMIN_TOKEN
        is set), or one role.
        --intake-start: where a listener without a stored cursor begins in the PACS's
        change feed (default: now; "beginning" also processes what is already stored).
  models list   show the model packages found and why any was refused
  rules validate <file>
                check a rules file without a running node (exit 0 valid, 2 invalid)
  rules test --study <StudyInstanceUID> [--json]
                dry run against the live PACS: for every rule and series, which conditions
                held, failed or met a missing attribute, the chosen series and the models that
                would run. Enqueues nothing.
  convert nifti <file.nii[.gz]> <output-folder> [--series-description TEXT]
                write a NIfTI image as a DICOM MR series (geometry from its affine)
  viewer [--ohif-dist DIR]
                serve the OHIF viewer (dist/ of npm @ohif/app; scripts/fetch-ohif.sh) with
                DICOMweb reads (only) forwarded to the PACS on the same origin, on
                AINODE_VIEWER_HOST:AINODE_VIEWER_PORT (default 127.0.0.1:3000); users sign
                in (AINODE_VIEWER_USERS_FILE or AINODE_VIEWER_TOKEN) unless loopback or
                AINODE_VIEWER_AUTH=proxy
  viewer add-user <name>
                read a password from stdin, print the line for AINODE_VIEWER_USERS_FILE
  version       print the version

Options take their value as \`--opt value\` or \`--opt=value\`; \`ainode <command> --help\` shows one
command. Exit codes: 0 done, 1 failed (the message says why and what to do), 2 bad usage or
configuration (the message names the option or variable).

Configuration: environment variables (see docs/configuration.md); at least
  AINODE_DICOMWEB_URL   e.g. http://127.0.0.1:8042/dicom-web
  AINODE_REDIS_URL      e.g. redis://127.0.0.1:6379
`;

class UsageError extends Error {}

/** Each command's own help (`ainode <command> --help`). */
const HELP: Record<string, string> = {
  start: `usage: ainode start [--role listener|worker|admin] [--intake-start now|beginning]\n\n${section('start')}`,
  models: `usage: ainode models list\n\n${section('models list')}`,
  rules: `usage: ainode rules validate <file>\n       ainode rules test --study <StudyInstanceUID> [--json]\n\n${section('rules validate')}${section('rules test')}`,
  convert: `usage: ainode convert nifti <file.nii[.gz]> <output-folder> [--series-description TEXT]\n\n${section('convert nifti')}`,
  viewer: `usage: ainode viewer [--ohif-dist DIR]\n       ainode viewer add-user <name>\n\n${section('viewer [')}${section('viewer add-user')}`,
};

/** The lines of USAGE that describe one command (from its line to the next command's). */
function section(head: string): string {
  const lines = USAGE.split('\n');
  const from = lines.findIndex((l) => l.startsWith(`  ${head}`));
  if (from < 0) return '';
  let to = from + 1;
  while (to < lines.length && lines[to].startsWith('        ')) to++;
  return `${lines.slice(from, to).join('\n')}\n`;
}

/**
 * A command's options and operands, by Node's util.parseArgs: `--opt value` and `--opt=value`,
 * unknown options and missing values refused as usage errors (exit 2).
 */
function parse<O extends Record<string, { type: 'string' | 'boolean' }>>(
  args: string[],
  options: O,
  operands: { min: number; max: number; what: string },
): { values: { [K in keyof O]?: O[K]['type'] extends 'string' ? string : boolean }; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  const n = parsed.positionals.length;
  if (n < operands.min || n > operands.max) throw new UsageError(`${operands.what}`);
  return parsed as never;
}

async function start(args: string[]): Promise<number> {
  const { values } = parse(
    args,
    { role: { type: 'string' }, 'intake-start': { type: 'string' } },
    { min: 0, max: 0, what: 'start takes no operands' },
  );
  const role = values.role;
  if (role !== undefined && role !== 'listener' && role !== 'worker' && role !== 'admin')
    throw new UsageError(`--role must be listener, worker or admin (got "${role}")`);
  const intakeStart = values['intake-start'] ?? 'now';
  if (intakeStart !== 'now' && intakeStart !== 'beginning')
    throw new UsageError(`--intake-start must be now or beginning (got "${intakeStart}")`);
  const cfg = loadConfig();
  const log = createLogger({ level: cfg.logLevel });
  for (const w of cfg.warnings) log.warn(w);
  if (role === 'admin' && !cfg.admin.token)
    throw new ConfigError('AINODE_ADMIN_TOKEN', 'is required for --role admin (there is no default token)');
  const roles: NodeRole[] = role ? [role] : ['listener', 'worker', ...(cfg.admin.token ? (['admin'] as const) : [])];
  if (!role && !cfg.admin.token) log.info('admin API is off (set AINODE_ADMIN_TOKEN to serve it on AINODE_ADMIN_PORT)');
  const node = await startNode(cfg, roles, log, { intakeStart });
  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (sig: string): void => {
      if (stopping) return;
      stopping = true;
      log.info({ signal: sig, deadlineMs: cfg.shutdownDeadlineMs }, 'stopping: no new jobs; finishing the current one');
      const deadline = setTimeout(() => {
        log.warn(
          { deadlineMs: cfg.shutdownDeadlineMs },
          'shutdown deadline passed: exiting; the running job is handed back to the queue when its lock expires',
        );
        process.exit(0);
      }, cfg.shutdownDeadlineMs);
      deadline.unref();
      node.stop().then(resolve, (e) => {
        log.error({ err: e }, 'error while stopping');
        resolve();
      });
    };
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    process.on('SIGINT', () => onSignal('SIGINT'));
  });
  log.info('stopped');
  return 0;
}

/** The model packages' folder the CLI's offline commands read: AINODE_MODELS_DIR or the shipped one. */
function modelsDir(): string {
  return process.env.AINODE_MODELS_DIR
    ? path.resolve(process.env.AINODE_MODELS_DIR)
    : path.resolve(__dirname, '..', '..', '..', 'models');
}

function modelsList(): number {
  const dir = modelsDir();
  const { packages, refused } = loadModelPackages(dir);
  for (const p of packages.values())
    process.stdout.write(
      `loaded   ${p.manifest.id}@${p.manifest.version}  ${p.manifest.task}  ${p.manifest.description}\n`,
    );
  for (const r of refused) process.stdout.write(`refused  ${r.dir}  ${r.reason}\n`);
  if (packages.size === 0 && refused.length === 0) process.stdout.write(`no model packages in ${dir}\n`);
  return refused.length ? 1 : 0;
}

function rulesValidate(args: string[]): number {
  const [file] = parse(args, {}, { min: 1, max: 1, what: 'rules validate needs one <file>' }).positionals;
  try {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      process.stderr.write(`ainode: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})\n`);
      return 1;
    }
    const set = parseRules(text, file);
    // Every model a rule names must be a package here (AINODE_MODELS_DIR, or the shipped models).
    const unknown = ruleReferenceProblems(set, new Set(loadModelPackages(modelsDir()).packages.keys()));
    if (unknown.length) throw new RulesError(unknown, file);
    process.stdout.write(`${file}: valid, ${set.rules.length} rule(s): ${set.rules.map((r) => r.name).join(', ')}\n`);
    return 0;
  } catch (e) {
    if (e instanceof RulesError) {
      process.stderr.write(`${file}: invalid\n${e.problems.map((p) => `  ${p}`).join('\n')}\n`);
      return 2;
    }
    throw e;
  }
}

async function rulesTest(args: string[]): Promise<number> {
  const { values } = parse(
    args,
    { study: { type: 'string' }, json: { type: 'boolean' } },
    { min: 0, max: 0, what: 'rules test takes --study <StudyInstanceUID> and no operands' },
  );
  const study = values.study;
  if (!study) throw new UsageError('rules test needs --study <StudyInstanceUID>');
  const cfg = loadConfig();
  const log = createLogger({ level: 'warn' });
  const store = new RulesStore(cfg.rulesFile, log);
  store.load();
  const { packages } = loadModelPackages(cfg.modelsDir);
  const decision = await decideStudy(
    { client: new DicomwebClient(cfg.dicomweb), models: packages, rules: store },
    study,
  );
  if (values.json) process.stdout.write(JSON.stringify(decision, null, 2) + '\n');
  else process.stdout.write(formatDecision(decision));
  return 0;
}

function convertNifti(args: string[]): number {
  const { values, positionals } = parse(
    args,
    { 'series-description': { type: 'string' } },
    { min: 2, max: 2, what: 'convert nifti needs <file.nii[.gz]> and <output-folder>' },
  );
  const [input, out] = positionals;
  const seriesDescription = values['series-description'];
  const bytes = fs.readFileSync(input);
  const series = niftiToMrSeries(bytes, readNifti(bytes), seriesDescription ? { seriesDescription } : {});
  fs.mkdirSync(out, { recursive: true });
  series.instances.forEach((inst, i) =>
    fs.writeFileSync(path.join(out, `MR${String(i + 1).padStart(4, '0')}.dcm`), inst.part10),
  );
  process.stdout.write(
    `wrote ${series.instances.length} MR instances to ${out}\nStudyInstanceUID ${series.studyInstanceUid}\nSeriesInstanceUID ${series.seriesInstanceUid}\n`,
  );
  return 0;
}

async function viewer(args: string[]): Promise<number> {
  if (args[0] === 'add-user') return viewerAddUser(args.slice(1));
  const { values } = parse(
    args,
    { 'ohif-dist': { type: 'string' } },
    { min: 0, max: 0, what: 'viewer takes --ohif-dist DIR, or add-user <name>' },
  );
  const cfg = loadViewerConfig(process.env, values['ohif-dist']);
  const log = createLogger({ level: process.env.AINODE_LOG_LEVEL ?? 'info' });
  for (const w of cfg.warnings) log.warn(w);
  const { server, url } = await startViewer(cfg, log.child({ stage: 'viewer' }));
  log.info(
    {
      url,
      dist: cfg.distDir,
      auth:
        cfg.auth.kind === 'checked'
          ? [...(cfg.auth.users ? ['basic'] : []), ...(cfg.auth.token ? ['token'] : [])]
          : cfg.auth.kind,
    },
    'OHIF viewer served; DICOMweb reads forwarded to the PACS',
  );
  await new Promise<void>((resolve) => {
    const stop = (): void => void server.close(() => resolve());
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  return 0;
}

/** `ainode viewer add-user <name>`: reads the password from stdin, prints the users-file line. */
function viewerAddUser(args: string[]): number {
  const [name] = parse(
    args,
    {},
    { min: 1, max: 1, what: 'viewer add-user needs one <name>; the password is read from stdin' },
  ).positionals;
  const password = fs.readFileSync(0, 'utf8').replace(/\r?\n$/, '');
  process.stdout.write(`${hashUserLine(name, password)}\n`);
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd && HELP[cmd] && (rest.includes('--help') || rest.includes('-h'))) {
    process.stdout.write(HELP[cmd]);
    return 0;
  }
  try {
    switch (cmd) {
      case 'start':
        return await start(rest);
      case 'models':
        if (rest[0] === 'list') return modelsList();
        throw new UsageError('models: try `ainode models list`');
      case 'rules':
        if (rest[0] === 'validate') return rulesValidate(rest.slice(1));
        if (rest[0] === 'test') return await rulesTest(rest.slice(1));
        throw new UsageError('rules: try `ainode rules validate <file>` or `ainode rules test --study <uid>`');
      case 'convert':
        if (rest[0] === 'nifti') return convertNifti(rest.slice(1));
        throw new UsageError('convert: try `ainode convert nifti <file> <output-folder>`');
      case 'viewer':
        return await viewer(rest);
      case 'version':
      case '--version':
        process.stdout.write(`ainode ${AINODE_EQUIPMENT.SoftwareVersions}\n`);
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return cmd === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command "${cmd}"`);
    }
  } catch (e) {
    if (e instanceof ConfigError) {
      const lines = e.problems.map((p) => `ainode: configuration error: ${p.variable}: ${p.message}\n`).join('');
      const vars = [...new Set(e.problems.map((p) => p.variable))].join(', ');
      process.stderr.write(
        `${lines}  Set ${vars} correctly (see docs/configuration.md) and start again. (code ${e.code})\n`,
      );
      return 2;
    }
    if (e instanceof UsageError) {
      process.stderr.write(`ainode: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    process.stderr.write(`ainode: ${describeError(e)}\n`);
    return 1;
  }
}
