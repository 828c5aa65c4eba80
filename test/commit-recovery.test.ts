// The crash-only publish protocol (s3/publish.ts): a kill -9 between "rename into place" and
// "metadata commit" is repaired by the next start, which rolls the commit intent forward when the
// rename happened and drops it when it did not. Simulated here by stopping after each step.
//
// The same for the remote staged writes of the AWS gateway (StagedWrite.recoveryRef): a second
// BleepStore process is the S3 target, the state a kill -9 leaves is reproduced by committing the
// storage write and not the metadata, and the recovery pass sees only what a restart sees.
// Likewise for the GCS gateway against the firebase-tools Storage emulator.
// Likewise for the Azure gateway against Azurite.
import { AbortMultipartUploadCommand, ListMultipartUploadsCommand, type S3Client } from '@aws-sdk/client-s3';
import { Storage } from '@google-cloud/storage';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { defaultConfig } from '../src/config.js';
import { recoverCommitIntents } from '../src/infra/recovery.js';
import { createLogger } from '../src/log.js';
import { SqliteMetadataStore } from '../src/metadata/sqlite.js';
import type { CommitAction, ObjectRecord, UploadRecord } from '../src/metadata/types.js';
import { REMOTE_STAGED_PREFIX } from '../src/s3/publish.js';
import { AwsStorage, type AwsStorageSettings } from '../src/storage/aws.js';
import { AzureStorage } from '../src/storage/azure.js';
import type { AzureSettings } from '../src/storage/azure-client.js';
import { GcpStorage, type GcpStorageSettings } from '../src/storage/gcp.js';
import { LocalStorage } from '../src/storage/local.js';
import type { ReadResult, StagedWrite } from '../src/storage/types.js';
import { start as startAzurite } from './servers/azurite.js';
import { uniqueNamespaceId } from './servers/config-patch.js';
import { GCS_TEST_BUCKET, GCS_TEST_PROJECT, start as startGcsEmulator } from './servers/gcs-emulator.js';
import { peerClient, start as startS3Peer } from './servers/s3-peer.js';
import type { TestPeer } from './servers/types.js';

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
});

