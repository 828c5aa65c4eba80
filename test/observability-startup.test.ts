// The crash-only startup sequence (spec/operations.md §3.1) and graceful drain (§3.3), in
// process: temp files removed, credential upserted, expired uploads reaped with the configured
// TTL, orphaned part data swept; readiness before, during and after a drain.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { call, ENGINES, startTestServer, type TestServer } from './observability-server.js';
import { firstResponse, openSocket } from '../e2e/raw-http.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function uploadIdOf(xml: Buffer): string {
  const id = /<UploadId>([^<]+)<\/UploadId>/.exec(xml.toString('utf8'))?.[1];
  assert.ok(id, xml.toString('utf8'));
  return id;
}

async function listUploads(t: TestServer, bucket: string): Promise<string[]> {
  const res = await call(t.endpoint, 'GET', `/${bucket}?uploads`);
  assert.equal(res.status, 200);
  return [...res.body.toString('utf8').matchAll(/<UploadId>([^<]+)<\/UploadId>/g)].map((m) => m[1] ?? '');
}

describe('startup recovery', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'bleepstore-startup-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const start = (tweak?: Parameters<typeof startTestServer>[0]['tweak']): Promise<TestServer> => startTestServer({ engine: 'node', dir, tweak });

  it('clears .tmp/, upserts the credential, keeps young uploads, sweeps orphaned part dirs, reaps by TTL', async () => {
    let t = await start();
    const objects = t.config.storage.local.root_dir;
    assert.equal((await call(t.endpoint, 'PUT', '/reap')).status, 200);
    const young = uploadIdOf((await call(t.endpoint, 'POST', '/reap/young?uploads')).body);
    assert.equal((await call(t.endpoint, 'PUT', `/reap/young?uploadId=${young}&partNumber=1`, Buffer.alloc(1024, 1))).status, 200);
    await t.close({ keepDir: true });

    // What a kill -9 can leave: a half-written temp file and part data of an upload whose row
    // is gone (Complete/Abort committed, part deletion never ran).
    writeFileSync(join(objects, '.tmp', 'tmp-left-by-a-crash'), 'partial');
    mkdirSync(join(objects, '.multipart', 'orphaned-upload'), { recursive: true });
    writeFileSync(join(objects, '.multipart', 'orphaned-upload', '1'), 'part');
    const db = new Database(join(dir, 'metadata.db'));
    db.prepare("UPDATE credentials SET secret_key = 'stale', created_at = '2020-01-01T00:00:00.000Z' WHERE access_key_id = 'bleepstore'").run();
    db.close();

    t = await start((c) => (c.metadata.multipart_ttl_seconds = 3600));
    try {
      assert.deepEqual(readdirSync(join(objects, '.tmp')), []);
      assert.deepEqual(readdirSync(join(objects, '.multipart')), [young], 'orphaned part dir swept, live one kept');
      assert.deepEqual(await listUploads(t, 'reap'), [young], 'a one-hour TTL keeps a fresh upload');
      assert.ok(t.logs.some((l) => l.includes('Reaped 0 expired multipart uploads')));
    } finally {
      await t.close({ keepDir: true });
    }
    const check = new Database(join(dir, 'metadata.db'), { readonly: true });
    const cred = check.prepare("SELECT secret_key, created_at FROM credentials WHERE access_key_id = 'bleepstore'").get() as { secret_key: string; created_at: string };
    check.close();
    assert.equal(cred.secret_key, 'bleepstore-secret', 'the configured secret takes effect');
    assert.equal(cred.created_at, '2020-01-01T00:00:00.000Z', 'created_at is kept');

    // initiated_at has whole-second precision: let it fall strictly before "now".
    await sleep(1000);
    t = await start((c) => (c.metadata.multipart_ttl_seconds = 0));
    try {
      assert.deepEqual(await listUploads(t, 'reap'), []);
      assert.ok(!existsSync(join(objects, '.multipart', young)), 'reaped upload part data deleted');
      assert.ok(t.logs.some((l) => l.includes('Reaped 1 expired multipart uploads')));
    } finally {
      await t.close({ keepDir: true });
    }
  });

  it('defaults the TTL to 7 days', async () => {
    const t = await start();
    try {
      assert.equal(t.config.metadata.multipart_ttl_seconds, 604800);
      assert.ok(t.logs.some((l) => l.includes('"ttl_seconds":604800')));
    } finally {
      await t.close({ keepDir: true });
    }
  });
});



function connectRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

for (const engine of ENGINES) {
  describe(`drain [${engine}]`, () => {
    it('stops accepting, turns /readyz 503, finishes the in-flight upload, then closes', async () => {
      const t = await startTestServer({ engine });
      const sockets: Socket[] = [];
      let closing: Promise<void> | undefined;
      try {
        assert.equal(t.server.ready, true);
        assert.equal((await call(t.endpoint, 'PUT', '/drain')).status, 200);

        const upload = await openSocket(t.port);
        sockets.push(upload);
        const uploadAnswer = firstResponse(upload);
        upload.write('PUT /drain/in-flight HTTP/1.1\r\nHost: x\r\nContent-Length: 2048\r\nConnection: close\r\n\r\n');
        upload.write(Buffer.alloc(1024, 1));
        // A probe connection with a request begun but not finished: not idle, so it survives close().
        const probe = await openSocket(t.port);
        sockets.push(probe);
        const probeAnswer = firstResponse(probe);
        probe.write('GET /readyz HTTP/1.1\r\nHost: x\r\n');
        await sleep(100);

        closing = t.close();
        assert.equal(t.server.ready, false);
        let refused = false;
        for (let i = 0; i < 50 && !refused; i++) {
          refused = await connectRefused(t.port);
          if (!refused) await sleep(20);
        }
        assert.ok(refused, 'new connections are refused while draining');
        probe.write('\r\n');
        assert.match(await probeAnswer, /^HTTP\/1\.1 503 /);
        upload.write(Buffer.alloc(1024, 2));
        assert.match(await uploadAnswer, /^HTTP\/1\.1 200 /);
        await closing;
      } finally {
        for (const s of sockets) s.destroy();
        await (closing ?? t.close());
      }
    });
  });
}
