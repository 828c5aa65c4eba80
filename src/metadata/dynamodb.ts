// DynamoDB metadata engine (metadata.md §7): the spec's single-table layout (dynamodb-items.ts),
// through the official SDK, safe for several BleepStore nodes sharing one table (no in-process
// cache of mutable data; every point read is strongly consistent).
//
// Beyond the spec's mechanisms, listings never Scan the table. Two global secondary indexes on
// attributes the spec layout already writes (so items written by other implementations are
// indexed too) serve them:
//   - bucket-key-index (HASH bucket, RANGE key): objects and uploads, the only items with both
//     attributes. listObjects, countObjects, listMultipartUploads and the deleteBucket cascade
//     Query it with key conditions plus a FilterExpression on `type`. DynamoDB orders S sort keys
//     by UTF-8 bytes, which is S3's listing order.
//   - type-name-index (HASH type, RANGE name): sparse, only buckets have `name`. listBuckets.
// Parts are read with Queries on the table itself (pk UPLOAD#{id}, sk PART#nnnnn), commit intents
// with Queries on their INTENT#{shard} partitions. Only the startup reaper Scans (the spec's
// mechanism; uploads have no index of their own).
// GSI reads are eventually consistent (DynamoDB offers nothing else on a GSI): a listing may miss
// a write from the last moments; point reads (GetItem, table Queries) are consistent.
import { randomUUID } from 'node:crypto';
import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  UpdateTableCommand,
  type CreateTableCommandInput,
  type DynamoDBClientConfig,
  type QueryCommandInput,
  type QueryCommandOutput,
  type ScanCommandInput,
  type ScanCommandOutput,
  type TableDescription,
  type TransactWriteItem,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import type { Config } from '../config.js';
import { BackendUnavailableError, isTransientNetworkError, withRetry, type FailureKind } from '../cloud/retry.js';
import {
  INTENT_SHARDS,
  MAX_PART_SK_NUMBER,
  METADATA_SK,
  PART_SK_PREFIX,
  bucketFromItem,
  bucketItem,
  bucketPk,
  credentialFromItem,
  credentialPk,
  intentFromItem,
  intentItem,
  intentPk,
  intentShardPk,
  itemKey,
  objectFromItem,
  objectItem,
  objectPk,
  partFromItem,
  partItem,
  partSk,
  uploadFromItem,
  uploadItem,
  uploadPk,
  type Item,
} from './dynamodb-items.js';
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

export type DynamoDbSettings = Config['metadata']['dynamodb'];

const SERVICE = 'dynamodb';

export interface IndexSpec {
  name: string;
  hash: string;
  range: string;
}

export const BUCKET_KEY_INDEX: IndexSpec = { name: 'bucket-key-index', hash: 'bucket', range: 'key' };
export const TYPE_NAME_INDEX: IndexSpec = { name: 'type-name-index', hash: 'type', range: 'name' };
export const REQUIRED_INDEXES: readonly IndexSpec[] = [BUCKET_KEY_INDEX, TYPE_NAME_INDEX];

/** TransactWriteItems takes at most 100 items. */
const MAX_TRANSACTION_ITEMS = 100;
const BATCH_WRITE_MAX = 25;
const BATCH_GET_MAX = 100;
/** Spec: UnprocessedItems are retried up to 5 times with 0.1·2^n s back-off. */
const UNPROCESSED_RETRIES = 5;
/** Query pages grow to this many items (DynamoDB also caps a page at 1 MB). */
const MAX_PAGE_ITEMS = 1000;
/** How long init waits for an index it added (a backfill of a big table takes a while). */
const INDEX_WAIT_MS = 60 * 60 * 1000;

