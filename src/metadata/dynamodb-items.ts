// Item <-> record mapping of the DynamoDB engine (metadata.md §7): the single-table layout every
// BleepStore implementation shares. Attribute names are the SQLite column names; optional content
// attributes are omitted when null; there is no delete_marker attribute.
//
// Beyond the spec layout (ignored by other implementations, and dropped by their PutItem
// overwrites because they live on the same item): object and part `checksum_algorithm` +
// `checksum_value`, upload `checksum_algorithm` + `checksum_type`, and commit-intent items.
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type {
  BucketRecord,
  CommitAction,
  CommitIntent,
  ContentFields,
  CredentialRecord,
  ObjectChecksum,
  ObjectRecord,
  PartRecord,
  UploadRecord,
} from './types.js';

export type Item = Record<string, AttributeValue>;

/** Sort key of every non-part item. */
export const METADATA_SK = '#METADATA';
export const PART_SK_PREFIX = 'PART#';
/** Part numbers are zero-padded to 5 digits so sort-key order is numeric order. */
export const MAX_PART_SK_NUMBER = 99999;

export const bucketPk = (name: string): string => `BUCKET#${name}`;
/** Bucket names cannot contain '#', so the bucket/key split is unambiguous. */
export const objectPk = (bucket: string, key: string): string => `OBJECT#${bucket}#${key}`;
export const uploadPk = (uploadId: string): string => `UPLOAD#${uploadId}`;
export const credentialPk = (accessKeyId: string): string => `CRED#${accessKeyId}`;
export const partSk = (partNumber: number): string => `${PART_SK_PREFIX}${String(partNumber).padStart(5, '0')}`;

/** The primary key of an item (pk, sk). */
export function itemKey(pk: string, sk: string = METADATA_SK): Item {
  return { pk: { S: pk }, sk: { S: sk } };
}

/**
 * Commit intents are spread over a few partitions (pk `INTENT#{shard}`, sk = intent id) rather
 * than one item partition each: listing them at startup is then a handful of Queries instead of
 * a Scan of the whole table, and no single partition carries every publish of the cluster.
 */
export const INTENT_SHARDS = 16;

export function intentPk(id: string): string {
  let hash = 0x811c9dc5; // FNV-1a: stable across processes and implementations
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193);
  return intentShardPk((hash >>> 0) % INTENT_SHARDS);
}

export const intentShardPk = (shard: number): string => `INTENT#${shard.toString(16).padStart(2, '0')}`;

// ---- attribute readers (tolerant of what other implementations may have written) ----

/** A string attribute; numbers are returned as text, NULL/absent as null, maps and lists as JSON. */
function str(item: Item, name: string): string | null {
  const v = item[name];
  if (v === undefined || v.NULL === true) return null;
  if (v.S !== undefined) return v.S;
  if (v.N !== undefined) return v.N;
  if (v.BOOL !== undefined) return String(v.BOOL);
  return JSON.stringify(plain(v));
}

function reqStr(item: Item, name: string, fallback = ''): string {
  return str(item, name) ?? fallback;
}

function num(item: Item, name: string): number {
  const v = item[name];
  if (v?.N !== undefined) return Number(v.N);
  if (v?.S !== undefined) return Number(v.S);
  return 0;
}

function bool(item: Item, name: string, fallback: boolean): boolean {
  const v = item[name];
  if (v?.BOOL !== undefined) return v.BOOL;
  if (v?.N !== undefined) return v.N !== '0';
  if (v?.S !== undefined) return v.S === 'true' || v.S === '1';
  return fallback;
}

/** JSON text of an attribute that should hold JSON text (acl, user_metadata); '{}' when absent. */
function jsonText(item: Item, name: string): string {
  return str(item, name) ?? '{}';
}

type Plain = string | number | boolean | null | Plain[] | { [k: string]: Plain };

function plain(v: AttributeValue): Plain {
  if (v.S !== undefined) return v.S;
  if (v.N !== undefined) return Number(v.N);
  if (v.BOOL !== undefined) return v.BOOL;
  if (v.L !== undefined) return v.L.map(plain);
  if (v.M !== undefined) return Object.fromEntries(Object.entries(v.M).map(([k, x]) => [k, plain(x)]));
  if (v.SS !== undefined) return v.SS;
  if (v.NS !== undefined) return v.NS.map(Number);
  return null;
}

// ---- attribute writers ----

const S = (value: string): AttributeValue => ({ S: value });
const N = (value: number): AttributeValue => ({ N: String(value) });

const CONTENT_OPTIONAL = ['content_encoding', 'content_language', 'content_disposition', 'cache_control', 'expires'] as const;

function putOptionalContent(item: Item, c: ContentFields): void {
  for (const name of CONTENT_OPTIONAL) {
    const value = c[name];
    if (value !== null && value !== undefined) item[name] = S(value);
  }
}

function readContent(item: Item): ContentFields {
  return {
    content_type: reqStr(item, 'content_type', 'application/octet-stream'),
    content_encoding: str(item, 'content_encoding'),
    content_language: str(item, 'content_language'),
    content_disposition: str(item, 'content_disposition'),
    cache_control: str(item, 'cache_control'),
    expires: str(item, 'expires'),
  };
}

function readChecksum(item: Item): ObjectChecksum | null {
  const algorithm = str(item, 'checksum_algorithm');
  const value = str(item, 'checksum_value');
  return algorithm !== null && value !== null ? { algorithm, value } : null;
}

// ---- buckets ----

