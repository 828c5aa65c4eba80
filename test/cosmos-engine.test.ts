// Cosmos DB engine specifics (metadata.md §9) that the shared conformance suite cannot see: the
// exact item layout (ids, `type` partition key, SQLite field names, the b64: id form), reading
// items another implementation wrote in that layout, the listing order field, connection settings,
// error classification, and the crash-safety of multipart completion. @vercel/cosmosdb-server's
// transactional batch is not atomic, so completion is checked at unit level against a port that
// models an atomic service and injects crashes after every write.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CosmosClient, type Container } from '@azure/cosmos';
import { BackendUnavailableError, DEFAULT_RETRY_POLICY } from '../src/cloud/retry.js';
import { classifyCosmosError, cosmosConnection, CosmosMetadataStore } from '../src/metadata/cosmos.js';
import {
  completeUpload,
  deleteAllInBatch,
  idSegment,
  MAX_BATCH_OPS,
  objectItemId,
  partItemId,
  removeUpload,
  uploadItemId,
  uploadRemovalBatches,
  type CompletionPort,
} from '../src/metadata/cosmos-items.js';
import type { BucketRecord, ObjectRecord, UploadRecord } from '../src/metadata/types.js';
import { uniqueNamespaceId } from './servers/config-patch.js';
import { COSMOS_TEST_DATABASE, COSMOS_TEST_KEY, containerNameFor, start } from './servers/cosmosdb-server.js';
import type { TestPeer } from './servers/types.js';

const T0 = '2026-01-01T00:00:00.000Z';

function bucketRec(name: string): BucketRecord {
  return { name, region: 'us-east-1', owner_id: 'owner-1', owner_display: 'Owner', acl: '{}', created_at: T0 };
}

function objectRec(bucket: string, key: string, over: Partial<ObjectRecord> = {}): ObjectRecord {
  return {
    bucket,
    key,
    size: 3,
    etag: '"acbd18db4cc2f85cedef654fccc4a4d8"',
    content_type: 'application/octet-stream',
    content_encoding: null,
    content_language: null,
    content_disposition: null,
    cache_control: null,
    expires: null,
    storage_class: 'STANDARD',
    acl: '{}',
    user_metadata: '{}',
    last_modified: '2026-01-02T03:04:05.000Z',
    delete_marker: false,
    checksum: null,
    ...over,
  };
}

function uploadRec(bucket: string, key: string, uploadId: string, initiatedAt = T0): UploadRecord {
  return {
    upload_id: uploadId,
    bucket,
    key,
    content_type: 'text/plain',
    content_encoding: null,
    content_language: 'en',
    content_disposition: null,
    cache_control: null,
    expires: null,
    storage_class: 'STANDARD',
    acl: '{}',
    user_metadata: '{"x-amz-meta-a":"1"}',
    owner_id: 'owner-1',
    owner_display: 'Owner',
    initiated_at: initiatedAt,
  };
}

const listAll = { prefix: '', delimiter: '', maxKeys: 1000, startAfter: '' };
const noUploadOpts = { prefix: '', delimiter: '', maxUploads: 1000, keyMarker: '', uploadIdMarker: '' };

/** The item as stored, without the system properties Cosmos adds. */
function userFields(item: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(item ?? {})) if (!k.startsWith('_')) out[k] = v;
  return out;
}

// ---- against the real server ----

