// Local JSONL metadata engine (metadata.md §6). All reads are served by an in-memory
// MemoryMetadataStore (the memory engine's logic, reused as is); every mutation is applied to it
// and then made durable by appending full records / tombstones to the per-table JSONL files, one
// fsync per file before the promise resolves. On start the files are replayed into a fresh memory
// store (and compacted first when configured). File formats: jsonl-records.ts; I/O: jsonl-log.ts.
//
// Mutations run one at a time under this store's write lock (the in-process exclusive lock of the
// spec; the MetadataActor serialises too). If an append fails, the memory state is rebuilt from
// the files, so memory never stays ahead of what a restart would see.
import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { JsonlAppender, readJsonl, rewriteJsonl, type JsonLine } from './jsonl-log.js';
import {
  JSONL_FILES,
  bucketCodec,
  bucketLine,
  credentialCodec,
  credentialLine,
  fold,
  intentCodec,
  intentLine,
  objectChecksumCodec,
  objectChecksumLine,
  objectCodec,
  objectLine,
  partChecksumCodec,
  partChecksumLine,
  partCodec,
  partLine,
  tombstone,
  uploadChecksumCodec,
  uploadChecksumLine,
  uploadCodec,
  uploadLine,
  type JsonlTable,
  type TableCodec,
} from './jsonl-records.js';
import { MemoryMetadataStore } from './memory.js';
import { isoNow } from './time.js';
import type {
  BucketRecord,
  CommitIntent,
  CredentialRecord,
  ListObjectsOptions,
  ListObjectsResult,
  ListPartsResult,
  ListUploadsOptions,
  ListUploadsResult,
  MetadataStore,
  ObjectChecksum,
  ObjectRecord,
  PartRecord,
  ReapedUpload,
  UploadRecord,
} from './types.js';

export interface LocalJsonlOptions {
  rootDir: string;
  compactOnStartup: boolean;
}

/** Appends one mutation makes, in causal order (children before parents on delete). */
type Writes = Array<[JsonlTable, JsonLine[]]>;

/** The surviving state of the files: orphans dropped, checksums attached where their ETag matches. */
interface Snapshot {
  buckets: BucketRecord[];
  objects: ObjectRecord[];
  uploads: UploadRecord[];
  parts: PartRecord[];
  credentials: CredentialRecord[];
  intents: CommitIntent[];
}

/** Everything derived from a snapshot; swapped as a whole after a failed append. */
interface State {
  mem: MemoryMetadataStore;
  /**
   * Part timestamps by upload and part number. The memory engine stamps parts with "now", which
   * would be wrong after a replay, so this store keeps the recorded times and reports those.
   */
  partTimes: Map<string, Map<number, string>>;
  /** created_at of every credential, active or not (the memory engine hides inactive ones). */
  credentialCreatedAt: Map<string, string>;
}

const TABLES = Object.keys(JSONL_FILES) as JsonlTable[];
const PAGE = 1000;

export class LocalJsonlMetadataStore implements MetadataStore {
  readonly rootDir: string;
  private readonly compactOnStartup: boolean;
  private readonly logs: Record<JsonlTable, JsonlAppender>;
  private state: State = emptyState();
  private lock: Promise<void> = Promise.resolve();
  private opened = false;

  constructor(options: LocalJsonlOptions) {
    this.rootDir = resolve(options.rootDir);
    this.compactOnStartup = options.compactOnStartup;
    this.logs = Object.fromEntries(TABLES.map((t) => [t, new JsonlAppender(this.path(t))])) as Record<JsonlTable, JsonlAppender>;
  }

  private path(table: JsonlTable): string {
    return join(this.rootDir, JSONL_FILES[table]);
  }

  private get mem(): MemoryMetadataStore {
    return this.state.mem;
  }

  async init(): Promise<void> {
    await this.exclusive(async () => {
      if (this.opened) return;
      await mkdir(this.rootDir, { recursive: true });
      const snapshot = await this.readSnapshot();
      if (this.compactOnStartup) await this.compact(snapshot);
      this.state = await loadState(snapshot);
      this.opened = true;
    });
  }

  async close(): Promise<void> {
    await this.exclusive(async () => {
      for (const t of TABLES) await this.logs[t].close();
      this.opened = false;
    });
  }

  async ping(): Promise<void> {
    await access(this.rootDir, constants.W_OK);
  }

  // ---- replay and compaction ----

