// AWS S3 gateway specifics (spec/storage.md §5, §5.1), against a second BleepStore process as the
// S3 target: the backing key layout, streaming of large bodies through bounded buffers, what is
// (not) left behind by staged writes, error mapping, and a multipart upload with many parts
// through BleepStore's own S3 API. The shared behaviour is in storage-conformance.test.ts.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type Server } from 'node:http';
import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { after, before, describe, it } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  CreateBucketCommand,
} from '@aws-sdk/client-s3';
import { BackendUnavailableError } from '../src/cloud/retry.js';
import { defaultConfig, type Config } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { createServer, type BleepStoreServer } from '../src/server.js';
import { planSegments, MIN_PART_BYTES } from '../src/storage/aws-assembly.js';
import { AwsAccessDeniedError } from '../src/storage/aws-calls.js';
import { AwsStorage, type AwsStorageSettings } from '../src/storage/aws.js';
import { StorageNotFoundError, type StagedWrite } from '../src/storage/types.js';
import { uniqueNamespaceId } from './servers/config-patch.js';
import { freePort } from './servers/process.js';
import { PEER_PREFIX, peerClient, start as startS3Peer } from './servers/s3-peer.js';
import type { TestPeer } from './servers/types.js';
import { bodyOf, committed } from './storage-bodies.js';

const MiB = 1024 * 1024;
const TEST = { timeout: 120_000 };

/** `size` random bytes generated 1 MiB at a time (never held whole), with their MD5 once read. */
function generatedBody(size: number, failAfter?: Error): { body: Readable; md5: () => string } {
  const hash = createHash('md5');
  async function* chunks(): AsyncGenerator<Buffer> {
    for (let sent = 0; sent < size; sent += MiB) {
      if (failAfter && sent >= size / 2) throw failAfter;
      const chunk = randomBytes(Math.min(MiB, size - sent));
      hash.update(chunk);
      yield chunk;
    }
  }
  return { body: Readable.from(chunks(), { objectMode: false }), md5: () => hash.digest('hex') };
}

async function md5OfStream(stream: Readable): Promise<{ md5: string; size: number }> {
  const hash = createHash('md5');
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { md5: hash.digest('hex'), size };
}

