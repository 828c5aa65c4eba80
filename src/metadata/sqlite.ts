// SQLite metadata engine (metadata.md §4). The pragmas and DDL are the spec's, byte for byte, so a
// database file written by any BleepStore implementation opens as is. better-sqlite3 is
// synchronous: every method does its work before returning, and multi-statement writes run in one
// BEGIN IMMEDIATE transaction.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { listEntries, listObjectsWith, listUploadsWith, partsPage, type ListCursor } from './listing.js';
import { isoNow, isoSecondsAgo } from './time.js';
import {
  BucketExistsError,
  type BucketRecord,
  type CommitAction,
  type CommitIntent,
  type CredentialRecord,
  type ListObjectsOptions,
  type ListObjectsResult,
  type ListPartsResult,
  type ListUploadsOptions,
  type ListUploadsResult,
  type MetadataStore,
  type ObjectChecksum,
  type ObjectRecord,
  type PartRecord,
  type ReapedUpload,
  type UploadRecord,
} from './types.js';

export const SQLITE_PRAGMAS = `PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA foreign_keys = ON;
PRAGMA busy_timeout = 5000;`;

/** metadata.md §4 schema, exact text (sqlite_master keeps it, so other implementations see the same). */
export const SQLITE_SCHEMA = `CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER PRIMARY KEY,
    applied_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS buckets (
    name           TEXT PRIMARY KEY,
    region         TEXT NOT NULL DEFAULT 'us-east-1',
    owner_id       TEXT NOT NULL,
    owner_display  TEXT NOT NULL DEFAULT '',
    acl            TEXT NOT NULL DEFAULT '{}',
    created_at     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS objects (
    bucket              TEXT NOT NULL,
    key                 TEXT NOT NULL,
    size                INTEGER NOT NULL,
    etag                TEXT NOT NULL,
    content_type        TEXT NOT NULL DEFAULT 'application/octet-stream',
    content_encoding    TEXT,
    content_language    TEXT,
    content_disposition TEXT,
    cache_control       TEXT,
    expires             TEXT,
    storage_class       TEXT NOT NULL DEFAULT 'STANDARD',
    acl                 TEXT NOT NULL DEFAULT '{}',
    user_metadata       TEXT NOT NULL DEFAULT '{}',
    last_modified       TEXT NOT NULL,
    delete_marker       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, key),
    FOREIGN KEY (bucket) REFERENCES buckets(name) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS idx_objects_bucket        ON objects(bucket);
CREATE INDEX IF NOT EXISTS idx_objects_bucket_prefix ON objects(bucket, key);
CREATE TABLE IF NOT EXISTS multipart_uploads (
    upload_id           TEXT PRIMARY KEY,
    bucket              TEXT NOT NULL,
    key                 TEXT NOT NULL,
    content_type        TEXT NOT NULL DEFAULT 'application/octet-stream',
    content_encoding    TEXT,
    content_language    TEXT,
    content_disposition TEXT,
    cache_control       TEXT,
    expires             TEXT,
    storage_class       TEXT NOT NULL DEFAULT 'STANDARD',
    acl                 TEXT NOT NULL DEFAULT '{}',
    user_metadata       TEXT NOT NULL DEFAULT '{}',
    owner_id            TEXT NOT NULL,
    owner_display       TEXT NOT NULL DEFAULT '',
    initiated_at        TEXT NOT NULL,
    FOREIGN KEY (bucket) REFERENCES buckets(name) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS idx_uploads_bucket     ON multipart_uploads(bucket);
CREATE INDEX IF NOT EXISTS idx_uploads_bucket_key ON multipart_uploads(bucket, key);
CREATE TABLE IF NOT EXISTS multipart_parts (
    upload_id     TEXT NOT NULL,
    part_number   INTEGER NOT NULL,
    size          INTEGER NOT NULL,
    etag          TEXT NOT NULL,
    last_modified TEXT NOT NULL,
    PRIMARY KEY (upload_id, part_number),
    FOREIGN KEY (upload_id) REFERENCES multipart_uploads(upload_id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS credentials (
    access_key_id TEXT PRIMARY KEY,
    secret_key    TEXT NOT NULL,
    owner_id      TEXT NOT NULL,
    display_name  TEXT NOT NULL DEFAULT '',
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    TEXT NOT NULL
);`;