describe('commit intent recovery: remote staged writes (aws gateway)', () => {
  const MiB = 1024 * 1024;
  const TEST = { timeout: 120_000 };
  /** Above the gateway's 8 MiB single-PutObject bound: staged as a native multipart upload. */
  const LARGE = 9 * MiB;
  let dir: string;
  let metadata: SqliteMetadataStore;
  let peer: TestPeer;
  let settings: AwsStorageSettings;
  let storage: AwsStorage;
  let target: S3Client;
  const log = createLogger('error', 'text');

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bleepstore-remote-recovery-'));
    metadata = new SqliteMetadataStore(join(dir, 'metadata.db'));
    await metadata.init();
    await metadata.createBucket({ name: 'b', region: 'us-east-1', owner_id: 'o', owner_display: 'o', acl: '{}', created_at: '2026-01-01T00:00:00.000Z' });
    peer = await startS3Peer();
    const patch = await peer.namespace(uniqueNamespaceId('recovery'));
    settings = { ...defaultConfig().storage.aws, ...patch.storage?.aws } as AwsStorageSettings;
    storage = new AwsStorage(settings);
    await storage.init();
    target = peerClient(settings.endpoint_url, settings.access_key_id, settings.secret_access_key);
  });
  after(async () => {
    target?.destroy();
    await storage?.close();
    await peer?.stop();
    await metadata?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const etagOf = (data: Buffer): string => `"${createHash('md5').update(data).digest('hex')}"`;
  const objectAction = (key: string, data: Buffer): CommitAction => ({ kind: 'object', object: record(key, data.length, etagOf(data)) });

  /** Step 1 of publish.ts: the intent, exactly as publish() records it. */
  async function recordIntent(write: StagedWrite, action: CommitAction): Promise<void> {
    assert.ok(write.recoveryRef !== undefined, 'a remote staged write carries a recoveryRef');
    await metadata.recordCommitIntent({ id: randomUUID(), staged_path: REMOTE_STAGED_PREFIX + write.recoveryRef, action, created_at: new Date().toISOString() });
  }

  /** A whole, uninterrupted publish (storage commit, then metadata). */
  async function published(key: string, data: Buffer): Promise<void> {
    await (await storage.putObject('b', key, Readable.from([data]))).commit();
    await metadata.putObject(record(key, data.length, etagOf(data)));
  }

  async function storedBytes(key: string): Promise<Buffer> {
    const read = await storage.getObject('b', key);
    const chunks: Buffer[] = [];
    for await (const chunk of read.stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  /** The row and the stored bytes agree, and are `data`. */
  async function assertConsistent(key: string, data: Buffer): Promise<void> {
    const row = await metadata.getObject('b', key);
    assert.equal(row?.etag, etagOf(data), `row of ${key}`);
    assert.equal(row?.size, data.length);
    assert.ok((await storedBytes(key)).equals(data), `bytes of ${key}`);
  }

  async function openUploads(): Promise<{ Key?: string; UploadId?: string }[]> {
    return (await target.send(new ListMultipartUploadsCommand({ Bucket: settings.bucket }))).Uploads ?? [];
  }

  it('rolls forward small, large and assembled writes whose storage commit happened before the crash', TEST, async () => {
    await published('small', Buffer.from('old small'));
    await published('large', Buffer.from('old large'));
    await published('assembled', Buffer.from('old assembled'));

    const small = Buffer.from('new small body');
    const large = randomBytes(LARGE);
    const parts = [randomBytes(1000), randomBytes(2000)];
    const assembled = Buffer.concat(parts);
    await metadata.createMultipartUpload({
      upload_id: 'UP1', bucket: 'b', key: 'assembled', content_type: 'text/plain', content_encoding: null, content_language: null, content_disposition: null,
      cache_control: null, expires: null, storage_class: 'STANDARD', acl: '{}', user_metadata: '{}', owner_id: 'o', owner_display: 'o', initiated_at: '2026-01-01T00:00:00.000Z',
    });
    for (const [i, data] of parts.entries()) {
      await (await storage.putPart('b', 'assembled', 'UP1', i + 1, Readable.from([data]))).commit();
      await metadata.putPart('UP1', i + 1, data.length, etagOf(data));
    }

    const writes: StagedWrite[] = [];
    const smallWrite = await storage.putObject('b', 'small', Readable.from([small]));
    await recordIntent(smallWrite, objectAction('small', small));
    const largeWrite = await storage.putObject('b', 'large', Readable.from([large]));
    await recordIntent(largeWrite, objectAction('large', large));
    const assembleWrite = await storage.assembleParts('b', 'assembled', 'UP1', [1, 2]);
    await recordIntent(assembleWrite, { kind: 'complete', bucket: 'b', key: 'assembled', uploadId: 'UP1', object: record('assembled', assembled.length, '"assembled-2"') });
    writes.push(smallWrite, largeWrite, assembleWrite);
    for (const w of writes) {
      assert.match(w.recoveryRef ?? '', /^aws1:\{/, 'versioned');
      assert.ok((w.recoveryRef ?? '').length < 160, `short: ${w.recoveryRef}`);
    }
    assert.equal((await openUploads()).length, 2, 'the large body and the assembly are staged as multipart uploads');
    for (const w of writes) await w.commit(); // ... and the process dies before the metadata commits
    assert.equal((await metadata.getObject('b', 'large'))?.etag, etagOf(Buffer.from('old large')), 'the torn state the protocol repairs');

    assert.deepEqual(await recoverCommitIntents(metadata, log, storage), { rolledForward: 3, dropped: 0 });
    await assertConsistent('small', small);
    await assertConsistent('large', large);
    const row = await metadata.getObject('b', 'assembled');
    assert.equal(row?.etag, '"assembled-2"');
    assert.ok((await storedBytes('assembled')).equals(assembled));
    assert.equal(await metadata.getMultipartUpload('b', 'assembled', 'UP1'), null, 'the completion was rolled forward');
    assert.deepEqual(await metadata.listCommitIntents(), []);
    assert.deepEqual(await openUploads(), []);
  });

  it('drops writes staged but never committed: the old version stays and no multipart upload is left', TEST, async () => {
    const small = Buffer.from('never published');
    const large = randomBytes(LARGE);
    await recordIntent(await storage.putObject('b', 'small', Readable.from([small])), objectAction('small', small));
    await recordIntent(await storage.putObject('b', 'large', Readable.from([large])), objectAction('large', large));
    // ... the process dies before commit(): the large body's upload is still open on the target.
    assert.equal((await openUploads()).length, 1);

    assert.deepEqual(await recoverCommitIntents(metadata, log, storage), { rolledForward: 0, dropped: 2 });
    await assertConsistent('small', Buffer.from('new small body'));
    assert.equal((await metadata.getObject('b', 'large'))?.size, LARGE, 'the version of the previous test');
    assert.deepEqual(await openUploads(), [], 'the dangling multipart upload was aborted');
    assert.deepEqual(await metadata.listCommitIntents(), []);
  });

  it('an upload that vanished without completing (aborted by a lifecycle rule) is not taken for a commit', TEST, async () => {
    const before = await storedBytes('large');
    const large = randomBytes(LARGE);
    await recordIntent(await storage.putObject('b', 'large', Readable.from([large])), objectAction('large', large));
    const [upload] = await openUploads();
    await target.send(new AbortMultipartUploadCommand({ Bucket: settings.bucket, Key: upload?.Key, UploadId: upload?.UploadId }));

    assert.deepEqual(await recoverCommitIntents(metadata, log, storage), { rolledForward: 0, dropped: 1 });
    await assertConsistent('large', before);
  });

  it('an intent whose key was published again since (recovery retried on a later start) is dropped', TEST, async () => {
    const stale = Buffer.from('committed, then overwritten');
    const write = await storage.putObject('b', 'small', Readable.from([stale]));
    await recordIntent(write, objectAction('small', stale));
    await write.commit();
    await published('small', Buffer.from('the newest version'));

    assert.deepEqual(await recoverCommitIntents(metadata, log, storage), { rolledForward: 0, dropped: 1 });
    await assertConsistent('small', Buffer.from('the newest version'));
  });

  it('file-path intents and storage intents are each left to their own pass', TEST, async () => {
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
    await assertConsistent('small', Buffer.from('the newest version'));
  });
});

describe('commit intent recovery: remote staged writes (gcp gateway)', () => {
  const MiB = 1024 * 1024;
  const TEST = { timeout: 120_000 };
  let dir: string;
  let metadata: SqliteMetadataStore;
  let peer: TestPeer;
  let settings: GcpStorageSettings;
  let storage: GcpStorage;
  let raw: Storage;
  const log = createLogger('error', 'text');

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bleepstore-gcs-recovery-'));
    metadata = new SqliteMetadataStore(join(dir, 'metadata.db'));
    await metadata.init();
    await metadata.createBucket({ name: 'b', region: 'us-east-1', owner_id: 'o', owner_display: 'o', acl: '{}', created_at: '2026-01-01T00:00:00.000Z' });
    peer = await startGcsEmulator();
    const patch = await peer.namespace(uniqueNamespaceId('recovery'));
    settings = { ...defaultConfig().storage.gcp, ...patch.storage?.gcp } as GcpStorageSettings;
    storage = new GcpStorage(settings);
    await storage.init();
    raw = new Storage({ projectId: GCS_TEST_PROJECT });
  });
  after(async () => {
    await storage?.close();
    await peer?.stop();
    await metadata?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const etagOf = (data: Buffer): string => `"${createHash('md5').update(data).digest('hex')}"`;
  const objectAction = (key: string, data: Buffer): CommitAction => ({ kind: 'object', object: record(key, data.length, etagOf(data)) });

  /** Step 1 of publish.ts: the intent, exactly as publish() records it. */
  async function recordIntent(write: StagedWrite, action: CommitAction): Promise<void> {
    assert.ok(write.recoveryRef !== undefined, 'a remote staged write carries a recoveryRef');
    await metadata.recordCommitIntent({ id: randomUUID(), staged_path: REMOTE_STAGED_PREFIX + write.recoveryRef, action, created_at: new Date().toISOString() });
  }

  /** A whole, uninterrupted publish (storage commit, then metadata). */
  async function published(key: string, data: Buffer): Promise<void> {
    await (await storage.putObject('b', key, Readable.from([data]))).commit();
    await metadata.putObject(record(key, data.length, etagOf(data)));
  }

  async function storedBytes(key: string): Promise<Buffer> {
    const read = await storage.getObject('b', key);
    const chunks: Buffer[] = [];
    for await (const chunk of read.stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  /** The row and the stored bytes agree, and are `data`. */
  async function assertConsistent(key: string, data: Buffer): Promise<void> {
    const row = await metadata.getObject('b', key);
    assert.equal(row?.etag, etagOf(data), `row of ${key}`);
    assert.equal(row?.size, data.length);
    assert.ok((await storedBytes(key)).equals(data), `bytes of ${key}`);
  }

  /** Staging temps left in the backing bucket. */
  async function temps(): Promise<string[]> {
    const [files] = await raw.bucket(GCS_TEST_BUCKET).getFiles({ prefix: `${settings.prefix}.tmp/` });
    return files.map((f) => f.name);
  }

  it('rolls forward put, part and (single-part) assembled writes whose storage commit happened before the crash', TEST, async () => {
    await published('small', Buffer.from('old small'));
    await published('large', Buffer.from('old large'));
    await published('assembled', Buffer.from('old assembled'));

    const small = Buffer.from('new small body');
    const large = randomBytes(3 * MiB + 5);
    const part = randomBytes(1000);
    await metadata.createMultipartUpload({
      upload_id: 'UP1', bucket: 'b', key: 'assembled', content_type: 'text/plain', content_encoding: null, content_language: null, content_disposition: null,
      cache_control: null, expires: null, storage_class: 'STANDARD', acl: '{}', user_metadata: '{}', owner_id: 'o', owner_display: 'o', initiated_at: '2026-01-01T00:00:00.000Z',
    });
    const partWrite = await storage.putPart('b', 'assembled', 'UP1', 1, Readable.from([part]));
    await recordIntent(partWrite, { kind: 'part', uploadId: 'UP1', partNumber: 1, size: part.length, etag: etagOf(part), checksum: null });
    await partWrite.commit(); // ... and the process dies before the part's metadata commit
    assert.deepEqual(await recoverCommitIntents(metadata, log, storage), { rolledForward: 1, dropped: 0 });
    assert.equal((await metadata.listParts('UP1', 0, 10)).parts[0]?.etag, etagOf(part), 'the part row was rolled forward');

    const smallWrite = await storage.putObject('b', 'small', Readable.from([small]));
    await recordIntent(smallWrite, objectAction('small', small));
    const largeWrite = await storage.putObject('b', 'large', Readable.from([large]));
    await recordIntent(largeWrite, objectAction('large', large));
    // The emulator has no compose, so the assembly is of one part (a copy); compose is covered by
    // the recording fake in gcp-storage.test.ts.
    const assembleWrite = await storage.assembleParts('b', 'assembled', 'UP1', [1]);
    await recordIntent(assembleWrite, { kind: 'complete', bucket: 'b', key: 'assembled', uploadId: 'UP1', object: record('assembled', part.length, '"assembled-1"') });
    const writes = [smallWrite, largeWrite, assembleWrite];
    for (const w of writes) {
      assert.match(w.recoveryRef ?? '', /^gcs1:\{/, 'versioned');
      assert.ok((w.recoveryRef ?? '').length < 200, `short: ${w.recoveryRef}`);
    }
    for (const w of writes) await w.commit(); // ... and the process dies before the metadata commits
    assert.equal((await metadata.getObject('b', 'large'))?.etag, etagOf(Buffer.from('old large')), 'the torn state the protocol repairs');

    assert.deepEqual(await recoverCommitIntents(metadata, log, storage), { rolledForward: 3, dropped: 0 });
    await assertConsistent('small', small);
    await assertConsistent('large', large);
    const row = await metadata.getObject('b', 'assembled');
    assert.equal(row?.etag, '"assembled-1"');
    assert.ok((await storedBytes('assembled')).equals(part));
    assert.equal(await metadata.getMultipartUpload('b', 'assembled', 'UP1'), null, 'the completion was rolled forward');
    assert.deepEqual(await metadata.listCommitIntents(), []);
    assert.deepEqual(await temps(), []);
  });

  it('drops writes staged but never committed: the old version stays and the temps are deleted', TEST, async () => {
    const small = Buffer.from('never published');
    const large = randomBytes(3 * MiB);
    await recordIntent(await storage.putObject('b', 'small', Readable.from([small])), objectAction('small', small));
    await recordIntent(await storage.putObject('b', 'large', Readable.from([large])), objectAction('large', large));
    // ... the process dies before commit(): both temps are still there.
    assert.equal((await temps()).length, 2);

    assert.deepEqual(await recoverCommitIntents(metadata, log, storage), { rolledForward: 0, dropped: 2 });
    await assertConsistent('small', Buffer.from('new small body'));
    assert.equal((await metadata.getObject('b', 'large'))?.size, 3 * MiB + 5, 'the version of the previous test');
    assert.equal((await storedBytes('large')).length, 3 * MiB + 5);
    assert.deepEqual(await temps(), [], 'the temps were deleted');
    assert.deepEqual(await metadata.listCommitIntents(), []);
  });

  it('an intent whose key was published again since (recovery retried on a later start) is dropped', TEST, async () => {
    const stale = Buffer.from('committed, then overwritten');
    const write = await storage.putObject('b', 'small', Readable.from([stale]));
    await recordIntent(write, objectAction('small', stale));
    await write.commit();
    await published('small', Buffer.from('the newest version'));

    assert.deepEqual(await recoverCommitIntents(metadata, log, storage), { rolledForward: 0, dropped: 1 });
    await assertConsistent('small', Buffer.from('the newest version'));
  });

  it("another backend's ref (a configuration change) is not taken for a commit", TEST, async () => {
    const foreign = `aws1:${JSON.stringify({ k: `${settings.prefix}b/small`, t: 'x' })}`;
    assert.equal(await storage.stagedWriteCommitted(foreign), false);
    await metadata.recordCommitIntent({ id: randomUUID(), staged_path: REMOTE_STAGED_PREFIX + foreign, action: objectAction('small', Buffer.from('foreign')), created_at: new Date().toISOString() });
    assert.deepEqual(await recoverCommitIntents(metadata, log, storage), { rolledForward: 0, dropped: 1 });
    await assertConsistent('small', Buffer.from('the newest version'));
  });
});

describe('commit intent recovery: remote staged writes (azure gateway)', () => {
  const KiB = 1024;
  const TEST = { timeout: 120_000 };
  /** Small blocks, so that a body above 64 KiB takes the large path: a staging blob, copied in 256 KiB blocks. */
  const TUNING = { blockBytes: 64 * KiB, copyBlockBytes: 256 * KiB };
  const LARGE = 600 * KiB;
  let dir: string;
  let metadata: SqliteMetadataStore;
  let peer: TestPeer;
  let storage: AzureStorage;
  let container: ContainerClient;
  const log = createLogger('error', 'text');

  const uploadRow = (uploadId: string, key: string): UploadRecord => ({
    upload_id: uploadId, bucket: 'b', key, content_type: 'text/plain', content_encoding: null, content_language: null, content_disposition: null,
    cache_control: null, expires: null, storage_class: 'STANDARD', acl: '{}', user_metadata: '{}', owner_id: 'o', owner_display: 'o', initiated_at: '2026-01-01T00:00:00.000Z',
  });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bleepstore-azure-recovery-'));
    metadata = new SqliteMetadataStore(join(dir, 'metadata.db'));
    await metadata.init();
    await metadata.createBucket({ name: 'b', region: 'us-east-1', owner_id: 'o', owner_display: 'o', acl: '{}', created_at: '2026-01-01T00:00:00.000Z' });
    await metadata.createMultipartUpload(uploadRow('UP1', 'assembled'));
    await metadata.createMultipartUpload(uploadRow('UP2', 'parted'));
    peer = await startAzurite();
    const patch = await peer.namespace(uniqueNamespaceId('recovery'));
    const settings = { ...defaultConfig().storage.azure, ...patch.storage?.azure } as AzureSettings;
    storage = new AzureStorage(settings, TUNING);
    await storage.init();
    container = BlobServiceClient.fromConnectionString(settings.connection_string).getContainerClient(settings.container);
  });
  after(async () => {
    await storage?.close();
    await peer?.stop();
    await metadata?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const etagOf = (data: Buffer): string => `"${createHash('md5').update(data).digest('hex')}"`;
  const objectAction = (key: string, data: Buffer): CommitAction => ({ kind: 'object', object: record(key, data.length, etagOf(data)) });
  const partAction = (uploadId: string, partNumber: number, data: Buffer): CommitAction => ({ kind: 'part', uploadId, partNumber, size: data.length, etag: etagOf(data) });

  /** Step 1 of publish.ts: the intent, exactly as publish() records it. */
  async function recordIntent(write: StagedWrite, action: CommitAction): Promise<void> {
    assert.match(write.recoveryRef ?? '', /^az1:\{/, 'a remote staged write carries a versioned recoveryRef');
    assert.ok((write.recoveryRef ?? '').length < 200, `short: ${write.recoveryRef}`);
    await metadata.recordCommitIntent({ id: randomUUID(), staged_path: REMOTE_STAGED_PREFIX + write.recoveryRef, action, created_at: new Date().toISOString() });
  }

  /** Whole, uninterrupted publishes (storage commit, then metadata). */
  async function published(key: string, data: Buffer): Promise<void> {
    await (await storage.putObject('b', key, Readable.from([data]))).commit();
    await metadata.putObject(record(key, data.length, etagOf(data)));
  }
  async function publishedPart(uploadId: string, partNumber: number, data: Buffer): Promise<void> {
    await (await storage.putPart('b', 'k', uploadId, partNumber, Readable.from([data]))).commit();
    await metadata.putPart(uploadId, partNumber, data.length, etagOf(data));
  }

  async function bytesOf(read: Promise<ReadResult>): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of (await read).stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  /** The row and the stored bytes agree, and are `data`. */
  async function assertConsistent(key: string, data: Buffer): Promise<void> {
    const row = await metadata.getObject('b', key);
    assert.equal(row?.etag, etagOf(data), `row of ${key}`);
    assert.equal(row?.size, data.length);
    assert.ok((await bytesOf(storage.getObject('b', key))).equals(data), `bytes of ${key}`);
  }

  /** Part 1 of UP2: row and stored bytes agree, and are `data`. */
  async function assertPartConsistent(data: Buffer): Promise<void> {
    const [row] = (await metadata.listParts('UP2', 0, 10)).parts;
    assert.equal(row?.etag, etagOf(data), 'part row');
    assert.equal(row?.size, data.length);
    assert.ok((await bytesOf(storage.getPart('UP2', 1))).equals(data), 'part bytes');
  }

  async function blobNames(prefix: string): Promise<string[]> {
    const names: string[] = [];
    for await (const item of container.listBlobsFlat({ prefix })) names.push(item.name);
    return names.sort();
  }

  it('rolls forward small, large, part and assembled writes whose storage commit happened before the crash', TEST, async () => {
    await published('small', Buffer.from('old small'));
    await published('large', Buffer.from('old large'));
    await published('assembled', Buffer.from('old assembled'));
    await publishedPart('UP2', 1, Buffer.from('old part'));
    const parts = [randomBytes(100 * KiB), randomBytes(300 * KiB)];
    for (const [i, data] of parts.entries()) await publishedPart('UP1', i + 1, data);

    const small = Buffer.from('new small body');
    const large = randomBytes(LARGE);
    const part = randomBytes(200 * KiB);
    const assembled = Buffer.concat(parts);
    const smallWrite = await storage.putObject('b', 'small', Readable.from([small]));
    await recordIntent(smallWrite, objectAction('small', small));
    const largeWrite = await storage.putObject('b', 'large', Readable.from([large]));
    await recordIntent(largeWrite, objectAction('large', large));
    const partWrite = await storage.putPart('b', 'parted', 'UP2', 1, Readable.from([part]));
    await recordIntent(partWrite, partAction('UP2', 1, part));
    const assembleWrite = await storage.assembleParts('b', 'assembled', 'UP1', [1, 2]);
    await recordIntent(assembleWrite, { kind: 'complete', bucket: 'b', key: 'assembled', uploadId: 'UP1', object: record('assembled', assembled.length, '"assembled-2"') });
    assert.equal((await blobNames('.staging/')).length, 1, 'the large body is staged in a staging blob');
    for (const w of [smallWrite, largeWrite, partWrite, assembleWrite]) await w.commit(); // ... and the process dies before the metadata commits
    assert.equal((await metadata.getObject('b', 'large'))?.etag, etagOf(Buffer.from('old large')), 'the torn state the protocol repairs');

    assert.deepEqual(await recoverCommitIntents(metadata, log, storage), { rolledForward: 4, dropped: 0 });
    await assertConsistent('small', small);
    await assertConsistent('large', large);
    await assertPartConsistent(part);
    assert.equal((await metadata.getObject('b', 'assembled'))?.etag, '"assembled-2"');
    assert.ok((await bytesOf(storage.getObject('b', 'assembled'))).equals(assembled));
    assert.equal(await metadata.getMultipartUpload('b', 'assembled', 'UP1'), null, 'the completion was rolled forward');
    assert.deepEqual(await metadata.listCommitIntents(), []);
    assert.deepEqual(await blobNames('.staging/'), []);
    assert.equal((await blobNames('.parts/UP2/1.')).length, 1, 'only the committed part data is kept');
  });

  it('drops writes staged but never committed: old versions stay, staged bytes are removed', TEST, async () => {
    const small = Buffer.from('never published');
    const large = randomBytes(LARGE);
    const part = randomBytes(50 * KiB);
    await recordIntent(await storage.putObject('b', 'small', Readable.from([small])), objectAction('small', small));
    await recordIntent(await storage.putObject('b', 'large', Readable.from([large])), objectAction('large', large));
    await recordIntent(await storage.putPart('b', 'parted', 'UP2', 1, Readable.from([part])), partAction('UP2', 1, part));
    // ... the process dies before commit(): the staging blob and the new part data are still there.
    assert.equal((await blobNames('.staging/')).length, 1);
    assert.equal((await blobNames('.parts/UP2/1.')).length, 2);
    const previousLarge = await bytesOf(storage.getObject('b', 'large'));
    const previousPart = await bytesOf(storage.getPart('UP2', 1));

    assert.deepEqual(await recoverCommitIntents(metadata, log, storage), { rolledForward: 0, dropped: 3 });
    await assertConsistent('small', Buffer.from('new small body'));
    await assertConsistent('large', previousLarge);
    await assertPartConsistent(previousPart);
    assert.deepEqual(await blobNames('.staging/'), [], 'the staging blob is gone');
    assert.equal((await blobNames('.parts/UP2/1.')).length, 1, 'the unreferenced part data is gone');
    assert.deepEqual(await metadata.listCommitIntents(), []);
  });

  it('an intent whose key was published again since (recovery retried on a later start) is dropped', TEST, async () => {
    const stale = randomBytes(LARGE);
    const write = await storage.putObject('b', 'large', Readable.from([stale]));
    await recordIntent(write, objectAction('large', stale));
    await write.commit();
    const newest = Buffer.from('the newest version');
    await published('large', newest);

    assert.deepEqual(await recoverCommitIntents(metadata, log, storage), { rolledForward: 0, dropped: 1 });
    await assertConsistent('large', newest);
  });

  it('a foreign or damaged ref is not taken for a commit and deletes nothing', TEST, async () => {
    const writeId = 'f'.repeat(32);
    for (const ref of [
      'aws1:{"k":"b/small","t":"token"}',
      'gcs1:{"k":"b/small","t":"token"}',
      'az1:{"b":"b/small"',
      'az1:{"b":"b/small","w":"not-a-write-id"}',
      'az1:' + JSON.stringify({ b: 'b/small', w: writeId, x: 'b/small' }),
      'az1:' + JSON.stringify({ b: 'b/other', w: writeId, x: 'b/large' }),
    ]) {
      assert.equal(await storage.stagedWriteCommitted(ref), false, ref);
    }
    await assertConsistent('small', Buffer.from('new small body'));
    await assertConsistent('large', Buffer.from('the newest version'));
  });
});