/** global.gc without --expose-gc on the command line. */
function collectGarbage(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

describe('AwsStorage against a BleepStore S3 target', () => {
  let peer: TestPeer;
  let settings: AwsStorageSettings;
  let s: AwsStorage;
  let target: S3Client;

  before(async () => {
    peer = await startS3Peer();
    const patch = await peer.namespace(uniqueNamespaceId('aws-gw'));
    settings = { ...defaultConfig().storage.aws, ...patch.storage?.aws } as AwsStorageSettings;
    s = new AwsStorage(settings);
    await s.init();
    target = peerClient(settings.endpoint_url, settings.access_key_id, settings.secret_access_key);
  });
  after(async () => {
    target?.destroy();
    await s?.close();
    await peer?.stop();
  });

  /** Every key in the backing bucket under the gateway's prefix. */
  async function backingKeys(): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await target.send(new ListObjectsV2Command({ Bucket: settings.bucket, Prefix: PEER_PREFIX, ContinuationToken: token }));
      for (const o of page.Contents ?? []) keys.push(o.Key!);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  }

  async function openUploads(): Promise<number> {
    const out = await target.send(new ListMultipartUploadsCommand({ Bucket: settings.bucket }));
    return out.Uploads?.length ?? 0;
  }

  it('keeps objects at {prefix}{bucket}/{key} and parts at {prefix}.parts/{upload_id}/{n}', TEST, async () => {
    assert.equal(settings.prefix, PEER_PREFIX);
    const staged = await s.putObject('photos', 'dir/a.txt', bodyOf(Buffer.from('hello')));
    assert.deepEqual(await backingKeys(), [], 'nothing is visible before commit');
    await staged.commit();
    await committed(s.putPart('photos', 'big', 'UPLOAD1', 3, bodyOf(Buffer.from('part three'))));
    assert.deepEqual(await backingKeys(), [`${PEER_PREFIX}.parts/UPLOAD1/3`, `${PEER_PREFIX}photos/dir/a.txt`]);
    const got = await target.send(new GetObjectCommand({ Bucket: settings.bucket, Key: `${PEER_PREFIX}photos/dir/a.txt` }));
    assert.equal(await got.Body!.transformToString(), 'hello', 'the backing object holds exactly the bytes');

    await s.deleteParts('photos', 'big', 'UPLOAD1');
    await s.deleteObject('photos', 'dir/a.txt');
    assert.deepEqual(await backingKeys(), []);
  });

  it('maps a key too long for S3 after prefixing to {prefix}.long-keys/{bucket}/{sha256}', TEST, async () => {
    const key = 'k'.repeat(1024);
    await committed(s.putObject('photos', key, bodyOf(Buffer.from('long'))));
    const sha = createHash('sha256').update(key).digest('hex');
    assert.deepEqual(await backingKeys(), [`${PEER_PREFIX}.long-keys/photos/${sha}`]);
    assert.equal(await s.objectExists('photos', key), true);
    await s.deleteBucket('photos');
    assert.deepEqual(await backingKeys(), []);
  });

  it('deletes parts in batches of at most 1000 (1005 parts)', TEST, async () => {
    const numbers = Array.from({ length: 1005 }, (_, i) => i + 1);
    for (let i = 0; i < numbers.length; i += 50) {
      await Promise.all(numbers.slice(i, i + 50).map((n) => committed(s.putPart('b', 'k', 'MANY', n, bodyOf(Buffer.from(String(n)))))));
    }
    assert.equal((await backingKeys()).length, 1005);
    await s.deleteUploadParts('MANY');
    assert.deepEqual(await backingKeys(), []);
  });

  it('streams a 100 MiB body as 8 MiB parts of one multipart upload, with bounded memory', TEST, async () => {
    const size = 100 * MiB;
    const { body, md5 } = generatedBody(size);
    // Live buffers only: garbage is collected before each sample.
    const gc = collectGarbage();
    gc();
    const baseline = process.memoryUsage().arrayBuffers;
    let peak = baseline;
    const sampler = setInterval(() => {
      gc();
      peak = Math.max(peak, process.memoryUsage().arrayBuffers);
    }, 25);
    let staged: StagedWrite;
    try {
      staged = await s.putObject('big', 'stream.bin', body);
    } finally {
      clearInterval(sampler);
    }
    assert.equal(staged.size, size);
    assert.equal(await openUploads(), 1, 'staged as one open multipart upload');
    assert.equal(await s.objectExists('big', 'stream.bin'), false);
    await staged.commit();
    assert.equal(await openUploads(), 0);
    const head = await target.send(new HeadObjectCommand({ Bucket: settings.bucket, Key: `${PEER_PREFIX}big/stream.bin` }));
    assert.match(head.ETag ?? '', /-13"$/, '12 parts of 8 MiB and one of 4 MiB');
    // (3 parts in flight + 1 filling) × 8 MiB, plus SDK and socket buffers: far below the body.
    assert.ok(peak - baseline < 64 * MiB, `array buffers grew by ${((peak - baseline) / MiB).toFixed(1)} MiB`);

    const read = await s.getObject('big', 'stream.bin');
    assert.equal(read.size, size);
    assert.deepEqual(await md5OfStream(read.stream), { md5: md5(), size });
  });

  it('a large body that fails midway rejects with its error and leaves no upload behind', TEST, async () => {
    await committed(s.putObject('big', 'keep.bin', bodyOf(Buffer.from('previous'))));
    const boom = new Error('digest mismatch');
    const { body } = generatedBody(40 * MiB, boom);
    await assert.rejects(s.putObject('big', 'keep.bin', body), (e) => e === boom);
    assert.equal(await openUploads(), 0, 'the multipart upload was aborted');
    assert.equal(await (await s.getObject('big', 'keep.bin')).stream.reduce((acc: string, c: Buffer) => acc + c.toString(), ''), 'previous');

    const staged = await s.putObject('big', 'keep.bin', generatedBody(20 * MiB).body);
    await staged.discard();
    await staged.discard(); // idempotent
    assert.equal(await openUploads(), 0, 'discard aborted the multipart upload');
    await assert.rejects(staged.commit(), /already discarded/);
  });

  it('maps provider errors: 404 → StorageNotFoundError, 416 → RangeError', TEST, async () => {
    await assert.rejects(s.getObject('none', 'missing'), StorageNotFoundError);
    await assert.rejects(s.getPart('NOPE', 1), StorageNotFoundError);
    await committed(s.putObject('e', 'ten', bodyOf(Buffer.from('0123456789'))));
    await assert.rejects(s.getObject('e', 'ten', { start: 10, end: 20 }), RangeError);
    await assert.rejects(s.assembleParts('e', 'k', 'NOPE', [1]), StorageNotFoundError);
    assert.equal(await openUploads(), 0);
  });

  it('init fails clearly: missing bucket, wrong credentials, unreachable endpoint', TEST, async () => {
    await assert.rejects(new AwsStorage({ ...settings, bucket: 'no-such-backing-bucket' }).init(), /cannot use backing bucket s3:\/\/no-such-backing-bucket.*does not exist/);
    const denied = new AwsStorage({ ...settings, secret_access_key: 'wrong' });
    await assert.rejects(denied.init(), /denied access/);
    await assert.rejects(denied.healthCheck(), AwsAccessDeniedError);
    const port = await freePort();
    const unreachable = new AwsStorage({ ...settings, endpoint_url: `http://127.0.0.1:${port}` });
    await assert.rejects(unreachable.healthCheck(), (e) => e instanceof BackendUnavailableError && !e.throttled);
    assert.throws(() => new AwsStorage({ ...settings, bucket: '' }), /storage.aws.bucket is required/);
  });

  it('stagedWriteCommitted answers for parts and assemblies before and after commit, and aborts what never committed', TEST, async () => {
    const refOf = (w: StagedWrite): string => {
      assert.match(w.recoveryRef ?? '', /^aws1:\{/);
      return w.recoveryRef ?? '';
    };
    // A small part (one PutObject at commit).
    const smallPart = await s.putPart('r', 'k', 'RUP', 1, bodyOf(Buffer.from('small part')));
    assert.equal(await s.stagedWriteCommitted(refOf(smallPart)), false, 'held, never sent');
    await smallPart.commit();
    assert.equal(await s.stagedWriteCommitted(refOf(smallPart)), true);
    // A large part (a multipart upload on the part key): checked before commit, it is aborted.
    const unsent = await s.putPart('r', 'k', 'RUP', 2, generatedBody(9 * MiB).body);
    assert.equal(await openUploads(), 1);
    assert.equal(await s.stagedWriteCommitted(refOf(unsent)), false);
    assert.equal(await openUploads(), 0, 'the never-completed upload was aborted');
    const sent = await s.putPart('r', 'k', 'RUP', 2, generatedBody(9 * MiB).body);
    await sent.commit();
    assert.equal(await s.stagedWriteCommitted(refOf(sent)), true);
    assert.equal(await s.stagedWriteCommitted(refOf(sent)), true, 'answers the same when asked again');
    // Assemblies: a multipart upload, and the empty object of zero-byte parts.
    const assembly = await s.assembleParts('r', 'whole', 'RUP', [1, 2]);
    assert.match(refOf(assembly), /"u":/);
    const abandoned = await s.assembleParts('r', 'other', 'RUP', [1, 2]);
    await assembly.commit();
    assert.equal(await s.stagedWriteCommitted(refOf(assembly)), true);
    assert.equal(await s.stagedWriteCommitted(refOf(abandoned)), false);
    assert.equal(await openUploads(), 0);
    await committed(s.putPart('r', 'empty', 'EUP', 1, bodyOf(Buffer.alloc(0))));
    const empty = await s.assembleParts('r', 'empty', 'EUP', [1]);
    assert.equal(await s.stagedWriteCommitted(refOf(empty)), false);
    await empty.commit();
    assert.equal(await s.stagedWriteCommitted(refOf(empty)), true);
    // Refs another backend or version wrote, or that are damaged, are never taken for a commit.
    for (const foreign of ['gcs1:{"k":"x"}', 'aws1:not json', 'aws1:{"k":"r/k"}', 'aws2:{"k":"x","t":"y"}', 'aws1:{"k":"bleepstore/r/whole","t":"other-token"}']) {
      assert.equal(await s.stagedWriteCommitted(foreign), false, foreign);
    }
    await s.deleteBucket('r');
    await s.deleteUploadParts('RUP');
    await s.deleteUploadParts('EUP');
  });

  it('plans assembly segments: copies big parts, merges small runs, splits above 5 GiB', () => {
    const part = (number: number, size: number) => ({ number, key: `p/${number}`, size });
    const shape = (parts: ReturnType<typeof part>[]) => planSegments(parts).map((seg) => seg.pieces.map((p) => `${p.part.number}:${p.start}-${p.end}`).join('+'));
    const M5 = MIN_PART_BYTES;
    assert.deepEqual(shape([part(1, M5), part(2, 10)]), [`1:0-${M5 - 1}`, '2:0-9']);
    assert.deepEqual(shape([part(1, 3 * MiB), part(2, 3 * MiB), part(3, M5), part(4, 0), part(5, 1)]), [
      `1:0-${3 * MiB - 1}+2:0-${3 * MiB - 1}`,
      `3:0-${M5 - 1}`,
      '5:0-0',
    ]);
    const huge = 6 * 1024 * MiB;
    assert.deepEqual(shape([part(1, huge)]), [`1:0-${huge / 2 - 1}`, `1:${huge / 2}-${huge - 1}`]);
    assert.deepEqual(shape([part(1, 0)]), []);
  });
});

describe('AwsStorage behind the S3 API: multipart upload with many parts', () => {
  let peer: TestPeer;
  let server: BleepStoreServer;
  let client: S3Client;
  let target: S3Client;
  let settings: AwsStorageSettings;

  before(async () => {
    peer = await startS3Peer();
    const patch = await peer.namespace(uniqueNamespaceId('aws-api'));
    settings = { ...defaultConfig().storage.aws, ...patch.storage?.aws } as AwsStorageSettings;
    const config: Config = defaultConfig();
    config.server.host = '127.0.0.1';
    config.server.port = 0;
    config.server.http_engine = 'node';
    config.metadata.engine = 'memory';
    config.storage.backend = 'aws';
    config.storage.aws = settings;
    server = await createServer(config, { logger: createLogger('error', 'text') });
    const port = await server.listen();
    client = new S3Client({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: config.auth.access_key, secretAccessKey: config.auth.secret_key },
    });
    target = peerClient(settings.endpoint_url, settings.access_key_id, settings.secret_access_key);
  });
  after(async () => {
    client?.destroy();
    target?.destroy();
    await server?.close();
    await peer?.stop();
  });

  it('assembles 12 parts server-side into {prefix}{bucket}/{key} and removes the part objects', TEST, async () => {
    await client.send(new CreateBucketCommand({ Bucket: 'media' }));
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: 'media', Key: 'movie.bin' }));
    const parts = Array.from({ length: 12 }, (_, i) => randomBytes(i === 11 ? 123_457 : MIN_PART_BYTES + i));
    const etags = await Promise.all(
      parts.map(async (data, i) => (await client.send(new UploadPartCommand({ Bucket: 'media', Key: 'movie.bin', UploadId, PartNumber: i + 1, Body: data }))).ETag!),
    );
    // Overwriting part 5 replaces its bytes.
    parts[4] = randomBytes(MIN_PART_BYTES + 99);
    etags[4] = (await client.send(new UploadPartCommand({ Bucket: 'media', Key: 'movie.bin', UploadId, PartNumber: 5, Body: parts[4] }))).ETag!;
    await client.send(
      new CompleteMultipartUploadCommand({ Bucket: 'media', Key: 'movie.bin', UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }),
    );

    const whole = Buffer.concat(parts);
    const got = await client.send(new GetObjectCommand({ Bucket: 'media', Key: 'movie.bin' }));
    assert.deepEqual(await md5OfStream(got.Body as Readable), { md5: createHash('md5').update(whole).digest('hex'), size: whole.length });
    const ranged = await client.send(new GetObjectCommand({ Bucket: 'media', Key: 'movie.bin', Range: `bytes=${MIN_PART_BYTES - 5}-${MIN_PART_BYTES + 4}` }));
    assert.ok(Buffer.from(await ranged.Body!.transformToByteArray()).equals(whole.subarray(MIN_PART_BYTES - 5, MIN_PART_BYTES + 5)));

    const listed = await target.send(new ListObjectsV2Command({ Bucket: settings.bucket, Prefix: PEER_PREFIX }));
    assert.deepEqual(listed.Contents?.map((o) => o.Key), [`${PEER_PREFIX}media/movie.bin`], 'the part objects are gone after completion');
    assert.equal((await target.send(new ListMultipartUploadsCommand({ Bucket: settings.bucket }))).Uploads?.length ?? 0, 0);
    const head = await target.send(new HeadObjectCommand({ Bucket: settings.bucket, Key: `${PEER_PREFIX}media/movie.bin` }));
    assert.match(head.ETag ?? '', /-12"$/, 'the backing object was assembled by a 12-part upload');
  });

  it('a plain PutObject through the API lands at {prefix}{bucket}/{key}', TEST, async () => {
    await client.send(new PutObjectCommand({ Bucket: 'media', Key: 'notes/today.txt', Body: 'hi' }));
    const got = await target.send(new GetObjectCommand({ Bucket: settings.bucket, Key: `${PEER_PREFIX}media/notes/today.txt` }));
    assert.equal(await got.Body!.transformToString(), 'hi');
  });
});