  private async readSnapshot(): Promise<Snapshot> {
    const read = async <T>(table: JsonlTable, codec: TableCodec<T>): Promise<Map<string, T>> => fold(await readJsonl(this.path(table)), codec);
    const buckets = await read('buckets', bucketCodec);
    const objects = await read('objects', objectCodec);
    const uploads = await read('uploads', uploadCodec);
    const parts = await read('parts', partCodec);
    const credentials = await read('credentials', credentialCodec);
    const objectChecksums = await read('objectChecksums', objectChecksumCodec);
    const uploadChecksums = await read('uploadChecksums', uploadChecksumCodec);
    const partChecksums = await read('partChecksums', partChecksumCodec);
    const intents = await read('commitIntents', intentCodec);

    // Referential rules of the SQLite schema: a crash between the appends of one cascade can
    // leave children of a deleted parent; they are dropped here (and by compaction).
    const liveObjects = [...objects.entries()].filter(([, o]) => buckets.has(o.bucket));
    const liveUploads = [...uploads.values()].filter((u) => buckets.has(u.bucket));
    const uploadIds = new Set(liveUploads.map((u) => u.upload_id));
    return {
      buckets: [...buckets.values()],
      objects: liveObjects.map(([pk, o]) => {
        const row = objectChecksums.get(pk);
        return row !== undefined && row.etag === o.etag ? { ...o, checksum: row.checksum } : o;
      }),
      uploads: liveUploads.map((u) => {
        const row = uploadChecksums.get(u.upload_id);
        return row === undefined ? u : { ...u, checksum_algorithm: row.algorithm, checksum_type: row.type };
      }),
      parts: [...parts.entries()]
        .filter(([, p]) => uploadIds.has(p.upload_id))
        .map(([pk, p]) => {
          const row = partChecksums.get(pk);
          return row !== undefined && row.etag === p.etag ? { ...p, checksum: row.checksum } : p;
        }),
      credentials: [...credentials.values()],
      intents: [...intents.values()],
    };
  }

  /** Rewrites every file with only its surviving records, in canonical form. */
  private async compact(s: Snapshot): Promise<void> {
    const lines: Record<JsonlTable, JsonLine[]> = {
      buckets: s.buckets.map(bucketLine),
      objects: s.objects.map(objectLine),
      uploads: s.uploads.map(uploadLine),
      parts: s.parts.map(partLine),
      credentials: s.credentials.map(credentialLine),
      objectChecksums: s.objects.flatMap((o) => (o.checksum ? [objectChecksumLine(o, o.checksum)] : [])),
      uploadChecksums: s.uploads.flatMap((u) => (u.checksum_algorithm ? [uploadChecksumLine(u.upload_id, u.checksum_algorithm, u.checksum_type ?? 'COMPOSITE')] : [])),
      partChecksums: s.parts.flatMap((p) => (p.checksum ? [partChecksumLine(p, p.checksum)] : [])),
      commitIntents: s.intents.map(intentLine),
    };
    for (const t of TABLES) await rewriteJsonl(this.path(t), lines[t]);
  }

  // ---- the write path ----

