// SQLite blob store (spec/storage.md §4): bytes live in object_data / part_data inside the
// metadata database file, through a second connection of our own (WAL lets both connections
// work). Whole bodies are held in memory, which the spec accepts for this small-object backend.
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import Database from 'better-sqlite3';
import { compositeEtag } from './etag.js';
import { assertPartNumber } from './key-path.js';
import { StorageNotFoundError, type ByteRange, type ReadResult, type StagedWrite, type StorageBackend } from './types.js';

/** spec/storage.md §4, exact text (cross-implementation tests read these tables). */
export const SQLITE_STORAGE_SCHEMA = `CREATE TABLE IF NOT EXISTS object_data (
    bucket TEXT NOT NULL,
    key    TEXT NOT NULL,
    data   BLOB NOT NULL,
    etag   TEXT NOT NULL,
    PRIMARY KEY (bucket, key)
);
CREATE TABLE IF NOT EXISTS part_data (
    upload_id   TEXT NOT NULL,
    part_number INTEGER NOT NULL,
    data        BLOB NOT NULL,
    etag        TEXT NOT NULL,
    PRIMARY KEY (upload_id, part_number)
);`;

const PRAGMAS = `PRAGMA journal_mode = WAL;
PRAGMA busy_timeout = 5000;`;

/**
 * SQLite's default SQLITE_MAX_LENGTH: no BLOB (object or part) may be larger. Bodies above it
 * are refused while buffering, before they fill memory, with StorageEntityTooLargeError.
 */
export const SQLITE_MAX_BLOB_BYTES = 1_000_000_000;

/** An object or part beyond what this backend can store (the S3 layer answers EntityTooLarge). */
export class StorageEntityTooLargeError extends Error {
  constructor(what: string, size: number, limit: number) {
    super(`${what}: ${size} bytes exceed the sqlite storage backend's limit of ${limit} bytes per object`);
    this.name = 'StorageEntityTooLargeError';
  }
}

/** recoveryRef of a staged write: the row it replaces and the ETag it writes (see stagedWriteCommitted). */
const REF_VERSION = 'sqlite1:';
interface RowRef {
  /** bucket + key of an object row, or upload id + part number of a part row */
  b?: string;
  k?: string;
  u?: string;
  n?: number;
  e: string;
}

interface Statements {
  putObject: Database.Statement<[string, string, Buffer, string]>;
  putPart: Database.Statement<[string, number, Buffer, string]>;
  getObject: Database.Statement<[string, string], { data: Buffer | null }>;
  getObjectRange: Database.Statement<[number, number, string, string], { size: number; data: Buffer | null }>;
  objectExists: Database.Statement<[string, string], { one: number }>;
  deleteObject: Database.Statement<[string, string]>;
  getPart: Database.Statement<[string, number], { data: Buffer | null; etag: string }>;
  objectEtag: Database.Statement<[string, string], { etag: string }>;
  partEtag: Database.Statement<[string, number], { etag: string }>;
  deleteParts: Database.Statement<[string]>;
  deleteBucket: Database.Statement<[string]>;
}

function streamOf(data: Buffer): Readable {
  return Readable.from([data], { objectMode: false });
}

/** Buffers body while hashing it; rejects with the body's error (or premature close). */
async function collect(body: Readable, what: string, limit: number): Promise<{ data: Buffer; etag: string }> {
  const chunks: Buffer[] = [];
  const md5 = createHash('md5');
  let size = 0;
  for await (const chunk of body as AsyncIterable<Uint8Array | string>) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    size += bytes.length;
    if (size > limit) {
      body.destroy();
      throw new StorageEntityTooLargeError(what, size, limit);
    }
    md5.update(bytes);
    chunks.push(bytes);
  }
  return { data: Buffer.concat(chunks, size), etag: `"${md5.digest('hex')}"` };
}

export class SqliteStorage implements StorageBackend {
  readonly stagesToFiles = false;
  private db: Database.Database | null = null;
  private stmts: Statements | null = null;