const THROTTLING_ERRORS = new Set(['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded']);
const TRANSIENT_ERRORS = new Set([
  'InternalServerError',
  'ServiceUnavailable',
  'TransactionConflictException',
  'TransactionInProgressException',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);
const THROTTLING_REASONS = new Set(['ThrottlingError', 'ProvisionedThroughputExceeded', 'RequestLimitExceeded']);

interface SdkErrorShape {
  name?: unknown;
  $metadata?: { httpStatusCode?: number };
  CancellationReasons?: { Code?: string }[];
}

/** Throttling → throttled; 5xx, network failures and transaction conflicts → transient; rest fatal. */
export function classifyDynamoDbError(e: unknown): FailureKind {
  const err = (e ?? {}) as SdkErrorShape;
  const name = typeof err.name === 'string' ? err.name : '';
  if (THROTTLING_ERRORS.has(name)) return 'throttled';
  if (name === 'TransactionCanceledException') {
    const codes = (err.CancellationReasons ?? []).map((r) => r.Code ?? 'None');
    if (codes.some((c) => THROTTLING_REASONS.has(c))) return 'throttled';
    if (codes.includes('TransactionConflict')) return 'transient';
    return 'fatal';
  }
  if (TRANSIENT_ERRORS.has(name) || isTransientNetworkError(e)) return 'transient';
  const status = err.$metadata?.httpStatusCode;
  if (status === 429) return 'throttled';
  if (status !== undefined && status >= 500) return 'transient';
  return 'fatal';
}

function errorName(e: unknown): string {
  const name = (e as { name?: unknown } | null)?.name;
  return typeof name === 'string' ? name : '';
}

const isConditionFailed = (e: unknown): boolean => errorName(e) === 'ConditionalCheckFailedException';

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** True for http(s)://localhost, 127.x.x.x and [::1] endpoints (DynamoDB Local and friends). */
export function isLoopbackEndpoint(endpoint: string): boolean {
  if (endpoint === '') return false;
  try {
    const host = new URL(endpoint).hostname;
    return host === 'localhost' || host === '[::1]' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
  } catch {
    return false;
  }
}

/**
 * The table every BleepStore implementation expects (pk/sk, PAY_PER_REQUEST) plus this engine's
 * two indexes. BleepStore never creates it (the spec's rule); tests and operators can use this.
 */
export function tableDefinition(table: string): CreateTableCommandInput {
  return {
    TableName: table,
    BillingMode: 'PAY_PER_REQUEST',
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ],
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
      ...indexAttributes(REQUIRED_INDEXES),
    ],
    GlobalSecondaryIndexes: REQUIRED_INDEXES.map((index) => ({
      IndexName: index.name,
      KeySchema: [
        { AttributeName: index.hash, KeyType: 'HASH' },
        { AttributeName: index.range, KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'ALL' },
    })),
  };
}

function indexAttributes(indexes: readonly IndexSpec[]): { AttributeName: string; AttributeType: 'S' }[] {
  const names = new Set(indexes.flatMap((i) => [i.hash, i.range]));
  return [...names].map((AttributeName) => ({ AttributeName, AttributeType: 'S' as const }));
}

/** A range of the bucket-key index: keys from `start` (inclusive or not) below `end` (null = open). */
interface KeyRange {
  start: string;
  inclusive: boolean;
  end: string | null;
}

function rangeOf<R extends { key: string }>(cursor: ListCursor<R>, end: string | null): KeyRange {
  return cursor.kind === 'after'
    ? { start: cursor.row.key, inclusive: false, end }
    : { start: cursor.key, inclusive: cursor.inclusive, end };
}

/** Expression attribute names for a projection of plain attribute names. */
function projection(attributes: string[]): { expression: string; names: Record<string, string> } {
  const names: Record<string, string> = {};
  const parts = attributes.map((a, i) => {
    names[`#p${i}`] = a;
    return `#p${i}`;
  });
  return { expression: parts.join(', '), names };
}

function sortedJson(item: Item): string {
  return JSON.stringify(Object.keys(item).sort().map((k) => [k, item[k]]));
}

export class DynamoDbMetadataStore implements MetadataStore {
  /** The SDK client (exposed so tests can add middleware that counts or disturbs calls). */
  readonly client: DynamoDBClient;
  readonly table: string;

  constructor(readonly settings: DynamoDbSettings) {
    this.table = settings.table || 'bleepstore-metadata';
    const config: DynamoDBClientConfig = {
      region: settings.region || 'us-east-1',
      // withRetry is the one retry layer, so throttling is classified and surfaced consistently.
      maxAttempts: 1,
    };
    if (settings.endpoint_url) config.endpoint = settings.endpoint_url;
    // DynamoDB Local accepts any credentials (version 2+: a key id of letters and digits only); a
    // loopback endpoint with nothing configured gets static dummy ones, so a test or dev server
    // needs no AWS setup. Otherwise: the standard chain.
    if (isLoopbackEndpoint(settings.endpoint_url) && !process.env.AWS_ACCESS_KEY_ID && !process.env.AWS_PROFILE) {
      config.credentials = { accessKeyId: 'bleepstorelocal', secretAccessKey: 'bleepstorelocal' };
    }
    this.client = new DynamoDBClient(config);
  }

  /** Every SDK call goes through here: retried with backoff when throttled or transient. */
  private call<T>(op: () => Promise<T>): Promise<T> {
    return withRetry(SERVICE, op, classifyDynamoDbError);
  }

  // ---- lifecycle ----

  async init(): Promise<void> {
    let table = await this.describeTable();
    const keys = table.KeySchema ?? [];
    const hash = keys.find((k) => k.KeyType === 'HASH')?.AttributeName;
    const range = keys.find((k) => k.KeyType === 'RANGE')?.AttributeName;
    if (hash !== 'pk' || range !== 'sk') {
      throw new Error(`DynamoDB table "${this.table}" must have partition key pk (S) and sort key sk (S) (metadata.md §7); it has ${hash ?? 'none'}/${range ?? 'none'}`);
    }
    // Tables created by other BleepStore implementations (or by hand, per the spec) lack this
    // engine's indexes: add each missing one with UpdateTable and wait until it is ACTIVE. The
    // indexes only cover attributes the spec layout already writes, so the other
    // implementations keep working on the same table unchanged.
    for (const index of REQUIRED_INDEXES) table = await this.ensureIndex(table, index);
  }

