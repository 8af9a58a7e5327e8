/**
 * The README's quick start, as written: `bash scripts/demo.sh` from the repository root (not in a
 * terminal, so it stops everything after printing). It installs what is missing, starts its own
 * Orthanc and Redis, stores the shipped chest CT, and must print the study's SEG and SR with the
 * lung volumes the walking-skeleton test checks against the pixels.
 */
import { expect } from 'chai';
import { spawn } from 'child_process';
import { REPO_ROOT } from '../support/ainode-process';

describe('README quick start: bash scripts/demo.sh', function () {
  this.timeout(420_000);

  it('runs end to end and prints the SEG, the SR and both lungs with their volumes', async () => {
    const child = spawn('bash', ['scripts/demo.sh'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code, out.slice(-3000)).to.equal(0);
    expect(out).to.match(/stored -> SEG and SR in the PACS in \d+(\.\d+)? s/);
    expect(out).to.match(/^SEG series \(lungs\)\s+2\.25\.\d+/m);
    expect(out).to.match(/^SR series\s+2\.25\.\d+/m);
    expect(out).to.match(/Right lung\s+Volume 3207\.1 mL/);
    expect(out).to.match(/Left lung\s+Volume 2293\.6 mL/);
    expect(out).to.match(/OHIF viewer\s+http:\/\/127\.0\.0\.1:\d+\/viewer\?StudyInstanceUIDs=/);
  });
});
