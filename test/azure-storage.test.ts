// Azure gateway specifics (spec/storage.md §5, §5.3), against Azurite through @azure/storage-blob:
// blob naming, block ids, ranged reads, streaming of large objects, the staging design that keeps
// concurrent writers of one key safe, and error mapping. The shared behaviour is in
// storage-conformance.test.ts.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { after, before, describe, it } from 'node:test';
import { BlobServiceClient, ContainerClient, ContainerSASPermissions, generateBlobSASQueryParameters, StorageSharedKeyCredential } from '@azure/storage-blob';
import { BackendUnavailableError } from '../src/cloud/retry.js';
import { defaultConfig } from '../src/config.js';
import { AzureStorage } from '../src/storage/azure.js';
import { blockId, newWriteId, type AzureTuning } from '../src/storage/azure-blocks.js';
import { accountNameOf, accountUrlOf, classifyAzureError, type AzureSettings } from '../src/storage/azure-client.js';
import { AzureBlobNames, escapeKeyForBlob } from '../src/storage/azure-names.js';
import { decodeRecoveryRef, encodeRecoveryRef, stagedWriteCommitted } from '../src/storage/azure-recovery.js';
import { StorageNotFoundError, type StagedWrite } from '../src/storage/types.js';
import { uniqueNamespaceId } from './servers/config-patch.js';
import { containerNameFor, start } from './servers/azurite.js';
import { freePort } from './servers/process.js';
import type { TestPeer } from './servers/types.js';
import { bodyOf, committed, readAll } from './storage-bodies.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const PREFIX = 'bs/';
/** Small blocks so multi-block and multi-copy paths run on small bodies. */
const SMALL_BLOCKS: Partial<AzureTuning> = { blockBytes: 64 * KiB, copyBlockBytes: 256 * KiB };

async function blobNames(container: ContainerClient, prefix: string): Promise<string[]> {
  const names: string[] = [];
  for await (const item of container.listBlobsFlat({ prefix })) names.push(item.name);
  return names.sort();
}

