// DynamoDB engine specifics (metadata.md §7), against DynamoDB Local through the official SDK:
// the exact single-table item layout (so other BleepStore implementations read what we write and
// we read what they write), index bootstrapping on tables created without our indexes, listings
// served by Queries (never a Scan), and retry/error behaviour. The shared behaviour is covered by
// test/metadata-conformance.test.ts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  type AttributeValue,
  type BatchWriteItemCommandInput,
  type BatchWriteItemCommandOutput,
} from '@aws-sdk/client-dynamodb';
import { BackendUnavailableError } from '../src/cloud/retry.js';
import { DynamoDbMetadataStore, REQUIRED_INDEXES, classifyDynamoDbError, isLoopbackEndpoint, tableDefinition } from '../src/metadata/dynamodb.js';
import type { BucketRecord, ObjectRecord, UploadRecord } from '../src/metadata/types.js';
import { uniqueNamespaceId } from './servers/config-patch.js';
import { startPeer } from './servers/index.js';
import type { TestPeer } from './servers/types.js';

type Item = Record<string, AttributeValue>;
type Settings = ConstructorParameters<typeof DynamoDbMetadataStore>[0];

let peer: TestPeer;
let raw: DynamoDBClient;
let endpoint = '';

before(async () => {
  peer = await startPeer('dynamodb');
  const probe = await peer.namespace(uniqueNamespaceId('ddb-probe'));
  endpoint = probe.metadata?.dynamodb?.endpoint_url ?? '';
  raw = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
});
after(async () => {
  raw?.destroy();
  await peer?.stop();
});

/** A fresh table with the engine's indexes (the peer's namespace), opened. */
async function freshStore(): Promise<DynamoDbMetadataStore> {
  const patch = await peer.namespace(uniqueNamespaceId('ddb'));
  const store = new DynamoDbMetadataStore(patch.metadata?.dynamodb as Settings);
  await store.init();
  return store;
}

function settingsFor(table: string): Settings {
  return { table, region: 'us-east-1', endpoint_url: endpoint };
}

async function getRaw(table: string, pk: string, sk = '#METADATA'): Promise<Item | undefined> {
  return (await raw.send(new GetItemCommand({ TableName: table, Key: { pk: { S: pk }, sk: { S: sk } }, ConsistentRead: true }))).Item;
}

async function putRaw(table: string, item: Item): Promise<void> {
  await raw.send(new PutItemCommand({ TableName: table, Item: item }));
}

/** Counts the SDK commands a store sends (e.g. ScanCommand, QueryCommand), with their inputs. */
function recordCommands(store: DynamoDbMetadataStore): { name: string; input: Record<string, unknown> }[] {
  const seen: { name: string; input: Record<string, unknown> }[] = [];
  store.client.middlewareStack.add(
    (next, context) => async (args) => {
      seen.push({ name: context.commandName ?? '', input: args.input as Record<string, unknown> });
      return next(args);
    },
    { step: 'initialize', name: 'recordCommands' },
  );
  return seen;
}

/** Makes the next `times` calls of `command` fail with an SDK-shaped error named `errorName`. */
function failNext(store: DynamoDbMetadataStore, command: string, errorName: string, times: number): { calls: number } {
  const state = { calls: 0 };
  store.client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === command) {
        state.calls++;
        if (state.calls <= times) {
          throw Object.assign(new Error(`injected ${errorName}`), { name: errorName, $metadata: { httpStatusCode: 400 } });
        }
      }
      return next(args);
    },
    { step: 'initialize', name: `fail-${command}-${errorName}` },
  );
  return state;
}

const bucket = (name: string, owner = 'owner-1'): BucketRecord => ({
  name,
  region: 'us-east-1',
  owner_id: owner,
  owner_display: 'Owner',
  acl: '{}',
  created_at: '2026-01-01T00:00:00.000Z',
});