  private async describeTable(): Promise<TableDescription> {
    try {
      const out = await this.call(() => this.client.send(new DescribeTableCommand({ TableName: this.table })));
      if (!out.Table) throw new Error('DescribeTable returned no table');
      return out.Table;
    } catch (e) {
      if (errorName(e) === 'ResourceNotFoundException') {
        const where = this.settings.endpoint_url ? ` at ${this.settings.endpoint_url}` : '';
        throw new Error(
          `DynamoDB table "${this.table}" does not exist in region ${this.settings.region || 'us-east-1'}${where}. ` +
            'BleepStore does not create it: create it with partition key pk (S, HASH) and sort key sk (S, RANGE), ' +
            'e.g. billing mode PAY_PER_REQUEST (metadata.md §7).',
        );
      }
      throw e;
    }
  }

  private async ensureIndex(initial: TableDescription, index: IndexSpec): Promise<TableDescription> {
    let table = initial;
    const deadline = Date.now() + INDEX_WAIT_MS;
    let delay = 100;
    const waitAndDescribe = async (): Promise<TableDescription> => {
      if (Date.now() > deadline) throw new Error(`DynamoDB table "${this.table}": index ${index.name} did not become ACTIVE in time`);
      await sleep(delay);
      delay = Math.min(delay * 2, 5000);
      return this.describeTable();
    };
    for (;;) {
      const existing = table.GlobalSecondaryIndexes?.find((i) => i.IndexName === index.name);
      if (existing) {
        const schema = existing.KeySchema ?? [];
        if (schema.find((k) => k.KeyType === 'HASH')?.AttributeName !== index.hash || schema.find((k) => k.KeyType === 'RANGE')?.AttributeName !== index.range) {
          throw new Error(`DynamoDB table "${this.table}": index ${index.name} exists but is not (${index.hash} HASH, ${index.range} RANGE)`);
        }
        if (existing.IndexStatus === undefined || existing.IndexStatus === 'ACTIVE') return table;
        if (existing.IndexStatus === 'DELETING') throw new Error(`DynamoDB table "${this.table}": index ${index.name} is being deleted`);
        table = await waitAndDescribe(); // CREATING / UPDATING (perhaps added by another node)
        continue;
      }
      // DynamoDB adds one index at a time, and only to an ACTIVE table.
      const busy = table.TableStatus !== 'ACTIVE' || (table.GlobalSecondaryIndexes ?? []).some((i) => i.IndexStatus === 'CREATING');
      if (!busy) {
        try {
          await this.addIndex(table, index);
        } catch (e) {
          // Another node may be adding it (or another index) right now: wait and look again.
          const name = errorName(e);
          if (name !== 'ResourceInUseException' && name !== 'LimitExceededException' && name !== 'ValidationException') throw e;
          if (name === 'ValidationException' && !/exist|in progress|one index/i.test(String((e as Error).message))) throw e;
        }
      }
      table = await waitAndDescribe();
    }
  }

