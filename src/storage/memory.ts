// In-memory backend (spec/storage.md §3). The documented exception to streaming: bodies are
// collected into Buffers. With persistence=snapshot the maps are saved to an SQLite file
// periodically and at close(), and loaded again at init().
import { Readable } from 'node:stream';
import { compositeEtag, quotedMd5 } from './etag.js';
import { assertPartNumber } from './key-path.js';
import { loadSnapshot, writeSnapshot, type SnapshotContents } from './memory-snapshot.js';
import { StorageNotFoundError, type ByteRange, type ReadResult, type StagedWrite, type StorageBackend } from './types.js';

/** A write would push object + part bytes beyond max_size_bytes (handlers answer 500). */
export class StorageCapacityError extends Error {
  constructor(readonly requiredBytes: number, readonly maxSizeBytes: number) {
    super(`memory storage full: ${requiredBytes} bytes needed, limit is ${maxSizeBytes}`);
    this.name = 'StorageCapacityError';
  }
}

export interface MemoryStorageOptions {
  /** 0 = unlimited. */
  maxSizeBytes: number;
  /** Absent = persistence none. */
  snapshot?: {
    path: string;
    /** 0 = only at close(). */
    intervalSeconds: number;
  };
}

/** Bytes plus the quoted ETag a snapshot records; etag stays undefined until a snapshot needs it. */
interface Blob {
  data: Buffer;
  etag: string | undefined;
}

function etagOf(blob: Blob): string {
  blob.etag ??= quotedMd5(blob.data);
  return blob.etag;
}

// Reads are served in slices (no copies) so consumers see ordinary stream backpressure.
const READ_CHUNK_BYTES = 256 * 1024;

function* slices(data: Buffer): Generator<Buffer> {
  for (let offset = 0; offset < data.length; offset += READ_CHUNK_BYTES) {
    yield data.subarray(offset, offset + READ_CHUNK_BYTES);
  }
}

function readResult(data: Buffer, what: string, range?: ByteRange): ReadResult {
  let view = data;
  if (range !== undefined) {
    const end = Math.min(range.end, data.length - 1);
    if (!Number.isSafeInteger(range.start) || range.start < 0 || range.start > end) {
      throw new RangeError(`range ${range.start}-${range.end} is outside ${what} (${data.length} bytes)`);
    }
    view = data.subarray(range.start, end + 1);
  }
  return { stream: Readable.from(slices(view), { objectMode: false }), size: view.length };
}

export class MemoryStorage implements StorageBackend {
  readonly stagesToFiles = false;
  private readonly maxSizeBytes: number;
  private readonly snapshot: MemoryStorageOptions['snapshot'];
  private readonly objects = new Map<string, Map<string, Blob>>();
  private readonly parts = new Map<string, Map<number, Blob>>();
  private used = 0;
  private snapshotTimer: NodeJS.Timeout | undefined;
  private warning: string | undefined;

  constructor(opts: MemoryStorageOptions) {
    this.maxSizeBytes = opts.maxSizeBytes;
    this.snapshot = opts.snapshot;
  }

  /** Object + part bytes currently held. */
  get usedBytes(): number {
    return this.used;
  }

  /**
   * The last snapshot problem (unreadable snapshot at init, so the store started empty, or a failed
   * periodic write), for the caller to log; undefined when all went well.
   */
  get snapshotWarning(): string | undefined {
    return this.warning;
  }

  async init(): Promise<void> {
    if (this.snapshot === undefined) return;
    try {
      const contents = loadSnapshot(this.snapshot.path);
      if (contents !== undefined) this.restore(contents);
    } catch (e) {
      this.objects.clear();
      this.parts.clear();
      this.used = 0;
      this.warning = `memory snapshot ${this.snapshot.path} could not be loaded, starting empty: ${(e as Error).message}`;
    }
    if (this.snapshot.intervalSeconds > 0 && this.snapshotTimer === undefined) {
      this.snapshotTimer = setInterval(() => {
        try {
          this.saveSnapshot();
        } catch (e) {
          this.warning = `memory snapshot write failed: ${(e as Error).message}`;
        }
      }, this.snapshot.intervalSeconds * 1000);
      this.snapshotTimer.unref(); // never keeps the process alive on its own
    }
  }

  /** Writes the final snapshot (the one piece of shutdown work the spec asks of storage). */
  async close(): Promise<void> {
    if (this.snapshotTimer !== undefined) clearInterval(this.snapshotTimer);
    this.snapshotTimer = undefined;
    if (this.snapshot !== undefined) this.saveSnapshot();
  }

  async healthCheck(): Promise<void> {}

  /** Writes a snapshot now (synchronously, so it is a consistent point-in-time copy). */
  saveSnapshot(): void {
    if (this.snapshot === undefined) throw new Error('memory storage has no snapshot_path (persistence is none)');
    const contents: SnapshotContents = { objects: [], parts: [] };
    for (const [bucket, keys] of this.objects) {
      for (const [key, blob] of keys) contents.objects.push({ bucket, key, data: blob.data, etag: etagOf(blob) });
    }
    for (const [uploadId, numbers] of this.parts) {
      for (const [partNumber, blob] of numbers) contents.parts.push({ uploadId, partNumber, data: blob.data, etag: etagOf(blob) });
    }
    writeSnapshot(this.snapshot.path, contents);
  }