const object = (b: string, key: string, over: Partial<ObjectRecord> = {}): ObjectRecord => ({
  bucket: b,
  key,
  size: 3,
  etag: '"acbd18db4cc2f85cedef654fccc4a4d8"',
  content_type: 'text/plain',
  content_encoding: null,
  content_language: null,
  content_disposition: null,
  cache_control: null,
  expires: null,
  storage_class: 'STANDARD',
  acl: '{}',
  user_metadata: '{"x-amz-meta-a":"1"}',
  last_modified: '2026-01-02T03:04:05.000Z',
  delete_marker: false,
  checksum: null,
  ...over,
});

const upload = (b: string, key: string, id: string): UploadRecord => ({
  upload_id: id,
  bucket: b,
  key,
  content_type: 'text/plain',
  content_encoding: null,
  content_language: 'en',
  content_disposition: null,
  cache_control: null,
  expires: null,
  storage_class: 'STANDARD',
  acl: '{}',
  user_metadata: '{}',
  owner_id: 'owner-1',
  owner_display: 'Owner',
  initiated_at: '2026-01-01T00:00:00.000Z',
});

const S = (s: string): AttributeValue => ({ S: s });
const N = (n: number): AttributeValue => ({ N: String(n) });

describe('DynamoDB engine: item layout (metadata.md §7)', () => {
  it('writes every entity in the spec layout: pk/sk/type, SQLite column names, no null or delete_marker attributes', async () => {
    const store = await freshStore();
    const t = store.table;
    await store.createBucket(bucket('b'));
    await store.putObject(object('b', 'dir/k', { content_disposition: 'inline' }));
    await store.createMultipartUpload(upload('b', 'big', 'u1'));
    await store.putPart('u1', 7, 5, '"p7"');
    await store.putCredential({ access_key_id: 'AK', secret_key: 'SK', owner_id: 'o', display_name: 'AK', active: true, created_at: '2026-01-01T00:00:00.000Z' });

    assert.deepEqual(await getRaw(t, 'BUCKET#b'), {
      pk: S('BUCKET#b'), sk: S('#METADATA'), type: S('bucket'), name: S('b'), region: S('us-east-1'),
      owner_id: S('owner-1'), owner_display: S('Owner'), acl: S('{}'), created_at: S('2026-01-01T00:00:00.000Z'),
    });
    assert.deepEqual(await getRaw(t, 'OBJECT#b#dir/k'), {
      pk: S('OBJECT#b#dir/k'), sk: S('#METADATA'), type: S('object'), bucket: S('b'), key: S('dir/k'), size: N(3),
      etag: S('"acbd18db4cc2f85cedef654fccc4a4d8"'), content_type: S('text/plain'), content_disposition: S('inline'),
      storage_class: S('STANDARD'), acl: S('{}'), user_metadata: S('{"x-amz-meta-a":"1"}'), last_modified: S('2026-01-02T03:04:05.000Z'),
    });
    assert.deepEqual(await getRaw(t, 'UPLOAD#u1'), {
      pk: S('UPLOAD#u1'), sk: S('#METADATA'), type: S('upload'), upload_id: S('u1'), bucket: S('b'), key: S('big'),
      content_type: S('text/plain'), content_language: S('en'), storage_class: S('STANDARD'), acl: S('{}'), user_metadata: S('{}'),
      owner_id: S('owner-1'), owner_display: S('Owner'), initiated_at: S('2026-01-01T00:00:00.000Z'),
    });
    const part = await getRaw(t, 'UPLOAD#u1', 'PART#00007');
    assert.ok(part);
    assert.match(part.last_modified?.S ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
    assert.deepEqual({ ...part, last_modified: S('x') }, {
      pk: S('UPLOAD#u1'), sk: S('PART#00007'), type: S('part'), upload_id: S('u1'), part_number: N(7), size: N(5), etag: S('"p7"'), last_modified: S('x'),
    });
    assert.deepEqual(await getRaw(t, 'CRED#AK'), {
      pk: S('CRED#AK'), sk: S('#METADATA'), type: S('credential'), access_key_id: S('AK'), secret_key: S('SK'), owner_id: S('o'),
      display_name: S('AK'), active: { BOOL: true }, created_at: S('2026-01-01T00:00:00.000Z'),
    });
    await store.close();
  });

  it('keeps beyond-spec data in extra optional attributes that a foreign PutItem overwrite drops', async () => {
    const store = await freshStore();
    const t = store.table;
    await store.createBucket(bucket('b'));
    const checksum = { algorithm: 'crc32c', value: 'yZRlqg==' };
    await store.putObject(object('b', 'k', { checksum }));
    const item = await getRaw(t, 'OBJECT#b#k');
    assert.deepEqual([item?.checksum_algorithm, item?.checksum_value], [S('crc32c'), S('yZRlqg==')]);
    await store.createMultipartUpload({ ...upload('b', 'm', 'u1'), checksum_algorithm: 'sha256', checksum_type: 'FULL_OBJECT' });
    const up = await getRaw(t, 'UPLOAD#u1');
    assert.deepEqual([up?.checksum_algorithm, up?.checksum_type], [S('sha256'), S('FULL_OBJECT')]);
    await store.putPart('u1', 1, 5, '"p"', checksum);
    const part = await getRaw(t, 'UPLOAD#u1', 'PART#00001');
    assert.deepEqual([part?.checksum_algorithm, part?.checksum_value], [S('crc32c'), S('yZRlqg==')]);

    // Another implementation rewrites the object in the spec layout: no stale checksum shows.
    const { checksum_algorithm: _a, checksum_value: _v, ...plain } = item as Item;
    await putRaw(t, { ...plain, etag: S('"other"') });
    assert.equal((await store.getObject('b', 'k'))?.checksum, null);

    // Commit intents live in their own partitions, outside both indexes.
    const intent = { id: 'i1', staged_path: '/x/.tmp/1', action: { kind: 'object' as const, object: object('b', 'n') }, created_at: '2026-01-01T00:00:00.000Z' };
    await store.recordCommitIntent(intent);
    const scanned = (await raw.send(new ScanCommand({ TableName: t, ConsistentRead: true }))).Items ?? [];
    const intentItem = scanned.find((i) => i.type?.S === 'intent');
    assert.match(intentItem?.pk?.S ?? '', /^INTENT#[0-9a-f]{2}$/);
    assert.deepEqual([intentItem?.sk, intentItem?.id, intentItem?.bucket, intentItem?.name], [S('i1'), S('i1'), undefined, undefined]);
    assert.deepEqual(await store.listCommitIntents(), [intent]);
    await store.close();
  });

  it('reads items another implementation wrote raw in the spec layout', async () => {
    const store = await freshStore();
    const t = store.table;
    await putRaw(t, {
      pk: S('BUCKET#foreign'), sk: S('#METADATA'), type: S('bucket'), name: S('foreign'), region: S('eu-west-1'),
      owner_id: S('fo'), owner_display: S('Foreign'), acl: S('{"owner":{"id":"fo"},"grants":[]}'), created_at: S('2025-05-05T05:05:05.000Z'),
    });
    for (const key of ['a/1', 'a/2', 'b', '😀', '\uE000']) {
      await putRaw(t, {
        pk: S(`OBJECT#foreign#${key}`), sk: S('#METADATA'), type: S('object'), bucket: S('foreign'), key: S(key), size: N(10),
        etag: S('"e"'), content_type: S('application/json'), storage_class: S('STANDARD'), acl: S('{}'),
        user_metadata: S('{"author":"py"}'), last_modified: S('2025-05-05T05:05:05.000Z'), cache_control: S('no-cache'),
      });
    }
    await putRaw(t, {
      pk: S('UPLOAD#fu'), sk: S('#METADATA'), type: S('upload'), upload_id: S('fu'), bucket: S('foreign'), key: S('big'),
      content_type: S('application/octet-stream'), storage_class: S('STANDARD'), acl: S('{}'), user_metadata: S('{}'),
      owner_id: S('fo'), owner_display: S(''), initiated_at: S('2025-05-05T05:05:05.000Z'),
    });
    for (const n of [2, 1, 10]) {
      await putRaw(t, {
        pk: S('UPLOAD#fu'), sk: S(`PART#${String(n).padStart(5, '0')}`), type: S('part'), upload_id: S('fu'), part_number: N(n),
        size: N(n * 100), etag: S(`"p${n}"`), last_modified: S('2025-05-05T05:05:06.000Z'),
      });
    }
    await putRaw(t, {
      pk: S('CRED#FK'), sk: S('#METADATA'), type: S('credential'), access_key_id: S('FK'), secret_key: S('fs'), owner_id: S('fo'),
      display_name: S('FK'), active: { BOOL: true }, created_at: S('2025-05-05T05:05:05.000Z'),
    });
    await putRaw(t, {
      pk: S('CRED#OFF'), sk: S('#METADATA'), type: S('credential'), access_key_id: S('OFF'), secret_key: S('x'), owner_id: S('fo'),
      display_name: S(''), active: { BOOL: false }, created_at: S('2025-05-05T05:05:05.000Z'),
    });

    assert.deepEqual(await store.listBuckets(), [
      { name: 'foreign', region: 'eu-west-1', owner_id: 'fo', owner_display: 'Foreign', acl: '{"owner":{"id":"fo"},"grants":[]}', created_at: '2025-05-05T05:05:05.000Z' },
    ]);
    assert.deepEqual(await store.getObject('foreign', 'a/1'), object('foreign', 'a/1', {
      size: 10, etag: '"e"', content_type: 'application/json', cache_control: 'no-cache', user_metadata: '{"author":"py"}', last_modified: '2025-05-05T05:05:05.000Z',
    }));
    const listed = await store.listObjects('foreign', { prefix: '', delimiter: '/', maxKeys: 1000, startAfter: '' });
    assert.deepEqual(listed.commonPrefixes, ['a/']);
    assert.deepEqual(listed.contents.map((o) => o.key), ['b', '\uE000', '😀']); // UTF-8 byte order
    assert.equal(await store.countObjects('foreign'), 5);
    const uploads = await store.listMultipartUploads('foreign', { prefix: '', delimiter: '', maxUploads: 10, keyMarker: '', uploadIdMarker: '' });
    assert.deepEqual(uploads.uploads.map((u) => u.upload_id), ['fu']);
    assert.equal(uploads.uploads[0]?.checksum_algorithm, undefined);
    assert.deepEqual((await store.getPartsForCompletion('fu')).map((p) => [p.part_number, p.size, p.etag]), [[1, 100, '"p1"'], [2, 200, '"p2"'], [10, 1000, '"p10"']]);
    assert.deepEqual((await store.listParts('fu', 1, 1)).parts.map((p) => p.part_number), [2]);
    assert.equal((await store.getCredential('FK'))?.secret_key, 'fs');
    assert.equal(await store.getCredential('OFF'), null);

    // And a foreign table's upload completes through this engine.
    await store.completeMultipartUpload('foreign', 'big', 'fu', object('foreign', 'big', { size: 1300 }));
    assert.equal(await getRaw(t, 'UPLOAD#fu'), undefined);
    assert.equal(await getRaw(t, 'UPLOAD#fu', 'PART#00001'), undefined);
    assert.equal((await store.getObject('foreign', 'big'))?.size, 1300);
    await store.close();
  });
});

describe('DynamoDB engine: table and index bootstrap', () => {
  it('init fails with a clear message when the table is missing', async () => {
    const store = new DynamoDbMetadataStore(settingsFor(`missing-${uniqueNamespaceId('t')}`));
    await assert.rejects(store.init(), /DynamoDB table "missing-.*" does not exist .*pk \(S, HASH\).*sk \(S, RANGE\)/);
    await store.close();
  });

  for (const billing of ['PAY_PER_REQUEST', 'PROVISIONED'] as const) {
    it(`init adds the missing indexes to a spec-only ${billing} table (as other implementations create it)`, async () => {
      const table = `spec-only-${uniqueNamespaceId(billing.toLowerCase().slice(0, 4))}`;
      await raw.send(
        new CreateTableCommand({
          TableName: table,
          KeySchema: [
            { AttributeName: 'pk', KeyType: 'HASH' },
            { AttributeName: 'sk', KeyType: 'RANGE' },
          ],
          AttributeDefinitions: [
            { AttributeName: 'pk', AttributeType: 'S' },
            { AttributeName: 'sk', AttributeType: 'S' },
          ],
          ...(billing === 'PROVISIONED' ? { BillingMode: 'PROVISIONED', ProvisionedThroughput: { ReadCapacityUnits: 7, WriteCapacityUnits: 3 } } : { BillingMode: 'PAY_PER_REQUEST' }),
        }),
      );
      // Data written before the indexes existed is indexed by the backfill.
      await putRaw(table, { pk: S('BUCKET#old'), sk: S('#METADATA'), type: S('bucket'), name: S('old'), region: S('us-east-1'), owner_id: S('o'), owner_display: S(''), acl: S('{}'), created_at: S('2025-01-01T00:00:00.000Z') });
      await putRaw(table, { pk: S('OBJECT#old#k'), sk: S('#METADATA'), type: S('object'), bucket: S('old'), key: S('k'), size: N(1), etag: S('"e"'), content_type: S('x'), storage_class: S('STANDARD'), acl: S('{}'), user_metadata: S('{}'), last_modified: S('2025-01-01T00:00:00.000Z') });

      const store = new DynamoDbMetadataStore(settingsFor(table));
      await store.init();
      const described = (await raw.send(new DescribeTableCommand({ TableName: table }))).Table;
      const indexes = described?.GlobalSecondaryIndexes ?? [];
      assert.deepEqual(indexes.map((i) => i.IndexName).sort(), REQUIRED_INDEXES.map((i) => i.name).sort());
      for (const index of indexes) {
        assert.equal(index.IndexStatus, 'ACTIVE');
        if (billing === 'PROVISIONED') assert.equal(index.ProvisionedThroughput?.ReadCapacityUnits, 7);
      }
      assert.deepEqual((await store.listBuckets()).map((b) => b.name), ['old']);
      assert.deepEqual((await store.listObjects('old', { prefix: '', delimiter: '', maxKeys: 10, startAfter: '' })).contents.map((o) => o.key), ['k']);
      await store.init(); // idempotent once the indexes exist
      await store.close();
    });
  }

  it('the peer creates the documented table definition', () => {
    const def = tableDefinition('x');
    assert.equal(def.BillingMode, 'PAY_PER_REQUEST');
    assert.deepEqual(def.GlobalSecondaryIndexes?.map((i) => [i.IndexName, i.KeySchema?.map((k) => `${k.AttributeName}:${k.KeyType}`)]), [
      ['bucket-key-index', ['bucket:HASH', 'key:RANGE']],
      ['type-name-index', ['type:HASH', 'name:RANGE']],
    ]);
  });
});

describe('DynamoDB engine: queries, never scans', () => {
  it('listObjects, listMultipartUploads, countObjects and listBuckets are index Queries', async () => {
    const store = await freshStore();
    await store.createBucket(bucket('b'));
    for (let i = 0; i < 30; i++) await store.putObject(object('b', `p${i % 3}/k${i}`));
    for (let i = 0; i < 5; i++) await store.createMultipartUpload(upload('b', `p1/up${i}`, `u${i}`));
    const commands = recordCommands(store);

    const flat = await store.listObjects('b', { prefix: 'p1/', delimiter: '', maxKeys: 4, startAfter: 'p1/k1' });
    assert.deepEqual(flat.contents.map((o) => o.key), ['p1/k10', 'p1/k13', 'p1/k16', 'p1/k19']);
    assert.equal(flat.isTruncated, true);
    const grouped = await store.listObjects('b', { prefix: '', delimiter: '/', maxKeys: 1000, startAfter: '' });
    assert.deepEqual(grouped.commonPrefixes, ['p0/', 'p1/', 'p2/']);
    const uploads = await store.listMultipartUploads('b', { prefix: 'p1/', delimiter: '', maxUploads: 2, keyMarker: 'p1/up0', uploadIdMarker: '' });
    assert.deepEqual(uploads.uploads.map((u) => u.upload_id), ['u1', 'u2']);
    assert.equal(await store.countObjects('b'), 30);
    assert.deepEqual((await store.listBuckets()).map((b) => b.name), ['b']);

    assert.ok(commands.length > 0);
    assert.deepEqual([...new Set(commands.map((c) => c.name))], ['QueryCommand']);
    assert.ok(commands.every((c) => typeof c.input.IndexName === 'string'), 'every listing Query uses an index');
    // A delimiter listing seeks past each common prefix instead of reading all 30 keys.
    await store.close();
  });

  it('completes an upload with more parts than one transaction holds', async () => {
    const store = await freshStore();
    await store.createBucket(bucket('b'));
    await store.createMultipartUpload(upload('b', 'big', 'u-many'));
    for (let n = 1; n <= 130; n++) await store.putPart('u-many', n, 1, `"e${n}"`);
    const commands = recordCommands(store);
    await store.completeMultipartUpload('b', 'big', 'u-many', object('b', 'big', { size: 130 }));
    assert.equal(commands.filter((c) => c.name === 'TransactWriteItemsCommand').length, 1);
    assert.equal((await store.getObject('b', 'big'))?.size, 130);
    assert.equal(await store.getMultipartUpload('b', 'big', 'u-many'), null);
    assert.deepEqual(await store.getPartsForCompletion('u-many'), []);
    // Complete again (a retried request): the object stays, nothing fails.
    await store.completeMultipartUpload('b', 'big', 'u-many', object('b', 'big', { size: 130 }));
    assert.equal((await store.getObject('b', 'big'))?.size, 130);
    await store.close();
  });

  it('two stores on one table see each other at once (no in-process caches)', async () => {
    const a = await freshStore();
    const b = new DynamoDbMetadataStore(settingsFor(a.table));
    await b.init();
    await a.createBucket(bucket('shared'));
    await assert.rejects(b.createBucket(bucket('shared')), /already exists/);
    await b.putObject(object('shared', 'k'));
    assert.equal((await a.getObject('shared', 'k'))?.size, 3);
    await a.updateObjectAcl('shared', 'k', '{"grants":[]}');
    assert.equal((await b.getObject('shared', 'k'))?.acl, '{"grants":[]}');
    await b.deleteBucket('shared');
    assert.equal(await a.bucketExists('shared'), false);
    await assert.rejects(a.putObject(object('shared', 'k2')), /does not exist/);
    assert.equal(await b.getObject('shared', 'k2'), null);
    await a.close();
    await b.close();
  });
});

describe('DynamoDB engine: retries and errors', () => {
  it('classifies throttling, transient and fatal errors', () => {
    for (const name of ['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded']) {
      assert.equal(classifyDynamoDbError({ name }), 'throttled', name);
    }
    assert.equal(classifyDynamoDbError({ name: 'InternalServerError', $metadata: { httpStatusCode: 500 } }), 'transient');
    assert.equal(classifyDynamoDbError({ name: 'Whatever', $metadata: { httpStatusCode: 503 } }), 'transient');
    assert.equal(classifyDynamoDbError(Object.assign(new Error('reset'), { code: 'ECONNRESET' })), 'transient');
    assert.equal(classifyDynamoDbError({ name: 'TransactionCanceledException', CancellationReasons: [{ Code: 'None' }, { Code: 'TransactionConflict' }] }), 'transient');
    assert.equal(classifyDynamoDbError({ name: 'TransactionCanceledException', CancellationReasons: [{ Code: 'ThrottlingError' }] }), 'throttled');
    assert.equal(classifyDynamoDbError({ name: 'TransactionCanceledException', CancellationReasons: [{ Code: 'ConditionalCheckFailed' }] }), 'fatal');
    assert.equal(classifyDynamoDbError({ name: 'ConditionalCheckFailedException', $metadata: { httpStatusCode: 400 } }), 'fatal');
    assert.equal(classifyDynamoDbError({ name: 'ValidationException', $metadata: { httpStatusCode: 400 } }), 'fatal');
  });

  it('retries throttling until it clears, then surfaces BackendUnavailableError(throttled)', async () => {
    const store = await freshStore();
    await store.createBucket(bucket('b'));
    const brief = failNext(store, 'GetItemCommand', 'ProvisionedThroughputExceededException', 2);
    assert.equal(await store.bucketExists('b'), true);
    assert.equal(brief.calls, 3);

    const lasting = failNext(store, 'QueryCommand', 'ThrottlingException', 1000);
    await assert.rejects(store.listBuckets(), (e: unknown) => {
      assert.ok(e instanceof BackendUnavailableError);
      assert.equal(e.throttled, true);
      return true;
    });
    assert.equal(lasting.calls, 5);
    await store.close();
  });

  it('does not retry fatal errors', async () => {
    const store = await freshStore();
    const fatal = failNext(store, 'GetItemCommand', 'ValidationException', 1000);
    await assert.rejects(store.getBucket('b'), /injected ValidationException/);
    assert.equal(fatal.calls, 1);
    await store.close();
  });

  it('an unreachable endpoint is transient: BackendUnavailableError(not throttled) after retries', async () => {
    const store = new DynamoDbMetadataStore({ table: 't', region: 'us-east-1', endpoint_url: 'http://127.0.0.1:1' });
    await assert.rejects(store.ping(), (e: unknown) => {
      assert.ok(e instanceof BackendUnavailableError);
      assert.equal(e.throttled, false);
      return true;
    });
    await store.close();
  });

  it('BatchWriteItem UnprocessedItems are retried until done', async () => {
    const store = await freshStore();
    await store.createBucket(bucket('b'));
    const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);
    for (const k of keys) await store.putObject(object('b', k));
    let batches = 0;
    store.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'BatchWriteItemCommand') return next(args);
        // The first two batches process one request and hand the rest back as unprocessed.
        if (++batches > 2) return next(args);
        const input = args.input as BatchWriteItemCommandInput;
        const [table, requests] = Object.entries(input.RequestItems ?? {})[0] ?? ['', []];
        const result = await next({ ...args, input: { ...input, RequestItems: { [table]: requests.slice(0, 1) } } });
        const output = result.output as BatchWriteItemCommandOutput;
        output.UnprocessedItems = requests.length > 1 ? { [table]: requests.slice(1) } : {};
        return result;
      },
      { step: 'initialize', name: 'unprocessed' },
    );
    assert.deepEqual(await store.deleteObjectsMeta('b', keys), keys);
    assert.equal(await store.countObjects('b'), 0);
    assert.ok(batches > 3);
    await store.close();
  });

  it('uses dummy credentials only for a loopback endpoint without configured credentials', async () => {
    assert.equal(isLoopbackEndpoint('http://127.0.0.1:8000'), true);
    assert.equal(isLoopbackEndpoint('http://localhost:8000'), true);
    assert.equal(isLoopbackEndpoint('http://[::1]:8000'), true);
    assert.equal(isLoopbackEndpoint('https://dynamodb.us-east-1.amazonaws.com'), false);
    assert.equal(isLoopbackEndpoint(''), false);
    if (process.env.AWS_ACCESS_KEY_ID || process.env.AWS_PROFILE) return;
    const store = new DynamoDbMetadataStore(settingsFor('any'));
    const credentials = await store.client.config.credentials();
    assert.equal(credentials.accessKeyId, 'bleepstorelocal');
    await store.close();
  });
});
