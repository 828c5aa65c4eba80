// Document layout of the Firestore metadata engine (metadata.md §8) and the mapping between
// documents and records. One root collection holds every entity, told apart by a `type` field;
// field names are the SQLite column names, `acl`/`user_metadata` are JSON strings, optional
// content fields are omitted when null, booleans are Firestore booleans.
//
// Beyond the spec (optional fields other implementations ignore, and documents of their own type):
//   object.checksum = { algorithm, value, etag }   the verified whole-object checksum; only
//       returned while the object still carries that etag, so an object rewritten by an
//       implementation that keeps unknown fields (set with merge) never shows a stale checksum
//   upload.checksum_algorithm, upload.checksum_type   declared flexible checksum of an upload
//   part.checksum = { algorithm, value, etag }      the part's verified checksum (same etag rule)
//   intent_{id} (type "intent")                      write-ahead commit intents (CommitIntent)
//
// Readers are lenient about documents written by other implementations: ACL/metadata stored as
// maps, 0/1 instead of booleans, Firestore Timestamps instead of ISO strings, missing defaults.
import { Timestamp, type DocumentData } from '@google-cloud/firestore';
import { isoSeconds } from './time.js';
import type {
  BucketRecord,
  CommitAction,
  CommitIntent,
  CredentialRecord,
  ObjectChecksum,
  ObjectRecord,
  PartRecord,
  UploadRecord,
} from './types.js';

export const PARTS_SUBCOLLECTION = 'parts';

export type DocType = 'bucket' | 'object' | 'upload' | 'part' | 'credential' | 'intent';

/** URL-safe base64 of the key's UTF-8 bytes without `=` padding (document ids cannot hold `/`). */
export function encodeKey(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url');
}

export const bucketDocId = (name: string): string => `bucket_${name}`;
export const objectDocId = (bucket: string, key: string): string => `object_${bucket}_${encodeKey(key)}`;
export const uploadDocId = (uploadId: string): string => `upload_${uploadId}`;
export const partDocId = (partNumber: number): string => `part_${String(partNumber).padStart(5, '0')}`;
export const credentialDocId = (accessKeyId: string): string => `cred_${accessKeyId}`;
export const intentDocId = (id: string): string => `intent_${id}`;

/** Firestore's limit on a document id, in UTF-8 bytes. */
const MAX_DOC_ID_BYTES = 1500;

/**
 * Whether `id` can name a document. Ids built from client input (upload ids, access keys) may
 * hold `/`, which would address a subcollection instead: such ids name nothing.
 */
export function isValidDocId(id: string): boolean {
  return !id.includes('/') && Buffer.byteLength(id, 'utf8') <= MAX_DOC_ID_BYTES && !/^__.*__$/.test(id);
}

const CONTENT_FIELDS = ['content_encoding', 'content_language', 'content_disposition', 'cache_control', 'expires'] as const;

// ---- record -> document ----

export function bucketToDoc(b: BucketRecord): DocumentData {
  return {
    type: 'bucket',
    name: b.name,
    region: b.region,
    owner_id: b.owner_id,
    owner_display: b.owner_display,
    acl: b.acl,
    created_at: b.created_at,
  };
}

function contentFields(r: ObjectRecord | UploadRecord, doc: DocumentData): void {
  doc.content_type = r.content_type;
  for (const f of CONTENT_FIELDS) {
    const v = r[f];
    if (v !== null && v !== undefined) doc[f] = v;
  }
}

export function objectToDoc(o: ObjectRecord): DocumentData {
  const doc: DocumentData = { type: 'object', bucket: o.bucket, key: o.key, size: o.size, etag: o.etag };
  contentFields(o, doc);
  doc.storage_class = o.storage_class;
  doc.acl = o.acl;
  doc.user_metadata = o.user_metadata;
  doc.last_modified = o.last_modified;
  doc.delete_marker = o.delete_marker;
  if (o.checksum) doc.checksum = { algorithm: o.checksum.algorithm, value: o.checksum.value, etag: o.etag };
  return doc;
}

export function uploadToDoc(u: UploadRecord): DocumentData {
  const doc: DocumentData = { type: 'upload', upload_id: u.upload_id, bucket: u.bucket, key: u.key };
  contentFields(u, doc);
  doc.storage_class = u.storage_class;
  doc.acl = u.acl;
  doc.user_metadata = u.user_metadata;
  doc.owner_id = u.owner_id;
  doc.owner_display = u.owner_display;
  doc.initiated_at = u.initiated_at;
  if (u.checksum_algorithm) {
    doc.checksum_algorithm = u.checksum_algorithm;
    doc.checksum_type = u.checksum_type ?? 'COMPOSITE';
  }
  return doc;
}

export function partToDoc(p: PartRecord): DocumentData {
  const doc: DocumentData = {
    type: 'part',
    upload_id: p.upload_id,
    part_number: p.part_number,
    size: p.size,
    etag: p.etag,
    last_modified: p.last_modified,
  };
  if (p.checksum) doc.checksum = { algorithm: p.checksum.algorithm, value: p.checksum.value, etag: p.etag };
  return doc;
}