  private restore(contents: SnapshotContents): void {
    for (const o of contents.objects) {
      this.bucketMap(o.bucket).set(o.key, { data: o.data, etag: o.etag });
      this.used += o.data.length;
    }
    for (const p of contents.parts) {
      this.uploadMap(p.uploadId).set(p.partNumber, { data: p.data, etag: p.etag });
      this.used += p.data.length;
    }
  }

  private assertRoom(newBytes: number, replacedBytes: number): void {
    const required = this.used - replacedBytes + newBytes;
    if (this.maxSizeBytes > 0 && newBytes > replacedBytes && required > this.maxSizeBytes) {
      throw new StorageCapacityError(required, this.maxSizeBytes);
    }
  }

  /** Collects body, failing as soon as it cannot fit (so an oversized body is never fully buffered). */
  private async collect(body: Readable, replacedBytes: () => number): Promise<Buffer> {
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of body as AsyncIterable<Uint8Array | string>) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      chunks.push(bytes);
      size += bytes.length;
      this.assertRoom(size, replacedBytes());
    }
    return Buffer.concat(chunks, size);
  }

  /** Staged: commit() replaces map[k] after a final capacity check (other writes may have landed meanwhile). */
  private stage<K>(map: Map<K, Blob>, k: K, data: Buffer, etag?: string): StagedWrite {
    let settled = false;
    return {
      size: data.length,
      commit: async () => {
        if (settled) throw new Error('staged write already settled');
        settled = true;
        const replaced = map.get(k)?.data.length ?? 0;
        this.assertRoom(data.length, replaced);
        map.set(k, { data, etag });
        this.used += data.length - replaced;
      },
      discard: async () => {
        settled = true;
      },
    };
  }

  private bucketMap(bucket: string): Map<string, Blob> {
    let m = this.objects.get(bucket);
    if (m === undefined) {
      m = new Map();
      this.objects.set(bucket, m);
    }
    return m;
  }

  private uploadMap(uploadId: string): Map<number, Blob> {
    let m = this.parts.get(uploadId);
    if (m === undefined) {
      m = new Map();
      this.parts.set(uploadId, m);
    }
    return m;
  }

  async putObject(bucket: string, key: string, body: Readable): Promise<StagedWrite> {
    const data = await this.collect(body, () => this.objects.get(bucket)?.get(key)?.data.length ?? 0);
    return this.stage(this.bucketMap(bucket), key, data);
  }

  async getObject(bucket: string, key: string, range?: ByteRange): Promise<ReadResult> {
    const blob = this.objects.get(bucket)?.get(key);
    if (blob === undefined) throw new StorageNotFoundError(`${bucket}/${key}`);
    return readResult(blob.data, `${bucket}/${key}`, range);
  }

  async objectExists(bucket: string, key: string): Promise<boolean> {
    return this.objects.get(bucket)?.has(key) ?? false;
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    const m = this.objects.get(bucket);
    const blob = m?.get(key);
    if (m === undefined || blob === undefined) return;
    m.delete(key);
    this.used -= blob.data.length;
  }

  async putPart(_bucket: string, _key: string, uploadId: string, partNumber: number, body: Readable): Promise<StagedWrite> {
    assertPartNumber(partNumber);
    const data = await this.collect(body, () => this.parts.get(uploadId)?.get(partNumber)?.data.length ?? 0);
    return this.stage(this.uploadMap(uploadId), partNumber, data);
  }

  async getPart(uploadId: string, partNumber: number): Promise<ReadResult> {
    const blob = this.parts.get(uploadId)?.get(partNumber);
    const what = `part ${partNumber} of upload ${uploadId}`;
    if (blob === undefined) throw new StorageNotFoundError(what);
    return readResult(blob.data, what);
  }

  async assembleParts(bucket: string, key: string, uploadId: string, partNumbers: number[]): Promise<StagedWrite> {
    const upload = this.parts.get(uploadId);
    const pieces = partNumbers.map((n) => {
      const blob = upload?.get(n);
      if (blob === undefined) throw new StorageNotFoundError(`part ${n} of upload ${uploadId}`);
      return blob;
    });
    // The composite ETag needs the part MD5s, which are gone once the parts are deleted; only
    // snapshots record it, so without persistence nothing is hashed.
    const etag = this.snapshot === undefined ? undefined : compositeEtag(pieces.map(etagOf));
    // Parts stay until the caller deletes them, so the assembled copy counts towards capacity too.
    return this.stage(this.bucketMap(bucket), key, Buffer.concat(pieces.map((p) => p.data)), etag);
  }

  async deleteParts(_bucket: string, _key: string, uploadId: string): Promise<void> {
    await this.deleteUploadParts(uploadId);
  }

  async deleteUploadParts(uploadId: string): Promise<void> {
    const upload = this.parts.get(uploadId);
    if (upload === undefined) return;
    for (const blob of upload.values()) this.used -= blob.data.length;
    this.parts.delete(uploadId);
  }

  async createBucket(bucket: string): Promise<void> {
    this.bucketMap(bucket);
  }

  async deleteBucket(bucket: string): Promise<void> {
    const m = this.objects.get(bucket);
    if (m === undefined) return;
    for (const blob of m.values()) this.used -= blob.data.length;
    this.objects.delete(bucket);
  }
}