export const SCHEMA_VERSION = 1;

/**
 * [beyond upstream] Whole-object checksums (ObjectRecord.checksum) have no column in the spec
 * schema, so they live in a side table other implementations ignore. The row carries the ETag it
 * was written with and is only returned while the object still has that ETag, so an object
 * overwritten by an implementation that does not know this table never shows a stale checksum.
 */
export const SQLITE_CHECKSUM_TABLE = `CREATE TABLE IF NOT EXISTS object_checksums (
    bucket    TEXT NOT NULL,
    key       TEXT NOT NULL,
    etag      TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    value     TEXT NOT NULL,
    PRIMARY KEY (bucket, key)
);`;

/**
 * [beyond upstream] Multipart flexible checksums: the algorithm and type an upload declared, and
 * each part's verified checksum (rows carry the part's ETag, so a part overwritten by an
 * implementation that ignores this table never shows a stale checksum). Removed with their
 * upload and parts.
 */
export const SQLITE_MULTIPART_CHECKSUM_TABLES = `CREATE TABLE IF NOT EXISTS upload_checksums (
    upload_id TEXT PRIMARY KEY,
    algorithm TEXT NOT NULL,
    type      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS part_checksums (
    upload_id   TEXT NOT NULL,
    part_number INTEGER NOT NULL,
    etag        TEXT NOT NULL,
    algorithm   TEXT NOT NULL,
    value       TEXT NOT NULL,
    PRIMARY KEY (upload_id, part_number)
);`;

/**
 * [beyond upstream] Write-ahead commit intents (CommitIntent): the crash-only publish protocol
 * needs them in the same durable store as the rows they commit. Other implementations ignore it.
 */
export const SQLITE_INTENT_TABLE = `CREATE TABLE IF NOT EXISTS commit_intents (
    id          TEXT PRIMARY KEY,
    staged_path TEXT NOT NULL,
    action      TEXT NOT NULL,
    created_at  TEXT NOT NULL
);`;

type SqlParam = string | number | null;

interface ObjectRow {
  bucket: string;
  key: string;
  size: number;
  etag: string;
  content_type: string;
  content_encoding: string | null;
  content_language: string | null;
  content_disposition: string | null;
  cache_control: string | null;
  expires: string | null;
  storage_class: string;
  acl: string;
  user_metadata: string;
  last_modified: string;
  delete_marker: number;
  checksum_algorithm: string | null;
  checksum_value: string | null;
}

interface UploadRow extends UploadRecord {
  checksum_algorithm: string | null;
  checksum_type: string | null;
}

interface PartRow {
  upload_id: string;
  part_number: number;
  size: number;
  etag: string;
  last_modified: string;
  checksum_algorithm: string | null;
  checksum_value: string | null;
}

interface CredentialRow extends Omit<CredentialRecord, 'active'> {
  active: number;
}

const OBJECT_SELECT = `SELECT o.*, c.algorithm AS checksum_algorithm, c.value AS checksum_value
FROM objects o LEFT JOIN object_checksums c ON c.bucket = o.bucket AND c.key = o.key AND c.etag = o.etag`;

/** Uploads with their declared checksum; a subquery so the WHERE clauses keep plain column names. */
const UPLOADS_FROM = `(SELECT u.*, c.algorithm AS checksum_algorithm, c.type AS checksum_type
  FROM multipart_uploads u LEFT JOIN upload_checksums c ON c.upload_id = u.upload_id)`;

const PART_SELECT = `SELECT p.*, c.algorithm AS checksum_algorithm, c.value AS checksum_value
FROM multipart_parts p LEFT JOIN part_checksums c
  ON c.upload_id = p.upload_id AND c.part_number = p.part_number AND c.etag = p.etag`;

const UPLOAD_ORDER = 'ORDER BY key, initiated_at, upload_id';

