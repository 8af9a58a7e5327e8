/**
 * The viewer gateway attacked as deployed: `ainode viewer` started by its CLI in front of a real
 * Orthanc that demands a password (RegisteredUsers), users signing in from a users file written
 * by `ainode viewer add-user`. Every known attack and a fuzzed set of path encodings must be
 * refused before anything reaches Orthanc (its instances, patients and change feed unchanged
 * afterwards), no request may ever reach another host (a capture server on loopback must receive
 * nothing), and a page on another site in headless Chromium, with a signed-in user, must not
 * change anything either. The table of attacks and answers is printed for the closing notes.
 */
import { expect } from 'chai';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as path from 'path';
import type { AddressInfo } from 'net';
import { DicomwebClient } from '../../src/dicomweb/client';
import { freePort, startOrthanc, type OrthancProcess } from '../../scripts/support/orthanc';
import { readDicomFolder, stowFiles } from '../../scripts/support/dicom-files';
import { reUid } from '../../scripts/support/reuid';
import { AINODE_BIN, spawnAinode, type AinodeProcess } from '../support/ainode-process';
import { launchChromium, ohifDist } from '../support/ohif-browser';
import { CHEST_CT_DIR, tempDir } from '../support/env';

const PACS_USER = 'ainode';
const PACS_PASSWORD = 'pacs-password-5c4b3a29';
const READER = 'reader';
const READER_PASSWORD = 'a reader password 8d7e';

interface Raw {
  status: number;
  headers: string;
  body: string;
}

/** One request with exactly these bytes as its target (no client library normalises it). */
function rawRequest(port: number, method: string, target: string, headers: Record<string, string> = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    s.on('data', (c) => chunks.push(c));
    s.on('error', reject);
    s.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const [head, ...rest] = text.split('\r\n\r\n');
      resolve({
        status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0),
        headers: head,
        body: rest.join('\r\n\r\n'),
      });
    });
    const lines = [
      `${method} ${target} HTTP/1.1`,
      `Host: 127.0.0.1:${port}`,
      'Connection: close',
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
      '',
      '',
    ];
    // write, not end: a half-closed socket may be dropped before an answer that takes a while.
    s.write(lines.join('\r\n'));
  });
}

const basic = (user: string, pw: string): string => `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}`;

