// One conformance suite run against every StorageBackend, plus backend-specific checks: the exact
// on-disk layout of local (spec/storage.md §2), memory snapshots (§3), sqlite tables (§4).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { defaultConfig } from '../src/config.js';
import { SqliteMetadataStore } from '../src/metadata/sqlite.js';
import { openStorage } from '../src/storage/factory.js';
import { KeyPathTooLongError } from '../src/storage/key-path.js';
import { LocalStorage } from '../src/storage/local.js';
import { MemoryStorage, StorageCapacityError } from '../src/storage/memory.js';
import { SqliteStorage, StorageEntityTooLargeError } from '../src/storage/sqlite.js';
import { StorageNotFoundError, type ReadResult, type StagedWrite, type StorageBackend } from '../src/storage/types.js';
import { patchedConfig, uniqueNamespaceId } from './servers/config-patch.js';
import { CLOUD_STORAGE_BACKENDS, peerSkip, startPeer, type PeerName } from './servers/index.js';
import type { TestPeer } from './servers/types.js';

/** Stages and commits, as the S3 layer does outside and inside its per-key critical section. */
async function committed(staged: Promise<StagedWrite>): Promise<{ size: number }> {
  const write = await staged;
  await write.commit();
  return { size: write.size };
}

interface BackendFixture {
  backend: StorageBackend;
  cleanup(): Promise<void>;
}

interface BackendFactory {
  name: string;
  /** The real server behind a cloud gateway, started once for the backend's whole suite. */
  peer?: PeerName;
  make(peer: TestPeer | undefined): Promise<BackendFixture>;
}

/** A cloud gateway on a fresh namespace (bucket prefix or container) of its running peer. */
async function cloudBackend(peer: TestPeer | undefined): Promise<BackendFixture> {
  if (!peer) throw new Error('cloud backend without a started peer');
  const backend = await openStorage(patchedConfig(await peer.namespace(uniqueNamespaceId('conf'))));
  return { backend, cleanup: () => backend.close() };
}

