// Cosmos DB item layout (metadata.md §9) and the mapping between items and metadata records.
// One container, partition key path /type. Fields are the SQLite column names (§4), so items
// written by another BleepStore implementation read back; what this engine adds beyond the spec
// layout is optional and ignored by the others:
//   - `list_order` on objects and uploads (see listOrderOf): the listing sort field;
//   - `checksum` on objects and parts ({algorithm, value, etag}, honoured only while the item keeps
//     that etag, so an implementation that rewrites the item without knowing it never shows a stale
//     checksum), `checksum_algorithm` / `checksum_type` on uploads;
//   - items of type 'intent' (commit intents, types.ts CommitIntent).
import { createHash } from 'node:crypto';
import type { BucketRecord, CommitAction, CommitIntent, CredentialRecord, ObjectChecksum, ObjectRecord, PartRecord, UploadRecord } from './types.js';

/** Partition key values (the `type` field). Parts share the 'upload' partition with their upload. */
export const BUCKET = 'bucket';
export const OBJECT = 'object';
export const UPLOAD = 'upload';
export const CREDENTIAL = 'credential';
export const INTENT = 'intent';

/** Cosmos item ids may not contain these (and '?' breaks point reads on the test server too). */
const ILLEGAL_ID_CHARS = /[/\\?#]/;
/** Cosmos limits an item id to 1023 bytes. */
const MAX_ID_BYTES = 1023;

/**
 * One variable part of an item id: the value itself when Cosmos accepts it (the upstream id),
 * else `b64:` + URL-safe base64 of its UTF-8 bytes (§9 pitfall).
 */
export function idSegment(value: string): string {
  // A value that itself looks like an encoded form is encoded too, so two keys never share an id.
  const encode = ILLEGAL_ID_CHARS.test(value) || value.startsWith('b64:') || value.startsWith('sha256:');
  return encode ? `b64:${Buffer.from(value, 'utf8').toString('base64url')}` : value;
}

/**
 * `{prefix}{segment}`; an id that would pass Cosmos' 1023-byte limit (a 1024-byte key, or its
 * base64 form) becomes `{prefix}sha256:{hex}` instead. Beyond the spec, which has no answer for
 * long keys; every reader still finds the item by its `key` field in queries.
 */
function itemId(prefix: string, value: string): string {
  const id = `${prefix}${idSegment(value)}`;
  if (Buffer.byteLength(id, 'utf8') <= MAX_ID_BYTES) return id;
  return `${prefix}sha256:${createHash('sha256').update(value, 'utf8').digest('hex')}`;
}

export const bucketItemId = (name: string): string => itemId('bucket_', name);
export const objectItemId = (bucket: string, key: string): string => itemId(`object_${bucket}_`, key);
export const uploadItemId = (uploadId: string): string => itemId('upload_', uploadId);
export const partItemIdPrefix = (uploadId: string): string => `part_${idSegment(uploadId)}_`;
export const partItemId = (uploadId: string, partNumber: number): string =>
  `${partItemIdPrefix(uploadId)}${String(partNumber).padStart(5, '0')}`;
export const credentialItemId = (accessKeyId: string): string => itemId('cred_', accessKeyId);
export const intentItemId = (id: string): string => itemId('intent_', id);

// ---- listing order ----

/**
 * S3 lists in UTF-8 byte order. @vercel/cosmosdb-server compares strings with JS `<` (UTF-16 code
 * units), which puts astral characters before U+E000..U+FFFF; the real service's string order is
 * not documented as UTF-8 either. Hex of the UTF-8 bytes orders the same under every one of these
 * orders (it is ASCII), and a byte prefix of the key is a string prefix of its hex, so listing
 * filters and orders by this field instead of `key`.
 */
export function utf8Hex(s: string): string {
  return Buffer.from(s, 'utf8').toString('hex');
}

/**
 * The `list_order` field. Objects: utf8Hex(key). Uploads: utf8Hex(key) ' ' initiated_at ' '
 * utf8Hex(upload_id), i.e. the upload listing order (key, initiated_at, upload id) in one field, so
 * one ORDER BY serves it without a composite index. ' ' sorts below every hex digit, so a key
 * orders before its extensions exactly as in the tuple order.
 */
export function objectListOrder(key: string): string {
  return utf8Hex(key);
}
export function uploadListOrder(u: Pick<UploadRecord, 'key' | 'initiated_at' | 'upload_id'>): string {
  return `${utf8Hex(u.key)} ${u.initiated_at} ${utf8Hex(u.upload_id)}`;
}
/** Lower bound (inclusive) of the upload list_order values of keys > `key`: '!' sorts after ' '. */
export function uploadListOrderAfterKey(key: string): string {
  return `${utf8Hex(key)}!`;
}

// ---- items ----

/** System properties Cosmos adds to every item it returns. */
interface SystemFields {
  _etag?: string;
  _rid?: string;
  _self?: string;
  _ts?: number;
  _attachments?: string;
}

interface PinnedChecksum {
  algorithm: string;
  value: string;
  /** The item etag (the S3 ETag field, not Cosmos' _etag) this checksum belongs to. */
  etag: string;
}

export interface BucketItem extends SystemFields {
  id: string;
  type: typeof BUCKET;
  name: string;
  region: string;
  owner_id: string;
  owner_display: string;
  acl: string;
  created_at: string;
}

interface ContentItemFields {
  content_type: string;
  content_encoding: string | null;
  content_language: string | null;
  content_disposition: string | null;
  cache_control: string | null;
  expires: string | null;
  storage_class: string;
  acl: string;
  user_metadata: string;
}

export interface ObjectItem extends SystemFields, ContentItemFields {
  id: string;
  type: typeof OBJECT;
  bucket: string;
  key: string;
  size: number;
  etag: string;
  last_modified: string;
  delete_marker: boolean;
  list_order?: string;
  checksum?: PinnedChecksum;
}

export interface UploadItem extends SystemFields, ContentItemFields {
  id: string;
  type: typeof UPLOAD;
  upload_id: string;
  bucket: string;
  key: string;
  owner_id: string;
  owner_display: string;
  initiated_at: string;
  list_order?: string;
  checksum_algorithm?: string;
  checksum_type?: string | null;
}

export interface PartItem extends SystemFields {
  id: string;
  type: typeof UPLOAD;
  upload_id: string;
  part_number: number;
  size: number;
  etag: string;
  last_modified: string;
  checksum?: PinnedChecksum;
}

export interface CredentialItem extends SystemFields {
  id: string;
  type: typeof CREDENTIAL;
  access_key_id: string;
  secret_key: string;
  owner_id: string;
  display_name: string;
  active: boolean;
  created_at: string;
}

export interface IntentItem extends SystemFields {
  id: string;
  type: typeof INTENT;
  /** CommitIntent.id (the item's own `id` is intentItemId of it). */
  intent_id: string;
  staged_path: string;
  action: CommitAction;
  created_at: string;
}

// ---- tolerant field readers: items may come from other implementations ----

type Fields = Record<string, unknown>;

function str(v: unknown, fallback: string): string {
  return typeof v === 'string' ? v : fallback;
}
function nullableStr(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}
function num(v: unknown): number {
  return typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : 0;
}
function bool(v: unknown, fallback: boolean): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  return fallback;
}
/** acl / user_metadata: JSON text per spec; an object (Rust-style) is accepted and re-encoded. */
function jsonText(v: unknown): string {
  if (typeof v === 'string') return v === '' ? '{}' : v;
  if (v !== null && typeof v === 'object') return JSON.stringify(v);
  return '{}';
}
function pinnedChecksum(v: unknown, etag: string): ObjectChecksum | null {
  if (v === null || typeof v !== 'object') return null;
  const c = v as Fields;
  if (typeof c.algorithm !== 'string' || typeof c.value !== 'string' || c.etag !== etag) return null;
  return { algorithm: c.algorithm, value: c.value };
}
function pin(checksum: ObjectChecksum | null | undefined, etag: string): PinnedChecksum | undefined {
  return checksum ? { algorithm: checksum.algorithm, value: checksum.value, etag } : undefined;
}