function toObject(r: ObjectRow): ObjectRecord {
  return {
    bucket: r.bucket,
    key: r.key,
    size: r.size,
    etag: r.etag,
    content_type: r.content_type,
    content_encoding: r.content_encoding,
    content_language: r.content_language,
    content_disposition: r.content_disposition,
    cache_control: r.cache_control,
    expires: r.expires,
    storage_class: r.storage_class,
    acl: r.acl,
    user_metadata: r.user_metadata,
    last_modified: r.last_modified,
    delete_marker: r.delete_marker !== 0,
    checksum:
      r.checksum_algorithm !== null && r.checksum_value !== null
        ? { algorithm: r.checksum_algorithm, value: r.checksum_value }
        : null,
  };
}

function toUpload(r: UploadRow): UploadRecord {
  const u: UploadRecord = {
    upload_id: r.upload_id,
    bucket: r.bucket,
    key: r.key,
    content_type: r.content_type,
    content_encoding: r.content_encoding,
    content_language: r.content_language,
    content_disposition: r.content_disposition,
    cache_control: r.cache_control,
    expires: r.expires,
    storage_class: r.storage_class,
    acl: r.acl,
    user_metadata: r.user_metadata,
    owner_id: r.owner_id,
    owner_display: r.owner_display,
    initiated_at: r.initiated_at,
  };
  // Present only when declared, so records without a checksum round-trip unchanged.
  if (r.checksum_algorithm !== null && r.checksum_algorithm !== undefined) {
    u.checksum_algorithm = r.checksum_algorithm;
    u.checksum_type = r.checksum_type;
  }
  return u;
}

function toPart(r: PartRow): PartRecord {
  const p: PartRecord = { upload_id: r.upload_id, part_number: r.part_number, size: r.size, etag: r.etag, last_modified: r.last_modified };
  if (r.checksum_algorithm !== null && r.checksum_value !== null) p.checksum = { algorithm: r.checksum_algorithm, value: r.checksum_value };
  return p;
}

function toCredential(r: CredentialRow): CredentialRecord {
  return {
    access_key_id: r.access_key_id,
    secret_key: r.secret_key,
    owner_id: r.owner_id,
    display_name: r.display_name,
    active: r.active !== 0,
    created_at: r.created_at,
  };
}

function toBucket(r: BucketRecord): BucketRecord {
  return {
    name: r.name,
    region: r.region,
    owner_id: r.owner_id,
    owner_display: r.owner_display,
    acl: r.acl,
    created_at: r.created_at,
  };
}

function isPrimaryKeyConflict(e: unknown): boolean {
  return e instanceof Database.SqliteError && (e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || e.code === 'SQLITE_CONSTRAINT_UNIQUE');
}

/** Counters for tests and diagnostics: rows returned by SELECTs and statements executed. */
export interface SqliteStats {
  rowsRead: number;
  statements: number;
}

export class SqliteMetadataStore implements MetadataStore {
  readonly stats: SqliteStats = { rowsRead: 0, statements: 0 };
  private connection: Database.Database | null = null;
  private readonly statements = new Map<string, Database.Statement<SqlParam[]>>();

  constructor(readonly path: string) {}

  /** The open connection, shared with the sqlite storage backend (same file). */
  get db(): Database.Database {
    if (this.connection === null) throw new Error('sqlite metadata store is not open (call init() first)');
    return this.connection;
  }

  async init(): Promise<void> {
    if (this.connection !== null) return;
    if (this.path !== ':memory:') mkdirSync(dirname(this.path), { recursive: true });
    const db = new Database(this.path, { timeout: 5000 });
    try {
      db.exec(SQLITE_PRAGMAS);
      db.transaction(() => {
        db.exec(SQLITE_SCHEMA);
        db.exec(SQLITE_CHECKSUM_TABLE);
        db.exec(SQLITE_MULTIPART_CHECKSUM_TABLES);
        db.exec(SQLITE_INTENT_TABLE);
        db.prepare('INSERT OR IGNORE INTO schema_version (version, applied_at) VALUES (?, ?)').run(
          SCHEMA_VERSION,
          isoNow(),
        );
      }).immediate();
    } catch (e) {
      db.close();
      throw e;
    }
    this.connection = db;
  }

  async close(): Promise<void> {
    const db = this.connection;
    this.connection = null;
    this.statements.clear();
    db?.close();
  }

  async ping(): Promise<void> {
    this.get('SELECT 1');
  }

  // ---- prepared statement helpers (cached by SQL text) ----

