// Presigned URLs from the AWS SDK's own presigner for every kind of operation (issue: "presigned
// everything"): PUT with and without checksum parameters, GET with response-* overrides, HEAD,
// listing, multipart create / part / complete / list parts / abort, DeleteObject. Each URL is
// used with plain fetch, no Authorization header: the server verifies the query signature.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { sdkClient } from './clients.js';
import { ENGINES, startServer, type ServerHandle } from './harness.js';

const MiB = 1024 * 1024;

function crc32Base64(data: Buffer): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32(data));
  return out.toString('base64');
}

async function call(url: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const res = await fetch(url, init);
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

for (const engine of ENGINES) {
  describe(`presigned URLs [${engine}]`, () => {
    let server: ServerHandle;
    let s3: S3Client;
    const bucket = 'presigned';
    // The presigner types commands against its own copy of @smithy/types; the runtime objects match.
    const sign = (command: object, expiresIn = 300) => getSignedUrl(s3, command as Parameters<typeof getSignedUrl>[1], { expiresIn });

    before(async () => {
      server = await startServer(engine);
      s3 = sdkClient(server.endpoint);
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    });
    after(async () => {
      s3?.destroy();
      await server?.stop();
    });

    test('PUT without and with a checksum parameter; a wrong checksum is BadDigest', async () => {
      const body = randomBytes(64 * 1024);
      const plain = await call(await sign(new PutObjectCommand({ Bucket: bucket, Key: 'plain key+ü.bin' })), { method: 'PUT', body });
      assert.equal(plain.status, 200, plain.body.toString());
      assert.equal(plain.headers.get('etag'), `"${createHash('md5').update(body).digest('hex')}"`);

      const checked = await sign(new PutObjectCommand({ Bucket: bucket, Key: 'checked.bin', ChecksumCRC32: crc32Base64(body) }));
      assert.match(checked, /x-amz-checksum-crc32/i, 'the presigner signs the checksum into the URL');
      const ok = await call(checked, { method: 'PUT', body, headers: { 'x-amz-checksum-crc32': crc32Base64(body) } });
      assert.equal(ok.status, 200, ok.body.toString());
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'checked.bin', ChecksumMode: 'ENABLED' }));
      assert.equal(head.ChecksumCRC32, crc32Base64(body));

      const wrong = crc32Base64(Buffer.from('other bytes'));
      const bad = await call(await sign(new PutObjectCommand({ Bucket: bucket, Key: 'bad.bin', ChecksumCRC32: wrong })), { method: 'PUT', body, headers: { 'x-amz-checksum-crc32': wrong } });
      assert.equal(bad.status, 400);
      assert.match(bad.body.toString(), /<Code>BadDigest<\/Code>/);
    });

    test('GET with response-* overrides, HEAD, ListObjectsV2', async () => {
      const url = await sign(
        new GetObjectCommand({ Bucket: bucket, Key: 'plain key+ü.bin', ResponseContentType: 'text/x-test', ResponseContentDisposition: 'attachment; filename="x.bin"', ResponseCacheControl: 'no-store' }),
      );
      const got = await call(url);
      assert.equal(got.status, 200);
      assert.equal(got.body.length, 64 * 1024);
      assert.equal(got.headers.get('content-type'), 'text/x-test');
      assert.equal(got.headers.get('content-disposition'), 'attachment; filename="x.bin"');
      assert.equal(got.headers.get('cache-control'), 'no-store');

      const head = await call(await sign(new HeadObjectCommand({ Bucket: bucket, Key: 'plain key+ü.bin' })), { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), String(64 * 1024));

      const list = await call(await sign(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'plain' })));
      assert.equal(list.status, 200);
      assert.match(list.body.toString(), /<Key>plain key\+ü\.bin<\/Key>/);
    });

    test('multipart: create, upload parts, list parts, complete — all presigned; then abort presigned', async () => {
      const created = await call(await sign(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp.bin' })), { method: 'POST' });
      assert.equal(created.status, 200, created.body.toString());
      const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(created.body.toString())?.[1] ?? '';
      assert.notEqual(uploadId, '');
      const parts = [randomBytes(5 * MiB), randomBytes(123)];
      const etags: string[] = [];
      for (const [i, body] of parts.entries()) {
        const r = await call(await sign(new UploadPartCommand({ Bucket: bucket, Key: 'mp.bin', UploadId: uploadId, PartNumber: i + 1 })), { method: 'PUT', body });
        assert.equal(r.status, 200, r.body.toString());
        etags.push(r.headers.get('etag') ?? '');
      }
      const listed = await call(await sign(new ListPartsCommand({ Bucket: bucket, Key: 'mp.bin', UploadId: uploadId })));
      assert.equal((listed.body.toString().match(/<Part>/g) ?? []).length, 2);
      const xml = `<CompleteMultipartUpload>${etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
      const done = await call(await sign(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'mp.bin', UploadId: uploadId })), { method: 'POST', body: xml });
      assert.equal(done.status, 200, done.body.toString());
      assert.match(done.body.toString(), /<ETag>&quot;[0-9a-f]{32}-2&quot;<\/ETag>/);
      const whole = await call(await sign(new GetObjectCommand({ Bucket: bucket, Key: 'mp.bin' })));
      assert.ok(whole.body.equals(Buffer.concat(parts)));

      const second = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'aborted.bin' }));
      const aborted = await call(await sign(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'aborted.bin', UploadId: second.UploadId })), { method: 'DELETE' });
      assert.equal(aborted.status, 204);
    });

    test('DELETE presigned; an expired URL is AccessDenied; a tampered one SignatureDoesNotMatch', async () => {
      const deleted = await call(await sign(new DeleteObjectCommand({ Bucket: bucket, Key: 'checked.bin' })), { method: 'DELETE' });
      assert.equal(deleted.status, 204);
      const gone = await call(await sign(new GetObjectCommand({ Bucket: bucket, Key: 'checked.bin' })));
      assert.equal(gone.status, 404);

      const tampered = (await sign(new GetObjectCommand({ Bucket: bucket, Key: 'plain key+ü.bin' }))).replace('plain', 'plaim');
      const t = await call(tampered);
      assert.equal(t.status, 403);
      assert.match(t.body.toString(), /<Code>SignatureDoesNotMatch<\/Code>/);

      const shortLived = await sign(new GetObjectCommand({ Bucket: bucket, Key: 'plain key+ü.bin' }), 1);
      await new Promise((r) => setTimeout(r, 2100));
      const expired = await call(shortLived);
      assert.equal(expired.status, 403);
      assert.match(expired.body.toString(), /<Code>AccessDenied<\/Code>/);
    });
  });
}
