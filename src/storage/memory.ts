// In-memory backend (spec/storage.md §3). The documented exception to streaming: bodies are
// collected into Buffers. Snapshot persistence is not implemented yet.
import { Readable } from 'node:stream';
import { assertPartNumber } from './key-path.js';
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
  private readonly objects = new Map<string, Map<string, Buffer>>();
  private readonly parts = new Map<string, Map<number, Buffer>>();
  private used = 0;

  constructor(opts: MemoryStorageOptions) {
    this.maxSizeBytes = opts.maxSizeBytes;
  }

  /** Object + part bytes currently held. */
  get usedBytes(): number {
    return this.used;
  }

  async init(): Promise<void> {}
  async close(): Promise<void> {}
  async healthCheck(): Promise<void> {}

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
  private stage<K>(map: Map<K, Buffer>, k: K, data: Buffer): StagedWrite {
    let settled = false;
    return {
      size: data.length,
      commit: async () => {
        if (settled) throw new Error('staged write already settled');
        settled = true;
        const replaced = map.get(k)?.length ?? 0;
        this.assertRoom(data.length, replaced);
        map.set(k, data);
        this.used += data.length - replaced;
      },
      discard: async () => {
        settled = true;
      },
    };
  }

  private bucketMap(bucket: string): Map<string, Buffer> {
    let m = this.objects.get(bucket);
    if (m === undefined) {
      m = new Map();
      this.objects.set(bucket, m);
    }
    return m;
  }

  private uploadMap(uploadId: string): Map<number, Buffer> {
    let m = this.parts.get(uploadId);
    if (m === undefined) {
      m = new Map();
      this.parts.set(uploadId, m);
    }
    return m;
  }

  async putObject(bucket: string, key: string, body: Readable): Promise<StagedWrite> {
    const data = await this.collect(body, () => this.objects.get(bucket)?.get(key)?.length ?? 0);
    return this.stage(this.bucketMap(bucket), key, data);
  }

  async getObject(bucket: string, key: string, range?: ByteRange): Promise<ReadResult> {
    const data = this.objects.get(bucket)?.get(key);
    if (data === undefined) throw new StorageNotFoundError(`${bucket}/${key}`);
    return readResult(data, `${bucket}/${key}`, range);
  }

  async objectExists(bucket: string, key: string): Promise<boolean> {
    return this.objects.get(bucket)?.has(key) ?? false;
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    const m = this.objects.get(bucket);
    const data = m?.get(key);
    if (m === undefined || data === undefined) return;
    m.delete(key);
    this.used -= data.length;
  }

  async putPart(_bucket: string, _key: string, uploadId: string, partNumber: number, body: Readable): Promise<StagedWrite> {
    assertPartNumber(partNumber);
    const data = await this.collect(body, () => this.parts.get(uploadId)?.get(partNumber)?.length ?? 0);
    return this.stage(this.uploadMap(uploadId), partNumber, data);
  }

  async getPart(uploadId: string, partNumber: number): Promise<ReadResult> {
    const data = this.parts.get(uploadId)?.get(partNumber);
    const what = `part ${partNumber} of upload ${uploadId}`;
    if (data === undefined) throw new StorageNotFoundError(what);
    return readResult(data, what);
  }

  async assembleParts(bucket: string, key: string, uploadId: string, partNumbers: number[]): Promise<StagedWrite> {
    const upload = this.parts.get(uploadId);
    const pieces = partNumbers.map((n) => {
      const data = upload?.get(n);
      if (data === undefined) throw new StorageNotFoundError(`part ${n} of upload ${uploadId}`);
      return data;
    });
    // Parts stay until the caller deletes them, so the assembled copy counts towards capacity too.
    return this.stage(this.bucketMap(bucket), key, Buffer.concat(pieces));
  }

  async deleteParts(_bucket: string, _key: string, uploadId: string): Promise<void> {
    await this.deleteUploadParts(uploadId);
  }

  async deleteUploadParts(uploadId: string): Promise<void> {
    const upload = this.parts.get(uploadId);
    if (upload === undefined) return;
    for (const data of upload.values()) this.used -= data.length;
    this.parts.delete(uploadId);
  }

  async createBucket(bucket: string): Promise<void> {
    this.bucketMap(bucket);
  }

  async deleteBucket(bucket: string): Promise<void> {
    const m = this.objects.get(bucket);
    if (m === undefined) return;
    for (const data of m.values()) this.used -= data.length;
    this.objects.delete(bucket);
  }
}
