// The ingest pipeline end to end: every payload mode, every verification, and the guarantee
// that a failed body never emits 'end' (so a backend writing a temp file discards it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, readFile, rename, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createIngest, type IngestOptions, type IngestResult } from '../src/ingest/ingest.js';
import { S3Error, type S3ErrorCode } from '../src/s3/errors.js';
import type { PayloadMode, SigningContext } from '../src/auth/sigv4.js';

const MiB = 1024 * 1024;
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const md5Hex = (b: Buffer): string => createHash('md5').update(b).digest('hex');
const md5B64 = (b: Buffer): string => createHash('md5').update(b).digest('base64');
const sha256Hex = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

/** A source that yields `body` in pieces of `split` bytes, like an HTTP body stream. */
function source(body: Buffer, split = 64 * 1024): Readable {
  const pieces: Buffer[] = [];
  for (let i = 0; i < body.length; i += split) pieces.push(Buffer.from(body.subarray(i, i + split)));
  return Readable.from(pieces, { objectMode: false });
}

interface Outcome {
  data: Buffer;
  result?: IngestResult;
  error?: unknown;
  ended: boolean;
}

/** Drains the ingest stream, recording whether 'end' fired and how it failed. */
function run(body: Readable, options: IngestOptions): Promise<Outcome> {
  const ingest = createIngest(body, options);
  const chunks: Buffer[] = [];
  let ended = false;
  return new Promise((resolve) => {
    ingest.stream.on('data', (c: Buffer) => chunks.push(c));
    ingest.stream.on('end', () => {
      ended = true;
      ingest.finish().then((result) => resolve({ data: Buffer.concat(chunks), result, ended }), (error: Error) => resolve({ data: Buffer.concat(chunks), error, ended }));
    });
    ingest.stream.on('error', (error) => {
      assert.rejects(ingest.finish()).then(() => resolve({ data: Buffer.concat(chunks), error, ended }), (e: Error) => resolve({ data: Buffer.concat(chunks), error: e, ended }));
    });
  });
}

async function ok(body: Readable, options: IngestOptions): Promise<{ data: Buffer; result: IngestResult }> {
  const outcome = await run(body, options);
  if (outcome.error !== undefined) assert.fail(`ingest failed: ${String(outcome.error)}`);
  assert.ok(outcome.result);
  return { data: outcome.data, result: outcome.result };
}

async function fails(body: Readable, options: IngestOptions, code: S3ErrorCode, message?: RegExp): Promise<S3Error> {
  const outcome = await run(body, options);
  assert.equal(outcome.ended, false, "a failed body must never emit 'end'");
  const err = outcome.error;
  assert.ok(err instanceof S3Error, `expected S3Error ${code}, got ${String(err)}`);
  assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
  if (message !== undefined) assert.match(err.message, message);
  return err;
}

function throwsSync(fn: () => unknown, code: S3ErrorCode): void {
  assert.throws(fn, (err: unknown) => err instanceof S3Error && err.code === code);
}

const UNSIGNED: PayloadMode = { kind: 'unsigned' };
const opts = (payload: PayloadMode, headers: Record<string, string>, maxSize = 64 * MiB): IngestOptions => ({ payload, headers, maxSize });

// ---------------------------------------------------------------- aws-chunked body builders

const DOC_CTX = (seed: string): SigningContext => ({
  signingKey: [ '20130524', 'us-east-1', 's3', 'aws4_request' ].reduce<Buffer>(
    (key, part) => createHmac('sha256', key).update(part).digest(),
    Buffer.from('AWS4wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'),
  ),
  timestamp: '20130524T000000Z',
  scope: '20130524/us-east-1/s3/aws4_request',
  seedSignature: seed,
});