function contentFields(f: Fields): ContentItemFields {
  return {
    content_type: str(f.content_type, 'application/octet-stream'),
    content_encoding: nullableStr(f.content_encoding),
    content_language: nullableStr(f.content_language),
    content_disposition: nullableStr(f.content_disposition),
    cache_control: nullableStr(f.cache_control),
    expires: nullableStr(f.expires),
    storage_class: str(f.storage_class, 'STANDARD'),
    acl: jsonText(f.acl),
    user_metadata: jsonText(f.user_metadata),
  };
}

/** Drops undefined members so an item carries no optional field it does not have. */
function compact<T extends object>(item: T): T {
  for (const [k, v] of Object.entries(item)) if (v === undefined) delete (item as Fields)[k];
  return item;
}

// ---- buckets ----

export function bucketToItem(b: BucketRecord): BucketItem {
  return {
    id: bucketItemId(b.name),
    type: BUCKET,
    name: b.name,
    region: b.region,
    owner_id: b.owner_id,
    owner_display: b.owner_display,
    acl: b.acl,
    created_at: b.created_at,
  };
}

export function bucketFromItem(f: Fields): BucketRecord {
  return {
    name: str(f.name, ''),
    region: str(f.region, 'us-east-1'),
    owner_id: str(f.owner_id, ''),
    owner_display: str(f.owner_display, ''),
    acl: jsonText(f.acl),
    created_at: str(f.created_at, ''),
  };
}