  private stmt(sql: string): Database.Statement<SqlParam[]> {
    let s = this.statements.get(sql);
    if (s === undefined) {
      s = this.db.prepare<SqlParam[]>(sql);
      this.statements.set(sql, s);
    }
    this.stats.statements++;
    return s;
  }

  private all<R>(sql: string, ...params: SqlParam[]): R[] {
    const rows = this.stmt(sql).all(...params) as R[];
    this.stats.rowsRead += rows.length;
    return rows;
  }

  private get<R>(sql: string, ...params: SqlParam[]): R | undefined {
    const row = this.stmt(sql).get(...params) as R | undefined;
    if (row !== undefined) this.stats.rowsRead++;
    return row;
  }

  private run(sql: string, ...params: SqlParam[]): Database.RunResult {
    return this.stmt(sql).run(...params);
  }

  private inTransaction<T>(work: () => T): T {
    return this.db.transaction(work).immediate();
  }

  // ---- buckets ----

  async createBucket(b: BucketRecord): Promise<void> {
    try {
      this.run(
        'INSERT INTO buckets (name, region, owner_id, owner_display, acl, created_at) VALUES (?, ?, ?, ?, ?, ?)',
        b.name,
        b.region,
        b.owner_id,
        b.owner_display,
        b.acl,
        b.created_at || isoNow(),
      );
    } catch (e) {
      throw isPrimaryKeyConflict(e) ? new BucketExistsError(b.name) : e;
    }
  }

  async getBucket(name: string): Promise<BucketRecord | null> {
    const r = this.get<BucketRecord>('SELECT * FROM buckets WHERE name = ?', name);
    return r === undefined ? null : toBucket(r);
  }

  async bucketExists(name: string): Promise<boolean> {
    return this.get('SELECT 1 FROM buckets WHERE name = ?', name) !== undefined;
  }

  async listBuckets(ownerId?: string): Promise<BucketRecord[]> {
    const rows =
      ownerId === undefined
        ? this.all<BucketRecord>('SELECT * FROM buckets ORDER BY name')
        : this.all<BucketRecord>('SELECT * FROM buckets WHERE owner_id = ? ORDER BY name', ownerId);
    return rows.map(toBucket);
  }

  async deleteBucket(name: string): Promise<void> {
    // Explicit cascade: does not depend on the foreign_keys pragma of whoever created the rows.
    this.inTransaction(() => {
      for (const table of ['multipart_parts', 'part_checksums', 'upload_checksums']) {
        this.run(`DELETE FROM ${table} WHERE upload_id IN (SELECT upload_id FROM multipart_uploads WHERE bucket = ?)`, name);
      }
      this.run('DELETE FROM multipart_uploads WHERE bucket = ?', name);
      this.run('DELETE FROM object_checksums WHERE bucket = ?', name);
      this.run('DELETE FROM objects WHERE bucket = ?', name);
      this.run('DELETE FROM buckets WHERE name = ?', name);
    });
  }

  async updateBucketAcl(name: string, acl: string): Promise<void> {
    this.run('UPDATE buckets SET acl = ? WHERE name = ?', acl, name);
  }

  // ---- objects ----

