/**
 * Redis behind Sentinel (deployment issue: sites with an existing Sentinel setup). A real
 * redis-server and a real redis-sentinel monitoring it; ainode's connection finds the master
 * through the sentinel, and a BullMQ job goes through it end to end.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Queue, Worker } from 'bullmq';
import { connectRedis } from '../../src/queue/redis';
import { loadConfig } from '../../src/config/schema';
import { startRedis, type RedisProcess } from '../../scripts/support/redis-server';
import { freePort } from '../../scripts/support/orthanc';
import { tempDir, uniquePrefix } from '../support/env';

describe('deployment: Redis through Sentinel', function () {
  this.timeout(60_000);
  let redis: RedisProcess;
  let sentinel: ChildProcess;
  let sentinelPort: number;

  before(async () => {
    const dir = tempDir('sentinel');
    redis = await startRedis(path.join(dir, 'redis'));
    sentinelPort = await freePort();
    const conf = path.join(dir, 'sentinel.conf');
    fs.writeFileSync(
      conf,
      `bind 127.0.0.1\nport ${sentinelPort}\ndir ${dir}\nsentinel monitor ainode-master 127.0.0.1 ${redis.port} 1\n`,
    );
    sentinel = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
    // The sentinel answers once it knows the master.
    for (let i = 0; i < 100; i++) {
      const probe = connectRedis('redis://127.0.0.1:' + sentinelPort);
      probe.on('error', () => undefined); // refused until the sentinel is listening
      try {
        const addr = (await probe.call('SENTINEL', 'get-master-addr-by-name', 'ainode-master')) as string[] | null;
        if (addr && Number(addr[1]) === redis.port) break;
      } catch {
        /* not up yet */
      } finally {
        probe.disconnect();
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  after(async () => {
    sentinel?.kill();
    await redis?.stop();
  });

  it('config: AINODE_REDIS_SENTINELS and AINODE_REDIS_SENTINEL_NAME, checked at start', () => {
    const c = loadConfig({
      AINODE_DICOMWEB_URL: 'http://pacs/dicom-web',
      AINODE_REDIS_URL: 'redis://:pw@unused:6379/2',
      AINODE_REDIS_SENTINELS: `127.0.0.1:${sentinelPort}, sentinel-b:26379`,
      AINODE_REDIS_SENTINEL_NAME: 'ainode-master',
    });
    expect(c.redisSentinels).to.deep.equal({
      sentinels: [
        { host: '127.0.0.1', port: sentinelPort },
        { host: 'sentinel-b', port: 26379 },
      ],
      name: 'ainode-master',
    });
    expect(() =>
      loadConfig({
        AINODE_DICOMWEB_URL: 'http://pacs/dicom-web',
        AINODE_REDIS_URL: 'redis://x:6379',
        AINODE_REDIS_SENTINELS: 'sentinel-b',
      }),
    ).to.throw(/is not host:port/);
  });

  it('a BullMQ job is queued and processed through the master the sentinel names', async () => {
    const target = {
      url: 'redis://unused-host:6379/0',
      sentinels: { sentinels: [{ host: '127.0.0.1', port: sentinelPort }], name: 'ainode-master' },
    };
    const conn = connectRedis(target);
    const workerConn = connectRedis(target, { forWorker: true });
    const prefix = uniquePrefix('sentinel');
    const queue = new Queue('inference', { connection: conn, prefix });
    let seen: unknown;
    const worker = new Worker('inference', async (job) => ((seen = job.data), 'done'), {
      connection: workerConn,
      prefix,
    });
    try {
      const job = await queue.add('infer', { studyInstanceUid: '1.2.3' });
      for (let i = 0; i < 100 && (await job.getState()) !== 'completed'; i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(await job.getState()).to.equal('completed');
      expect(seen).to.deep.equal({ studyInstanceUid: '1.2.3' });
      // The keys are on the real server behind the sentinel.
      const direct = connectRedis(redis.url);
      expect((await direct.keys(`${prefix}:inference:*`)).length).to.be.greaterThan(0);
      direct.disconnect();
    } finally {
      await worker.close();
      await queue.close();
      conn.disconnect();
      workerConn.disconnect();
    }
  });
});
