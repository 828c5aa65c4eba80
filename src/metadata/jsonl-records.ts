// Record codec of the local JSONL metadata engine (metadata.md §6). Writes the canonical
// (Python) shape: flat objects whose fields are the SQLite column names in column order, `acl` and
// `user_metadata` as JSON strings, `delete_marker`/`active` as 0/1, absent headers as null.
// Reads that shape and also Rust's (user_metadata as an object, true/false booleans) and Go's
// (`{"type", "data": {Go field names}, "_deleted", pk hints}`).
//
// Beyond upstream, checksums and commit intents live in extra files other implementations ignore
// (same rows as the SQLite side tables, sqlite.ts), not as extra fields on the spec records: an
// upstream reader never sees unknown fields, and a checksum row carries the ETag it was written
// with, so an object or part overwritten by an implementation unaware of it never shows a stale one.
import { isoSeconds } from './time.js';
import type { BucketRecord, CommitIntent, CredentialRecord, ObjectChecksum, ObjectRecord, PartRecord, UploadRecord } from './types.js';
import type { JsonLine } from './jsonl-log.js';

export const JSONL_FILES = {
  buckets: 'buckets.jsonl',
  objects: 'objects.jsonl',
  uploads: 'uploads.jsonl',
  parts: 'parts.jsonl',
  credentials: 'credentials.jsonl',
  // [beyond upstream]
  objectChecksums: 'object_checksums.jsonl',
  uploadChecksums: 'upload_checksums.jsonl',
  partChecksums: 'part_checksums.jsonl',
  commitIntents: 'commit_intents.jsonl',
} as const;

export type JsonlTable = keyof typeof JSONL_FILES;

// ---- writing ----

export function tombstone(pk: JsonLine): JsonLine {
  return { ...pk, _deleted: true };
}

export function bucketLine(b: BucketRecord): JsonLine {
  return { name: b.name, region: b.region, owner_id: b.owner_id, owner_display: b.owner_display, acl: b.acl, created_at: b.created_at };
}

export function objectLine(o: ObjectRecord): JsonLine {
  return {
    bucket: o.bucket,
    key: o.key,
    size: o.size,
    etag: o.etag,
    content_type: o.content_type,
    content_encoding: o.content_encoding,
    content_language: o.content_language,
    content_disposition: o.content_disposition,
    cache_control: o.cache_control,
    expires: o.expires,
    storage_class: o.storage_class,
    acl: o.acl,
    user_metadata: o.user_metadata,
    last_modified: o.last_modified,
    delete_marker: o.delete_marker ? 1 : 0,
  };
}

export function uploadLine(u: UploadRecord): JsonLine {
  return {
    upload_id: u.upload_id,
    bucket: u.bucket,
    key: u.key,
    content_type: u.content_type,
    content_encoding: u.content_encoding,
    content_language: u.content_language,
    content_disposition: u.content_disposition,
    cache_control: u.cache_control,
    expires: u.expires,
    storage_class: u.storage_class,
    acl: u.acl,
    user_metadata: u.user_metadata,
    owner_id: u.owner_id,
    owner_display: u.owner_display,
    initiated_at: u.initiated_at,
  };
}

export function partLine(p: PartRecord): JsonLine {
  return { upload_id: p.upload_id, part_number: p.part_number, size: p.size, etag: p.etag, last_modified: p.last_modified };
}

export function credentialLine(c: CredentialRecord): JsonLine {
  return {
    access_key_id: c.access_key_id,
    secret_key: c.secret_key,
    owner_id: c.owner_id,
    display_name: c.display_name,
    active: c.active ? 1 : 0,
    created_at: c.created_at,
  };
}

export function objectChecksumLine(o: ObjectRecord, c: ObjectChecksum): JsonLine {
  return { bucket: o.bucket, key: o.key, etag: o.etag, algorithm: c.algorithm, value: c.value };
}

export function uploadChecksumLine(uploadId: string, algorithm: string, type: string): JsonLine {
  return { upload_id: uploadId, algorithm, type };
}

export function partChecksumLine(p: PartRecord, c: ObjectChecksum): JsonLine {
  return { upload_id: p.upload_id, part_number: p.part_number, etag: p.etag, algorithm: c.algorithm, value: c.value };
}

/** The action is stored as JSON text, like the SQLite commit_intents.action column. */
export function intentLine(i: CommitIntent): JsonLine {
  return { id: i.id, staged_path: i.staged_path, action: JSON.stringify(i.action), created_at: i.created_at };
}

// ---- reading ----