const BACKENDS: BackendFactory[] = [
  {
    name: 'local',
    async make() {
      const dir = await mkdtemp(join(tmpdir(), 'bleepstore-conf-'));
      const backend = new LocalStorage(join(dir, 'objects'));
      await backend.init();
      return { backend, cleanup: () => rm(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'memory',
    async make() {
      const backend = new MemoryStorage({ maxSizeBytes: 0 });
      await backend.init();
      return { backend, cleanup: async () => {} };
    },
  },
  {
    name: 'memory with snapshots',
    async make() {
      const dir = await mkdtemp(join(tmpdir(), 'bleepstore-conf-snap-'));
      const backend = new MemoryStorage({ maxSizeBytes: 0, snapshot: { path: join(dir, 'memory.snap'), intervalSeconds: 0 } });
      await backend.init();
      return {
        backend,
        async cleanup() {
          await backend.close(); // writes the final snapshot of everything the suite left behind
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'sqlite',
    async make() {
      const dir = await mkdtemp(join(tmpdir(), 'bleepstore-conf-sqlite-'));
      const backend = new SqliteStorage(join(dir, 'metadata.db'));
      await backend.init();
      return {
        backend,
        async cleanup() {
          await backend.close();
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
  },
  ...CLOUD_STORAGE_BACKENDS.map((name) => ({ name, peer: name, make: cloudBackend })),
  { name: 'aws (against s3rver)', peer: 'aws-s3rver', make: cloudBackend },
];

/** A body delivered in several chunks, like a socket would. */
function bodyOf(data: Buffer, chunkBytes = 64 * 1024): Readable {
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunkBytes) chunks.push(data.subarray(i, i + chunkBytes));
  return Readable.from(chunks, { objectMode: false });
}

/** Yields `prefix`, then fails with `err` (a client abort or a digest mismatch upstream). */
function failingBody(prefix: Buffer, err: Error): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (sent) {
        this.destroy(err);
      } else {
        sent = true;
        this.push(prefix);
      }
    },
  });
}

async function readAll(result: ReadResult): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of result.stream) chunks.push(chunk as Buffer);
  const data = Buffer.concat(chunks);
  assert.equal(data.length, result.size, 'ReadResult.size matches the bytes streamed');
  return data;
}

async function getBytes(backend: StorageBackend, bucket: string, key: string, range?: { start: number; end: number }): Promise<Buffer> {
  return readAll(await backend.getObject(bucket, key, range));
}

const HOSTILE_KEYS = [
  '..',
  '.',
  'a/../b',
  'x/../../escape',
  'photos/',
  'photos/x',
  'a//b',
  '/leading',
  '%41',
  'ünïcødé/日本語/😀.txt',
  // 1023 bytes: the longest 4-segment key (a 1024-byte key needs 5 segments of <= 255 bytes).
  ['a'.repeat(255), 'b'.repeat(255), 'c'.repeat(255), 'd'.repeat(255)].join('/'),
  ['é'.repeat(127), 'b'.repeat(255), 'c'.repeat(255), 'd'.repeat(255), 'e'].join('/'),
];

for (const { name, peer: cloud, make } of BACKENDS) {
  describe(`StorageBackend conformance: ${name}`, () => {
    let fx: BackendFixture;
    let s: StorageBackend;
    let peer: TestPeer | undefined;
    before(async () => {
      if (cloud) peer = await startPeer(cloud);
      fx = await make(peer);
      s = fx.backend;
      await s.createBucket('bkt');
    });
    after(async () => {
      await fx?.cleanup();
      await peer?.stop();
    });

    it('healthCheck passes', async () => {
      await s.healthCheck();
    });

    for (const size of [0, 1, 3 * 1024 * 1024 + 7]) {
      it(`round-trips ${size} random bytes`, async () => {
        const data = randomBytes(size);
        const key = `rt/${size}.bin`;
        assert.deepEqual(await committed(s.putObject('bkt', key, bodyOf(data))), { size });
        assert.ok((await getBytes(s, 'bkt', key)).equals(data));
      });
    }

    it('serves ranges: first byte, last byte, middle, end clamped to size', async () => {
      const data = randomBytes(1000 * 1000 + 3);
      await committed(s.putObject('bkt', 'ranged', bodyOf(data)));
      const last = data.length - 1;
      assert.ok((await getBytes(s, 'bkt', 'ranged', { start: 0, end: 0 })).equals(data.subarray(0, 1)));
      assert.ok((await getBytes(s, 'bkt', 'ranged', { start: last, end: last })).equals(data.subarray(last)));
      assert.ok((await getBytes(s, 'bkt', 'ranged', { start: 300000, end: 700001 })).equals(data.subarray(300000, 700002)));
      assert.ok((await getBytes(s, 'bkt', 'ranged', { start: 10, end: last + 500 })).equals(data.subarray(10)));
      await assert.rejects(s.getObject('bkt', 'ranged', { start: last + 1, end: last + 5 }), RangeError);
    });

    it('publishes nothing until commit, and discard leaves nothing behind', async () => {
      await committed(s.putObject('bkt', 'staged', bodyOf(Buffer.from('old'))));
      const staged = await s.putObject('bkt', 'staged', bodyOf(Buffer.from('new bytes')));
      assert.equal(staged.size, 9);
      assert.equal((await getBytes(s, 'bkt', 'staged')).toString(), 'old');
      await staged.commit();
      assert.equal((await getBytes(s, 'bkt', 'staged')).toString(), 'new bytes');
      const dropped = await s.putObject('bkt', 'staged', bodyOf(Buffer.from('dropped')));
      await dropped.discard();
      assert.equal((await getBytes(s, 'bkt', 'staged')).toString(), 'new bytes');
      const neverCommitted = await s.putObject('bkt', 'never', bodyOf(Buffer.from('x')));
      await neverCommitted.discard();
      assert.equal(await s.objectExists('bkt', 'never'), false);
    });

    it('overwrites an existing key', async () => {
      await committed(s.putObject('bkt', 'ow', bodyOf(Buffer.from('first version, longer'))));
      await committed(s.putObject('bkt', 'ow', bodyOf(Buffer.from('second'))));
      assert.equal((await getBytes(s, 'bkt', 'ow')).toString(), 'second');
    });

    it('concurrent puts of one key leave exactly one complete version', async (t) => {
      if (peerSkip(t, peer, 'atomic-overwrite')) return;
      const a = randomBytes(2 * 1024 * 1024);
      const b = randomBytes(1024 * 1024);
      await Promise.all([committed(s.putObject('bkt', 'race', bodyOf(a))), committed(s.putObject('bkt', 'race', bodyOf(b)))]);
      const got = await getBytes(s, 'bkt', 'race');
      assert.ok(got.equals(a) || got.equals(b));
    });

    it('rejects a missing object with StorageNotFoundError', async () => {
      await assert.rejects(s.getObject('bkt', 'missing'), StorageNotFoundError);
      await assert.rejects(s.getObject('nobucket', 'missing'), StorageNotFoundError);
      // "photos" is a prefix of other keys, not an object.
      await committed(s.putObject('bkt', 'dironly/x', bodyOf(Buffer.from('x'))));
      await assert.rejects(s.getObject('bkt', 'dironly'), StorageNotFoundError);
      assert.equal(await s.objectExists('bkt', 'dironly'), false);
    });

    it('objectExists and idempotent deleteObject', async () => {
      await committed(s.putObject('bkt', 'del/me', bodyOf(Buffer.from('bye'))));
      assert.equal(await s.objectExists('bkt', 'del/me'), true);
      await s.deleteObject('bkt', 'del/me');
      assert.equal(await s.objectExists('bkt', 'del/me'), false);
      await assert.rejects(s.getObject('bkt', 'del/me'), StorageNotFoundError);
      await s.deleteObject('bkt', 'del/me');
      await s.deleteObject('bkt', 'never/existed');
    });

    it('a body that errors midway rejects with that error and keeps the previous version', async () => {
      const previous = randomBytes(4096);
      await committed(s.putObject('bkt', 'atomic', bodyOf(previous)));
      const boom = new Error('digest mismatch');
      await assert.rejects(committed(s.putObject('bkt', 'atomic', failingBody(randomBytes(200 * 1024), boom))), (err) => err === boom);
      assert.ok((await getBytes(s, 'bkt', 'atomic')).equals(previous));
      // A fresh key that fails is never created.
      await assert.rejects(committed(s.putObject('bkt', 'atomic-new', failingBody(randomBytes(10), boom))), (err) => err === boom);
      assert.equal(await s.objectExists('bkt', 'atomic-new'), false);
    });

    it('a body destroyed without an error (client abort) does not commit', async () => {
      let sent = false;
      const body = new Readable({
        read() {
          if (sent) return;
          sent = true;
          this.push(Buffer.from('partial'));
          setImmediate(() => this.destroy());
        },
      });
      await assert.rejects(committed(s.putObject('bkt', 'aborted', body)));
      assert.equal(await s.objectExists('bkt', 'aborted'), false);
    });

    it('stores, overwrites, reads and assembles parts in listed order', async (t) => {
      if (peerSkip(t, peer, 'multipart-assembly')) return;
      const p1 = randomBytes(5 * 1024 * 1024);
      const p2 = randomBytes(1234);
      const p3 = randomBytes(70000);
      assert.deepEqual(await committed(s.putPart('bkt', 'mp', 'upload1', 1, bodyOf(randomBytes(99)))), { size: 99 });
      await committed(s.putPart('bkt', 'mp', 'upload1', 1, bodyOf(p1))); // overwrite
      await committed(s.putPart('bkt', 'mp', 'upload1', 2, bodyOf(p2)));
      await committed(s.putPart('bkt', 'mp', 'upload1', 3, bodyOf(p3)));
      await committed(s.putPart('bkt', 'mp', 'upload1', 10, bodyOf(randomBytes(10))));
      assert.ok((await readAll(await s.getPart('upload1', 1))).equals(p1));
      await assert.rejects(s.getPart('upload1', 4), StorageNotFoundError);

      // Part 2 and 10 are not listed, so they are excluded.
      const result = await committed(s.assembleParts('bkt', 'mp', 'upload1', [1, 3]));
      assert.deepEqual(result, { size: p1.length + p3.length });
      assert.ok((await getBytes(s, 'bkt', 'mp')).equals(Buffer.concat([p1, p3])));
      // Parts are kept until the caller deletes them.
      assert.ok((await readAll(await s.getPart('upload1', 2))).equals(p2));

      await s.deleteParts('bkt', 'mp', 'upload1');
      await assert.rejects(s.getPart('upload1', 1), StorageNotFoundError);
      await s.deleteParts('bkt', 'mp', 'upload1'); // idempotent
      assert.ok((await getBytes(s, 'bkt', 'mp')).equals(Buffer.concat([p1, p3])));
    });

    it('assembly with a missing part fails and leaves the destination untouched', async (t) => {
      if (peerSkip(t, peer, 'multipart-assembly')) return;
      await committed(s.putObject('bkt', 'mp2', bodyOf(Buffer.from('old'))));
      await committed(s.putPart('bkt', 'mp2', 'upload2', 1, bodyOf(randomBytes(100))));
      await assert.rejects(committed(s.assembleParts('bkt', 'mp2', 'upload2', [1, 2])), StorageNotFoundError);
      assert.equal((await getBytes(s, 'bkt', 'mp2')).toString(), 'old');
    });

    it('deleteUploadParts removes every part of an upload', async () => {
      await committed(s.putPart('bkt', 'k', 'upload3', 1, bodyOf(Buffer.from('a'))));
      await committed(s.putPart('bkt', 'k', 'upload3', 2, bodyOf(Buffer.from('b'))));
      await committed(s.putPart('bkt', 'k', 'upload4', 1, bodyOf(Buffer.from('other'))));
      await s.deleteUploadParts('upload3');
      await assert.rejects(s.getPart('upload3', 1), StorageNotFoundError);
      await assert.rejects(s.getPart('upload3', 2), StorageNotFoundError);
      assert.equal((await readAll(await s.getPart('upload4', 1))).toString(), 'other');
      await s.deleteUploadParts('upload3');
      await s.deleteUploadParts('never-existed');
    });

    it('round-trips hostile keys without mixing them up', async (t) => {
      if (peerSkip(t, peer, 'raw-keys')) return;
      await s.createBucket('hostile');
      for (const key of HOSTILE_KEYS) await committed(s.putObject('hostile', key, bodyOf(Buffer.from(`key:${key}`))));
      for (const key of HOSTILE_KEYS) {
        assert.equal((await getBytes(s, 'hostile', key)).toString(), `key:${key}`, JSON.stringify(key));
        assert.equal(await s.objectExists('hostile', key), true);
      }
      assert.equal(await s.objectExists('hostile', 'b'), false, '"a/../b" is not "b"');
      assert.equal(await s.objectExists('hostile', 'photos'), false, '"photos/" is not "photos"');
      for (const key of HOSTILE_KEYS) await s.deleteObject('hostile', key);
      for (const key of HOSTILE_KEYS) assert.equal(await s.objectExists('hostile', key), false);
    });

    it('createBucket / deleteBucket', async () => {
      await s.createBucket('gone');
      await s.createBucket('gone'); // idempotent
      await committed(s.putObject('gone', 'x/y', bodyOf(Buffer.from('z'))));
      await s.deleteBucket('gone');
      assert.equal(await s.objectExists('gone', 'x/y'), false);
      await s.deleteBucket('gone');
      assert.equal(await s.objectExists('bkt', 'ow'), true, 'other buckets are untouched');
    });
  });
}

describe('MemoryStorage capacity (memory only)', () => {
  it('fails a write whose net growth exceeds max_size_bytes and keeps the old data', async () => {
    const s = new MemoryStorage({ maxSizeBytes: 1000 });
    await committed(s.putObject('b', 'a', bodyOf(randomBytes(600))));
    await assert.rejects(committed(s.putObject('b', 'c', bodyOf(randomBytes(401)))), StorageCapacityError);
    assert.equal(await s.objectExists('b', 'c'), false);
    await committed(s.putObject('b', 'c', bodyOf(randomBytes(400)))); // exactly full
    assert.equal(s.usedBytes, 1000);
    await committed(s.putObject('b', 'a', bodyOf(randomBytes(500)))); // shrinking replace is net negative
    await committed(s.putObject('b', 'a', bodyOf(randomBytes(600)))); // growing back to the limit
    await assert.rejects(committed(s.putPart('b', 'k', 'u', 1, bodyOf(randomBytes(1)))), StorageCapacityError);
    await s.deleteObject('b', 'c');
    await committed(s.putPart('b', 'k', 'u', 1, bodyOf(randomBytes(200))));
    // Parts still count next to the assembled copy: 600 + 200 + 200 = 1000 fits, a second copy does not.
    await committed(s.assembleParts('b', 'k', 'u', [1]));
    await assert.rejects(committed(s.assembleParts('b', 'k2', 'u', [1])), StorageCapacityError);
    await s.deleteUploadParts('u');
    assert.equal(s.usedBytes, 800);
  });
});

// ---------------------------------------------------------------------------------------------
// LOCAL ONLY: exact on-disk layout and filesystem behaviour (spec/storage.md §2).
// ---------------------------------------------------------------------------------------------

/** Every file under dir, as "/"-separated relative paths. */
async function walkFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => !e.isDirectory())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'))
    .sort();
}