  private exclusive<T>(op: () => Promise<T>): Promise<T> {
    const result = this.lock.then(op);
    this.lock = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** Runs `op` (which updates memory and returns its appends) and makes the appends durable. */
  private mutate<T>(op: () => Promise<{ result: T; writes: Writes }>): Promise<T> {
    return this.exclusive(async () => {
      if (!this.opened) throw new Error('metadata: local store is not open (call init first)');
      const { result, writes } = await op();
      try {
        for (const [table, lines] of groupByTable(writes)) await this.logs[table].append(lines);
      } catch (e) {
        this.state = await loadState(await this.readSnapshot());
        throw e;
      }
      return result;
    });
  }

  private async allObjects(bucket: string): Promise<ObjectRecord[]> {
    const out: ObjectRecord[] = [];
    for (let startAfter = ''; ; ) {
      const page = await this.mem.listObjects(bucket, { prefix: '', delimiter: '', maxKeys: PAGE, startAfter });
      out.push(...page.contents);
      const last = page.contents[page.contents.length - 1];
      if (!page.isTruncated || last === undefined) return out;
      startAfter = last.key;
    }
  }

  private async allUploads(bucket: string): Promise<UploadRecord[]> {
    const out: UploadRecord[] = [];
    for (let keyMarker = '', uploadIdMarker = ''; ; ) {
      const page = await this.mem.listMultipartUploads(bucket, { prefix: '', delimiter: '', maxUploads: PAGE, keyMarker, uploadIdMarker });
      out.push(...page.uploads);
      const last = page.uploads[page.uploads.length - 1];
      if (!page.isTruncated || last === undefined) return out;
      keyMarker = last.key;
      uploadIdMarker = last.upload_id;
    }
  }

  /** Appends that make an object write durable: its checksum row (or the old one's tombstone) first. */
  private objectWrites(prev: ObjectRecord | null, o: ObjectRecord): Writes {
    const pk = { bucket: o.bucket, key: o.key };
    const checksum: JsonLine[] = o.checksum ? [objectChecksumLine(o, o.checksum)] : prev?.checksum ? [tombstone(pk)] : [];
    return [
      ['objectChecksums', checksum],
      ['objects', [objectLine(o)]],
    ];
  }

  private objectRemovalWrites(removed: ObjectRecord[]): Writes {
    return [
      ['objectChecksums', removed.filter((o) => o.checksum).map((o) => tombstone({ bucket: o.bucket, key: o.key }))],
      ['objects', removed.map((o) => tombstone({ bucket: o.bucket, key: o.key }))],
    ];
  }

  /**
   * Tombstones for an upload and its parts (the spec's cascade; Python forgets them). Checksum
   * rows of parts are dropped with one per-upload tombstone in the side file.
   */
  private uploadRemovalWrites(uploadId: string, partNumbers: number[], hadUploadChecksum: boolean, hadPartChecksums: boolean): Writes {
    return [
      ['partChecksums', hadPartChecksums ? [tombstone({ upload_id: uploadId })] : []],
      ['parts', partNumbers.map((n) => tombstone({ upload_id: uploadId, part_number: n }))],
      ['uploadChecksums', hadUploadChecksum ? [tombstone({ upload_id: uploadId })] : []],
      ['uploads', [tombstone({ upload_id: uploadId })]],
    ];
  }

  private async uploadRemoval(u: UploadRecord): Promise<Writes> {
    const parts = await this.mem.getPartsForCompletion(u.upload_id);
    return this.uploadRemovalWrites(
      u.upload_id,
      parts.map((p) => p.part_number),
      Boolean(u.checksum_algorithm),
      parts.some((p) => p.checksum),
    );
  }

  private withPartTimes(parts: PartRecord[]): PartRecord[] {
    const times = parts.length > 0 ? this.state.partTimes.get((parts[0] as PartRecord).upload_id) : undefined;
    return parts.map((p) => ({ ...p, last_modified: times?.get(p.part_number) ?? p.last_modified }));
  }

  // ---- buckets ----

  createBucket(bucket: BucketRecord): Promise<void> {
    return this.mutate(async () => {
      const record = { ...bucket, created_at: bucket.created_at || isoNow() };
      await this.mem.createBucket(record);
      return { result: undefined, writes: [['buckets', [bucketLine(record)]]] };
    });
  }

  getBucket(name: string): Promise<BucketRecord | null> {
    return this.mem.getBucket(name);
  }

  bucketExists(name: string): Promise<boolean> {
    return this.mem.bucketExists(name);
  }

  listBuckets(ownerId?: string): Promise<BucketRecord[]> {
    return this.mem.listBuckets(ownerId);
  }

  deleteBucket(name: string): Promise<void> {
    return this.mutate(async () => {
      if (!(await this.mem.bucketExists(name))) return { result: undefined, writes: [] };
      const objects = await this.allObjects(name);
      const writes: Writes = [];
      const uploads = await this.allUploads(name);
      for (const u of uploads) writes.push(...(await this.uploadRemoval(u)));
      writes.push(...this.objectRemovalWrites(objects), ['buckets', [tombstone({ name })]]);
      await this.mem.deleteBucket(name);
      for (const u of uploads) this.state.partTimes.delete(u.upload_id);
      return { result: undefined, writes };
    });
  }

  updateBucketAcl(name: string, acl: string): Promise<void> {
    return this.mutate(async () => {
      await this.mem.updateBucketAcl(name, acl);
      const b = await this.mem.getBucket(name);
      return { result: undefined, writes: b === null ? [] : [['buckets', [bucketLine(b)]]] };
    });
  }

  // ---- objects ----

  putObject(obj: ObjectRecord): Promise<void> {
    return this.mutate(async () => {
      const record = { ...obj, last_modified: obj.last_modified || isoNow() };
      const prev = await this.mem.getObject(obj.bucket, obj.key);
      await this.mem.putObject(record);
      return { result: undefined, writes: this.objectWrites(prev, record) };
    });
  }

  getObject(bucket: string, key: string): Promise<ObjectRecord | null> {
    return this.mem.getObject(bucket, key);
  }

  objectExists(bucket: string, key: string): Promise<boolean> {
    return this.mem.objectExists(bucket, key);
  }

  deleteObject(bucket: string, key: string): Promise<void> {
    return this.mutate(async () => {
      const prev = await this.mem.getObject(bucket, key);
      if (prev === null) return { result: undefined, writes: [] };
      await this.mem.deleteObject(bucket, key);
      return { result: undefined, writes: this.objectRemovalWrites([prev]) };
    });
  }

  deleteObjectsMeta(bucket: string, keys: string[]): Promise<string[]> {
    return this.mutate(async () => {
      const prev = new Map<string, ObjectRecord>();
      for (const key of keys) {
        const o = await this.mem.getObject(bucket, key);
        if (o !== null) prev.set(key, o);
      }
      const deleted = await this.mem.deleteObjectsMeta(bucket, keys);
      const removed = deleted.map((k) => prev.get(k)).filter((o): o is ObjectRecord => o !== undefined);
      return { result: deleted, writes: this.objectRemovalWrites(removed) };
    });
  }

  updateObjectAcl(bucket: string, key: string, acl: string): Promise<void> {
    return this.mutate(async () => {
      await this.mem.updateObjectAcl(bucket, key, acl);
      const o = await this.mem.getObject(bucket, key);
      return { result: undefined, writes: o === null ? [] : [['objects', [objectLine(o)]]] };
    });
  }

  listObjects(bucket: string, options: ListObjectsOptions): Promise<ListObjectsResult> {
    return this.mem.listObjects(bucket, options);
  }

  countObjects(bucket: string): Promise<number> {
    return this.mem.countObjects(bucket);
  }

  // ---- multipart ----

  createMultipartUpload(upload: UploadRecord): Promise<void> {
    return this.mutate(async () => {
      const record: UploadRecord = { ...upload, initiated_at: upload.initiated_at || isoNow() };
      // The declared type defaults to COMPOSITE, as the SQLite engine stores it.
      if (record.checksum_algorithm) record.checksum_type = record.checksum_type ?? 'COMPOSITE';
      await this.mem.createMultipartUpload(record);
      const checksum = record.checksum_algorithm ? [uploadChecksumLine(record.upload_id, record.checksum_algorithm, record.checksum_type ?? 'COMPOSITE')] : [];
      return {
        result: undefined,
        writes: [
          ['uploadChecksums', checksum],
          ['uploads', [uploadLine(record)]],
        ],
      };
    });
  }

  getMultipartUpload(bucket: string, key: string, uploadId: string): Promise<UploadRecord | null> {
    return this.mem.getMultipartUpload(bucket, key, uploadId);
  }

  putPart(uploadId: string, partNumber: number, size: number, etag: string, checksum?: ObjectChecksum | null): Promise<void> {
    return this.mutate(async () => {
      const prev = (await this.mem.listParts(uploadId, partNumber - 1, 1)).parts.find((p) => p.part_number === partNumber);
      await this.mem.putPart(uploadId, partNumber, size, etag, checksum);
      const part: PartRecord = { upload_id: uploadId, part_number: partNumber, size, etag, last_modified: isoNow() };
      let times = this.state.partTimes.get(uploadId);
      if (times === undefined) this.state.partTimes.set(uploadId, (times = new Map()));
      times.set(partNumber, part.last_modified);
      const checksumLines = checksum ? [partChecksumLine(part, checksum)] : prev?.checksum ? [tombstone({ upload_id: uploadId, part_number: partNumber })] : [];
      return {
        result: undefined,
        writes: [
          ['partChecksums', checksumLines],
          ['parts', [partLine(part)]],
        ],
      };
    });
  }

  async listParts(uploadId: string, partNumberMarker: number, maxParts: number): Promise<ListPartsResult> {
    const page = await this.mem.listParts(uploadId, partNumberMarker, maxParts);
    return { ...page, parts: this.withPartTimes(page.parts) };
  }

  async getPartsForCompletion(uploadId: string): Promise<PartRecord[]> {
    return this.withPartTimes(await this.mem.getPartsForCompletion(uploadId));
  }

  completeMultipartUpload(bucket: string, key: string, uploadId: string, obj: ObjectRecord): Promise<void> {
    return this.mutate(async () => {
      const record = { ...obj, last_modified: obj.last_modified || isoNow() };
      const upload = await this.mem.getMultipartUpload(bucket, key, uploadId);
      const prev = await this.mem.getObject(record.bucket, record.key);
      const removal = upload === null ? [] : await this.uploadRemoval(upload);
      await this.mem.completeMultipartUpload(bucket, key, uploadId, record);
      this.state.partTimes.delete(uploadId);
      // The object first: a crash before the tombstones leaves a stale upload, never a lost object.
      return { result: undefined, writes: [...this.objectWrites(prev, record), ...removal] };
    });
  }

  abortMultipartUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    return this.mutate(async () => {
      const upload = await this.mem.getMultipartUpload(bucket, key, uploadId);
      if (upload === null) return { result: undefined, writes: [] };
      const removal = await this.uploadRemoval(upload);
      await this.mem.abortMultipartUpload(bucket, key, uploadId);
      this.state.partTimes.delete(uploadId);
      return { result: undefined, writes: removal };
    });
  }

