// The local JSONL metadata engine under the real server: objects, metadata, a checksum, a pending
// multipart upload and a delete survive kill -9 and a restart. harness.ts always configures the
// SQLite engine, so this file runs its own small spawner with `metadata: {engine: local}`.
import { describe, before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import {
  S3Client,
  CreateBucketCommand,
  PutObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  DeleteObjectCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  CompleteMultipartUploadCommand,
  ListObjectsV2Command,
} from '@aws-sdk/client-s3';
import { ACCESS_KEY, ENGINES, REGION, SECRET_KEY, sleep, type Engine } from './harness.js';
import { ONLY_IN_DEFAULT_RUN } from './matrix.js';
import { sdkClient, sdkErrorStatus } from './clients.js';
import { fingerprint, fingerprintStream } from './files.js';

const CLI_PATH = resolve(dirname(fileURLToPath(import.meta.url)), '../src/cli.js');
const READY_LINE = /Starting BleepStore on (?:[^\s:]+|\[[^\]]+\]):(\d+)/;

/** One server process on a fixed data dir, with the local JSONL metadata engine. */
class LocalMetaServer {
  readonly metaDir: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private log = '';
  port = 0;

  constructor(readonly dataDir: string, engine: Engine) {
    this.metaDir = join(dataDir, 'meta');
    const yaml = [
      `server: {host: "127.0.0.1", port: 0, region: "${REGION}", http_engine: "${engine}"}`,
      `auth: {access_key: "${ACCESS_KEY}", secret_key: "${SECRET_KEY}"}`,
      `metadata: {engine: "local", local: {root_dir: "${this.metaDir}", compact_on_startup: true}}`,
      `storage: {backend: "local", local: {root_dir: "${join(dataDir, 'objects')}"}}`,
      '',
    ].join('\n');
    writeFileSync(join(dataDir, 'bleepstore.yaml'), yaml);
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (!existsSync(CLI_PATH)) throw new Error(`server not built: ${CLI_PATH} is missing (run tsc)`);
    const child = spawn(process.execPath, [CLI_PATH, '--config', join(this.dataDir, 'bleepstore.yaml'), '--port', '0', '--host', '127.0.0.1'], {
      cwd: this.dataDir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.exited = new Promise((r) => child.once('exit', () => r()));
    child.stderr?.on('data', (c: Buffer) => (this.log += c.toString('utf8')));
    this.port = await new Promise<number>((resolvePort, reject) => {
      const timer = setTimeout(() => reject(new Error(`server not ready in 30 s:\n${this.log}`)), 30_000);
      child.stdout?.on('data', (c: Buffer) => {
        this.log += c.toString('utf8');
        const m = READY_LINE.exec(this.log);
        if (m) {
          clearTimeout(timer);
          resolvePort(Number(m[1]));
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`server exited during startup (${code ?? signal}):\n${this.log}`));
      });
    });
    for (let i = 0; i < 300 && (await healthz(this.endpoint)) !== 200; i++) await sleep(50);
    this.log = '';
  }

  /** kill -9 and wait until the process is gone. */
  async kill9(): Promise<void> {
    if (this.child === undefined || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

function healthz(endpoint: string): Promise<number> {
  return new Promise((r) => {
    const req = get(`${endpoint}/healthz`, { agent: false, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => r(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => r(0));
  });
}

async function body(s3: S3Client, bucket: string, key: string): Promise<string> {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await fingerprintStream(res.Body as Readable)).sha256;
}

for (const engine of ENGINES) {
  describe(`local JSONL metadata survives kill -9 [${engine}]`, { skip: ONLY_IN_DEFAULT_RUN }, () => {
    let dataDir: string;
    let server: LocalMetaServer;
    let s3: S3Client;
    const bucket = `jsonl-${engine}`;
    const small = randomBytes(1024);
    const medium = randomBytes(300 * 1024);
    const part1 = randomBytes(5 * 1024 * 1024);
    const part2 = randomBytes(1024);

    const restart = async (): Promise<void> => {
      await server.kill9();
      await server.start();
      s3.destroy();
      s3 = sdkClient(server.endpoint);
    };

    before(async () => {
      dataDir = mkdtempSync(join(tmpdir(), `bleepstore-e2e-jsonl-${engine}-`));
      server = new LocalMetaServer(dataDir, engine);
      await server.start();
      s3 = sdkClient(server.endpoint);
    });
    after(async () => {
      s3?.destroy();
      await server?.kill9();
      rmSync(dataDir, { recursive: true, force: true });
    });

    test('objects, metadata, checksums, a pending upload and deletes are there after restart', { timeout: 120_000 }, async () => {
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a/small.bin', Body: small, ContentType: 'text/x-small', Metadata: { author: 'jsonl' } }));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a/medium.bin', Body: medium, ChecksumAlgorithm: 'CRC32' }));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'doomed.bin', Body: small }));
      const mpu = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'big.bin' }));
      const uploadId = mpu.UploadId ?? '';
      const p1 = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'big.bin', UploadId: uploadId, PartNumber: 1, Body: part1 }));
      const before = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'a/medium.bin', ChecksumMode: 'ENABLED' }));
      assert.ok(before.ChecksumCRC32, 'the server stored a CRC32 for the object');
      assert.ok(readdirSync(server.metaDir).includes('objects.jsonl'), 'metadata went to JSONL files');

      await restart();

      const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
      assert.deepEqual(listed.Contents?.map((c) => c.Key), ['a/medium.bin', 'a/small.bin', 'doomed.bin']);
      assert.equal(await body(s3, bucket, 'a/small.bin'), fingerprint(small).sha256);
      assert.equal(await body(s3, bucket, 'a/medium.bin'), fingerprint(medium).sha256);
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'a/small.bin' }));
      assert.equal(head.ContentType, 'text/x-small');
      assert.deepEqual(head.Metadata, { author: 'jsonl' });
      assert.equal(head.ETag, `"${fingerprint(small).md5}"`);
      const medHead = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'a/medium.bin', ChecksumMode: 'ENABLED' }));
      assert.equal(medHead.ChecksumCRC32, before.ChecksumCRC32);
      const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      assert.deepEqual(uploads.Uploads?.map((u) => [u.Key, u.UploadId]), [['big.bin', uploadId]]);
      const parts = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'big.bin', UploadId: uploadId }));
      assert.deepEqual(parts.Parts?.map((p) => [p.PartNumber, p.ETag, p.Size]), [[1, p1.ETag, part1.length]]);

      // Writes after the restart (delete, finishing the upload) survive the next kill -9 too.
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'doomed.bin' }));
      const p2 = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'big.bin', UploadId: uploadId, PartNumber: 2, Body: part2 }));
      await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: 'big.bin',
          UploadId: uploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag }, { PartNumber: 2, ETag: p2.ETag }] },
        }),
      );

      await restart();

      try {
        await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'doomed.bin' }));
        assert.fail('a deleted object came back after restart');
      } catch (e) {
        assert.equal(sdkErrorStatus(e), 404, String(e));
      }
      assert.equal(await body(s3, bucket, 'big.bin'), fingerprint(Buffer.concat([part1, part2])).sha256);
      const finalUploads = (await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [];
      assert.deepEqual(finalUploads, []);
    });
  });
}