export function bucketItem(b: BucketRecord): Item {
  return {
    ...itemKey(bucketPk(b.name)),
    type: S('bucket'),
    name: S(b.name),
    region: S(b.region),
    owner_id: S(b.owner_id),
    owner_display: S(b.owner_display),
    acl: S(b.acl),
    created_at: S(b.created_at),
  };
}

export function bucketFromItem(item: Item): BucketRecord {
  return {
    name: reqStr(item, 'name'),
    region: reqStr(item, 'region', 'us-east-1'),
    owner_id: reqStr(item, 'owner_id'),
    owner_display: reqStr(item, 'owner_display'),
    acl: jsonText(item, 'acl'),
    created_at: reqStr(item, 'created_at'),
  };
}

// ---- objects ----

export function objectItem(o: ObjectRecord): Item {
  const item: Item = {
    ...itemKey(objectPk(o.bucket, o.key)),
    type: S('object'),
    bucket: S(o.bucket),
    key: S(o.key),
    size: N(o.size),
    etag: S(o.etag),
    content_type: S(o.content_type),
    storage_class: S(o.storage_class),
    acl: S(o.acl),
    user_metadata: S(o.user_metadata),
    last_modified: S(o.last_modified),
  };
  putOptionalContent(item, o);
  if (o.checksum) {
    item.checksum_algorithm = S(o.checksum.algorithm);
    item.checksum_value = S(o.checksum.value);
  }
  return item;
}

export function objectFromItem(item: Item): ObjectRecord {
  return {
    bucket: reqStr(item, 'bucket'),
    key: reqStr(item, 'key'),
    size: num(item, 'size'),
    etag: reqStr(item, 'etag'),
    ...readContent(item),
    storage_class: reqStr(item, 'storage_class', 'STANDARD'),
    acl: jsonText(item, 'acl'),
    user_metadata: jsonText(item, 'user_metadata'),
    last_modified: reqStr(item, 'last_modified'),
    delete_marker: false,
    checksum: readChecksum(item),
  };
}

// ---- uploads and parts ----

export function uploadItem(u: UploadRecord): Item {
  const item: Item = {
    ...itemKey(uploadPk(u.upload_id)),
    type: S('upload'),
    upload_id: S(u.upload_id),
    bucket: S(u.bucket),
    key: S(u.key),
    content_type: S(u.content_type),
    storage_class: S(u.storage_class),
    acl: S(u.acl),
    user_metadata: S(u.user_metadata),
    owner_id: S(u.owner_id),
    owner_display: S(u.owner_display),
    initiated_at: S(u.initiated_at),
  };
  putOptionalContent(item, u);
  if (u.checksum_algorithm) {
    item.checksum_algorithm = S(u.checksum_algorithm);
    item.checksum_type = S(u.checksum_type ?? 'COMPOSITE');
  }
  return item;
}

export function uploadFromItem(item: Item): UploadRecord {
  const u: UploadRecord = {
    upload_id: reqStr(item, 'upload_id'),
    bucket: reqStr(item, 'bucket'),
    key: reqStr(item, 'key'),
    ...readContent(item),
    storage_class: reqStr(item, 'storage_class', 'STANDARD'),
    acl: jsonText(item, 'acl'),
    user_metadata: jsonText(item, 'user_metadata'),
    owner_id: reqStr(item, 'owner_id'),
    owner_display: reqStr(item, 'owner_display'),
    initiated_at: reqStr(item, 'initiated_at'),
  };
  // Present only when declared, so records without a checksum round-trip unchanged.
  const algorithm = str(item, 'checksum_algorithm');
  if (algorithm !== null) {
    u.checksum_algorithm = algorithm;
    u.checksum_type = str(item, 'checksum_type');
  }
  return u;
}

export function partItem(
  uploadId: string,
  partNumber: number,
  size: number,
  etag: string,
  lastModified: string,
  checksum: ObjectChecksum | null,
): Item {
  const item: Item = {
    ...itemKey(uploadPk(uploadId), partSk(partNumber)),
    type: S('part'),
    upload_id: S(uploadId),
    part_number: N(partNumber),
    size: N(size),
    etag: S(etag),
    last_modified: S(lastModified),
  };
  if (checksum) {
    item.checksum_algorithm = S(checksum.algorithm);
    item.checksum_value = S(checksum.value);
  }
  return item;
}

export function partFromItem(item: Item): PartRecord {
  const p: PartRecord = {
    upload_id: reqStr(item, 'upload_id'),
    part_number: num(item, 'part_number'),
    size: num(item, 'size'),
    etag: reqStr(item, 'etag'),
    last_modified: reqStr(item, 'last_modified'),
  };
  const checksum = readChecksum(item);
  if (checksum) p.checksum = checksum;
  return p;
}

// ---- credentials ----

export function credentialFromItem(item: Item): CredentialRecord {
  return {
    access_key_id: reqStr(item, 'access_key_id'),
    secret_key: reqStr(item, 'secret_key'),
    owner_id: reqStr(item, 'owner_id'),
    display_name: reqStr(item, 'display_name'),
    active: bool(item, 'active', true),
    created_at: reqStr(item, 'created_at'),
  };
}

// ---- commit intents ----

export function intentItem(intent: CommitIntent): Item {
  return {
    ...itemKey(intentPk(intent.id), intent.id),
    type: S('intent'),
    id: S(intent.id),
    staged_path: S(intent.staged_path),
    action: S(JSON.stringify(intent.action)),
    created_at: S(intent.created_at),
  };
}

export function intentFromItem(item: Item): CommitIntent {
  return {
    id: reqStr(item, 'id'),
    staged_path: reqStr(item, 'staged_path'),
    action: JSON.parse(reqStr(item, 'action', 'null')) as CommitAction,
    created_at: reqStr(item, 'created_at'),
  };
}
