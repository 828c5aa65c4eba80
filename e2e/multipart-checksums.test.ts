// Multipart flexible checksums through the JS SDK, once per HTTP engine: COMPOSITE CRC32 (value
// "-N" computed here independently), FULL_OBJECT CRC64NVME and CRC32C (the SDK validates the
// whole-object value on GetObject), lib-storage's Upload with a checksum algorithm, and the
// rejections S3 gives (wrong part checksum in Complete, mismatched part algorithm, invalid type).
import { describe, before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type ChecksumAlgorithm,
  type CompletedPart,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Crc32cJs, Crc64NvmeJs } from '@aws-sdk/checksums/crc';
import { ACCESS_KEY, ENGINES, REGION, SECRET_KEY, startServer, type ServerHandle } from './harness.js';
import { sdkClient, sdkErrorName, sdkErrorStatus } from './clients.js';

const MiB = 1024 * 1024;
const PARTS = [randomBytes(5 * MiB), randomBytes(MiB + 3)];
const WHOLE = Buffer.concat(PARTS);

function crc32Base64(data: Buffer): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32(data) >>> 0);
  return out.toString('base64');
}

async function sdkCrc(Impl: typeof Crc32cJs | typeof Crc64NvmeJs, data: Buffer): Promise<string> {
  const h = new Impl();
  h.update(data);
  return Buffer.from(await h.digest()).toString('base64');
}

/** Expects `promise` to fail with this S3 error code and status. */
async function rejectsWith(promise: Promise<unknown>, code: string, status: number): Promise<void> {
  await assert.rejects(promise, (e) => {
    assert.equal(sdkErrorName(e), code);
    assert.equal(sdkErrorStatus(e), status);
    return true;
  });
}

/** Creates an upload and sends PARTS with the SDK computing the part checksums. */
async function uploadParts(s3: S3Client, bucket: string, key: string, algorithm: ChecksumAlgorithm, type?: 'COMPOSITE' | 'FULL_OBJECT') {
  const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ChecksumAlgorithm: algorithm, ...(type ? { ChecksumType: type } : {}) }));
  const uploadId = created.UploadId as string;
  const parts: CompletedPart[] = [];
  for (const [i, body] of PARTS.entries()) {
    const r = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: i + 1, Body: body, ChecksumAlgorithm: algorithm }));
    parts.push({ PartNumber: i + 1, ETag: r.ETag, ChecksumCRC32: r.ChecksumCRC32, ChecksumCRC32C: r.ChecksumCRC32C, ChecksumCRC64NVME: r.ChecksumCRC64NVME });
  }
  return { created, uploadId, parts };
}

