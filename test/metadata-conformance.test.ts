// One conformance suite for every MetadataStore engine (metadata.md §1-§5, s3-api.md §5.2, §6.6).
// Each engine in ENGINES runs the identical body, always through the MetadataActor the server
// uses. Engine-specific checks (SQLite schema/pragmas/row counts, local JSONL file format) sit in
// their own describe below.
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { defaultConfig } from '../src/config.js';
import { MetadataActor } from '../src/metadata/actor.js';
import { createMetadataEngine, openMetadataStore } from '../src/metadata/factory.js';
import { prefixUpperBound, utf8Compare } from '../src/metadata/listing.js';
import { LocalJsonlMetadataStore } from '../src/metadata/local-jsonl.js';
import { MemoryMetadataStore } from '../src/metadata/memory.js';
import { SqliteMetadataStore } from '../src/metadata/sqlite.js';
import {
  BucketExistsError,
  type BucketRecord,
  type ListUploadsResult,
  type MetadataStore,
  type ObjectRecord,
  type PartRecord,
  type UploadRecord,
} from '../src/metadata/types.js';
import { patchedConfig, uniqueNamespaceId } from './servers/config-patch.js';
import { CLOUD_METADATA_ENGINES, startPeer, type CloudMetadataEngine } from './servers/index.js';
import type { TestPeer } from './servers/types.js';

const tmpRoot = mkdtempSync(join(tmpdir(), 'bleepstore-meta-test-'));
after(() => rmSync(tmpRoot, { recursive: true, force: true }));
let dbCounter = 0;
/** A fresh database path in a directory that does not exist yet (the engine must create it). */
function freshDbPath(): string {
  return join(tmpRoot, `db-${++dbCounter}`, 'nested', 'metadata.db');
}

interface EngineFactory {
  name: string;
  /** The real server behind a cloud engine, started once for the engine's whole suite. */
  peer?: CloudMetadataEngine;
  /** A fresh, empty store (not initialised); `peer` is the started server for cloud engines. */
  make: (peer: TestPeer | undefined) => MetadataStore | Promise<MetadataStore>;
}

/** A cloud engine on a fresh namespace (table, collection or container) of its running peer. */
async function cloudStore(peer: TestPeer | undefined): Promise<MetadataStore> {
  if (!peer) throw new Error('cloud engine without a started peer');
  return createMetadataEngine(patchedConfig(await peer.namespace(uniqueNamespaceId('conf'))));
}

/** A fresh local-engine root that does not exist yet (the engine must create it). */
function freshLocalDir(): string {
  return join(tmpRoot, `local-${++dbCounter}`, 'nested', 'meta');
}

const ENGINES: EngineFactory[] = [
  { name: 'sqlite', make: () => new SqliteMetadataStore(freshDbPath()) },
  { name: 'memory', make: () => new MemoryMetadataStore() },
  { name: 'local', make: () => new LocalJsonlMetadataStore({ rootDir: freshLocalDir(), compactOnStartup: true }) },
  { name: 'local (reopened after every write)', make: () => reopeningLocalStore(freshLocalDir()) },
  ...CLOUD_METADATA_ENGINES.map((name) => ({ name, peer: name, make: cloudStore })),
];

const LOCAL_MUTATIONS = new Set<string>([
  'createBucket', 'deleteBucket', 'updateBucketAcl', 'putObject', 'deleteObject', 'deleteObjectsMeta', 'updateObjectAcl',
  'createMultipartUpload', 'putPart', 'completeMultipartUpload', 'abortMultipartUpload', 'putCredential',
  'reapExpiredUploads', 'recordCommitIntent', 'clearCommitIntent',
]);

/**
 * The local engine, but every mutation is followed by closing the store and replaying its files
 * into a new one (alternately with and without compaction), so the whole shared suite checks that
 * what was written survives a restart.
 */
function reopeningLocalStore(rootDir: string): MetadataStore {
  let current = new LocalJsonlMetadataStore({ rootDir, compactOnStartup: false });
  let reopenings = 0;
  return new Proxy({} as MetadataStore, {
    get(_target, name) {
      const method = Reflect.get(current, name) as unknown;
      if (typeof method !== 'function' || typeof name !== 'string') return method;
      return async (...args: unknown[]) => {
        const result: unknown = await (method as (...a: unknown[]) => Promise<unknown>).apply(current, args);
        if (LOCAL_MUTATIONS.has(name)) {
          await current.close();
          current = new LocalJsonlMetadataStore({ rootDir, compactOnStartup: ++reopenings % 2 === 0 });
          await current.init();
        }
        return result;
      };
    },
  });
}

const ISO_SECONDS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/;

// ---- record builders ----