/** Go field names (no json tags upstream) -> column names. */
const GO_FIELDS: Readonly<Record<string, string>> = {
  Name: 'name',
  Region: 'region',
  OwnerID: 'owner_id',
  OwnerDisplay: 'owner_display',
  ACL: 'acl',
  CreatedAt: 'created_at',
  Bucket: 'bucket',
  Key: 'key',
  Size: 'size',
  ETag: 'etag',
  ContentType: 'content_type',
  ContentEncoding: 'content_encoding',
  ContentLanguage: 'content_language',
  ContentDisposition: 'content_disposition',
  CacheControl: 'cache_control',
  Expires: 'expires',
  StorageClass: 'storage_class',
  UserMetadata: 'user_metadata',
  LastModified: 'last_modified',
  DeleteMarker: 'delete_marker',
  UploadID: 'upload_id',
  InitiatedAt: 'initiated_at',
  PartNumber: 'part_number',
  AccessKeyID: 'access_key_id',
  SecretKey: 'secret_key',
  DisplayName: 'display_name',
  Active: 'active',
};

const NULLABLE_HEADERS = ['content_encoding', 'content_language', 'content_disposition', 'cache_control', 'expires'] as const;

/** One line in column-name form, whatever implementation wrote it. */
export interface NormalizedLine {
  deleted: boolean;
  fields: JsonLine;
}

export function normalizeLine(line: JsonLine): NormalizedLine {
  const deleted = line._deleted === true || line._deleted === 1;
  const data = line.data;
  const isGo = typeof line.type === 'string' && 'data' in line && (data === null || (typeof data === 'object' && !Array.isArray(data)));
  if (!isGo) return { deleted, fields: line };
  // Go: the record sits in `data`; tombstones carry their key in top-level hints (a bucket's
  // name in `key`). Go writes '' for absent headers.
  const fields: JsonLine = {};
  for (const hint of ['bucket', 'key', 'upload_id'] as const) {
    if (typeof line[hint] === 'string' && line[hint] !== '') fields[hint] = line[hint];
  }
  if (line.type === 'bucket' && fields.key !== undefined) fields.name = fields.key;
  for (const [goName, value] of Object.entries((data ?? {}) as JsonLine)) fields[GO_FIELDS[goName] ?? goName] = value;
  for (const h of NULLABLE_HEADERS) if (fields[h] === '') fields[h] = null;
  return { deleted, fields };
}

function text(v: unknown, fallback: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return fallback;
}

function nullableText(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

/** acl / user_metadata: canonical writers store JSON text, Rust and Go store the object itself. */
function jsonText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v !== null && typeof v === 'object') return JSON.stringify(v);
  return '{}';
}

function int(v: unknown): number | null {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? Math.trunc(n) : null;
}

function flag(v: unknown, fallback: boolean): boolean {
  if (v === true || v === 1 || v === '1' || v === 'true') return true;
  if (v === false || v === 0 || v === '0' || v === 'false') return false;
  return fallback;
}

const CANONICAL_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/;

/** Any parseable timestamp (Go writes RFC 3339 with nanoseconds) -> `...T..:..:...000Z`; else ''. */
function time(v: unknown): string {
  if (typeof v !== 'string') return '';
  if (CANONICAL_TIME.test(v)) return v;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? '' : isoSeconds(ms);
}

