// Crash-only behaviour: kill -9 the server in the middle of streaming uploads, restart it on the
// same data dir, and check that the old version survives, no partial object appears and the
// temp dir is cleaned. Once per HTTP engine, sqlite metadata + local storage.
import { describe, before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request, type ClientRequest } from 'node:http';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { ENGINES, startServer, sleep, type ServerHandle } from './harness.js';
import { NEEDS_DURABILITY, NEEDS_LOCAL_STORAGE, skipReason } from './matrix.js';
import { sdkClient, sdkErrorStatus } from './clients.js';
import { fingerprint, fingerprintStream, listFilesRecursive, directorySize, formatMiB, MiB } from './files.js';
import { signHeaders, encodeKeyPath } from './raw-http.js';

const TOTAL = 100 * MiB;
const KILL_AFTER = 50 * MiB;

interface SlowUpload {
  req: ClientRequest;
  /** Resolves once KILL_AFTER bytes were handed to the socket. */
  halfway: Promise<void>;
  /** Settles when the request ends in any way (it is expected to fail). */
  done: Promise<string>;
}

/** A 100 MiB PUT written in 1 MiB pieces with pauses, that stops writing at the halfway mark. */
async function startSlowUpload(server: ServerHandle, bucket: string, key: string): Promise<SlowUpload> {
  const path = `/${bucket}/${encodeKeyPath(key)}`;
  const headers = await signHeaders(server.endpoint, { method: 'PUT', path, headers: { 'content-length': String(TOTAL) } }, { payloadHash: 'UNSIGNED-PAYLOAD' });
  const req = request({ hostname: '127.0.0.1', port: server.port, method: 'PUT', path, headers, agent: false });
  const done = new Promise<string>((resolveDone) => {
    req.on('response', (res) => {
      res.resume();
      resolveDone(`unexpected response ${res.statusCode}`);
    });
    req.on('error', (e) => resolveDone(`error ${e.message}`));
    req.on('close', () => resolveDone('closed'));
  });
  const halfway = (async () => {
    for (let sent = 0; sent < KILL_AFTER; sent += MiB) {
      if (!req.write(randomBytes(MiB))) await new Promise<void>((r) => req.once('drain', () => r()));
      await sleep(10);
    }
  })();
  return { req, halfway, done };
}

for (const engine of ENGINES) {
  describe(`crash [${engine}]`, { skip: skipReason(NEEDS_DURABILITY, NEEDS_LOCAL_STORAGE) }, () => {
    let server: ServerHandle;
    let s3: S3Client;
    const bucket = `crash-${engine}`;
    const key = 'crash/object.bin';
    const newKey = 'crash/never-finished.bin';
    const versionA = randomBytes(MiB);

    before(async () => {
      server = await startServer(engine);
      s3 = sdkClient(server.endpoint);
    });
    after(async () => {
      s3?.destroy();
      await server?.stop();
    });

    test('kill -9 during a 100 MiB overwrite keeps version A; restart cleans .tmp/', { timeout: 3 * 60_000 }, async (t) => {
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: versionA }));
      assert.equal(put.ETag, `"${fingerprint(versionA).md5}"`);

      const overwrite = await startSlowUpload(server, bucket, key);
      const fresh = await startSlowUpload(server, bucket, newKey);
      await Promise.all([overwrite.halfway, fresh.halfway]);

      // Make sure the server is really mid-write (bytes reached .tmp/) before pulling the plug.
      // Two uploads sent KILL_AFTER each; wait until at least half of all of that reached disk.
      const deadline = Date.now() + 15_000;
      while (directorySize(server.tmpDir) < KILL_AFTER && Date.now() < deadline) await sleep(50);
      const tmpBytes = directorySize(server.tmpDir);
      t.diagnostic(`.tmp/ held ${server.tmpFiles().length} file(s), ${formatMiB(tmpBytes)} at kill time`);
      assert.ok(tmpBytes > 0, `no upload bytes reached ${server.tmpDir} before the kill; files: ${listFilesRecursive(server.rootDir).join(', ')}`);

      await server.kill9();
      const outcomes = await Promise.all([overwrite.done, fresh.done]);
      for (const outcome of outcomes) assert.ok(!outcome.startsWith('unexpected response'), `an interrupted upload got ${outcome}`);

      await server.restart();
      s3.destroy();
      s3 = sdkClient(server.endpoint);

      assert.deepEqual(server.tmpFiles(), [], '.tmp/ must be empty after restart');
      const get = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const got = await fingerprintStream(get.Body as Readable);
      assert.equal(got.size, versionA.length, 'GET K after restart: size');
      assert.equal(got.sha256, fingerprint(versionA).sha256, 'GET K after restart must return exactly version A');
      assert.equal(get.ETag, `"${fingerprint(versionA).md5}"`);
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      assert.equal(head.ContentLength, versionA.length);

      try {
        await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: newKey }));
        assert.fail('the never-finished upload exists after restart');
      } catch (e) {
        assert.equal(sdkErrorStatus(e), 404, String(e));
      }
      assert.deepEqual(listFilesRecursive(join(server.rootDir, bucket)), ['crash/object.bin'], 'only version A may be on disk in the bucket');

      // and the restarted server takes writes again
      const again = randomBytes(4096);
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'after/restart.bin', Body: again }));
      const back = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'after/restart.bin' }));
      assert.equal((await fingerprintStream(back.Body as Readable)).sha256, fingerprint(again).sha256);
    });
  });
}