// ---- objects ----

export function objectToItem(o: ObjectRecord): ObjectItem {
  return compact<ObjectItem>({
    id: objectItemId(o.bucket, o.key),
    type: OBJECT,
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
    delete_marker: o.delete_marker,
    list_order: objectListOrder(o.key),
    checksum: pin(o.checksum, o.etag),
  });
}

export function objectFromItem(f: Fields): ObjectRecord {
  const etag = str(f.etag, '');
  return {
    bucket: str(f.bucket, ''),
    key: str(f.key, ''),
    size: num(f.size),
    etag,
    ...contentFields(f),
    last_modified: str(f.last_modified, ''),
    delete_marker: bool(f.delete_marker, false),
    checksum: pinnedChecksum(f.checksum, etag),
  };
}

// ---- uploads ----

export function uploadToItem(u: UploadRecord): UploadItem {
  return compact<UploadItem>({
    id: uploadItemId(u.upload_id),
    type: UPLOAD,
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
    list_order: uploadListOrder(u),
    checksum_algorithm: u.checksum_algorithm ? u.checksum_algorithm : undefined,
    checksum_type: u.checksum_algorithm ? (u.checksum_type ?? null) : undefined,
  });
}

export function uploadFromItem(f: Fields): UploadRecord {
  const u: UploadRecord = {
    upload_id: str(f.upload_id, ''),
    bucket: str(f.bucket, ''),
    key: str(f.key, ''),
    ...contentFields(f),
    owner_id: str(f.owner_id, ''),
    owner_display: str(f.owner_display, ''),
    initiated_at: str(f.initiated_at, ''),
  };
  // Present only when declared, as every engine returns them.
  if (typeof f.checksum_algorithm === 'string' && f.checksum_algorithm !== '') {
    u.checksum_algorithm = f.checksum_algorithm;
    u.checksum_type = nullableStr(f.checksum_type);
  }
  return u;
}

// ---- parts ----

export function partToItem(p: PartRecord): PartItem {
  return compact<PartItem>({
    id: partItemId(p.upload_id, p.part_number),
    type: UPLOAD,
    upload_id: p.upload_id,
    part_number: p.part_number,
    size: p.size,
    etag: p.etag,
    last_modified: p.last_modified,
    checksum: pin(p.checksum, p.etag),
  });
}

export function partFromItem(f: Fields): PartRecord {
  const etag = str(f.etag, '');
  const p: PartRecord = {
    upload_id: str(f.upload_id, ''),
    part_number: num(f.part_number),
    size: num(f.size),
    etag,
    last_modified: str(f.last_modified, ''),
  };
  const checksum = pinnedChecksum(f.checksum, etag);
  if (checksum) p.checksum = checksum;
  return p;
}

// ---- credentials ----

export function credentialToItem(c: CredentialRecord): CredentialItem {
  return {
    id: credentialItemId(c.access_key_id),
    type: CREDENTIAL,
    access_key_id: c.access_key_id,
    secret_key: c.secret_key,
    owner_id: c.owner_id,
    display_name: c.display_name,
    active: c.active,
    created_at: c.created_at,
  };
}

export function credentialFromItem(f: Fields): CredentialRecord {
  return {
    access_key_id: str(f.access_key_id, ''),
    secret_key: str(f.secret_key, ''),
    owner_id: str(f.owner_id, ''),
    display_name: str(f.display_name, ''),
    active: bool(f.active, true),
    created_at: str(f.created_at, ''),
  };
}

// ---- commit intents ----

export function intentToItem(i: CommitIntent): IntentItem {
  return { id: intentItemId(i.id), type: INTENT, intent_id: i.id, staged_path: i.staged_path, action: i.action, created_at: i.created_at };
}

export function intentFromItem(f: Fields): CommitIntent {
  return { id: str(f.intent_id, ''), staged_path: str(f.staged_path, ''), action: f.action as CommitAction, created_at: str(f.created_at, '') };
}

// ---- multi-item removal plan ----

/** Operations per transactional batch (Cosmos limit). */
export const MAX_BATCH_OPS = 100;

