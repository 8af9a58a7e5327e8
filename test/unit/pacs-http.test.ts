/**
 * PACS HTTP (src/dicomweb/http.ts): which requests reuse connections, and the one repeat of a read
 * whose kept-alive connection the server closed. A local HTTP server stands in for a PACS that
 * drops a connection under a request (the real Orthanc path is tested in
 * test/integration/wado-retrieval.test.ts).
 */
import { expect } from 'chai';
import * as http from 'http';
import type { AddressInfo } from 'net';
import { createPacsHttp, isStaleConnection } from '../../src/dicomweb/http';

describe('PACS HTTP: kept-alive connections', () => {
  let server: http.Server;
  let url = '';
  let connections = 0;
  let requests = 0;

  before(async () => {
    // Answers the first request of each connection; drops the connection under its second one.
    server = http.createServer({ keepAliveTimeout: 5000 }, (req, res) => {
      requests++;
      const socket = req.socket as typeof req.socket & { served?: number };
      socket.served = (socket.served ?? 0) + 1;
      if (socket.served > 1) return void socket.destroy();
      req.resume();
      req.on('end', () => res.end(`answer ${requests}`));
    });
    server.on('connection', () => void connections++);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => void ((connections = 0), (requests = 0)));

  it('a read on a connection the server drops is asked again once, on a new connection', async () => {
    const pacs = createPacsHttp({ username: undefined, password: undefined });
    expect(await (await pacs.fetch(url)).text()).to.equal('answer 1');
    await new Promise((r) => setTimeout(r, 50)); // the connection is back in the pool
    // Reuses the kept-alive connection, which the server drops under it; the repeat succeeds.
    expect(await (await pacs.fetch(url)).text()).to.equal('answer 3');
    expect(connections).to.equal(2);
    expect(requests).to.equal(3);
  });

  it('uploads are not repeated and do not reuse connections', async () => {
    const pacs = createPacsHttp({ username: undefined, password: undefined });
    for (let i = 1; i <= 3; i++) {
      expect(await (await pacs.fetch(url, { method: 'POST', body: new Uint8Array([1, 2, 3]) })).text()).to.equal(
        `answer ${i}`,
      );
      await new Promise((r) => setTimeout(r, 50)); // a kept-alive connection would be back in the pool
    }
    expect(connections).to.equal(3);
  });

  it('recognises a closed connection by its code, in the error or its causes, and nothing else', () => {
    const wrapped = (code: string): Error =>
      new TypeError('fetch failed', { cause: Object.assign(new Error('other side closed'), { code }) });
    expect(isStaleConnection(wrapped('UND_ERR_SOCKET'))).to.equal(true);
    expect(isStaleConnection(wrapped('EPIPE'))).to.equal(true);
    expect(isStaleConnection(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).to.equal(true);
    expect(isStaleConnection(wrapped('ECONNREFUSED'))).to.equal(false);
    expect(isStaleConnection(new Error('fetch failed'))).to.equal(false);
    expect(isStaleConnection(undefined)).to.equal(false);
  });
});