describe('AwsStorage retries throttling and transient failures', () => {
  let stub: Server;
  let status = 503;
  let code = 'SlowDown';
  let requests = 0;
  let endpoint: string;

  before(async () => {
    // A fault-injecting S3 endpoint: every request is answered with the configured error.
    stub = createHttpServer((req, res) => {
      requests++;
      req.resume();
      res.writeHead(status, { 'Content-Type': 'application/xml' });
      res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>injected</Message></Error>`);
    });
    await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve));
    const address = stub.address();
    endpoint = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  after(() => new Promise<void>((resolve) => stub.close(() => resolve())));

  const gateway = () =>
    new AwsStorage({ bucket: 'b', region: 'us-east-1', prefix: '', endpoint_url: endpoint, use_path_style: true, access_key_id: 'k', secret_access_key: 's' });

  it('503 SlowDown → retried, then BackendUnavailableError (throttled)', TEST, async () => {
    requests = 0;
    await assert.rejects(gateway().getObject('bkt', 'k'), (e) => e instanceof BackendUnavailableError && e.throttled);
    assert.equal(requests, 5, 'five attempts');
  });

  it('500 InternalError → retried, then BackendUnavailableError (not throttled); 403 is not retried', TEST, async () => {
    status = 500;
    code = 'InternalError';
    requests = 0;
    await assert.rejects(gateway().objectExists('bkt', 'k'), (e) => e instanceof BackendUnavailableError && !e.throttled);
    assert.equal(requests, 5);
    status = 403;
    code = 'AccessDenied';
    requests = 0;
    await assert.rejects(gateway().deleteObject('bkt', 'k'), AwsAccessDeniedError);
    assert.equal(requests, 1);
  });
});