for (const engine of ENGINES) {
  describe(`multipart checksums [${engine}]`, () => {
    let server: ServerHandle;
    let s3: S3Client;
    const bucket = 'mp-checksums';

    before(async () => {
      server = await startServer(engine);
      s3 = sdkClient(server.endpoint);
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    });
    after(async () => {
      s3?.destroy();
      await server?.stop();
    });

    test('CRC32 COMPOSITE: part checksums listed, object checksum is CRC32 of the part CRCs with -N', async () => {
      const { created, uploadId, parts } = await uploadParts(s3, bucket, 'composite', 'CRC32');
      assert.equal(created.ChecksumAlgorithm, 'CRC32');
      assert.equal(created.ChecksumType, 'COMPOSITE');
      const partCrcs = PARTS.map(crc32Base64);
      assert.deepEqual(parts.map((p) => p.ChecksumCRC32), partCrcs);

      const listed = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'composite', UploadId: uploadId }));
      assert.deepEqual(listed.Parts?.map((p) => p.ChecksumCRC32), partCrcs);
      assert.equal(listed.ChecksumAlgorithm, 'CRC32');

      const expected = `${crc32Base64(Buffer.concat(partCrcs.map((c) => Buffer.from(c, 'base64'))))}-2`;
      const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'composite', UploadId: uploadId, MultipartUpload: { Parts: parts } }));
      assert.equal(done.ChecksumCRC32, expected);
      assert.equal(done.ChecksumType, 'COMPOSITE');

      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'composite', ChecksumMode: 'ENABLED' }));
      assert.equal(head.ChecksumCRC32, expected);
      assert.equal(head.ChecksumType, 'COMPOSITE');
      const plainHead = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'composite' }));
      assert.equal(plainHead.ChecksumCRC32, undefined);
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'composite', ChecksumMode: 'ENABLED' }));
      assert.ok(Buffer.from(await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()).equals(WHOLE));
      assert.equal(got.ChecksumType, 'COMPOSITE');
    });

    test('CRC32 COMPOSITE with an UploadPartCopy part: the copied part gets its checksum too', async () => {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'copy-source', Body: PARTS[0] }));
      const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'with-copy', ChecksumAlgorithm: 'CRC32' }));
      const uploadId = created.UploadId as string;
      const copied = await s3.send(new UploadPartCopyCommand({ Bucket: bucket, Key: 'with-copy', UploadId: uploadId, PartNumber: 1, CopySource: `${bucket}/copy-source` }));
      assert.equal(copied.CopyPartResult?.ChecksumCRC32, crc32Base64(PARTS[0] as Buffer));
      const second = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'with-copy', UploadId: uploadId, PartNumber: 2, Body: PARTS[1], ChecksumAlgorithm: 'CRC32' }));
      const parts: CompletedPart[] = [
        { PartNumber: 1, ETag: copied.CopyPartResult?.ETag, ChecksumCRC32: copied.CopyPartResult?.ChecksumCRC32 },
        { PartNumber: 2, ETag: second.ETag, ChecksumCRC32: second.ChecksumCRC32 },
      ];
      const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'with-copy', UploadId: uploadId, MultipartUpload: { Parts: parts } }));
      const partCrcs = PARTS.map(crc32Base64);
      assert.equal(done.ChecksumCRC32, `${crc32Base64(Buffer.concat(partCrcs.map((c) => Buffer.from(c, 'base64'))))}-2`);
    });

    for (const [algorithm, impl, field] of [
      ['CRC64NVME', Crc64NvmeJs, 'ChecksumCRC64NVME'],
      ['CRC32C', Crc32cJs, 'ChecksumCRC32C'],
    ] as const) {
      test(`${algorithm} FULL_OBJECT: object checksum is the CRC of the whole object, validated by the SDK on GET`, async () => {
        const key = `full-${algorithm}`;
        const { created, uploadId, parts } = await uploadParts(s3, bucket, key, algorithm, 'FULL_OBJECT');
        assert.equal(created.ChecksumType, 'FULL_OBJECT');
        const expected = await sdkCrc(impl, WHOLE);
        const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
        assert.equal(done[field], expected);
        assert.equal(done.ChecksumType, 'FULL_OBJECT');
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }));
        assert.equal(head[field], expected);
        assert.equal(head.ChecksumType, 'FULL_OBJECT');
        const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }));
        // The SDK checks the body against the header while streaming: a wrong value fails here.
        assert.ok(Buffer.from(await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()).equals(WHOLE));
        assert.equal(got[field], expected);
      });
    }

    test('lib-storage Upload with ChecksumAlgorithm CRC32 stores a composite checksum over its parts', async () => {
      const body = randomBytes(11 * MiB);
      const upload = new Upload({ client: s3, params: { Bucket: bucket, Key: 'lib-storage', Body: body, ChecksumAlgorithm: 'CRC32' }, partSize: 5 * MiB, queueSize: 3 });
      await upload.done();
      const partCrcs = [body.subarray(0, 5 * MiB), body.subarray(5 * MiB, 10 * MiB), body.subarray(10 * MiB)].map(crc32Base64);
      const expected = `${crc32Base64(Buffer.concat(partCrcs.map((c) => Buffer.from(c, 'base64'))))}-3`;
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'lib-storage', ChecksumMode: 'ENABLED' }));
      assert.equal(head.ChecksumCRC32, expected);
      assert.equal(head.ChecksumType, 'COMPOSITE');
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'lib-storage', ChecksumMode: 'ENABLED' }));
      assert.ok(Buffer.from(await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()).equals(body));
    });

    test('a part sent without any checksum to a CRC32 upload gets its CRC32 computed by the server', async () => {
      const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'no-part-sum', ChecksumAlgorithm: 'CRC32' }));
      // This client sends no flexible checksum unless an operation requires one.
      const plain = new S3Client({ endpoint: server.endpoint, region: REGION, forcePathStyle: true, credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY }, maxAttempts: 1, requestChecksumCalculation: 'WHEN_REQUIRED' });
      try {
        const r = await plain.send(new UploadPartCommand({ Bucket: bucket, Key: 'no-part-sum', UploadId: created.UploadId, PartNumber: 1, Body: PARTS[1] }));
        assert.equal(r.ChecksumCRC32, crc32Base64(PARTS[1] as Buffer));
      } finally {
        plain.destroy();
      }
      const listed = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'no-part-sum', UploadId: created.UploadId }));
      assert.equal(listed.Parts?.[0]?.ChecksumCRC32, crc32Base64(PARTS[1] as Buffer));
    });

    test('rejections: wrong part checksum in Complete, other part algorithm, invalid algorithm/type pairs', async () => {
      const { uploadId, parts } = await uploadParts(s3, bucket, 'negative', 'CRC32');
      const wrong = parts.map((p, i) => (i === 1 ? { ...p, ChecksumCRC32: crc32Base64(Buffer.from('not this part')) } : p));
      await rejectsWith(s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'negative', UploadId: uploadId, MultipartUpload: { Parts: wrong } })), 'InvalidPart', 400);
      // A COMPOSITE upload needs every part's checksum in Complete.
      const missing = parts.map((p) => ({ PartNumber: p.PartNumber, ETag: p.ETag }));
      await rejectsWith(s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'negative', UploadId: uploadId, MultipartUpload: { Parts: missing } })), 'InvalidRequest', 400);
      await rejectsWith(
        s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'negative', UploadId: uploadId, PartNumber: 3, Body: Buffer.from('x'), ChecksumAlgorithm: 'SHA256' })),
        'InvalidRequest',
        400,
      );
      // Nothing above changed the upload: the right checksums still complete it.
      const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'negative', UploadId: uploadId, MultipartUpload: { Parts: parts } }));
      assert.match(done.ChecksumCRC32 ?? '', /-2$/);

      await rejectsWith(s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'x', ChecksumAlgorithm: 'SHA256', ChecksumType: 'FULL_OBJECT' })), 'InvalidRequest', 400);
      await rejectsWith(s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'x', ChecksumAlgorithm: 'CRC64NVME', ChecksumType: 'COMPOSITE' })), 'InvalidRequest', 400);
    });
  });
}
