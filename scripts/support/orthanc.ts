/**
 * Starts a private Orthanc (with the DICOMweb plugin) on free loopback ports in a folder of its
 * own, for the demo and the tests. Based on orthanc/orthanc.json.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';

export interface OrthancOptions {
  dir: string;
  stableAge?: number;
  httpPort?: number;
  users?: Record<string, string>;
}

export interface OrthancProcess {
  url: string;
  dicomwebUrl: string;
  httpPort: number;
  dir: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

const ORTHANC_BIN = process.env.ORTHANC_BIN ?? '/usr/sbin/Orthanc';

export async function startOrthanc(opts: OrthancOptions): Promise<OrthancProcess> {
  const template = JSON.parse(
    fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'orthanc', 'orthanc.json'), 'utf8'),
  ) as Record<string, unknown>;
  delete template._comment;
  const storage = path.join(opts.dir, 'storage');
  fs.mkdirSync(storage, { recursive: true });
  const httpPort = opts.httpPort ?? (await freePort());
  const config = {
    ...template,
    StorageDirectory: storage,
    IndexDirectory: storage,
    HttpPort: httpPort,
    DicomPort: await freePort(),
    StableAge: opts.stableAge ?? template.StableAge,
    ...(opts.users ? { AuthenticationEnabled: true, RegisteredUsers: opts.users } : {}),
  };
  const confDir = path.join(opts.dir, 'config');
  fs.mkdirSync(confDir, { recursive: true });
  fs.writeFileSync(path.join(confDir, 'orthanc.json'), JSON.stringify(config, null, 2));
  const log = fs.openSync(path.join(opts.dir, 'orthanc.log'), 'a');
  const child = spawn(ORTHANC_BIN, [confDir + '/'], { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const url = `http://127.0.0.1:${httpPort}`;
  const auth = opts.users
    ? { Authorization: 'Basic ' + Buffer.from(Object.entries(opts.users)[0].join(':')).toString('base64') }
    : undefined;
  const deadline = Date.now() + 20_000;
  let exited = false;
  child.once('exit', () => (exited = true));
  for (;;) {
    if (exited) throw new Error(`Orthanc exited at start; see ${path.join(opts.dir, 'orthanc.log')}`);
    try {
      const res = await fetch(`${url}/system`, { headers: auth });
      if (res.ok) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline)
      throw new Error(`Orthanc did not answer on ${url} within 20 s; see ${path.join(opts.dir, 'orthanc.log')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    dicomwebUrl: `${url}/dicom-web`,
    httpPort,
    dir: opts.dir,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited || child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
      }),
  };
}