describe('security: the viewer gateway as deployed, attacked', function () {
  this.timeout(180_000);
  let orthanc: OrthancProcess;
  const gateways: AinodeProcess[] = [];
  let capture: http.Server;
  const captured: string[] = [];
  let pacs: DicomwebClient;
  let study: { studyUid: string; seriesUid: string; sopUid: string; orthancPatient: string; orthancInstance: string };
  let withPath: number; // gateway to http://orthanc/dicom-web
  let withoutPath: number; // gateway to http://orthanc (no path: the configuration that leaked credentials)
  const table: string[][] = [];
  const signIn = { Authorization: basic(READER, READER_PASSWORD) };

  const orthancGet = async (p: string): Promise<unknown> => {
    const r = await fetch(`${orthanc.url}${p}`, { headers: { Authorization: basic(PACS_USER, PACS_PASSWORD) } });
    expect(r.status, p).to.equal(200);
    return r.json();
  };
  const snapshot = async (): Promise<string> =>
    JSON.stringify([
      await orthancGet('/instances'),
      await orthancGet('/patients'),
      await orthancGet('/changes?limit=1000'),
      await orthancGet('/peers'),
      await orthancGet('/modalities'),
    ]);

  async function startGateway(url: string): Promise<number> {
    const dir = tempDir('gateway-users');
    const usersFile = path.join(dir, 'viewer-users');
    // The users file exactly as an administrator writes it.
    fs.writeFileSync(
      usersFile,
      execFileSync(process.execPath, [AINODE_BIN, 'viewer', 'add-user', READER], {
        input: `${READER_PASSWORD}\n`,
        encoding: 'utf8',
      }),
    );
    const gw = spawnAinode(['viewer', '--ohif-dist', ohifDist()], {
      AINODE_DICOMWEB_URL: url,
      AINODE_DICOMWEB_USERNAME: PACS_USER,
      AINODE_DICOMWEB_PASSWORD: PACS_PASSWORD,
      AINODE_VIEWER_USERS_FILE: usersFile,
      AINODE_VIEWER_PORT: '0',
    });
    gateways.push(gw);
    const line = await gw.waitForLog(/OHIF viewer served/, 20_000);
    return Number(new URL((JSON.parse(line) as { url: string }).url).port);
  }

  before(async () => {
    const dir = tempDir('security-gateway');
    orthanc = await startOrthanc({
      dir: path.join(dir, 'orthanc'),
      users: { [PACS_USER]: PACS_PASSWORD },
      stableAge: 1,
    });
    pacs = new DicomwebClient({
      url: orthanc.dicomwebUrl,
      username: PACS_USER,
      password: PACS_PASSWORD,
      timeoutMs: 60_000,
    });
    const files = reUid(readDicomFolder(CHEST_CT_DIR).slice(0, 3), 'security-gateway');
    await stowFiles(pacs, files);
    // Orthanc adds Stable* changes once the study is quiet: wait for them, so that the snapshots
    // compare a feed only an attack could change.
    for (let i = 0; i < 100 && !JSON.stringify(await orthancGet('/changes?limit=1000')).includes('StablePatient'); i++)
      await new Promise((r) => setTimeout(r, 200));
    const instances = (await orthancGet('/instances')) as string[];
    const patients = (await orthancGet('/patients')) as string[];
    study = {
      studyUid: files[0].studyInstanceUid,
      seriesUid: files[0].seriesInstanceUid,
      sopUid: files[0].sopInstanceUid,
      orthancInstance: instances[0],
      orthancPatient: patients[0],
    };
    capture = http.createServer((req, res) => {
      captured.push(`${req.method} ${req.url} auth=${req.headers.authorization ?? ''}`);
      res.end('captured');
    });
    await new Promise<void>((r) => capture.listen(0, '127.0.0.1', () => r()));
    withPath = await startGateway(orthanc.dicomwebUrl);
    withoutPath = await startGateway(orthanc.url);
  });

  after(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    capture?.close();
    await orthanc?.stop();
    if (table.length) {
      process.stdout.write(
        `\n      | attack | expected | observed |\n      |---|---|---|\n${table.map((r) => `      | ${r.join(' | ')} |`).join('\n')}\n`,
      );
    }
  });

  it('every known attack is refused with a code before it reaches Orthanc, and Orthanc is unchanged', async () => {
    const cap = `127.0.0.1:${(capture.address() as AddressInfo).port}`;
    const { orthancInstance: inst, orthancPatient: pat, studyUid: uid } = study;
    const attacks: [string, string, string][] = [
      ['GET', `/dicom-web/..%2f..%2finstances/${inst}?_method=DELETE`, 'delete an instance through %2f and ?_method'],
      ['GET', `/dicom-web/..%2f..%2fpatients/${pat}?_method=DELETE`, 'delete a patient'],
      ['GET', '/dicom-web/..%2f..%2fchanges?_method=DELETE', 'empty the change feed'],
      ['GET', '/dicom-web/../system', 'raw .. to the REST API'],
      ['GET', '/dicom-web/%2e%2e/system', '%2e%2e'],
      ['GET', '/dicom-web/%2E%2E/%2E%2E/patients', '%2E%2E (upper case)'],
      ['GET', '/dicom-web/..%5csystem', '..%5c'],
      ['GET', '/dicom-web/..\\system', 'raw backslash'],
      ['GET', '/dicom-web/studies/..%2f..%2f..%2fpeers', 'climb from a route'],
      ['GET', '/dicom-web/%252e%252e/system', 'double encoding'],
      ['GET', '/dicom-web/../app/explorer.html', 'Orthanc Explorer'],
      ['GET', '/dicom-web/../modalities', 'DICOM modalities'],
      ['GET', `/dicom-web/studies/${uid}?_method=DELETE`, '?_method=DELETE on a route'],
      ['GET', `/dicom-web/studies/${uid}?X-HTTP-Method-Override=DELETE`, 'X-HTTP-Method-Override in the query'],
      ['GET', `/dicom-web/studies?method=DELETE`, '?method=DELETE'],
      ['DELETE', `/dicom-web/studies/${uid}`, 'DELETE method'],
      ['POST', '/dicom-web/studies', 'STOW-RS through the gateway'],
      ['PUT', '/dicom-web/studies', 'PUT'],
      ['GET', `//${cap}/x`, 'scheme-relative path to another host'],
      ['GET', `/dicom-web//${cap}/x`, '//other-host below the root'],
      ['GET', `http://${cap}/x`, 'absolute-form target, other host'],
      ['GET', `http://${cap}/dicom-web/studies`, 'absolute-form target naming a route'],
      ['GET', `/dicom-web/studies/${uid}%00`, 'NUL byte'],
      ['GET', '/dicom-web/tools/reset', 'an Orthanc tool below the root'],
      ['GET', '/dicom-web/studies/1.2.3/series/x/instances', 'a non-UID in a route'],
      ['GET', '/dicom-web/studies?00100010=%25252e', 'an escape that survives decoding'],
      ['GET', '/dicom-web/studies?Foo=1', 'a query key that is no DICOM attribute'],
    ];
    const before = await snapshot();
    for (const port of [withPath, withoutPath]) {
      for (const [method, target, what] of attacks) {
        const r = await rawRequest(port, method, target, signIn);
        expect([400, 403, 405], `${what}: ${method} ${target} -> ${r.status} ${r.body}`).to.include(r.status);
        const body = JSON.parse(r.body) as { code: string };
        expect(body.code, what).to.match(/^GATEWAY_/);
        expect(r.body + r.headers, what).to.not.include(String(orthanc.httpPort));
        expect(r.headers.toLowerCase(), what).to.not.match(/^server:/m);
        if (port === withPath)
          table.push([
            `${what}: \`${method} ${target.replace(inst, '<instance>').replace(pat, '<patient>').replace(uid, '<study>').replace(cap, '<capture>')}\``,
            'refused, coded, not forwarded',
            `${r.status} ${body.code}`,
          ]);
      }
    }
    expect(await snapshot(), 'Orthanc unchanged: instances, patients, change feed, peers, modalities').to.equal(before);
    expect(captured, 'nothing reached the capture server').to.deep.equal([]);
  });

  it('a fuzzed set of path encodings: every one refused, nothing forwarded', async () => {
    const dots = [
      '..',
      '%2e%2e',
      '%2E%2e',
      '.%2e',
      '%2e.',
      '%252e%252e',
      '%c0%ae%c0%ae',
      '%u002e%u002e',
      '..%00',
      '...',
    ];
    const seps = ['/', '%2f', '%2F', '\\', '%5c', '%5C', '%252f', '//', '/./'];
    const targets = [
      `instances/${study.orthancInstance}`,
      `patients/${study.orthancPatient}`,
      'changes',
      'system',
      'tools/reset',
    ];
    const overrides = ['', '?_method=DELETE', '?_METHOD=delete', '?x-http-method-override=DELETE', '?_method=POST'];
    const before = await snapshot();
    let n = 0;
    let refused = 0;
    for (const d of dots)
      for (const s of seps)
        for (const t of targets) {
          const o = overrides[n % overrides.length];
          const target = `/dicom-web/${d}${s}${d}${s}${t}${o}`;
          n++;
          const r = await rawRequest(withoutPath, 'GET', target, signIn);
          // 400: refused by the gateway; the node's own HTTP parser may refuse a target first (also 400).
          expect(r.status, `${target} -> ${r.status} ${r.body}`).to.equal(400);
          refused++;
        }
    expect(refused).to.equal(dots.length * seps.length * targets.length);
    expect(await snapshot()).to.equal(before);
    expect(captured).to.deep.equal([]);
    table.push([
      `${n} fuzzed encodings of \`..\` and \`/\` towards instances, patients, changes, system, tools/reset, with method overrides`,
      'all refused',
      `${refused} x 400`,
    ]);
  });

  it('legitimate reads work, carry no trace of the PACS, and need a signed-in user', async () => {
    const { studyUid, seriesUid, sopUid } = study;
    const qido = await rawRequest(withPath, 'GET', `/dicom-web/studies?StudyInstanceUID=${studyUid}&limit=5`, {
      ...signIn,
      Accept: 'application/dicom+json',
    });
    expect(qido.status, qido.body).to.equal(200);
    expect(qido.body).to.include(studyUid);
    const meta = await rawRequest(withPath, 'GET', `/dicom-web/studies/${studyUid}/series/${seriesUid}/metadata`, {
      ...signIn,
      Accept: 'application/dicom+json',
    });
    expect(meta.status).to.equal(200);
    expect(meta.body, 'BulkDataURIs name the gateway').to.include(
      `http://127.0.0.1:${withPath}/dicom-web/studies/${studyUid}`,
    );
    for (const r of [qido, meta]) {
      expect(r.body + r.headers).to.not.include(String(orthanc.httpPort));
      expect(r.headers.toLowerCase()).to.not.match(/^server:/m);
      expect(r.headers).to.match(/Cross-Origin-Resource-Policy: same-origin/i);
    }
    const frame = await rawRequest(
      withPath,
      'GET',
      `/dicom-web/studies/${studyUid}/series/${seriesUid}/instances/${sopUid}/frames/1`,
      { ...signIn, Accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*' },
    );
    expect(frame.status).to.equal(200);
    expect(frame.headers).to.match(/content-type: multipart\/related/i);

    const anonymous = await rawRequest(withPath, 'GET', '/dicom-web/studies');
    expect(anonymous.status).to.equal(401);
    expect(JSON.parse(anonymous.body)).to.include({ code: 'GATEWAY_AUTH_REQUIRED' });
    expect(anonymous.headers).to.match(/WWW-Authenticate: Basic/i);
    expect(
      (await rawRequest(withPath, 'GET', '/dicom-web/studies', { Authorization: basic(READER, 'wrong password!!') }))
        .status,
    ).to.equal(401);
    expect(
      (await rawRequest(withPath, 'GET', '/dicom-web/studies', { Authorization: basic('nobody', READER_PASSWORD) }))
        .status,
    ).to.equal(401);
    expect((await rawRequest(withPath, 'GET', '/', {})).status, 'the viewer itself needs sign-in too').to.equal(401);
    const health = await rawRequest(withPath, 'GET', '/health');
    expect([health.status, JSON.parse(health.body)]).to.deep.equal([200, { status: 'ok' }]);
    const crossSite = await rawRequest(withPath, 'GET', '/dicom-web/studies', {
      ...signIn,
      'Sec-Fetch-Site': 'cross-site',
    });
    expect([crossSite.status, (JSON.parse(crossSite.body) as { code: string }).code]).to.deep.equal([
      403,
      'GATEWAY_CROSS_SITE',
    ]);
    table.push([
      'QIDO, metadata, frames signed in',
      '200, no PACS address or Server header',
      `${qido.status}, ${meta.status}, ${frame.status}`,
    ]);
    table.push(['no sign-in / wrong password / unknown user', '401 GATEWAY_AUTH_REQUIRED', '401, 401, 401']);
    table.push(['Sec-Fetch-Site: cross-site', '403', `${crossSite.status} GATEWAY_CROSS_SITE`]);
  });

  it('a PACS that does not answer gives a coded 502 that names no address', async () => {
    const dead = await freePort();
    const gw = await startGateway(`http://127.0.0.1:${dead}/dicom-web`);
    const r = await rawRequest(gw, 'GET', '/dicom-web/studies', signIn);
    expect(r.status).to.equal(502);
    const body = JSON.parse(r.body) as { code: string; message: string };
    expect(body.code).to.equal('PACS_UNREACHABLE');
    expect(r.body).to.not.include(String(dead));
    expect(r.body).to.not.include('127.0.0.1');
    expect(r.body).to.not.match(/ECONNREFUSED|at .*\.js/);
    table.push(['PACS down', 'coded 502, no address', `${r.status} ${body.code}`]);
  });

  it('a page on another site, with a signed-in user in the same browser, changes nothing and reads nothing', async () => {
    const gw = `http://127.0.0.1:${withPath}`;
    const { orthancInstance: inst, orthancPatient: pat, studyUid } = study;
    const page = `<!doctype html><title>start</title>
<img src="${gw}/dicom-web/..%2f..%2fpatients/${pat}?_method=DELETE">
<img src="${gw}/dicom-web/..%2f..%2fchanges?_method=DELETE">
<img src="${gw}/dicom-web/studies/${studyUid}/rendered">
<script>
const results = [];
const go = async () => {
  for (const [url, init] of [
    ['${gw}/dicom-web/..%2f..%2finstances/${inst}?_method=DELETE', { mode: 'no-cors', credentials: 'include' }],
    ['${gw}/dicom-web/studies/${studyUid}', { method: 'DELETE', mode: 'no-cors', credentials: 'include' }],
    ['${gw}/dicom-web/studies', { method: 'POST', mode: 'no-cors', credentials: 'include', body: 'x' }],
    ['${gw}/dicom-web/studies?limit=1', { credentials: 'include' }],
  ]) {
    try { const r = await fetch(url, init); results.push(r.type + ':' + r.status + ':' + (await r.text()).length); } catch (e) { results.push('blocked'); }
  }
  document.title = 'done ' + results.join(' ');
};
setTimeout(go, 500);
</script>`;
    const attacker = http.createServer((_req, res) => res.setHeader('Content-Type', 'text/html').end(page));
    await new Promise<void>((r) => attacker.listen(0, '127.0.0.1', () => r()));
    const browser = await launchChromium();
    const before = await snapshot();
    try {
      const context = await browser.newContext({ httpCredentials: { username: READER, password: READER_PASSWORD } });
      const p = await context.newPage();
      // The radiologist is signed in to the gateway...
      const own = await p.goto(`${gw}/health`);
      expect(own?.status()).to.equal(200);
      const signedIn = await p.evaluate(async () => (await fetch('/dicom-web/studies?limit=1')).status);
      expect(signedIn, 'the signed-in user reads through the gateway').to.equal(200);
      // ... and opens a page elsewhere (localhost is another site than 127.0.0.1).
      await p.goto(`http://localhost:${(attacker.address() as AddressInfo).port}/`);
      await p.waitForFunction(() => document.title.startsWith('done'), undefined, { timeout: 20_000 });
      const title = await p.title();
      // no-cors answers are opaque (status 0, no body); the CORS read is blocked.
      expect(title, title).to.not.match(/basic:200|cors:200/);
      table.push([
        'cross-site page in Chromium (signed-in user): <img> x3, fetch no-cors DELETE/POST/_method, CORS read',
        'nothing changed, nothing read',
        title.replace(/^done /, ''),
      ]);
    } finally {
      await browser.close();
      attacker.close();
    }
    expect(await snapshot(), 'Orthanc unchanged').to.equal(before);
    expect(captured).to.deep.equal([]);
  });
});
