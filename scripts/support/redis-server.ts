/** A private redis-server with append-only persistence, for fault tests that restart Redis. */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { freePort } from './orthanc';

export interface RedisProcess {
  url: string;
  port: number;
  stop(signal?: NodeJS.Signals): Promise<void>;
  start(): Promise<void>;
}

async function ping(port: number): Promise<boolean> {
  const net = await import('net');
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('error', () => resolve(false));
    s.once('connect', () => s.write('PING\r\n'));
    s.once('data', (d) => (s.destroy(), resolve(d.toString().startsWith('+PONG'))));
  });
}

export async function startRedis(dir: string): Promise<RedisProcess> {
  fs.mkdirSync(dir, { recursive: true });
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    child = spawn(
      'redis-server',
      [
        '--bind',
        '127.0.0.1',
        '--port',
        String(port),
        '--dir',
        dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--save',
        '',
      ],
      { stdio: ['ignore', fs.openSync(path.join(dir, 'redis.log'), 'a'), 'ignore'] },
    );
    for (let i = 0; i < 100 && !(await ping(port)); i++) await new Promise((r) => setTimeout(r, 100));
    if (!(await ping(port))) throw new Error(`redis-server did not start on ${port}`);
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    start,
    stop: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        const c = child;
        if (!c || c.exitCode !== null) return resolve();
        c.once('exit', () => resolve());
        c.kill(signal);
      }),
  };
}