  listMultipartUploads(bucket: string, options: ListUploadsOptions): Promise<ListUploadsResult> {
    return this.mem.listMultipartUploads(bucket, options);
  }

  // ---- credentials ----

  getCredential(accessKeyId: string): Promise<CredentialRecord | null> {
    return this.mem.getCredential(accessKeyId);
  }

  putCredential(cred: CredentialRecord): Promise<void> {
    return this.mutate(async () => {
      const createdAt = this.state.credentialCreatedAt.get(cred.access_key_id) ?? (cred.created_at || isoNow());
      const record = { ...cred, created_at: createdAt };
      await this.mem.putCredential(record);
      this.state.credentialCreatedAt.set(cred.access_key_id, createdAt);
      return { result: undefined, writes: [['credentials', [credentialLine(record)]]] };
    });
  }

  // ---- maintenance ----

  reapExpiredUploads(ttlSeconds: number): Promise<ReapedUpload[]> {
    return this.mutate(async () => {
      const reaped = await this.mem.reapExpiredUploads(ttlSeconds);
      // The uploads are gone from memory already: their part numbers come from partTimes, and
      // checksum rows are tombstoned unconditionally (harmless when there were none).
      const writes = reaped.flatMap((u) => this.uploadRemovalWrites(u.upload_id, [...(this.state.partTimes.get(u.upload_id)?.keys() ?? [])], true, true));
      for (const u of reaped) this.state.partTimes.delete(u.upload_id);
      return { result: reaped, writes };
    });
  }