function key(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

function contentFields(f: JsonLine): Pick<ObjectRecord, 'content_type' | (typeof NULLABLE_HEADERS)[number]> {
  return {
    content_type: text(f.content_type, 'application/octet-stream') || 'application/octet-stream',
    content_encoding: nullableText(f.content_encoding),
    content_language: nullableText(f.content_language),
    content_disposition: nullableText(f.content_disposition),
    cache_control: nullableText(f.cache_control),
    expires: nullableText(f.expires),
  };
}

/** A table's primary key and record parser; `group` lets a Go part tombstone drop a whole upload. */
export interface TableCodec<T> {
  pk(f: JsonLine): string | null;
  group?(f: JsonLine): string | null;
  parse(f: JsonLine): T | null;
}

const SEP = '\u0000';

export const bucketCodec: TableCodec<BucketRecord> = {
  pk: (f) => key(f.name),
  parse: (f) => {
    const name = key(f.name);
    if (name === null) return null;
    return {
      name,
      region: text(f.region, 'us-east-1') || 'us-east-1',
      owner_id: text(f.owner_id, ''),
      owner_display: text(f.owner_display, ''),
      acl: jsonText(f.acl),
      created_at: time(f.created_at),
    };
  },
};

export const objectCodec: TableCodec<ObjectRecord> = {
  pk: (f) => (key(f.bucket) !== null && key(f.key) !== null ? `${f.bucket as string}${SEP}${f.key as string}` : null),
  parse: (f) => {
    const bucket = key(f.bucket);
    const k = key(f.key);
    if (bucket === null || k === null) return null;
    return {
      bucket,
      key: k,
      size: int(f.size) ?? 0,
      etag: text(f.etag, ''),
      ...contentFields(f),
      storage_class: text(f.storage_class, 'STANDARD') || 'STANDARD',
      acl: jsonText(f.acl),
      user_metadata: jsonText(f.user_metadata),
      last_modified: time(f.last_modified),
      delete_marker: flag(f.delete_marker, false),
      checksum: null,
    };
  },
};

export const uploadCodec: TableCodec<UploadRecord> = {
  pk: (f) => key(f.upload_id),
  parse: (f) => {
    const uploadId = key(f.upload_id);
    const bucket = key(f.bucket);
    const k = key(f.key);
    if (uploadId === null || bucket === null || k === null) return null;
    return {
      upload_id: uploadId,
      bucket,
      key: k,
      ...contentFields(f),
      storage_class: text(f.storage_class, 'STANDARD') || 'STANDARD',
      acl: jsonText(f.acl),
      user_metadata: jsonText(f.user_metadata),
      owner_id: text(f.owner_id, ''),
      owner_display: text(f.owner_display, ''),
      initiated_at: time(f.initiated_at),
    };
  },
};

export const partCodec: TableCodec<PartRecord> = {
  pk: (f) => (key(f.upload_id) !== null && int(f.part_number) !== null ? `${f.upload_id as string}${SEP}${int(f.part_number) as number}` : null),
  group: (f) => (key(f.upload_id) !== null ? `${f.upload_id as string}${SEP}` : null),
  parse: (f) => {
    const uploadId = key(f.upload_id);
    const partNumber = int(f.part_number);
    if (uploadId === null || partNumber === null) return null;
    return { upload_id: uploadId, part_number: partNumber, size: int(f.size) ?? 0, etag: text(f.etag, ''), last_modified: time(f.last_modified) };
  },
};

export const credentialCodec: TableCodec<CredentialRecord> = {
  pk: (f) => key(f.access_key_id),
  parse: (f) => {
    const id = key(f.access_key_id);
    if (id === null) return null;
    return {
      access_key_id: id,
      secret_key: text(f.secret_key, ''),
      owner_id: text(f.owner_id, ''),
      display_name: text(f.display_name, ''),
      active: flag(f.active, true),
      created_at: time(f.created_at),
    };
  },
};

/** A checksum side row: the checksum plus the ETag of the record it belongs to. */
export interface ChecksumRow {
  etag: string;
  checksum: ObjectChecksum;
}

function checksumRow(f: JsonLine): ChecksumRow | null {
  const etag = key(f.etag);
  const algorithm = key(f.algorithm);
  const value = key(f.value);
  return etag !== null && algorithm !== null && value !== null ? { etag, checksum: { algorithm, value } } : null;
}

export const objectChecksumCodec: TableCodec<ChecksumRow> = { pk: objectCodec.pk, parse: checksumRow };
export const partChecksumCodec: TableCodec<ChecksumRow> = { pk: partCodec.pk, group: partCodec.group, parse: checksumRow };

export const uploadChecksumCodec: TableCodec<{ algorithm: string; type: string }> = {
  pk: uploadCodec.pk,
  parse: (f) => {
    const algorithm = key(f.algorithm);
    return algorithm === null ? null : { algorithm, type: text(f.type, 'COMPOSITE') };
  },
};

export const intentCodec: TableCodec<CommitIntent> = {
  pk: (f) => key(f.id),
  parse: (f) => {
    const id = key(f.id);
    const stagedPath = key(f.staged_path);
    if (id === null || stagedPath === null) return null;
    let action: unknown;
    try {
      action = typeof f.action === 'string' ? JSON.parse(f.action) : f.action;
    } catch {
      return null;
    }
    if (action === null || typeof action !== 'object') return null;
    return { id, staged_path: stagedPath, action: action as CommitIntent['action'], created_at: text(f.created_at, '') };
  },
};

export function objectPk(bucket: string, k: string): string {
  return `${bucket}${SEP}${k}`;
}

export function partPk(uploadId: string, partNumber: number): string {
  return `${uploadId}${SEP}${partNumber}`;
}

/** Replay: per primary key the last record wins; a tombstone removes the key (or a whole group). */
export function fold<T>(lines: readonly JsonLine[], codec: TableCodec<T>): Map<string, T> {
  const live = new Map<string, T>();
  for (const line of lines) {
    const { deleted, fields } = normalizeLine(line);
    const pk = codec.pk(fields);
    if (deleted) {
      if (pk !== null) live.delete(pk);
      else {
        const group = codec.group?.(fields) ?? null;
        if (group !== null) for (const k of [...live.keys()]) if (k.startsWith(group)) live.delete(k);
      }
      continue;
    }
    if (pk === null) continue;
    const record = codec.parse(fields);
    if (record !== null) live.set(pk, record);
  }
  return live;
}