  private async addIndex(table: TableDescription, index: IndexSpec): Promise<void> {
    const provisioned = table.BillingModeSummary?.BillingMode !== 'PAY_PER_REQUEST' && (table.ProvisionedThroughput?.ReadCapacityUnits ?? 0) > 0;
    await this.call(() =>
      this.client.send(
        new UpdateTableCommand({
          TableName: this.table,
          AttributeDefinitions: indexAttributes([index]),
          GlobalSecondaryIndexUpdates: [
            {
              Create: {
                IndexName: index.name,
                KeySchema: [
                  { AttributeName: index.hash, KeyType: 'HASH' },
                  { AttributeName: index.range, KeyType: 'RANGE' },
                ],
                Projection: { ProjectionType: 'ALL' },
                // A provisioned table needs the index's own capacity: mirror the table's.
                ...(provisioned
                  ? {
                      ProvisionedThroughput: {
                        ReadCapacityUnits: table.ProvisionedThroughput?.ReadCapacityUnits ?? 5,
                        WriteCapacityUnits: table.ProvisionedThroughput?.WriteCapacityUnits ?? 5,
                      },
                    }
                  : {}),
              },
            },
          ],
        }),
      ),
    );
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  async ping(): Promise<void> {
    await this.call(() => this.client.send(new DescribeTableCommand({ TableName: this.table })));
  }

  // ---- item primitives ----

  private async getItem(pk: string, sk: string = METADATA_SK, attributes?: string[]): Promise<Item | null> {
    const p = attributes ? projection(attributes) : undefined;
    const out = await this.call(() =>
      this.client.send(
        new GetItemCommand({
          TableName: this.table,
          Key: itemKey(pk, sk),
          ConsistentRead: true,
          ProjectionExpression: p?.expression,
          ExpressionAttributeNames: p?.names,
        }),
      ),
    );
    return out.Item ?? null;
  }

  private async itemExists(pk: string, sk: string = METADATA_SK): Promise<boolean> {
    return (await this.getItem(pk, sk, ['pk'])) !== null;
  }

  private async putItem(item: Item): Promise<void> {
    await this.call(() => this.client.send(new PutItemCommand({ TableName: this.table, Item: item })));
  }

  private async deleteItem(pk: string, sk: string = METADATA_SK): Promise<void> {
    await this.call(() => this.client.send(new DeleteItemCommand({ TableName: this.table, Key: itemKey(pk, sk) })));
  }

  /**
   * PutItem with `attribute_not_exists(pk)`. Returns false when the item exists, unless the
   * existing item is exactly ours and an earlier attempt was made: a retry after a lost
   * response must not report our own write as a conflict.
   */
  private async createItem(item: Item): Promise<boolean> {
    let attempts = 0;
    try {
      await this.call(() => {
        attempts++;
        return this.client.send(new PutItemCommand({ TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' }));
      });
      return true;
    } catch (e) {
      if (!isConditionFailed(e)) throw e;
      if (attempts > 1) {
        const current = await this.getItem(item.pk?.S ?? '', item.sk?.S ?? METADATA_SK);
        if (current !== null && sortedJson(current) === sortedJson(item)) return true;
      }
      return false;
    }
  }

  /** UpdateItem `SET name = :value` on an existing item; a missing item is left missing. */
  private async setAttribute(pk: string, name: string, value: string): Promise<void> {
    try {
      await this.call(() =>
        this.client.send(
          new UpdateItemCommand({
            TableName: this.table,
            Key: itemKey(pk),
            UpdateExpression: 'SET #a = :v',
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeNames: { '#a': name },
            ExpressionAttributeValues: { ':v': { S: value } },
          }),
        ),
      );
    } catch (e) {
      if (!isConditionFailed(e)) throw e;
    }
  }

  /** All pages of a Query; `firstLimit` sizes the first page, later pages double up to 1000. */
  private async *queryPages(input: QueryCommandInput, firstLimit?: number): AsyncGenerator<QueryCommandOutput> {
    let startKey: Item | undefined;
    let limit = firstLimit === undefined ? undefined : Math.max(1, Math.min(firstLimit, MAX_PAGE_ITEMS));
    do {
      const page = await this.call(() =>
        this.client.send(new QueryCommand({ ...input, TableName: this.table, ExclusiveStartKey: startKey, Limit: limit })),
      );
      yield page;
      startKey = page.LastEvaluatedKey;
      if (limit !== undefined) limit = Math.min(limit * 2, MAX_PAGE_ITEMS);
    } while (startKey !== undefined);
  }

  private async *scanPages(input: ScanCommandInput): AsyncGenerator<ScanCommandOutput> {
    let startKey: Item | undefined;
    do {
      const page = await this.call(() => this.client.send(new ScanCommand({ ...input, TableName: this.table, ExclusiveStartKey: startKey })));
      yield page;
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
  }

  /**
   * Items of one bucket from bucket-key-index in key (UTF-8) order within `range`, optionally only
   * one `type`. The sort-key condition carries the range (one condition per Query, so a bounded
   * range is BETWEEN with its end dropped here); the type filter applies after DynamoDB's Limit,
   * so pages are followed until the caller stops.
   */
  private async *bucketIndexItems(
    bucket: string,
    type: 'object' | 'upload' | null,
    range: KeyRange,
    firstLimit: number,
    attributes?: string[],
  ): AsyncGenerator<Item> {
    const { start, inclusive, end } = range;
    const names: Record<string, string> = { '#b': 'bucket' };
    const values: Item = { ':b': { S: bucket } };
    let condition = '#b = :b';
    // DynamoDB rejects an empty string in a key condition; '' is below every key anyway.
    if (start !== '' && end !== null) {
      if (utf8Compare(start, end) >= 0) return;
      condition += ' AND #k BETWEEN :s AND :e';
    } else if (start !== '') {
      condition += inclusive ? ' AND #k >= :s' : ' AND #k > :s';
    } else if (end !== null) {
      condition += ' AND #k < :e';
    }
    if (start !== '') values[':s'] = { S: start };
    if (end !== null) values[':e'] = { S: end };
    if (condition.includes('#k')) names['#k'] = 'key';
    let filter: string | undefined;
    if (type !== null) {
      names['#t'] = 'type';
      values[':t'] = { S: type };
      filter = '#t = :t';
    }
    let projectionExpression: string | undefined;
    if (attributes) {
      const p = projection(['key', ...attributes]);
      Object.assign(names, p.names);
      projectionExpression = p.expression;
    }
    const input: QueryCommandInput = {
      TableName: this.table,
      IndexName: BUCKET_KEY_INDEX.name,
      KeyConditionExpression: condition,
      FilterExpression: filter,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ProjectionExpression: projectionExpression,
    };
    for await (const page of this.queryPages(input, firstLimit)) {
      for (const item of page.Items ?? []) {
        const key = item.key?.S;
        if (key === undefined || (!inclusive && key === start) || (end !== null && key === end)) continue;
        yield item;
      }
    }
  }

  /** BatchWriteItem deletes in chunks of 25, retrying UnprocessedItems with back-off. */
  private async batchDelete(keys: Item[]): Promise<void> {
    for (let i = 0; i < keys.length; i += BATCH_WRITE_MAX) {
      let pending: WriteRequest[] = keys.slice(i, i + BATCH_WRITE_MAX).map((Key) => ({ DeleteRequest: { Key } }));
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > UNPROCESSED_RETRIES) {
          throw new BackendUnavailableError(SERVICE, true, new Error(`BatchWriteItem left ${pending.length} items unprocessed`));
        }
        if (attempt > 0) await sleep(100 * 2 ** (attempt - 1));
        const batch = pending;
        const out = await this.call(() => this.client.send(new BatchWriteItemCommand({ RequestItems: { [this.table]: batch } })));
        pending = out.UnprocessedItems?.[this.table] ?? [];
      }
    }
  }

  /** BatchGetItem (consistent) in chunks of 100, retrying UnprocessedKeys with back-off. */
  private async batchGet(keys: Item[], attributes: string[]): Promise<Item[]> {
    const found: Item[] = [];
    const p = projection(attributes);
    for (let i = 0; i < keys.length; i += BATCH_GET_MAX) {
      let pending = keys.slice(i, i + BATCH_GET_MAX);
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > UNPROCESSED_RETRIES) {
          throw new BackendUnavailableError(SERVICE, true, new Error(`BatchGetItem left ${pending.length} keys unprocessed`));
        }
        if (attempt > 0) await sleep(100 * 2 ** (attempt - 1));
        const batch = pending;
        const out = await this.call(() =>
          this.client.send(
            new BatchGetItemCommand({
              RequestItems: { [this.table]: { Keys: batch, ConsistentRead: true, ProjectionExpression: p.expression, ExpressionAttributeNames: p.names } },
            }),
          ),
        );
        found.push(...(out.Responses?.[this.table] ?? []));
        pending = out.UnprocessedKeys?.[this.table]?.Keys ?? [];
      }
    }
    return found;
  }

  private async requireBucket(name: string): Promise<void> {
    if (!(await this.bucketExists(name))) throw new Error(`metadata: bucket ${name} does not exist`);
  }

  // ---- buckets ----

  async createBucket(b: BucketRecord): Promise<void> {
    if (!(await this.createItem(bucketItem({ ...b, created_at: b.created_at || isoNow() })))) throw new BucketExistsError(b.name);
  }

  async getBucket(name: string): Promise<BucketRecord | null> {
    const item = await this.getItem(bucketPk(name));
    return item === null ? null : bucketFromItem(item);
  }

  async bucketExists(name: string): Promise<boolean> {
    return this.itemExists(bucketPk(name));
  }

  /** Served by type-name-index: a Query of the `bucket` partition, already in name order. */
  async listBuckets(ownerId?: string): Promise<BucketRecord[]> {
    const names: Record<string, string> = { '#t': 'type' };
    const values: Item = { ':t': { S: 'bucket' } };
    if (ownerId !== undefined) {
      names['#o'] = 'owner_id';
      values[':o'] = { S: ownerId };
    }
    const buckets: BucketRecord[] = [];
    for await (const page of this.queryPages({
      TableName: this.table,
      IndexName: TYPE_NAME_INDEX.name,
      KeyConditionExpression: '#t = :t',
      FilterExpression: ownerId === undefined ? undefined : '#o = :o',
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    })) {
      for (const item of page.Items ?? []) buckets.push(bucketFromItem(item));
    }
    return buckets.sort((a, b) => utf8Compare(a.name, b.name));
  }

  /**
   * Removes the bucket's objects, uploads and parts, then the bucket item, then sweeps once more:
   * writes check the bucket after writing (putObject), so one that raced the first sweep is
   * either caught by the second or removes itself.
   */
  async deleteBucket(name: string): Promise<void> {
    await this.purgeBucketContents(name);
    await this.deleteItem(bucketPk(name));
    await this.purgeBucketContents(name);
  }

  /** Objects and uploads via bucket-key-index (all types), then each upload's parts. */
  private async purgeBucketContents(bucket: string): Promise<void> {
    let keys: Item[] = [];
    const uploadIds: string[] = [];
    for await (const item of this.bucketIndexItems(bucket, null, { start: '', inclusive: true, end: null }, MAX_PAGE_ITEMS, ['pk', 'sk', 'type', 'upload_id'])) {
      const type = item.type?.S;
      if (type !== 'object' && type !== 'upload') continue;
      keys.push(itemKey(item.pk?.S ?? '', item.sk?.S ?? METADATA_SK));
      if (type === 'upload' && item.upload_id?.S !== undefined) uploadIds.push(item.upload_id.S);
      if (keys.length >= BATCH_WRITE_MAX) {
        await this.batchDelete(keys);
        keys = [];
      }
    }
    await this.batchDelete(keys);
    for (const id of uploadIds) await this.deleteParts(id);
  }

  async updateBucketAcl(name: string, acl: string): Promise<void> {
    await this.setAttribute(bucketPk(name), 'acl', acl);
  }

  // ---- objects ----

  /**
   * Upsert, then check the bucket. Checking after writing (rather than before, or with a
   * transaction that would make every put in a bucket contend on its bucket item) means a put
   * racing deleteBucket either is seen by its final sweep or removes itself here.
   */
  async putObject(obj: ObjectRecord): Promise<void> {
    const o = { ...obj, last_modified: obj.last_modified || isoNow() };
    await this.putItem(objectItem(o));
    if (!(await this.bucketExists(o.bucket))) {
      await this.deleteItem(objectPk(o.bucket, o.key));
      throw new Error(`metadata: bucket ${o.bucket} does not exist`);
    }
  }

  async getObject(bucket: string, key: string): Promise<ObjectRecord | null> {
    const item = await this.getItem(objectPk(bucket, key));
    return item === null ? null : objectFromItem(item);
  }

  async objectExists(bucket: string, key: string): Promise<boolean> {
    return this.itemExists(objectPk(bucket, key));
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    await this.deleteItem(objectPk(bucket, key));
  }

  /** BatchGetItem finds which keys exist, BatchWriteItem deletes those (duplicates once each). */
  async deleteObjectsMeta(bucket: string, keys: string[]): Promise<string[]> {
    const unique = [...new Set(keys)];
    const prefix = objectPk(bucket, '');
    const found = await this.batchGet(unique.map((k) => itemKey(objectPk(bucket, k))), ['pk']);
    const existing = new Set(found.map((item) => (item.pk?.S ?? '').slice(prefix.length)));
    const deleted = unique.filter((k) => existing.has(k));
    await this.batchDelete(deleted.map((k) => itemKey(objectPk(bucket, k))));
    return deleted;
  }

  async updateObjectAcl(bucket: string, key: string, acl: string): Promise<void> {
    await this.setAttribute(objectPk(bucket, key), 'acl', acl);
  }

  /** Range reads are Queries of bucket-key-index (key conditions + type filter), never a Scan. */
  async listObjects(bucket: string, options: ListObjectsOptions): Promise<ListObjectsResult> {
    return listObjectsWith(options, async (cursor, end, limit) => {
      const rows: ObjectRecord[] = [];
      if (limit <= 0) return rows;
      // +2: a BETWEEN range may return its excluded start and end keys.
      for await (const item of this.bucketIndexItems(bucket, 'object', rangeOf(cursor, end), limit + 2)) {
        rows.push(objectFromItem(item));
        if (rows.length >= limit) break;
      }
      return rows;
    });
  }

  /** A COUNT Query of the bucket's partition of bucket-key-index, filtered to objects. */
  async countObjects(bucket: string): Promise<number> {
    let count = 0;
    for await (const page of this.queryPages({
      TableName: this.table,
      IndexName: BUCKET_KEY_INDEX.name,
      KeyConditionExpression: '#b = :b',
      FilterExpression: '#t = :t',
      ExpressionAttributeNames: { '#b': 'bucket', '#t': 'type' },
      ExpressionAttributeValues: { ':b': { S: bucket }, ':t': { S: 'object' } },
      Select: 'COUNT',
    })) {
      count += page.Count ?? 0;
    }
    return count;
  }

  // ---- multipart ----

  async createMultipartUpload(upload: UploadRecord): Promise<void> {
    const u = { ...upload, initiated_at: upload.initiated_at || isoNow() };
    if (!(await this.createItem(uploadItem(u)))) throw new Error(`metadata: upload ${u.upload_id} already exists`);
    if (!(await this.bucketExists(u.bucket))) {
      await this.deleteItem(uploadPk(u.upload_id));
      throw new Error(`metadata: bucket ${u.bucket} does not exist`);
    }
  }

  async getMultipartUpload(bucket: string, key: string, uploadId: string): Promise<UploadRecord | null> {
    const item = await this.getItem(uploadPk(uploadId));
    if (item === null) return null;
    const u = uploadFromItem(item);
    return u.bucket === bucket && u.key === key ? u : null;
  }

  /**
   * Upsert, then check the upload (as putObject checks its bucket): complete and abort delete the
   * upload item before sweeping its parts, so a part racing them is swept or removes itself. A
   * transaction would make concurrent parts of one upload conflict on the upload item.
   */
  async putPart(uploadId: string, partNumber: number, size: number, etag: string, checksum?: ObjectChecksum | null): Promise<void> {
    await this.putItem(partItem(uploadId, partNumber, size, etag, isoNow(), checksum ?? null));
    if (!(await this.itemExists(uploadPk(uploadId)))) {
      await this.deleteItem(uploadPk(uploadId), partSk(partNumber));
      throw new Error(`metadata: upload ${uploadId} does not exist`);
    }
  }

  /** Query pk = UPLOAD#{id} AND sk BETWEEN PART#{marker+1} AND PART#99999 (zero padding = numeric order). */
  async listParts(uploadId: string, partNumberMarker: number, maxParts: number): Promise<ListPartsResult> {
    if (maxParts <= 0) return { parts: [], isTruncated: false };
    const first = Math.max(0, Math.floor(partNumberMarker)) + 1;
    if (first > MAX_PART_SK_NUMBER) return { parts: [], isTruncated: false };
    const rows: PartRecord[] = [];
    for await (const page of this.queryPages(
      {
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
        ExpressionAttributeValues: { ':pk': { S: uploadPk(uploadId) }, ':from': { S: partSk(first) }, ':to': { S: partSk(MAX_PART_SK_NUMBER) } },
        ConsistentRead: true,
      },
      maxParts + 1,
    )) {
      for (const item of page.Items ?? []) rows.push(partFromItem(item));
      if (rows.length > maxParts) break;
    }
    return partsPage(rows.slice(0, maxParts + 1), maxParts);
  }

  async getPartsForCompletion(uploadId: string): Promise<PartRecord[]> {
    return (await this.partItems(uploadId)).map(partFromItem);
  }

  /** Every part item of an upload, ascending: Query pk = UPLOAD#{id} AND begins_with(sk, 'PART#'). */
  private async partItems(uploadId: string, attributes?: string[]): Promise<Item[]> {
    const p = attributes ? projection(attributes) : undefined;
    const items: Item[] = [];
    for await (const page of this.queryPages({
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :part)',
      ExpressionAttributeValues: { ':pk': { S: uploadPk(uploadId) }, ':part': { S: PART_SK_PREFIX } },
      ProjectionExpression: p?.expression,
      ExpressionAttributeNames: p?.names,
      ConsistentRead: true,
    })) {
      items.push(...(page.Items ?? []));
    }
    return items;
  }