describe('Azure names (pure)', () => {
  it('maps ordinary keys verbatim and escapes segments Azure or URLs would not keep', () => {
    const names = new AzureBlobNames('bs/');
    assert.equal(names.object('bkt', 'dir/file.txt'), 'bs/bkt/dir/file.txt');
    assert.equal(escapeKeyForBlob('a/../b'), 'a/%2E2E/b');
    assert.equal(escapeKeyForBlob('./x'), '%2E/x');
    assert.equal(escapeKeyForBlob('photos/'), 'photos/%');
    assert.equal(escapeKeyForBlob('/leading'), '%/leading');
    assert.equal(escapeKeyForBlob('a//b'), 'a/%/b');
    assert.equal(escapeKeyForBlob('end.'), '%656E642E');
    assert.equal(escapeKeyForBlob('%41'), '%253431');
    assert.equal(escapeKeyForBlob('ünï/😀.txt'), 'ünï/😀.txt');
  });

  it('sends keys too long for a blob name to .long-keys/{bucket}/{sha256}', () => {
    const names = new AzureBlobNames('bs/');
    const key = 'k'.repeat(1020);
    assert.equal(names.object('bkt', key), `bs/.long-keys/bkt/${createHash('sha256').update(key).digest('hex')}`);
    const manySegments = Array.from({ length: 300 }, () => 'x').join('/');
    assert.match(names.object('bkt', manySegments), /^bs\/\.long-keys\/bkt\/[0-9a-f]{64}$/);
  });

  it('names parts, pointers and staging blobs in their own areas', () => {
    const names = new AzureBlobNames('');
    const id = newWriteId();
    assert.equal(names.partPointer('U1', 7), '.parts/U1/7');
    assert.equal(names.partData('U1', 7, id), `.parts/U1/7.${id}`);
    assert.equal(names.staging(id), `.staging/${id}`);
    assert.throws(() => names.partsOf('a/b'));
    assert.throws(() => names.partsOf('.x'));
    assert.throws(() => names.object('.hidden', 'k'));
  });

  it('makes every block id the same length', () => {
    const lengths = new Set<number>();
    for (let i = 0; i < 50; i++) {
      const id = blockId(newWriteId(), i * 20_399);
      lengths.add(id.length);
      assert.ok(Buffer.from(id, 'base64').length <= 64, 'Azure limits block ids to 64 bytes');
    }
    assert.deepEqual([...lengths], [52]);
    assert.throws(() => blockId(newWriteId(), 1_000_000), RangeError);
  });

  it('encodes recovery refs versioned and short, and reads back only its own', () => {
    const id = newWriteId();
    const identity = { blob: 'bs/.parts/U1/7', writeId: id, leftover: `bs/.parts/U1/7.${id}` };
    const ref = encodeRecoveryRef(identity);
    assert.match(ref, /^az1:\{/);
    assert.ok(ref.length < 160, ref);
    assert.deepEqual(decodeRecoveryRef(ref), identity);
    assert.deepEqual(decodeRecoveryRef(encodeRecoveryRef({ blob: 'bs/b/k', writeId: id })), { blob: 'bs/b/k', writeId: id });
    for (const foreign of ['aws1:{"k":"k","t":"t"}', 'gcs1:{}', 'az1:', 'az1:null', 'az1:{"b":"k"}', `az1:{"b":"","w":"${id}"}`, 'az1:{"b":"k","w":"XYZ"}', `az1:{"b":"k","w":"${id}","x":7}`]) {
      assert.equal(decodeRecoveryRef(foreign), undefined, foreign);
    }
  });
});

describe('Azure settings and error classes (pure)', () => {
  it('accepts an account name or URL', () => {
    const base = defaultConfig().storage.azure;
    assert.equal(accountUrlOf({ ...base, account: 'acct' }), 'https://acct.blob.core.windows.net');
    assert.equal(accountUrlOf({ ...base, account: 'https://acct.blob.core.windows.net/' }), 'https://acct.blob.core.windows.net/');
    assert.equal(accountUrlOf({ ...base, account: 'x', account_url: 'http://h/y' }), 'http://h/y');
    assert.equal(accountUrlOf(base), undefined);
    assert.equal(accountNameOf('https://acct.blob.core.windows.net'), 'acct');
    assert.equal(accountNameOf('http://127.0.0.1:10000/devstoreaccount1'), 'devstoreaccount1');
  });

  it('classifies throttling, transient and fatal failures', () => {
    assert.equal(classifyAzureError({ statusCode: 429 }), 'throttled');
    assert.equal(classifyAzureError({ statusCode: 503, code: 'ServerBusy' }), 'throttled');
    assert.equal(classifyAzureError({ statusCode: 503, code: 'ServiceUnavailable' }), 'transient');
    assert.equal(classifyAzureError({ statusCode: 500, code: 'OperationTimedOut' }), 'transient');
    assert.equal(classifyAzureError({ code: 'ECONNRESET' }), 'transient');
    assert.equal(classifyAzureError({ code: 'REQUEST_SEND_ERROR' }), 'transient');
    assert.equal(classifyAzureError({ statusCode: 404, code: 'BlobNotFound' }), 'fatal');
    assert.equal(classifyAzureError({ statusCode: 403, code: 'AuthorizationFailure' }), 'fatal');
    assert.equal(classifyAzureError(new Error('boom')), 'fatal');
  });

  it('requires a container', () => {
    assert.throws(() => new AzureStorage(defaultConfig().storage.azure), /container/);
  });
});

describe('AzureStorage against Azurite', () => {
  let peer: TestPeer;
  const opened: AzureStorage[] = [];

  before(async () => {
    peer = await start();
  });
  after(async () => {
    for (const s of opened) await s.close();
    await peer?.stop();
  });

  /** A fresh container; the backend with `prefix` and `tuning`, plus a raw client to inspect it. */
  async function fresh(tuning: Partial<AzureTuning> = {}, prefix = PREFIX): Promise<{ s: AzureStorage; container: ContainerClient; settings: AzureSettings }> {
    const patch = await peer.namespace(uniqueNamespaceId('az'));
    const settings: AzureSettings = { ...defaultConfig().storage.azure, ...patch.storage?.azure, prefix };
    const s = new AzureStorage(settings, tuning);
    await s.init();
    opened.push(s);
    const container = BlobServiceClient.fromConnectionString(settings.connection_string).getContainerClient(settings.container);
    return { s, container, settings };
  }

  it('stores an object as the blob {prefix}{bucket}/{key} holding exactly the bytes', async () => {
    const { s, container } = await fresh();
    const data = randomBytes(12345);
    await committed(s.putObject('bkt', 'dir/file.txt', bodyOf(data)));
    assert.ok((await container.getBlockBlobClient('bs/bkt/dir/file.txt').downloadToBuffer()).equals(data));
    await committed(s.putObject('bkt', 'a/../b', bodyOf(Buffer.from('dots'))));
    await committed(s.putObject('bkt', 'photos/', bodyOf(Buffer.from('folder'))));
    const long = 'L'.repeat(1020);
    await committed(s.putObject('bkt', long, bodyOf(Buffer.from('long'))));
    assert.deepEqual(await blobNames(container, ''), [
      `bs/.long-keys/bkt/${createHash('sha256').update(long).digest('hex')}`,
      'bs/bkt/a/%2E2E/b',
      'bs/bkt/dir/file.txt',
      'bs/bkt/photos/%',
    ]);
    assert.equal((await readAll(await s.getObject('bkt', long))).toString(), 'long');
  });

  it('streams a large body as equal-length blocks and leaves no staging blob after commit', async () => {
    const { s, container } = await fresh(SMALL_BLOCKS);
    const data = randomBytes(MiB + 5);
    const staged = await s.putObject('bkt', 'big', bodyOf(data, 10_000));
    // Staged: bytes sit in a private staging blob, nothing under the key yet.
    assert.equal((await blobNames(container, 'bs/.staging/')).length, 1);
    assert.equal(await s.objectExists('bkt', 'big'), false);
    await staged.commit();
    assert.deepEqual(await blobNames(container, 'bs/.staging/'), []);
    const blocks = await container.getBlockBlobClient('bs/bkt/big').getBlockList('committed');
    const committedBlocks = blocks.committedBlocks ?? [];
    assert.deepEqual(
      committedBlocks.map((b) => b.size),
      [256 * KiB, 256 * KiB, 256 * KiB, 256 * KiB, 5],
    );
    assert.deepEqual(new Set(committedBlocks.map((b) => b.name.length)), new Set([52]));
    assert.ok((await readAll(await s.getObject('bkt', 'big'))).equals(data));
  });

  it('discard drops the staging blob; a failed body leaves no staging blob', async () => {
    const { s, container } = await fresh(SMALL_BLOCKS);
    const staged = await s.putObject('bkt', 'dropped', bodyOf(randomBytes(300 * KiB)));
    await staged.discard();
    assert.deepEqual(await blobNames(container, 'bs/.staging/'), []);
    assert.equal(await s.objectExists('bkt', 'dropped'), false);

    const boom = new Error('digest mismatch');
    let sent = 0;
    const failing = new Readable({
      read() {
        if (sent >= 5) return this.destroy(boom);
        sent++;
        this.push(randomBytes(100 * KiB));
      },
    });
    await assert.rejects(s.putObject('bkt', 'failed', failing), (e) => e === boom);
    assert.deepEqual(await blobNames(container, 'bs/.staging/'), []);
    assert.equal(await s.objectExists('bkt', 'failed'), false);
  });

  it('serves ranges across block boundaries and rejects ranges starting at or past the end', async () => {
    const { s } = await fresh(SMALL_BLOCKS);
    const data = randomBytes(MiB + 5);
    await committed(s.putObject('bkt', 'r', bodyOf(data)));
    const cases: Array<[number, number]> = [
      [0, 0],
      [256 * KiB - 1, 256 * KiB],
      [100, 900 * KiB],
      [MiB, MiB + 4],
      [MiB + 4, MiB + 100],
    ];
    for (const [start, end] of cases) {
      const got = await readAll(await s.getObject('bkt', 'r', { start, end }));
      assert.ok(got.equals(data.subarray(start, end + 1)), `${start}-${end}`);
    }
    await assert.rejects(s.getObject('bkt', 'r', { start: MiB + 5, end: MiB + 10 }), RangeError);
    await assert.rejects(s.getObject('bkt', 'r', { start: MiB + 50, end: MiB + 60 }), RangeError);
    await committed(s.putObject('bkt', 'empty', bodyOf(Buffer.alloc(0))));
    assert.equal((await readAll(await s.getObject('bkt', 'empty'))).length, 0);
    await assert.rejects(s.getObject('bkt', 'empty', { start: 0, end: 0 }), RangeError);
    await assert.rejects(s.getObject('bkt', 'missing', { start: 0, end: 0 }), StorageNotFoundError);
  });

  it('a staged write committed after another writer committed the key still wins (restaged)', async () => {
    const { s } = await fresh(SMALL_BLOCKS);
    const a = randomBytes(700 * KiB);
    const b = randomBytes(600 * KiB);
    const stagedA = await s.putObject('bkt', 'k', bodyOf(a));
    // B's Put Block List discards A's uncommitted copies on the final blob.
    await committed(s.putObject('bkt', 'k', bodyOf(b)));
    assert.ok((await readAll(await s.getObject('bkt', 'k'))).equals(b));
    await stagedA.commit();
    assert.ok((await readAll(await s.getObject('bkt', 'k'))).equals(a));
    // A small (held) write in between does the same.
    const stagedB = await s.putObject('bkt', 'k', bodyOf(b));
    await committed(s.putObject('bkt', 'k', bodyOf(Buffer.from('tiny'))));
    await s.deleteObject('bkt', 'k');
    await stagedB.commit();
    assert.ok((await readAll(await s.getObject('bkt', 'k'))).equals(b));
  });

  it('many concurrent large puts of one key leave exactly one complete version', async () => {
    const { s } = await fresh(SMALL_BLOCKS);
    const bodies = Array.from({ length: 6 }, (_, i) => randomBytes(300 * KiB + i * 50 * KiB));
    await Promise.all(bodies.map((data) => committed(s.putObject('bkt', 'hot', bodyOf(data)))));
    const got = await readAll(await s.getObject('bkt', 'hot'));
    assert.ok(bodies.some((data) => got.equals(data)));
  });

  it('multipart parts survive a PutObject and a delete of the same key during the upload', async () => {
    const { s, container } = await fresh(SMALL_BLOCKS);
    const p1 = randomBytes(600 * KiB);
    const p2 = randomBytes(70 * KiB);
    await committed(s.putPart('bkt', 'mp', 'UP1', 1, bodyOf(p1)));
    await committed(s.putPart('bkt', 'mp', 'UP1', 2, bodyOf(p2)));
    await committed(s.putObject('bkt', 'mp', bodyOf(randomBytes(400 * KiB))));
    await s.deleteObject('bkt', 'mp');
    const assembled = await s.assembleParts('bkt', 'mp', 'UP1', [1, 2]);
    assert.equal(assembled.size, p1.length + p2.length);
    // Another writer commits between assembly and commit: the copies are restaged from the parts.
    await committed(s.putObject('bkt', 'mp', bodyOf(randomBytes(300 * KiB))));
    await assembled.commit();
    assert.ok((await readAll(await s.getObject('bkt', 'mp'))).equals(Buffer.concat([p1, p2])));
    const blocks = (await container.getBlockBlobClient('bs/bkt/mp').getBlockList('committed')).committedBlocks ?? [];
    assert.deepEqual(
      blocks.map((b) => b.size),
      [256 * KiB, 256 * KiB, 88 * KiB, 70 * KiB],
      'parts are copied in ranges of at most copyBlockBytes',
    );
    await s.deleteParts('bkt', 'mp', 'UP1');
    assert.deepEqual(await blobNames(container, 'bs/.parts/'), []);
  });

  it('keeps one data blob per committed part; overwrite and discard remove the superseded ones', async () => {
    const { s, container } = await fresh(SMALL_BLOCKS);
    await committed(s.putPart('bkt', 'k', 'UP2', 3, bodyOf(Buffer.from('first'))));
    const second = randomBytes(200 * KiB);
    await committed(s.putPart('bkt', 'k', 'UP2', 3, bodyOf(second)));
    const dropped = await s.putPart('bkt', 'k', 'UP2', 3, bodyOf(Buffer.from('dropped')));
    await dropped.discard();
    const names = await blobNames(container, 'bs/.parts/UP2/');
    assert.equal(names.length, 2, names.join(', '));
    assert.equal(names[0], 'bs/.parts/UP2/3');
    assert.match(names[1]!, /^bs\/\.parts\/UP2\/3\.[0-9a-f]{32}$/);
    assert.ok((await readAll(await s.getPart('UP2', 3))).equals(second));
    // Concurrent uploads of one part number: both commit, one complete version remains.
    const x = randomBytes(150 * KiB);
    const y = randomBytes(170 * KiB);
    await Promise.all([committed(s.putPart('bkt', 'k', 'UP2', 3, bodyOf(x))), committed(s.putPart('bkt', 'k', 'UP2', 3, bodyOf(y)))]);
    const got = await readAll(await s.getPart('UP2', 3));
    assert.ok(got.equals(x) || got.equals(y));
    await s.deleteUploadParts('UP2');
    assert.deepEqual(await blobNames(container, 'bs/.parts/UP2/'), []);
    await assert.rejects(s.getPart('UP2', 3), StorageNotFoundError);
  });

  it('marks every publish with its write id: recovery answers committed iff the destination carries it', async () => {
    const { s, container } = await fresh(SMALL_BLOCKS);
    const check = (w: StagedWrite): Promise<boolean> => s.stagedWriteCommitted(w.recoveryRef ?? '');
    const small = await s.putObject('bkt', 'small', bodyOf(Buffer.from('small')));
    const large = await s.putObject('bkt', 'large', bodyOf(randomBytes(300 * KiB)));
    const part = await s.putPart('bkt', 'k', 'UP9', 1, bodyOf(randomBytes(100 * KiB)));
    assert.equal((await blobNames(container, 'bs/.staging/')).length, 1);
    for (const w of [small, large, part]) assert.equal(await check(w), false, 'staged only');
    assert.deepEqual(await blobNames(container, 'bs/.staging/'), [], 'the uncommitted staging blob is dropped');
    assert.deepEqual(await blobNames(container, 'bs/.parts/UP9/'), [], 'the unreferenced part data is dropped');

    const writes = [
      await s.putObject('bkt', 'small', bodyOf(Buffer.from('small'))),
      await s.putObject('bkt', 'large', bodyOf(randomBytes(300 * KiB))),
      await s.putPart('bkt', 'k', 'UP9', 1, bodyOf(randomBytes(100 * KiB))),
    ];
    for (const w of writes) await w.commit();
    const assembled = await s.assembleParts('bkt', 'assembled', 'UP9', [1]);
    await assembled.commit();
    for (const w of [...writes, assembled]) assert.equal(await check(w), true, w.recoveryRef);
    assert.equal((await blobNames(container, 'bs/.parts/UP9/1.')).length, 1, 'committed part data is kept');
    // A later publish of the key replaces the mark (Put Blob and Put Block List both replace metadata).
    await committed(s.putObject('bkt', 'large', bodyOf(Buffer.from('later'))));
    assert.equal(await check(writes[1]!), false);
    assert.equal(await check(writes[0]!), true);
  });

  it('a recovery check that cannot reach Azure throws rather than deciding (the intent is kept)', async () => {
    const { settings } = await fresh();
    const deadPort = await freePort();
    const dead = BlobServiceClient.fromConnectionString(settings.connection_string.replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${deadPort}`), { retryOptions: { maxTries: 1 } });
    const ref = encodeRecoveryRef({ blob: 'bs/bkt/k', writeId: newWriteId() });
    await assert.rejects(stagedWriteCommitted(dead.getContainerClient(settings.container), new AzureBlobNames(PREFIX), ref), BackendUnavailableError);
  });

  it('assembles empty and multi-range parts, including an empty object', async () => {
    const { s } = await fresh(SMALL_BLOCKS);
    const big = randomBytes(MiB + 3);
    await committed(s.putPart('bkt', 'k', 'UP3', 1, bodyOf(Buffer.alloc(0))));
    await committed(s.putPart('bkt', 'k', 'UP3', 2, bodyOf(big)));
    await committed(s.assembleParts('bkt', 'empty', 'UP3', [1]));
    assert.equal((await readAll(await s.getObject('bkt', 'empty'))).length, 0);
    await committed(s.assembleParts('bkt', 'full', 'UP3', [1, 2, 1]));
    assert.ok((await readAll(await s.getObject('bkt', 'full'))).equals(big));
  });

  it('deleteBucket removes only that bucket, long keys included', async () => {
    const { s, container } = await fresh();
    await committed(s.putObject('gone', 'x/y', bodyOf(Buffer.from('z'))));
    await committed(s.putObject('gone', 'L'.repeat(1020), bodyOf(Buffer.from('z'))));
    await committed(s.putObject('gone2', 'x', bodyOf(Buffer.from('keep'))));
    await s.deleteBucket('gone');
    assert.deepEqual(await blobNames(container, ''), ['bs/gone2/x']);
  });

  it('streams a large object through memory bounded by the block size, not the object size', async () => {
    // Small blocks make the bound (blocksInFlight + 1) × blockBytes = 3 MiB far below the 24 MiB body.
    const { s } = await fresh({ blockBytes: MiB, blocksInFlight: 2 });
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const total = 24 * MiB;
    const chunkBytes = 256 * KiB;
    const pattern = randomBytes(chunkBytes);
    const sourceHash = createHash('md5');
    async function* generate(): AsyncGenerator<Buffer> {
      for (let sent = 0; sent < total; sent += chunkBytes) {
        // Each chunk is a fresh buffer, as a socket would deliver.
        const piece = Buffer.from(pattern);
        piece.writeUInt32BE(sent / chunkBytes);
        sourceHash.update(piece);
        yield piece;
      }
    }
    gc();
    const baseline = process.memoryUsage().arrayBuffers;
    let peak = 0;
    // Collecting before each sample measures what is retained, not garbage awaiting collection.
    const sampler = setInterval(() => {
      gc();
      peak = Math.max(peak, process.memoryUsage().arrayBuffers - baseline);
    }, 25);
    try {
      // A byte stream holding one chunk at most, like a socket (Readable.from's default would prefetch 16).
      await committed(s.putObject('bkt', 'huge', Readable.from(generate(), { objectMode: false, highWaterMark: 64 * KiB })));
      const read = await s.getObject('bkt', 'huge');
      assert.equal(read.size, total);
      const readHash = createHash('md5');
      for await (const piece of read.stream) readHash.update(piece as Buffer);
      assert.equal(readHash.digest('hex'), sourceHash.digest('hex'));
    } finally {
      clearInterval(sampler);
    }
    assert.ok(peak < 12 * MiB, `peak buffer memory ${(peak / MiB).toFixed(1)} MiB`);
  });

  it('maps a missing container and an unreachable endpoint to clear startup errors', async () => {
    const { settings } = await fresh();
    await assert.rejects(new AzureStorage({ ...settings, container: containerNameFor('no-such-container') }).init(), /does not exist/);
    const deadPort = await freePort();
    const dead = new AzureStorage({ ...settings, connection_string: settings.connection_string.replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${deadPort}`) });
    await assert.rejects(dead.init(), (e: unknown) => e instanceof Error && /cannot reach/.test(e.message) && e.cause instanceof BackendUnavailableError);
  });

  it('authenticates with account_url + AZURE_STORAGE_KEY, and with AZURE_STORAGE_SAS_TOKEN', async () => {
    const { settings } = await fresh();
    const parts = Object.fromEntries(settings.connection_string.split(';').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    const accountUrl = parts.BlobEndpoint!;
    const key = parts.AccountKey!;
    // A container SAS: Azurite 3.37.0 answers 500 to Put Block From URL authorised by an account
    // SAS (its account-SAS permission table lacks that operation); Azure itself accepts both.
    const sas = generateBlobSASQueryParameters(
      { containerName: settings.container, permissions: ContainerSASPermissions.parse('racwdl'), expiresOn: new Date(Date.now() + 3600_000) },
      new StorageSharedKeyCredential(parts.AccountName!, key),
    ).toString();
    const saved = { key: process.env.AZURE_STORAGE_KEY, sas: process.env.AZURE_STORAGE_SAS_TOKEN };
    const big = randomBytes(300 * KiB);
    try {
      for (const env of [{ AZURE_STORAGE_KEY: key }, { AZURE_STORAGE_SAS_TOKEN: sas }]) {
        delete process.env.AZURE_STORAGE_KEY;
        delete process.env.AZURE_STORAGE_SAS_TOKEN;
        Object.assign(process.env, env);
        const s = new AzureStorage({ ...settings, connection_string: '', account_url: accountUrl }, SMALL_BLOCKS);
        await s.init();
        await s.healthCheck();
        // A multi-block put exercises the copy-source authorisation of this credential too.
        await committed(s.putObject('bkt', 'cred', bodyOf(big)));
        assert.ok((await readAll(await s.getObject('bkt', 'cred'))).equals(big), Object.keys(env)[0]);
        await s.close();
      }
    } finally {
      delete process.env.AZURE_STORAGE_KEY;
      delete process.env.AZURE_STORAGE_SAS_TOKEN;
      if (saved.key !== undefined) process.env.AZURE_STORAGE_KEY = saved.key;
      if (saved.sas !== undefined) process.env.AZURE_STORAGE_SAS_TOKEN = saved.sas;
    }
  });
});
