// Firestore metadata engine (metadata.md §8): every record is a document of one root collection,
// laid out by firestore-docs.ts. Every method reads and writes the database directly (no cache of
// mutable data), so several nodes can share one collection.
//
// Queries that serve the listings (all ordered by the `key` field, never a read of the whole
// collection):
//   listObjects           type == "object" AND bucket == B AND key >=|> cursor [AND key < bound]
//                         ORDER BY key LIMIT n               (one range read per listing.ts request)
//   listMultipartUploads  type == "upload" AND bucket == B AND key >=|> cursor [AND key < bound]
//                         ORDER BY key, initiated_at, upload_id [START AFTER (key, initiated_at, upload_id)] LIMIT n
//   listParts / completion  subcollection parts: part_number > marker ORDER BY part_number LIMIT n
//   listBuckets           type == "bucket" [AND owner_id == O] ORDER BY name
//   countObjects          COUNT(type == "object" AND bucket == B)
//   reap                  type == "upload" AND initiated_at < cutoff ORDER BY initiated_at LIMIT n
//   cascades              type == "object"|"upload" AND bucket == B LIMIT 500 (ids only)
//
// String order: Firestore orders strings by their UTF-8 bytes (documented for production; checked
// against the emulator by test/firestore-engine.test.ts, astral characters after U+E000..U+FFFF),
// which is S3's order, so `key` itself serves ordering and prefix ranges (prefixUpperBound) and no
// extra sortable field is needed.
//
// Composite indexes production needs (the emulator needs none), all on the root collection:
//   (type ASC, bucket ASC, key ASC)                                  objects listing
//   (type ASC, bucket ASC, key ASC, initiated_at ASC, upload_id ASC) uploads listing
//   (type ASC, name ASC), (type ASC, owner_id ASC, name ASC)         bucket listing
//   (type ASC, initiated_at ASC)                                     reaper
// Counting, cascades and intents use equality filters only (served by single-field indexes).
//
// No transactions. Server SDK transactions lock what they read (pessimistically) until commit,
// and a node killed inside one leaves its locks until they expire: every other node's writes to
// those documents then wait and fail with "Transaction lock timeout" (seen with the emulator,
// and a restart's recovery stalled behind its own dead predecessor's locks). So writes are
// lock-free:
//   - atomic multi-document changes (Complete, Abort) are one batched commit, made conditional
//     on the upload document being unchanged since it was read (lastUpdateTime precondition);
//     a batch is applied whole or not at all, and a process that dies before it leaves nothing;
//   - "the parent must exist" (bucket for objects and uploads, upload for parts) is checked
//     after the write and the write undone when the parent is gone. deleteBucket removes the
//     bucket document before its final sweep (and Complete/Abort sweep parts after their
//     commit), so whatever a writer saw its parent in is swept; a writer that does not see its
//     parent removes its own write. Known window: a process killed between such a write and its
//     check, while the parent is being deleted, leaves an orphan document.
// Retries: the SDK already retries every RPC (up to 5 attempts with backoff) on the codes its
// service config marks retryable. So reads only get the classification here (a failure that
// outlives the SDK's retries becomes BackendUnavailableError → 503), and idempotent writes (set,
// delete, batch commits) are retried by withRetry only on what the SDK does not retry for Commit
// (INTERNAL, ABORTED, socket errors). Known limit: against an unreachable endpoint the SDK's own
// retries take ~45 s for a read and minutes for a write before the error reaches us.
import { isDeepStrictEqual } from 'node:util';
import {
  Firestore,
  type CollectionReference,
  type DocumentData,
  type DocumentReference,
  type Query,
  type Precondition,
  type Settings,
} from '@google-cloud/firestore';
import { isTransientNetworkError, withRetry, type FailureKind, type RetryPolicy } from '../cloud/retry.js';
import type { Config } from '../config.js';
import {
  PARTS_SUBCOLLECTION,
  bucketDocId,
  bucketToDoc,
  credentialDocId,
  credentialToDoc,
  docToBucket,
  docToCredential,
  docToIntent,
  docToObject,
  docToPart,
  docToUpload,
  intentDocId,
  intentToDoc,
  isValidDocId,
  objectDocId,
  objectToDoc,
  partDocId,
  partToDoc,
  uploadDocId,
  uploadToDoc,
} from './firestore-docs.js';
import { listObjectsWith, listUploadsWith, partsPage } from './listing.js';
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

