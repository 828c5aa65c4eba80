// @aws-sdk/client-s3 against the real server, once per HTTP engine: Buffer bodies (Content-Length +
// hex SHA-256 + CRC32 header) and file-stream bodies (aws-chunked + CRC32 trailer), up to 300 MiB
// with the server's RSS watched while it streams.
import { describe, before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import {
  S3Client,
  CreateBucketCommand,
  HeadBucketCommand,
  GetBucketLocationCommand,
  ListBucketsCommand,
  DeleteBucketCommand,
  PutObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  DeleteObjectCommand,
} from '@aws-sdk/client-s3';
import { ENGINES, startServer, type ServerHandle } from './harness.js';
import { NEEDS_STREAMING_STORAGE } from './matrix.js';
import { sdkClient, sdkErrorStatus, sdkErrorName } from './clients.js';
import { makeWorkDir, writeRandomFile, fingerprint, fingerprintStream, RssSampler, formatMiB, readRss, KiB, MiB, type RandomFile } from './files.js';

const RSS_LIMIT = 250 * MiB;
const work = makeWorkDir('sdk-js');
const files: Record<'zero' | 'kib' | 'tenMiB' | 'big', RandomFile | undefined> = { zero: undefined, kib: undefined, tenMiB: undefined, big: undefined };

function file(name: keyof typeof files): RandomFile {
  const f = files[name];
  if (!f) throw new Error(`test file ${name} was not generated`);
  return f;
}

before(async () => {
  files.zero = await writeRandomFile(work.dir, 'zero.bin', 0);
  files.kib = await writeRandomFile(work.dir, 'kib.bin', KiB);
  files.tenMiB = await writeRandomFile(work.dir, 'ten.bin', 10 * MiB);
  files.big = await writeRandomFile(work.dir, 'big.bin', 300 * MiB);
});
after(() => work.cleanup());

async function expectStatus(promise: Promise<unknown>, status: number, name?: string): Promise<void> {
  try {
    await promise;
  } catch (e) {
    assert.equal(sdkErrorStatus(e), status, `expected HTTP ${status}, got ${sdkErrorStatus(e)} (${String(e)})`);
    if (name !== undefined) assert.equal(sdkErrorName(e), name);
    return;
  }
  assert.fail(`expected HTTP ${status}${name ? ' ' + name : ''}, but the request succeeded`);
}

async function getAndFingerprint(s3: S3Client, bucket: string, key: string, checksum = false) {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(checksum ? { ChecksumMode: 'ENABLED' as const } : {}) }));
  const fp = await fingerprintStream(res.Body as Readable);
  return { res, fp };
}

