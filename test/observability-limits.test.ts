// Limits and timeouts (spec/operations.md §4-5): max object size, body idle timeout, keep-alive
// idle timeout, max header size and max connections, each answered with an S3-shaped error or a
// clean close. Raw sockets, so the tests see exactly what a client sees.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { call, ENGINES, s3ErrorCode, startTestServer, type TestServer } from './observability-server.js';

interface RawOutcome {
  /** Everything the server sent before closing. */
  data: string;
  /** The server closed the connection (end or reset). */
  closed: boolean;
}

function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Collects what the server sends until it closes or `waitMs` passes. */
function collect(socket: Socket, waitMs: number): Promise<RawOutcome> {
  return new Promise((resolve) => {
    let data = '';
    const done = (closed: boolean): void => {
      clearTimeout(timer);
      resolve({ data, closed });
    };
    const timer = setTimeout(() => done(false), waitMs);
    socket.on('data', (c: Buffer) => (data += c.toString('latin1')));
    socket.on('close', () => done(true));
    socket.on('error', () => undefined);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

for (const engine of ENGINES) {
  describe(`limits [${engine}]`, () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer({
        engine,
        tweak: (c) => {
          c.server.max_object_size = 1000;
          c.server.body_idle_timeout = 1;
        },
      });
      assert.equal((await call(t.endpoint, 'PUT', '/limits')).status, 200);
    });
    after(async () => t?.close());

    it('a PutObject over server.max_object_size is refused with EntityTooLarge', async () => {
      const res = await call(t.endpoint, 'PUT', '/limits/big', Buffer.alloc(2000, 1));
      assert.equal(res.status, 400);
      assert.equal(s3ErrorCode(res.body), 'EntityTooLarge');
      assert.equal((await call(t.endpoint, 'PUT', '/limits/small', Buffer.alloc(1000, 1))).status, 200);
    });

    it('a stalled upload body fails with 400 RequestTimeout and leaves nothing behind', async () => {
      const socket = await openSocket(t.port);
      const outcome = collect(socket, 8000);
      socket.write('PUT /limits/stalled HTTP/1.1\r\nHost: x\r\nContent-Length: 900\r\n\r\n');
      socket.write(Buffer.alloc(100, 7));
      const { data, closed } = await outcome;
      assert.match(data, /^HTTP\/1\.1 400 /);
      assert.ok(data.includes('<Code>RequestTimeout</Code>'), data);
      assert.ok(closed, 'the connection is closed after the error');
      socket.destroy();
      assert.equal((await call(t.endpoint, 'HEAD', '/limits/stalled')).status, 404);
      assert.deepEqual(readdirSync(join(t.config.storage.local.root_dir, '.tmp')), []);
    });

    it('a slow but steady upload is not an idle one', async () => {
      const socket = await openSocket(t.port);
      const outcome = collect(socket, 8000);
      socket.write('PUT /limits/steady HTTP/1.1\r\nHost: x\r\nContent-Length: 600\r\nConnection: close\r\n\r\n');
      for (let i = 0; i < 6; i++) {
        await sleep(400); // 2.4 s in total, each gap under the 1 s idle limit
        socket.write(Buffer.alloc(100, i));
      }
      const { data } = await outcome;
      assert.match(data, /^HTTP\/1\.1 200 /);
      socket.destroy();
      const back = await call(t.endpoint, 'GET', '/limits/steady');
      assert.equal(back.body.length, 600);
    });
  });
}

describe('limits [node only]', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({
      engine: 'node',
      tweak: (c) => {
        c.server.keep_alive_timeout = 1;
        c.server.max_header_size = 2048;
        c.server.max_connections = 2;
      },
    });
  });
  after(async () => t?.close());

  it('an idle keep-alive connection is closed after server.keep_alive_timeout', async () => {
    const socket = await openSocket(t.port);
    const outcome = collect(socket, 5000);
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    const started = Date.now();
    const { data, closed } = await outcome;
    assert.match(data, /^HTTP\/1\.1 200 /);
    assert.ok(closed, 'closed by the server');
    assert.ok(Date.now() - started < 4000);
  });

  it('a request head over server.max_header_size gets 400 RequestHeaderSectionTooLarge', async () => {
    const socket = await openSocket(t.port);
    const outcome = collect(socket, 5000);
    socket.write(`GET /bucket HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(4000)}\r\n\r\n`);
    const { data, closed } = await outcome;
    assert.match(data, /^HTTP\/1\.1 400 /);
    assert.ok(data.includes('<Code>RequestHeaderSectionTooLarge</Code>'), data);
    assert.ok(closed);
    const ok = await call(t.endpoint, 'GET', '/healthz', undefined, { 'x-small': 'a'.repeat(1000) });
    assert.equal(ok.status, 200);
  });

  it('connections beyond server.max_connections are closed at once; a freed slot is reused', async () => {
    const first = await openSocket(t.port);
    const second = await openSocket(t.port);
    await sleep(100); // let the server accept both
    const third = await openSocket(t.port);
    const refused = collect(third, 3000);
    third.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    const { data, closed } = await refused;
    assert.equal(data, '', 'no answer on a connection over the cap');
    assert.ok(closed);
    first.destroy();
    await sleep(100);
    const res = await call(t.endpoint, 'GET', '/healthz');
    assert.equal(res.status, 200);
    second.destroy();
  });
});