  private async deleteParts(uploadId: string): Promise<void> {
    const parts = await this.partItems(uploadId, ['pk', 'sk']);
    await this.batchDelete(parts.map((p) => itemKey(p.pk?.S ?? '', p.sk?.S ?? '')));
  }

  /**
   * One TransactWriteItems puts the object and deletes the upload with up to 98 parts, so the
   * visible switch (object appears, upload disappears) is atomic. Parts beyond the transaction's
   * 100 items, and any a concurrent putPart wrote, are swept afterwards; they are unreachable
   * once the upload item is gone. The client request token makes a retried transaction
   * idempotent, and a repeated Complete of a finished upload only rewrites the same object.
   */
  async completeMultipartUpload(bucket: string, key: string, uploadId: string, obj: ObjectRecord): Promise<void> {
    const o = { ...obj, last_modified: obj.last_modified || isoNow() };
    await this.requireBucket(o.bucket); // all or nothing: fail before touching anything
    const upload = await this.getItem(uploadPk(uploadId), METADATA_SK, ['bucket', 'key']);
    if (upload === null || upload.bucket?.S !== bucket || upload.key?.S !== key) {
      // Nothing of a missing or non-matching upload is touched (as in the SQLite engine).
      await this.putObject(o);
      return;
    }
    const parts = await this.partItems(uploadId, ['pk', 'sk']);
    const transactItems: TransactWriteItem[] = [
      { Put: { TableName: this.table, Item: objectItem(o) } },
      { Delete: { TableName: this.table, Key: itemKey(uploadPk(uploadId)) } },
      ...parts.slice(0, MAX_TRANSACTION_ITEMS - 2).map((p) => ({ Delete: { TableName: this.table, Key: itemKey(p.pk?.S ?? '', p.sk?.S ?? '') } })),
    ];
    const token = randomUUID();
    await this.call(() => this.client.send(new TransactWriteItemsCommand({ TransactItems: transactItems, ClientRequestToken: token })));
    await this.deleteParts(uploadId);
    if (!(await this.bucketExists(o.bucket))) {
      // deleteBucket ran meanwhile: do not leave the object behind for a re-created bucket.
      await this.deleteItem(objectPk(o.bucket, o.key));
      throw new Error(`metadata: bucket ${o.bucket} does not exist`);
    }
  }

