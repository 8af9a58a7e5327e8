/**
 * The command line as a user types it (bin/ainode.js in a child process): options as
 * `--opt value` or `--opt=value`, per-command help, and the documented exit codes (0 done,
 * 1 failed, 2 bad usage or configuration), each failure naming what to change.
 */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AINODE_BIN, REPO_ROOT } from '../support/ainode-process';
import { classifierModelPackage, GREY_QUADRANTS } from '../support/test-models';

const CLASS = {
  index: 0,
  name: 'A',
  finding: { value: '36118008', scheme: 'SCT', meaning: 'Pneumothorax' },
  threshold: 0.5,
};

function ainode(args: string[], env: Record<string, string> = {}): { status: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [AINODE_BIN, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

describe('cli: options, help and exit codes', function () {
  this.timeout(60_000);
  const rules = path.join(REPO_ROOT, 'deploy', 'rules', 'default.yaml');

  it("exit 0: version, help, each command's --help, a valid rules file", () => {
    expect(ainode(['version']).out).to.match(/^ainode \d+\.\d+\.\d+/);
    expect(ainode(['--help']).status).to.equal(0);
    for (const cmd of ['start', 'rules', 'convert', 'viewer', 'models']) {
      const r = ainode([cmd, '--help']);
      expect(r.status, cmd).to.equal(0);
      expect(r.out, cmd).to.match(new RegExp(`^usage: ainode ${cmd}`));
    }
    expect(ainode(['rules', 'validate', rules]).status).to.equal(0);
  });

  it('exit 2: unknown commands and options, missing operands and values, bad values; each names the problem', () => {
    const cases: [string[], RegExp][] = [
      [[], /usage: ainode <command>/],
      [['nonsense'], /unknown command "nonsense"/],
      [['start', '--bogus'], /Unknown option '--bogus'/],
      [['start', '--role=bogus'], /--role must be listener, worker or admin \(got "bogus"\)/],
      [['start', '--role', 'bogus'], /--role must be listener, worker or admin/],
      [['start', '--role'], /Option '--role <value>' argument missing/],
      [['start', 'extra'], /start takes no operands/],
      [['rules', 'validate'], /rules validate needs one <file>/],
      [['rules', 'test'], /rules test needs --study/],
      [['convert', 'nifti', 'only-one'], /convert nifti needs <file.nii\[.gz\]> and <output-folder>/],
      [['viewer', '--ohif-dist'], /Option '--ohif-dist <value>' argument missing/],
    ];
    for (const [args, message] of cases) {
      const r = ainode(args);
      expect(r.status, args.join(' ')).to.equal(2);
      expect(r.err + r.out, args.join(' ')).to.match(message);
    }
  });

  it('rules validate refuses a rule naming a model that is not a package here (exit 2)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ainode-cli-'));
    const file = path.join(dir, 'rules.yaml');
    fs.writeFileSync(file, 'version: 1\nrules:\n  - name: x\n    models: [ct-lung, no-such-model]\n');
    const r = ainode(['rules', 'validate', file]);
    expect(r.status).to.equal(2);
    expect(r.err).to.include(
      '/rules/0/models/1: "no-such-model" is not a loaded model package (loaded: ct-lung, mr-brain-tissue)',
    );
  });

  it('--opt=value is the same as --opt value', () => {
    const a = ainode(['rules', 'test', '--study=1.2.3'], {
      AINODE_DICOMWEB_URL: 'http://127.0.0.1:9/dicom-web',
      AINODE_REDIS_URL: 'redis://127.0.0.1:9',
    });
    const b = ainode(['rules', 'test', '--study', '1.2.3'], {
      AINODE_DICOMWEB_URL: 'http://127.0.0.1:9/dicom-web',
      AINODE_REDIS_URL: 'redis://127.0.0.1:9',
    });
    expect(a.status).to.equal(b.status);
    expect(a.err.replace(/\d+ ms/g, '')).to.equal(b.err.replace(/\d+ ms/g, ''));
  });

  it('exit 2 for configuration, naming the variable; a missing file named with the variable that points to it', () => {
    const base = { AINODE_DICOMWEB_URL: 'http://127.0.0.1:9/dicom-web', AINODE_REDIS_URL: 'redis://127.0.0.1:9' };
    const noUrl = ainode(['start']);
    expect(noUrl.status).to.equal(2);
    expect(noUrl.err).to.match(/configuration error: AINODE_DICOMWEB_URL/);
    const noRules = ainode(['start'], { ...base, AINODE_RULES_FILE: '/nowhere/rules.yaml' });
    expect(noRules.status).to.equal(2);
    expect(noRules.err).to.match(/AINODE_RULES_FILE: .*\/nowhere\/rules\.yaml/);
    const noModels = ainode(['start'], { ...base, AINODE_MODELS_DIR: '/nowhere/models' });
    expect(noModels.status).to.equal(2);
    expect(noModels.err).to.match(/AINODE_MODELS_DIR: \/nowhere\/models does not exist/);
    const noCa = ainode(['start'], { ...base, AINODE_DICOMWEB_CA_FILE: '/nowhere/ca.pem' });
    expect(noCa.status).to.equal(2);
    expect(noCa.err).to.match(/AINODE_DICOMWEB_CA_FILE: .*\/nowhere\/ca\.pem/);
    const noTokenFile = ainode(['start'], { ...base, AINODE_ADMIN_TOKEN_FILE: '/nowhere/token' });
    expect(noTokenFile.status).to.equal(2);
    expect(noTokenFile.err).to.match(/AINODE_ADMIN_TOKEN_FILE: cannot read \/nowhere\/token/);
  });

  it('exit 1 for a failure that is not the command line: a rules file given on the command line that is missing', () => {
    const r = ainode(['rules', 'validate', '/nowhere/rules.yaml']);
    expect(r.status).to.equal(1);
    expect(r.err).to.match(/cannot read \/nowhere\/rules\.yaml/);
  });

  it('`npx ainode models list`, as the README writes it: every package with its task, a refused one with its bad field (exit 1)', () => {
    const npx = (env: Record<string, string>): { status: number | null; out: string } => {
      const r = spawnSync('npx', ['ainode', 'models', 'list'], {
        cwd: REPO_ROOT,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...env },
        encoding: 'utf8',
        timeout: 120_000,
      });
      return { status: r.status, out: `${r.stdout}${r.stderr}` };
    };
    const shipped = npx({});
    expect(shipped.status, shipped.out).to.equal(0);
    expect(shipped.out).to.match(/^loaded {3}ct-lung@1\.0\.0 {2}segmentation/m);
    expect(shipped.out).to.match(/^loaded {3}mr-brain-tissue@1\.0\.0 {2}segmentation/m);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ainode-models-list-'));
    classifierModelPackage(dir, 'quad', GREY_QUADRANTS, { classes: [CLASS] });
    classifierModelPackage(dir, 'wrong-output', GREY_QUADRANTS, {
      classes: [CLASS],
      output: { name: 'probs', channels: 2 },
    });
    const mixed = npx({ AINODE_MODELS_DIR: dir });
    expect(mixed.status, mixed.out).to.equal(1);
    expect(mixed.out).to.match(/^loaded {3}quad@1\.0\.0 {2}classification/m);
    expect(mixed.out).to.match(
      /^refused .*wrong-output .*\/output\/name "probs" is not an output of the graph \(outputs: logits\)/m,
    );
  });
});
