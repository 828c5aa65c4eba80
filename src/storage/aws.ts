// AWS S3 gateway backend (spec/storage.md §5, §5.1): BleepStore's bytes live in one backing
// bucket of AWS S3 or any S3-compatible service, objects at {prefix}{bucket}/{key} and parts at
// {prefix}.parts/{upload_id}/{n} (aws-keys.ts). Metadata stays in the metadata engine; BleepStore
// computes and verifies digests itself, so the SDK's own checksums are only sent when an operation
// requires them (otherwise a streaming PutObject goes out aws-chunked, which s3rver stores
// verbatim, framing included).
import { DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import type { Config } from '../config.js';
import { AwsAssembler } from './aws-assembly.js';
import { AwsAccessDeniedError, S3Calls } from './aws-calls.js';
import { AwsKeyMap } from './aws-keys.js';
import { exactRange } from './aws-range.js';
import { stagedWriteCommitted } from './aws-recovery.js';
import { stageStream } from './aws-staging.js';
import { assertPartNumber } from './key-path.js';
import { StorageNotFoundError, type ByteRange, type ReadResult, type StagedWrite, type StorageBackend } from './types.js';

export type AwsStorageSettings = Config['storage']['aws'];

/** DeleteObjects accepts at most this many keys per request. */
const DELETE_BATCH = 1000;

export function s3ClientConfig(settings: AwsStorageSettings): S3ClientConfig {
  const hasKeys = settings.access_key_id !== '' && settings.secret_access_key !== '';
  return {
    region: settings.region || 'us-east-1',
    endpoint: settings.endpoint_url || undefined,
    forcePathStyle: settings.use_path_style,
    // Empty keys: the SDK's default chain (env, shared config, IAM role).
    credentials: hasKeys ? { accessKeyId: settings.access_key_id, secretAccessKey: settings.secret_access_key } : undefined,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // withRetry (S3Calls) does the retrying, with BleepStore's policy and error mapping.
    maxAttempts: 1,
  };
}

export class AwsStorage implements StorageBackend {
  readonly stagesToFiles = false;
  private readonly client: S3Client;
  private readonly calls: S3Calls;
  private readonly keys: AwsKeyMap;
  private readonly assembler: AwsAssembler;

  constructor(private readonly settings: AwsStorageSettings) {
    if (settings.bucket === '') throw new Error('storage.aws.bucket is required for storage.backend aws');
    this.client = new S3Client(s3ClientConfig(settings));
    this.calls = new S3Calls(this.client, settings.bucket);
    this.keys = new AwsKeyMap(settings.prefix);
    this.assembler = new AwsAssembler(this.calls, this.keys);
  }

  private get target(): string {
    return `s3://${this.settings.bucket}${this.settings.endpoint_url ? ` at ${this.settings.endpoint_url}` : ''}`;
  }

  async init(): Promise<void> {
    try {
      await this.headBucket();
    } catch (e) {
      const why = e instanceof StorageNotFoundError ? 'the bucket does not exist' : e instanceof Error ? e.message : String(e);
      throw new Error(`storage.aws: cannot use backing bucket ${this.target}: ${why}`, { cause: e });
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  async healthCheck(): Promise<void> {
    await this.headBucket();
  }

  private async headBucket(): Promise<void> {
    await this.calls.run(this.target, () => this.client.send(new HeadBucketCommand({ Bucket: this.settings.bucket })));
  }

  async putObject(bucket: string, key: string, body: Readable): Promise<StagedWrite> {
    return stageStream(this.calls, `${bucket}/${key}`, this.keys.object(bucket, key), body);
  }

  async getObject(bucket: string, key: string, range?: ByteRange): Promise<ReadResult> {
    return this.read(`${bucket}/${key}`, this.keys.object(bucket, key), range);
  }

  private async read(what: string, backingKey: string, range?: ByteRange): Promise<ReadResult> {
    if (range !== undefined && (!Number.isSafeInteger(range.start) || range.start < 0 || range.end < range.start)) {
      throw new RangeError(`invalid range ${range.start}-${range.end} for ${what}`);
    }
    const out = await this.calls.run(what, () =>
      this.client.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: backingKey, Range: range ? `bytes=${range.start}-${range.end}` : undefined })),
    );
    if (!out.Body) throw new Error(`GetObject ${backingKey} returned no body`);
    const stream = out.Body as Readable;
    const contentLength = out.ContentLength ?? 0;
    if (range === undefined) return { stream, size: contentLength };
    return exactRange(stream, range, { contentRange: out.ContentRange, contentLength });
  }

  async objectExists(bucket: string, key: string): Promise<boolean> {
    const backingKey = this.keys.object(bucket, key);
    try {
      await this.calls.run(`${bucket}/${key}`, () => this.client.send(new HeadObjectCommand({ Bucket: this.settings.bucket, Key: backingKey })));
      return true;
    } catch (e) {
      if (e instanceof StorageNotFoundError) return false;
      throw e;
    }
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    const backingKey = this.keys.object(bucket, key);
    try {
      await this.calls.run(`${bucket}/${key}`, () => this.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: backingKey })));
    } catch (e) {
      if (!(e instanceof StorageNotFoundError)) throw e;
    }
  }

  async putPart(_bucket: string, _key: string, uploadId: string, partNumber: number, body: Readable): Promise<StagedWrite> {
    assertPartNumber(partNumber);
    return stageStream(this.calls, `part ${partNumber} of upload ${uploadId}`, this.keys.part(uploadId, partNumber), body);
  }

  async getPart(uploadId: string, partNumber: number): Promise<ReadResult> {
    assertPartNumber(partNumber);
    return this.read(`part ${partNumber} of upload ${uploadId}`, this.keys.part(uploadId, partNumber));
  }

  async assembleParts(bucket: string, key: string, uploadId: string, partNumbers: number[]): Promise<StagedWrite> {
    for (const n of partNumbers) assertPartNumber(n);
    return this.assembler.assemble(bucket, key, uploadId, partNumbers);
  }

  async deleteParts(_bucket: string, _key: string, uploadId: string): Promise<void> {
    await this.deleteUploadParts(uploadId);
  }

  async deleteUploadParts(uploadId: string): Promise<void> {
    await this.deletePrefix(`parts of upload ${uploadId}`, this.keys.partsOf(uploadId));
  }

  /** Lists a prefix page by page and deletes each page with one quiet DeleteObjects (≤ 1000 keys). */
  private async deletePrefix(what: string, prefix: string): Promise<void> {
    let token: string | undefined;
    do {
      const page = await this.calls.run(what, () =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.settings.bucket, Prefix: prefix, ContinuationToken: token, MaxKeys: DELETE_BATCH })),
      );
      const keys = (page.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [{ Key: o.Key }]));
      if (keys.length > 0) {
        const out = await this.calls.run(what, () => this.client.send(new DeleteObjectsCommand({ Bucket: this.settings.bucket, Delete: { Objects: keys, Quiet: true } })));
        const failed = (out.Errors ?? []).filter((err) => err.Code !== 'NoSuchKey');
        if (failed.length > 0) {
          const first = failed[0]!;
          const message = `DeleteObjects left ${failed.length} of ${what}: ${first.Key}: ${first.Code} ${first.Message ?? ''}`;
          throw first.Code === 'AccessDenied' ? new AwsAccessDeniedError(what, new Error(message)) : new Error(message);
        }
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  /** Whether a staged write cut short by a crash published; aborts its upload if not (aws-recovery.ts). */
  async stagedWriteCommitted(recoveryRef: string): Promise<boolean> {
    return stagedWriteCommitted(this.calls, recoveryRef);
  }

  /** Buckets are key prefixes in the one backing bucket: nothing to create. */
  async createBucket(): Promise<void> {}

  /**
   * The S3 layer deletes only empty buckets, so this normally lists an empty prefix; anything left
   * (data whose metadata is gone) is removed, as the local backend removes the directory.
   */
  async deleteBucket(bucket: string): Promise<void> {
    await this.deletePrefix(`objects of bucket ${bucket}`, this.keys.bucketArea(bucket));
    await this.deletePrefix(`long-key objects of bucket ${bucket}`, this.keys.longKeyArea(bucket));
  }
}
