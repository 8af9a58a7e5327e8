/**
 * Every role started exactly as the README, deploy/compose and deploy/systemd start it (the same
 * command line, the same environment with only host names, ports and secret files made local),
 * proved to run: the listener reads the change feed, the worker takes jobs, the admin API and
 * the viewer listen and answer their health and main routes. Then the admin API as the compose
 * file starts it is attacked: every route without, with a wrong and with the right token, and
 * the hostile requests that once gave 500s with stack traces.
 */
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { parse } from 'yaml';
import { freePort, startOrthanc, type OrthancProcess } from '../../scripts/support/orthanc';
import { AINODE_BIN, REPO_ROOT, spawnAinode, type AinodeProcess } from '../support/ainode-process';
import { ohifDist } from '../support/ohif-browser';
import { REDIS_URL, tempDir, uniquePrefix } from '../support/env';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const PACS_PASSWORD = 'pacs-password-as-deployed-1';
const ADMIN_TOKEN = 'admin-token-as-deployed-0123456789';
const READER_PASSWORD = 'reader password as deployed';

describe('as deployed: every role starts with its documented command and environment', function () {
  this.timeout(180_000);
  let orthanc: OrthancProcess;
  const procs: AinodeProcess[] = [];
  let dir: string;
  let secrets: Record<string, string>;
  let admin: { base: string; proc: AinodeProcess } | undefined;

  before(async () => {
    dir = tempDir('as-deployed');
    orthanc = await startOrthanc({ dir: path.join(dir, 'orthanc'), users: { ainode: PACS_PASSWORD } });
    const write = (name: string, text: string): string => (
      fs.writeFileSync(path.join(dir, name), text),
      path.join(dir, name)
    );
    const users = execFileSync(process.execPath, [AINODE_BIN, 'viewer', 'add-user', 'reader'], {
      input: READER_PASSWORD,
      encoding: 'utf8',
    });
    secrets = {
      '/run/secrets/pacs_password': write('pacs_password', `${PACS_PASSWORD}\n`),
      '/run/secrets/admin_token': write('admin_token', `${ADMIN_TOKEN}\n`),
      '/run/secrets/viewer_users': write('viewer_users', users),
    };
  });
  after(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await orthanc?.stop();
  });

  /** A deployment's environment with its hosts, ports, files and secrets made local. */
  async function localise(env: Record<string, string>): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) {
      let value = String(v);
      if (k === 'AINODE_DICOMWEB_URL') value = value.replace(/^http:\/\/[^/]+/, orthanc.url);
      else if (k === 'AINODE_ORTHANC_URL') value = orthanc.url;
      else if (k === 'AINODE_REDIS_URL') value = REDIS_URL;
      else if (k === 'AINODE_REDIS_PREFIX') value = uniquePrefix('deployed');
      else if (k === 'AINODE_RULES_FILE') value = path.join(REPO_ROOT, 'deploy', 'rules', 'default.yaml');
      else if (k === 'AINODE_ADMIN_PORT' || k === 'AINODE_VIEWER_PORT') value = String(await freePort());
      else if (secrets[value]) value = secrets[value];
      else if (k.endsWith('_FILE')) throw new Error(`${k}=${value}: no local stand-in for this file`);
      out[k] = value;
    }
    return out;
  }

  async function proveRunning(
    name: string,
    args: string[],
    env: Record<string, string>,
    via: 'node' | 'npx' = 'node',
  ): Promise<AinodeProcess> {
    const p = spawnAinode(args, env, { via });
    procs.push(p);
    const role = args[0] === 'viewer' ? 'viewer' : (args[args.indexOf('--role') + 1] ?? 'all');
    const ok = (r: Response, what: string): void => {
      expect(r.status, `${name}: ${what}`).to.equal(200);
    };
    if (role === 'listener' || role === 'all')
      await p.waitForLog(/listening to the Orthanc change feed|polling QIDO-RS/, 30_000);
    if (role === 'worker' || role === 'all') await p.waitForLog(/worker ready/, 30_000);
    if (role === 'admin') {
      const line = await p.waitForLog(/admin API listening/, 30_000);
      const port = (JSON.parse(line) as { port: number }).port;
      const base = `http://127.0.0.1:${port}`;
      ok(await fetch(`${base}/health`), '/health');
      const status = await fetch(`${base}/status`, {
        headers: { Authorization: `Bearer ${env.AINODE_ADMIN_TOKEN ?? ADMIN_TOKEN}` },
      });
      ok(status, '/status');
      expect(
        ((await status.json()) as { ready: boolean }).ready,
        `${name}: ready (Redis, PACS, rules, models)`,
      ).to.equal(true);
      ok(
        await fetch(`${base}/jobs`, { headers: { Authorization: `Bearer ${env.AINODE_ADMIN_TOKEN ?? ADMIN_TOKEN}` } }),
        '/jobs',
      );
      if (!admin) {
        admin = { base, proc: p }; // kept for the attacks below
        return p;
      }
    }
    if (role === 'viewer') {
      const line = await p.waitForLog(/OHIF viewer served/, 30_000);
      const base = (JSON.parse(line) as { url: string }).url;
      ok(await fetch(`${base}/health`), '/health');
      const auth = env.AINODE_VIEWER_USERS_FILE
        ? { Authorization: `Basic ${Buffer.from(`reader:${READER_PASSWORD}`).toString('base64')}` }
        : undefined;
      const index = await fetch(`${base}/`, { headers: auth });
      ok(index, '/');
      expect(await index.text()).to.match(/<html/i);
      ok(await fetch(`${base}/dicom-web/studies`, { headers: auth }), '/dicom-web/studies');
    }
    const code = await p.stop();
    // Through npx the signal ends npx itself (exit code null); the node started directly exits 0.
    if (via === 'node') expect(code, `${name}: stops cleanly on SIGTERM`).to.equal(0);
    return p;
  }

  it('deploy/compose: listener, worker, admin and viewer with their command and environment', async () => {
    const compose = parse(fs.readFileSync(path.join(REPO_ROOT, 'deploy', 'compose', 'compose.yaml'), 'utf8'), {
      merge: true,
    }) as Obj;
    // The image's own environment (the last stage's ENV of deploy/docker/Dockerfile), its install
    // folder /opt/ainode being this checkout.
    const dockerfile = fs.readFileSync(path.join(REPO_ROOT, 'deploy', 'docker', 'Dockerfile'), 'utf8');
    const lastStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    const imageEnv: Record<string, string> = {};
    for (const m of lastStage.matchAll(/^ENV ((?:.*\\\n)*.*)$/gm))
      for (const kv of m[1].replace(/\\\n/g, ' ').split(/\s+/).filter(Boolean))
        imageEnv[kv.split('=')[0]] = kv.slice(kv.indexOf('=') + 1).replace(/^\/opt\/ainode/, REPO_ROOT);
    expect(
      fs.existsSync(path.join(imageEnv.AINODE_OHIF_DIST, 'index.html')),
      "the image's OHIF folder is the one fetch-ohif.sh fills",
    ).to.equal(true);
    const started: string[] = [];
    for (const [name, s] of Object.entries(compose.services as Record<string, Obj>)) {
      if (!String(s.image ?? '').startsWith('ainode')) continue;
      // The GPU worker needs the CUDA provider, which the CPU machines that run this suite lack
      // (its image is checked in test/unit/deploy-files.test.ts; the GPU run is docs/deployment.md).
      if (name === 'worker-gpu') continue;
      const env = { ...imageEnv, ...(await localise(s.environment as Record<string, string>)) };
      await proveRunning(`compose ${name}`, s.command as string[], env);
      started.push(name);
    }
    expect(started.sort()).to.deep.equal(['admin', 'listener', 'viewer', 'worker-cpu']);
  });

  it("deploy/systemd: each unit's ExecStart with deploy/ainode.env.example and its Environment=", async () => {
    const example = Object.fromEntries(
      fs
        .readFileSync(path.join(REPO_ROOT, 'deploy', 'ainode.env.example'), 'utf8')
        .split('\n')
        .filter((l) => /^[A-Z_]+=/.test(l))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    for (const unit of fs.readdirSync(path.join(REPO_ROOT, 'deploy', 'systemd'))) {
      const text = fs.readFileSync(path.join(REPO_ROOT, 'deploy', 'systemd', unit), 'utf8');
      const exec = /^ExecStart=\S+ \S+\/bin\/ainode\.js (.+)$/m.exec(text);
      expect(exec, `${unit}: ExecStart runs bin/ainode.js`).to.not.equal(null);
      const unitEnv = Object.fromEntries(
        (/^Environment=(.+)$/m.exec(text)?.[1] ?? '')
          .split(' ')
          .filter(Boolean)
          .map((kv) => kv.split('=', 2) as [string, string]),
      );
      const env = {
        ...(await localise(example)),
        AINODE_DICOMWEB_USERNAME: 'ainode',
        AINODE_DICOMWEB_PASSWORD: PACS_PASSWORD,
        ...unitEnv,
      };
      await proveRunning(`systemd ${unit}`, exec![1].split(' '), env);
    }
  });

  it('README: npx ainode start, each --role, and npx ainode viewer', async () => {
    const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    const base = {
      AINODE_DICOMWEB_URL: orthanc.dicomwebUrl,
      AINODE_DICOMWEB_USERNAME: 'ainode',
      AINODE_DICOMWEB_PASSWORD: PACS_PASSWORD,
      AINODE_REDIS_URL: REDIS_URL,
    };
    const commands = [
      ...readme.matchAll(/^(?:(AINODE_ADMIN_TOKEN)=\.\.\. )?npx ainode (start[^#\n]*?|viewer [^#\n]*?)\s*(?:#.*)?$/gm),
    ];
    expect(commands.map((m) => m[2]).slice(0, 5)).to.deep.equal([
      'start',
      'start --role listener',
      'start --role worker',
      'start --role admin',
      'viewer --ohif-dist "$(bash scripts/fetch-ohif.sh)"',
    ]);
    for (const m of commands) {
      const args = m[2].replace('"$(bash scripts/fetch-ohif.sh)"', ohifDist()).split(' ');
      const env = {
        ...base,
        AINODE_REDIS_PREFIX: uniquePrefix('readme'),
        ...(m[1] ? { AINODE_ADMIN_TOKEN: ADMIN_TOKEN, AINODE_ADMIN_PORT: String(await freePort()) } : {}),
        ...(args[0] === 'viewer' ? { AINODE_VIEWER_PORT: String(await freePort()) } : {}),
      };
      await proveRunning(`README: npx ainode ${m[2]}`, args, env, 'npx');
    }
  });

  it('a role that cannot start exits non-zero with a coded message', () => {
    const run = (args: string[], env: Record<string, string>): { status: number | null; stderr: string } => {
      const r = spawnSync(process.execPath, [AINODE_BIN, ...args], {
        env: { PATH: process.env.PATH ?? '', ...env },
        encoding: 'utf8',
        timeout: 20_000,
      });
      return { status: r.status, stderr: r.stderr };
    };
    const base = { AINODE_DICOMWEB_URL: orthanc.dicomwebUrl, AINODE_REDIS_URL: REDIS_URL };
    const noToken = run(['start', '--role', 'admin'], base);
    expect(noToken.status).to.equal(2);
    expect(noToken.stderr).to.match(/configuration error: AINODE_ADMIN_TOKEN/);
    const openViewer = run(['viewer', '--ohif-dist', ohifDist()], { ...base, AINODE_VIEWER_HOST: '0.0.0.0' });
    expect(openViewer.status).to.equal(2);
    expect(openViewer.stderr).to.match(
      /configuration error: AINODE_VIEWER_HOST: is 0.0.0.0, reachable from the network, but no one signs in/,
    );
    const badHost = run(['start', '--role', 'admin'], {
      ...base,
      AINODE_ADMIN_TOKEN: ADMIN_TOKEN,
      AINODE_ADMIN_HOST: 'not a host!',
    });
    expect(badHost.status).to.equal(2);
    expect(badHost.stderr)
      .to.match(/AINODE_ADMIN_HOST/)
      .and.match(/\(code CONFIG_INVALID\)/);
    // A port another process holds: exit 1, coded, saying what to change.
    const taken = run(['start', '--role', 'admin'], {
      ...base,
      AINODE_ADMIN_TOKEN: ADMIN_TOKEN,
      AINODE_ADMIN_PORT: String(orthanc.httpPort),
    });
    expect(taken.status).to.equal(1);
    expect(taken.stderr).to.match(
      /LISTEN_FAILED: cannot listen on 127\.0\.0\.1:\d+ \(EADDRINUSE\) \(next: free the port or change AINODE_ADMIN_HOST \/ AINODE_ADMIN_PORT\)/,
    );
    const viewerTaken = run(['viewer', '--ohif-dist', ohifDist()], {
      ...base,
      AINODE_VIEWER_PORT: String(orthanc.httpPort),
    });
    expect(viewerTaken.status).to.equal(1);
    expect(viewerTaken.stderr).to.match(/LISTEN_FAILED: .*AINODE_VIEWER_HOST \/ AINODE_VIEWER_PORT/);
  });

  describe('the admin API as the compose file starts it, attacked', () => {
    const bearer = { Authorization: `Bearer ${ADMIN_TOKEN}` };
    const noStack = (text: string, what: string): void => {
      expect(text, what).to.not.match(/\bat [\w.<>]+ \(|\.js:\d+|node_modules|dist\/src|Error:/);
    };

    it('every route: coded 401 without or with a wrong token, an answer with the right one; the probes reveal nothing', async () => {
      expect(admin, 'the compose admin service ran').to.not.equal(undefined);
      const { base } = admin!;
      const routes: [string, string, number][] = [
        ['GET', '/status', 200],
        ['GET', '/queue/depth', 200],
        ['GET', '/jobs', 200],
        ['GET', '/jobs/1.2.3_ct-lung_1.0.0', 404],
        ['POST', '/jobs/1.2.3_ct-lung_1.0.0/retry', 404],
        ['POST', '/jobs/1.2.3_ct-lung_1.0.0/cancel', 404],
        ['GET', '/studies/1.2.3/status', 200],
        ['GET', '/rules', 200],
        ['POST', '/rules/validate', 415],
        ['PUT', '/rules', 415],
        ['GET', '/rules/test?study=1.2.3', 200],
        ['GET', '/models', 200],
        ['GET', '/metrics', 200],
        ['GET', '/audit', 200],
        ['GET', '/queues', 200],
        ['POST', '/queue/pause', 200],
        ['POST', '/queue/resume', 200],
      ];
      for (const [method, route, expected] of routes) {
        for (const auth of [undefined, 'Bearer wrong-token-wrong-token', `Bearer ${ADMIN_TOKEN}`]) {
          const r = await fetch(`${base}${route}`, { method, headers: auth ? { Authorization: auth } : {} });
          const text = await r.text();
          noStack(text, `${method} ${route}`);
          if (auth !== `Bearer ${ADMIN_TOKEN}`) {
            expect(r.status, `${method} ${route} with ${auth ?? 'no token'}`).to.equal(401);
            expect(JSON.parse(text)).to.include({ code: 'ADMIN_AUTH_REQUIRED' });
          } else expect(r.status, `${method} ${route}: ${text.slice(0, 200)}`).to.equal(expected);
        }
      }
      for (const probe of ['/health', '/ready']) {
        const r = await fetch(`${base}${probe}`);
        expect(r.status).to.equal(200);
        expect(Object.keys((await r.json()) as object), probe).to.have.length(1);
      }
      const audit = (await (await fetch(`${base}/audit`, { headers: bearer })).json()) as {
        entries: { action: string }[];
      };
      expect(audit.entries.map((e) => e.action).slice(0, 2)).to.deep.equal(['queue.resume', 'queue.pause']);
    });

    it('hostile requests get coded 4xx answers, never a stack', async () => {
      const { base } = admin!;
      const cases: [string, RequestInit & { path: string }, number, string][] = [
        [
          'cookie that is not %-encoding on /health',
          { path: '/health', headers: { Cookie: 'ainode_admin=%' } },
          200,
          '',
        ],
        [
          'cookie that is not %-encoding on /jobs',
          { path: '/jobs', headers: { Cookie: 'ainode_admin=%' } },
          401,
          'ADMIN_AUTH_REQUIRED',
        ],
        [
          'the raw token as the cookie',
          { path: '/queues', headers: { Cookie: `ainode_admin=${ADMIN_TOKEN}` } },
          401,
          'ADMIN_AUTH_REQUIRED',
        ],
        [
          'malformed JSON',
          {
            path: '/rules/validate',
            method: 'POST',
            headers: { ...bearer, 'Content-Type': 'application/json' },
            body: '{"a":',
          },
          400,
          'ADMIN_BAD_REQUEST',
        ],
        [
          'a 50 MB body',
          {
            path: '/rules',
            method: 'PUT',
            headers: { ...bearer, 'Content-Type': 'text/yaml' },
            body: 'x'.repeat(50 * 1024 * 1024),
          },
          413,
          'ADMIN_BODY_TOO_LARGE',
        ],
        [
          'JSON nested 10000 deep',
          {
            path: '/rules/validate',
            method: 'POST',
            headers: { ...bearer, 'Content-Type': 'application/json' },
            body: '['.repeat(10000) + ']'.repeat(10000),
          },
          400,
          'ADMIN_BAD_REQUEST',
        ],
        ['a broken %-escape in the path', { path: '/jobs/%E0%A4%A', headers: bearer }, 400, 'ADMIN_BAD_REQUEST'],
        ['BullMQ meta key as a job id', { path: '/jobs/meta', headers: bearer }, 400, 'ADMIN_BAD_REQUEST'],
        [
          'cancel the meta key',
          { path: '/jobs/meta/cancel', method: 'POST', headers: bearer },
          400,
          'ADMIN_BAD_REQUEST',
        ],
        ['limit=-1', { path: '/jobs?limit=-1', headers: bearer }, 400, 'ADMIN_BAD_REQUEST'],
        ['limit=100000', { path: '/jobs?limit=100000', headers: bearer }, 400, 'ADMIN_BAD_REQUEST'],
        ['an unknown state', { path: '/jobs?state=stalled', headers: bearer }, 400, 'ADMIN_BAD_REQUEST'],
        ['state given twice', { path: '/jobs?state=failed&state=active', headers: bearer }, 400, 'ADMIN_BAD_REQUEST'],
        ['a study that is no UID', { path: '/jobs?study=1.2.x', headers: bearer }, 400, 'ADMIN_BAD_REQUEST'],
        [
          'a study status for no UID',
          { path: '/studies/..%2f..%2fx/status', headers: bearer },
          400,
          'ADMIN_BAD_REQUEST',
        ],
        ['dry run without a UID', { path: '/rules/test?study=abc', headers: bearer }, 400, 'ADMIN_BAD_REQUEST'],
        [
          'pause from the dashboard',
          { path: '/queues/api/queues/pause', method: 'PUT', headers: bearer },
          405,
          'ADMIN_BAD_REQUEST',
        ],
        ['an unknown route', { path: '/nothing-here', headers: bearer }, 404, 'ADMIN_NOT_FOUND'],
      ];
      for (const [what, init, status, code] of cases) {
        const r = await fetch(`${base}${init.path}`, init);
        const text = await r.text();
        noStack(text, what);
        expect(r.status, `${what}: ${text.slice(0, 200)}`).to.equal(status);
        if (code) expect((JSON.parse(text) as { code: string }).code, what).to.equal(code);
      }
      expect(await admin!.proc.stop(), 'still running after all of it').to.equal(0);
      admin = undefined;
    });
  });
});

describe('as deployed: the dashboard session cookie', function () {
  this.timeout(60_000);
  it('is set from a login form, HttpOnly, SameSite=Strict, Secure behind https, and is not the token', async () => {
    const port = await freePort();
    const p = spawnAinode(['start', '--role', 'admin'], {
      AINODE_DICOMWEB_URL: 'http://127.0.0.1:9/dicom-web',
      AINODE_REDIS_URL: REDIS_URL,
      AINODE_REDIS_PREFIX: uniquePrefix('cookie'),
      AINODE_ADMIN_TOKEN: ADMIN_TOKEN,
      AINODE_ADMIN_PORT: String(port),
    });
    try {
      await p.waitForLog(/admin API listening/, 30_000);
      const base = `http://127.0.0.1:${port}`;
      const redirect = await fetch(`${base}/queues`, { redirect: 'manual', headers: { Accept: 'text/html' } });
      expect([redirect.status, redirect.headers.get('location')]).to.deep.equal([303, '/login']);
      const wrong = await fetch(`${base}/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: 'token=wrong',
      });
      expect(wrong.status).to.equal(401);
      const login = await fetch(`${base}/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Forwarded-Proto': 'https' },
        body: `token=${encodeURIComponent(ADMIN_TOKEN)}`,
      });
      expect(login.status).to.equal(303);
      const cookie = login.headers.get('set-cookie') ?? '';
      expect(cookie)
        .to.match(/HttpOnly/)
        .and.match(/SameSite=Strict/)
        .and.match(/Secure/);
      expect(cookie).to.not.include(ADMIN_TOKEN);
      expect(cookie).to.not.include(encodeURIComponent(ADMIN_TOKEN));
      const plain = await fetch(`${base}/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: `token=${encodeURIComponent(ADMIN_TOKEN)}`,
      });
      expect(plain.headers.get('set-cookie')).to.not.match(/Secure/);
      const session = cookie.split(';')[0];
      const board = await fetch(`${base}/queues`, { headers: { Cookie: session } });
      expect(board.status).to.equal(200);
      // The cookie opens the dashboard only, not the API's actions.
      expect((await fetch(`${base}/jobs`, { headers: { Cookie: session } })).status).to.equal(401);
      const forged = session.replace(/\.[A-Za-z0-9_-]+$/, '.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
      expect((await fetch(`${base}/queues`, { headers: { Cookie: forged } })).status).to.equal(401);
    } finally {
      await p.stop();
    }
  });
});