  private upsertObject(o: ObjectRecord): void {
    this.run(
      `INSERT OR REPLACE INTO objects (bucket, key, size, etag, content_type, content_encoding,
         content_language, content_disposition, cache_control, expires, storage_class, acl,
         user_metadata, last_modified, delete_marker)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      o.bucket,
      o.key,
      o.size,
      o.etag,
      o.content_type,
      o.content_encoding ?? null,
      o.content_language ?? null,
      o.content_disposition ?? null,
      o.cache_control ?? null,
      o.expires ?? null,
      o.storage_class,
      o.acl,
      o.user_metadata,
      o.last_modified || isoNow(),
      o.delete_marker ? 1 : 0,
    );
    if (o.checksum) {
      this.run(
        'INSERT OR REPLACE INTO object_checksums (bucket, key, etag, algorithm, value) VALUES (?, ?, ?, ?, ?)',
        o.bucket,
        o.key,
        o.etag,
        o.checksum.algorithm,
        o.checksum.value,
      );
    } else {
      this.run('DELETE FROM object_checksums WHERE bucket = ? AND key = ?', o.bucket, o.key);
    }
  }

  async putObject(obj: ObjectRecord): Promise<void> {
    this.inTransaction(() => this.upsertObject(obj));
  }

  async getObject(bucket: string, key: string): Promise<ObjectRecord | null> {
    const r = this.get<ObjectRow>(`${OBJECT_SELECT} WHERE o.bucket = ? AND o.key = ?`, bucket, key);
    return r === undefined ? null : toObject(r);
  }

  async objectExists(bucket: string, key: string): Promise<boolean> {
    return this.get('SELECT 1 FROM objects WHERE bucket = ? AND key = ?', bucket, key) !== undefined;
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    this.inTransaction(() => this.deleteObjectRow(bucket, key));
  }

  private deleteObjectRow(bucket: string, key: string): boolean {
    this.run('DELETE FROM object_checksums WHERE bucket = ? AND key = ?', bucket, key);
    return this.run('DELETE FROM objects WHERE bucket = ? AND key = ?', bucket, key).changes > 0;
  }

  async deleteObjectsMeta(bucket: string, keys: string[]): Promise<string[]> {
    return this.inTransaction(() => keys.filter((key) => this.deleteObjectRow(bucket, key)));
  }

  async updateObjectAcl(bucket: string, key: string, acl: string): Promise<void> {
    this.run('UPDATE objects SET acl = ? WHERE bucket = ? AND key = ?', acl, bucket, key);
  }

  async listObjects(bucket: string, options: ListObjectsOptions): Promise<ListObjectsResult> {
    if (options.delimiter === '') {
      return listObjectsWith(options, (cursor, end, limit) => {
        const [sql, params] = objectRangeQuery(OBJECT_SELECT, 'o.', bucket, keyStart(cursor, (o) => o.key), end, limit);
        return this.all<ObjectRow>(sql, ...params).map(toObject);
      });
    }
    // With a delimiter most rows only locate the next common prefix, so the range reads fetch
    // keys alone (one index seek each, ~9x cheaper than a full row with its checksum join:
    // 5.6 vs 49 µs) and full rows are loaded once, for the keys the page lists as Contents.
    const page = await listEntries<{ key: string }>({
      prefix: options.prefix,
      delimiter: options.delimiter,
      maxEntries: options.maxKeys,
      marker: options.startAfter,
      keyOf: (r) => r.key,
      read: (cursor, end, limit) => {
        const [sql, params] = objectRangeQuery('SELECT key FROM objects', '', bucket, keyStart(cursor, (r) => r.key), end, limit);
        return this.all<{ key: string }>(sql, ...params);
      },
    });
    const result: ListObjectsResult = {
      contents: page.rows.map((r) => {
        const row = this.get<ObjectRow>(`${OBJECT_SELECT} WHERE o.bucket = ? AND o.key = ?`, bucket, r.key);
        if (row === undefined) throw new Error(`object ${r.key} vanished during listing`);
        return toObject(row);
      }),
      commonPrefixes: page.commonPrefixes,
      isTruncated: page.isTruncated,
    };
    if (page.next) result.nextMarker = page.next.kind === 'row' ? page.next.row.key : page.next.prefix;
    return result;
  }

  async countObjects(bucket: string): Promise<number> {
    return this.get<{ n: number }>('SELECT COUNT(*) AS n FROM objects WHERE bucket = ?', bucket)?.n ?? 0;
  }

  // ---- multipart ----

  async createMultipartUpload(u: UploadRecord): Promise<void> {
    this.inTransaction(() => this.insertUpload(u));
  }

  private insertUpload(u: UploadRecord): void {
    this.run(
      `INSERT INTO multipart_uploads (upload_id, bucket, key, content_type, content_encoding,
         content_language, content_disposition, cache_control, expires, storage_class, acl,
         user_metadata, owner_id, owner_display, initiated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      u.upload_id,
      u.bucket,
      u.key,
      u.content_type,
      u.content_encoding ?? null,
      u.content_language ?? null,
      u.content_disposition ?? null,
      u.cache_control ?? null,
      u.expires ?? null,
      u.storage_class,
      u.acl,
      u.user_metadata,
      u.owner_id,
      u.owner_display,
      u.initiated_at || isoNow(),
    );
    if (u.checksum_algorithm) {
      this.run(
        'INSERT OR REPLACE INTO upload_checksums (upload_id, algorithm, type) VALUES (?, ?, ?)',
        u.upload_id,
        u.checksum_algorithm,
        u.checksum_type ?? 'COMPOSITE',
      );
    }
  }

  async getMultipartUpload(bucket: string, key: string, uploadId: string): Promise<UploadRecord | null> {
    const r = this.get<UploadRow>(
      `SELECT * FROM ${UPLOADS_FROM} WHERE upload_id = ? AND bucket = ? AND key = ?`,
      uploadId,
      bucket,
      key,
    );
    return r === undefined ? null : toUpload(r);
  }

  async putPart(uploadId: string, partNumber: number, size: number, etag: string, checksum?: ObjectChecksum | null): Promise<void> {
    this.inTransaction(() => this.upsertPart(uploadId, partNumber, size, etag, checksum ?? null));
  }

  private upsertPart(uploadId: string, partNumber: number, size: number, etag: string, checksum: ObjectChecksum | null): void {
    this.run(
      `INSERT OR REPLACE INTO multipart_parts (upload_id, part_number, size, etag, last_modified)
       VALUES (?, ?, ?, ?, ?)`,
      uploadId,
      partNumber,
      size,
      etag,
      isoNow(),
    );
    if (checksum) {
      this.run(
        'INSERT OR REPLACE INTO part_checksums (upload_id, part_number, etag, algorithm, value) VALUES (?, ?, ?, ?, ?)',
        uploadId,
        partNumber,
        etag,
        checksum.algorithm,
        checksum.value,
      );
    } else {
      this.run('DELETE FROM part_checksums WHERE upload_id = ? AND part_number = ?', uploadId, partNumber);
    }
  }

  async listParts(uploadId: string, partNumberMarker: number, maxParts: number): Promise<ListPartsResult> {
    if (maxParts <= 0) return { parts: [], isTruncated: false };
    const rows = this.all<PartRow>(
      `${PART_SELECT} WHERE p.upload_id = ? AND p.part_number > ? ORDER BY p.part_number LIMIT ?`,
      uploadId,
      partNumberMarker,
      maxParts + 1,
    );
    return partsPage(rows.map(toPart), maxParts);
  }

  async getPartsForCompletion(uploadId: string): Promise<PartRecord[]> {
    return this.all<PartRow>(`${PART_SELECT} WHERE p.upload_id = ? ORDER BY p.part_number`, uploadId).map(toPart);
  }

  async completeMultipartUpload(bucket: string, key: string, uploadId: string, obj: ObjectRecord): Promise<void> {
    // The object upsert runs last so that if it fails, the rollback also restores the upload.
    this.inTransaction(() => {
      this.deleteUploadRows(bucket, key, uploadId);
      this.upsertObject(obj);
    });
  }

  async abortMultipartUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    this.inTransaction(() => this.deleteUploadRows(bucket, key, uploadId));
  }

