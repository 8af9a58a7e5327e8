/**
 * Issue 6 security: DICOMweb over TLS with a hospital's own CA and a bearer token (a real Orthanc
 * behind an https proxy that demands the token), no patient identifiers in any log line, and job
 * data in Redis holding UIDs only (read from the raw keys).
 */
import { expect } from 'chai';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import * as path from 'path';
import IORedis from 'ioredis';
import type { AddressInfo } from 'net';
import { DicomwebClient } from '../../src/dicomweb/client';
import { readPart10, writePart10 } from '../../src/dicom/part10';
import { startOrthanc, type OrthancProcess } from '../../scripts/support/orthanc';
import { readDicomFolder, stowFiles } from '../../scripts/support/dicom-files';
import { reUid } from '../../scripts/support/reuid';
import { spawnAinode, type AinodeProcess } from '../support/ainode-process';
import { CHEST_CT_DIR, REDIS_URL, tempDir, uniquePrefix } from '../support/env';
import { expectExactlyOneResult, waitUntil, resultCounts } from '../support/results';

const TOKEN = 'bearer-secret-6f1e2d3c4b5a';
const PATIENT = {
  PatientName: 'Doe^Jane',
  PatientID: 'MRN-55501234',
  PatientBirthDate: '19580304',
  AccessionNumber: 'ACC7734521',
};

function makeCa(dir: string): { ca: string; key: string; cert: string } {
  const o = (args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  o([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=ainode test hospital CA',
  ]);
  o(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  fs.writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  o([
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '2',
    '-extfile',
    'san.ext',
  ]);
  return { ca: path.join(dir, 'ca.pem'), key: path.join(dir, 'server.key'), cert: path.join(dir, 'server.pem') };
}

describe('TLS with a custom CA, bearer token, no patient data in logs or Redis', function () {
  this.timeout(180_000);
  let orthanc: OrthancProcess;
  let proxy: https.Server;
  const procs: AinodeProcess[] = [];
  after(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    proxy?.close();
    await orthanc?.stop();
  });

  it('works end to end through https + bearer; identifiers appear in no log line and no Redis value', async () => {
    const dir = tempDir('security');
    const tls = makeCa(dir);
    orthanc = await startOrthanc({ dir: path.join(dir, 'orthanc'), stableAge: 2 });
    const upstream = new URL(orthanc.url);
    proxy = https.createServer({ key: fs.readFileSync(tls.key), cert: fs.readFileSync(tls.cert) }, (req, res) => {
      if (req.headers.authorization !== `Bearer ${TOKEN}`) {
        res.writeHead(401).end();
        return;
      }
      const headers = { ...req.headers, host: upstream.host };
      delete headers.authorization;
      const up = http.request(
        { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        },
      );
      up.on('error', () => res.writeHead(502).end());
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    const base = `https://127.0.0.1:${(proxy.address() as AddressInfo).port}`;

    const prefix = uniquePrefix('security');
    const env = {
      AINODE_DICOMWEB_URL: `${base}/dicom-web`,
      AINODE_ORTHANC_URL: base,
      AINODE_DICOMWEB_TOKEN: TOKEN,
      AINODE_DICOMWEB_CA_FILE: tls.ca,
      AINODE_REDIS_URL: REDIS_URL,
      AINODE_REDIS_PREFIX: prefix,
      AINODE_POLL_INTERVAL_MS: '300',
      AINODE_EXECUTION_PROVIDERS: 'cpu',
      AINODE_LOG_LEVEL: 'debug',
    };
    const node = spawnAinode(['start'], env);
    procs.push(node);
    await node.waitForLog(/listening to the Orthanc change feed/, 30_000);
    expect(node.lines.join('\n')).to.match(/"intake":"orthanc"/); // the change feed is reached through the proxy too

    // Without the CA the same setup fails, saying why.
    const noCa = spawnAinode(['start', '--role', 'listener'], {
      ...env,
      AINODE_DICOMWEB_CA_FILE: '',
      AINODE_PACS_KIND: 'orthanc',
      AINODE_REDIS_PREFIX: uniquePrefix('noca'),
    });
    procs.push(noCa);
    expect(await noCa.waitForLog(/intake tick failed/, 20_000)).to.match(/DICOMWEB_UNREACHABLE/);

    const study = reUid(readDicomFolder(CHEST_CT_DIR), 'security').map((f) => {
      const { dataset } = readPart10(f.part10);
      Object.assign(dataset, PATIENT);
      return { ...f, part10: writePart10(dataset, { PixelData: 'OW' }) };
    });
    const direct = new DicomwebClient({
      url: orthanc.dicomwebUrl,
      username: undefined,
      password: undefined,
      timeoutMs: 60_000,
    });
    await stowFiles(direct, study);
    await waitUntil('results', 90_000, async () => (await resultCounts(direct, study[0].studyInstanceUid)).sr === 1);
    await new Promise((r) => setTimeout(r, 3000));
    await expectExactlyOneResult(direct, study[0].studyInstanceUid);

    const secrets = [...Object.values(PATIENT), 'Doe', 'Jane', TOKEN];
    const logs = [...node.lines, ...noCa.lines].join('\n');
    for (const s of secrets) expect(logs, `log lines contain "${s}"`).to.not.include(s);

    const redis = new IORedis(REDIS_URL);
    const keys = await redis.keys(`${prefix}:*`);
    expect(keys.length).to.be.greaterThan(0);
    let jobHashes = 0;
    for (const k of keys) {
      const type = await redis.type(k);
      const values: string[] =
        type === 'hash'
          ? Object.values(await redis.hgetall(k))
          : type === 'string'
            ? [(await redis.get(k)) ?? '']
            : type === 'list'
              ? await redis.lrange(k, 0, -1)
              : type === 'zset'
                ? await redis.zrange(k, '0', '-1')
                : type === 'set'
                  ? await redis.smembers(k)
                  : [];
      for (const v of values) for (const s of secrets) expect(v, `${k} holds "${s}"`).to.not.include(s);
      if (type === 'hash') {
        const data = await redis.hget(k, 'data');
        if (data) {
          jobHashes++;
          expect(
            Object.keys(JSON.parse(data) as object).every((f) =>
              [
                'studyInstanceUid',
                'seriesInstanceUid',
                'modelId',
                'modelVersion',
                'rule',
                'destination',
                'resultVersion',
              ].includes(f),
            ),
            k,
          ).to.equal(true);
        }
      }
    }
    expect(jobHashes).to.equal(1);
    redis.disconnect();
  });
});