export type FirestoreSettings = Config['metadata']['firestore'];

const SERVICE = 'firestore';

/** gRPC status codes (Firestore errors carry them in `code`). */
const GRPC = {
  CANCELLED: 1,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

const TRANSIENT_CODES = new Set<unknown>([
  GRPC.DEADLINE_EXCEEDED,
  GRPC.ABORTED,
  GRPC.INTERNAL,
  GRPC.UNAVAILABLE,
  'DEADLINE_EXCEEDED',
  'ABORTED',
  'INTERNAL',
  'UNAVAILABLE',
  503,
  504,
]);
const THROTTLE_CODES = new Set<unknown>([GRPC.RESOURCE_EXHAUSTED, 'RESOURCE_EXHAUSTED', 429]);

/** RESOURCE_EXHAUSTED → throttled; UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED, INTERNAL, socket errors → transient. */
export function classifyFirestoreError(e: unknown): FailureKind {
  const code = (e as { code?: unknown } | null)?.code;
  if (THROTTLE_CODES.has(code)) return 'throttled';
  if (TRANSIENT_CODES.has(code) || isTransientNetworkError(e)) return 'transient';
  return 'fatal';
}

/** What withRetry repeats for idempotent writes: failures the SDK does not retry for Commit. */
function retryableWriteFailure(e: unknown): FailureKind {
  const code = (e as { code?: unknown } | null)?.code;
  // DEADLINE_EXCEEDED is left out: it comes after the SDK's own retries already ran out.
  if (code === GRPC.INTERNAL || code === GRPC.ABORTED || isTransientNetworkError(e)) return 'transient';
  return 'fatal';
}

function hasCode(e: unknown, code: number): boolean {
  return (e as { code?: unknown } | null)?.code === code;
}

/** Reads are retried by the SDK; this only turns a lasting transient failure into a 503. */
const CLASSIFY_ONLY: RetryPolicy = { attempts: 1, baseDelayMs: 0, maxDelayMs: 0 };

/** Writes per batched commit (Firestore's documented limit is 500). */
const MAX_BATCH_WRITES = 500;
/** Parts deleted in the completion/abort commit: 500 minus the object and upload writes. */
const PARTS_IN_COMMIT = MAX_BATCH_WRITES - 2;
/** Rounds of read-then-conditional-commit before a contended document is reported unavailable. */
const CONDITIONAL_ROUNDS = 8;
/** Parts per page when reading a whole upload's parts (≤ 10,000 parts). */
const PARTS_PAGE = 1000;
/** Expired uploads handled per reaper query. */
const REAP_PAGE = 100;

export class FirestoreMetadataStore implements MetadataStore {
  private client: Firestore | null = null;

  constructor(private readonly settings: FirestoreSettings) {}

  private get db(): Firestore {
    if (this.client === null) throw new Error('firestore metadata store is not open (call init() first)');
    return this.client;
  }

  private get col(): CollectionReference {
    return this.db.collection(this.settings.collection);
  }

  // ---- plumbing ----

  /** A read (the SDK retries it): lasting throttling/transient failures become BackendUnavailableError. */
  private call<T>(op: () => Promise<T>): Promise<T> {
    return withRetry(SERVICE, op, classifyFirestoreError, CLASSIFY_ONLY);
  }

  /** An idempotent write: also retried on what the SDK leaves alone for Commit. */
  private write<T>(op: () => Promise<T>): Promise<T> {
    return this.call(() => withRetry(SERVICE, op, retryableWriteFailure));
  }

  /**
   * Runs `attempt` (reads, then one write conditional on what it read) until its precondition
   * holds: FAILED_PRECONDITION means another writer changed the document in between.
   */
  private async conditional<T>(attempt: () => Promise<T>): Promise<T> {
    for (let round = 1; ; round++) {
      try {
        return await attempt();
      } catch (e) {
        if (!hasCode(e, GRPC.FAILED_PRECONDITION) || round >= CONDITIONAL_ROUNDS) throw e;
      }
    }
  }

  /**
   * A write whose parent document must exist: written, then the parent read; when the parent is
   * gone (deleted while we wrote) the write is undone and `missing` thrown. See the header.
   */
  private async writeUnderParent(ref: DocumentReference, write: () => Promise<unknown>, parent: DocumentReference, missing: () => Error): Promise<void> {
    await this.write(write);
    if ((await this.call(() => parent.get())).exists) return;
    await this.write(() => ref.delete());
    throw missing();
  }

  /** The document with this id, or null when the id (from client input) cannot name one. */
  private doc(id: string): DocumentReference | null {
    return isValidDocId(id) ? this.col.doc(id) : null;
  }

  /** Same, for writes: an id that cannot name a document is an error. */
  private docForWrite(id: string): DocumentReference {
    const ref = this.doc(id);
    if (ref === null) throw new Error(`metadata: invalid firestore document id ${JSON.stringify(id)}`);
    return ref;
  }

  private async getData(ref: DocumentReference | null): Promise<DocumentData | null> {
    if (ref === null) return null;
    const snap = await this.call(() => ref.get());
    return snap.exists ? (snap.data() ?? null) : null;
  }

  /** Deletes every document `page` returns (ids only, ≤ 500 per query) until it returns none. */
  private async deleteAll(page: () => Query): Promise<void> {
    for (;;) {
      const snap = await this.call(() => page().select().limit(MAX_BATCH_WRITES).get());
      if (snap.empty) return;
      const batch = this.db.batch();
      for (const d of snap.docs) batch.delete(d.ref);
      await this.write(() => batch.commit());
      if (snap.size < MAX_BATCH_WRITES) return;
    }
  }

  private deleteParts(uploadRef: DocumentReference): Promise<void> {
    return this.deleteAll(() => uploadRef.collection(PARTS_SUBCOLLECTION));
  }

  /** An upload with its parts: parts first, so an interruption never leaves parts without their upload. */
  private async deleteUploadTree(uploadRef: DocumentReference): Promise<void> {
    await this.deleteParts(uploadRef);
    await this.write(() => uploadRef.delete());
  }

  // ---- lifecycle ----

  async init(): Promise<void> {
    if (this.client === null) {
      const settings: Settings = { ignoreUndefinedProperties: true };
      // FIRESTORE_EMULATOR_HOST, when set, is honoured by the SDK itself (plain text, no credentials).
      const projectId = this.settings.project || process.env.GCP_PROJECT || process.env.GOOGLE_CLOUD_PROJECT;
      if (projectId) settings.projectId = projectId;
      if (this.settings.credentials_file) settings.keyFilename = this.settings.credentials_file;
      this.client = new Firestore(settings);
    }
    // Fail startup on an unreachable database rather than on the first request.
    await this.ping();
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    await client?.terminate();
  }

  async ping(): Promise<void> {
    const ref = this.col.doc('health_probe');
    await this.call(() => ref.get());
  }

  // ---- buckets ----

  async createBucket(b: BucketRecord): Promise<void> {
    const ref = this.docForWrite(bucketDocId(b.name));
    const doc = bucketToDoc({ ...b, created_at: b.created_at || isoNow() });
    let attempts = 0;
    try {
      await this.write(() => {
        attempts++;
        return ref.create(doc);
      });
    } catch (e) {
      if (!hasCode(e, GRPC.ALREADY_EXISTS)) throw e;
      // A retry of a create whose first attempt did commit finds our own document.
      if (attempts > 1 && isDeepStrictEqual(await this.getData(ref), doc)) return;
      throw new BucketExistsError(b.name);
    }
  }

  async getBucket(name: string): Promise<BucketRecord | null> {
    const d = await this.getData(this.doc(bucketDocId(name)));
    return d === null ? null : docToBucket(d);
  }

  async bucketExists(name: string): Promise<boolean> {
    return (await this.getBucket(name)) !== null;
  }

  async listBuckets(ownerId?: string): Promise<BucketRecord[]> {
    let q = this.col.where('type', '==', 'bucket');
    if (ownerId !== undefined) q = q.where('owner_id', '==', ownerId);
    const snap = await this.call(() => q.orderBy('name').get());
    return snap.docs.map((d) => docToBucket(d.data()));
  }

  async deleteBucket(name: string): Promise<void> {
    const ref = this.doc(bucketDocId(name));
    if (ref === null) return;
    await this.deleteBucketContents(name);
    await this.write(() => ref.delete());
    // Writers check the bucket document after writing and undo their write when it is gone (see
    // the header); a second sweep removes whatever a writer committed before seeing it gone.
    await this.deleteBucketContents(name);
  }

  private async deleteBucketContents(name: string): Promise<void> {
    await this.deleteAll(() => this.col.where('type', '==', 'object').where('bucket', '==', name));
    for (;;) {
      const uploads = await this.call(() =>
        this.col.where('type', '==', 'upload').where('bucket', '==', name).select().limit(REAP_PAGE).get(),
      );
      for (const u of uploads.docs) await this.deleteUploadTree(u.ref);
      if (uploads.size < REAP_PAGE) return;
    }
  }

  async updateBucketAcl(name: string, acl: string): Promise<void> {
    await this.updateIfExists(this.doc(bucketDocId(name)), { acl });
  }

  /** update() of an existing document; a missing one is left alone (like SQL UPDATE). */
  private async updateIfExists(ref: DocumentReference | null, fields: DocumentData): Promise<void> {
    if (ref === null) return;
    try {
      await this.write(() => ref.update(fields));
    } catch (e) {
      if (!hasCode(e, GRPC.NOT_FOUND)) throw e;
    }
  }

  // ---- objects ----

  private objectRef(bucket: string, key: string): DocumentReference | null {
    return this.doc(objectDocId(bucket, key));
  }

  async putObject(obj: ObjectRecord): Promise<void> {
    const bucketRef = this.docForWrite(bucketDocId(obj.bucket));
    const objectRef = this.docForWrite(objectDocId(obj.bucket, obj.key));
    const doc = objectToDoc({ ...obj, last_modified: obj.last_modified || isoNow() });
    await this.writeUnderParent(objectRef, () => objectRef.set(doc), bucketRef, () => new Error(`metadata: bucket ${obj.bucket} does not exist`));
  }

  async getObject(bucket: string, key: string): Promise<ObjectRecord | null> {
    const d = await this.getData(this.objectRef(bucket, key));
    return d === null ? null : docToObject(d);
  }

  async objectExists(bucket: string, key: string): Promise<boolean> {
    return (await this.getObject(bucket, key)) !== null;
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    const ref = this.objectRef(bucket, key);
    if (ref !== null) await this.write(() => ref.delete());
  }

  async deleteObjectsMeta(bucket: string, keys: string[]): Promise<string[]> {
    const refs = new Map<string, DocumentReference>();
    for (const key of keys) {
      const ref = this.objectRef(bucket, key);
      if (ref !== null && !refs.has(key)) refs.set(key, ref);
    }
    const entries = [...refs];
    const existed: string[] = [];
    for (let i = 0; i < entries.length; i += MAX_BATCH_WRITES) {
      const chunk = entries.slice(i, i + MAX_BATCH_WRITES);
      const snaps = await this.call(() => this.db.getAll(...chunk.map(([, ref]) => ref)));
      const batch = this.db.batch();
      snaps.forEach((snap, j) => {
        const entry = chunk[j];
        if (!snap.exists || entry === undefined) return;
        existed.push(entry[0]);
        batch.delete(entry[1]);
      });
      await this.write(() => batch.commit());
    }
    return existed;
  }

  async updateObjectAcl(bucket: string, key: string, acl: string): Promise<void> {
    await this.updateIfExists(this.objectRef(bucket, key), { acl });
  }

  async listObjects(bucket: string, options: ListObjectsOptions): Promise<ListObjectsResult> {
    // Range read: type == object AND bucket == B AND key (>|>=) cursor [AND key < end] ORDER BY key LIMIT n.
    return listObjectsWith(options, async (cursor, end, limit) => {
      let q = this.col.where('type', '==', 'object').where('bucket', '==', bucket);
      // Keys are unique within a bucket, so "after a row" is simply key > its key.
      q = cursor.kind === 'after' ? q.where('key', '>', cursor.row.key) : q.where('key', cursor.inclusive ? '>=' : '>', cursor.key);
      if (end !== null) q = q.where('key', '<', end);
      const ranged = q.orderBy('key').limit(limit);
      const snap = await this.call(() => ranged.get());
      return snap.docs.map((d) => docToObject(d.data()));
    });
  }

  async countObjects(bucket: string): Promise<number> {
    const q = this.col.where('type', '==', 'object').where('bucket', '==', bucket).count();
    const snap = await this.call(() => q.get());
    return snap.data().count;
  }

  // ---- multipart ----

  private uploadRef(uploadId: string): DocumentReference | null {
    return this.doc(uploadDocId(uploadId));
  }

  async createMultipartUpload(u: UploadRecord): Promise<void> {
    const bucketRef = this.docForWrite(bucketDocId(u.bucket));
    const uploadRef = this.docForWrite(uploadDocId(u.upload_id));
    const doc = uploadToDoc({ ...u, initiated_at: u.initiated_at || isoNow() });
    let attempts = 0;
    const create = async (): Promise<void> => {
      attempts++;
      try {
        await uploadRef.create(doc);
      } catch (e) {
        // A retried create whose first attempt committed finds our own document.
        if (!hasCode(e, GRPC.ALREADY_EXISTS) || attempts === 1 || !isDeepStrictEqual(await this.getData(uploadRef), doc)) throw e;
      }
    };
    try {
      await this.writeUnderParent(uploadRef, create, bucketRef, () => new Error(`metadata: bucket ${u.bucket} does not exist`));
    } catch (e) {
      if (hasCode(e, GRPC.ALREADY_EXISTS)) throw new Error(`metadata: upload ${u.upload_id} already exists`);
      throw e;
    }
  }

  async getMultipartUpload(bucket: string, key: string, uploadId: string): Promise<UploadRecord | null> {
    const d = await this.getData(this.uploadRef(uploadId));
    if (d === null || d.bucket !== bucket || d.key !== key) return null;
    return docToUpload(d);
  }

  async putPart(uploadId: string, partNumber: number, size: number, etag: string, checksum?: ObjectChecksum | null): Promise<void> {
    const uploadRef = this.docForWrite(uploadDocId(uploadId));
    const partRef = uploadRef.collection(PARTS_SUBCOLLECTION).doc(partDocId(partNumber));
    const doc = partToDoc({ upload_id: uploadId, part_number: partNumber, size, etag, last_modified: isoNow(), checksum });
    // A concurrent complete/abort either sweeps this part after its commit or we see the upload gone.
    await this.writeUnderParent(partRef, () => partRef.set(doc), uploadRef, () => new Error(`metadata: upload ${uploadId} does not exist`));
  }

  async listParts(uploadId: string, partNumberMarker: number, maxParts: number): Promise<ListPartsResult> {
    const uploadRef = this.uploadRef(uploadId);
    if (maxParts <= 0 || uploadRef === null) return { parts: [], isTruncated: false };
    return partsPage(await this.readParts(uploadRef, partNumberMarker, maxParts + 1), maxParts);
  }

  /** Parts numbered > after, ascending: parts subcollection, part_number > after ORDER BY part_number LIMIT n. */
  private async readParts(uploadRef: DocumentReference, after: number, limit: number): Promise<PartRecord[]> {
    const q = uploadRef.collection(PARTS_SUBCOLLECTION).where('part_number', '>', after).orderBy('part_number').limit(limit);
    const snap = await this.call(() => q.get());
    return snap.docs.map((d) => docToPart(d.data()));
  }

  async getPartsForCompletion(uploadId: string): Promise<PartRecord[]> {
    const uploadRef = this.uploadRef(uploadId);
    if (uploadRef === null) return [];
    const parts: PartRecord[] = [];
    for (;;) {
      const page = await this.readParts(uploadRef, parts.at(-1)?.part_number ?? 0, PARTS_PAGE);
      parts.push(...page);
      if (page.length < PARTS_PAGE) return parts;
    }
  }

  async completeMultipartUpload(bucket: string, key: string, uploadId: string, obj: ObjectRecord): Promise<void> {
    const bucketRef = this.docForWrite(bucketDocId(obj.bucket));
    const objectRef = this.docForWrite(objectDocId(obj.bucket, obj.key));
    const doc = objectToDoc({ ...obj, last_modified: obj.last_modified || isoNow() });
    const bucketMissing = (): Error => new Error(`metadata: bucket ${obj.bucket} does not exist`);
    if (!(await this.call(() => bucketRef.get())).exists) throw bucketMissing();
    await this.removeUpload(bucket, key, uploadId, { ref: objectRef, doc });
    // The bucket was deleted while we committed: undo the object (the upload is gone either way).
    if (!(await this.call(() => bucketRef.get())).exists) {
      await this.write(() => objectRef.delete());
      throw bucketMissing();
    }
  }

  async abortMultipartUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    await this.removeUpload(bucket, key, uploadId);
  }

  /**
   * One batched commit deletes the upload (when bucket and key match) with up to 498 of its parts
   * and writes `object` (the completed object): all or nothing, and only if the upload document
   * is unchanged since it was read (else read again). Afterwards the rest of the parts, and any
   * part registered while we committed, are swept; they belong to no upload by then.
   */
  private async removeUpload(bucket: string, key: string, uploadId: string, object?: { ref: DocumentReference; doc: DocumentData }): Promise<void> {
    const uploadRef = this.uploadRef(uploadId);
    // Set once any round saw the upload as ours: a round after a commit that applied but whose
    // answer was lost finds the upload gone, and its parts still need the sweep.
    let ours = false;
    await this.conditional(async () => {
      const batch = this.db.batch();
      if (uploadRef !== null) {
        const upload = await this.call(() => uploadRef.get());
        if (upload.exists && upload.get('bucket') === bucket && upload.get('key') === key) {
          ours = true;
          const parts = await this.call(() => uploadRef.collection(PARTS_SUBCOLLECTION).select().limit(PARTS_IN_COMMIT).get());
          for (const p of parts.docs) batch.delete(p.ref);
          const unchanged: Precondition = upload.updateTime ? { lastUpdateTime: upload.updateTime } : { exists: true };
          batch.delete(uploadRef, unchanged);
        }
      }
      if (object) batch.set(object.ref, object.doc);
      // The SDK does not retry a failed Commit on its own codes alone: INTERNAL/ABORTED/socket
      // errors are retried here, and a retry after a commit that did apply fails its precondition
      // and comes round again to find the upload gone.
      await this.write(() => batch.commit());
    });
    if (ours && uploadRef !== null) await this.deleteParts(uploadRef);
  }

  async listMultipartUploads(bucket: string, options: ListUploadsOptions): Promise<ListUploadsResult> {
    // Range read: type == upload AND bucket == B AND key (>|>=) cursor [AND key < end]
    // ORDER BY key, initiated_at, upload_id [START AFTER the last row] LIMIT n.
    return listUploadsWith(options, async (cursor, end, limit) => {
      let q: Query = this.col.where('type', '==', 'upload').where('bucket', '==', bucket);
      if (cursor.kind === 'from') q = q.where('key', cursor.inclusive ? '>=' : '>', cursor.key);
      if (end !== null) q = q.where('key', '<', end);
      q = q.orderBy('key').orderBy('initiated_at').orderBy('upload_id');
      if (cursor.kind === 'after') q = q.startAfter(cursor.row.key, cursor.row.initiated_at, cursor.row.upload_id);
      const ranged = q.limit(limit);
      const snap = await this.call(() => ranged.get());
      return snap.docs.map((d) => docToUpload(d.data()));
    });
  }

  // ---- credentials ----

  async getCredential(accessKeyId: string): Promise<CredentialRecord | null> {
    const d = await this.getData(this.doc(credentialDocId(accessKeyId)));
    if (d === null) return null;
    const c = docToCredential(d);
    return c.active ? c : null;
  }

  async putCredential(cred: CredentialRecord): Promise<void> {
    const ref = this.docForWrite(credentialDocId(cred.access_key_id));
    await this.conditional(async () => {
      const existing = await this.call(() => ref.get());
      const kept = existing.exists ? docToCredential(existing.data() ?? {}).created_at : '';
      const doc = credentialToDoc({ ...cred, created_at: kept || cred.created_at || isoNow() });
      // Replace the document's fields only if it is still what we read (created, or last updated
      // then); update() with every field of the record is a replace of the record.
      const batch = this.db.batch();
      if (existing.exists && existing.updateTime) batch.update(ref, doc, { lastUpdateTime: existing.updateTime });
      else batch.create(ref, doc);
      try {
        await this.write(() => batch.commit());
      } catch (e) {
        // Created by someone else between our read and our create: read again.
        if (hasCode(e, GRPC.ALREADY_EXISTS)) throw Object.assign(new Error('credential created concurrently'), { code: GRPC.FAILED_PRECONDITION });
        throw e;
      }
    });
  }

  // ---- maintenance ----

  async reapExpiredUploads(ttlSeconds: number): Promise<ReapedUpload[]> {
    // Both sides are `...T...Z` strings, so string order is time order.
    const cutoff = isoSecondsAgo(ttlSeconds);
    const reaped: ReapedUpload[] = [];
    for (;;) {
      const q = this.col.where('type', '==', 'upload').where('initiated_at', '<', cutoff).orderBy('initiated_at').limit(REAP_PAGE);
      const snap = await this.call(() => q.get());
      for (const d of snap.docs) {
        const u = docToUpload(d.data());
        await this.deleteUploadTree(d.ref);
        reaped.push({ upload_id: u.upload_id, bucket: u.bucket, key: u.key });
      }
      if (snap.size < REAP_PAGE) return reaped;
    }
  }

  async recordCommitIntent(intent: CommitIntent): Promise<void> {
    const ref = this.docForWrite(intentDocId(intent.id));
    await this.write(() => ref.set(intentToDoc(intent)));
  }

  async clearCommitIntent(id: string): Promise<void> {
    const ref = this.doc(intentDocId(id));
    if (ref !== null) await this.write(() => ref.delete());
  }

  async listCommitIntents(): Promise<CommitIntent[]> {
    // Intents are few (one per in-flight publish): equality query, ordered here.
    const snap = await this.call(() => this.col.where('type', '==', 'intent').get());
    return snap.docs
      .map((d) => docToIntent(d.data()))
      .sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
}