describe('LocalStorage on-disk layout (local only)', () => {
  let base: string;
  let root: string;
  let s: LocalStorage;
  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'bleepstore-local-'));
    root = join(base, 'objects');
    s = new LocalStorage(root);
    await s.init();
    await s.createBucket('bkt');
  });
  after(() => rm(base, { recursive: true, force: true }));

  it('init creates root, .tmp and .multipart', async () => {
    assert.ok((await stat(join(root, '.tmp'))).isDirectory());
    assert.ok((await stat(join(root, '.multipart'))).isDirectory());
    assert.ok((await stat(join(root, 'bkt'))).isDirectory());
  });

  it('stores an object as root/bucket/key holding exactly the bytes', async () => {
    const data = randomBytes(12345);
    await committed(s.putObject('bkt', 'dir/file.txt', bodyOf(data)));
    assert.ok((await readFile(join(root, 'bkt', 'dir', 'file.txt'))).equals(data));
  });

  it('stores parts as .multipart/{upload_id}/{n} and removes the directory on deleteParts', async () => {
    const data = randomBytes(777);
    await committed(s.putPart('bkt', 'k', 'ID', 3, bodyOf(data)));
    assert.ok((await readFile(join(root, '.multipart', 'ID', '3'))).equals(data));
    await s.deleteParts('bkt', 'k', 'ID');
    await assert.rejects(stat(join(root, '.multipart', 'ID')), { code: 'ENOENT' });
  });

  it('stores escaped segments as specified', async () => {
    await committed(s.putObject('bkt', 'folder/', bodyOf(Buffer.from('marker'))));
    await committed(s.putObject('bkt', 'folder/..', bodyOf(Buffer.from('dots'))));
    assert.equal(await readFile(join(root, 'bkt', 'folder', '%'), 'utf8'), 'marker');
    assert.equal(await readFile(join(root, 'bkt', 'folder', '%2E2E'), 'utf8'), 'dots');
  });

  it('init() removes leftover temp files', async () => {
    await writeFile(join(root, '.tmp', 'tmp-leftover'), 'junk');
    await mkdir(join(root, '.tmp', 'stray-dir'));
    await writeFile(join(root, 'bkt', 'backup.tmp.1'), 'user data named like a temp file');
    await new LocalStorage(root).init();
    assert.deepEqual(await readdir(join(root, '.tmp')), []);
    assert.equal(await readFile(join(root, 'bkt', 'backup.tmp.1'), 'utf8'), 'user data named like a temp file');
  });

  it('leaves nothing in .tmp after successful and failed puts', async () => {
    await committed(s.putObject('bkt', 'ok', bodyOf(randomBytes(100))));
    const boom = new Error('aborted');
    await assert.rejects(committed(s.putObject('bkt', 'bad', failingBody(randomBytes(300 * 1024), boom))), (e) => e === boom);
    await assert.rejects(committed(s.putPart('bkt', 'bad', 'U', 1, failingBody(randomBytes(10), boom))), (e) => e === boom);
    assert.deepEqual(await readdir(join(root, '.tmp')), []);
  });

  it('removes empty parent directories after delete, up to but not including the bucket', async () => {
    await s.createBucket('tidy');
    await committed(s.putObject('tidy', 'a/b/c/file', bodyOf(Buffer.from('1'))));
    await committed(s.putObject('tidy', 'a/keep', bodyOf(Buffer.from('2'))));
    await s.deleteObject('tidy', 'a/b/c/file');
    assert.deepEqual(await readdir(join(root, 'tidy', 'a')), ['keep']);
    await s.deleteObject('tidy', 'a/keep');
    assert.deepEqual(await readdir(join(root, 'tidy')), []);
    assert.ok((await stat(join(root, 'tidy'))).isDirectory(), 'the bucket directory stays');
  });

  it('never writes outside root/bucket, whatever the key', async () => {
    await s.createBucket('jail');
    const before = new Set(await walkFiles(root));
    // '..' is left out: as a file it would block the directory the escaping key needs.
    const keys = [...HOSTILE_KEYS.filter((k) => k !== '..'), 'nul\0byte/../x', '../../../../../../tmp/escape'];
    for (const key of keys) await committed(s.putObject('jail', key, bodyOf(Buffer.from(key))));
    assert.deepEqual(await readdir(base), ['objects']);
    const added = (await walkFiles(root)).filter((f) => !before.has(f));
    assert.equal(added.length, keys.length);
    for (const f of added) assert.ok(f.startsWith('jail/'), f);
  });

  it('a file-vs-directory key collision throws and leaves no temp file', async () => {
    await committed(s.putObject('bkt', 'clash', bodyOf(Buffer.from('file'))));
    await assert.rejects(committed(s.putObject('bkt', 'clash/child', bodyOf(Buffer.from('x')))), Error);
    await committed(s.putObject('bkt', 'tree/leaf', bodyOf(Buffer.from('leaf'))));
    await assert.rejects(committed(s.putObject('bkt', 'tree', bodyOf(Buffer.from('x')))), Error);
    assert.equal(await readFile(join(root, 'bkt', 'clash'), 'utf8'), 'file');
    assert.equal(await readFile(join(root, 'bkt', 'tree', 'leaf'), 'utf8'), 'leaf');
    assert.deepEqual(await readdir(join(root, '.tmp')), []);
  });

  it('rejects a key segment over 255 bytes with KeyPathTooLongError', async () => {
    await assert.rejects(committed(s.putObject('bkt', 'x'.repeat(256), bodyOf(Buffer.from('x')))), KeyPathTooLongError);
  });

  it('rejects unsafe upload ids', async () => {
    for (const id of ['..', '.', 'a/b', '']) {
      await assert.rejects(committed(s.putPart('bkt', 'k', id, 1, bodyOf(Buffer.from('x')))), JSON.stringify(id));
      await assert.rejects(s.deleteUploadParts(id), JSON.stringify(id));
    }
    assert.ok((await stat(root)).isDirectory(), 'root survived');
  });

  it('healthCheck fails when the root is gone', async () => {
    const gone = new LocalStorage(join(base, 'not-created'));
    await assert.rejects(gone.healthCheck());
  });
});