describe('Cosmos engine against @vercel/cosmosdb-server', () => {
  let peer: TestPeer;
  let endpoint: string;
  let raw: CosmosClient;
  before(async () => {
    peer = await start();
    const patch = await peer.namespace('probe');
    endpoint = patch.metadata?.cosmos?.endpoint ?? '';
    raw = new CosmosClient({ endpoint, key: COSMOS_TEST_KEY, connectionPolicy: { enableEndpointDiscovery: false } });
  });
  after(async () => {
    raw.dispose();
    await peer.stop();
  });

  /** A fresh container, an initialised store on it and a raw SDK handle to the same container. */
  async function fresh(useConnectionString = false): Promise<{ store: CosmosMetadataStore; container: Container; name: string }> {
    const name = containerNameFor(uniqueNamespaceId('cosmos-eng'));
    const store = new CosmosMetadataStore({
      database: COSMOS_TEST_DATABASE,
      container: name,
      endpoint: useConnectionString ? '' : endpoint,
      master_key: useConnectionString ? '' : COSMOS_TEST_KEY,
      connection_string: useConnectionString ? `AccountEndpoint=${endpoint}/;AccountKey=${COSMOS_TEST_KEY};` : '',
    });
    await store.init();
    return { store, container: raw.database(COSMOS_TEST_DATABASE).container(name), name };
  }

  async function item(container: Container, id: string, type: string): Promise<Record<string, unknown>> {
    const res = await container.item(id, type).read<Record<string, unknown>>();
    assert.equal(res.statusCode, 200, `${type}/${id}`);
    return userFields(res.resource);
  }

  it('init creates the database and the container with partition key /type (connection string accepted)', async () => {
    const { store, container } = await fresh(true);
    const def = await container.read();
    assert.deepEqual(def.resource?.partitionKey?.paths, ['/type']);
    // The composite index behind the listing range reads (bucket = @b, list_order range, ORDER BY list_order).
    assert.deepEqual(def.resource?.indexingPolicy?.compositeIndexes, [[{ path: '/bucket', order: 'ascending' }, { path: '/list_order', order: 'ascending' }]]);
    await store.ping();
    await store.init(); // idempotent
    await store.close();
  });

  it('init refuses a container with another partition key', async () => {
    const name = containerNameFor(uniqueNamespaceId('cosmos-pk'));
    const { database } = await raw.databases.createIfNotExists({ id: COSMOS_TEST_DATABASE });
    await database.containers.createIfNotExists({ id: name, partitionKey: { paths: ['/bucket'] } });
    const store = new CosmosMetadataStore({ database: COSMOS_TEST_DATABASE, container: name, endpoint, master_key: COSMOS_TEST_KEY, connection_string: '' });
    await assert.rejects(store.init(), /partition key/);
  });

  it('writes the spec item layout: ids, type partition, SQLite field names, b64: ids for / \\ ? #', async () => {
    const { store, container } = await fresh();
    await store.createBucket(bucketRec('b'));
    await store.putObject(objectRec('b', 'plain.txt', { content_language: 'en', user_metadata: '{"x-amz-meta-a":"1"}' }));
    for (const key of ['dir/file', 'back\\slash', 'what?', 'hash#tag']) await store.putObject(objectRec('b', key));
    await store.createMultipartUpload(uploadRec('b', 'big', 'u1'));
    await store.putPart('u1', 7, 5, '"p7"');
    await store.putCredential({ access_key_id: 'AK', secret_key: 'SK', owner_id: 'o', display_name: 'AK', active: false, created_at: T0 });

    assert.deepEqual(await item(container, 'bucket_b', 'bucket'), {
      id: 'bucket_b', type: 'bucket', name: 'b', region: 'us-east-1', owner_id: 'owner-1', owner_display: 'Owner', acl: '{}', created_at: T0,
    });
    assert.deepEqual(await item(container, 'object_b_plain.txt', 'object'), {
      id: 'object_b_plain.txt',
      type: 'object',
      bucket: 'b',
      key: 'plain.txt',
      size: 3,
      etag: '"acbd18db4cc2f85cedef654fccc4a4d8"',
      content_type: 'application/octet-stream',
      content_encoding: null,
      content_language: 'en',
      content_disposition: null,
      cache_control: null,
      expires: null,
      storage_class: 'STANDARD',
      acl: '{}',
      user_metadata: '{"x-amz-meta-a":"1"}',
      last_modified: '2026-01-02T03:04:05.000Z',
      delete_marker: false,
      // beyond the spec layout: the listing order field (hex of the key's UTF-8 bytes)
      list_order: Buffer.from('plain.txt').toString('hex'),
    });
    for (const key of ['dir/file', 'back\\slash', 'what?', 'hash#tag']) {
      const id = `object_b_b64:${Buffer.from(key).toString('base64url')}`;
      assert.equal(objectItemId('b', key), id);
      assert.equal((await item(container, id, 'object')).key, key);
    }
    const upload = await item(container, 'upload_u1', 'upload');
    assert.deepEqual(Object.keys(upload), [
      'id', 'type', 'upload_id', 'bucket', 'key', 'content_type', 'content_encoding', 'content_language', 'content_disposition',
      'cache_control', 'expires', 'storage_class', 'acl', 'user_metadata', 'owner_id', 'owner_display', 'initiated_at', 'list_order',
    ]);
    const part = await item(container, 'part_u1_00007', 'upload');
    assert.deepEqual({ ...part, last_modified: 'x' }, { id: 'part_u1_00007', type: 'upload', upload_id: 'u1', part_number: 7, size: 5, etag: '"p7"', last_modified: 'x' });
    assert.deepEqual(await item(container, 'cred_AK', 'credential'), {
      id: 'cred_AK', type: 'credential', access_key_id: 'AK', secret_key: 'SK', owner_id: 'o', display_name: 'AK', active: false, created_at: T0,
    });
    await store.close();
  });

  it('reads items another implementation wrote in the spec layout (before and after init)', async () => {
    const { store, container, name } = await fresh();
    const specObject = (key: string, id = `object_pyb_${key}`) => ({
      id, type: 'object', bucket: 'pyb', key, size: 1, etag: '"e"', content_type: 'text/plain', content_encoding: null, content_language: null,
      content_disposition: null, cache_control: null, expires: null, storage_class: 'STANDARD', acl: '{}', user_metadata: '{"author":"John"}',
      last_modified: T0, delete_marker: false,
    });
    await container.items.create({ id: 'bucket_pyb', type: 'bucket', name: 'pyb', region: 'us-east-1', owner_id: 'py', owner_display: '', acl: '{"owner":{"id":"py"},"grants":[]}', created_at: T0 });
    await container.items.create(specObject('top'));
    await container.items.create(specObject('dir/a', `object_pyb_b64:${Buffer.from('dir/a').toString('base64url')}`));
    await container.items.create(specObject('😀'));
    await container.items.create({ ...uploadRec('pyb', 'mp', 'pyu'), id: 'upload_pyu', type: 'upload' });
    await container.items.create({ id: 'part_pyu_00002', type: 'upload', upload_id: 'pyu', part_number: 2, size: 5, etag: '"p2"', last_modified: T0 });
    await container.items.create({ id: 'part_pyu_00001', type: 'upload', upload_id: 'pyu', part_number: 1, size: 5, etag: '"p1"', last_modified: T0 });
    await container.items.create({ id: 'cred_PY', type: 'credential', access_key_id: 'PY', secret_key: 's', owner_id: 'py', display_name: 'PY', active: true, created_at: T0 });

    // Written after this store's init: listing merges items without list_order in.
    await container.items.create(specObject('\uE000'));
    assert.equal((await store.getBucket('pyb'))?.owner_id, 'py');
    assert.deepEqual(await store.getObject('pyb', 'dir/a'), objectRec('pyb', 'dir/a', {
      size: 1, etag: '"e"', content_type: 'text/plain', user_metadata: '{"author":"John"}', last_modified: T0,
    }));
    const check = async (s: CosmosMetadataStore): Promise<void> => {
      assert.deepEqual((await s.listObjects('pyb', listAll)).contents.map((o) => o.key), ['dir/a', 'top', '\uE000', '😀']);
      const grouped = await s.listObjects('pyb', { ...listAll, delimiter: '/', maxKeys: 2 });
      assert.deepEqual([grouped.commonPrefixes, grouped.contents.map((o) => o.key), grouped.nextMarker], [['dir/'], ['top'], 'top']);
      assert.deepEqual((await s.listObjects('pyb', { ...listAll, startAfter: 'top' })).contents.map((o) => o.key), ['\uE000', '😀']);
      assert.equal(await s.countObjects('pyb'), 4);
      assert.deepEqual((await s.listMultipartUploads('pyb', noUploadOpts)).uploads.map((u) => u.upload_id), ['pyu']);
      assert.deepEqual((await s.getMultipartUpload('pyb', 'mp', 'pyu'))?.user_metadata, '{"x-amz-meta-a":"1"}');
      assert.deepEqual((await s.listParts('pyu', 0, 1)).parts.map((p) => [p.part_number, p.etag]), [[1, '"p1"']]);
      assert.equal((await s.getCredential('PY'))?.secret_key, 's');
    };
    await check(store);
    await store.close();

    // A restart backfills list_order on the foreign items; everything reads the same.
    const again = new CosmosMetadataStore({ database: COSMOS_TEST_DATABASE, container: name, endpoint, master_key: COSMOS_TEST_KEY, connection_string: '' });
    await again.init();
    assert.equal((await item(container, 'object_pyb_top', 'object')).list_order, Buffer.from('top').toString('hex'));
    await check(again);
    // Complete on a foreign upload: object written, parts and upload gone.
    await again.completeMultipartUpload('pyb', 'mp', 'pyu', objectRec('pyb', 'mp', { size: 10 }));
    assert.equal(await again.getMultipartUpload('pyb', 'mp', 'pyu'), null);
    assert.deepEqual(await again.getPartsForCompletion('pyu'), []);
    assert.equal((await again.getObject('pyb', 'mp'))?.size, 10);
    await again.close();
  });

  it("this server orders strings in UTF-16 code unit order, which is why listing orders by list_order", async () => {
    const { store, container } = await fresh();
    await store.createBucket(bucketRec('b'));
    for (const key of ['\uE000', '😀', 'z']) await store.putObject(objectRec('b', key));
    const byKey = await container.items
      .query<string>({ query: "SELECT VALUE c.key FROM c WHERE c.type = 'object' ORDER BY c.key" }, { partitionKey: 'object' })
      .fetchAll();
    assert.deepEqual(byKey.resources, ['z', '😀', '\uE000']); // UTF-16: surrogates (D83D) before E000
    assert.deepEqual((await store.listObjects('b', listAll)).contents.map((o) => o.key), ['z', '\uE000', '😀']); // UTF-8
    await store.close();
  });

  it('keys up to 1024 bytes, keys that look encoded, and checksums pinned to the etag', async () => {
    const { store, container } = await fresh();
    await store.createBucket(bucketRec('b'));
    const long = `${'a/'.repeat(300)}${'é'.repeat(212)}`; // 1024 bytes
    assert.equal(Buffer.byteLength(long), 1024);
    await store.putObject(objectRec('b', long, { size: 1024 }));
    assert.match(objectItemId('b', long), /^object_b_sha256:[0-9a-f]{64}$/);
    assert.equal((await store.getObject('b', long))?.size, 1024);
    // A literal key spelling another key's encoded id segment gets an id of its own.
    const encodedOfSlash = `b64:${Buffer.from('x/').toString('base64url')}`;
    await store.putObject(objectRec('b', 'x/', { size: 1 }));
    await store.putObject(objectRec('b', encodedOfSlash, { size: 2 }));
    assert.notEqual(objectItemId('b', 'x/'), objectItemId('b', encodedOfSlash));
    assert.equal((await store.getObject('b', 'x/'))?.size, 1);
    assert.equal((await store.getObject('b', encodedOfSlash))?.size, 2);
    assert.equal((await store.listObjects('b', listAll)).contents.length, 3);
    // A checksum belongs to the etag it was written with: a foreign rewrite of the etag hides it.
    await store.putObject(objectRec('b', 'c', { checksum: { algorithm: 'crc32', value: 'AAAAAQ==' } }));
    const stored = await item(container, objectItemId('b', 'c'), 'object');
    await container.items.upsert({ ...stored, etag: '"rewritten"' });
    assert.equal((await store.getObject('b', 'c'))?.checksum, null);
    await store.close();
  });

  it('an unreachable endpoint surfaces as BackendUnavailableError after retries', async () => {
    const store = new CosmosMetadataStore({ database: 'd', container: 'c', endpoint: 'http://127.0.0.1:9', master_key: COSMOS_TEST_KEY, connection_string: '' });
    await assert.rejects(store.init(), (e: unknown) => e instanceof BackendUnavailableError && !e.throttled);
  });
});