  private deleteUploadRows(bucket: string, key: string, uploadId: string): void {
    const removed = this.run(
      'DELETE FROM multipart_uploads WHERE upload_id = ? AND bucket = ? AND key = ?',
      uploadId,
      bucket,
      key,
    ).changes;
    if (removed > 0) this.deleteUploadChildren(uploadId);
  }

  private deleteUploadChildren(uploadId: string): void {
    this.run('DELETE FROM multipart_parts WHERE upload_id = ?', uploadId);
    this.run('DELETE FROM part_checksums WHERE upload_id = ?', uploadId);
    this.run('DELETE FROM upload_checksums WHERE upload_id = ?', uploadId);
  }

  async listMultipartUploads(bucket: string, options: ListUploadsOptions): Promise<ListUploadsResult> {
    return listUploadsWith(options, (cursor, end, limit) => {
      const endClause = end === null ? '' : ' AND key < ?';
      const endParams: SqlParam[] = end === null ? [] : [end];
      let rows: UploadRow[];
      if (cursor.kind === 'after') {
        const { key, initiated_at, upload_id } = cursor.row;
        rows = this.all<UploadRow>(
          `SELECT * FROM ${UPLOADS_FROM} WHERE bucket = ? AND key >= ?
             AND (key > ? OR initiated_at > ? OR (initiated_at = ? AND upload_id > ?))${endClause}
           ${UPLOAD_ORDER} LIMIT ?`,
          bucket,
          key,
          key,
          initiated_at,
          initiated_at,
          upload_id,
          ...endParams,
          limit,
        );
      } else {
        const op = cursor.inclusive ? '>=' : '>';
        rows = this.all<UploadRow>(
          `SELECT * FROM ${UPLOADS_FROM} WHERE bucket = ? AND key ${op} ?${endClause} ${UPLOAD_ORDER} LIMIT ?`,
          bucket,
          cursor.key,
          ...endParams,
          limit,
        );
      }
      return rows.map(toUpload);
    });
  }

