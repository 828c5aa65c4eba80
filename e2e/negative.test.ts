// Hostile and broken requests, hand-signed and sent raw, once per HTTP engine. Each case checks
// the status and <Code>, and afterwards that the server still answers and that a sentinel
// object written at the start is byte-for-byte intact (no failed write may clobber it).
import { describe, before, after, afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { existsSync, rmSync } from 'node:fs';
import { resolve, relative } from 'node:path';
import { ENGINES, startServer, sleep, type ServerHandle } from './harness.js';
import { KiB, MiB, fingerprint, listFilesRecursive } from './files.js';
import {
  signHeaders,
  signedRequest,
  send,
  presignPath,
  presignPathManually,
  encodeKeyPath,
  errorCode,
  showResponse,
  sha256Hex,
  unsignedChunkedBody,
  signedChunkedBody,
  type RawResponse,
} from './raw-http.js';

function expectError(res: RawResponse, status: number, code: string): void {
  assert.equal(res.status, status, `expected ${status} ${code}, got ${showResponse(res)}`);
  assert.equal(errorCode(res.body), code, `expected <Code>${code}</Code>, got ${showResponse(res)}`);
}

function flipFirstHex(signature: string): string {
  return (signature[0] === '0' ? '1' : '0') + signature.slice(1);
}

/** Length of a signed aws-chunked encoding of `chunks` (signatures are always 64 hex chars). */
function signedChunkedLength(chunks: Buffer[]): number {
  let total = 0;
  for (const c of [...chunks, Buffer.alloc(0)]) total += c.length.toString(16).length + ';chunk-signature='.length + 64 + 2 + c.length + 2;
  return total;
}

function crc32Base64Of(data: Buffer): string {
  return fingerprint(data).crc32;
}

for (const engine of ENGINES) {
  describe(`negative [${engine}]`, () => {
    let server: ServerHandle;
    const bucket = `neg-${engine}`;
    const sentinelKey = 'keep/sentinel.bin';
    const sentinel = randomBytes(64 * KiB);
    const objectPath = (key: string): string => `/${bucket}/${encodeKeyPath(key)}`;

    const get = (key: string): Promise<RawResponse> => signedRequest(server.endpoint, { method: 'GET', path: objectPath(key) });
    const head = (key: string): Promise<RawResponse> => signedRequest(server.endpoint, { method: 'HEAD', path: objectPath(key) });

    /** The follow-up request after every case: the server answers and the sentinel is unchanged. */
    async function assertSentinelIntact(): Promise<void> {
      const res = await get(sentinelKey);
      assert.equal(res.status, 200, `follow-up GET of the sentinel: ${showResponse(res)}`);
      assert.ok(res.body.equals(sentinel), `sentinel object changed (now ${res.body.length} bytes)`);
      assert.ok(server.isRunning(), 'server process died');
    }

    /** Signs the given headers plus x-amz-content-sha256 = payloadHash, sends body with its Content-Length. */
    async function putWith(key: string, body: Buffer, headers: Record<string, string>, payloadHash: string): Promise<RawResponse> {
      const path = objectPath(key);
      const all = { ...headers, 'content-length': String(body.length) };
      const signed = await signHeaders(server.endpoint, { method: 'PUT', path, headers: all }, { payloadHash });
      return send(server.endpoint, { method: 'PUT', path, headers: signed, body });
    }

    before(async () => {
      server = await startServer(engine);
      const created = await signedRequest(server.endpoint, { method: 'PUT', path: `/${bucket}` });
      assert.equal(created.status, 200, `CreateBucket: ${showResponse(created)}`);
      const put = await signedRequest(server.endpoint, { method: 'PUT', path: objectPath(sentinelKey), body: sentinel });
      assert.equal(put.status, 200, `PUT sentinel: ${showResponse(put)}`);
      await assertSentinelIntact();
    });
    after(async () => {
      await server?.stop();
    });
    // A case that kills the server fails with the server's last words; the server is restarted on
    // the same data dir so the remaining cases still report their own results.
    afterEach(async (t) => {
      if (server && !(await server.checkAlive())) {
        const lastWords = server.currentRunLog().slice(0, 2500);
        // node:test shows a hook error only when the test itself passed, so also attach a diagnostic
        if ('diagnostic' in t) t.diagnostic(`SERVER DIED during this case; restarted for the next one. Its output:\n${lastWords}`);
        await server.restart();
        throw new Error(`the server process died during this case (restarted for the next case). Server output:\n${lastWords}`);
      }
    });

    test('bad signature -> 403 SignatureDoesNotMatch', async () => {
      const path = objectPath(sentinelKey);
      const headers = await signHeaders(server.endpoint, { method: 'GET', path });
      headers['authorization'] = (headers['authorization'] ?? '').replace(/Signature=([0-9a-f]{64})/, (_m, sig: string) => `Signature=${flipFirstHex(sig)}`);
      expectError(await send(server.endpoint, { method: 'GET', path, headers }), 403, 'SignatureDoesNotMatch');
      const wrongSecret = await signedRequest(server.endpoint, { method: 'GET', path }, { credentials: { accessKeyId: 'bleepstore', secretAccessKey: 'not-the-secret' } });
      expectError(wrongSecret, 403, 'SignatureDoesNotMatch');
      // a signed header changed after signing
      const tampered = await signHeaders(server.endpoint, { method: 'GET', path, headers: { range: 'bytes=0-9' } });
      tampered['range'] = 'bytes=0-99';
      expectError(await send(server.endpoint, { method: 'GET', path, headers: tampered }), 403, 'SignatureDoesNotMatch');
      await assertSentinelIntact();
    });

    test('unknown access key -> 403 InvalidAccessKeyId', async () => {
      const res = await signedRequest(server.endpoint, { method: 'GET', path: objectPath(sentinelKey) }, { credentials: { accessKeyId: 'AKIDNOSUCHKEY0000000', secretAccessKey: 'whatever' } });
      expectError(res, 403, 'InvalidAccessKeyId');
      await assertSentinelIntact();
    });

    test('x-amz-date 20 minutes off -> 403 RequestTimeTooSkewed', async () => {
      for (const offset of [-20 * 60_000, 20 * 60_000]) {
        const res = await signedRequest(server.endpoint, { method: 'GET', path: objectPath(sentinelKey) }, { signingDate: new Date(Date.now() + offset) });
        expectError(res, 403, 'RequestTimeTooSkewed');
      }
      // overwriting with a skewed signature must not write either
      const put = await signedRequest(server.endpoint, { method: 'PUT', path: objectPath(sentinelKey), body: Buffer.from('skewed') }, { signingDate: new Date(Date.now() - 20 * 60_000) });
      expectError(put, 403, 'RequestTimeTooSkewed');
      await assertSentinelIntact();
    });

    test('presigned URL: valid works, expired -> 403 AccessDenied', async () => {
      const fresh = await presignPath(server.endpoint, { method: 'GET', path: objectPath(sentinelKey) }, 60);
      const ok = await send(server.endpoint, { method: 'GET', path: fresh, headers: {} });
      assert.equal(ok.status, 200, `fresh presigned GET: ${showResponse(ok)}`);
      assert.ok(ok.body.equals(sentinel));

      const shortLived = await presignPath(server.endpoint, { method: 'GET', path: objectPath(sentinelKey) }, 1);
      await sleep(2100);
      expectError(await send(server.endpoint, { method: 'GET', path: shortLived, headers: {} }), 403, 'AccessDenied');
      await assertSentinelIntact();
    });

    test('presigned X-Amz-Expires=604801 -> 400 AuthorizationQueryParametersError', async () => {
      // the hand-made presigner is proven by a working URL first
      const control = await presignPathManually(server.endpoint, 'GET', objectPath(sentinelKey), 600);
      const ok = await send(server.endpoint, { method: 'GET', path: control, headers: {} });
      assert.equal(ok.status, 200, `hand-presigned control GET: ${showResponse(ok)}`);
      const tooLong = await presignPathManually(server.endpoint, 'GET', objectPath(sentinelKey), 604801);
      expectError(await send(server.endpoint, { method: 'GET', path: tooLong, headers: {} }), 400, 'AuthorizationQueryParametersError');
      await assertSentinelIntact();
    });

    test('x-amz-content-sha256 of other bytes -> 400 XAmzContentSHA256Mismatch, nothing written', async () => {
      const body = randomBytes(32 * KiB);
      const wrongHash = sha256Hex(Buffer.from('some other bytes'));
      expectError(await putWith(sentinelKey, body, {}, wrongHash), 400, 'XAmzContentSHA256Mismatch');
      expectError(await putWith('hash/new.bin', body, {}, wrongHash), 400, 'XAmzContentSHA256Mismatch');
      assert.equal((await head('hash/new.bin')).status, 404, 'object created despite hash mismatch');
      await assertSentinelIntact();
    });

    test('wrong x-amz-checksum-crc32 / Content-MD5 -> 400 BadDigest; right ones accepted', async () => {
      const body = randomBytes(32 * KiB);
      const wrongCrc = crc32Base64Of(Buffer.from('not the body'));
      const crcHeaders = { 'x-amz-sdk-checksum-algorithm': 'CRC32', 'x-amz-checksum-crc32': wrongCrc };
      expectError(await putWith(sentinelKey, body, crcHeaders, sha256Hex(body)), 400, 'BadDigest');
      const wrongMd5 = { 'content-md5': Buffer.from(fingerprint(Buffer.from('nope')).md5, 'hex').toString('base64') };
      expectError(await putWith(sentinelKey, body, wrongMd5, sha256Hex(body)), 400, 'BadDigest');
      await assertSentinelIntact();

      const good = await putWith('checksum/good.bin', body, { 'x-amz-sdk-checksum-algorithm': 'CRC32', 'x-amz-checksum-crc32': crc32Base64Of(body), 'content-md5': Buffer.from(fingerprint(body).md5, 'hex').toString('base64') }, sha256Hex(body));
      assert.equal(good.status, 200, `PUT with correct CRC32 and MD5: ${showResponse(good)}`);
      assert.ok((await get('checksum/good.bin')).body.equals(body));
    });

    const trailerHeaders = (decodedLength: number): Record<string, string> => ({
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': String(decodedLength),
      'x-amz-trailer': 'x-amz-checksum-crc32',
      'x-amz-sdk-checksum-algorithm': 'CRC32',
    });

    test('STREAMING-UNSIGNED-PAYLOAD-TRAILER: good trailer stored, wrong trailer checksum -> 400 BadDigest', async () => {
      const chunks = [randomBytes(64 * KiB), randomBytes(64 * KiB), randomBytes(1000)];
      const payload = Buffer.concat(chunks);
      const good = unsignedChunkedBody(chunks, { 'x-amz-checksum-crc32': crc32Base64Of(payload) });
      const ok = await putWith('chunked/unsigned.bin', good, trailerHeaders(payload.length), 'STREAMING-UNSIGNED-PAYLOAD-TRAILER');
      assert.equal(ok.status, 200, `good aws-chunked PUT: ${showResponse(ok)}`);
      const back = await get('chunked/unsigned.bin');
      assert.ok(back.body.equals(payload), `stored ${back.body.length} bytes, expected the ${payload.length} decoded bytes`);

      const bad = unsignedChunkedBody(chunks, { 'x-amz-checksum-crc32': crc32Base64Of(Buffer.from('other')) });
      expectError(await putWith(sentinelKey, bad, trailerHeaders(payload.length), 'STREAMING-UNSIGNED-PAYLOAD-TRAILER'), 400, 'BadDigest');
      await assertSentinelIntact();
    });

    test('truncated aws-chunked body -> 400 IncompleteBody', async () => {
      const data = randomBytes(64 * KiB);
      // the chunk header promises 64 KiB, the body ends after 20000 bytes of it
      const midChunk = Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data.subarray(0, 20000)]);
      expectError(await putWith(sentinelKey, midChunk, trailerHeaders(data.length), 'STREAMING-UNSIGNED-PAYLOAD-TRAILER'), 400, 'IncompleteBody');
      // complete chunk, but the final 0-chunk and trailer never come
      const noFinal = Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')]);
      expectError(await putWith(sentinelKey, noFinal, trailerHeaders(data.length), 'STREAMING-UNSIGNED-PAYLOAD-TRAILER'), 400, 'IncompleteBody');
      expectError(await putWith('chunked/truncated.bin', midChunk, trailerHeaders(data.length), 'STREAMING-UNSIGNED-PAYLOAD-TRAILER'), 400, 'IncompleteBody');
      assert.equal((await head('chunked/truncated.bin')).status, 404, 'truncated upload created an object');
      await assertSentinelIntact();
    });

    async function putSignedChunks(key: string, chunks: Buffer[], corruptChunk?: number): Promise<RawResponse> {
      const path = objectPath(key);
      const payloadLength = chunks.reduce((n, c) => n + c.length, 0);
      const headers = await signHeaders(
        server.endpoint,
        {
          method: 'PUT',
          path,
          headers: {
            'content-encoding': 'aws-chunked',
            'x-amz-decoded-content-length': String(payloadLength),
            'content-length': String(signedChunkedLength(chunks)),
          },
        },
        { payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' },
      );
      const body = await signedChunkedBody(chunks, headers, corruptChunk === undefined ? {} : { corruptChunk });
      assert.equal(body.length, signedChunkedLength(chunks));
      return send(server.endpoint, { method: 'PUT', path, headers, body });
    }

    test('STREAMING-AWS4-HMAC-SHA256-PAYLOAD: signed chunks stored; a bad chunk signature -> 403 SignatureDoesNotMatch', async () => {
      const chunks = [randomBytes(8 * KiB), randomBytes(8 * KiB), randomBytes(100)];
      const payload = Buffer.concat(chunks);
      const ok = await putSignedChunks('chunked/signed.bin', chunks);
      assert.equal(ok.status, 200, `signed aws-chunked PUT: ${showResponse(ok)}`);
      assert.equal(ok.headers['etag'], `"${fingerprint(payload).md5}"`);
      const back = await get('chunked/signed.bin');
      assert.ok(back.body.equals(payload), `stored ${back.body.length} bytes, expected ${payload.length}`);

      for (const corrupt of [1, chunks.length]) {
        const res = await putSignedChunks(sentinelKey, chunks, corrupt);
        expectError(res, 403, 'SignatureDoesNotMatch');
        await assertSentinelIntact();
      }
      const res = await putSignedChunks('chunked/badsig.bin', chunks, 0);
      expectError(res, 403, 'SignatureDoesNotMatch');
      assert.equal((await head('chunked/badsig.bin')).status, 404, 'object committed despite a bad chunk signature');
    });

    /** Starts a 20 MiB PUT, sends half, then destroys the socket. */
    async function abortedUpload(key: string): Promise<void> {
      const total = 20 * MiB;
      const path = objectPath(key);
      const headers = await signHeaders(server.endpoint, { method: 'PUT', path, headers: { 'content-length': String(total) } }, { payloadHash: 'UNSIGNED-PAYLOAD' });
      const url = new URL(server.endpoint);
      await new Promise<void>((resolveAbort) => {
        const req = request({ hostname: url.hostname, port: Number(url.port), method: 'PUT', path, headers, agent: false });
        req.on('error', () => resolveAbort());
        req.on('response', (res) => {
          res.resume();
          resolveAbort();
        });
        req.on('close', () => resolveAbort());
        void (async () => {
          for (let sent = 0; sent < total / 2; sent += MiB) {
            if (!req.write(randomBytes(MiB))) await new Promise<void>((r) => req.once('drain', () => r()));
          }
          await sleep(200);
          req.destroy();
        })();
      });
    }

    async function waitTmpEmpty(): Promise<string[]> {
      const deadline = Date.now() + 10_000;
      let files = server.tmpFiles();
      while (files.length > 0 && Date.now() < deadline) {
        await sleep(100);
        files = server.tmpFiles();
      }
      return files;
    }

    test('client abort mid-upload: no object, .tmp/ empty, old object intact', async () => {
      await abortedUpload('abort/new.bin');
      await sleep(200);
      assert.equal((await head('abort/new.bin')).status, 404, 'aborted upload created an object');
      assert.deepEqual(await waitTmpEmpty(), [], 'temp files left in .tmp/ after the abort');
      await abortedUpload(sentinelKey);
      assert.deepEqual(await waitTmpEmpty(), [], 'temp files left in .tmp/ after the abort');
      await assertSentinelIntact();
    });

    test('1025-byte key -> 400 KeyTooLongError; 1024 bytes accepted', async () => {
      const segment = 'd'.repeat(99) + '/';
      const key1024 = segment.repeat(10) + 'x'.repeat(24);
      assert.equal(Buffer.byteLength(key1024), 1024);
      const key1025 = key1024 + 'y';
      const body = Buffer.from('long key');
      expectError(await signedRequest(server.endpoint, { method: 'PUT', path: objectPath(key1025), body }), 400, 'KeyTooLongError');
      const ok = await signedRequest(server.endpoint, { method: 'PUT', path: objectPath(key1024), body });
      assert.equal(ok.status, 200, `1024-byte key: ${showResponse(ok)}`);
      assert.ok((await get(key1024)).body.equals(body));
      await assertSentinelIntact();
    });

    test('keys with .. segments stay inside the bucket', async () => {
      const tag = randomBytes(6).toString('hex');
      const cases = [
        { key: `a/../../../etc/passwd-${tag}`, wire: `/${bucket}/a/../../../etc/passwd-${tag}`, signed: `/${bucket}/a/../../../etc/passwd-${tag}` },
        { key: `b/../../../etc/encoded-${tag}`, wire: `/${bucket}/b/%2E%2E/%2E%2E/%2E%2E/etc/encoded-${tag}`, signed: `/${bucket}/b/../../../etc/encoded-${tag}` },
        { key: `../../../bleepstore-escape-${tag}`, wire: `/${bucket}/../../../bleepstore-escape-${tag}`, signed: `/${bucket}/../../../bleepstore-escape-${tag}` },
        { key: `../../../bleepstore-slash-${tag}`, wire: `/${bucket}/..%2F..%2F..%2Fbleepstore-slash-${tag}`, signed: `/${bucket}/..%2F..%2F..%2Fbleepstore-slash-${tag}` },
      ];
      const escapes: string[] = [];
      for (const c of cases) {
        const body = Buffer.from(`traversal payload ${c.key}`);
        const headers = await signHeaders(server.endpoint, { method: 'PUT', path: c.wire, signedPath: c.signed, headers: { 'content-length': String(body.length) } }, { payloadHash: sha256Hex(body) });
        const put = await send(server.endpoint, { method: 'PUT', path: c.wire, headers, body });
        assert.equal(put.status, 200, `PUT ${c.wire}: ${showResponse(put)}`);
        const back = await signedRequest(server.endpoint, { method: 'GET', path: c.wire, signedPath: c.signed });
        assert.equal(back.status, 200, `GET ${c.wire}: ${showResponse(back)}`);
        assert.ok(back.body.equals(body), `GET ${c.wire} returned other bytes`);
        // the same key addressed with the SDK's encoding names the same object
        const canonical = await get(c.key);
        assert.ok(canonical.status === 200 && canonical.body.equals(body), `GET ${objectPath(c.key)}: ${showResponse(canonical)}`);
        const naive = resolve(server.rootDir, bucket, c.key);
        if (relative(server.rootDir, naive).startsWith('..')) escapes.push(naive);
      }
      for (const path of escapes) {
        const leaked = existsSync(path);
        if (leaked) rmSync(path);
        assert.ok(!leaked, `a file was written outside root_dir: ${path}`);
      }
      const outsideRoot = listFilesRecursive(server.dataDir).filter((p) => !p.startsWith('objects/') && p.includes(tag));
      assert.deepEqual(outsideRoot, [], 'traversal keys written into the data dir outside root_dir');
      for (const c of cases) {
        const del = await signedRequest(server.endpoint, { method: 'DELETE', path: objectPath(c.key) });
        assert.equal(del.status, 204, showResponse(del));
        assert.equal((await get(c.key)).status, 404);
      }
      await assertSentinelIntact();
    });

    test('garbage CreateBucket body -> 400 MalformedXML, no bucket', async () => {
      const res = await signedRequest(server.endpoint, { method: 'PUT', path: '/neg-malformed-xml', body: Buffer.from('this is <not> xml at all <<<') });
      expectError(res, 400, 'MalformedXML');
      const headBucket = await signedRequest(server.endpoint, { method: 'HEAD', path: '/neg-malformed-xml' });
      assert.equal(headBucket.status, 404, 'bucket created despite MalformedXML');
      await assertSentinelIntact();
    });

    test('unknown subresource ?tagging -> 501 NotImplemented', async () => {
      expectError(await signedRequest(server.endpoint, { method: 'GET', path: objectPath(sentinelKey), query: { tagging: '' } }), 501, 'NotImplemented');
      const tagging = Buffer.from('<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>');
      expectError(await signedRequest(server.endpoint, { method: 'PUT', path: objectPath(sentinelKey), query: { tagging: '' }, body: tagging }), 501, 'NotImplemented');
      expectError(await signedRequest(server.endpoint, { method: 'GET', path: `/${bucket}`, query: { tagging: '' } }), 501, 'NotImplemented');
      await assertSentinelIntact();
    });

    test('anonymous requests -> 403 AccessDenied', async () => {
      const host = new URL(server.endpoint).host;
      expectError(await send(server.endpoint, { method: 'GET', path: objectPath(sentinelKey), headers: { host } }), 403, 'AccessDenied');
      expectError(await send(server.endpoint, { method: 'GET', path: '/', headers: { host } }), 403, 'AccessDenied');
      const body = Buffer.from('anonymous write');
      expectError(await send(server.endpoint, { method: 'PUT', path: objectPath('anon/put.bin'), headers: { host, 'content-length': String(body.length), 'x-amz-content-sha256': sha256Hex(body) }, body }), 403, 'AccessDenied');
      expectError(await send(server.endpoint, { method: 'PUT', path: objectPath(sentinelKey), headers: { host, 'content-length': String(body.length) }, body }), 403, 'AccessDenied');
      assert.equal((await head('anon/put.bin')).status, 404, 'anonymous PUT created an object');
      await assertSentinelIntact();
    });

    test('nothing was lost: every object written by earlier cases is still there', async () => {
      for (const key of ['checksum/good.bin', 'chunked/unsigned.bin', 'chunked/signed.bin']) {
        const res = await head(key);
        assert.equal(res.status, 200, `${key}: ${res.status}`);
      }
      assert.deepEqual(server.tmpFiles(), [], '.tmp/ not empty at the end');
      await assertSentinelIntact();
    });
  });
}
