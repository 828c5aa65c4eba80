// Memory metadata engine (metadata.md §5): plain maps, no persistence. Each bucket keeps its keys
// (and its uploads) in a sorted array in UTF-8 byte order, so listing reads a range by binary
// search instead of sorting the bucket on every call. Records are copied in and out so callers
// can never mutate stored state. Referential rules mirror the SQLite engine's foreign keys.
import { compareUploads, listObjectsWith, listUploadsWith, partsPage, utf8Compare, type ListCursor } from './listing.js';
import { isoNow, isoSecondsAgo } from './time.js';
import {
  BucketExistsError,
  type BucketRecord,
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

/** Array kept sorted by `compare`; equal items are replaced, not duplicated. */
class SortedArray<T> {
  readonly items: T[] = [];
  constructor(private readonly compare: (a: T, b: T) => number) {}

  /** Index of the first item for which `atOrAfter` holds (it must be monotone over the order). */
  firstIndex(atOrAfter: (item: T) => boolean): number {
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (atOrAfter(this.items[mid] as T)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  upsert(item: T): void {
    const i = this.firstIndex((x) => this.compare(x, item) >= 0);
    const found = i < this.items.length && this.compare(this.items[i] as T, item) === 0;
    this.items.splice(i, found ? 1 : 0, item);
  }

  remove(item: T): void {
    const i = this.firstIndex((x) => this.compare(x, item) >= 0);
    if (i < this.items.length && this.compare(this.items[i] as T, item) === 0) this.items.splice(i, 1);
  }

  /** Up to `limit` items from index `start` whose key is below `end` (null = no bound). */
  slice(start: number, limit: number, end: string | null, keyOf: (item: T) => string): T[] {
    const out: T[] = [];
    for (let i = start; i < this.items.length && out.length < limit; i++) {
      const item = this.items[i] as T;
      if (end !== null && utf8Compare(keyOf(item), end) >= 0) break;
      out.push(item);
    }
    return out;
  }
}

interface BucketState {
  record: BucketRecord;
  objects: Map<string, ObjectRecord>;
  keys: SortedArray<string>;
  uploads: SortedArray<UploadRecord>;
}

function copyObject(o: ObjectRecord): ObjectRecord {
  return { ...o, checksum: o.checksum ? { ...o.checksum } : null };
}

/** Checksum fields are present only when set, as the SQLite engine returns them. */
function copyUpload(u: UploadRecord): UploadRecord {
  const { checksum_algorithm, checksum_type, ...rest } = u;
  const copy: UploadRecord = { ...rest };
  if (checksum_algorithm) {
    copy.checksum_algorithm = checksum_algorithm;
    copy.checksum_type = checksum_type ?? null;
  }
  return copy;
}

function copyPart(p: PartRecord): PartRecord {
  const { checksum, ...rest } = p;
  return checksum ? { ...rest, checksum: { ...checksum } } : rest;
}

/** Start index of a range read for a cursor over items ordered by key (then `compareRows`). */
function cursorStart<T>(
  list: SortedArray<T>,
  cursor: ListCursor<T>,
  keyOf: (item: T) => string,
  compareRows: (a: T, b: T) => number,
): number {
  if (cursor.kind === 'after') return list.firstIndex((x) => compareRows(x, cursor.row) > 0);
  const { key, inclusive } = cursor;
  return list.firstIndex((x) => (inclusive ? utf8Compare(keyOf(x), key) >= 0 : utf8Compare(keyOf(x), key) > 0));
}

export class MemoryMetadataStore implements MetadataStore {
  private readonly buckets = new Map<string, BucketState>();
  private readonly uploads = new Map<string, UploadRecord>();
  private readonly parts = new Map<string, Map<number, PartRecord>>();
  private readonly credentials = new Map<string, CredentialRecord>();

  async init(): Promise<void> {}
  async close(): Promise<void> {}
  async ping(): Promise<void> {}

  private bucketState(name: string): BucketState {
    const state = this.buckets.get(name);
    if (state === undefined) throw new Error(`metadata: bucket ${name} does not exist`);
    return state;
  }

  // ---- buckets ----

  async createBucket(b: BucketRecord): Promise<void> {
    if (this.buckets.has(b.name)) throw new BucketExistsError(b.name);
    this.buckets.set(b.name, {
      record: { ...b, created_at: b.created_at || isoNow() },
      objects: new Map(),
      keys: new SortedArray(utf8Compare),
      uploads: new SortedArray(compareUploads),
    });
  }

  async getBucket(name: string): Promise<BucketRecord | null> {
    const state = this.buckets.get(name);
    return state === undefined ? null : { ...state.record };
  }

  async bucketExists(name: string): Promise<boolean> {
    return this.buckets.has(name);
  }

  async listBuckets(ownerId?: string): Promise<BucketRecord[]> {
    return [...this.buckets.values()]
      .map((s) => s.record)
      .filter((b) => ownerId === undefined || b.owner_id === ownerId)
      .sort((a, b) => utf8Compare(a.name, b.name))
      .map((b) => ({ ...b }));
  }

  async deleteBucket(name: string): Promise<void> {
    const state = this.buckets.get(name);
    if (state === undefined) return;
    for (const u of state.uploads.items) {
      this.uploads.delete(u.upload_id);
      this.parts.delete(u.upload_id);
    }
    this.buckets.delete(name);
  }

  async updateBucketAcl(name: string, acl: string): Promise<void> {
    const state = this.buckets.get(name);
    if (state !== undefined) state.record.acl = acl;
  }

  // ---- objects ----

  private upsertObject(o: ObjectRecord): void {
    const state = this.bucketState(o.bucket);
    state.objects.set(o.key, copyObject({ ...o, last_modified: o.last_modified || isoNow() }));
    state.keys.upsert(o.key);
  }

  async putObject(obj: ObjectRecord): Promise<void> {
    this.upsertObject(obj);
  }

  async getObject(bucket: string, key: string): Promise<ObjectRecord | null> {
    const o = this.buckets.get(bucket)?.objects.get(key);
    return o === undefined ? null : copyObject(o);
  }

  async objectExists(bucket: string, key: string): Promise<boolean> {
    return this.buckets.get(bucket)?.objects.has(key) ?? false;
  }

  private deleteObjectEntry(bucket: string, key: string): boolean {
    const state = this.buckets.get(bucket);
    if (state === undefined || !state.objects.delete(key)) return false;
    state.keys.remove(key);
    return true;
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    this.deleteObjectEntry(bucket, key);
  }

  async deleteObjectsMeta(bucket: string, keys: string[]): Promise<string[]> {
    return keys.filter((key) => this.deleteObjectEntry(bucket, key));
  }

  async updateObjectAcl(bucket: string, key: string, acl: string): Promise<void> {
    const o = this.buckets.get(bucket)?.objects.get(key);
    if (o !== undefined) o.acl = acl;
  }

  async listObjects(bucket: string, options: ListObjectsOptions): Promise<ListObjectsResult> {
    const state = this.buckets.get(bucket);
    if (state === undefined) return { contents: [], commonPrefixes: [], isTruncated: false };
    const byKey = (k: string): string => k;
    return listObjectsWith(options, (cursor, end, limit) => {
      const keyCursor: ListCursor<string> = cursor.kind === 'after' ? { kind: 'after', row: cursor.row.key } : cursor;
      const start = cursorStart(state.keys, keyCursor, byKey, utf8Compare);
      return state.keys.slice(start, limit, end, byKey).map((k) => copyObject(state.objects.get(k) as ObjectRecord));
    });
  }

  async countObjects(bucket: string): Promise<number> {
    return this.buckets.get(bucket)?.objects.size ?? 0;
  }

  // ---- multipart ----

  async createMultipartUpload(u: UploadRecord): Promise<void> {
    const state = this.bucketState(u.bucket);
    if (this.uploads.has(u.upload_id)) throw new Error(`metadata: upload ${u.upload_id} already exists`);
    const record = copyUpload({ ...u, initiated_at: u.initiated_at || isoNow() });
    this.uploads.set(u.upload_id, record);
    state.uploads.upsert(record);
  }

  async getMultipartUpload(bucket: string, key: string, uploadId: string): Promise<UploadRecord | null> {
    const u = this.uploads.get(uploadId);
    return u !== undefined && u.bucket === bucket && u.key === key ? copyUpload(u) : null;
  }

  async putPart(uploadId: string, partNumber: number, size: number, etag: string, checksum?: ObjectChecksum | null): Promise<void> {
    if (!this.uploads.has(uploadId)) throw new Error(`metadata: upload ${uploadId} does not exist`);
    let parts = this.parts.get(uploadId);
    if (parts === undefined) {
      parts = new Map();
      this.parts.set(uploadId, parts);
    }
    parts.set(partNumber, copyPart({ upload_id: uploadId, part_number: partNumber, size, etag, last_modified: isoNow(), checksum }));
  }

  private sortedParts(uploadId: string): PartRecord[] {
    return [...(this.parts.get(uploadId)?.values() ?? [])].sort((a, b) => a.part_number - b.part_number);
  }

  async listParts(uploadId: string, partNumberMarker: number, maxParts: number): Promise<ListPartsResult> {
    if (maxParts <= 0) return { parts: [], isTruncated: false };
    const after = this.sortedParts(uploadId).filter((p) => p.part_number > partNumberMarker);
    return partsPage(after.slice(0, maxParts + 1).map(copyPart), maxParts);
  }

  async getPartsForCompletion(uploadId: string): Promise<PartRecord[]> {
    return this.sortedParts(uploadId).map(copyPart);
  }

  async completeMultipartUpload(bucket: string, key: string, uploadId: string, obj: ObjectRecord): Promise<void> {
    this.bucketState(obj.bucket); // validate before mutating anything: all or nothing
    this.deleteUpload(bucket, key, uploadId);
    this.upsertObject(obj);
  }

  async abortMultipartUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    this.deleteUpload(bucket, key, uploadId);
  }

  private deleteUpload(bucket: string, key: string, uploadId: string): void {
    const u = this.uploads.get(uploadId);
    if (u === undefined || u.bucket !== bucket || u.key !== key) return;
    this.removeUpload(u);
  }

  private removeUpload(u: UploadRecord): void {
    this.uploads.delete(u.upload_id);
    this.parts.delete(u.upload_id);
    this.buckets.get(u.bucket)?.uploads.remove(u);
  }

  async listMultipartUploads(bucket: string, options: ListUploadsOptions): Promise<ListUploadsResult> {
    const state = this.buckets.get(bucket);
    if (state === undefined) return { uploads: [], commonPrefixes: [], isTruncated: false };
    const keyOf = (u: UploadRecord): string => u.key;
    return listUploadsWith(options, (cursor, end, limit) => {
      const start = cursorStart(state.uploads, cursor, keyOf, compareUploads);
      return state.uploads.slice(start, limit, end, keyOf).map(copyUpload);
    });
  }

  // ---- credentials ----

  async getCredential(accessKeyId: string): Promise<CredentialRecord | null> {
    const c = this.credentials.get(accessKeyId);
    return c !== undefined && c.active ? { ...c } : null;
  }

  async putCredential(cred: CredentialRecord): Promise<void> {
    const existing = this.credentials.get(cred.access_key_id);
    this.credentials.set(cred.access_key_id, {
      ...cred,
      created_at: existing?.created_at ?? (cred.created_at || isoNow()),
    });
  }

  // ---- maintenance ----

  async reapExpiredUploads(ttlSeconds: number): Promise<ReapedUpload[]> {
    const cutoff = isoSecondsAgo(ttlSeconds);
    const expired = [...this.uploads.values()]
      .filter((u) => u.initiated_at < cutoff)
      .sort((a, b) => (a.initiated_at < b.initiated_at ? -1 : a.initiated_at > b.initiated_at ? 1 : 0));
    for (const u of expired) this.removeUpload(u);
    return expired.map((u) => ({ upload_id: u.upload_id, bucket: u.bucket, key: u.key }));
  }

  // ---- commit intents (memory metadata does not survive a restart, so they only need to exist) ----

  private readonly intents = new Map<string, CommitIntent>();

  async recordCommitIntent(intent: CommitIntent): Promise<void> {
    this.intents.set(intent.id, structuredClone(intent));
  }

  async clearCommitIntent(id: string): Promise<void> {
    this.intents.delete(id);
  }

  async listCommitIntents(): Promise<CommitIntent[]> {
    return [...this.intents.values()]
      .sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((i) => structuredClone(i));
  }
}