/** Signs and frames chunks per auth.md §7.3; optional signed trailer. */
function signedBody(chunks: Buffer[], ctx: SigningContext, trailer?: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  let previous = ctx.seedSignature;
  for (const data of [...chunks, Buffer.alloc(0)]) {
    const sts = ['AWS4-HMAC-SHA256-PAYLOAD', ctx.timestamp, ctx.scope, previous, EMPTY_SHA256, sha256Hex(data)].join('\n');
    previous = createHmac('sha256', ctx.signingKey).update(sts).digest('hex');
    parts.push(Buffer.from(`${data.length.toString(16)};chunk-signature=${previous}\r\n`));
    if (data.length > 0) parts.push(data, Buffer.from('\r\n'));
  }
  if (trailer === undefined) {
    parts.push(Buffer.from('\r\n'));
  } else {
    const lines = Object.entries(trailer).map(([k, v]) => `${k}:${v}`);
    const sts = ['AWS4-HMAC-SHA256-TRAILER', ctx.timestamp, ctx.scope, previous, sha256Hex(lines.map((l) => l + '\n').join(''))].join('\n');
    const sig = createHmac('sha256', ctx.signingKey).update(sts).digest('hex');
    parts.push(Buffer.from(lines.map((l) => l + '\r\n').join('') + `x-amz-trailer-signature:${sig}\r\n\r\n`));
  }
  return Buffer.concat(parts);
}

