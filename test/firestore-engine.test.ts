// Firestore-engine specifics (metadata.md §8), against the real Cloud Firestore emulator: the exact
// document layout, reading documents another BleepStore implementation wrote through the SDK,
// string order of the emulator, multi-batch cascades and error classification. The behaviour every
// engine shares is covered by test/metadata-conformance.test.ts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Firestore, type CollectionReference, type DocumentData, type DocumentReference } from '@google-cloud/firestore';
import { createMetadataEngine } from '../src/metadata/factory.js';
import { classifyFirestoreError, FirestoreMetadataStore } from '../src/metadata/firestore.js';
import type { BucketRecord, ObjectRecord, UploadRecord } from '../src/metadata/types.js';
import { patchedConfig, uniqueNamespaceId } from './servers/config-patch.js';
import { EMULATOR_PROJECT } from './servers/firestore-emulator.js';
import { startPeer } from './servers/index.js';
import type { TestPeer } from './servers/types.js';

const ISO_SECONDS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/;

function bucketRec(name: string): BucketRecord {
  return { name, region: 'us-east-1', owner_id: 'owner-1', owner_display: 'Owner', acl: '{}', created_at: '2026-01-01T00:00:00.000Z' };
}

function objectRec(bucket: string, key: string, over: Partial<ObjectRecord> = {}): ObjectRecord {
  return {
    bucket, key, size: 3, etag: '"acbd18db4cc2f85cedef654fccc4a4d8"', content_type: 'application/octet-stream',
    content_encoding: null, content_language: null, content_disposition: null, cache_control: null, expires: null,
    storage_class: 'STANDARD', acl: '{}', user_metadata: '{}', last_modified: '2026-01-02T03:04:05.000Z', delete_marker: false,
    checksum: null, ...over,
  };
}

function uploadRec(bucket: string, key: string, uploadId: string): UploadRecord {
  return {
    upload_id: uploadId, bucket, key, content_type: 'text/plain', content_encoding: null, content_language: 'en',
    content_disposition: null, cache_control: null, expires: null, storage_class: 'STANDARD', acl: '{}',
    user_metadata: '{"x-amz-meta-a":"1"}', owner_id: 'owner-1', owner_display: 'Owner', initiated_at: '2026-01-01T00:00:00.000Z',
  };
}

const opts = { prefix: '', delimiter: '', maxKeys: 1000, startAfter: '' };