for (const engine of ENGINES) {
  describe(`sdk-js [${engine}]`, () => {
    let server: ServerHandle;
    let s3: S3Client;
    const bucket = `sdk-js-${engine}`;

    before(async () => {
      server = await startServer(engine);
      s3 = sdkClient(server.endpoint);
    });
    after(async () => {
      s3?.destroy();
      await server?.stop();
    });

    test('CreateBucket, HeadBucket, GetBucketLocation, ListBuckets', async () => {
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      const head = await s3.send(new HeadBucketCommand({ Bucket: bucket }));
      assert.equal(head.$metadata.httpStatusCode, 200);
      const location = await s3.send(new GetBucketLocationCommand({ Bucket: bucket }));
      // us-east-1 is an empty <LocationConstraint/>, which the SDK reports as undefined or ''
      const constraint: string | undefined = location.LocationConstraint;
      assert.ok(constraint === undefined || constraint === '', `us-east-1 bucket location: ${String(constraint)}`);
      const list = await s3.send(new ListBucketsCommand({}));
      assert.ok(list.Buckets?.some((b) => b.Name === bucket && b.CreationDate instanceof Date), JSON.stringify(list.Buckets));
      assert.ok(list.Owner?.ID, 'ListBuckets has an Owner');
      await expectStatus(s3.send(new HeadBucketCommand({ Bucket: 'no-such-bucket-here' })), 404);
    });

    for (const [label, name] of [['0 B', 'zero'], ['1 KiB', 'kib'], ['10 MiB', 'tenMiB']] as const) {
      test(`Buffer body ${label}: put, get, head, delete`, async () => {
        const f = file(name);
        const key = `buffer/${name}.bin`;
        const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: readFileSync(f.path) }));
        assert.equal(put.ETag, `"${f.md5}"`);
        const { res, fp } = await getAndFingerprint(s3, bucket, key, true);
        assert.equal(fp.sha256, f.sha256, 'downloaded bytes differ');
        assert.equal(res.ContentLength, f.size);
        assert.equal(res.ETag, `"${f.md5}"`);
        assert.equal(res.ChecksumCRC32, f.crc32, 'GetObject ChecksumMode ENABLED returns the CRC32 the SDK sent');
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        assert.equal(head.ContentLength, f.size);
        assert.equal(head.ETag, `"${f.md5}"`);
        assert.ok(head.LastModified instanceof Date);
        const del = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
        assert.equal(del.$metadata.httpStatusCode, 204);
        await expectStatus(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })), 404);
        await expectStatus(s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })), 404, 'NoSuchKey');
      });
    }

    for (const [label, name] of [['0 B', 'zero'], ['1 KiB', 'kib'], ['10 MiB', 'tenMiB']] as const) {
      test(`stream body ${label} (aws-chunked + CRC32 trailer): put, get with checksum, head, delete`, async () => {
        const f = file(name);
        const key = `stream/${name}.bin`;
        const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: createReadStream(f.path) }));
        assert.equal(put.ETag, `"${f.md5}"`);
        const { res, fp } = await getAndFingerprint(s3, bucket, key, true);
        assert.equal(fp.sha256, f.sha256, 'downloaded bytes differ (aws-chunked framing stored?)');
        assert.equal(res.ContentLength, f.size);
        assert.equal(res.ChecksumCRC32, f.crc32, 'GetObject ChecksumMode ENABLED returns the CRC32 from the trailer');
        assert.equal(res.ContentEncoding, undefined, 'aws-chunked must not be stored as Content-Encoding');
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        assert.equal(head.ContentLength, f.size);
        await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
        await expectStatus(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })), 404);
      });
    }

    test('300 MiB file stream up and down, server RSS stays flat', { timeout: 10 * 60_000, skip: NEEDS_STREAMING_STORAGE }, async (t) => {
      const f = file('big');
      const key = 'big/300MiB.bin';
      const baseline = readRss(server.pid);
      const upSampler = new RssSampler(server.pid);
      const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: createReadStream(f.path) }));
      const up = upSampler.stop();
      assert.equal(put.ETag, `"${f.md5}"`);

      const downSampler = new RssSampler(server.pid);
      const { res, fp } = await getAndFingerprint(s3, bucket, key, true);
      const down = downSampler.stop();
      assert.equal(res.ContentLength, f.size);
      assert.equal(fp.sha256, f.sha256, '300 MiB download differs');
      t.diagnostic(`server RSS baseline ${formatMiB(baseline)}, peak during PUT ${formatMiB(up.peakBytes)} (${up.samples} samples), during GET ${formatMiB(down.peakBytes)} (${down.samples} samples)`);
      assert.ok(up.peakBytes < RSS_LIMIT, `server RSS peaked at ${formatMiB(up.peakBytes)} during the 300 MiB PUT (limit ${formatMiB(RSS_LIMIT)})`);
      assert.ok(down.peakBytes < RSS_LIMIT, `server RSS peaked at ${formatMiB(down.peakBytes)} during the 300 MiB GET (limit ${formatMiB(RSS_LIMIT)})`);
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    });

    const specialKeys = [
      'with space/file name.txt',
      'unicodé/ключ/日本語/😀.bin',
      'plus+sign+key',
      'percent%key%20literal%',
      "bang!quote'paren()star*",
      'deep/a/b/c/d/e/slashes.txt',
      'punct~tilde&amp=eq;semi,comma:colon@at$dollar',
    ];
    test('keys with spaces, unicode, +, %, !\'()* and / round-trip', async () => {
      for (const key of specialKeys) {
        const body = Buffer.from(`content of ${key}`, 'utf8');
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
      }
      for (const key of specialKeys) {
        const { fp } = await getAndFingerprint(s3, bucket, key);
        assert.equal(fp.sha256, fingerprint(Buffer.from(`content of ${key}`, 'utf8')).sha256, `GET ${key} returned other bytes`);
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        assert.equal(head.ContentLength, Buffer.byteLength(`content of ${key}`));
      }
      // a key that differs only by encoding must be a different object
      await expectStatus(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'plus sign key' })), 404);
      for (const key of specialKeys) {
        await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
        await expectStatus(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })), 404);
      }
    });

    for (const bodyKind of ['Buffer', 'stream'] as const) {
      test(`user metadata and content headers round-trip (${bodyKind} body)`, async () => {
        const f = file('kib');
        const key = `headers/${bodyKind}.txt`;
        const expires = new Date(Date.UTC(2030, 0, 2, 3, 4, 5));
        await s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: bodyKind === 'Buffer' ? readFileSync(f.path) : createReadStream(f.path),
            ContentType: 'text/plain; charset=utf-8',
            ContentEncoding: 'gzip',
            ContentLanguage: 'de-DE',
            ContentDisposition: 'attachment; filename="report 1.txt"',
            CacheControl: 'max-age=60, private',
            Expires: expires,
            Metadata: { color: 'blue', 'multi-word-name': 'Hello, World  spaced' },
          }),
        );
        for (const res of [await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })), (await getAndFingerprint(s3, bucket, key)).res]) {
          assert.equal(res.ContentType, 'text/plain; charset=utf-8');
          assert.equal(res.ContentEncoding, 'gzip', 'Content-Encoding stored without the aws-chunked token');
          assert.equal(res.ContentLanguage, 'de-DE');
          assert.equal(res.ContentDisposition, 'attachment; filename="report 1.txt"');
          assert.equal(res.CacheControl, 'max-age=60, private');
          assert.equal(res.Expires?.getTime(), expires.getTime());
          assert.deepEqual(res.Metadata, { color: 'blue', 'multi-word-name': 'Hello, World  spaced' });
          assert.equal(res.ContentLength, f.size);
        }
        await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      });
    }

    test('Range GET returns 206 with the requested bytes', async () => {
      const f = file('kib');
      const data = readFileSync(f.path);
      const key = 'range/kib.bin';
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data }));
      const cases: [string, number, number][] = [
        ['bytes=100-199', 100, 199],
        ['bytes=1000-', 1000, 1023],
        ['bytes=-10', 1014, 1023],
        ['bytes=0-0', 0, 0],
        ['bytes=1000-5000', 1000, 1023],
      ];
      for (const [range, start, end] of cases) {
        const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: range }));
        assert.equal(res.$metadata.httpStatusCode, 206, range);
        assert.equal(res.ContentRange, `bytes ${start}-${end}/${data.length}`, range);
        assert.equal(res.ContentLength, end - start + 1, range);
        const got = await fingerprintStream(res.Body as Readable);
        assert.equal(got.sha256, fingerprint(data.subarray(start, end + 1)).sha256, `${range}: wrong bytes`);
      }
      await expectStatus(s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: 'bytes=5000-6000' })), 416, 'InvalidRange');
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    });

    test('If-None-Match with the current ETag gives 304; another ETag gives 200', async () => {
      const f = file('kib');
      const key = 'cond/kib.bin';
      const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: readFileSync(f.path) }));
      assert.ok(put.ETag);
      await expectStatus(s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfNoneMatch: put.ETag })), 304);
      await expectStatus(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, IfNoneMatch: put.ETag })), 304);
      const other = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfNoneMatch: '"00000000000000000000000000000000"' }));
      assert.equal(other.$metadata.httpStatusCode, 200);
      assert.equal((await fingerprintStream(other.Body as Readable)).sha256, f.sha256);
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    });

    test('DeleteBucket: BucketNotEmpty while an object exists, then 204', async () => {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'last/object', Body: Buffer.from('x') }));
      await expectStatus(s3.send(new DeleteBucketCommand({ Bucket: bucket })), 409, 'BucketNotEmpty');
      await s3.send(new HeadBucketCommand({ Bucket: bucket }));
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'last/object' }));
      const del = await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
      assert.equal(del.$metadata.httpStatusCode, 204);
      await expectStatus(s3.send(new HeadBucketCommand({ Bucket: bucket })), 404);
      const list = await s3.send(new ListBucketsCommand({}));
      assert.ok(!list.Buckets?.some((b) => b.Name === bucket));
    });
  });
}
