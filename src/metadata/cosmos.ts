// Azure Cosmos DB metadata engine (metadata.md §9), SQL API through @azure/cosmos. One container
// with partition key /type; the item layout and the record mapping live in cosmos-items.ts.
//
// Every call goes through withRetry (429 → throttled; 408/449/5xx/network → transient; the rest is
// fatal). Nothing mutable is cached in process: every read asks the service, so several servers
// can share one container. Read-modify-write updates (ACLs, credentials) replace with IfMatch on
// the item's _etag and start over on 412.
//
// Listing never reads the whole container: each range read of the shared listing algorithm
// (listing.ts) is one `SELECT TOP n ... ORDER BY c.list_order` query bounded by the cursor and
// the prefix's upper bound. `list_order` (cosmos-items.ts) is hex of the key's UTF-8 bytes, because
// S3 order is UTF-8 byte order and the test server's string order is UTF-16 code unit order
// (checked: it lists U+1F600 before U+E000); hex orders identically under both.
import { CosmosClient, type Container, type CosmosClientOptions, type IndexingPolicy, type JSONValue, type OperationInput, type SqlParameter } from '@azure/cosmos';
import type { Config } from '../config.js';
import { classifyHttpStatus, isTransientNetworkError, withRetry, type FailureKind } from '../cloud/retry.js';
import {
  BUCKET,
  CREDENTIAL,
  INTENT,
  OBJECT,
  UPLOAD,
  bucketFromItem,
  bucketItemId,
  bucketToItem,
  completeUpload,
  credentialFromItem,
  credentialItemId,
  credentialToItem,
  deleteAllInBatch,
  intentFromItem,
  intentItemId,
  intentToItem,
  MAX_BATCH_OPS,
  objectFromItem,
  objectItemId,
  objectListOrder,
  objectToItem,
  partFromItem,
  partItemIdPrefix,
  partToItem,
  removeUpload,
  uploadFromItem,
  uploadItemId,
  uploadListOrder,
  uploadListOrderAfterKey,
  uploadToItem,
  utf8Hex,
  type CompletionPort,
} from './cosmos-items.js';
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

export type CosmosSettings = Config['metadata']['cosmos'];

type Fields = Record<string, unknown>;
interface StoredItem {
  fields: Fields;
  /** Cosmos' _etag, for IfMatch. */
  etag: string;
}

const SERVICE = 'cosmos';
/** Parallel point deletes in multi-object deletes. */
const DELETE_CONCURRENCY = 16;
const PARTITION_KEY_PATH = '/type';
/**
 * Default consistent indexing of every path, plus the composite index that serves the listing
 * range reads (equality on bucket, range and ORDER BY on list_order) cheaply. Applied only when
 * init creates the container; an existing one is used as it is.
 */
const INDEXING_POLICY: IndexingPolicy = {
  indexingMode: 'consistent',
  automatic: true,
  includedPaths: [{ path: '/*' }],
  excludedPaths: [{ path: '/"_etag"/?' }],
  compositeIndexes: [
    [
      { path: '/bucket', order: 'ascending' },
      { path: '/list_order', order: 'ascending' },
    ],
  ],
};

/** Status codes and network failures worth another attempt (see file comment). */
export function classifyCosmosError(e: unknown): FailureKind {
  if (isTransientNetworkError(e) || isTransientNetworkError((e as { cause?: unknown } | null)?.cause)) return 'transient';
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'number') return code === 449 ? 'transient' : classifyHttpStatus(code);
  // The SDK's own request timeout, and core-rest-pipeline's "could not send".
  if (code === 'TimeoutError' || code === 'REQUEST_SEND_ERROR') return 'transient';
  return 'fatal';
}

function statusOf(e: unknown): number | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

export interface CosmosConnection {
  endpoint: string;
  /** Account key; absent → Azure default credential chain. */
  key?: string;
}

/**
 * Where to connect (§9): `connection_string` (AccountEndpoint=…;AccountKey=…;, Python/Rust) or
 * `endpoint` with `master_key` (Go); `endpoint` alone uses DefaultAzureCredential.
 */
