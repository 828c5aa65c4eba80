// SIGTERM is an optimisation, not a code path (spec/operations.md §3.3): during a 100 MiB upload
// the server stops accepting connections at once, /readyz turns 503 on a connection that was
// already open, the upload completes and is durable, and the process exits 0. A drain that
// outlives server.shutdown_timeout is cut off, commits nothing, and startup cleans up after it.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request, type ClientRequest } from 'node:http';
import { after, describe, test } from 'node:test';
import { ENGINES, sleep } from './harness.js';
import { ONLY_IN_DEFAULT_RUN } from './matrix.js';
import { connectionRefused, LifecycleServer } from './lifecycle-server.js';
import { firstResponse, openSocket, send, signHeaders } from './raw-http.js';

const MiB = 1024 * 1024;
const TOTAL = 100 * MiB;
const SIGTERM_AT = 30 * MiB;

interface Upload {
  req: ClientRequest;
  response: Promise<{ status: number; etag: string | undefined }>;
  md5: ReturnType<typeof createHash>;
  sha256: ReturnType<typeof createHash>;
}

async function startUpload(server: LifecycleServer, path: string, size: number): Promise<Upload> {
  const headers = await signHeaders(server.endpoint, { method: 'PUT', path, headers: { 'content-length': String(size) } }, { payloadHash: 'UNSIGNED-PAYLOAD' });
  const req = request({ hostname: '127.0.0.1', port: server.port, method: 'PUT', path, headers, agent: false });
  const response = new Promise<{ status: number; etag: string | undefined }>((resolve, reject) => {
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, etag: res.headers.etag }));
    });
    req.on('error', reject);
  });
  return { req, response, md5: createHash('md5'), sha256: createHash('sha256') };
}

/** Writes `bytes` more random bytes with backpressure, hashing what was sent. */
async function writeBytes(upload: Upload, bytes: number): Promise<void> {
  for (let sent = 0; sent < bytes; sent += MiB) {
    const chunk = randomBytes(Math.min(MiB, bytes - sent));
    upload.md5.update(chunk);
    upload.sha256.update(chunk);
    if (!upload.req.write(chunk)) await new Promise<void>((r) => upload.req.once('drain', () => r()));
  }
}

async function signedSend(server: LifecycleServer, method: string, path: string): Promise<{ status: number; body: Buffer }> {
  const headers = await signHeaders(server.endpoint, { method, path });
  return send(server.endpoint, { method, path, headers });
}



for (const engine of ENGINES) {
  describe(`SIGTERM [${engine}]`, { skip: ONLY_IN_DEFAULT_RUN }, () => {
    const servers: LifecycleServer[] = [];
    after(async () => {
      for (const s of servers) await s.destroy();
    });

    test('during a 100 MiB upload: refuse new connections, /readyz 503, finish the upload, exit 0', { timeout: 120_000 }, async (t) => {
      const server = new LifecycleServer();
      servers.push(server);
      await server.start({ engine, shutdownTimeout: 60 });
      assert.equal((await signedSend(server, 'PUT', '/lifecycle')).status, 200);
      assert.equal((await send(server.endpoint, { method: 'GET', path: '/readyz', headers: {} })).status, 200);

      const upload = await startUpload(server, '/lifecycle/big.bin', TOTAL);
      await writeBytes(upload, SIGTERM_AT);
      // A connection with a request begun before the signal: it is not idle, so it survives.
      const probe = await openSocket(server.port);
      const probeAnswer = firstResponse(probe);
      probe.write('GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      await sleep(200);

      const signalled = Date.now();
      server.signal('SIGTERM');
      let refused = false;
      for (let i = 0; i < 100 && !refused; i++) {
        refused = await connectionRefused(server.port);
        if (!refused) await sleep(20);
      }
      assert.ok(refused, 'new connections must be refused after SIGTERM');
      probe.write('\r\n');
      assert.match(await probeAnswer, /^HTTP\/1\.1 503 /, '/readyz during the drain');
      probe.destroy();

      await writeBytes(upload, TOTAL - SIGTERM_AT);
      upload.req.end();
      const answer = await upload.response;
      assert.equal(answer.status, 200, 'the in-flight upload completes');
      const md5 = upload.md5.digest('hex');
      assert.equal(answer.etag, `"${md5}"`);
      const exit = await server.exited();
      t.diagnostic(`exit ${exit.code} ${Date.now() - signalled} ms after SIGTERM`);
      assert.equal(exit.code, 0);
      assert.equal(exit.signal, null);

      // Durable: a new process on the same data serves the exact bytes.
      await server.start({ engine });
      const path = '/lifecycle/big.bin';
      const headers = await signHeaders(server.endpoint, { method: 'GET', path });
      const sha = await new Promise<string>((resolve, reject) => {
        const req = request({ hostname: '127.0.0.1', port: server.port, method: 'GET', path, headers, agent: false }, (res) => {
          const h = createHash('sha256');
          res.on('data', (c: Buffer) => h.update(c));
          res.on('end', () => resolve(h.digest('hex')));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(sha, upload.sha256.digest('hex'));
      await server.kill9();
    });

    test('a drain longer than server.shutdown_timeout is cut off; nothing half-written survives', { timeout: 60_000 }, async () => {
      const server = new LifecycleServer();
      servers.push(server);
      await server.start({ engine, shutdownTimeout: 1 });
      assert.equal((await signedSend(server, 'PUT', '/lifecycle')).status, 200);
      const upload = await startUpload(server, '/lifecycle/stalled.bin', 8 * MiB);
      upload.response.catch(() => undefined);
      await writeBytes(upload, 2 * MiB); // then the client stalls
      await sleep(200);
      const signalled = Date.now();
      server.signal('SIGTERM');
      const exit = await server.exited();
      const took = Date.now() - signalled;
      assert.equal(exit.code, 0);
      assert.ok(took >= 900 && took < 10_000, `exited ${took} ms after SIGTERM with a 1 s timeout`);
      upload.req.destroy();

      await server.start({ engine });
      assert.deepEqual(server.tmpFiles(), [], 'startup removed the temp file of the cut-off upload');
      assert.equal((await signedSend(server, 'HEAD', '/lifecycle/stalled.bin')).status, 404);
      await server.kill9();
    });
  });
}