function bucketRec(name: string, owner = 'owner-1'): BucketRecord {
  return { name, region: 'us-east-1', owner_id: owner, owner_display: 'Owner', acl: '{}', created_at: '2026-01-01T00:00:00.000Z' };
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

function uploadRec(bucket: string, key: string, uploadId: string, initiatedAt = '2026-01-01T00:00:00.000Z'): UploadRecord {
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

// ---- brute-force listing model (independent of src/metadata/listing.ts) ----

function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function startsWithBytes(s: string, prefix: string): boolean {
  const p = Buffer.from(prefix, 'utf8');
  return Buffer.from(s, 'utf8').subarray(0, p.length).equals(p);
}

/** Entry of a key: its common prefix under (prefix, delimiter), or null for the key itself. */
function modelCommonPrefix(key: string, prefix: string, delimiter: string): string | null {
  if (delimiter === '') return null;
  const rest = key.slice(prefix.length);
  const i = rest.indexOf(delimiter);
  return i < 0 ? null : prefix + rest.slice(0, i + delimiter.length);
}

interface ModelEntry {
  value: string; // key or common prefix
  isPrefix: boolean;
  uploadId?: string;
}

function modelObjectEntries(keys: string[], prefix: string, delimiter: string): ModelEntry[] {
  const sorted = keys.filter((k) => startsWithBytes(k, prefix)).sort(byteCompare);
  const out: ModelEntry[] = [];
  for (const k of sorted) {
    const cp = modelCommonPrefix(k, prefix, delimiter);
    if (cp === null) out.push({ value: k, isPrefix: false });
    else if (out.length === 0 || out[out.length - 1]?.value !== cp) out.push({ value: cp, isPrefix: true });
  }
  return out;
}

interface ModelPage {
  entries: ModelEntry[];
  isTruncated: boolean;
}

function modelPage(entries: ModelEntry[], keep: (e: ModelEntry) => boolean, max: number): ModelPage {
  const remaining = entries.filter(keep);
  if (max <= 0) return { entries: [], isTruncated: false };
  return { entries: remaining.slice(0, max), isTruncated: remaining.length > max };
}

/** Deterministic PRNG (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Pieces chosen to stress ordering (U+E000..U+FFFF sort before astral chars in UTF-8 but after
// them in UTF-16), SQL LIKE wildcards, multi-char and repeated delimiters.
const PIECES = ['a', 'b', 'ab', 'z', 'A', '/', '/', '//', '%', '_', '-', '.', ' ', 'é', '中', '😀', '𝄞', '\uE000', '\uFFFD', '\uFF5E', '\uD7FF', '0', '9'];

function randomString(next: () => number, maxPieces: number): string {
  const n = 1 + Math.floor(next() * maxPieces);
  let s = '';
  for (let i = 0; i < n; i++) s += PIECES[Math.floor(next() * PIECES.length)];
  return s;
}

function randomKeys(count: number, seed: number): string[] {
  const next = rng(seed);
  // Keys equal to prefixes and keys holding the delimiter twice, on top of the random ones.
  const keys = new Set<string>(['a', 'a/', 'a/b/', 'a//b', 'a/b/c', '😀', '%', '_', '\uE000', '/', '//', 'ab', 'abab']);
  while (keys.size < count) keys.add(randomString(next, 6));
  return [...keys];
}

// ---- the shared conformance body ----

for (const engine of ENGINES) {
  describe(`MetadataStore conformance: ${engine.name}`, () => {
    let store: MetadataActor;
    let peer: TestPeer | undefined;
    if (engine.peer) {
      const cloud = engine.peer;
      before(async () => {
        peer = await startPeer(cloud);
      });
      after(() => peer?.stop());
    }

    beforeEach(async () => {
      const raw = await engine.make(peer);
      await raw.init();
      store = new MetadataActor(raw);
    });
    afterEach(async () => {
      await store.close();
    });

    describe('lifecycle', () => {
      it('ping resolves and init is idempotent', async () => {
        await store.ping();
        await store.init();
        await store.ping();
      });
    });

    describe('buckets', () => {
      it('creates, reads and rejects a second create with BucketExistsError', async () => {
        await store.createBucket(bucketRec('b1'));
        await assert.rejects(store.createBucket(bucketRec('b1', 'someone-else')), (e: unknown) => {
          assert.ok(e instanceof BucketExistsError);
          assert.equal(e.bucket, 'b1');
          return true;
        });
        assert.deepEqual(await store.getBucket('b1'), bucketRec('b1'));
        assert.equal(await store.bucketExists('b1'), true);
        assert.equal(await store.bucketExists('b2'), false);
        assert.equal(await store.getBucket('b2'), null);
      });

      it('lists buckets sorted by name, filtered by owner when given', async () => {
        await store.createBucket(bucketRec('zeta', 'o1'));
        await store.createBucket(bucketRec('alpha', 'o2'));
        await store.createBucket(bucketRec('mid', 'o1'));
        assert.deepEqual((await store.listBuckets()).map((b) => b.name), ['alpha', 'mid', 'zeta']);
        assert.deepEqual((await store.listBuckets('o1')).map((b) => b.name), ['mid', 'zeta']);
        assert.deepEqual(await store.listBuckets('nobody'), []);
      });

      it('updates the bucket ACL', async () => {
        await store.createBucket(bucketRec('b1'));
        const acl = '{"owner":{"id":"o"},"grants":[]}';
        await store.updateBucketAcl('b1', acl);
        assert.equal((await store.getBucket('b1'))?.acl, acl);
      });

      it('deleteBucket cascades to objects, uploads and parts', async () => {
        await store.createBucket(bucketRec('b1'));
        await store.createBucket(bucketRec('other'));
        await store.putObject(objectRec('b1', 'k1'));
        await store.putObject(objectRec('b1', 'k2'));
        await store.putObject(objectRec('other', 'k1'));
        await store.createMultipartUpload(uploadRec('b1', 'big', 'up-1'));
        await store.putPart('up-1', 1, 10, '"e1"');
        await store.createMultipartUpload(uploadRec('other', 'big', 'up-2'));
        await store.putPart('up-2', 1, 10, '"e2"');

        await store.deleteBucket('b1');
        assert.equal(await store.bucketExists('b1'), false);
        // Recreate the name: nothing of the old bucket may resurface.
        await store.createBucket(bucketRec('b1'));
        assert.equal(await store.countObjects('b1'), 0);
        assert.equal(await store.getObject('b1', 'k1'), null);
        assert.equal(await store.getMultipartUpload('b1', 'big', 'up-1'), null);
        assert.deepEqual(await store.getPartsForCompletion('up-1'), []);
        const uploads = await store.listMultipartUploads('b1', uploadOpts());
        assert.deepEqual(uploads.uploads, []);
        // The other bucket is untouched.
        assert.equal(await store.countObjects('other'), 1);
        assert.notEqual(await store.getMultipartUpload('other', 'big', 'up-2'), null);
        assert.equal((await store.getPartsForCompletion('up-2')).length, 1);
      });
    });

    describe('objects', () => {
      beforeEach(async () => {
        await store.createBucket(bucketRec('b'));
      });

      it('round-trips every field, nullable content fields stay null', async () => {
        const rec = objectRec('b', 'dir/file.txt', {
          size: 5368709120,
          content_type: 'text/plain',
          content_encoding: 'gzip',
          content_disposition: 'attachment',
          expires: 'Thu, 01 Dec 2094 16:00:00 GMT',
          user_metadata: '{"x-amz-meta-author":"John"}',
        });
        await store.putObject(rec);
        assert.deepEqual(await store.getObject('b', 'dir/file.txt'), rec);
        assert.equal(await store.objectExists('b', 'dir/file.txt'), true);
        assert.equal(await store.objectExists('b', 'dir/other'), false);
        assert.equal(await store.getObject('b', 'missing'), null);
      });

      it('putObject upserts', async () => {
        await store.putObject(objectRec('b', 'k', { size: 1, etag: '"one"' }));
        await store.putObject(objectRec('b', 'k', { size: 2, etag: '"two"', content_language: 'de' }));
        const got = await store.getObject('b', 'k');
        assert.equal(got?.size, 2);
        assert.equal(got?.etag, '"two"');
        assert.equal(got?.content_language, 'de');
        assert.equal(await store.countObjects('b'), 1);
      });

      it('fills last_modified with whole-second ISO time when empty', async () => {
        await store.putObject(objectRec('b', 'k', { last_modified: '' }));
        const got = await store.getObject('b', 'k');
        assert.match(got?.last_modified ?? '', ISO_SECONDS);
        assert.ok(Math.abs(Date.parse(got?.last_modified ?? '') - Date.now()) < 5000);
      });

      it('rejects an object in a bucket that does not exist', async () => {
        await assert.rejects(store.putObject(objectRec('nope', 'k')));
        assert.equal(await store.getObject('nope', 'k'), null);
      });

      it('keeps the whole-object checksum and drops it when overwritten without one', async () => {
        const checksum = { algorithm: 'crc32c', value: 'yZRlqg==' };
        await store.putObject(objectRec('b', 'k', { checksum }));
        assert.deepEqual((await store.getObject('b', 'k'))?.checksum, checksum);
        const listed = await store.listObjects('b', listOpts({}));
        assert.deepEqual(listed.contents[0]?.checksum, checksum);
        await store.putObject(objectRec('b', 'k', { etag: '"other"' }));
        assert.equal((await store.getObject('b', 'k'))?.checksum, null);
        await store.putObject(objectRec('b', 'k', { checksum }));
        await store.deleteObject('b', 'k');
        await store.putObject(objectRec('b', 'k'));
        assert.equal((await store.getObject('b', 'k'))?.checksum, null);
      });

      it('deleteObject is idempotent and deleteObjectsMeta returns only keys that existed', async () => {
        for (const k of ['a', 'b', 'c']) await store.putObject(objectRec('b', k));
        await store.deleteObject('b', 'a');
        await store.deleteObject('b', 'a');
        assert.equal(await store.objectExists('b', 'a'), false);
        assert.deepEqual(await store.deleteObjectsMeta('b', ['a', 'b', 'zz', 'c', 'b']), ['b', 'c']);
        assert.equal(await store.countObjects('b'), 0);
        assert.deepEqual(await store.deleteObjectsMeta('missing-bucket', ['x']), []);
      });

      it('updates the object ACL and counts objects per bucket', async () => {
        await store.createBucket(bucketRec('b2'));
        await store.putObject(objectRec('b', 'k'));
        await store.putObject(objectRec('b', 'k2'));
        await store.putObject(objectRec('b2', 'k'));
        const acl = '{"grants":[]}';
        await store.updateObjectAcl('b', 'k', acl);
        assert.equal((await store.getObject('b', 'k'))?.acl, acl);
        assert.equal((await store.getObject('b2', 'k'))?.acl, '{}');
        assert.equal(await store.countObjects('b'), 2);
        assert.equal(await store.countObjects('b2'), 1);
        assert.equal(await store.countObjects('none'), 0);
      });
    });

    describe('listObjects', () => {
      beforeEach(async () => {
        await store.createBucket(bucketRec('b'));
      });
      async function put(...keys: string[]): Promise<void> {
        for (const k of keys) await store.putObject(objectRec('b', k));
      }
      async function list(opts: Partial<ReturnType<typeof listOpts>>) {
        return store.listObjects('b', listOpts(opts));
      }

      it('lists in UTF-8 byte order, not UTF-16 order', async () => {
        await put('\uE000', '😀', 'z', '\uFFFD', 'é');
        const res = await list({});
        // UTF-16 would put 😀 (D83D DE00) before U+E000.
        assert.deepEqual(res.contents.map((o) => o.key), ['z', 'é', '\uE000', '\uFFFD', '😀']);
      });

      it('filters by prefix literally: % and _ are not wildcards, case matters', async () => {
        await put('a%b', 'axb', 'a_c', 'abc', 'A%', 'a%', 'b');
        assert.deepEqual((await list({ prefix: 'a%' })).contents.map((o) => o.key), ['a%', 'a%b']);
        assert.deepEqual((await list({ prefix: 'a_' })).contents.map((o) => o.key), ['a_c']);
        assert.deepEqual((await list({ prefix: 'A' })).contents.map((o) => o.key), ['A%']);
        assert.deepEqual((await list({ prefix: '%' })).contents, []);
      });

      it('groups by "/" into common prefixes after the prefix', async () => {
        await put('photos/2024/a.jpg', 'photos/2024/b.jpg', 'photos/2025/c.jpg', 'photos/top.jpg', 'photos/', 'readme', 'x/y/z');
        const res = await list({ prefix: 'photos/', delimiter: '/' });
        assert.deepEqual(res.contents.map((o) => o.key), ['photos/', 'photos/top.jpg']);
        assert.deepEqual(res.commonPrefixes, ['photos/2024/', 'photos/2025/']);
        assert.equal(res.isTruncated, false);
        assert.equal(res.nextMarker, undefined);
        const root = await list({ delimiter: '/' });
        assert.deepEqual(root.contents.map((o) => o.key), ['readme']);
        assert.deepEqual(root.commonPrefixes, ['photos/', 'x/']);
      });

      it('supports a multi-character delimiter', async () => {
        await put('a--b', 'a--c--d', 'a-b', 'b--', 'c');
        const res = await list({ delimiter: '--' });
        assert.deepEqual(res.commonPrefixes, ['a--', 'b--']);
        assert.deepEqual(res.contents.map((o) => o.key), ['a-b', 'c']);
        const inner = await list({ prefix: 'a--', delimiter: '--' });
        assert.deepEqual(inner.contents.map((o) => o.key), ['a--b']);
        assert.deepEqual(inner.commonPrefixes, ['a--c--']);
      });

      it('resuming after a common prefix does not repeat it or its keys', async () => {
        await put('photos/1', 'photos/2', 'photos/a/b', 'readme', 'z');
        const p1 = await list({ delimiter: '/', maxKeys: 1 });
        assert.deepEqual(p1.commonPrefixes, ['photos/']);
        assert.deepEqual(p1.contents, []);
        assert.equal(p1.isTruncated, true);
        assert.equal(p1.nextMarker, 'photos/');
        const p2 = await list({ delimiter: '/', maxKeys: 1, startAfter: 'photos/' });
        assert.deepEqual(p2.commonPrefixes, []);
        assert.deepEqual(p2.contents.map((o) => o.key), ['readme']);
        assert.equal(p2.isTruncated, true);
        assert.equal(p2.nextMarker, 'readme');
        const p3 = await list({ delimiter: '/', maxKeys: 1, startAfter: 'readme' });
        assert.deepEqual(p3.contents.map((o) => o.key), ['z']);
        assert.equal(p3.isTruncated, false);
        // A marker inside a common prefix skips the whole prefix (entries are compared).
        const inside = await list({ delimiter: '/', startAfter: 'photos/1' });
        assert.deepEqual(inside.commonPrefixes, []);
        assert.deepEqual(inside.contents.map((o) => o.key), ['readme', 'z']);
      });

      it('maxKeys 0 returns nothing and is not truncated', async () => {
        await put('a', 'b');
        const res = await list({ maxKeys: 0 });
        assert.deepEqual(res.contents, []);
        assert.deepEqual(res.commonPrefixes, []);
        assert.equal(res.isTruncated, false);
        assert.equal(res.nextMarker, undefined);
      });

      it('truncation is exact: a full last page is not truncated', async () => {
        await put('a', 'b', 'c/1', 'c/2');
        const res = await list({ delimiter: '/', maxKeys: 3 });
        assert.deepEqual(res.contents.map((o) => o.key), ['a', 'b']);
        assert.deepEqual(res.commonPrefixes, ['c/']);
        assert.equal(res.isTruncated, false);
        const res2 = await list({ maxKeys: 3 });
        assert.equal(res2.isTruncated, true);
        assert.equal(res2.nextMarker, 'c/1');
      });

      it('an unknown bucket lists empty', async () => {
        const res = await store.listObjects('nope', listOpts({}));
        assert.deepEqual(res, { contents: [], commonPrefixes: [], isTruncated: false });
      });

      describe('matches a brute-force model over ~300 random keys', () => {
        const keys = randomKeys(300, 42);
        const prefixes = ['', 'a', 'a/', 'ab', '%', '_', '😀', '\uE000', '/', 'nope'];
        const delimiters = ['', '/', '//', 'ab', '😀', '\uE000'];
        beforeEach(async () => {
          for (const k of keys) await store.putObject(objectRec('b', k, { size: Buffer.byteLength(k) }));
        });

        function assertPage(res: Awaited<ReturnType<typeof list>>, expected: ModelPage, what: string): void {
          assert.deepEqual(
            res.contents.map((o) => o.key),
            expected.entries.filter((e) => !e.isPrefix).map((e) => e.value),
            `contents ${what}`,
          );
          assert.deepEqual(
            res.commonPrefixes,
            expected.entries.filter((e) => e.isPrefix).map((e) => e.value),
            `commonPrefixes ${what}`,
          );
          assert.equal(res.isTruncated, expected.isTruncated, `isTruncated ${what}`);
          const lastEntry = expected.entries[expected.entries.length - 1];
          assert.equal(res.nextMarker, expected.isTruncated ? lastEntry?.value : undefined, `nextMarker ${what}`);
        }

        it('walking all pages with maxKeys 1, 2, 3, 7, 1000 visits every entry once, in order', async () => {
          for (const prefix of prefixes) {
            for (const delimiter of delimiters) {
              const entries = modelObjectEntries(keys, prefix, delimiter);
              for (const maxKeys of [1, 2, 3, 7, 1000]) {
                let marker = '';
                const seen: string[] = [];
                for (let pageNo = 0; ; pageNo++) {
                  const what = `prefix=${JSON.stringify(prefix)} delimiter=${JSON.stringify(delimiter)} maxKeys=${maxKeys} page=${pageNo}`;
                  const res = await list({ prefix, delimiter, maxKeys, startAfter: marker });
                  const m = marker;
                  assertPage(res, modelPage(entries, (e) => byteCompare(e.value, m) > 0, maxKeys), what);
                  seen.push(...res.contents.map((o) => o.key), ...res.commonPrefixes);
                  if (!res.isTruncated) break;
                  assert.ok(res.nextMarker !== undefined, what);
                  marker = res.nextMarker;
                }
                assert.deepEqual(seen.sort(byteCompare), entries.map((e) => e.value), `all entries once: ${prefix} ${delimiter} ${maxKeys}`);
              }
            }
          }
        });

        it('arbitrary start markers (keys, common prefixes, absent strings) match the model', async () => {
          const next = rng(7);
          for (const prefix of prefixes) {
            for (const delimiter of delimiters) {
              const entries = modelObjectEntries(keys, prefix, delimiter);
              for (let i = 0; i < 25; i++) {
                const pick = next();
                const marker =
                  pick < 0.3 && entries.length > 0
                    ? (entries[Math.floor(next() * entries.length)]?.value ?? '')
                    : pick < 0.5
                      ? (keys[Math.floor(next() * keys.length)] ?? '')
                      : prefix + randomString(next, 3);
                const res = await list({ prefix, delimiter, maxKeys: 4, startAfter: marker });
                assertPage(
                  res,
                  modelPage(entries, (e) => byteCompare(e.value, marker) > 0, 4),
                  `prefix=${JSON.stringify(prefix)} delimiter=${JSON.stringify(delimiter)} marker=${JSON.stringify(marker)}`,
                );
              }
            }
          }
        });
      });
    });

    describe('multipart', () => {
      beforeEach(async () => {
        await store.createBucket(bucketRec('b'));
      });

      it('getMultipartUpload matches bucket, key and upload id', async () => {
        const up = uploadRec('b', 'k', 'up-1');
        await store.createMultipartUpload(up);
        assert.deepEqual(await store.getMultipartUpload('b', 'k', 'up-1'), up);
        assert.equal(await store.getMultipartUpload('b', 'other', 'up-1'), null);
        assert.equal(await store.getMultipartUpload('other', 'k', 'up-1'), null);
        assert.equal(await store.getMultipartUpload('b', 'k', 'up-2'), null);
      });

      it('fills initiated_at when empty; rejects a duplicate id and an unknown bucket', async () => {
        await store.createMultipartUpload(uploadRec('b', 'k', 'up-1', ''));
        assert.match((await store.getMultipartUpload('b', 'k', 'up-1'))?.initiated_at ?? '', ISO_SECONDS);
        await assert.rejects(store.createMultipartUpload(uploadRec('b', 'k2', 'up-1')));
        await assert.rejects(store.createMultipartUpload(uploadRec('nope', 'k', 'up-9')));
      });

      it('putPart upserts, stamps last_modified, and needs an existing upload', async () => {
        await store.createMultipartUpload(uploadRec('b', 'k', 'up-1'));
        await store.putPart('up-1', 1, 100, '"first"');
        await store.putPart('up-1', 1, 200, '"second"');
        const parts = await store.getPartsForCompletion('up-1');
        assert.equal(parts.length, 1);
        assert.equal(parts[0]?.etag, '"second"');
        assert.equal(parts[0]?.size, 200);
        assert.equal(parts[0]?.upload_id, 'up-1');
        assert.match(parts[0]?.last_modified ?? '', ISO_SECONDS);
        await assert.rejects(store.putPart('no-such-upload', 1, 1, '"x"'));
        assert.deepEqual(await store.getPartsForCompletion('no-such-upload'), [], 'the rejected part left nothing');
      });

      it('[beyond upstream] keeps the declared checksum algorithm/type of an upload', async () => {
        const up: UploadRecord = { ...uploadRec('b', 'k', 'up-1'), checksum_algorithm: 'crc32', checksum_type: 'FULL_OBJECT' };
        await store.createMultipartUpload(up);
        await store.createMultipartUpload(uploadRec('b', 'k', 'up-2'));
        await store.createMultipartUpload({ ...uploadRec('b', 'k', 'up-3'), checksum_algorithm: null, checksum_type: null });
        assert.deepEqual(await store.getMultipartUpload('b', 'k', 'up-1'), up);
        // Without an algorithm the fields are absent, so a plain record round-trips unchanged.
        assert.deepEqual(await store.getMultipartUpload('b', 'k', 'up-2'), uploadRec('b', 'k', 'up-2'));
        assert.deepEqual(await store.getMultipartUpload('b', 'k', 'up-3'), uploadRec('b', 'k', 'up-3'));
        const listed = await store.listMultipartUploads('b', uploadOpts());
        assert.deepEqual(listed.uploads.map((u) => [u.upload_id, u.checksum_algorithm, u.checksum_type]), [
          ['up-1', 'crc32', 'FULL_OBJECT'],
          ['up-2', undefined, undefined],
          ['up-3', undefined, undefined],
        ]);
      });

      it('[beyond upstream] putPart stores, replaces and clears a part checksum', async () => {
        await store.createMultipartUpload(uploadRec('b', 'k', 'up-1'));
        const c1 = { algorithm: 'crc32', value: 'AAAAAQ==' };
        const c2 = { algorithm: 'sha256', value: 'n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=' };
        await store.putPart('up-1', 1, 10, '"e1"', c1);
        await store.putPart('up-1', 2, 10, '"e2"');
        await store.putPart('up-1', 3, 10, '"e3"', c1);
        let parts = await store.getPartsForCompletion('up-1');
        assert.deepEqual(parts.map((p) => p.checksum), [c1, undefined, c1]);
        assert.equal('checksum' in (parts[1] as PartRecord), false);
        await store.putPart('up-1', 1, 11, '"e1b"', c2);
        await store.putPart('up-1', 3, 12, '"e3b"', null);
        parts = await store.getPartsForCompletion('up-1');
        assert.deepEqual(parts.map((p) => p.checksum), [c2, undefined, undefined]);
        const page = await store.listParts('up-1', 0, 1);
        assert.deepEqual(page.parts[0]?.checksum, c2);
        // Returned records are copies.
        (page.parts[0]?.checksum as { value: string }).value = 'changed';
        assert.deepEqual((await store.listParts('up-1', 0, 1)).parts[0]?.checksum, c2);
      });

      it('[beyond upstream] complete, abort, reap and bucket delete drop upload and part checksums', async () => {
        const withChecksum = (key: string, id: string, at?: string): UploadRecord => ({
          ...uploadRec('b', key, id, at),
          checksum_algorithm: 'crc32c',
          checksum_type: 'COMPOSITE',
        });
        const c = { algorithm: 'crc32c', value: 'AAAAAg==' };
        await store.createMultipartUpload(withChecksum('k', 'up-c'));
        await store.putPart('up-c', 1, 5, '"p"', c);
        await store.completeMultipartUpload('b', 'k', 'up-c', objectRec('b', 'k'));
        await store.createMultipartUpload(withChecksum('k', 'up-a'));
        await store.putPart('up-a', 1, 5, '"p"', c);
        await store.abortMultipartUpload('b', 'k', 'up-a');
        await store.createMultipartUpload(withChecksum('k', 'up-r', '2000-01-01T00:00:00.000Z'));
        await store.putPart('up-r', 1, 5, '"p"', c);
        await store.reapExpiredUploads(604800);
        await store.createBucket(bucketRec('gone'));
        await store.createMultipartUpload({ ...withChecksum('k', 'up-d'), bucket: 'gone' });
        await store.putPart('up-d', 1, 5, '"p"', c);
        await store.deleteBucket('gone');
        await store.createBucket(bucketRec('gone'));
        // The same ids created again without checksums must not inherit the old ones.
        for (const [bucket, id] of [['b', 'up-c'], ['b', 'up-a'], ['b', 'up-r'], ['gone', 'up-d']] as const) {
          await store.createMultipartUpload({ ...uploadRec(bucket, 'k', id), initiated_at: '' });
          const again = await store.getMultipartUpload(bucket, 'k', id);
          assert.equal(again?.checksum_algorithm, undefined, id);
          assert.deepEqual(await store.getPartsForCompletion(id), [], id);
        }
      });

      it('listParts pages with markers and exact truncation', async () => {
        await store.createMultipartUpload(uploadRec('b', 'k', 'up-1'));
        for (const n of [5, 3, 1, 4, 2]) await store.putPart('up-1', n, n * 10, `"e${n}"`);
        const p1 = await store.listParts('up-1', 0, 2);
        assert.deepEqual(p1.parts.map((p) => p.part_number), [1, 2]);
        assert.equal(p1.isTruncated, true);
        assert.equal(p1.nextPartNumberMarker, 2);
        const p2 = await store.listParts('up-1', 2, 2);
        assert.deepEqual(p2.parts.map((p) => p.part_number), [3, 4]);
        assert.equal(p2.isTruncated, true);
        assert.equal(p2.nextPartNumberMarker, 4);
        const p3 = await store.listParts('up-1', 4, 2);
        assert.deepEqual(p3.parts.map((p) => p.part_number), [5]);
        assert.equal(p3.isTruncated, false);
        const exact = await store.listParts('up-1', 0, 5);
        assert.equal(exact.parts.length, 5);
        assert.equal(exact.isTruncated, false);
        const none = await store.listParts('up-1', 0, 0);
        assert.deepEqual(none.parts, []);
        assert.equal(none.isTruncated, false);
        assert.deepEqual((await store.listParts('up-1', 5, 10)).parts, []);
      });

      it('50 concurrent putPart calls through the actor all land', async () => {
        await store.createMultipartUpload(uploadRec('b', 'k', 'up-1'));
        const numbers = Array.from({ length: 50 }, (_, i) => 50 - i);
        await Promise.all(numbers.map((n) => store.putPart('up-1', n, n, `"etag-${n}"`)));
        const parts = await store.getPartsForCompletion('up-1');
        assert.deepEqual(parts.map((p) => p.part_number), Array.from({ length: 50 }, (_, i) => i + 1));
        assert.ok(parts.every((p) => p.etag === `"etag-${p.part_number}"` && p.size === p.part_number));
      });

      it('completeMultipartUpload atomically writes the object and removes upload and parts', async () => {
        await store.createMultipartUpload(uploadRec('b', 'k', 'up-1'));
        await store.createMultipartUpload(uploadRec('b', 'k', 'up-2'));
        await store.putPart('up-1', 1, 5, '"p1"');
        await store.putPart('up-1', 2, 5, '"p2"');
        await store.putPart('up-2', 1, 5, '"q1"');
        const obj = objectRec('b', 'k', { size: 10, etag: '"abc-2"' });
        await store.completeMultipartUpload('b', 'k', 'up-1', obj);
        assert.deepEqual(await store.getObject('b', 'k'), obj);
        assert.equal(await store.getMultipartUpload('b', 'k', 'up-1'), null);
        assert.deepEqual(await store.getPartsForCompletion('up-1'), []);
        // The other upload of the same key is untouched.
        assert.notEqual(await store.getMultipartUpload('b', 'k', 'up-2'), null);
        assert.equal((await store.getPartsForCompletion('up-2')).length, 1);
        // A second Complete of the same id: the handler's guard sees no upload (-> NoSuchUpload).
        assert.equal(await store.getMultipartUpload('b', 'k', 'up-1'), null);
        const listed = await store.listMultipartUploads('b', uploadOpts());
        assert.deepEqual(listed.uploads.map((u) => u.upload_id), ['up-2']);
      });

      it('a failing Complete changes nothing (all or nothing)', async () => {
        await store.createMultipartUpload(uploadRec('b', 'k', 'up-1'));
        await store.putPart('up-1', 1, 5, '"p1"');
        // The object row cannot be written (its bucket does not exist).
        await assert.rejects(store.completeMultipartUpload('b', 'k', 'up-1', objectRec('nope', 'k')));
        assert.notEqual(await store.getMultipartUpload('b', 'k', 'up-1'), null);
        assert.equal((await store.getPartsForCompletion('up-1')).length, 1);
        assert.equal(await store.getObject('b', 'k'), null);
      });

      it('abortMultipartUpload removes upload and parts, only when bucket and key match', async () => {
        await store.createMultipartUpload(uploadRec('b', 'k', 'up-1'));
        await store.putPart('up-1', 1, 5, '"p1"');
        await store.abortMultipartUpload('b', 'wrong-key', 'up-1');
        assert.notEqual(await store.getMultipartUpload('b', 'k', 'up-1'), null);
        assert.equal((await store.getPartsForCompletion('up-1')).length, 1);
        await store.abortMultipartUpload('b', 'k', 'up-1');
        assert.equal(await store.getMultipartUpload('b', 'k', 'up-1'), null);
        assert.deepEqual(await store.getPartsForCompletion('up-1'), []);
        await store.abortMultipartUpload('b', 'k', 'up-1'); // idempotent
      });

      it('listMultipartUploads orders by key, then initiated_at, then upload id', async () => {
        await store.createMultipartUpload(uploadRec('b', 'b-key', 'u3', '2026-01-01T00:00:01.000Z'));
        await store.createMultipartUpload(uploadRec('b', 'a-key', 'u1', '2026-01-01T00:00:09.000Z'));
        await store.createMultipartUpload(uploadRec('b', 'a-key', 'u2', '2026-01-01T00:00:05.000Z'));
        await store.createMultipartUpload(uploadRec('b', 'a-key', 'u0', '2026-01-01T00:00:05.000Z'));
        const all = await store.listMultipartUploads('b', uploadOpts());
        assert.deepEqual(ids(all), ['a-key/u0', 'a-key/u2', 'a-key/u1', 'b-key/u3']);
        assert.equal(all.isTruncated, false);
        assert.equal(all.nextKeyMarker, undefined);
        // key-marker alone: keys strictly after it.
        assert.deepEqual(ids(await store.listMultipartUploads('b', uploadOpts({ keyMarker: 'a-key' }))), ['b-key/u3']);
        // both markers: same key with a greater upload id, or a greater key.
        assert.deepEqual(
          ids(await store.listMultipartUploads('b', uploadOpts({ keyMarker: 'a-key', uploadIdMarker: 'u1' }))),
          ['a-key/u2', 'b-key/u3'],
        );
        // upload-id-marker without key-marker is ignored.
        assert.equal(ids(await store.listMultipartUploads('b', uploadOpts({ uploadIdMarker: 'u9' }))).length, 4);
        // prefix
        assert.deepEqual(ids(await store.listMultipartUploads('b', uploadOpts({ prefix: 'b-' }))), ['b-key/u3']);
        // max 0
        const none = await store.listMultipartUploads('b', uploadOpts({ maxUploads: 0 }));
        assert.deepEqual(none.uploads, []);
        assert.equal(none.isTruncated, false);
      });

      it('listMultipartUploads pages with markers and groups by delimiter', async () => {
        await store.createMultipartUpload(uploadRec('b', 'logs/1', 'u1', '2026-01-01T00:00:01.000Z'));
        await store.createMultipartUpload(uploadRec('b', 'logs/2', 'u2', '2026-01-01T00:00:02.000Z'));
        await store.createMultipartUpload(uploadRec('b', 'x', 'u3', '2026-01-01T00:00:03.000Z'));
        await store.createMultipartUpload(uploadRec('b', 'x', 'u4', '2026-01-01T00:00:04.000Z'));
        const p1 = await store.listMultipartUploads('b', uploadOpts({ delimiter: '/', maxUploads: 2 }));
        assert.deepEqual(p1.commonPrefixes, ['logs/']);
        assert.deepEqual(ids(p1), ['x/u3']);
        assert.equal(p1.isTruncated, true);
        assert.equal(p1.nextKeyMarker, 'x');
        assert.equal(p1.nextUploadIdMarker, 'u3');
        const p2 = await store.listMultipartUploads(
          'b',
          uploadOpts({ delimiter: '/', maxUploads: 2, keyMarker: 'x', uploadIdMarker: 'u3' }),
        );
        assert.deepEqual(ids(p2), ['x/u4']);
        assert.equal(p2.isTruncated, false);
        const q1 = await store.listMultipartUploads('b', uploadOpts({ delimiter: '/', maxUploads: 1 }));
        assert.deepEqual(q1.commonPrefixes, ['logs/']);
        assert.equal(q1.isTruncated, true);
        assert.equal(q1.nextKeyMarker, 'logs/');
        assert.equal(q1.nextUploadIdMarker, undefined);
        const q2 = await store.listMultipartUploads('b', uploadOpts({ delimiter: '/', maxUploads: 5, keyMarker: 'logs/' }));
        assert.deepEqual(q2.commonPrefixes, []);
        assert.deepEqual(ids(q2), ['x/u3', 'x/u4']);
      });

      it('upload listing walks match a brute-force model', async () => {
        const next = rng(99);
        const keyPool = randomKeys(25, 5);
        const uploads: UploadRecord[] = [];
        for (let i = 0; i < 80; i++) {
          const key = keyPool[Math.floor(next() * keyPool.length)] ?? 'k';
          // ids ordered like time (UUIDv7-style), several uploads per second and per key.
          const at = new Date(Date.UTC(2026, 0, 1, 0, 0, Math.floor(i / 3))).toISOString();
          const up = uploadRec('b', key, `id-${String(i).padStart(4, '0')}`, at);
          uploads.push(up);
          await store.createMultipartUpload(up);
        }
        for (const prefix of ['', 'a', 'a/', '😀']) {
          for (const delimiter of ['', '/', 'ab']) {
            const entries = modelUploadEntries(uploads, prefix, delimiter);
            for (const maxUploads of [1, 2, 5]) {
              let keyMarker = '';
              let uploadIdMarker = '';
              const seen: string[] = [];
              for (let pageNo = 0; ; pageNo++) {
                const what = `prefix=${JSON.stringify(prefix)} delimiter=${JSON.stringify(delimiter)} max=${maxUploads} page=${pageNo}`;
                const opts = uploadOpts({ prefix, delimiter, maxUploads, keyMarker, uploadIdMarker });
                const res = await store.listMultipartUploads('b', opts);
                assertUploadPage(res, modelUploadPage(entries, opts), what);
                seen.push(...ids(res), ...res.commonPrefixes);
                if (!res.isTruncated) break;
                keyMarker = res.nextKeyMarker ?? '';
                uploadIdMarker = res.nextUploadIdMarker ?? '';
                assert.notEqual(keyMarker, '', what);
              }
              const all = entries.map((e) => (e.isPrefix ? e.value : `${e.value}/${e.uploadId}`));
              assert.deepEqual(seen.sort(), all.sort(), `every entry once: ${prefix} ${delimiter} ${maxUploads}`);
            }
          }
        }
      });

      it('upload pages from arbitrary markers match the model, even with ids not in time order', async () => {
        const next = rng(1234);
        const keyPool = randomKeys(15, 8);
        const uploads: UploadRecord[] = [];
        for (let i = 0; i < 60; i++) {
          const key = keyPool[Math.floor(next() * keyPool.length)] ?? 'k';
          const at = new Date(Date.UTC(2026, 0, 1, 0, 0, Math.floor(next() * 20))).toISOString();
          const up = uploadRec('b', key, `${Math.floor(next() * 1e9).toString(16)}-${i}`, at);
          uploads.push(up);
          await store.createMultipartUpload(up);
        }
        for (const prefix of ['', 'a', '😀']) {
          for (const delimiter of ['', '/']) {
            const entries = modelUploadEntries(uploads, prefix, delimiter);
            for (let i = 0; i < 60; i++) {
              const u = uploads[Math.floor(next() * uploads.length)] ?? uploads[0];
              const pick = next();
              const keyMarker = pick < 0.1 ? '' : pick < 0.8 ? (u?.key ?? '') : randomString(next, 3);
              const uploadIdMarker = next() < 0.7 ? (u?.upload_id ?? '') : '';
              const opts = uploadOpts({ prefix, delimiter, maxUploads: 4, keyMarker, uploadIdMarker });
              const res = await store.listMultipartUploads('b', opts);
              assertUploadPage(res, modelUploadPage(entries, opts), JSON.stringify(opts));
            }
          }
        }
      });
    });

    describe('credentials', () => {
      const cred = {
        access_key_id: 'AKID',
        secret_key: 'secret-1',
        owner_id: 'owner-1',
        display_name: 'AKID',
        active: true,
        created_at: '2026-01-01T00:00:00.000Z',
      };

      it('returns only active credentials', async () => {
        await store.putCredential({ ...cred, active: false });
        assert.equal(await store.getCredential('AKID'), null);
        await store.putCredential(cred);
        assert.deepEqual(await store.getCredential('AKID'), cred);
        assert.equal(await store.getCredential('OTHER'), null);
      });

      it('upsert replaces the secret but keeps created_at', async () => {
        await store.putCredential(cred);
        await store.putCredential({ ...cred, secret_key: 'secret-2', display_name: 'new', created_at: '2030-01-01T00:00:00.000Z' });
        const got = await store.getCredential('AKID');
        assert.equal(got?.secret_key, 'secret-2');
        assert.equal(got?.display_name, 'new');
        assert.equal(got?.created_at, '2026-01-01T00:00:00.000Z');
      });
    });

    describe('reaper', () => {
      it('reaps uploads older than the TTL with their parts, keeps fresh ones', async () => {
        await store.createBucket(bucketRec('b'));
        await store.createMultipartUpload(uploadRec('b', 'old', 'up-old', '2000-01-01T00:00:00.000Z'));
        await store.putPart('up-old', 1, 5, '"x"');
        await store.createMultipartUpload(uploadRec('b', 'fresh', 'up-new', ''));
        await store.putPart('up-new', 1, 5, '"y"');
        // Just inside the TTL must survive too.
        const justInside = new Date(Date.now() - 604800 * 1000 + 60_000).toISOString().replace(/\.\d{3}Z$/, '.000Z');
        await store.createMultipartUpload(uploadRec('b', 'edge', 'up-edge', justInside));
        const reaped = await store.reapExpiredUploads(604800);
        assert.deepEqual(reaped, [{ upload_id: 'up-old', bucket: 'b', key: 'old' }]);
        assert.equal(await store.getMultipartUpload('b', 'old', 'up-old'), null);
        assert.deepEqual(await store.getPartsForCompletion('up-old'), []);
        assert.notEqual(await store.getMultipartUpload('b', 'fresh', 'up-new'), null);
        assert.notEqual(await store.getMultipartUpload('b', 'edge', 'up-edge'), null);
        assert.equal((await store.getPartsForCompletion('up-new')).length, 1);
        assert.deepEqual(await store.reapExpiredUploads(604800), []);
      });
    });

    describe('commit intents', () => {
      it('records, lists in order, and clears write-ahead intents with their actions intact', async () => {
        assert.deepEqual(await store.listCommitIntents(), []);
        const obj = objectRec('b', 'k', { size: 12, checksum: null });
        const first = { id: 'i1', staged_path: '/data/.tmp/tmp-1', action: { kind: 'object' as const, object: obj }, created_at: '2026-01-01T00:00:00.000Z' };
        const second = { id: 'i2', staged_path: '/data/.tmp/tmp-2', action: { kind: 'part' as const, uploadId: 'u', partNumber: 3, size: 5, etag: '"e"' }, created_at: '2026-01-01T00:00:01.000Z' };
        await store.recordCommitIntent(second);
        await store.recordCommitIntent(first);
        assert.deepEqual(await store.listCommitIntents(), [first, second]);
        await store.clearCommitIntent('i1');
        assert.deepEqual(await store.listCommitIntents(), [second]);
        await store.clearCommitIntent('i2');
        await store.clearCommitIntent('never-there');
        assert.deepEqual(await store.listCommitIntents(), []);
      });
    });
  });
}

function listOpts(o: Partial<{ prefix: string; delimiter: string; maxKeys: number; startAfter: string }>) {
  return { prefix: '', delimiter: '', maxKeys: 1000, startAfter: '', ...o };
}

function uploadOpts(
  o: Partial<{ prefix: string; delimiter: string; maxUploads: number; keyMarker: string; uploadIdMarker: string }> = {},
) {
  return { prefix: '', delimiter: '', maxUploads: 1000, keyMarker: '', uploadIdMarker: '', ...o };
}

function ids(res: ListUploadsResult): string[] {
  return res.uploads.map((u) => `${u.key}/${u.upload_id}`);
}

function modelUploadEntries(uploads: UploadRecord[], prefix: string, delimiter: string): ModelEntry[] {
  const sorted = uploads
    .filter((u) => startsWithBytes(u.key, prefix))
    .sort(
      (a, b) =>
        byteCompare(a.key, b.key) ||
        (a.initiated_at < b.initiated_at ? -1 : a.initiated_at > b.initiated_at ? 1 : 0) ||
        byteCompare(a.upload_id, b.upload_id),
    );
  const entries: ModelEntry[] = [];
  for (const u of sorted) {
    const cp = modelCommonPrefix(u.key, prefix, delimiter);
    if (cp === null) entries.push({ value: u.key, isPrefix: false, uploadId: u.upload_id });
    else if (entries[entries.length - 1]?.value !== cp) entries.push({ value: cp, isPrefix: true });
  }
  return entries;
}

/** §6.6 markers: keys > key-marker; with an upload-id-marker also the marker key's greater ids. */
function modelUploadPage(entries: ModelEntry[], o: ReturnType<typeof uploadOpts>): ModelPage {
  return modelPage(
    entries,
    (e) => {
      if (o.keyMarker === '') return true;
      const c = byteCompare(e.value, o.keyMarker);
      if (e.isPrefix || o.uploadIdMarker === '') return c > 0;
      return c > 0 || (c === 0 && byteCompare(e.uploadId ?? '', o.uploadIdMarker) > 0);
    },
    o.maxUploads,
  );
}

function assertUploadPage(res: ListUploadsResult, expected: ModelPage, what: string): void {
  assert.deepEqual(ids(res), expected.entries.filter((e) => !e.isPrefix).map((e) => `${e.value}/${e.uploadId}`), what);
  assert.deepEqual(res.commonPrefixes, expected.entries.filter((e) => e.isPrefix).map((e) => e.value), what);
  assert.equal(res.isTruncated, expected.isTruncated, what);
  const last = expected.entries[expected.entries.length - 1];
  if (!expected.isTruncated || last === undefined) {
    assert.equal(res.nextKeyMarker, undefined, what);
    assert.equal(res.nextUploadIdMarker, undefined, what);
  } else {
    assert.equal(res.nextKeyMarker, last.value, what);
    assert.equal(res.nextUploadIdMarker, last.uploadId, what);
  }
}

// ---- shared listing helpers ----

describe('listing helpers', () => {
  const ALPHABET = ['a', 'z', '\u007f', '\u0080', 'é', '\u07ff', '\u0800', '\uD7FF', '\uE000', '\uFFFD', '\uFFFF', '😀', '\u{10FFFF}', '\u{10000}', ''];
  function randomText(next: () => number): string {
    let s = '';
    const n = Math.floor(next() * 5);
    for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(next() * ALPHABET.length)];
    return s;
  }

  it('utf8Compare agrees with Buffer.compare of the UTF-8 bytes', () => {
    const next = rng(1);
    for (let i = 0; i < 20000; i++) {
      const a = randomText(next);
      const b = randomText(next);
      assert.equal(Math.sign(utf8Compare(a, b)), byteCompare(a, b), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    }
  });

  it('prefixUpperBound bounds exactly the strings with that prefix', () => {
    assert.equal(prefixUpperBound(''), null);
    assert.equal(prefixUpperBound('\u{10FFFF}\u{10FFFF}'), null);
    assert.equal(prefixUpperBound('a\u{10FFFF}'), 'b');
    assert.equal(prefixUpperBound('ab/'), 'ab0');
    assert.equal(prefixUpperBound('\u007f'), '\u0080');
    assert.equal(prefixUpperBound('\uD7FF'), '\uE000');
    assert.equal(prefixUpperBound('\uFFFF'), '\u{10000}');
    const next = rng(2);
    for (let i = 0; i < 20000; i++) {
      const p = randomText(next);
      const s = randomText(next) + randomText(next);
      const candidate = next() < 0.5 ? p + s : s;
      const bound = prefixUpperBound(p);
      const inRange = byteCompare(candidate, p) >= 0 && (bound === null || byteCompare(candidate, bound) < 0);
      assert.equal(inRange, startsWithBytes(candidate, p), `${JSON.stringify(candidate)} / prefix ${JSON.stringify(p)}`);
    }
  });
});

// ---- the actor ----

/** A memory engine whose putObject awaits mid-write, like a network or fsync-ing engine. */
class SlowWriteEngine extends MemoryMetadataStore {
  readonly events: string[] = [];
  gate: Promise<void> | null = null;

  override async putObject(obj: ObjectRecord): Promise<void> {
    this.events.push(`start ${obj.key}`);
    if (this.gate) await this.gate;
    await new Promise((resolve) => setImmediate(resolve));
    if (obj.key.startsWith('boom')) {
      this.events.push(`fail ${obj.key}`);
      throw new Error(`refused ${obj.key}`);
    }
    await super.putObject(obj);
    this.events.push(`end ${obj.key}`);
  }
}

describe('MetadataActor', () => {
  it('serializes writes in FIFO order; a failing write rejects only its caller', async () => {
    const engine = new SlowWriteEngine();
    const actor = new MetadataActor(engine);
    await actor.createBucket(bucketRec('b'));
    const keys = ['k0', 'k1', 'boom2', 'k3', 'k4', 'k5'];
    const results = await Promise.allSettled(keys.map((k) => actor.putObject(objectRec('b', k))));
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled'],
    );
    const failed = results[2];
    assert.ok(failed?.status === 'rejected' && failed.reason instanceof Error && failed.reason.message === 'refused boom2');
    // Without the queue all six "start" events would come before any "end".
    assert.deepEqual(engine.events, keys.flatMap((k) => (k.startsWith('boom') ? [`start ${k}`, `fail ${k}`] : [`start ${k}`, `end ${k}`])));
    assert.equal(await actor.countObjects('b'), 5);
  });

  it('reads pass straight through while a write is pending', async () => {
    const engine = new SlowWriteEngine();
    const actor = new MetadataActor(engine);
    await actor.createBucket(bucketRec('b'));
    let release: () => void = () => {};
    engine.gate = new Promise((resolve) => {
      release = resolve;
    });
    const pendingWrite = actor.putObject(objectRec('b', 'slow'));
    const queuedWrite = actor.deleteBucket('b');
    // The read answers before the stalled write (and the write queued behind it) completes.
    assert.equal(await actor.bucketExists('b'), true);
    assert.equal(await actor.objectExists('b', 'slow'), false);
    release();
    await pendingWrite;
    await queuedWrite;
    assert.equal(await actor.bucketExists('b'), false);
  });
});

// ---- the factory ----

describe('openMetadataStore', () => {
  it('builds and initialises the configured engine inside an actor', async () => {
    const mem = defaultConfig();
    mem.metadata.engine = 'memory';
    const a = await openMetadataStore(mem);
    assert.ok(a instanceof MetadataActor);
    assert.ok(a.engine instanceof MemoryMetadataStore);
    await a.close();

    const sq = defaultConfig();
    sq.metadata.sqlite.path = freshDbPath();
    const b = await openMetadataStore(sq);
    assert.ok(b.engine instanceof SqliteMetadataStore);
    assert.ok(existsSync(sq.metadata.sqlite.path));
    await b.createBucket(bucketRec('x'));
    assert.equal(await b.bucketExists('x'), true);
    await b.close();
  });
});

// ---- SQLite-specific (not part of the shared conformance body) ----

/** metadata.md §4 DDL as SQLite records it in sqlite_master (it drops "IF NOT EXISTS"). */
const SPEC_DDL: Record<string, string> = {
  schema_version: `CREATE TABLE schema_version (
    version    INTEGER PRIMARY KEY,
    applied_at TEXT NOT NULL
)`,
  buckets: `CREATE TABLE buckets (
    name           TEXT PRIMARY KEY,
    region         TEXT NOT NULL DEFAULT 'us-east-1',
    owner_id       TEXT NOT NULL,
    owner_display  TEXT NOT NULL DEFAULT '',
    acl            TEXT NOT NULL DEFAULT '{}',
    created_at     TEXT NOT NULL
)`,
  objects: `CREATE TABLE objects (
    bucket              TEXT NOT NULL,
    key                 TEXT NOT NULL,
    size                INTEGER NOT NULL,
    etag                TEXT NOT NULL,
    content_type        TEXT NOT NULL DEFAULT 'application/octet-stream',
    content_encoding    TEXT,
    content_language    TEXT,
    content_disposition TEXT,
    cache_control       TEXT,
    expires             TEXT,
    storage_class       TEXT NOT NULL DEFAULT 'STANDARD',
    acl                 TEXT NOT NULL DEFAULT '{}',
    user_metadata       TEXT NOT NULL DEFAULT '{}',
    last_modified       TEXT NOT NULL,
    delete_marker       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, key),
    FOREIGN KEY (bucket) REFERENCES buckets(name) ON DELETE CASCADE
)`,
  idx_objects_bucket: 'CREATE INDEX idx_objects_bucket        ON objects(bucket)',
  idx_objects_bucket_prefix: 'CREATE INDEX idx_objects_bucket_prefix ON objects(bucket, key)',
  multipart_uploads: `CREATE TABLE multipart_uploads (
    upload_id           TEXT PRIMARY KEY,
    bucket              TEXT NOT NULL,
    key                 TEXT NOT NULL,
    content_type        TEXT NOT NULL DEFAULT 'application/octet-stream',
    content_encoding    TEXT,
    content_language    TEXT,
    content_disposition TEXT,
    cache_control       TEXT,
    expires             TEXT,
    storage_class       TEXT NOT NULL DEFAULT 'STANDARD',
    acl                 TEXT NOT NULL DEFAULT '{}',
    user_metadata       TEXT NOT NULL DEFAULT '{}',
    owner_id            TEXT NOT NULL,
    owner_display       TEXT NOT NULL DEFAULT '',
    initiated_at        TEXT NOT NULL,
    FOREIGN KEY (bucket) REFERENCES buckets(name) ON DELETE CASCADE
)`,
  idx_uploads_bucket: 'CREATE INDEX idx_uploads_bucket     ON multipart_uploads(bucket)',
  idx_uploads_bucket_key: 'CREATE INDEX idx_uploads_bucket_key ON multipart_uploads(bucket, key)',
  multipart_parts: `CREATE TABLE multipart_parts (
    upload_id     TEXT NOT NULL,
    part_number   INTEGER NOT NULL,
    size          INTEGER NOT NULL,
    etag          TEXT NOT NULL,
    last_modified TEXT NOT NULL,
    PRIMARY KEY (upload_id, part_number),
    FOREIGN KEY (upload_id) REFERENCES multipart_uploads(upload_id) ON DELETE CASCADE
)`,
  credentials: `CREATE TABLE credentials (
    access_key_id TEXT PRIMARY KEY,
    secret_key    TEXT NOT NULL,
    owner_id      TEXT NOT NULL,
    display_name  TEXT NOT NULL DEFAULT '',
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    TEXT NOT NULL
)`,
};

describe('SqliteMetadataStore (engine-specific)', () => {
  let path: string;
  let store: SqliteMetadataStore;
  before(async () => {
    path = freshDbPath();
    store = new SqliteMetadataStore(path);
    await store.init();
  });
  after(async () => {
    await store.close();
  });

  it('[beyond upstream] leaves no multipart checksum rows behind after complete, abort and reap', async () => {
    const count = (table: string): number => (store.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    await store.createBucket(bucketRec('mp-sums'));
    const ids = ['s-c', 's-a', 's-r'];
    for (const id of ids) {
      const at = id === 's-r' ? '2000-01-01T00:00:00.000Z' : '2026-01-01T00:00:00.000Z';
      await store.createMultipartUpload({ ...uploadRec('mp-sums', 'k', id, at), checksum_algorithm: 'crc32', checksum_type: 'COMPOSITE' });
      await store.putPart(id, 1, 5, '"p"', { algorithm: 'crc32', value: 'AAAAAQ==' });
    }
    assert.equal(count('upload_checksums'), 3);
    assert.equal(count('part_checksums'), 3);
    await store.completeMultipartUpload('mp-sums', 'k', 's-c', objectRec('mp-sums', 'k'));
    await store.abortMultipartUpload('mp-sums', 'k', 's-a');
    await store.reapExpiredUploads(604800);
    assert.equal(count('upload_checksums'), 0);
    assert.equal(count('part_checksums'), 0);
    await store.createMultipartUpload({ ...uploadRec('mp-sums', 'k', 's-d'), checksum_algorithm: 'sha1', checksum_type: 'COMPOSITE' });
    await store.putPart('s-d', 1, 5, '"p"', { algorithm: 'sha1', value: 'x' });
    await store.deleteBucket('mp-sums');
    assert.equal(count('upload_checksums'), 0);
    assert.equal(count('part_checksums'), 0);
  });

  it('creates exactly the spec schema (sqlite_master text per table and index)', () => {
    const rows = store.db
      .prepare("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'")
      .all() as { name: string; sql: string }[];
    const actual = new Map(rows.map((r) => [r.name, r.sql]));
    for (const [name, ddl] of Object.entries(SPEC_DDL)) assert.equal(actual.get(name), ddl, name);
    // The only additions are the checksum side tables and the commit intents (beyond upstream).
    assert.deepEqual(
      [...actual.keys()].filter((n) => !(n in SPEC_DDL)).sort(),
      ['commit_intents', 'object_checksums', 'part_checksums', 'upload_checksums'],
    );
    const versions = store.db.prepare('SELECT version, applied_at FROM schema_version').all() as {
      version: number;
      applied_at: string;
    }[];
    assert.equal(versions.length, 1);
    assert.equal(versions[0]?.version, 1);
    assert.match(versions[0]?.applied_at ?? '', ISO_SECONDS);
  });

  it('applies the spec pragmas', () => {
    assert.equal(store.db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(store.db.pragma('foreign_keys', { simple: true }), 1);
    assert.equal(store.db.pragma('synchronous', { simple: true }), 1); // NORMAL
    assert.equal(store.db.pragma('busy_timeout', { simple: true }), 5000);
  });

  it('reopening the same file keeps the data and the original schema_version row', async () => {
    const p = freshDbPath();
    const first = new SqliteMetadataStore(p);
    await first.init();
    await first.createBucket(bucketRec('keep'));
    await first.putObject(objectRec('keep', 'k', { checksum: { algorithm: 'sha256', value: 'abc=' } }));
    await first.putCredential({ access_key_id: 'A', secret_key: 's', owner_id: 'o', display_name: 'A', active: true, created_at: '2026-01-01T00:00:00.000Z' });
    const applied = (first.db.prepare('SELECT applied_at FROM schema_version').get() as { applied_at: string }).applied_at;
    await first.close();
    assert.throws(() => first.db, /not open/);

    const second = new SqliteMetadataStore(p);
    await second.init();
    assert.equal(await second.bucketExists('keep'), true);
    assert.deepEqual(await second.getObject('keep', 'k'), objectRec('keep', 'k', { checksum: { algorithm: 'sha256', value: 'abc=' } }));
    assert.equal((await second.getCredential('A'))?.secret_key, 's');
    const versions = second.db.prepare('SELECT applied_at FROM schema_version').all() as { applied_at: string }[];
    assert.deepEqual(versions, [{ applied_at: applied }]);
    await second.close();
  });

  it('opens a database written by another implementation (Python-style DDL and rows)', async () => {
    const p = freshDbPath();
    mkdirSync(dirname(p), { recursive: true });
    const foreign = new Database(p);
    foreign.exec(`
      CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);
      INSERT INTO schema_version VALUES (1, '2025-06-01T00:00:00.000Z');
      CREATE TABLE buckets (name TEXT PRIMARY KEY, region TEXT NOT NULL DEFAULT 'us-east-1', owner_id TEXT NOT NULL DEFAULT '',
        owner_display TEXT NOT NULL DEFAULT '', acl TEXT NOT NULL DEFAULT '{}', created_at TEXT NOT NULL);
      CREATE TABLE objects (bucket TEXT NOT NULL, key TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
        content_type TEXT NOT NULL DEFAULT 'application/octet-stream', content_encoding TEXT, content_language TEXT,
        content_disposition TEXT, cache_control TEXT, expires TEXT, storage_class TEXT NOT NULL DEFAULT 'STANDARD',
        acl TEXT NOT NULL DEFAULT '{}', user_metadata TEXT NOT NULL DEFAULT '{}', last_modified TEXT NOT NULL,
        delete_marker INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (bucket, key),
        FOREIGN KEY (bucket) REFERENCES buckets(name) ON DELETE CASCADE);
      INSERT INTO buckets (name, owner_id, created_at) VALUES ('py', 'pyowner', '2025-06-01T00:00:00.000Z');
      INSERT INTO objects (bucket, key, size, etag, user_metadata, last_modified)
        VALUES ('py', 'dir/a', 1, '"e"', '{"author":"John"}', '2025-06-01T00:00:00.000Z');
    `);
    foreign.close();
    const s = new SqliteMetadataStore(p);
    await s.init();
    assert.equal((await s.getBucket('py'))?.owner_id, 'pyowner');
    assert.equal((await s.getObject('py', 'dir/a'))?.user_metadata, '{"author":"John"}');
    assert.deepEqual((await s.listObjects('py', listOpts({ delimiter: '/' }))).commonPrefixes, ['dir/']);
    assert.deepEqual(s.db.prepare('SELECT * FROM schema_version').all(), [{ version: 1, applied_at: '2025-06-01T00:00:00.000Z' }]);
    // Tables missing from the foreign file were created.
    assert.ok(s.db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'credentials'").get());
    await s.close();
  });

  it('delimiter listing reads O(prefixes) rows, not O(keys): 20,000 keys under 200 prefixes', async () => {
    await store.createBucket(bucketRec('wide'));
    const insert = store.db.transaction(() => {
      for (let p = 0; p < 200; p++) {
        for (let k = 0; k < 100; k++) {
          void store.putObject(objectRec('wide', `p${String(p).padStart(3, '0')}/k${String(k).padStart(3, '0')}`));
        }
      }
    });
    insert();
    assert.equal(await store.countObjects('wide'), 20000);

    const before = { ...store.stats };
    const res = await store.listObjects('wide', listOpts({ delimiter: '/' }));
    const rows = store.stats.rowsRead - before.rowsRead;
    const statements = store.stats.statements - before.statements;
    assert.equal(res.commonPrefixes.length, 200);
    assert.equal(res.contents.length, 0);
    assert.equal(res.isTruncated, false);
    // A seek per prefix with a handful of rows each; a scan would read 20,000.
    assert.ok(rows <= 200 * 8, `read ${rows} rows`);
    assert.ok(statements <= 200 + 10, `ran ${statements} statements`);

    // Paging through prefixes costs per page, not per key either.
    const b2 = store.stats.rowsRead;
    const page = await store.listObjects('wide', listOpts({ delimiter: '/', maxKeys: 10, startAfter: 'p100/' }));
    assert.deepEqual(page.commonPrefixes, Array.from({ length: 10 }, (_, i) => `p${101 + i}/`));
    assert.equal(page.isTruncated, true);
    assert.ok(store.stats.rowsRead - b2 <= 11 * 8, `page read ${store.stats.rowsRead - b2} rows`);

    // Without a delimiter a page reads maxKeys + 1 rows.
    const b3 = store.stats.rowsRead;
    const flat = await store.listObjects('wide', listOpts({ prefix: 'p150/', maxKeys: 50 }));
    assert.equal(flat.contents.length, 50);
    assert.equal(flat.isTruncated, true);
    assert.equal(store.stats.rowsRead - b3, 51);
  });
});

// ---- local JSONL-specific (metadata.md §6; not part of the shared conformance body) ----

describe('LocalJsonlMetadataStore (engine-specific)', () => {
  let dir: string;
  const open = async (compactOnStartup = false): Promise<LocalJsonlMetadataStore> => {
    const s = new LocalJsonlMetadataStore({ rootDir: dir, compactOnStartup });
    await s.init();
    return s;
  };
  const lines = (file: string): string[] => readFileSync(join(dir, file), 'utf8').split('\n').filter((l) => l !== '');
  const write = (file: string, content: string): void => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, file), content);
  };

  beforeEach(() => {
    dir = freshLocalDir();
  });

  it('writes every record type as a flat canonical line (column names and order, JSON strings, 0/1, nulls)', async () => {
    const s = await open();
    await s.createBucket(bucketRec('b'));
    await s.updateBucketAcl('b', '{"owner":{"id":"o"},"grants":[]}');
    await s.putObject(objectRec('b', 'k', { user_metadata: '{"x-amz-meta-a":"1"}', content_language: 'en' }));
    await s.createMultipartUpload(uploadRec('b', 'm', 'u1'));
    await s.putPart('u1', 1, 5, '"p1"');
    await s.putCredential({ access_key_id: 'AK', secret_key: 'SK', owner_id: 'o', display_name: 'AK', active: true, created_at: '2026-01-01T00:00:00.000Z' });
    await s.close();

    assert.deepEqual(lines('buckets.jsonl'), [
      '{"name":"b","region":"us-east-1","owner_id":"owner-1","owner_display":"Owner","acl":"{}","created_at":"2026-01-01T00:00:00.000Z"}',
      '{"name":"b","region":"us-east-1","owner_id":"owner-1","owner_display":"Owner","acl":"{\\"owner\\":{\\"id\\":\\"o\\"},\\"grants\\":[]}","created_at":"2026-01-01T00:00:00.000Z"}',
    ]);
    assert.deepEqual(lines('objects.jsonl'), [
      '{"bucket":"b","key":"k","size":3,"etag":"\\"acbd18db4cc2f85cedef654fccc4a4d8\\"","content_type":"application/octet-stream","content_encoding":null,"content_language":"en","content_disposition":null,"cache_control":null,"expires":null,"storage_class":"STANDARD","acl":"{}","user_metadata":"{\\"x-amz-meta-a\\":\\"1\\"}","last_modified":"2026-01-02T03:04:05.000Z","delete_marker":0}',
    ]);
    const upload = JSON.parse(lines('uploads.jsonl')[0] ?? '') as Record<string, unknown>;
    assert.deepEqual(Object.keys(upload), [
      'upload_id', 'bucket', 'key', 'content_type', 'content_encoding', 'content_language', 'content_disposition',
      'cache_control', 'expires', 'storage_class', 'acl', 'user_metadata', 'owner_id', 'owner_display', 'initiated_at',
    ]);
    assert.equal(upload.acl, '{}');
    assert.equal(upload.content_encoding, null);
    const part = JSON.parse(lines('parts.jsonl')[0] ?? '') as Record<string, unknown>;
    assert.deepEqual(Object.keys(part), ['upload_id', 'part_number', 'size', 'etag', 'last_modified']);
    assert.deepEqual({ ...part, last_modified: 'x' }, { upload_id: 'u1', part_number: 1, size: 5, etag: '"p1"', last_modified: 'x' });
    assert.match(part.last_modified as string, ISO_SECONDS);
    assert.deepEqual(lines('credentials.jsonl'), [
      '{"access_key_id":"AK","secret_key":"SK","owner_id":"o","display_name":"AK","active":1,"created_at":"2026-01-01T00:00:00.000Z"}',
    ]);
    // Nothing beyond-spec was written, so no side files exist.
    assert.deepEqual(readdirSync(dir).sort(), ['buckets.jsonl', 'credentials.jsonl', 'objects.jsonl', 'parts.jsonl', 'uploads.jsonl']);
  });

  it('appends pk-only tombstones, cascading a bucket delete to its objects, uploads and parts', async () => {
    const s = await open();
    await s.createBucket(bucketRec('b'));
    await s.putObject(objectRec('b', 'k'));
    await s.putObject(objectRec('b', 'k2'));
    await s.deleteObject('b', 'k');
    assert.equal(lines('objects.jsonl').at(-1), '{"bucket":"b","key":"k","_deleted":true}');
    await s.createMultipartUpload(uploadRec('b', 'm', 'u1'));
    await s.putPart('u1', 1, 5, '"p1"');
    await s.putPart('u1', 2, 5, '"p2"');
    await s.deleteBucket('b');
    await s.close();
    assert.deepEqual(lines('parts.jsonl').slice(-2), ['{"upload_id":"u1","part_number":1,"_deleted":true}', '{"upload_id":"u1","part_number":2,"_deleted":true}']);
    assert.equal(lines('uploads.jsonl').at(-1), '{"upload_id":"u1","_deleted":true}');
    assert.equal(lines('objects.jsonl').at(-1), '{"bucket":"b","key":"k2","_deleted":true}');
    assert.equal(lines('buckets.jsonl').at(-1), '{"name":"b","_deleted":true}');

    // After a restart the cascade holds: a re-created bucket has no old uploads, parts or objects.
    const again = await open();
    assert.equal(await again.bucketExists('b'), false);
    await again.createBucket(bucketRec('b'));
    assert.equal((await again.listMultipartUploads('b', uploadOpts())).uploads.length, 0);
    assert.deepEqual(await again.getPartsForCompletion('u1'), []);
    assert.equal(await again.countObjects('b'), 0);
    await again.close();
  });

  it('replays last-record-wins, skipping blank, garbage and a torn last line; the next append starts a new line', async () => {
    const b = JSON.stringify({ name: 'b', region: 'us-east-1', owner_id: 'o', owner_display: '', acl: '{}', created_at: '2026-01-01T00:00:00.000Z' });
    const o = (key: string, size: number): string => JSON.stringify({ ...objectRec('b', key, { size }), checksum: undefined, delete_marker: 0 });
    write('buckets.jsonl', `${b}\n`);
    write('objects.jsonl', `${o('a', 1)}\n\n   \nnot json\n[1,2]\n${o('a', 2)}\n${o('c', 3)}\n{"bucket":"b","key":"c","_deleted":true}\n{"bucket":"b","key":"torn","si`);
    const s = await open();
    assert.deepEqual((await s.listObjects('b', listOpts({}))).contents.map((x) => [x.key, x.size]), [['a', 2]]);
    await s.putObject(objectRec('b', 'after'));
    await s.close();
    assert.match(readFileSync(join(dir, 'objects.jsonl'), 'utf8'), /"si\n\{"bucket":"b","key":"after"/);
    const again = await open();
    assert.deepEqual((await again.listObjects('b', listOpts({}))).contents.map((x) => x.key), ['a', 'after']);
    await again.close();
  });

  it('compacts at startup only when enabled: survivors in canonical form, empty files deleted, no .tmp left', async () => {
    const s = await open();
    await s.createBucket(bucketRec('b'));
    for (let i = 0; i < 5; i++) await s.putObject(objectRec('b', 'k', { size: i }));
    await s.putObject(objectRec('b', 'gone'));
    await s.deleteObject('b', 'gone');
    await s.createMultipartUpload(uploadRec('b', 'm', 'u1'));
    await s.putPart('u1', 1, 5, '"p1"');
    await s.abortMultipartUpload('b', 'm', 'u1');
    await s.close();
    const before = readFileSync(join(dir, 'objects.jsonl'), 'utf8');

    const plain = await open(false);
    await plain.close();
    assert.equal(readFileSync(join(dir, 'objects.jsonl'), 'utf8'), before, 'no compaction when disabled');

    const compacted = await open(true);
    assert.deepEqual(lines('objects.jsonl'), [JSON.stringify({ ...objectRec('b', 'k', { size: 4 }), checksum: undefined, delete_marker: 0 })]);
    assert.equal(lines('buckets.jsonl').length, 1);
    assert.deepEqual(readdirSync(dir).sort(), ['buckets.jsonl', 'objects.jsonl']);
    assert.equal((await compacted.getObject('b', 'k'))?.size, 4);
    await compacted.close();
  });

  it('reads the Rust shape (objects and true/false) and the Go shape (type/data wrapper, Go field names)', async () => {
    write(
      'buckets.jsonl',
      [
        '{"type":"bucket","data":{"Name":"gb","Region":"eu-west-1","OwnerID":"go-owner","OwnerDisplay":"Go","ACL":{"owner":{"id":"go-owner"},"grants":[]},"CreatedAt":"2026-01-01T10:20:30.123456789Z"}}',
        '{"type":"bucket","data":{"Name":"dead","Region":"us-east-1","OwnerID":"o","OwnerDisplay":"","ACL":{},"CreatedAt":"2026-01-01T00:00:00Z"}}',
        '{"type":"bucket","data":null,"_deleted":true,"key":"dead"}',
        '{"name":"rb","region":"us-east-1","owner_id":"o","owner_display":"","acl":{},"created_at":"2026-01-01T00:00:00.000Z"}',
      ].join('\n'),
    );
    write(
      'objects.jsonl',
      [
        '{"type":"object","bucket":"gb","key":"g","data":{"Bucket":"gb","Key":"g","Size":7,"ETag":"\\"e\\"","ContentType":"text/plain","ContentEncoding":"","ContentLanguage":"","ContentDisposition":"","CacheControl":"no-cache","Expires":"","StorageClass":"STANDARD","ACL":{},"UserMetadata":{"author":"go"},"LastModified":"2026-02-03T04:05:06.5Z","DeleteMarker":false}}',
        '{"type":"object","bucket":"gb","key":"x","data":{"Bucket":"gb","Key":"x","Size":1,"ETag":"\\"x\\""}}',
        '{"type":"object","data":null,"_deleted":true,"bucket":"gb","key":"x"}',
        '{"bucket":"rb","key":"r","size":5,"etag":"\\"r\\"","content_type":"application/octet-stream","content_encoding":null,"content_language":null,"content_disposition":null,"cache_control":null,"expires":null,"storage_class":"STANDARD","acl":{},"user_metadata":{"x-amz-meta-a":"1"},"last_modified":"2026-01-01T00:00:00.000Z","delete_marker":false,"type":"object"}',
      ].join('\n'),
    );
    write('credentials.jsonl', '{"access_key_id":"off","secret_key":"s","owner_id":"o","display_name":"","active":false,"created_at":"2026-01-01T00:00:00.000Z"}\n{"type":"credential","data":{"AccessKeyID":"gk","SecretKey":"gs","OwnerID":"o","DisplayName":"gk","Active":true,"CreatedAt":"2026-01-01T00:00:00Z"}}\n');
    const s = await open(true);
    assert.deepEqual(await s.getBucket('gb'), {
      name: 'gb', region: 'eu-west-1', owner_id: 'go-owner', owner_display: 'Go', acl: '{"owner":{"id":"go-owner"},"grants":[]}', created_at: '2026-01-01T10:20:30.000Z',
    });
    assert.equal(await s.bucketExists('dead'), false);
    assert.deepEqual(await s.getObject('gb', 'g'), objectRec('gb', 'g', {
      size: 7, etag: '"e"', content_type: 'text/plain', cache_control: 'no-cache', user_metadata: '{"author":"go"}', last_modified: '2026-02-03T04:05:06.000Z',
    }));
    assert.equal(await s.objectExists('gb', 'x'), false);
    assert.deepEqual(await s.getObject('rb', 'r'), objectRec('rb', 'r', { size: 5, etag: '"r"', user_metadata: '{"x-amz-meta-a":"1"}', last_modified: '2026-01-01T00:00:00.000Z' }));
    assert.equal(await s.getCredential('off'), null);
    assert.equal((await s.getCredential('gk'))?.secret_key, 'gs');
    await s.close();
    // Compaction rewrote the foreign shapes canonically.
    assert.equal(lines('objects.jsonl').find((l) => l.includes('"key":"r"')), JSON.stringify({ ...objectRec('rb', 'r', { size: 5, etag: '"r"', user_metadata: '{"x-amz-meta-a":"1"}', last_modified: '2026-01-01T00:00:00.000Z' }), checksum: undefined, delete_marker: 0 }));
    assert.ok(lines('credentials.jsonl').includes('{"access_key_id":"off","secret_key":"s","owner_id":"o","display_name":"","active":0,"created_at":"2026-01-01T00:00:00.000Z"}'));
  });

  it('restart: every record, checksum, inactive credential and commit intent is there after reopening', async () => {
    const c1 = { algorithm: 'crc32', value: 'AAAAAQ==' };
    const s = await open();
    await s.createBucket(bucketRec('b'));
    await s.putObject(objectRec('b', 'plain'));
    await s.putObject(objectRec('b', 'summed', { checksum: c1 }));
    await s.createMultipartUpload({ ...uploadRec('b', 'm', 'u1'), checksum_algorithm: 'crc32', checksum_type: 'FULL_OBJECT' });
    await s.putPart('u1', 1, 5, '"p1"', c1);
    await s.putPart('u1', 2, 6, '"p2"');
    await s.putCredential({ access_key_id: 'off', secret_key: 's', owner_id: 'o', display_name: '', active: false, created_at: '2026-01-01T00:00:00.000Z' });
    const intent = { id: 'i1', staged_path: '/x/.tmp/1', action: { kind: 'object' as const, object: objectRec('b', 'n') }, created_at: '2026-01-01T00:00:00.000Z' };
    await s.recordCommitIntent(intent);
    const snapshot = async (st: MetadataStore) => ({
      buckets: await st.listBuckets(),
      objects: await st.listObjects('b', listOpts({})),
      upload: await st.getMultipartUpload('b', 'm', 'u1'),
      parts: await st.listParts('u1', 0, 1000),
      intents: await st.listCommitIntents(),
    });
    const expected = await snapshot(s);
    assert.deepEqual(expected.objects.contents[1]?.checksum, c1);
    assert.deepEqual(expected.parts.parts[0]?.checksum, c1);
    await s.close();
    for (const compact of [false, true, false]) {
      const again = await open(compact);
      assert.deepEqual(await snapshot(again), expected, `compact=${compact}`);
      await again.close();
    }
    // A checksum row only applies while the object keeps its ETag: another implementation that
    // rewrites the object without knowing the side file must not leave a stale checksum visible.
    write('objects.jsonl', `${readFileSync(join(dir, 'objects.jsonl'), 'utf8')}${JSON.stringify({ ...objectRec('b', 'summed', { etag: '"other"' }), checksum: undefined, delete_marker: 0 })}\n`);
    const foreign = await open();
    assert.equal((await foreign.getObject('b', 'summed'))?.checksum, null);
    // Re-seeding the credential keeps its original created_at.
    await foreign.putCredential({ access_key_id: 'off', secret_key: 's2', owner_id: 'o', display_name: '', active: true, created_at: '2030-01-01T00:00:00.000Z' });
    assert.equal((await foreign.getCredential('off'))?.created_at, '2026-01-01T00:00:00.000Z');
    await foreign.clearCommitIntent('i1');
    await foreign.close();
    const last = await open(true);
    assert.deepEqual(await last.listCommitIntents(), []);
    assert.equal((await last.getCredential('off'))?.secret_key, 's2');
    await last.close();
  });

  it('is selected by openMetadataStore as engine "local" and creates root_dir', async () => {
    const c = defaultConfig();
    c.metadata.engine = 'local';
    c.metadata.local.root_dir = dir;
    const a = await openMetadataStore(c);
    assert.ok(a.engine instanceof LocalJsonlMetadataStore);
    assert.ok(existsSync(dir));
    await a.createBucket(bucketRec('x'));
    await a.close();
    assert.equal(lines('buckets.jsonl').length, 1);
  });
});