function unsignedTrailerBody(chunks: Buffer[], trailer: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  for (const data of chunks) parts.push(Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n'));
  parts.push(Buffer.from('0\r\n' + Object.entries(trailer).map(([k, v]) => `${k}:${v}\r\n`).join('') + '\r\n'));
  return Buffer.concat(parts);
}

const JS_SDK_BODY = Buffer.from('a\r\nchunk-one \r\n9\r\nchunk-two\r\n0\r\nx-amz-checksum-crc32:s4R9Pg==\r\n\r\n');
const JS_SDK_HEADERS = {
  'content-encoding': 'aws-chunked',
  'transfer-encoding': 'chunked',
  'x-amz-decoded-content-length': '19',
  'x-amz-trailer': 'x-amz-checksum-crc32',
  'x-amz-sdk-checksum-algorithm': 'CRC32',
};
const UNSIGNED_TRAILER = (ctx = DOC_CTX('0'.repeat(64))): PayloadMode => ({ kind: 'aws-chunked', signed: false, trailer: true, signing: ctx });

// ---------------------------------------------------------------- raw bodies

test('raw body with a hex x-amz-content-sha256: bytes, size, MD5 (ETag), no checksum', async () => {
  const body = randomBytes(300_000);
  const { data, result } = await ok(source(body, 7777), opts({ kind: 'sha256', expectedHex: sha256Hex(body) }, { 'content-length': String(body.length) }));
  assert.deepEqual(data, body);
  assert.deepEqual(result, { size: body.length, md5Hex: md5Hex(body) });
});

test('x-amz-content-sha256 mismatch is XAmzContentSHA256Mismatch and never ends', async () => {
  const body = randomBytes(1000);
  const err = await fails(source(body), opts({ kind: 'sha256', expectedHex: sha256Hex(Buffer.from('other')) }, { 'content-length': '1000' }), 'XAmzContentSHA256Mismatch');
  assert.equal(err.status, 400);
  assert.equal(err.extras['S3ComputedContentSHA256'], sha256Hex(body));
});

test('empty body', async () => {
  const { data, result } = await ok(source(Buffer.alloc(0)), opts({ kind: 'sha256', expectedHex: EMPTY_SHA256 }, { 'content-length': '0' }));
  assert.equal(data.length, 0);
  assert.equal(result.md5Hex, 'd41d8cd98f00b204e9800998ecf8427e');
});

test('Content-MD5: match, mismatch (BadDigest), malformed (InvalidDigest, synchronous)', async () => {
  const body = Buffer.from('hello md5');
  await ok(source(body), opts(UNSIGNED, { 'content-length': '9', 'content-md5': md5B64(body) }));
  const err = await fails(source(body), opts(UNSIGNED, { 'content-length': '9', 'content-md5': md5B64(Buffer.from('x')) }), 'BadDigest');
  assert.match(err.message, /Content-MD5/);
  for (const bad of ['', 'not base64!', 'AAAA', Buffer.alloc(15).toString('base64'), Buffer.alloc(17).toString('base64')]) {
    throwsSync(() => createIngest(source(body), opts(UNSIGNED, { 'content-length': '9', 'content-md5': bad })), 'InvalidDigest');
  }
});

test('x-amz-checksum-* headers for every algorithm: verified, echoed, mismatch is BadDigest', async () => {
  const body = Buffer.from('123456789');
  const digests: Record<string, string> = {
    crc32: Buffer.from('cbf43926', 'hex').toString('base64'),
    crc32c: Buffer.from('e3069283', 'hex').toString('base64'),
    crc64nvme: Buffer.from('ae8b14860a799888', 'hex').toString('base64'),
    sha1: createHash('sha1').update(body).digest('base64'),
    sha256: createHash('sha256').update(body).digest('base64'),
  };
  for (const [alg, digest] of Object.entries(digests)) {
    const headers = { 'content-length': '9', [`x-amz-checksum-${alg}`]: digest, 'x-amz-sdk-checksum-algorithm': alg.toUpperCase() };
    const { result } = await ok(source(body, 2), opts(UNSIGNED, headers));
    assert.deepEqual(result.checksum, { algorithm: alg, base64: digest });

    const wrong = Buffer.from(digest, 'base64');
    wrong[0] = (wrong[0] as number) ^ 1;
    const err = await fails(source(body), opts(UNSIGNED, { ...headers, [`x-amz-checksum-${alg}`]: wrong.toString('base64') }), 'BadDigest');
    assert.equal(err.message, `The ${alg.toUpperCase()} you specified did not match the calculated checksum.`);
  }
});

test('bad checksum header values and duplicate checksum headers fail synchronously', () => {
  const body = source(Buffer.from('x'));
  throwsSync(() => createIngest(body, opts(UNSIGNED, { 'content-length': '1', 'x-amz-checksum-crc32': 'AAAA' })), 'InvalidRequest');
  throwsSync(() => createIngest(body, opts(UNSIGNED, { 'content-length': '1', 'x-amz-checksum-crc32': '%%%%%%==' })), 'InvalidRequest');
  throwsSync(() => createIngest(body, opts(UNSIGNED, { 'content-length': '1', 'x-amz-checksum-sha256': 'AAAAAA==' })), 'InvalidRequest');
  throwsSync(
    () => createIngest(body, opts(UNSIGNED, { 'content-length': '1', 'x-amz-checksum-crc32': 'AAAAAA==', 'x-amz-checksum-crc32c': 'AAAAAA==' })),
    'InvalidRequest',
  );
});

test('x-amz-sdk-checksum-algorithm alone computes the checksum; an unknown one is ignored', async () => {
  const body = Buffer.from('chunk-one chunk-two');
  const { result } = await ok(source(body), opts(UNSIGNED, { 'content-length': '19', 'x-amz-sdk-checksum-algorithm': 'CRC32' }));
  assert.deepEqual(result.checksum, { algorithm: 'crc32', base64: 's4R9Pg==' });
  const other = await ok(source(body), opts(UNSIGNED, { 'content-length': '19', 'x-amz-sdk-checksum-algorithm': 'XXHASH128' }));
  assert.equal(other.result.checksum, undefined);
});

test('sizes: short body is IncompleteBody, declared size over the limit is EntityTooLarge, missing length is MissingContentLength', async () => {
  const body = randomBytes(100);
  await fails(source(body), opts(UNSIGNED, { 'content-length': '101' }), 'IncompleteBody');
  throwsSync(() => createIngest(source(body), opts(UNSIGNED, { 'content-length': '100' }, 99)), 'EntityTooLarge');
  throwsSync(() => createIngest(source(body), opts(UNSIGNED, {})), 'MissingContentLength');
  throwsSync(() => createIngest(source(body), opts(UNSIGNED, { 'content-length': 'ten' })), 'InvalidArgument');
  // Chunked transfer without a length: the limit applies while streaming.
  const err = await fails(source(randomBytes(5000), 1000), opts(UNSIGNED, { 'transfer-encoding': 'chunked' }, 4096), 'EntityTooLarge');
  assert.equal(err.extras['MaxSizeAllowed'], 4096);
  const fine = await ok(source(randomBytes(4096), 1000), opts(UNSIGNED, { 'transfer-encoding': 'chunked' }, 4096));
  assert.equal(fine.result.size, 4096);
});

test('a source error (client abort) errors the ingest stream with that error', async () => {
  const body = new Readable({ read() {} });
  const pending = run(body, opts(UNSIGNED, { 'content-length': '1000' }));
  body.push(Buffer.alloc(100));
  setImmediate(() => body.destroy(new Error('client aborted the request')));
  const outcome = await pending;
  assert.equal(outcome.ended, false);
  assert.match(String(outcome.error), /client aborted/);
});

// ---------------------------------------------------------------- aws-chunked bodies

test('JS SDK STREAMING-UNSIGNED-PAYLOAD-TRAILER body with a CRC32 trailer, 1-byte splits', async () => {
  for (const split of [1, 3, 1000]) {
    const { data, result } = await ok(source(JS_SDK_BODY, split), opts(UNSIGNED_TRAILER(), JS_SDK_HEADERS));
    assert.equal(data.toString(), 'chunk-one chunk-two');
    assert.deepEqual(result, { size: 19, md5Hex: md5Hex(data), checksum: { algorithm: 'crc32', base64: 's4R9Pg==' } });
  }
});

test('unsigned trailer: wrong CRC is BadDigest, missing declared trailer and malformed value are InvalidRequest', async () => {
  const wrong = Buffer.from(JS_SDK_BODY.toString().replace('s4R9Pg==', 'AAAAAA=='));
  await fails(source(wrong, 1), opts(UNSIGNED_TRAILER(), JS_SDK_HEADERS), 'BadDigest', /CRC32 you specified/);
  const missing = Buffer.from('a\r\nchunk-one \r\n9\r\nchunk-two\r\n0\r\n\r\n');
  await fails(source(missing), opts(UNSIGNED_TRAILER(), JS_SDK_HEADERS), 'InvalidRequest', /trailer/);
  const malformed = Buffer.from(JS_SDK_BODY.toString().replace('s4R9Pg==', 'garbage'));
  await fails(source(malformed), opts(UNSIGNED_TRAILER(), JS_SDK_HEADERS), 'InvalidRequest');
});

test('aws-chunked: decoded length must equal x-amz-decoded-content-length; truncation is IncompleteBody', async () => {
  await fails(source(JS_SDK_BODY), opts(UNSIGNED_TRAILER(), { ...JS_SDK_HEADERS, 'x-amz-decoded-content-length': '20' }), 'IncompleteBody');
  await fails(source(JS_SDK_BODY), opts(UNSIGNED_TRAILER(), { ...JS_SDK_HEADERS, 'x-amz-decoded-content-length': '18' }), 'InvalidRequest');
  for (const cut of [5, 20, JS_SDK_BODY.length - 1]) {
    await fails(source(JS_SDK_BODY.subarray(0, cut), 1), opts(UNSIGNED_TRAILER(), JS_SDK_HEADERS), 'IncompleteBody');
  }
  const { 'x-amz-decoded-content-length': _drop, ...noDecoded } = JS_SDK_HEADERS;
  throwsSync(() => createIngest(source(JS_SDK_BODY), opts(UNSIGNED_TRAILER(), noDecoded)), 'MissingContentLength');
  throwsSync(() => createIngest(source(JS_SDK_BODY), opts(UNSIGNED_TRAILER(), JS_SDK_HEADERS, 10)), 'EntityTooLarge');
});

test('STREAMING-AWS4-HMAC-SHA256-PAYLOAD: the AWS documented 66560-byte example', async () => {
  const ctx = DOC_CTX('4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9');
  const data = Buffer.alloc(66560, 'a');
  const body = signedBody([data.subarray(0, 65536), data.subarray(65536)], ctx);
  assert.ok(body.includes('ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648'));
  assert.equal(body.length, 66824); // the documented Content-Length
  const payload: PayloadMode = { kind: 'aws-chunked', signed: true, trailer: false, signing: ctx };
  const headers = { 'content-encoding': 'aws-chunked', 'content-length': '66824', 'x-amz-decoded-content-length': '66560' };
  for (const split of [1, 4096, 70_000]) {
    const out = await ok(source(body, split), opts(payload, headers));
    assert.deepEqual(out.data, data);
    assert.equal(out.result.size, 66560);
  }
  const tampered = Buffer.from(body);
  tampered[66_000] = 'b'.charCodeAt(0); // inside the second chunk's data
  await fails(source(tampered), opts(payload, headers), 'SignatureDoesNotMatch');
  await fails(source(body), opts({ ...payload, signing: { ...ctx, seedSignature: '1'.repeat(64) } }, headers), 'SignatureDoesNotMatch');
});

test('STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER with a signed CRC32C trailer and Content-MD5', async () => {
  const ctx = DOC_CTX('106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e');
  const data = Buffer.alloc(66560, 'a');
  const body = signedBody([data.subarray(0, 65536), data.subarray(65536)], ctx, { 'x-amz-checksum-crc32c': 'sOO8/Q==' });
  assert.ok(body.includes('x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435'));
  const payload: PayloadMode = { kind: 'aws-chunked', signed: true, trailer: true, signing: ctx };
  const headers = {
    'content-encoding': 'aws-chunked',
    'transfer-encoding': 'chunked',
    'x-amz-decoded-content-length': '66560',
    'x-amz-trailer': 'x-amz-checksum-crc32c',
    'content-md5': md5B64(data),
  };
  const out = await ok(source(body, 1), opts(payload, headers));
  assert.deepEqual(out.result, { size: 66560, md5Hex: md5Hex(data), checksum: { algorithm: 'crc32c', base64: 'sOO8/Q==' } });

  // A signed trailer with a wrong (but correctly signed) checksum is BadDigest.
  const wrongCrc = signedBody([data.subarray(0, 65536), data.subarray(65536)], ctx, { 'x-amz-checksum-crc32c': 'AAAAAA==' });
  await fails(source(wrongCrc), opts(payload, headers), 'BadDigest', /CRC32C/);
  await fails(source(body), opts(payload, { ...headers, 'content-md5': md5B64(Buffer.from('x')) }), 'BadDigest', /Content-MD5/);
});

test('large signed upload in 64 KiB chunks with random HTTP splits, SHA-256 trailer', async () => {
  const ctx: SigningContext = { ...DOC_CTX('9'.repeat(64)), timestamp: '20130524T120000Z' };
  const data = randomBytes(3 * MiB + 123);
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += 65536) chunks.push(data.subarray(i, i + 65536));
  const sha = createHash('sha256').update(data).digest('base64');
  const body = signedBody(chunks, ctx, { 'x-amz-checksum-sha256': sha });
  const payload: PayloadMode = { kind: 'aws-chunked', signed: true, trailer: true, signing: ctx };
  const headers = { 'transfer-encoding': 'chunked', 'x-amz-decoded-content-length': String(data.length), 'x-amz-trailer': 'x-amz-checksum-sha256' };
  const out = await ok(source(body, 16_411), opts(payload, headers));
  assert.ok(out.data.equals(data));
  assert.equal(out.result.checksum?.base64, sha);
});