describe('openStorage', () => {
  it('opens and initialises local and memory backends', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bleepstore-factory-'));
    try {
      const config = defaultConfig();
      config.storage.local.root_dir = join(dir, 'objects');
      const local = await openStorage(config);
      assert.ok(local instanceof LocalStorage);
      assert.ok((await stat(join(dir, 'objects', '.tmp'))).isDirectory(), 'init() ran');

      config.storage.backend = 'memory';
      assert.ok((await openStorage(config)) instanceof MemoryStorage);

      config.storage.memory.max_size_bytes = 10;
      const small = await openStorage(config);
      await assert.rejects(small.putObject('b', 'k', bodyOf(Buffer.alloc(11))), StorageCapacityError);

    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// SQLITE ONLY: exact tables and etag column (spec/storage.md §4).
// ---------------------------------------------------------------------------------------------

/** Computed here independently of src/storage/etag.ts. */
function md5Hex(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

/** Column name, declared type, NOT NULL, primary-key position, from PRAGMA table_info. */
function columnsOf(db: Database.Database, table: string): [string, string, number, number][] {
  const rows = db.prepare(`PRAGMA table_info(${table})`).all() as { name: string; type: string; notnull: number; pk: number }[];
  return rows.map((r) => [r.name, r.type, r.notnull, r.pk]);
}

describe('SqliteStorage tables (sqlite only)', () => {
  let dir: string;
  let dbPath: string;
  let s: SqliteStorage;
  let raw: Database.Database;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bleepstore-sqlite-'));
    dbPath = join(dir, 'nested', 'metadata.db');
    s = new SqliteStorage(dbPath);
    await s.init();
    raw = new Database(dbPath, { readonly: true });
  });
  after(async () => {
    raw.close();
    await s.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('creates object_data and part_data exactly as specified, in WAL mode', () => {
    assert.deepEqual(columnsOf(raw, 'object_data'), [
      ['bucket', 'TEXT', 1, 1],
      ['key', 'TEXT', 1, 2],
      ['data', 'BLOB', 1, 0],
      ['etag', 'TEXT', 1, 0],
    ]);
    assert.deepEqual(columnsOf(raw, 'part_data'), [
      ['upload_id', 'TEXT', 1, 1],
      ['part_number', 'INTEGER', 1, 2],
      ['data', 'BLOB', 1, 0],
      ['etag', 'TEXT', 1, 0],
    ]);
    const sql = raw.prepare("SELECT sql FROM sqlite_master WHERE name = 'object_data'").pluck().get() as string;
    assert.match(sql, /^CREATE TABLE object_data \(\n    bucket TEXT NOT NULL,\n    key    TEXT NOT NULL,\n    data   BLOB NOT NULL,\n    etag   TEXT NOT NULL,\n    PRIMARY KEY \(bucket, key\)\n\)$/);
    assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
  });

  it('stores the bytes and the quoted MD5 (quoted composite "hex-N" when assembled) in etag', async () => {
    const body = randomBytes(5000);
    await committed(s.putObject('bkt', 'one', bodyOf(body, 1000)));
    const p1 = randomBytes(3000);
    const p2 = randomBytes(17);
    await committed(s.putPart('bkt', 'mp', 'U1', 1, bodyOf(p1)));
    await committed(s.putPart('bkt', 'mp', 'U1', 2, bodyOf(p2)));
    await committed(s.assembleParts('bkt', 'mp', 'U1', [1, 2]));
    await committed(s.putObject('bkt', 'empty', bodyOf(Buffer.alloc(0))));

    const object = (k: string) => raw.prepare('SELECT data, etag FROM object_data WHERE bucket=? AND key=?').get('bkt', k) as { data: Buffer; etag: string };
    assert.ok(object('one').data.equals(body));
    assert.equal(object('one').etag, `"${md5Hex(body)}"`);
    assert.equal(object('empty').etag, '"d41d8cd98f00b204e9800998ecf8427e"');
    const parts = raw.prepare('SELECT part_number, etag FROM part_data WHERE upload_id=? ORDER BY part_number').all('U1');
    assert.deepEqual(parts, [
      { part_number: 1, etag: `"${md5Hex(p1)}"` },
      { part_number: 2, etag: `"${md5Hex(p2)}"` },
    ]);
    const composite = md5Hex(Buffer.concat([Buffer.from(md5Hex(p1), 'hex'), Buffer.from(md5Hex(p2), 'hex')]));
    assert.equal(object('mp').etag, `"${composite}-2"`);
    assert.ok(object('mp').data.equals(Buffer.concat([p1, p2])));

    await s.deleteUploadParts('U1');
    assert.equal(raw.prepare('SELECT count(*) FROM part_data').pluck().get(), 0);
    await s.deleteObject('bkt', 'one');
    assert.equal(object('one'), undefined);
  });

  it('a staged write touches no row until commit', async () => {
    const staged = await s.putObject('bkt', 'pending', bodyOf(Buffer.from('x')));
    assert.equal(raw.prepare("SELECT count(*) FROM object_data WHERE key='pending'").pluck().get(), 0);
    await staged.commit();
    assert.equal(raw.prepare("SELECT count(*) FROM object_data WHERE key='pending'").pluck().get(), 1);
  });
});

describe('openStorage sqlite (sqlite only)', () => {
  it('shares the metadata database file and needs metadata.engine sqlite', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bleepstore-factory-sqlite-'));
    const config = defaultConfig();
    config.metadata.sqlite.path = join(dir, 'metadata.db');
    config.storage.backend = 'sqlite';
    const metadata = new SqliteMetadataStore(config.metadata.sqlite.path);
    try {
      await metadata.init();
      const storage = await openStorage(config);
      assert.ok(storage instanceof SqliteStorage);
      await committed(storage.putObject('b', 'k', bodyOf(Buffer.from('shared file'))));
      // Both connections work on one WAL database: the metadata connection sees the blob.
      assert.equal(metadata.db.prepare('SELECT etag FROM object_data').pluck().get(), `"${md5Hex(Buffer.from('shared file'))}"`);
      assert.ok(metadata.db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'buckets'").get(), 'metadata tables are in the same file');
      await storage.close();

      config.metadata.engine = 'memory';
      await assert.rejects(openStorage(config), /storage.backend sqlite requires metadata.engine sqlite/);
    } finally {
      await metadata.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// MEMORY SNAPSHOTS ONLY: file format, round trip, corrupt file, atomic replace (spec/storage.md §3).
// ---------------------------------------------------------------------------------------------

describe('MemoryStorage snapshots (memory only)', () => {
  let dir: string;
  let snapPath: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bleepstore-snap-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const open = async (path: string): Promise<MemoryStorage> => {
    const s = new MemoryStorage({ maxSizeBytes: 0, snapshot: { path, intervalSeconds: 0 } });
    await s.init();
    return s;
  };

  it('close() writes the spec tables; a new instance loads every object and part', async () => {
    snapPath = join(dir, 'data', 'memory.snap');
    const s = await open(snapPath);
    assert.equal(s.snapshotWarning, undefined, 'no snapshot yet is not a problem');
    const obj = randomBytes(70000);
    const p1 = randomBytes(1000);
    const p2 = randomBytes(2000);
    await committed(s.putObject('bkt', 'dir/obj', bodyOf(obj)));
    await committed(s.putObject('bkt', 'empty', bodyOf(Buffer.alloc(0))));
    await committed(s.putPart('bkt', 'mp', 'UP', 1, bodyOf(p1)));
    await committed(s.putPart('bkt', 'mp', 'UP', 2, bodyOf(p2)));
    await committed(s.assembleParts('bkt', 'mp', 'UP', [1, 2]));
    await s.close();

    const composite = md5Hex(Buffer.concat([Buffer.from(md5Hex(p1), 'hex'), Buffer.from(md5Hex(p2), 'hex')]));
    const raw = new Database(snapPath, { readonly: true });
    try {
      assert.deepEqual(columnsOf(raw, 'object_snapshots'), [
        ['bucket', 'TEXT', 1, 1],
        ['key', 'TEXT', 1, 2],
        ['data', 'BLOB', 1, 0],
        ['etag', 'TEXT', 1, 0],
      ]);
      assert.deepEqual(columnsOf(raw, 'part_snapshots'), [
        ['upload_id', 'TEXT', 1, 1],
        ['part_number', 'INTEGER', 1, 2],
        ['data', 'BLOB', 1, 0],
        ['etag', 'TEXT', 1, 0],
      ]);
      const etags = raw.prepare('SELECT key, etag FROM object_snapshots ORDER BY key').all();
      assert.deepEqual(etags, [
        { key: 'dir/obj', etag: `"${md5Hex(obj)}"` },
        { key: 'empty', etag: '"d41d8cd98f00b204e9800998ecf8427e"' },
        { key: 'mp', etag: `"${composite}-2"` },
      ]);
      assert.equal(raw.prepare('SELECT count(*) FROM part_snapshots').pluck().get(), 2);
    } finally {
      raw.close();
    }
    assert.deepEqual(await readdir(join(dir, 'data')), ['memory.snap'], 'no temp file left');

    const again = await open(snapPath);
    assert.equal(again.snapshotWarning, undefined);
    assert.ok((await getBytes(again, 'bkt', 'dir/obj')).equals(obj));
    assert.equal((await getBytes(again, 'bkt', 'empty')).length, 0);
    assert.ok((await getBytes(again, 'bkt', 'mp')).equals(Buffer.concat([p1, p2])));
    assert.ok((await readAll(await again.getPart('UP', 2))).equals(p2));
    assert.equal(again.usedBytes, obj.length + p1.length + p2.length + p1.length + p2.length);
    // Loaded etags survive the next snapshot even after the parts they came from are gone.
    await again.deleteUploadParts('UP');
    await again.close();
    const third = await open(snapPath);
    assert.equal(third.usedBytes, obj.length + p1.length + p2.length);
    await assert.rejects(third.getPart('UP', 1), StorageNotFoundError);
    const raw2 = new Database(snapPath, { readonly: true });
    try {
      assert.equal(raw2.prepare("SELECT etag FROM object_snapshots WHERE key='mp'").pluck().get(), `"${composite}-2"`);
    } finally {
      raw2.close();
    }
  });

  it('a corrupt snapshot, or one without the tables, starts empty with a warning', async () => {
    const corrupt = join(dir, 'corrupt.snap');
    await writeFile(corrupt, randomBytes(8192));
    const s = await open(corrupt);
    assert.match(s.snapshotWarning ?? '', /could not be loaded, starting empty/);
    assert.equal(s.usedBytes, 0);
    assert.equal(await s.objectExists('bkt', 'dir/obj'), false);

    const wrongTables = join(dir, 'wrong.snap');
    const db = new Database(wrongTables);
    db.exec('CREATE TABLE other (x)');
    db.close();
    const t = await open(wrongTables);
    assert.match(t.snapshotWarning ?? '', /could not be loaded/);
    // Still usable, and the next snapshot replaces the bad file with a good one.
    await committed(t.putObject('b', 'k', bodyOf(Buffer.from('fresh'))));
    await t.close();
    const u = await open(wrongTables);
    assert.equal(u.snapshotWarning, undefined);
    assert.equal((await getBytes(u, 'b', 'k')).toString(), 'fresh');
  });

  it('writes to memory.snap.tmp and renames it over the snapshot, never in place', async () => {
    const path = join(dir, 'atomic', 'memory.snap');
    const temp = join(dir, 'atomic', 'memory.snap.tmp');
    const s = await open(path);
    await committed(s.putObject('b', 'k', bodyOf(Buffer.from('v1'))));
    s.saveSnapshot();
    const firstInode = (await stat(path)).ino;

    // A temp left by a crash mid-write is neither loaded nor in the way of the next write.
    await writeFile(temp, 'half-written junk');
    const reloaded = await open(path);
    assert.equal((await getBytes(reloaded, 'b', 'k')).toString(), 'v1');

    await committed(s.putObject('b', 'k', bodyOf(Buffer.from('v2'))));
    s.saveSnapshot();
    assert.notEqual((await stat(path)).ino, firstInode, 'the snapshot file was replaced by a rename');
    assert.deepEqual(await readdir(join(dir, 'atomic')), ['memory.snap']);

    // When the temp cannot be written, the previous snapshot stays intact.
    await mkdir(temp);
    await committed(s.putObject('b', 'k', bodyOf(Buffer.from('v3'))));
    await assert.rejects(s.close());
    await rm(temp, { recursive: true });
    const afterFailure = await open(path);
    assert.equal((await getBytes(afterFailure, 'b', 'k')).toString(), 'v2');
  });

  it('openStorage honours storage.memory.persistence', async () => {
    const config = defaultConfig();
    config.storage.backend = 'memory';
    config.storage.memory.persistence = 'snapshot';
    config.storage.memory.snapshot_path = join(dir, 'factory', 'memory.snap');
    config.storage.memory.snapshot_interval_seconds = 0;
    const s = await openStorage(config);
    await committed(s.putObject('b', 'k', bodyOf(Buffer.from('persisted'))));
    await s.close();
    const again = await openStorage(config);
    assert.equal((await getBytes(again, 'b', 'k')).toString(), 'persisted');

    config.storage.memory.persistence = 'none';
    const volatile = await openStorage(config);
    assert.equal(await volatile.objectExists('b', 'k'), false);
    await volatile.close();
  });
});

describe('SqliteStorage size limit and crash recovery refs (sqlite only)', () => {
  let dir: string;
  let s: SqliteStorage;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bleepstore-sqlite-limits-'));
    s = new SqliteStorage(join(dir, 'metadata.db'), 1000);
    await s.init();
  });
  after(async () => {
    await s.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses objects, parts and assemblies above the BLOB limit with StorageEntityTooLargeError', async () => {
    await committed(s.putObject('b', 'fits', bodyOf(Buffer.alloc(1000, 1))));
    await assert.rejects(s.putObject('b', 'big', bodyOf(Buffer.alloc(1001, 1), 100)), StorageEntityTooLargeError);
    await assert.rejects(s.putPart('b', 'k', 'u1', 1, bodyOf(Buffer.alloc(1001, 1))), StorageEntityTooLargeError);
    await committed(s.putPart('b', 'k', 'u1', 1, bodyOf(Buffer.alloc(600, 1))));
    await committed(s.putPart('b', 'k', 'u1', 2, bodyOf(Buffer.alloc(600, 2))));
    await assert.rejects(s.assembleParts('b', 'k', 'u1', [1, 2]), StorageEntityTooLargeError);
    assert.equal(await s.objectExists('b', 'big'), false);
    assert.equal(await s.objectExists('b', 'k'), false);
  });

  it('answers stagedWriteCommitted from the row the write replaces', async () => {
    const staged = await s.putObject('b', 'r', bodyOf(Buffer.from('version one')));
    const ref = staged.recoveryRef ?? '';
    assert.match(ref, /^sqlite1:/);
    assert.equal(await s.stagedWriteCommitted(ref), false, 'staged, not committed');
    await staged.commit();
    assert.equal(await s.stagedWriteCommitted(ref), true, 'committed');
    await committed(s.putObject('b', 'r', bodyOf(Buffer.from('version two'))));
    assert.equal(await s.stagedWriteCommitted(ref), false, 'replaced by a later write');

    const part = await s.putPart('b', 'r', 'u2', 3, bodyOf(Buffer.from('part')));
    assert.equal(await s.stagedWriteCommitted(part.recoveryRef ?? ''), false);
    await part.commit();
    assert.equal(await s.stagedWriteCommitted(part.recoveryRef ?? ''), true);
    const assembled = await s.assembleParts('b', 'whole', 'u2', [3]);
    assert.equal(await s.stagedWriteCommitted(assembled.recoveryRef ?? ''), false);
    await assembled.commit();
    assert.equal(await s.stagedWriteCommitted(assembled.recoveryRef ?? ''), true);

    for (const foreign of ['aws1:{"k":"x","t":"y"}', 'sqlite1:not json', 'sqlite1:{}', '']) {
      assert.equal(await s.stagedWriteCommitted(foreign), false, foreign);
    }
  });
});
