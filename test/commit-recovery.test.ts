// The crash-only publish protocol (s3/publish.ts): a kill -9 between "rename into place" and
// "metadata commit" is repaired by the next start, which rolls the commit intent forward when the
// rename happened and drops it when it did not. Simulated here by stopping after each step.
//
// The same for the remote staged writes of the cloud gateways (StagedWrite.recoveryRef), each
// against its real test peer (test/servers: a second BleepStore process as the S3 target, the
// firebase-tools Storage emulator, Azurite): the state a kill -9 leaves is reproduced by committing
// the storage write and not the metadata, and the recovery pass sees only what a restart sees.
import { AbortMultipartUploadCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { Storage } from '@google-cloud/storage';
import { BlobServiceClient } from '@azure/storage-blob';
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { BackendUnavailableError } from '../src/cloud/retry.js';
import { defaultConfig } from '../src/config.js';
import { recoverCommitIntents } from '../src/infra/recovery.js';
import { createLogger } from '../src/log.js';
import { SqliteMetadataStore } from '../src/metadata/sqlite.js';
import type { CommitAction, ObjectRecord, UploadRecord } from '../src/metadata/types.js';
import { INTENT_OWNER, REMOTE_STAGED_PREFIX } from '../src/s3/publish.js';
import { AwsStorage, type AwsStorageSettings } from '../src/storage/aws.js';
import { AzureStorage } from '../src/storage/azure.js';
import type { AzureSettings } from '../src/storage/azure-client.js';
import { GcpStorage, type GcpStorageSettings } from '../src/storage/gcp.js';
import { LocalStorage } from '../src/storage/local.js';
import type { StagedWrite, StorageBackend } from '../src/storage/types.js';
import { uniqueNamespaceId } from './servers/config-patch.js';
import { GCS_TEST_BUCKET, GCS_TEST_PROJECT } from './servers/gcs-emulator.js';
import { startPeer, type CloudStorageBackend } from './servers/index.js';
import { peerClient } from './servers/s3-peer.js';
import type { ConfigPatch, TestPeer } from './servers/types.js';
import { readAll } from './storage-bodies.js';

function record(key: string, size: number, etag: string): ObjectRecord {
  return {
    bucket: 'b', key, size, etag, content_type: 'text/plain', content_encoding: null, content_language: null,
    content_disposition: null, cache_control: null, expires: null, storage_class: 'STANDARD', acl: '{}',
    user_metadata: '{}', last_modified: '2026-01-01T00:00:00.000Z', delete_marker: false, checksum: null,
  };
}

describe('commit intent recovery', () => {
  let dir: string;
  let metadata: SqliteMetadataStore;
  let storage: LocalStorage;
  const log = createLogger('error', 'text');

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bleepstore-recovery-'));
    metadata = new SqliteMetadataStore(join(dir, 'metadata.db'));
    await metadata.init();
    storage = new LocalStorage(join(dir, 'objects'));
    await storage.init();
    await metadata.createBucket({ name: 'b', region: 'us-east-1', owner_id: 'o', owner_display: 'o', acl: '{}', created_at: '2026-01-01T00:00:00.000Z' });
    await storage.createBucket('b');
    const v1 = await storage.putObject('b', 'k', Readable.from([Buffer.from('version one')]));
    await v1.commit();
    await metadata.putObject(record('k', 11, '"v1"'));
  });
  after(async () => {
    await metadata.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('rolls forward a commit whose rename happened before the crash', async () => {
    const v2 = await storage.putObject('b', 'k', Readable.from([Buffer.from('version two!')]));
    await metadata.recordCommitIntent({ id: 'i2', staged_path: v2.path ?? '', action: { kind: 'object', object: record('k', 12, '"v2"') }, created_at: '2026-01-01T00:00:01.000Z' });
    await v2.commit(); // ... and the process dies before the metadata commit
    assert.equal((await metadata.getObject('b', 'k'))?.etag, '"v1"', 'the torn state the protocol repairs');

    assert.deepEqual(await recoverCommitIntents(metadata, log), { rolledForward: 1, dropped: 0 });
    const row = await metadata.getObject('b', 'k');
    assert.equal(row?.etag, '"v2"');
    assert.equal(row?.size, 12);
    assert.equal(await readFile(join(dir, 'objects', 'b', 'k'), 'utf8'), 'version two!');
    assert.deepEqual(await metadata.listCommitIntents(), []);
  });

  it('drops a commit whose staged file was never renamed, keeping the previous version', async () => {
    const v3 = await storage.putObject('b', 'k', Readable.from([Buffer.from('version three')]));
    await metadata.recordCommitIntent({ id: 'i3', staged_path: v3.path ?? '', action: { kind: 'object', object: record('k', 13, '"v3"') }, created_at: '2026-01-01T00:00:02.000Z' });
    // ... the process dies before the rename.
    assert.deepEqual(await recoverCommitIntents(metadata, log), { rolledForward: 0, dropped: 1 });
    assert.equal((await metadata.getObject('b', 'k'))?.etag, '"v2"');
    assert.equal(await readFile(join(dir, 'objects', 'b', 'k'), 'utf8'), 'version two!');
    assert.deepEqual(await metadata.listCommitIntents(), []);
    await storage.init(); // the rest of startup: the unrenamed temp file goes
    assert.equal(existsSync(v3.path ?? ''), false);
  });

  it("recovers this host's intents and legacy ones, and leaves another host's untouched", async () => {
    const otherHost = '0'.repeat(12);
    assert.notEqual(INTENT_OWNER, otherHost);
    const intent = async (id: string, key: string, body: string, renamed: boolean): Promise<void> => {
      const write = await storage.putObject('b', key, Readable.from([Buffer.from(body)]));
      await metadata.recordCommitIntent({ id, staged_path: write.path ?? '', action: { kind: 'object', object: record(key, body.length, `"${body}"`) }, created_at: new Date().toISOString() });
      if (renamed) await write.commit(); // ... and the process dies before the metadata commit
    };
    const foreign = [`${otherHost}.${randomUUID()}`, `${otherHost}.${randomUUID()}`];
    await intent(foreign[0]!, 'theirs', 'renamed by the other host', true);
    await intent(foreign[1]!, 'theirs-too', 'staged by the other host', false);
    await intent(`${INTENT_OWNER}.${randomUUID()}`, 'mine', 'renamed here', true);
    await intent('legacy', 'legacy', 'staged before owners existed', false);

    assert.deepEqual(await recoverCommitIntents(metadata, log), { rolledForward: 1, dropped: 1 });
    assert.equal((await metadata.getObject('b', 'mine'))?.etag, '"renamed here"', 'own intent rolled forward');
    assert.equal(await metadata.getObject('b', 'legacy'), null, 'legacy intent dropped');
    assert.equal(await metadata.getObject('b', 'theirs'), null, "another host's intent is not applied");
    assert.deepEqual((await metadata.listCommitIntents()).map((i) => i.id).sort(), [...foreign].sort(), "another host's intents are not cleared");
    for (const id of foreign) await metadata.clearCommitIntent(id);
  });

  it('keeps the intent and fails the start while the metadata store is unavailable', async () => {
    // What a cloud engine throws once its retries run out (e.g. a dead node's locks, an outage).
    class UnavailableOnWrite extends SqliteMetadataStore {
      down = true;
      override async putObject(obj: ObjectRecord): Promise<void> {
        if (this.down) throw new BackendUnavailableError('test-store', false, new Error('connection refused'));
        await super.putObject(obj);
      }
    }
    const flaky = new UnavailableOnWrite(join(dir, 'metadata.db'));
    await flaky.init();
    try {
      const v4 = await storage.putObject('b', 'k', Readable.from([Buffer.from('version four')]));
      const id = `${INTENT_OWNER}.${randomUUID()}`;
      await flaky.recordCommitIntent({ id, staged_path: v4.path ?? '', action: { kind: 'object', object: record('k', 12, '"v4"') }, created_at: new Date().toISOString() });
      await v4.commit(); // ... and the process dies before the metadata commit

      await assert.rejects(recoverCommitIntents(flaky, log), BackendUnavailableError);
      assert.deepEqual((await flaky.listCommitIntents()).map((i) => i.id), [id], 'the intent stays for the next start');

      flaky.down = false; // the next start, with the store back
      assert.deepEqual(await recoverCommitIntents(flaky, log), { rolledForward: 1, dropped: 0 });
      assert.equal((await flaky.getObject('b', 'k'))?.etag, '"v4"');
      assert.deepEqual(await flaky.listCommitIntents(), []);
    } finally {
      await flaky.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Remote staged writes: one suite, run against each cloud gateway and its test peer.
// ---------------------------------------------------------------------------------------------

const KiB = 1024;
const MiB = 1024 * KiB;

/** The staged writes the suite makes; a gateway stages some of them on the target until commit. */
type WriteKind = 'small' | 'large' | 'part' | 'assembly';

/** A gateway opened on a fresh namespace of its peer, with a view of the target behind it. */
interface OpenedGateway {
  storage: StorageBackend;
  /** Staged bytes on the target that nothing published references: what recovery must not leave behind. */
  leftovers(): Promise<string[]>;
  /** Removes every staging without publishing it, as a lifecycle rule or a startup sweep would. */
  sweepStaging(): Promise<void>;
  /** The backing name of object `key` of bucket 'b'. */
  backingName(key: string): string;
  close(): Promise<void>;
}

interface GatewayFixture {
  name: CloudStorageBackend;
  /** The version prefix of the gateway's recoveryRefs. */
  refVersion: string;
  /** Refs are stored in every commit intent: they stay short. */
  maxRefLength: number;
  /** A body above the gateway's single-request bound, so that it is staged on the target. */
  largeBytes: number;
  assemblyPartSizes: number[];
  /** The writes that show in leftovers() while staged (the others are held, or invisible until commit). */
  stagedOnTarget: readonly WriteKind[];
  /** Refs of the gateway's own version that name no write of it: a wrong token, a damaged ref, a leftover naming an object. */
  damagedRefs(gateway: OpenedGateway): string[];
  open(patch: ConfigPatch): Promise<OpenedGateway>;
}

/** Every gateway's ref shape, each foreign to the other gateways. */
const GATEWAY_REFS = ['aws1:{"k":"b/small","t":"token"}', 'gcs1:{"k":"b/small","t":"token"}', `az1:{"b":"b/small","w":"${'f'.repeat(32)}"}`];

const GATEWAYS: GatewayFixture[] = [
  {
    name: 'aws',
    refVersion: 'aws1:',
    maxRefLength: 160,
    // Above the gateway's 8 MiB single-PutObject bound: staged as a native multipart upload.
    largeBytes: 9 * MiB,
    assemblyPartSizes: [1000, 2000],
    stagedOnTarget: ['large', 'assembly'],
    damagedRefs: ({ backingName }) => [
      `aws1:${JSON.stringify({ k: backingName('small'), t: 'x' })}`,
      `aws1:${JSON.stringify({ k: backingName('small'), t: 'x', u: 'no-such-upload' })}`,
      `aws1:${JSON.stringify({ k: backingName('small') })}`,
      'aws1:{"k":"b/small"',
    ],
    async open(patch) {
      const settings = { ...defaultConfig().storage.aws, ...patch.storage?.aws } as AwsStorageSettings;
      const storage = new AwsStorage(settings);
      await storage.init();
      const target = peerClient(settings.endpoint_url, settings.access_key_id, settings.secret_access_key);
      const openUploads = async (): Promise<{ Key?: string; UploadId?: string }[]> => (await target.send(new ListMultipartUploadsCommand({ Bucket: settings.bucket }))).Uploads ?? [];
      return {
        storage,
        leftovers: async () => (await openUploads()).map((u) => `upload ${u.UploadId} of ${u.Key}`),
        async sweepStaging() {
          for (const u of await openUploads()) await target.send(new AbortMultipartUploadCommand({ Bucket: settings.bucket, Key: u.Key, UploadId: u.UploadId }));
        },
        backingName: (key) => `${settings.prefix}b/${key}`,
        async close() {
          target.destroy();
          await storage.close();
        },
      };
    },
  },
  {
    name: 'gcp',
    refVersion: 'gcs1:',
    maxRefLength: 200,
    largeBytes: 3 * MiB + 5,
    // The emulator has no compose, so the assembly is of one part (a copy); compose is covered by
    // the recording fake in gcp-storage.test.ts.
    assemblyPartSizes: [1000],
    stagedOnTarget: ['small', 'large', 'part', 'assembly'],
    damagedRefs: ({ backingName }) => [
      `gcs1:${JSON.stringify({ k: backingName('small'), t: 'x' })}`,
      `gcs1:${JSON.stringify({ k: backingName('small'), t: 'x', s: backingName('large') })}`,
      `gcs1:${JSON.stringify({ k: backingName('small'), t: '' })}`,
      'gcs1:{"k":"b/small"',
    ],
    async open(patch) {
      const settings = { ...defaultConfig().storage.gcp, ...patch.storage?.gcp } as GcpStorageSettings;
      const storage = new GcpStorage(settings);
      await storage.init();
      const bucket = new Storage({ projectId: GCS_TEST_PROJECT }).bucket(GCS_TEST_BUCKET);
      const temps = async (): Promise<string[]> => (await bucket.getFiles({ prefix: `${settings.prefix}.tmp/` }))[0].map((f) => f.name);
      return {
        storage,
        leftovers: temps,
        async sweepStaging() {
          for (const name of await temps()) await bucket.file(name).delete();
        },
        backingName: (key) => `${settings.prefix}b/${key}`,
        close: () => storage.close(),
      };
    },
  },
  {
    name: 'azure',
    refVersion: 'az1:',
    maxRefLength: 200,
    // Small blocks (below), so that this takes the large path: a staging blob, copied in 256 KiB blocks.
    largeBytes: 600 * KiB,
    assemblyPartSizes: [100 * KiB, 300 * KiB],
    stagedOnTarget: ['large', 'part'],
    damagedRefs: ({ backingName }) => {
      const writeId = 'f'.repeat(32);
      return [
        'az1:{"b":"b/small"',
        `az1:${JSON.stringify({ b: backingName('small'), w: 'not-a-write-id' })}`,
        `az1:${JSON.stringify({ b: backingName('small'), w: writeId, x: backingName('small') })}`,
        `az1:${JSON.stringify({ b: backingName('other'), w: writeId, x: backingName('large') })}`,
      ];
    },
    async open(patch) {
      const settings = { ...defaultConfig().storage.azure, ...patch.storage?.azure } as AzureSettings;
      const storage = new AzureStorage(settings, { blockBytes: 64 * KiB, copyBlockBytes: 256 * KiB });
      await storage.init();
      const container = BlobServiceClient.fromConnectionString(settings.connection_string).getContainerClient(settings.container);
      /** Staging blobs, and part data blobs that their part's pointer does not name. */
      const leftovers = async (): Promise<string[]> => {
        const found: string[] = [];
        for await (const item of container.listBlobsFlat({ prefix: `${settings.prefix}.staging/` })) found.push(item.name);
        const writeIdOf = new Map<string, string | undefined>();
        const partData: { name: string; pointer: string; writeId: string }[] = [];
        for await (const item of container.listBlobsFlat({ prefix: `${settings.prefix}.parts/`, includeMetadata: true })) {
          writeIdOf.set(item.name, item.metadata?.['writeid']);
          const data = /^(.*)\.([0-9a-f]{32})$/.exec(item.name);
          if (data) partData.push({ name: item.name, pointer: data[1]!, writeId: data[2]! });
        }
        for (const { name, pointer, writeId } of partData) if (writeIdOf.get(pointer) !== writeId) found.push(name);
        return found.sort();
      };
      return {
        storage,
        leftovers,
        async sweepStaging() {
          for (const name of await leftovers()) await container.getBlockBlobClient(name).delete();
        },
        backingName: (key) => `${settings.prefix}b/${key}`,
        close: () => storage.close(),
      };
    },
  },
];

for (const fx of GATEWAYS) {
  describe(`commit intent recovery: remote staged writes (${fx.name} gateway)`, () => {
    const TEST = { timeout: 120_000 };
    let dir: string;
    let metadata: SqliteMetadataStore;
    let peer: TestPeer | undefined;
    let gateway: OpenedGateway;
    let storage: StorageBackend;
    const log = createLogger('error', 'text');

    const uploadRow = (uploadId: string, key: string): UploadRecord => ({
      upload_id: uploadId, bucket: 'b', key, content_type: 'text/plain', content_encoding: null, content_language: null, content_disposition: null,
      cache_control: null, expires: null, storage_class: 'STANDARD', acl: '{}', user_metadata: '{}', owner_id: 'o', owner_display: 'o', initiated_at: '2026-01-01T00:00:00.000Z',
    });

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), `bleepstore-${fx.name}-recovery-`));
      metadata = new SqliteMetadataStore(join(dir, 'metadata.db'));
      await metadata.init();
      await metadata.createBucket({ name: 'b', region: 'us-east-1', owner_id: 'o', owner_display: 'o', acl: '{}', created_at: '2026-01-01T00:00:00.000Z' });
      await metadata.createMultipartUpload(uploadRow('UP1', 'assembled'));
      await metadata.createMultipartUpload(uploadRow('UP2', 'parted'));
      peer = await startPeer(fx.name);
      gateway = await fx.open(await peer.namespace(uniqueNamespaceId('recovery')));
      storage = gateway.storage;
    });
    after(async () => {
      await gateway?.close();
      await peer?.stop();
      await metadata?.close();
      await rm(dir, { recursive: true, force: true });
    });

    const etagOf = (data: Buffer): string => `"${createHash('md5').update(data).digest('hex')}"`;
    const objectAction = (key: string, data: Buffer): CommitAction => ({ kind: 'object', object: record(key, data.length, etagOf(data)) });
    const partAction = (uploadId: string, partNumber: number, data: Buffer): CommitAction => ({ kind: 'part', uploadId, partNumber, size: data.length, etag: etagOf(data), checksum: null });
    const stagedCount = (kinds: readonly WriteKind[]): number => kinds.filter((k) => fx.stagedOnTarget.includes(k)).length;

    /** Step 1 of publish.ts: the intent, exactly as publish() records it. */
    async function recordIntent(write: StagedWrite, action: CommitAction): Promise<void> {
      const ref = write.recoveryRef ?? '';
      assert.ok(ref.startsWith(`${fx.refVersion}{`), `a remote staged write carries a versioned recoveryRef: ${ref}`);
      assert.ok(ref.length < fx.maxRefLength, `short: ${ref}`);
      await metadata.recordCommitIntent({ id: randomUUID(), staged_path: REMOTE_STAGED_PREFIX + ref, action, created_at: new Date().toISOString() });
    }

    /** Whole, uninterrupted publishes (storage commit, then metadata). */
    async function published(key: string, data: Buffer): Promise<void> {
      await (await storage.putObject('b', key, Readable.from([data]))).commit();
      await metadata.putObject(record(key, data.length, etagOf(data)));
    }
    async function publishedPart(uploadId: string, key: string, partNumber: number, data: Buffer): Promise<void> {
      await (await storage.putPart('b', key, uploadId, partNumber, Readable.from([data]))).commit();
      await metadata.putPart(uploadId, partNumber, data.length, etagOf(data));
    }

    /** The row and the stored bytes agree, and are `data`. */
    async function assertConsistent(key: string, data: Buffer): Promise<void> {
      const row = await metadata.getObject('b', key);
      assert.equal(row?.etag, etagOf(data), `row of ${key}`);
      assert.equal(row?.size, data.length);
      assert.ok((await readAll(await storage.getObject('b', key))).equals(data), `bytes of ${key}`);
    }

    /** Part 1 of UP2: row and stored bytes agree, and are `data`. */
    async function assertPartConsistent(data: Buffer): Promise<void> {
      const [row] = (await metadata.listParts('UP2', 0, 10)).parts;
      assert.equal(row?.etag, etagOf(data), 'part row');
      assert.equal(row?.size, data.length);
      assert.ok((await readAll(await storage.getPart('UP2', 1))).equals(data), 'part bytes');
    }

    it('rolls forward small, large, part and assembled writes whose storage commit happened before the crash', TEST, async () => {
      await published('small', Buffer.from('old small'));
      await published('large', Buffer.from('old large'));
      await published('assembled', Buffer.from('old assembled'));
      await publishedPart('UP2', 'parted', 1, Buffer.from('old part'));
      const parts = fx.assemblyPartSizes.map((n) => randomBytes(n));
      for (const [i, data] of parts.entries()) await publishedPart('UP1', 'assembled', i + 1, data);

      const small = Buffer.from('new small body');
      const large = randomBytes(fx.largeBytes);
      const part = randomBytes(200 * KiB);
      const assembled = Buffer.concat(parts);
      const assemblyEtag = `"assembled-${parts.length}"`;
      const smallWrite = await storage.putObject('b', 'small', Readable.from([small]));
      await recordIntent(smallWrite, objectAction('small', small));
      const largeWrite = await storage.putObject('b', 'large', Readable.from([large]));
      await recordIntent(largeWrite, objectAction('large', large));
      const partWrite = await storage.putPart('b', 'parted', 'UP2', 1, Readable.from([part]));
      await recordIntent(partWrite, partAction('UP2', 1, part));
      const assembleWrite = await storage.assembleParts('b', 'assembled', 'UP1', parts.map((_, i) => i + 1));
      await recordIntent(assembleWrite, { kind: 'complete', bucket: 'b', key: 'assembled', uploadId: 'UP1', object: record('assembled', assembled.length, assemblyEtag) });
      assert.equal((await gateway.leftovers()).length, stagedCount(['small', 'large', 'part', 'assembly']), `staged on the target: ${fx.stagedOnTarget.join(', ')}`);
      for (const w of [smallWrite, largeWrite, partWrite, assembleWrite]) await w.commit(); // ... and the process dies before the metadata commits
      assert.equal((await metadata.getObject('b', 'large'))?.etag, etagOf(Buffer.from('old large')), 'the torn state the protocol repairs');

      assert.deepEqual(await recoverCommitIntents(metadata, log, storage), { rolledForward: 4, dropped: 0 });
      await assertConsistent('small', small);
      await assertConsistent('large', large);
      await assertPartConsistent(part);
      assert.equal((await metadata.getObject('b', 'assembled'))?.etag, assemblyEtag);
      assert.ok((await readAll(await storage.getObject('b', 'assembled'))).equals(assembled));
      assert.equal(await metadata.getMultipartUpload('b', 'assembled', 'UP1'), null, 'the completion was rolled forward');
      assert.deepEqual(await metadata.listCommitIntents(), []);
      assert.deepEqual(await gateway.leftovers(), []);
    });

    it('drops writes staged but never committed: old versions stay, staged bytes are removed', TEST, async () => {
      const kept = { small: Buffer.from('kept small'), large: Buffer.from('kept large'), part: Buffer.from('kept part') };
      await published('small', kept.small);
      await published('large', kept.large);
      await publishedPart('UP2', 'parted', 1, kept.part);
      const small = Buffer.from('never published');
      const large = randomBytes(fx.largeBytes);
      const part = randomBytes(50 * KiB);
      await recordIntent(await storage.putObject('b', 'small', Readable.from([small])), objectAction('small', small));
      await recordIntent(await storage.putObject('b', 'large', Readable.from([large])), objectAction('large', large));
      await recordIntent(await storage.putPart('b', 'parted', 'UP2', 1, Readable.from([part])), partAction('UP2', 1, part));
      // ... the process dies before commit(): what the writes staged on the target is still there.
      assert.equal((await gateway.leftovers()).length, stagedCount(['small', 'large', 'part']));

      assert.deepEqual(await recoverCommitIntents(metadata, log, storage), { rolledForward: 0, dropped: 3 });
      await assertConsistent('small', kept.small);
      await assertConsistent('large', kept.large);
      await assertPartConsistent(kept.part);
      assert.deepEqual(await gateway.leftovers(), [], 'the staged bytes are removed');
      assert.deepEqual(await metadata.listCommitIntents(), []);
    });

    it('a staging that vanished without a commit (a lifecycle rule, a sweep) is not taken for a commit', TEST, async () => {
      const kept = Buffer.from('kept large');
      await published('large', kept);
      const large = randomBytes(fx.largeBytes);
      await recordIntent(await storage.putObject('b', 'large', Readable.from([large])), objectAction('large', large));
      assert.equal((await gateway.leftovers()).length, 1);
      await gateway.sweepStaging();

      assert.deepEqual(await recoverCommitIntents(metadata, log, storage), { rolledForward: 0, dropped: 1 });
      await assertConsistent('large', kept);
      assert.deepEqual(await gateway.leftovers(), []);
    });

    it('an intent whose key was published again since (recovery retried on a later start) is dropped', TEST, async () => {
      const stale = { small: Buffer.from('committed, then overwritten'), large: randomBytes(fx.largeBytes) };
      const newest = { small: Buffer.from('the newest small'), large: Buffer.from('the newest large') };
      for (const key of ['small', 'large'] as const) {
        const write = await storage.putObject('b', key, Readable.from([stale[key]]));
        await recordIntent(write, objectAction(key, stale[key]));
        await write.commit();
        await published(key, newest[key]);
      }

      assert.deepEqual(await recoverCommitIntents(metadata, log, storage), { rolledForward: 0, dropped: 2 });
      await assertConsistent('small', newest.small);
      await assertConsistent('large', newest.large);
    });

    it('file-path intents and storage intents are each left to their own pass', TEST, async () => {
      const kept = Buffer.from('kept small');
      await published('small', kept);
      const stagedFile = join(dir, 'staged-not-renamed');
      await writeFile(stagedFile, 'x');
      await metadata.recordCommitIntent({ id: 'file-intent', staged_path: stagedFile, action: objectAction('small', Buffer.from('x')), created_at: new Date().toISOString() });
      const remote = Buffer.from('remote, never committed');
      await recordIntent(await storage.putObject('b', 'small', Readable.from([remote])), objectAction('small', remote));

      assert.deepEqual(await recoverCommitIntents(metadata, log, storage), { rolledForward: 0, dropped: 1 });
      assert.deepEqual((await metadata.listCommitIntents()).map((i) => i.id), ['file-intent'], 'the storage pass leaves the file intent');

      await recordIntent(await storage.putObject('b', 'small', Readable.from([remote])), objectAction('small', remote));
      assert.deepEqual(await recoverCommitIntents(metadata, log), { rolledForward: 0, dropped: 1 });
      const left = await metadata.listCommitIntents();
      assert.equal(left.length, 1);
      assert.ok(left[0]?.staged_path.startsWith(REMOTE_STAGED_PREFIX), 'the file pass leaves the storage intent');
      assert.deepEqual(await recoverCommitIntents(metadata, log, storage), { rolledForward: 0, dropped: 1 });
      await assertConsistent('small', kept);
    });

    it("another backend's ref (a configuration change) or a damaged one is not taken for a commit and deletes nothing", TEST, async () => {
      const kept = { small: Buffer.from('kept small'), large: Buffer.from('kept large') };
      await published('small', kept.small);
      await published('large', kept.large);
      const refs = [...GATEWAY_REFS.filter((ref) => !ref.startsWith(fx.refVersion)), ...fx.damagedRefs(gateway)];
      for (const ref of refs) assert.equal(await storage.stagedWriteCommitted?.(ref), false, ref);
      for (const ref of refs) {
        await metadata.recordCommitIntent({ id: randomUUID(), staged_path: REMOTE_STAGED_PREFIX + ref, action: objectAction('small', Buffer.from('foreign')), created_at: new Date().toISOString() });
      }

      assert.deepEqual(await recoverCommitIntents(metadata, log, storage), { rolledForward: 0, dropped: refs.length });
      await assertConsistent('small', kept.small);
      await assertConsistent('large', kept.large);
      assert.deepEqual(await metadata.listCommitIntents(), []);
    });
  });
}