test('unsigned-trailer body built here with CRC64NVME', async () => {
  const data = randomBytes(200_000);
  const { result: reference } = await ok(source(data), opts(UNSIGNED, { 'content-length': String(data.length), 'x-amz-sdk-checksum-algorithm': 'CRC64NVME' }));
  const crc = reference.checksum?.base64 ?? '';
  const body = unsignedTrailerBody([data.subarray(0, 65536), data.subarray(65536, 131072), data.subarray(131072)], { 'x-amz-checksum-crc64nvme': crc });
  const headers = { 'transfer-encoding': 'chunked', 'x-amz-decoded-content-length': String(data.length), 'x-amz-trailer': 'x-amz-checksum-crc64nvme' };
  const out = await ok(source(body, 999), opts(UNSIGNED_TRAILER(), headers));
  assert.deepEqual(out.result.checksum, { algorithm: 'crc64nvme', base64: crc });
});

test('a temp-file backend keeps good bodies and discards failed ones', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bleepstore-ingest-'));
  /** Write to a temp file, rename on success, unlink on failure (what storage does). */
  async function store(body: Buffer, options: IngestOptions, name: string): Promise<boolean> {
    const tmp = join(dir, `${name}.tmp`);
    const ingest = createIngest(source(body, 4096), options);
    try {
      await pipeline(ingest.stream, createWriteStream(tmp));
      await rename(tmp, join(dir, name));
      return true;
    } catch {
      await unlink(tmp).catch(() => undefined);
      return false;
    }
  }
  try {
    const data = randomBytes(50_000);
    assert.equal(await store(data, opts({ kind: 'sha256', expectedHex: sha256Hex(data) }, { 'content-length': '50000' }), 'good'), true);
    assert.deepEqual(await readFile(join(dir, 'good')), data);
    assert.equal(await store(data, opts({ kind: 'sha256', expectedHex: EMPTY_SHA256 }, { 'content-length': '50000' }), 'bad'), false);
    assert.equal(existsSync(join(dir, 'bad')), false);
    assert.equal(existsSync(join(dir, 'bad.tmp')), false);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
