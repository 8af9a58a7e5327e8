/**
 * The `ainode` command line. Entry points only wire; the work lives in the stage modules.
 *
 *   ainode start [--role listener|worker] [--intake-start now|beginning]
 *   ainode models list
 *   ainode convert nifti <file.nii[.gz]> <output-folder>
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
import { readNifti } from '../volume/nifti';
import { niftiToMrSeries } from '../convert/nifti-to-dicom';

const USAGE = `usage: ainode <command>

  start [--role listener|worker] [--intake-start now|beginning]
        run the listener and the worker (default), or one role.
        --intake-start: where a listener without a stored cursor begins in the PACS's
        change feed (default: now; "beginning" also processes what is already stored).
  models list   show the model packages found and why any was refused
  convert nifti <file.nii[.gz]> <output-folder> [--series-description TEXT]
                write a NIfTI image as a DICOM MR series (geometry from its affine)
  version       print the version

Configuration: environment variables (see docs/configuration.md); at least
  AINODE_DICOMWEB_URL   e.g. http://127.0.0.1:8042/dicom-web
  AINODE_REDIS_URL      e.g. redis://127.0.0.1:6379
`;

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) throw new UsageError(`${name} needs a value`);
  return v;
}

class UsageError extends Error {}

async function start(args: string[]): Promise<number> {
  const known = new Set(['--role', '--intake-start']);
  for (let i = 0; i < args.length; i += 2) if (!known.has(args[i])) throw new UsageError(`unknown option ${args[i]}`);
  const role = flag(args, '--role');
  if (role !== undefined && role !== 'listener' && role !== 'worker') throw new UsageError(`--role must be listener or worker (got "${role}")`);
  const intakeStart = flag(args, '--intake-start') ?? 'now';
  if (intakeStart !== 'now' && intakeStart !== 'beginning') throw new UsageError(`--intake-start must be now or beginning (got "${intakeStart}")`);
  const cfg = loadConfig();
  const log = createLogger({ level: cfg.logLevel });
  const roles: NodeRole[] = role ? [role] : ['listener', 'worker'];
  const node = await startNode(cfg, roles, log, { intakeStart });
  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (sig: string): void => {
      if (stopping) return;
      stopping = true;
      log.info({ signal: sig }, 'stopping: no new jobs; finishing the current one');
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

function modelsList(): number {
  const dir = process.env.AINODE_MODELS_DIR ? path.resolve(process.env.AINODE_MODELS_DIR) : path.resolve(__dirname, '..', '..', '..', 'models');
  const { packages, refused } = loadModelPackages(dir);
  for (const p of packages.values()) process.stdout.write(`loaded   ${p.manifest.id}@${p.manifest.version}  ${p.manifest.task}  ${p.manifest.description}\n`);
  for (const r of refused) process.stdout.write(`refused  ${r.dir}  ${r.reason}\n`);
  if (packages.size === 0 && refused.length === 0) process.stdout.write(`no model packages in ${dir}\n`);
  return refused.length ? 1 : 0;
}

function convertNifti(args: string[]): number {
  const [input, out, ...opts] = args;
  if (!input || !out) throw new UsageError('convert nifti needs <file.nii[.gz]> and <output-folder>');
  const seriesDescription = flag(opts, '--series-description');
  const bytes = fs.readFileSync(input);
  const series = niftiToMrSeries(bytes, readNifti(bytes), seriesDescription ? { seriesDescription } : {});
  fs.mkdirSync(out, { recursive: true });
  series.instances.forEach((inst, i) => fs.writeFileSync(path.join(out, `MR${String(i + 1).padStart(4, '0')}.dcm`), inst.part10));
  process.stdout.write(`wrote ${series.instances.length} MR instances to ${out}\nStudyInstanceUID ${series.studyInstanceUid}\nSeriesInstanceUID ${series.seriesInstanceUid}\n`);
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'start':
        return await start(rest);
      case 'models':
        if (rest[0] === 'list') return modelsList();
        throw new UsageError('models: try `ainode models list`');
      case 'convert':
        if (rest[0] === 'nifti') return convertNifti(rest.slice(1));
        throw new UsageError('convert: try `ainode convert nifti <file> <output-folder>`');
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
      process.stderr.write(`ainode: configuration error: ${e.message}\n  Set ${e.variable} correctly (see docs/configuration.md) and start again.\n`);
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