  /**
   * path: the metadata database file (metadata.sqlite.path). maxBlobBytes: the largest object or
   * part (tests lower it; SQLite cannot store more than the default).
   */
  constructor(
    readonly path: string,
    private readonly maxBlobBytes = SQLITE_MAX_BLOB_BYTES,
  ) {}

  async init(): Promise<void> {
    if (this.db !== null) return;
    mkdirSync(dirname(this.path), { recursive: true });
    const db = new Database(this.path, { timeout: 5000 });
    try {
      db.exec(PRAGMAS);
      db.exec(SQLITE_STORAGE_SCHEMA);
      this.stmts = {
        putObject: db.prepare('INSERT OR REPLACE INTO object_data (bucket, key, data, etag) VALUES (?,?,?,?)'),
        putPart: db.prepare('INSERT OR REPLACE INTO part_data (upload_id, part_number, data, etag) VALUES (?,?,?,?)'),
        getObject: db.prepare('SELECT data FROM object_data WHERE bucket=? AND key=?'),
        getObjectRange: db.prepare('SELECT length(data) AS size, substr(data, ?, ?) AS data FROM object_data WHERE bucket=? AND key=?'),
        objectExists: db.prepare('SELECT 1 AS one FROM object_data WHERE bucket=? AND key=?'),
        deleteObject: db.prepare('DELETE FROM object_data WHERE bucket=? AND key=?'),
        getPart: db.prepare('SELECT data, etag FROM part_data WHERE upload_id=? AND part_number=?'),
        objectEtag: db.prepare('SELECT etag FROM object_data WHERE bucket=? AND key=?'),
        partEtag: db.prepare('SELECT etag FROM part_data WHERE upload_id=? AND part_number=?'),
        deleteParts: db.prepare('DELETE FROM part_data WHERE upload_id=?'),
        deleteBucket: db.prepare('DELETE FROM object_data WHERE bucket=?'),
      };
    } catch (e) {
      db.close();
      throw e;
    }
    this.db = db;
  }

  async close(): Promise<void> {
    const db = this.db;
    this.db = null;
    this.stmts = null;
    db?.close();
  }

  async healthCheck(): Promise<void> {
    this.open().prepare('SELECT 1').get();
  }

  private open(): Database.Database {
    if (this.db === null) throw new Error('sqlite storage is not open (call init() first)');
    return this.db;
  }

  private get sql(): Statements {
    if (this.stmts === null) throw new Error('sqlite storage is not open (call init() first)');
    return this.stmts;
  }

  /**
   * Nothing touches the database until commit(), which is one INSERT OR REPLACE. The metadata
   * row commits in another transaction, so the write carries a recoveryRef (s3/publish.ts).
   */
  private stage(size: number, ref: RowRef, insert: () => void): StagedWrite {
    let settled = false;
    return {
      size,
      recoveryRef: REF_VERSION + JSON.stringify(ref),
      commit: async () => {
        if (settled) throw new Error('staged write already settled');
        settled = true;
        insert();
      },
      discard: async () => {
        settled = true;
      },
    };
  }

  async putObject(bucket: string, key: string, body: Readable): Promise<StagedWrite> {
    const { data, etag } = await collect(body, `${bucket}/${key}`, this.maxBlobBytes);
    return this.stage(data.length, { b: bucket, k: key, e: etag }, () => this.sql.putObject.run(bucket, key, data, etag));
  }

  /**
   * After a crash: the staged row is committed iff the row now carries the write's ETag. The same
   * ETag written earlier means the same bytes are stored, so rolling the metadata forward is right
   * either way.
   */
  async stagedWriteCommitted(recoveryRef: string): Promise<boolean> {
    if (!recoveryRef.startsWith(REF_VERSION)) return false;
    let ref: Partial<RowRef>;
    try {
      ref = JSON.parse(recoveryRef.slice(REF_VERSION.length)) as Partial<RowRef>;
    } catch {
      return false;
    }
    const row =
      typeof ref.b === 'string' && typeof ref.k === 'string' ? this.sql.objectEtag.get(ref.b, ref.k)
      : typeof ref.u === 'string' && typeof ref.n === 'number' ? this.sql.partEtag.get(ref.u, ref.n)
      : undefined;
    return row !== undefined && row.etag === ref.e;
  }