export function cosmosConnection(s: CosmosSettings): CosmosConnection {
  if (s.connection_string) {
    const parts = new Map<string, string>();
    for (const piece of s.connection_string.split(';')) {
      const at = piece.indexOf('=');
      if (at > 0) parts.set(piece.slice(0, at).trim().toLowerCase(), piece.slice(at + 1).trim());
    }
    const endpoint = parts.get('accountendpoint') ?? s.endpoint;
    if (!endpoint) throw new Error('metadata.cosmos.connection_string has no AccountEndpoint');
    const key = parts.get('accountkey') ?? (s.master_key || undefined);
    return key ? { endpoint, key } : { endpoint };
  }
  if (!s.endpoint) throw new Error('metadata.cosmos needs endpoint or connection_string');
  return s.master_key ? { endpoint: s.endpoint, key: s.master_key } : { endpoint: s.endpoint };
}

/** Runs `fn` over `items` with at most `limit` calls in flight; results in input order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

const param = (name: string, value: JSONValue): SqlParameter => ({ name, value });

export class CosmosMetadataStore implements MetadataStore {
  private client: CosmosClient | null = null;
  private containerHandle: Container | null = null;

  constructor(private readonly settings: CosmosSettings) {}

  private get container(): Container {
    if (this.containerHandle === null) throw new Error('cosmos metadata store used before init()');
    return this.containerHandle;
  }

  private call<T>(op: () => Promise<T>): Promise<T> {
    return withRetry(SERVICE, op, classifyCosmosError);
  }

  // ---- lifecycle ----

  private async connect(): Promise<CosmosClient> {
    const conn = cosmosConnection(this.settings);
    const options: CosmosClientOptions = {
      endpoint: conn.endpoint,
      // Endpoint discovery would follow the account's advertised (https) endpoint; emulators and
      // private endpoints must be used as configured. Throttling is retried in one place, withRetry,
      // so a 429 that outlasts it surfaces as BackendUnavailableError (→ 503 SlowDown).
      connectionPolicy: { enableEndpointDiscovery: false, retryOptions: { maxRetryAttemptCount: 0 } },
    };
    if (conn.key !== undefined) options.key = conn.key;
    else options.aadCredentials = await defaultAzureCredential();
    return new CosmosClient(options);
  }

  async init(): Promise<void> {
    if (this.client === null) this.client = await this.connect();
    const client = this.client;
    const { database } = await this.call(() => client.databases.createIfNotExists({ id: this.settings.database }));
    const { container } = await this.call(() =>
      database.containers.createIfNotExists({ id: this.settings.container, partitionKey: { paths: [PARTITION_KEY_PATH] }, indexingPolicy: INDEXING_POLICY }),
    );
    const definition = await this.call(() => container.read());
    const paths = definition.resource?.partitionKey?.paths ?? [];
    if (paths.length !== 1 || paths[0] !== PARTITION_KEY_PATH) {
      throw new Error(`cosmos container ${this.settings.container} has partition key ${JSON.stringify(paths)}, expected ["${PARTITION_KEY_PATH}"]`);
    }
    this.containerHandle = container;
    await this.backfillListOrder();
  }

  async close(): Promise<void> {
    this.client?.dispose();
    this.client = null;
    this.containerHandle = null;
  }

  async ping(): Promise<void> {
    await this.call(() => this.container.read());
  }

  /**
   * Items written by other implementations have no `list_order`; give them one so listing finds
   * them by its indexed range. Listing also merges such items in (legacyRows), so one written
   * while this process runs is listed before the next start backfills it.
   */
  private async backfillListOrder(): Promise<void> {
    for (const type of [OBJECT, UPLOAD]) {
      const uploadsOnly = type === UPLOAD ? " AND STARTSWITH(c.id, 'upload_')" : '';
      for (;;) {
        const rows = await this.query(type, `SELECT TOP ${MAX_BATCH_OPS} * FROM c WHERE c.type = @type AND NOT IS_DEFINED(c.list_order)${uploadsOnly}`, [param('@type', type)]);
        let fixed = 0;
        for (const row of rows) {
          const listOrder = type === OBJECT ? objectListOrder(objectFromItem(row).key) : uploadListOrder(uploadFromItem(row));
          if (await this.replaceIfUnchanged({ ...row, list_order: listOrder }, String(row._etag))) fixed++;
        }
        if (rows.length < MAX_BATCH_OPS || fixed === 0) break;
      }
    }
  }

  // ---- item primitives ----

  private async readItem(id: string, partition: string): Promise<StoredItem | null> {
    const res = await this.call(() => this.container.item(id, partition).read<Fields>());
    if (res.statusCode === 404 || res.resource === undefined) return null;
    return { fields: res.resource, etag: res.etag };
  }

  private async upsert(item: { id: string; type: string }): Promise<void> {
    await this.call(() => this.container.items.upsert(item));
  }

  /** Create; false when the id exists (409). A retried create whose first try landed also gives false. */
  private async createIfAbsent(item: { id: string; type: string }): Promise<boolean> {
    try {
      await this.call(() => this.container.items.create(item));
      return true;
    } catch (e) {
      if (statusOf(e) === 409) return false;
      throw e;
    }
  }

  /** Replace guarded by IfMatch; false when the item changed or vanished meanwhile (412/404). */
  private async replaceIfUnchanged(item: Fields, etag: string): Promise<boolean> {
    const { id, type } = item;
    if (typeof id !== 'string' || typeof type !== 'string') throw new Error('cosmos: item without id/type');
    try {
      await this.call(() => this.container.item(id, type).replace(item, { accessCondition: { type: 'IfMatch', condition: etag } }));
      return true;
    } catch (e) {
      const status = statusOf(e);
      if (status === 412 || status === 404) return false;
      throw e;
    }
  }

  /** Point delete; true when the item existed. */
  private async deleteItem(id: string, partition: string): Promise<boolean> {
    try {
      await this.call(() => this.container.item(id, partition).delete());
      return true;
    } catch (e) {
      if (statusOf(e) === 404) return false;
      throw e;
    }
  }

  /** A single-partition query, all result pages (callers bound the size with TOP or the data). */
  private async query(partition: string, query: string, parameters: SqlParameter[]): Promise<Fields[]> {
    const res = await this.call(() => this.container.items.query<Fields>({ query, parameters }, { partitionKey: partition }).fetchAll());
    return res.resources;
  }

  /** One transactional batch of deletes in `partition`; each op's status. */
  private async deleteBatch(ids: string[], partition: string): Promise<number[]> {
    return this.call(async () => {
      const ops: OperationInput[] = ids.map((id) => ({ operationType: 'Delete', id, partitionKey: partition }));
      const res = await this.container.items.batch(ops, partition);
      const statuses = (res.result ?? []).map((r) => r.statusCode);
      // A throttled or failing op fails the whole batch: let withRetry classify and repeat it.
      const retryable = statuses.find((s) => classifyCosmosError({ code: s }) !== 'fatal');
      if (retryable !== undefined) throw Object.assign(new Error(`cosmos batch op status ${retryable}`), { code: retryable });
      return statuses;
    });
  }

  /** Read-modify-write with IfMatch; `change` returns null to leave the item as is. Missing → no-op. */
  private async update(id: string, partition: string, change: (fields: Fields) => Fields | null): Promise<void> {
    for (;;) {
      const current = await this.readItem(id, partition);
      if (current === null) return;
      const next = change(current.fields);
      if (next === null || (await this.replaceIfUnchanged(next, current.etag))) return;
    }
  }

  private async requireBucket(name: string): Promise<void> {
    if (!(await this.bucketExists(name))) throw new Error(`metadata: bucket ${name} does not exist`);
  }

  // ---- buckets ----

  async createBucket(b: BucketRecord): Promise<void> {
    if (!(await this.createIfAbsent(bucketToItem({ ...b, created_at: b.created_at || isoNow() })))) throw new BucketExistsError(b.name);
  }

  async getBucket(name: string): Promise<BucketRecord | null> {
    const item = await this.readItem(bucketItemId(name), BUCKET);
    return item === null ? null : bucketFromItem(item.fields);
  }

  async bucketExists(name: string): Promise<boolean> {
    return (await this.readItem(bucketItemId(name), BUCKET)) !== null;
  }

  async listBuckets(ownerId?: string): Promise<BucketRecord[]> {
    // SELECT * FROM c WHERE c.type = 'bucket' [AND c.owner_id = @owner_id]; sorted here in UTF-8 order.
    const params = [param('@type', BUCKET)];
    let query = 'SELECT * FROM c WHERE c.type = @type';
    if (ownerId !== undefined) {
      query += ' AND c.owner_id = @owner_id';
      params.push(param('@owner_id', ownerId));
    }
    return (await this.query(BUCKET, query, params)).map(bucketFromItem).sort((a, b) => utf8Compare(a.name, b.name));
  }

  /** Children first, the bucket item last: a crash part-way leaves the bucket, never orphans of a deleted one. */
  async deleteBucket(name: string): Promise<void> {
    // Objects: TOP 100 ids at a time, each page one batch in the 'object' partition.
    for (;;) {
      const rows = await this.query(OBJECT, `SELECT TOP ${MAX_BATCH_OPS} c.id FROM c WHERE c.type = @type AND c.bucket = @bucket`, [
        param('@type', OBJECT),
        param('@bucket', name),
      ]);
      if (rows.length === 0) break;
      await deleteAllInBatch((ids) => this.deleteBatch(ids, OBJECT), rows.map((r) => String(r.id)));
    }
    // Uploads with their parts.
    for (;;) {
      const rows = await this.query(UPLOAD, `SELECT TOP ${MAX_BATCH_OPS} c.id, c.upload_id FROM c WHERE c.type = @type AND c.bucket = @bucket AND STARTSWITH(c.id, 'upload_')`, [
        param('@type', UPLOAD),
        param('@bucket', name),
      ]);
      if (rows.length === 0) break;
      for (const row of rows) {
        const uploadId = String(row.upload_id);
        await removeUpload(this.completionPort(), uploadId);
        // An item whose id does not match its upload_id (foreign data) would otherwise come back forever.
        if (row.id !== uploadItemId(uploadId)) await this.deleteItem(String(row.id), UPLOAD);
      }
    }
    await this.deleteItem(bucketItemId(name), BUCKET);
  }

  async updateBucketAcl(name: string, acl: string): Promise<void> {
    await this.update(bucketItemId(name), BUCKET, (f) => ({ ...f, acl }));
  }

  // ---- objects ----

  private async upsertObject(obj: ObjectRecord): Promise<void> {
    await this.upsert(objectToItem({ ...obj, last_modified: obj.last_modified || isoNow() }));
  }

  async putObject(obj: ObjectRecord): Promise<void> {
    await this.requireBucket(obj.bucket);
    await this.upsertObject(obj);
  }

  async getObject(bucket: string, key: string): Promise<ObjectRecord | null> {
    const item = await this.readItem(objectItemId(bucket, key), OBJECT);
    return item === null ? null : objectFromItem(item.fields);
  }

  async objectExists(bucket: string, key: string): Promise<boolean> {
    return (await this.readItem(objectItemId(bucket, key), OBJECT)) !== null;
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    await this.deleteItem(objectItemId(bucket, key), OBJECT);
  }

  /**
   * Point deletes rather than a batch: each 404 says "did not exist", which an atomic batch would
   * turn into a failure of all.
   */
  async deleteObjectsMeta(bucket: string, keys: string[]): Promise<string[]> {
    const unique = [...new Set(keys)];
    const existed = await mapLimit(unique, DELETE_CONCURRENCY, (key) => this.deleteItem(objectItemId(bucket, key), OBJECT));
    return unique.filter((_, i) => existed[i]);
  }

  async updateObjectAcl(bucket: string, key: string, acl: string): Promise<void> {
    await this.update(objectItemId(bucket, key), OBJECT, (f) => ({ ...f, acl }));
  }

  async listObjects(bucket: string, options: ListObjectsOptions): Promise<ListObjectsResult> {
    const legacy = (await this.legacyRows(OBJECT, bucket, options.prefix)).map(objectFromItem).sort((a, b) => utf8Compare(a.key, b.key));
    return listObjectsWith(options, async (cursor, end, limit) => {
      // Range read: SELECT TOP @limit * FROM c WHERE c.type = 'object' AND c.bucket = @bucket
      //   AND c.list_order >(=) hex(cursor) [AND c.list_order < hex(end)] ORDER BY c.list_order
      const from = cursor.kind === 'after' ? objectListOrder(cursor.row.key) : objectListOrder(cursor.key);
      const inclusive = cursor.kind === 'from' && cursor.inclusive;
      const rows = await this.rangeRead(OBJECT, bucket, from, inclusive, end === null ? null : objectListOrder(end), limit);
      const fresh = rows.map(objectFromItem);
      const startKey = cursor.kind === 'after' ? cursor.row.key : cursor.key;
      const old = legacy.filter((o) => {
        const c = utf8Compare(o.key, startKey);
        return (inclusive ? c >= 0 : c > 0) && (end === null || utf8Compare(o.key, end) < 0);
      });
      return old.length === 0 ? fresh : [...fresh, ...old].sort((a, b) => utf8Compare(a.key, b.key)).slice(0, limit);
    });
  }

  /** The shared range query of object and upload listings (see listObjects / listMultipartUploads). */
  private rangeRead(type: string, bucket: string, from: string, inclusive: boolean, end: string | null, limit: number): Promise<Fields[]> {
    const params = [param('@type', type), param('@bucket', bucket), param('@from', from), param('@limit', limit)];
    let query = `SELECT TOP @limit * FROM c WHERE c.type = @type AND c.bucket = @bucket AND c.list_order ${inclusive ? '>=' : '>'} @from`;
    if (type === UPLOAD) query += " AND STARTSWITH(c.id, 'upload_')";
    if (end !== null) {
      query += ' AND c.list_order < @end';
      params.push(param('@end', end));
    }
    return this.query(type, `${query} ORDER BY c.list_order`, params);
  }

  /**
   * Rows under `prefix` without `list_order` (written by another implementation since the last
   * backfill): SELECT * ... AND NOT IS_DEFINED(c.list_order) AND STARTSWITH(c.key, @prefix).
   * Normally empty; merged into the range reads in application order.
   */
  private legacyRows(type: string, bucket: string, prefix: string): Promise<Fields[]> {
    const uploadsOnly = type === UPLOAD ? " AND STARTSWITH(c.id, 'upload_')" : '';
    return this.query(
      type,
      `SELECT * FROM c WHERE c.type = @type AND c.bucket = @bucket AND NOT IS_DEFINED(c.list_order) AND STARTSWITH(c.key, @prefix)${uploadsOnly}`,
      [param('@type', type), param('@bucket', bucket), param('@prefix', prefix)],
    );
  }

  async countObjects(bucket: string): Promise<number> {
    const rows = await this.call(() =>
      this.container.items
        .query<number>(
          { query: 'SELECT VALUE COUNT(1) FROM c WHERE c.type = @type AND c.bucket = @bucket', parameters: [param('@type', OBJECT), param('@bucket', bucket)] },
          { partitionKey: OBJECT },
        )
        .fetchAll(),
    );
    return rows.resources.reduce((sum, n) => sum + n, 0);
  }

  // ---- multipart ----

  async createMultipartUpload(u: UploadRecord): Promise<void> {
    await this.requireBucket(u.bucket);
    const item = uploadToItem({ ...u, initiated_at: u.initiated_at || isoNow() });
    if (!(await this.createIfAbsent(item))) throw new Error(`metadata: upload ${u.upload_id} already exists`);
  }

  private async readUpload(uploadId: string): Promise<UploadRecord | null> {
    const item = await this.readItem(uploadItemId(uploadId), UPLOAD);
    return item === null ? null : uploadFromItem(item.fields);
  }

  async getMultipartUpload(bucket: string, key: string, uploadId: string): Promise<UploadRecord | null> {
    const u = await this.readUpload(uploadId);
    return u !== null && u.bucket === bucket && u.key === key ? u : null;
  }

  async putPart(uploadId: string, partNumber: number, size: number, etag: string, checksum?: ObjectChecksum | null): Promise<void> {
    if ((await this.readItem(uploadItemId(uploadId), UPLOAD)) === null) throw new Error(`metadata: upload ${uploadId} does not exist`);
    await this.upsert(partToItem({ upload_id: uploadId, part_number: partNumber, size, etag, last_modified: isoNow(), checksum }));
  }

  /** Parts numbered > marker, ascending, at most `top` (null = all). */
  private async readParts(uploadId: string, marker: number, top: number | null): Promise<PartRecord[]> {
    // SELECT [TOP @top] * FROM c WHERE c.type = 'upload' AND STARTSWITH(c.id, 'part_{id}_')
    //   AND c.upload_id = @id AND c.part_number > @marker ORDER BY c.part_number
    // (upload_id too: the id prefix of upload "a" is also a prefix of upload "a_b"'s parts.)
    const params = [param('@type', UPLOAD), param('@prefix', partItemIdPrefix(uploadId)), param('@id', uploadId), param('@marker', marker)];
    if (top !== null) params.push(param('@top', top));
    const rows = await this.query(
      UPLOAD,
      `SELECT ${top !== null ? 'TOP @top ' : ''}* FROM c WHERE c.type = @type AND STARTSWITH(c.id, @prefix) AND c.upload_id = @id AND c.part_number > @marker ORDER BY c.part_number`,
      params,
    );
    return rows.map(partFromItem);
  }

  async listParts(uploadId: string, partNumberMarker: number, maxParts: number): Promise<ListPartsResult> {
    if (maxParts <= 0) return { parts: [], isTruncated: false };
    return partsPage(await this.readParts(uploadId, partNumberMarker, maxParts + 1), maxParts);
  }

  async getPartsForCompletion(uploadId: string): Promise<PartRecord[]> {
    return this.readParts(uploadId, 0, null);
  }

  private completionPort(): CompletionPort {
    return {
      bucketExists: (name) => this.bucketExists(name),
      readUpload: (id) => this.readUpload(id),
      upsertObject: (obj) => this.upsertObject(obj),
      partItemIds: async (id) => {
        const rows = await this.query(UPLOAD, 'SELECT c.id FROM c WHERE c.type = @type AND STARTSWITH(c.id, @prefix) AND c.upload_id = @id', [
          param('@type', UPLOAD),
          param('@prefix', partItemIdPrefix(id)),
          param('@id', id),
        ]);
        return rows.map((r) => String(r.id));
      },
      deleteBatch: (ids) => this.deleteBatch(ids, UPLOAD),
    };
  }

  /** Object first, then parts, upload last: see completeUpload in cosmos-items.ts for why that order is crash-safe. */
  async completeMultipartUpload(bucket: string, key: string, uploadId: string, obj: ObjectRecord): Promise<void> {
    await completeUpload(this.completionPort(), bucket, key, uploadId, obj);
  }

  async abortMultipartUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    if ((await this.getMultipartUpload(bucket, key, uploadId)) === null) return;
    await removeUpload(this.completionPort(), uploadId);
  }

  async listMultipartUploads(bucket: string, options: ListUploadsOptions): Promise<ListUploadsResult> {
    const legacy = (await this.legacyRows(UPLOAD, bucket, options.prefix)).map(uploadFromItem).sort(compareUploads);
    return listUploadsWith(options, async (cursor: ListCursor<UploadRecord>, end, limit) => {
      // Range read: SELECT TOP @limit * FROM c WHERE c.type = 'upload' AND c.bucket = @bucket
      //   AND STARTSWITH(c.id, 'upload_') AND c.list_order >(=) @from [AND c.list_order < hex(end)]
      //   ORDER BY c.list_order — list_order encodes (key, initiated_at, upload_id).
      let from: string;
      let inclusive = true;
      if (cursor.kind === 'after') {
        from = uploadListOrder(cursor.row);
        inclusive = false;
      } else {
        from = cursor.inclusive ? utf8Hex(cursor.key) : uploadListOrderAfterKey(cursor.key);
      }
      const rows = await this.rangeRead(UPLOAD, bucket, from, inclusive, end === null ? null : utf8Hex(end), limit);
      const fresh = rows.map(uploadFromItem);
      const old = legacy.filter((u) => {
        const start =
          cursor.kind === 'after' ? compareUploads(u, cursor.row) > 0 : cursor.inclusive ? utf8Compare(u.key, cursor.key) >= 0 : utf8Compare(u.key, cursor.key) > 0;
        return start && (end === null || utf8Compare(u.key, end) < 0);
      });
      return old.length === 0 ? fresh : [...fresh, ...old].sort(compareUploads).slice(0, limit);
    });
  }

  // ---- credentials ----

  async getCredential(accessKeyId: string): Promise<CredentialRecord | null> {
    const item = await this.readItem(credentialItemId(accessKeyId), CREDENTIAL);
    if (item === null) return null;
    const cred = credentialFromItem(item.fields);
    return cred.active ? cred : null;
  }

  /** Upsert keeping an existing created_at: create, or IfMatch-replace; either losing a race starts over. */
  async putCredential(cred: CredentialRecord): Promise<void> {
    const id = credentialItemId(cred.access_key_id);
    for (;;) {
      const current = await this.readItem(id, CREDENTIAL);
      if (current === null) {
        if (await this.createIfAbsent(credentialToItem({ ...cred, created_at: cred.created_at || isoNow() }))) return;
        continue;
      }
      const createdAt = credentialFromItem(current.fields).created_at || cred.created_at || isoNow();
      const next = { ...current.fields, ...credentialToItem({ ...cred, created_at: createdAt }) };
      if (await this.replaceIfUnchanged(next, current.etag)) return;
    }
  }

  // ---- maintenance ----

  async reapExpiredUploads(ttlSeconds: number): Promise<ReapedUpload[]> {
    // SELECT * FROM c WHERE c.type = 'upload' AND STARTSWITH(c.id, 'upload_') AND c.initiated_at < @cutoff
    const rows = await this.query(UPLOAD, "SELECT * FROM c WHERE c.type = @type AND STARTSWITH(c.id, 'upload_') AND c.initiated_at < @cutoff", [
      param('@type', UPLOAD),
      param('@cutoff', isoSecondsAgo(ttlSeconds)),
    ]);
    const expired = rows.map(uploadFromItem).sort((a, b) => (a.initiated_at < b.initiated_at ? -1 : a.initiated_at > b.initiated_at ? 1 : 0));
    for (const u of expired) await removeUpload(this.completionPort(), u.upload_id);
    return expired.map((u) => ({ upload_id: u.upload_id, bucket: u.bucket, key: u.key }));
  }

  // ---- commit intents (items of type 'intent', beyond the spec layout) ----

  async recordCommitIntent(intent: CommitIntent): Promise<void> {
    await this.upsert(intentToItem(intent));
  }

  async clearCommitIntent(id: string): Promise<void> {
    await this.deleteItem(intentItemId(id), INTENT);
  }

  async listCommitIntents(): Promise<CommitIntent[]> {
    const rows = await this.query(INTENT, 'SELECT * FROM c WHERE c.type = @type', [param('@type', INTENT)]);
    return rows
      .map(intentFromItem)
      .sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
}

/** DefaultAzureCredential, loaded only when configured (endpoint without a key). */
async function defaultAzureCredential(): Promise<NonNullable<CosmosClientOptions['aadCredentials']>> {
  try {
    const identity = await import('@azure/identity');
    return new identity.DefaultAzureCredential();
  } catch (e) {
    throw new Error(`metadata.cosmos.endpoint without a key needs @azure/identity: ${e instanceof Error ? e.message : String(e)}`);
  }
}
