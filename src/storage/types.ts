// The StorageBackend interface (spec/storage.md §1). Backends hold bytes only.
// Hashing (MD5/ETag, checksums) happens once, in the S3 ingest pipeline, before the bytes reach
// a backend; a backend's job is to make the write atomic and durable.
import type { Readable } from 'node:stream';

export interface ByteRange {
  start: number;
  /** Inclusive. */
  end: number;
}

/**
 * Bytes made durable in a temporary place (written and fsynced). Nothing is visible until
 * commit() atomically publishes them; discard() drops them. The S3 layer commits inside a short
 * per-key critical section together with the metadata, so the body can stream outside it.
 */
export interface StagedWrite {
  readonly size: number;
  /** The staged temp file, for backends that stage into local files (see StorageBackend.stagesToFiles). */
  readonly path?: string;
  /**
   * For backends that stage remotely (cloud gateways): an opaque reference to the staged bytes
   * that StorageBackend.stagedWriteCommitted can resolve after a crash, so a kill -9 between the
   * remote commit and the metadata commit is repaired like a local rename (s3/publish.ts).
   */
  readonly recoveryRef?: string;
  commit(): Promise<void>;
  discard(): Promise<void>;
}

export interface ReadResult {
  stream: Readable;
  /** Bytes the stream will yield. */
  size: number;
}

/** Data for a metadata row is missing (handlers answer 500 InternalError). */
export class StorageNotFoundError extends Error {
  constructor(what: string) {
    super(`storage data not found: ${what}`);
    this.name = 'StorageNotFoundError';
  }
}

export interface StorageBackend {
  /**
   * True when staged writes are local files exposed as StagedWrite.path, so digests of large
   * bodies can be computed from the file by the hash pool before commit.
   */
  readonly stagesToFiles: boolean;
  init(): Promise<void>;
  close(): Promise<void>;
  /** Throws when unhealthy. */
  healthCheck(): Promise<void>;

  /**
   * Streams body to a temp location and, only if the stream ends without error, makes it durable
   * there; commit() then atomically replaces bucket/key. If body errors (client abort, digest
   * mismatch raised by the ingest pipeline), nothing is left behind and the promise rejects with
   * that error.
   */
  putObject(bucket: string, key: string, body: Readable): Promise<StagedWrite>;
  /** Opens the data before resolving, so a missing file rejects with StorageNotFoundError. */
  getObject(bucket: string, key: string, range?: ByteRange): Promise<ReadResult>;
  objectExists(bucket: string, key: string): Promise<boolean>;
  /** Idempotent. */
  deleteObject(bucket: string, key: string): Promise<void>;

  /** Same staging as putObject; committing the same number overwrites. */
  putPart(bucket: string, key: string, uploadId: string, partNumber: number, body: Readable): Promise<StagedWrite>;
  /** Opens one stored part for reading (used by assembly/copy helpers). */
  getPart(uploadId: string, partNumber: number): Promise<ReadResult>;
  /** Concatenates the listed parts, in order, into a staged bucket/key. Parts are kept. */
  assembleParts(bucket: string, key: string, uploadId: string, partNumbers: number[]): Promise<StagedWrite>;
  deleteParts(bucket: string, key: string, uploadId: string): Promise<void>;
  /** Used by the reaper when bucket/key may be unknown. */
  deleteUploadParts(uploadId: string): Promise<void>;

  createBucket(bucket: string): Promise<void>;
  deleteBucket(bucket: string): Promise<void>;

  /**
   * Backends whose StagedWrites carry a recoveryRef: after a restart, whether that staged write
   * reached its destination (commit happened) or not (it was never committed; any leftovers of it
   * are cleaned up here).
   */
  stagedWriteCommitted?(recoveryRef: string): Promise<boolean>;
}