  /** Conditional delete of the upload (bucket and key must match), then its parts. */
  async abortMultipartUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    try {
      await this.call(() =>
        this.client.send(
          new DeleteItemCommand({
            TableName: this.table,
            Key: itemKey(uploadPk(uploadId)),
            ConditionExpression: '#b = :b AND #k = :k',
            ExpressionAttributeNames: { '#b': 'bucket', '#k': 'key' },
            ExpressionAttributeValues: { ':b': { S: bucket }, ':k': { S: key } },
          }),
        ),
      );
    } catch (e) {
      if (!isConditionFailed(e)) throw e;
      // A non-matching upload is left alone. A missing one (also a retried delete whose first
      // attempt landed) may still have parts: they belong to nothing, so sweep them.
      if (await this.itemExists(uploadPk(uploadId))) return;
    }
    await this.deleteParts(uploadId);
  }

  /**
   * Range reads are Queries of bucket-key-index filtered to uploads. Uploads of one key come back
   * in no particular order, so a read completes the last key's group and sorts it
   * (key, initiated_at, upload_id) before cutting at `limit`.
   */
  async listMultipartUploads(bucket: string, options: ListUploadsOptions): Promise<ListUploadsResult> {
    return listUploadsWith(options, async (cursor, end, limit) => {
      const rows: UploadRecord[] = [];
      if (limit <= 0) return rows;
      const range: KeyRange = cursor.kind === 'after' ? { start: cursor.row.key, inclusive: true, end } : { start: cursor.key, inclusive: cursor.inclusive, end };
      for await (const item of this.bucketIndexItems(bucket, 'upload', range, limit + 2)) {
        const u = uploadFromItem(item);
        if (rows.length >= limit && u.key !== rows[rows.length - 1]?.key) break;
        if (cursor.kind === 'after' && compareUploads(u, cursor.row) <= 0) continue;
        rows.push(u);
      }
      return rows.sort(compareUploads).slice(0, limit);
    });
  }

  // ---- credentials ----

  async getCredential(accessKeyId: string): Promise<CredentialRecord | null> {
    const item = await this.getItem(credentialPk(accessKeyId));
    if (item === null) return null;
    const c = credentialFromItem(item);
    return c.active ? c : null;
  }

  /** Upsert keeping the created_at of an existing item (`if_not_exists`). */
  async putCredential(c: CredentialRecord): Promise<void> {
    await this.call(() =>
      this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: itemKey(credentialPk(c.access_key_id)),
          UpdateExpression: 'SET #t = :t, #a = :a, #s = :s, #o = :o, #d = :d, #act = :act, #c = if_not_exists(#c, :c)',
          ExpressionAttributeNames: {
            '#t': 'type',
            '#a': 'access_key_id',
            '#s': 'secret_key',
            '#o': 'owner_id',
            '#d': 'display_name',
            '#act': 'active',
            '#c': 'created_at',
          },
          ExpressionAttributeValues: {
            ':t': { S: 'credential' },
            ':a': { S: c.access_key_id },
            ':s': { S: c.secret_key },
            ':o': { S: c.owner_id },
            ':d': { S: c.display_name },
            ':act': { BOOL: c.active },
            ':c': { S: c.created_at || isoNow() },
          },
        }),
      ),
    );
  }

  // ---- maintenance ----

  /**
   * The spec's Scan (filter type = upload AND initiated_at < cutoff): no index covers uploads
   * across buckets, and this runs once per start. Each upload item goes first, then its parts.
   */
  async reapExpiredUploads(ttlSeconds: number): Promise<ReapedUpload[]> {
    const cutoff = isoSecondsAgo(ttlSeconds);
    const expired: (ReapedUpload & { initiated_at: string })[] = [];
    for await (const page of this.scanPages({
      TableName: this.table,
      FilterExpression: '#t = :t AND #i < :cutoff',
      ProjectionExpression: '#u, #b, #k, #i',
      ExpressionAttributeNames: { '#t': 'type', '#i': 'initiated_at', '#u': 'upload_id', '#b': 'bucket', '#k': 'key' },
      ExpressionAttributeValues: { ':t': { S: 'upload' }, ':cutoff': { S: cutoff } },
      ConsistentRead: true,
    })) {
      for (const item of page.Items ?? []) {
        expired.push({ upload_id: item.upload_id?.S ?? '', bucket: item.bucket?.S ?? '', key: item.key?.S ?? '', initiated_at: item.initiated_at?.S ?? '' });
      }
    }
    expired.sort((a, b) => (a.initiated_at < b.initiated_at ? -1 : a.initiated_at > b.initiated_at ? 1 : 0));
    for (const u of expired) {
      await this.deleteItem(uploadPk(u.upload_id));
      await this.deleteParts(u.upload_id);
    }
    return expired.map((u) => ({ upload_id: u.upload_id, bucket: u.bucket, key: u.key }));
  }

  async recordCommitIntent(intent: CommitIntent): Promise<void> {
    await this.putItem(intentItem(intent));
  }

  async clearCommitIntent(id: string): Promise<void> {
    await this.deleteItem(intentPk(id), id);
  }

  /** One consistent Query per intent shard partition. */
  async listCommitIntents(): Promise<CommitIntent[]> {
    const intents: CommitIntent[] = [];
    for (let shard = 0; shard < INTENT_SHARDS; shard++) {
      for await (const page of this.queryPages({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': { S: intentShardPk(shard) } },
        ConsistentRead: true,
      })) {
        for (const item of page.Items ?? []) intents.push(intentFromItem(item));
      }
    }
    return intents.sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
}
