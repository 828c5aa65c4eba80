// The process's single entry point for metadata calls. Reads go straight to the engine; every
// mutating call goes through one FIFO queue, so an engine with awaits inside a write (network
// engines, JSONL append + fsync) never interleaves two writes. A failed write rejects its own
// caller only; the queue moves on.
import type {
  CommitIntent,
  BucketRecord,
  CredentialRecord,
  ListObjectsOptions,
  ListObjectsResult,
  ListPartsResult,
  ListUploadsOptions,
  ListUploadsResult,
  MetadataStore,
  ObjectChecksum,
  ObjectRecord,
  PartRecord,
  ReapedUpload,
  UploadRecord,
} from './types.js';

export class MetadataActor implements MetadataStore {
  /** Settles when the last queued write has finished (successfully or not). */
  private tail: Promise<void> = Promise.resolve();

  /** `engine` is exposed for engine-specific needs (e.g. the SQLite connection); bypasses the queue. */
  constructor(readonly engine: MetadataStore) {}

  private write<T>(op: () => Promise<T>): Promise<T> {
    const result = this.tail.then(op);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** Resolves once every write queued so far has finished. */
  drain(): Promise<void> {
    return this.tail;
  }

  init(): Promise<void> {
    return this.write(() => this.engine.init());
  }
  close(): Promise<void> {
    return this.write(() => this.engine.close());
  }
  ping(): Promise<void> {
    return this.engine.ping();
  }

  createBucket(bucket: BucketRecord): Promise<void> {
    return this.write(() => this.engine.createBucket(bucket));
  }
  getBucket(name: string): Promise<BucketRecord | null> {
    return this.engine.getBucket(name);
  }
  bucketExists(name: string): Promise<boolean> {
    return this.engine.bucketExists(name);
  }
  listBuckets(ownerId?: string): Promise<BucketRecord[]> {
    return this.engine.listBuckets(ownerId);
  }
  deleteBucket(name: string): Promise<void> {
    return this.write(() => this.engine.deleteBucket(name));
  }
  updateBucketAcl(name: string, acl: string): Promise<void> {
    return this.write(() => this.engine.updateBucketAcl(name, acl));
  }

  putObject(obj: ObjectRecord): Promise<void> {
    return this.write(() => this.engine.putObject(obj));
  }
  getObject(bucket: string, key: string): Promise<ObjectRecord | null> {
    return this.engine.getObject(bucket, key);
  }
  objectExists(bucket: string, key: string): Promise<boolean> {
    return this.engine.objectExists(bucket, key);
  }
  deleteObject(bucket: string, key: string): Promise<void> {
    return this.write(() => this.engine.deleteObject(bucket, key));
  }
  deleteObjectsMeta(bucket: string, keys: string[]): Promise<string[]> {
    return this.write(() => this.engine.deleteObjectsMeta(bucket, keys));
  }
  updateObjectAcl(bucket: string, key: string, acl: string): Promise<void> {
    return this.write(() => this.engine.updateObjectAcl(bucket, key, acl));
  }
  listObjects(bucket: string, options: ListObjectsOptions): Promise<ListObjectsResult> {
    return this.engine.listObjects(bucket, options);
  }
  countObjects(bucket: string): Promise<number> {
    return this.engine.countObjects(bucket);
  }

  createMultipartUpload(upload: UploadRecord): Promise<void> {
    return this.write(() => this.engine.createMultipartUpload(upload));
  }
  getMultipartUpload(bucket: string, key: string, uploadId: string): Promise<UploadRecord | null> {
    return this.engine.getMultipartUpload(bucket, key, uploadId);
  }
  putPart(uploadId: string, partNumber: number, size: number, etag: string, checksum?: ObjectChecksum | null): Promise<void> {
    return this.write(() => this.engine.putPart(uploadId, partNumber, size, etag, checksum));
  }
  listParts(uploadId: string, partNumberMarker: number, maxParts: number): Promise<ListPartsResult> {
    return this.engine.listParts(uploadId, partNumberMarker, maxParts);
  }
  getPartsForCompletion(uploadId: string): Promise<PartRecord[]> {
    return this.engine.getPartsForCompletion(uploadId);
  }
  completeMultipartUpload(bucket: string, key: string, uploadId: string, obj: ObjectRecord): Promise<void> {
    return this.write(() => this.engine.completeMultipartUpload(bucket, key, uploadId, obj));
  }
  abortMultipartUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    return this.write(() => this.engine.abortMultipartUpload(bucket, key, uploadId));
  }
  listMultipartUploads(bucket: string, options: ListUploadsOptions): Promise<ListUploadsResult> {
    return this.engine.listMultipartUploads(bucket, options);
  }

  getCredential(accessKeyId: string): Promise<CredentialRecord | null> {
    return this.engine.getCredential(accessKeyId);
  }
  putCredential(cred: CredentialRecord): Promise<void> {
    return this.write(() => this.engine.putCredential(cred));
  }

  reapExpiredUploads(ttlSeconds: number): Promise<ReapedUpload[]> {
    return this.write(() => this.engine.reapExpiredUploads(ttlSeconds));
  }

  recordCommitIntent(intent: CommitIntent): Promise<void> {
    return this.write(() => this.engine.recordCommitIntent(intent));
  }
  clearCommitIntent(id: string): Promise<void> {
    return this.write(() => this.engine.clearCommitIntent(id));
  }
  listCommitIntents(): Promise<CommitIntent[]> {
    return this.engine.listCommitIntents();
  }
}