  // ---- commit intents (durable: they are the crash-recovery protocol of s3/publish.ts) ----

  recordCommitIntent(intent: CommitIntent): Promise<void> {
    return this.mutate(async () => {
      await this.mem.recordCommitIntent(intent);
      return { result: undefined, writes: [['commitIntents', [intentLine(intent)]]] };
    });
  }

  clearCommitIntent(id: string): Promise<void> {
    return this.mutate(async () => {
      const existed = (await this.mem.listCommitIntents()).some((i) => i.id === id);
      await this.mem.clearCommitIntent(id);
      return { result: undefined, writes: existed ? [['commitIntents', [tombstone({ id })]]] : [] };
    });
  }

  listCommitIntents(): Promise<CommitIntent[]> {
    return this.mem.listCommitIntents();
  }
}

/** One append (one fsync) per file, files in the order they first appear, lines in order. */
function groupByTable(writes: Writes): Map<JsonlTable, JsonLine[]> {
  const grouped = new Map<JsonlTable, JsonLine[]>();
  for (const [table, lines] of writes) grouped.set(table, [...(grouped.get(table) ?? []), ...lines]);
  return grouped;
}

function emptyState(): State {
  return { mem: new MemoryMetadataStore(), partTimes: new Map(), credentialCreatedAt: new Map() };
}

/** Loads a snapshot into a fresh memory store through its public API, parents first. */
async function loadState(s: Snapshot): Promise<State> {
  const state = emptyState();
  const { mem } = state;
  for (const b of s.buckets) await mem.createBucket(b);
  for (const o of s.objects) await mem.putObject(o);
  for (const u of s.uploads) await mem.createMultipartUpload(u);
  for (const p of s.parts) {
    await mem.putPart(p.upload_id, p.part_number, p.size, p.etag, p.checksum);
    let times = state.partTimes.get(p.upload_id);
    if (times === undefined) state.partTimes.set(p.upload_id, (times = new Map()));
    times.set(p.part_number, p.last_modified || isoNow());
  }
  for (const c of s.credentials) {
    await mem.putCredential(c);
    state.credentialCreatedAt.set(c.access_key_id, c.created_at || isoNow());
  }
  for (const i of s.intents) await mem.recordCommitIntent(i);
  return state;
}