  // ---- credentials ----

  async getCredential(accessKeyId: string): Promise<CredentialRecord | null> {
    const r = this.get<CredentialRow>(
      'SELECT * FROM credentials WHERE access_key_id = ? AND active = 1',
      accessKeyId,
    );
    return r === undefined ? null : toCredential(r);
  }

  async putCredential(c: CredentialRecord): Promise<void> {
    this.run(
      `INSERT INTO credentials (access_key_id, secret_key, owner_id, display_name, active, created_at)
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(access_key_id) DO UPDATE SET secret_key = excluded.secret_key,
         owner_id = excluded.owner_id, display_name = excluded.display_name, active = excluded.active`,
      c.access_key_id,
      c.secret_key,
      c.owner_id,
      c.display_name,
      c.active ? 1 : 0,
      c.created_at || isoNow(),
    );
  }

  // ---- maintenance ----

  async reapExpiredUploads(ttlSeconds: number): Promise<ReapedUpload[]> {
    // Both sides are `...T...Z` strings, so string order is time order (unlike SQLite datetime()).
    const cutoff = isoSecondsAgo(ttlSeconds);
    return this.inTransaction(() => {
      const expired = this.all<ReapedUpload>(
        'SELECT upload_id, bucket, key FROM multipart_uploads WHERE initiated_at < ? ORDER BY initiated_at',
        cutoff,
      );
      for (const u of expired) {
        this.deleteUploadChildren(u.upload_id);
        this.run('DELETE FROM multipart_uploads WHERE upload_id = ?', u.upload_id);
      }
      return expired.map((u) => ({ upload_id: u.upload_id, bucket: u.bucket, key: u.key }));
    });
  }

  async recordCommitIntent(intent: CommitIntent): Promise<void> {
    this.run(
      'INSERT INTO commit_intents (id, staged_path, action, created_at) VALUES (?, ?, ?, ?)',
      intent.id,
      intent.staged_path,
      JSON.stringify(intent.action),
      intent.created_at,
    );
  }

  async clearCommitIntent(id: string): Promise<void> {
    this.run('DELETE FROM commit_intents WHERE id = ?', id);
  }

  async listCommitIntents(): Promise<CommitIntent[]> {
    const rows = this.all<{ id: string; staged_path: string; action: string; created_at: string }>(
      'SELECT id, staged_path, action, created_at FROM commit_intents ORDER BY created_at, id',
    );
    return rows.map((r) => ({ id: r.id, staged_path: r.staged_path, action: JSON.parse(r.action) as CommitAction, created_at: r.created_at }));
  }
}

/** One range read of objects in key order: `{select} WHERE bucket = ? AND key {op} ? [AND key < ?] ORDER BY key LIMIT ?`. */
function objectRangeQuery(select: string, alias: string, bucket: string, start: ['>' | '>=', string], end: string | null, limit: number): [string, SqlParam[]] {
  const endClause = end === null ? '' : ` AND ${alias}key < ?`;
  const sql = `${select} WHERE ${alias}bucket = ? AND ${alias}key ${start[0]} ?${endClause} ORDER BY ${alias}key LIMIT ?`;
  return [sql, end === null ? [bucket, start[1], limit] : [bucket, start[1], end, limit]];
}

/** `key > ?` after a row, `key >= ?` / `key > ?` from a key. */
function keyStart<R>(cursor: ListCursor<R>, keyOf: (row: R) => string): ['>' | '>=', string] {
  if (cursor.kind === 'after') return ['>', keyOf(cursor.row)];
  return [cursor.inclusive ? '>=' : '>', cursor.key];
}