export function credentialToDoc(c: CredentialRecord): DocumentData {
  return {
    type: 'credential',
    access_key_id: c.access_key_id,
    secret_key: c.secret_key,
    owner_id: c.owner_id,
    display_name: c.display_name,
    active: c.active,
    created_at: c.created_at,
  };
}

export function intentToDoc(i: CommitIntent): DocumentData {
  return { type: 'intent', id: i.id, staged_path: i.staged_path, action: JSON.stringify(i.action), created_at: i.created_at };
}

// ---- document -> record (lenient) ----

function str(v: unknown, fallback = ''): string {
  return typeof v === 'string' ? v : fallback;
}

function nullableStr(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return 0;
}

function bool(v: unknown, fallback: boolean): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  return fallback;
}

/** JSON text as stored; a map (another implementation's shape) is re-encoded compactly. */
function jsonText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v !== null && typeof v === 'object') return JSON.stringify(v);
  return '{}';
}

/** ISO `...T...Z` text; a Firestore Timestamp is formatted to whole seconds. */
function isoText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v instanceof Timestamp) return isoSeconds(v.toMillis());
  return '';
}

function checksumFrom(v: unknown, etag: string): ObjectChecksum | null {
  if (v === null || typeof v !== 'object') return null;
  const c = v as Record<string, unknown>;
  if (typeof c.algorithm !== 'string' || typeof c.value !== 'string') return null;
  if (typeof c.etag === 'string' && c.etag !== etag) return null; // stale: written for another version
  return { algorithm: c.algorithm, value: c.value };
}

export function docToBucket(d: DocumentData): BucketRecord {
  return {
    name: str(d.name),
    region: str(d.region, 'us-east-1'),
    owner_id: str(d.owner_id),
    owner_display: str(d.owner_display),
    acl: jsonText(d.acl),
    created_at: isoText(d.created_at),
  };
}

export function docToObject(d: DocumentData): ObjectRecord {
  const etag = str(d.etag);
  return {
    bucket: str(d.bucket),
    key: str(d.key),
    size: num(d.size),
    etag,
    content_type: str(d.content_type, 'application/octet-stream'),
    content_encoding: nullableStr(d.content_encoding),
    content_language: nullableStr(d.content_language),
    content_disposition: nullableStr(d.content_disposition),
    cache_control: nullableStr(d.cache_control),
    expires: nullableStr(d.expires),
    storage_class: str(d.storage_class, 'STANDARD'),
    acl: jsonText(d.acl),
    user_metadata: jsonText(d.user_metadata),
    last_modified: isoText(d.last_modified),
    delete_marker: bool(d.delete_marker, false),
    checksum: checksumFrom(d.checksum, etag),
  };
}

export function docToUpload(d: DocumentData): UploadRecord {
  const u: UploadRecord = {
    upload_id: str(d.upload_id),
    bucket: str(d.bucket),
    key: str(d.key),
    content_type: str(d.content_type, 'application/octet-stream'),
    content_encoding: nullableStr(d.content_encoding),
    content_language: nullableStr(d.content_language),
    content_disposition: nullableStr(d.content_disposition),
    cache_control: nullableStr(d.cache_control),
    expires: nullableStr(d.expires),
    storage_class: str(d.storage_class, 'STANDARD'),
    acl: jsonText(d.acl),
    user_metadata: jsonText(d.user_metadata),
    owner_id: str(d.owner_id),
    owner_display: str(d.owner_display),
    initiated_at: isoText(d.initiated_at),
  };
  // Present only when declared, so records without a checksum round-trip unchanged.
  if (typeof d.checksum_algorithm === 'string' && d.checksum_algorithm !== '') {
    u.checksum_algorithm = d.checksum_algorithm;
    u.checksum_type = nullableStr(d.checksum_type);
  }
  return u;
}

export function docToPart(d: DocumentData): PartRecord {
  const etag = str(d.etag);
  const p: PartRecord = {
    upload_id: str(d.upload_id),
    part_number: num(d.part_number),
    size: num(d.size),
    etag,
    last_modified: isoText(d.last_modified),
  };
  const checksum = checksumFrom(d.checksum, etag);
  if (checksum) p.checksum = checksum;
  return p;
}

export function docToCredential(d: DocumentData): CredentialRecord {
  return {
    access_key_id: str(d.access_key_id),
    secret_key: str(d.secret_key),
    owner_id: str(d.owner_id),
    display_name: str(d.display_name),
    active: bool(d.active, true),
    created_at: isoText(d.created_at),
  };
}

export function docToIntent(d: DocumentData): CommitIntent {
  return {
    id: str(d.id),
    staged_path: str(d.staged_path),
    action: JSON.parse(str(d.action, 'null')) as CommitAction,
    created_at: str(d.created_at),
  };
}