  async getObject(bucket: string, key: string, range?: ByteRange): Promise<ReadResult> {
    const what = `${bucket}/${key}`;
    if (range === undefined) {
      const row = this.sql.getObject.get(bucket, key);
      if (row === undefined) throw new StorageNotFoundError(what);
      const data = row.data ?? Buffer.alloc(0);
      return { stream: streamOf(data), size: data.length };
    }
    if (!Number.isSafeInteger(range.start) || range.start < 0 || range.end < range.start) {
      throw new RangeError(`range ${range.start}-${range.end} is invalid for ${what}`);
    }
    // substr is 1-based and clamps a length running past the end, so only the slice is copied out.
    const length = Math.min(range.end, Number.MAX_SAFE_INTEGER - 1) - range.start + 1;
    const row = this.sql.getObjectRange.get(range.start + 1, length, bucket, key);
    if (row === undefined) throw new StorageNotFoundError(what);
    if (range.start >= row.size) {
      throw new RangeError(`range ${range.start}-${range.end} is outside ${what} (${row.size} bytes)`);
    }
    const data = row.data ?? Buffer.alloc(0);
    return { stream: streamOf(data), size: data.length };
  }

  async objectExists(bucket: string, key: string): Promise<boolean> {
    return this.sql.objectExists.get(bucket, key) !== undefined;
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    this.sql.deleteObject.run(bucket, key);
  }

  async putPart(_bucket: string, _key: string, uploadId: string, partNumber: number, body: Readable): Promise<StagedWrite> {
    assertPartNumber(partNumber);
    const { data, etag } = await collect(body, `part ${partNumber} of upload ${uploadId}`, this.maxBlobBytes);
    return this.stage(data.length, { u: uploadId, n: partNumber, e: etag }, () => this.sql.putPart.run(uploadId, partNumber, data, etag));
  }

  async getPart(uploadId: string, partNumber: number): Promise<ReadResult> {
    const row = this.sql.getPart.get(uploadId, partNumber);
    if (row === undefined) throw new StorageNotFoundError(`part ${partNumber} of upload ${uploadId}`);
    const data = row.data ?? Buffer.alloc(0);
    return { stream: streamOf(data), size: data.length };
  }

  async assembleParts(bucket: string, key: string, uploadId: string, partNumbers: number[]): Promise<StagedWrite> {
    const rows = partNumbers.map((n) => {
      const row = this.sql.getPart.get(uploadId, n);
      if (row === undefined) throw new StorageNotFoundError(`part ${n} of upload ${uploadId}`);
      return row;
    });
    const size = rows.reduce((n, r) => n + (r.data?.length ?? 0), 0);
    if (size > this.maxBlobBytes) throw new StorageEntityTooLargeError(`${bucket}/${key}`, size, this.maxBlobBytes);
    const data = Buffer.concat(rows.map((r) => r.data ?? Buffer.alloc(0)), size);
    const etag = compositeEtag(rows.map((r) => r.etag));
    return this.stage(data.length, { b: bucket, k: key, e: etag }, () => this.sql.putObject.run(bucket, key, data, etag));
  }

  async deleteParts(_bucket: string, _key: string, uploadId: string): Promise<void> {
    this.sql.deleteParts.run(uploadId);
  }

  async deleteUploadParts(uploadId: string): Promise<void> {
    this.sql.deleteParts.run(uploadId);
  }

  /** Buckets are implicit in the rows. */
  async createBucket(_bucket: string): Promise<void> {}

  async deleteBucket(bucket: string): Promise<void> {
    this.sql.deleteBucket.run(bucket);
  }
}