describe('FirestoreMetadataStore (engine-specific)', () => {
  let peer: TestPeer;
  let sdk: Firestore;
  before(async () => {
    peer = await startPeer('firestore');
    sdk = new Firestore({ projectId: EMULATOR_PROJECT });
  });
  after(async () => {
    await sdk?.terminate();
    await peer?.stop();
  });

  /** A fresh store on its own collection, plus that collection through the raw SDK. */
  async function fresh(): Promise<{ store: FirestoreMetadataStore; col: CollectionReference; close: () => Promise<void> }> {
    const config = patchedConfig(await peer.namespace(uniqueNamespaceId('fs')));
    const engine = await createMetadataEngine(config);
    assert.ok(engine instanceof FirestoreMetadataStore);
    await engine.init();
    return { store: engine, col: sdk.collection(config.metadata.firestore.collection), close: () => engine.close() };
  }

  async function rawIds(col: CollectionReference): Promise<string[]> {
    return (await col.listDocuments()).map((d) => d.id).sort();
  }

  async function rawData(col: CollectionReference, id: string): Promise<DocumentData | undefined> {
    return (await col.doc(id).get()).data();
  }

  /** Writes documents in batches of 500, as another implementation (or a bulk seed) would. */
  async function rawWrite(docs: [ref: DocumentReference, data: DocumentData][]): Promise<void> {
    for (let i = 0; i < docs.length; i += 500) {
      const batch = sdk.batch();
      for (const [ref, data] of docs.slice(i, i + 500)) batch.set(ref, data);
      await batch.commit();
    }
  }

  it('writes the spec document layout: ids, type field, SQLite column names, optional fields omitted', async () => {
    const { store, col, close } = await fresh();
    await store.createBucket(bucketRec('b'));
    const key = 'x/é???~~~?'; // base64 'eC/DqT8/P35+fj8=': exercises '/', '+' and padding
    await store.putObject(objectRec('b', key, { content_language: 'en', user_metadata: '{"x-amz-meta-a":"1"}' }));
    await store.createMultipartUpload(uploadRec('b', 'm', 'up-1'));
    await store.putPart('up-1', 7, 5, '"p7"');
    await store.putCredential({ access_key_id: 'AK', secret_key: 'SK', owner_id: 'o', display_name: 'AK', active: true, created_at: '2026-01-01T00:00:00.000Z' });

    assert.deepEqual(await rawIds(col), ['bucket_b', 'cred_AK', 'object_b_eC_DqT8_P35-fj8', 'upload_up-1']);
    assert.deepEqual(await rawData(col, 'bucket_b'), {
      type: 'bucket', name: 'b', region: 'us-east-1', owner_id: 'owner-1', owner_display: 'Owner', acl: '{}', created_at: '2026-01-01T00:00:00.000Z',
    });
    assert.deepEqual(await rawData(col, 'object_b_eC_DqT8_P35-fj8'), {
      type: 'object', bucket: 'b', key, size: 3, etag: '"acbd18db4cc2f85cedef654fccc4a4d8"', content_type: 'application/octet-stream',
      content_language: 'en', storage_class: 'STANDARD', acl: '{}', user_metadata: '{"x-amz-meta-a":"1"}',
      last_modified: '2026-01-02T03:04:05.000Z', delete_marker: false,
    });
    assert.deepEqual(await rawData(col, 'upload_up-1'), {
      type: 'upload', upload_id: 'up-1', bucket: 'b', key: 'm', content_type: 'text/plain', content_language: 'en',
      storage_class: 'STANDARD', acl: '{}', user_metadata: '{"x-amz-meta-a":"1"}', owner_id: 'owner-1', owner_display: 'Owner',
      initiated_at: '2026-01-01T00:00:00.000Z',
    });
    const parts = await col.doc('upload_up-1').collection('parts').get();
    assert.deepEqual(parts.docs.map((d) => d.id), ['part_00007']);
    const part = parts.docs[0]?.data() ?? {};
    assert.match(String(part.last_modified), ISO_SECONDS);
    assert.deepEqual({ ...part, last_modified: 'x' }, { type: 'part', upload_id: 'up-1', part_number: 7, size: 5, etag: '"p7"', last_modified: 'x' });
    assert.deepEqual(await rawData(col, 'cred_AK'), {
      type: 'credential', access_key_id: 'AK', secret_key: 'SK', owner_id: 'o', display_name: 'AK', active: true, created_at: '2026-01-01T00:00:00.000Z',
    });
    await close();
  });

  it('[beyond upstream] keeps checksums and commit intents as extra fields and documents', async () => {
    const { store, col, close } = await fresh();
    await store.createBucket(bucketRec('b'));
    const c = { algorithm: 'crc32c', value: 'yZRlqg==' };
    await store.putObject(objectRec('b', 'k', { checksum: c }));
    await store.createMultipartUpload({ ...uploadRec('b', 'm', 'up-1'), checksum_algorithm: 'crc32', checksum_type: 'FULL_OBJECT' });
    await store.putPart('up-1', 1, 5, '"p1"', c);
    const intent = { id: 'i1', staged_path: '/x/.tmp/1', action: { kind: 'object' as const, object: objectRec('b', 'n') }, created_at: '2026-01-01T00:00:00.000Z' };
    await store.recordCommitIntent(intent);

    const objectId = `object_b_${Buffer.from('k').toString('base64url')}`;
    assert.deepEqual((await rawData(col, objectId))?.checksum, { ...c, etag: '"acbd18db4cc2f85cedef654fccc4a4d8"' });
    const upload = await rawData(col, 'upload_up-1');
    assert.equal(upload?.checksum_algorithm, 'crc32');
    assert.equal(upload?.checksum_type, 'FULL_OBJECT');
    assert.deepEqual((await col.doc('upload_up-1').collection('parts').doc('part_00001').get()).get('checksum'), { ...c, etag: '"p1"' });
    assert.deepEqual(await rawData(col, 'intent_i1'), { type: 'intent', id: 'i1', staged_path: '/x/.tmp/1', action: JSON.stringify(intent.action), created_at: intent.created_at });
    assert.deepEqual(await store.listCommitIntents(), [intent]);

    // Another implementation updating the object while keeping unknown fields (a merge) must not
    // leave a stale checksum visible: it belongs to the etag it was written with.
    await col.doc(objectId).set({ etag: '"rewritten"', size: 9 }, { merge: true });
    const got = await store.getObject('b', 'k');
    assert.equal(got?.size, 9);
    assert.equal(got?.checksum, null);
    await close();
  });

  it('reads documents another implementation wrote raw through the SDK in the spec layout', async () => {
    const { store, col, close } = await fresh();
    const id = (key: string): string => `object_py_${Buffer.from(key, 'utf8').toString('base64url')}`;
    const obj = (key: string, extra: DocumentData = {}): DocumentData => ({
      type: 'object', bucket: 'py', key, size: Buffer.byteLength(key), etag: '"e"', content_type: 'text/plain', storage_class: 'STANDARD',
      acl: '{}', user_metadata: '{"author":"John"}', last_modified: '2025-06-01T00:00:00.000Z', ...extra,
    });
    const keys = ['dir/a', 'dir/b', 'dir/sub/c', 'top', '😀', '\uE000', 'é'];
    await rawWrite([
      [col.doc('bucket_py'), { type: 'bucket', name: 'py', region: 'eu-west-1', owner_id: 'pyowner', owner_display: 'Py', acl: '{"owner":{"id":"pyowner"},"grants":[]}', created_at: '2025-06-01T00:00:00.000Z' }],
      ...keys.map((k): [DocumentReference, DocumentData] => [col.doc(id(k)), obj(k)]),
      // Rust-style shapes: acl/user_metadata as maps, delete_marker as a boolean, cache_control set.
      [col.doc(id('rust')), obj('rust', { acl: { owner: { id: 'r' }, grants: [] }, user_metadata: { 'x-amz-meta-a': '1' }, delete_marker: false, cache_control: 'no-cache' })],
      [col.doc('upload_py-up'), { type: 'upload', upload_id: 'py-up', bucket: 'py', key: 'big', content_type: 'application/octet-stream', storage_class: 'STANDARD', acl: '{}', user_metadata: '{}', owner_id: 'pyowner', owner_display: '', initiated_at: '2025-06-01T00:00:00.000Z' }],
      ...[2, 1, 3].map((n): [DocumentReference, DocumentData] => [
        col.doc('upload_py-up').collection('parts').doc(`part_${String(n).padStart(5, '0')}`),
        { type: 'part', upload_id: 'py-up', part_number: n, size: 10 * n, etag: `"p${n}"`, last_modified: '2025-06-01T00:00:00.000Z' },
      ]),
      [col.doc('cred_PYKEY'), { type: 'credential', access_key_id: 'PYKEY', secret_key: 'pysecret', owner_id: 'pyowner', display_name: 'PYKEY', active: true, created_at: '2025-06-01T00:00:00.000Z' }],
      [col.doc('cred_OFF'), { type: 'credential', access_key_id: 'OFF', secret_key: 's', owner_id: 'o', display_name: '', active: false, created_at: '2025-06-01T00:00:00.000Z' }],
    ]);

    assert.deepEqual(await store.getBucket('py'), {
      name: 'py', region: 'eu-west-1', owner_id: 'pyowner', owner_display: 'Py', acl: '{"owner":{"id":"pyowner"},"grants":[]}', created_at: '2025-06-01T00:00:00.000Z',
    });
    assert.deepEqual((await store.listBuckets()).map((b) => b.name), ['py']);
    assert.deepEqual(await store.getObject('py', 'dir/a'), objectRec('py', 'dir/a', {
      size: 5, etag: '"e"', content_type: 'text/plain', user_metadata: '{"author":"John"}', last_modified: '2025-06-01T00:00:00.000Z',
    }));
    assert.deepEqual(await store.getObject('py', 'rust'), objectRec('py', 'rust', {
      size: 4, etag: '"e"', content_type: 'text/plain', acl: '{"owner":{"id":"r"},"grants":[]}', user_metadata: '{"x-amz-meta-a":"1"}',
      cache_control: 'no-cache', last_modified: '2025-06-01T00:00:00.000Z',
    }));
    assert.equal(await store.countObjects('py'), keys.length + 1);
    const listed = await store.listObjects('py', { ...opts, delimiter: '/' });
    assert.deepEqual(listed.contents.map((o) => o.key), ['rust', 'top', 'é', '\uE000', '😀']);
    assert.deepEqual(listed.commonPrefixes, ['dir/']);
    assert.deepEqual((await store.listObjects('py', { ...opts, prefix: 'dir/' })).contents.map((o) => o.key), ['dir/a', 'dir/b', 'dir/sub/c']);

    const upload = await store.getMultipartUpload('py', 'big', 'py-up');
    assert.equal(upload?.owner_id, 'pyowner');
    assert.equal(upload?.content_encoding, null);
    assert.deepEqual((await store.listMultipartUploads('py', { prefix: '', delimiter: '', maxUploads: 10, keyMarker: '', uploadIdMarker: '' })).uploads.map((u) => u.upload_id), ['py-up']);
    const page = await store.listParts('py-up', 1, 1);
    assert.deepEqual(page.parts.map((p) => [p.part_number, p.size, p.etag]), [[2, 20, '"p2"']]);
    assert.equal(page.isTruncated, true);
    assert.deepEqual((await store.getPartsForCompletion('py-up')).map((p) => p.part_number), [1, 2, 3]);

    assert.equal((await store.getCredential('PYKEY'))?.secret_key, 'pysecret');
    assert.equal(await store.getCredential('OFF'), null);
    // Re-seeding a credential written elsewhere keeps its created_at.
    await store.putCredential({ access_key_id: 'PYKEY', secret_key: 'new', owner_id: 'pyowner', display_name: 'PYKEY', active: true, created_at: '2030-01-01T00:00:00.000Z' });
    assert.equal((await store.getCredential('PYKEY'))?.created_at, '2025-06-01T00:00:00.000Z');

    // Writes address the same documents: complete the foreign upload, delete a foreign object.
    await store.completeMultipartUpload('py', 'big', 'py-up', objectRec('py', 'big', { size: 60 }));
    assert.equal((await col.doc('upload_py-up').collection('parts').get()).size, 0);
    assert.equal((await col.doc('upload_py-up').get()).exists, false);
    assert.equal((await col.doc(id('big')).get()).get('size'), 60);
    await store.deleteObject('py', 'dir/a');
    assert.equal((await col.doc(id('dir/a')).get()).exists, false);
    await close();
  });

  it('the emulator orders the key field by UTF-8 bytes, so key ranges need no extra sortable field', async () => {
    const { col, close } = await fresh();
    const keys = ['z', 'é', '\u007f', '\u0080', '\uD7FF', '\uE000', '\uFF5E', '\uFFFD', '\uFFFF', '😀', '𝄞', '\u{10000}', '\u{10FFFF}', 'a'];
    await rawWrite(keys.map((key, i) => [col.doc(`d${i}`), { key }]));
    const byBytes = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    assert.deepEqual((await col.orderBy('key').get()).docs.map((d) => d.get('key')), byBytes);
    // A range starting at U+E000 includes the astral characters (UTF-16 order would not).
    const range = await col.where('key', '>=', '\uE000').where('key', '<', '\u{10FFFF}').orderBy('key').get();
    assert.deepEqual(range.docs.map((d) => d.get('key')), ['\uE000', '\uFF5E', '\uFFFD', '\uFFFF', '\u{10000}', '𝄞', '😀']);
    await close();
  });

  it('complete and abort delete more parts than one transaction holds', async () => {
    const { store, col, close } = await fresh();
    await store.createBucket(bucketRec('b'));
    for (const [uploadId, count] of [['many-c', 1100], ['many-a', 620]] as const) {
      await store.createMultipartUpload(uploadRec('b', 'k', uploadId));
      const partsCol = col.doc(`upload_${uploadId}`).collection('parts');
      await rawWrite(Array.from({ length: count }, (_, i) => [
        partsCol.doc(`part_${String(i + 1).padStart(5, '0')}`),
        { type: 'part', upload_id: uploadId, part_number: i + 1, size: 1, etag: '"p"', last_modified: '2026-01-01T00:00:00.000Z' },
      ]));
      assert.equal((await store.getPartsForCompletion(uploadId)).length, count);
    }
    await store.completeMultipartUpload('b', 'k', 'many-c', objectRec('b', 'k', { size: 1100 }));
    await store.abortMultipartUpload('b', 'k', 'many-a');
    for (const uploadId of ['many-c', 'many-a']) {
      assert.equal((await col.doc(`upload_${uploadId}`).collection('parts').count().get()).data().count, 0, uploadId);
      assert.equal(await store.getMultipartUpload('b', 'k', uploadId), null);
    }
    assert.equal((await store.getObject('b', 'k'))?.size, 1100);
    await close();
  });

  it('deleteBucket cascades through several batches and leaves other buckets alone', async () => {
    const { store, col, close } = await fresh();
    await store.createBucket(bucketRec('big'));
    await store.createBucket(bucketRec('keep'));
    await rawWrite(Array.from({ length: 1200 }, (_, i) => {
      const key = `k${String(i).padStart(5, '0')}`;
      return [col.doc(`object_big_${Buffer.from(key).toString('base64url')}`), { type: 'object', bucket: 'big', key, size: 1, etag: '"e"' }];
    }));
    await store.putObject(objectRec('keep', 'k'));
    await store.createMultipartUpload(uploadRec('big', 'm', 'up-big'));
    await rawWrite(Array.from({ length: 700 }, (_, i) => [
      col.doc('upload_up-big').collection('parts').doc(`part_${String(i + 1).padStart(5, '0')}`),
      { type: 'part', upload_id: 'up-big', part_number: i + 1, size: 1, etag: '"p"', last_modified: '2026-01-01T00:00:00.000Z' },
    ]));
    assert.equal(await store.countObjects('big'), 1200);
    await store.deleteBucket('big');
    assert.equal(await store.bucketExists('big'), false);
    assert.equal((await col.where('bucket', '==', 'big').count().get()).data().count, 0);
    assert.equal((await col.doc('upload_up-big').collection('parts').count().get()).data().count, 0);
    assert.equal(await store.countObjects('keep'), 1);
    assert.deepEqual(await rawIds(col), ['bucket_keep', `object_keep_${Buffer.from('k').toString('base64url')}`]);
    await close();
  });

  it('ids from client input that cannot name a document find nothing and never crash', async () => {
    const { store, close } = await fresh();
    await store.createBucket(bucketRec('b'));
    assert.equal(await store.getMultipartUpload('b', 'k', 'a/b'), null);
    assert.deepEqual(await store.listParts('a/b', 0, 10), { parts: [], isTruncated: false });
    assert.deepEqual(await store.getPartsForCompletion('x/y/z'), []);
    assert.equal(await store.getCredential('AK/2026'), null);
    assert.equal(await store.getBucket('no/such'), null);
    await store.abortMultipartUpload('b', 'k', 'a/b');
    await assert.rejects(store.putPart('a/b', 1, 1, '"e"'), /invalid firestore document id/);
    await assert.rejects(store.createMultipartUpload(uploadRec('b', 'k', `x${'y'.repeat(1600)}`)), /invalid firestore document id/);
    await close();
  });

  it('takes the project from GCP_PROJECT / GOOGLE_CLOUD_PROJECT when the config has none', async () => {
    const saved = { GCP_PROJECT: process.env.GCP_PROJECT, GOOGLE_CLOUD_PROJECT: process.env.GOOGLE_CLOUD_PROJECT };
    delete process.env.GCP_PROJECT;
    process.env.GOOGLE_CLOUD_PROJECT = 'demo-from-env';
    const collection = `env-${uniqueNamespaceId('p')}`;
    const store = new FirestoreMetadataStore({ collection, project: '', credentials_file: '' });
    const other = new Firestore({ projectId: 'demo-from-env' });
    try {
      await store.init();
      await store.createBucket(bucketRec('envb'));
      assert.equal((await other.collection(collection).doc('bucket_envb').get()).exists, true);
      assert.equal((await sdk.collection(collection).doc('bucket_envb').get()).exists, false, 'not in the default test project');
    } finally {
      await store.close();
      await other.terminate();
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});

describe('classifyFirestoreError', () => {
  it('maps gRPC codes: RESOURCE_EXHAUSTED throttled; UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED, INTERNAL transient; others fatal', () => {
    assert.equal(classifyFirestoreError({ code: 8 }), 'throttled');
    for (const code of [14, 4, 10, 13]) assert.equal(classifyFirestoreError({ code }), 'transient', String(code));
    for (const code of [3, 5, 6, 7, 9, 2]) assert.equal(classifyFirestoreError({ code }), 'fatal', String(code));
    assert.equal(classifyFirestoreError(Object.assign(new Error('reset'), { code: 'ECONNRESET' })), 'transient');
    assert.equal(classifyFirestoreError(new Error('bucket does not exist')), 'fatal');
    assert.equal(classifyFirestoreError(null), 'fatal');
  });
});