describe('Cosmos engine against a throttling endpoint', () => {
  it('retries 429 with backoff, then reports BackendUnavailableError (throttled)', async () => {
    let requests = 0;
    const server = createServer((req, res) => {
      requests++;
      req.resume();
      res.writeHead(429, { 'content-type': 'application/json', 'x-ms-retry-after-ms': '1' });
      res.end(JSON.stringify({ code: 'TooManyRequests', message: 'Request rate is large' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const store = new CosmosMetadataStore({ database: 'd', container: 'c', endpoint: `http://127.0.0.1:${port}`, master_key: COSMOS_TEST_KEY, connection_string: '' });
      await assert.rejects(store.init(), (e: unknown) => e instanceof BackendUnavailableError && e.throttled);
      assert.equal(requests, DEFAULT_RETRY_POLICY.attempts);
    } finally {
      server.close();
    }
  });
});

// ---- settings and error classification ----

describe('Cosmos settings and errors', () => {
  const base = { database: 'd', container: 'c', endpoint: '', connection_string: '', master_key: '' };

  it('accepts a connection string, endpoint + master_key, or endpoint alone (default credential)', () => {
    assert.deepEqual(cosmosConnection({ ...base, connection_string: 'AccountEndpoint=https://acct.documents.azure.com:443/;AccountKey=a2V5==;' }), {
      endpoint: 'https://acct.documents.azure.com:443/',
      key: 'a2V5==',
    });
    assert.deepEqual(cosmosConnection({ ...base, endpoint: 'https://e/', master_key: 'k' }), { endpoint: 'https://e/', key: 'k' });
    assert.deepEqual(cosmosConnection({ ...base, endpoint: 'https://e/' }), { endpoint: 'https://e/' });
    assert.throws(() => cosmosConnection(base), /endpoint or connection_string/);
    assert.throws(() => cosmosConnection({ ...base, connection_string: 'AccountKey=x' }), /AccountEndpoint/);
  });

  it('classifies 429 as throttled, 408/449/5xx/network as transient, the rest as fatal', () => {
    assert.equal(classifyCosmosError({ code: 429 }), 'throttled');
    for (const code of [408, 449, 500, 502, 503, 504]) assert.equal(classifyCosmosError({ code }), 'transient', String(code));
    for (const code of [400, 401, 403, 404, 409, 412, 413]) assert.equal(classifyCosmosError({ code }), 'fatal', String(code));
    assert.equal(classifyCosmosError(Object.assign(new Error('reset'), { code: 'ECONNRESET' })), 'transient');
    assert.equal(classifyCosmosError({ code: 'REQUEST_SEND_ERROR', cause: { code: 'ECONNREFUSED' } }), 'transient');
    assert.equal(classifyCosmosError({ code: 'TimeoutError' }), 'transient');
    assert.equal(classifyCosmosError(new Error('boom')), 'fatal');
  });

  it('id segments: plain values stay, / \\ ? # and encoded-looking values become b64:', () => {
    assert.equal(idSegment('a b%é😀'), 'a b%é😀');
    assert.equal(idSegment('a/b'), `b64:${Buffer.from('a/b').toString('base64url')}`);
    assert.equal(idSegment('b64:x'), `b64:${Buffer.from('b64:x').toString('base64url')}`);
    assert.equal(partItemId('u', 3), 'part_u_00003');
    assert.equal(uploadItemId('u'), 'upload_u');
  });
});

// ---- multipart completion at unit level (atomic batches, crashes after every write) ----

class Crash extends Error {}

/**
 * An in-memory model of the two partitions behind a CompletionPort. Batches are atomic (a batch
 * with a missing item applies nothing: 404 for it, 424 for the rest) unless `atomic` is false,
 * which mimics @vercel/cosmosdb-server. `writesLeft` injects a crash before the n+1-th write.
 */
class ModelPort implements CompletionPort {
  readonly buckets = new Set<string>(['b']);
  readonly objects = new Map<string, ObjectRecord>();
  /** 'upload' partition: item id → upload id it belongs to ('' for the upload item itself). */
  readonly uploadPartition = new Map<string, { uploadId: string; upload?: UploadRecord }>();
  writesLeft = Infinity;
  writes = 0;
  batchSizes: number[] = [];

  constructor(readonly atomic = true) {}

  addUpload(u: UploadRecord, parts: number): void {
    this.uploadPartition.set(uploadItemId(u.upload_id), { uploadId: u.upload_id, upload: u });
    for (let n = 1; n <= parts; n++) this.uploadPartition.set(partItemId(u.upload_id, n), { uploadId: u.upload_id });
  }

  partsOf(uploadId: string): string[] {
    return [...this.uploadPartition.entries()].filter(([, v]) => v.uploadId === uploadId && v.upload === undefined).map(([id]) => id);
  }

  private write(): void {
    if (this.writesLeft <= 0) throw new Crash('crash');
    this.writesLeft--;
    this.writes++;
  }

  async bucketExists(name: string): Promise<boolean> {
    return this.buckets.has(name);
  }
  async readUpload(uploadId: string): Promise<UploadRecord | null> {
    return this.uploadPartition.get(uploadItemId(uploadId))?.upload ?? null;
  }
  async upsertObject(obj: ObjectRecord): Promise<void> {
    this.write();
    this.objects.set(`${obj.bucket}/${obj.key}`, obj);
  }
  async partItemIds(uploadId: string): Promise<string[]> {
    return this.partsOf(uploadId);
  }
  async deleteBatch(itemIds: string[]): Promise<number[]> {
    assert.ok(itemIds.length <= MAX_BATCH_OPS, `batch of ${itemIds.length}`);
    this.write();
    this.batchSizes.push(itemIds.length);
    const missing = itemIds.map((id) => !this.uploadPartition.has(id));
    if (this.atomic && missing.some(Boolean)) return missing.map((m) => (m ? 404 : 424));
    for (const id of itemIds) this.uploadPartition.delete(id);
    return missing.map((m) => (m ? 404 : 204));
  }
}

describe('Cosmos multipart completion (unit level)', () => {
  it('removal batches: at most 100 ops, every part once, the upload item in the last batch', () => {
    for (const n of [0, 1, 98, 99, 100, 101, 199, 250, 10000]) {
      const parts = Array.from({ length: n }, (_, i) => partItemId('u', i + 1));
      const batches = uploadRemovalBatches('u', parts);
      assert.ok(batches.every((b) => b.length >= 1 && b.length <= MAX_BATCH_OPS), `n=${n}`);
      const flat = batches.flat();
      assert.equal(flat.at(-1), uploadItemId('u'));
      assert.equal(flat.filter((id) => id === uploadItemId('u')).length, 1);
      assert.deepEqual(flat.slice(0, -1).sort(), [...parts].sort(), `n=${n}`);
      assert.ok((batches.at(-1)?.length ?? 0) === Math.min(n, MAX_BATCH_OPS - 1) + 1, `n=${n}`);
    }
  });

  for (const atomic of [true, false]) {
    for (const parts of [0, 3, 99, 100, 250]) {
      it(`a crash after any write leaves a safe state and re-running Complete finishes it (${parts} parts, ${atomic ? 'atomic' : 'non-atomic'} batches)`, async () => {
        const obj = objectRec('b', 'k', { size: 10, etag: '"x-2"' });
        // Count the writes of an uninterrupted run.
        const clean = new ModelPort(atomic);
        clean.addUpload(uploadRec('b', 'k', 'u'), parts);
        await completeUpload(clean, 'b', 'k', 'u', obj);
        const total = clean.writes;

        for (let crashAfter = 0; crashAfter < total; crashAfter++) {
          const port = new ModelPort(atomic);
          port.addUpload(uploadRec('b', 'k', 'u'), parts);
          port.addUpload(uploadRec('b', 'k', 'other'), 2);
          port.writesLeft = crashAfter;
          await assert.rejects(completeUpload(port, 'b', 'k', 'u', obj), Crash);
          const uploadLeft = (await port.readUpload('u')) !== null;
          const partsLeft = port.partsOf('u').length;
          const objectWritten = port.objects.has('b/k');
          const what = `crash after ${crashAfter} of ${total} writes`;
          // The object is written before anything of the upload goes; no part outlives its upload.
          if (!objectWritten) assert.ok(uploadLeft && partsLeft === parts, what);
          if (!uploadLeft) assert.equal(partsLeft, 0, what);
          assert.equal(port.partsOf('other').length, 2, what);
          // Roll-forward (the commit intent re-runs Complete): ends in the completed state.
          port.writesLeft = Infinity;
          await completeUpload(port, 'b', 'k', 'u', obj);
          assert.deepEqual(port.objects.get('b/k'), obj, what);
          assert.equal(await port.readUpload('u'), null, what);
          assert.equal(port.partsOf('u').length, 0, what);
          assert.notEqual(await port.readUpload('other'), null, what);
        }
      });
    }
  }

  it('a Complete whose bucket is missing writes nothing; a wrong key leaves the upload alone', async () => {
    const port = new ModelPort();
    port.addUpload(uploadRec('b', 'k', 'u'), 2);
    await assert.rejects(completeUpload(port, 'b', 'k', 'u', objectRec('nope', 'k')), /does not exist/);
    assert.equal(port.writes, 0);
    await completeUpload(port, 'b', 'other-key', 'u', objectRec('b', 'other-key'));
    assert.notEqual(await port.readUpload('u'), null);
    assert.equal(port.partsOf('u').length, 2);
  });

  it('a batch that hits an already-deleted item is repeated without it (atomic) or finishes (non-atomic)', async () => {
    for (const atomic of [true, false]) {
      const port = new ModelPort(atomic);
      port.addUpload(uploadRec('b', 'k', 'u'), 5);
      port.uploadPartition.delete(partItemId('u', 3)); // removed concurrently
      await deleteAllInBatch((ids) => port.deleteBatch(ids), [1, 2, 3, 4, 5].map((n) => partItemId('u', n)));
      assert.equal(port.partsOf('u').length, 0, `atomic=${atomic}`);
      assert.deepEqual(port.batchSizes, atomic ? [5, 4] : [5]);
      await removeUpload(port, 'u');
      assert.equal(await port.readUpload('u'), null);
      await removeUpload(port, 'u'); // idempotent
    }
  });

  it('a batch failing with an unexpected status throws instead of looping', async () => {
    const port: CompletionPort = {
      bucketExists: async () => true,
      readUpload: async () => null,
      upsertObject: async () => {},
      partItemIds: async () => [],
      deleteBatch: async (ids) => ids.map(() => 403),
    };
    await assert.rejects(deleteAllInBatch((ids) => port.deleteBatch(ids), ['a']), /status 403/);
  });
});