/**
 * The batches that remove an upload: its parts first, the upload item in the LAST batch (with up
 * to 99 parts, atomically where batches are atomic). Until that last batch commits the upload is
 * still visible, so a crash part-way leaves a retryable state: re-running Complete/Abort (commit
 * intent roll-forward) or the reaper finds the upload and removes whatever parts remain; no part
 * outlives its upload.
 */
export function uploadRemovalBatches(uploadId: string, partIds: readonly string[]): string[][] {
  const lastBatchParts = MAX_BATCH_OPS - 1;
  const early = partIds.length > lastBatchParts ? partIds.slice(0, partIds.length - lastBatchParts) : [];
  const batches: string[][] = [];
  for (let i = 0; i < early.length; i += MAX_BATCH_OPS) batches.push(early.slice(i, i + MAX_BATCH_OPS));
  batches.push([...partIds.slice(early.length), uploadItemId(uploadId)]);
  return batches;
}

/** What the multipart completion needs from the container; the engine binds it to the SDK. */
export interface UploadRemovalPort {
  /** Ids of the upload's part items (any order). */
  partItemIds(uploadId: string): Promise<string[]>;
  /**
   * One transactional batch of deletes in the 'upload' partition; the status of each op, in order.
   * An atomic service answers a batch with a missing item as 404 for it and 424 for the others
   * (nothing applied); @vercel/cosmosdb-server applies the others (204) and answers 404 for it.
   */
  deleteBatch(itemIds: string[]): Promise<number[]>;
}

export interface CompletionPort extends UploadRemovalPort {
  bucketExists(name: string): Promise<boolean>;
  readUpload(uploadId: string): Promise<UploadRecord | null>;
  upsertObject(obj: ObjectRecord): Promise<void>;
}

const isSuccess = (status: number | undefined): boolean => status !== undefined && status >= 200 && status < 300;

/**
 * Deletes `itemIds` (one partition, at most 100) in one batch, idempotently: items already gone (404) are dropped and the ops
 * a failed atomic batch did not apply (424) run again, so the batch ends with every item gone on
 * atomic and non-atomic servers alike.
 */
export async function deleteAllInBatch(deleteBatch: (itemIds: string[]) => Promise<number[]>, itemIds: readonly string[]): Promise<void> {
  let pending = [...itemIds];
  while (pending.length > 0) {
    const statuses = await deleteBatch(pending);
    const unexpected = statuses.find((s) => !isSuccess(s) && s !== 404 && s !== 424);
    if (unexpected !== undefined) throw new Error(`cosmos: batch delete failed with status ${unexpected}`);
    const next = pending.filter((_, i) => !isSuccess(statuses[i]) && statuses[i] !== 404);
    if (next.length === pending.length) throw new Error('cosmos: batch delete made no progress');
    pending = next;
  }
}

/** Removes an upload and its parts (uploadRemovalBatches order); a no-op once it is gone. */
export async function removeUpload(port: UploadRemovalPort, uploadId: string): Promise<void> {
  const partIds = await port.partItemIds(uploadId);
  for (const batch of uploadRemovalBatches(uploadId, partIds)) await deleteAllInBatch((ids) => port.deleteBatch(ids), batch);
}

/**
 * CompleteMultipartUpload (metadata.md §3 M6). The object lives in partition 'object', the upload
 * and parts in 'upload', and a transactional batch spans one partition, so Complete cannot be a
 * single atomic write. Instead the steps are ordered so every prefix of them is a safe state:
 *   1. check the object's bucket: a Complete that cannot succeed changes nothing;
 *   2. upsert the object (from here the new object is visible);
 *   3. remove the parts, then (last batch) the upload — see uploadRemovalBatches.
 * A crash after 2 leaves the object written and the upload still listed with some or all of its
 * parts: the commit intent of the Complete rolls it forward at the next start by running this
 * again, which is idempotent (the upsert rewrites the same row; removal deletes what remains,
 * skipping what is gone), and the reaper would remove a leftover upload in any case. No state ever
 * shows the upload gone while the object is missing, and no part ever outlives its upload.
 */
export async function completeUpload(port: CompletionPort, bucket: string, key: string, uploadId: string, obj: ObjectRecord): Promise<void> {
  if (!(await port.bucketExists(obj.bucket))) throw new Error(`metadata: bucket ${obj.bucket} does not exist`);
  await port.upsertObject(obj);
  const upload = await port.readUpload(uploadId);
  if (upload === null || upload.bucket !== bucket || upload.key !== key) return;
  await removeUpload(port, uploadId);
}
