// Large bodies: MD5 and payload SHA-256 computed by the hash pool from the staged file, verified
// before commit (ingest.finish), with the same answers as inline hashing.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { PayloadMode } from '../src/auth/sigv4.js';
import { createIngest } from '../src/ingest/ingest.js';
import { S3Error } from '../src/s3/errors.js';
import { stageVerified } from '../src/s3/publish.js';
import { LocalStorage } from '../src/storage/local.js';
import { closeHashPool } from '../src/workers/pool.js';

const BODY = randomBytes(3 * 1024 * 1024 + 17);
const MD5 = createHash('md5').update(BODY).digest();
const SHA256 = createHash('sha256').update(BODY).digest('hex');

describe('digests from the staged file (hash pool)', () => {
  let dir: string;
  let storage: LocalStorage;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bleepstore-pool-digests-'));
    storage = new LocalStorage(dir);
    await storage.init();
    await storage.createBucket('b');
  });
  after(async () => {
    await closeHashPool();
    await rm(dir, { recursive: true, force: true });
  });

  function ingestOf(payload: PayloadMode, headers: Record<string, string>, poolDigestMinBytes: number | undefined) {
    return createIngest(Readable.from([BODY.subarray(0, 1000), BODY.subarray(1000)]), {
      payload,
      headers: { 'content-length': String(BODY.length), ...headers },
      maxSize: 1 << 30,
      poolDigestMinBytes,
    });
  }

  it('gives the same MD5 as inline hashing, above and below the threshold', async () => {
    for (const threshold of [1024 * 1024, 64 * 1024 * 1024, undefined]) {
      const { write, result } = await stageVerified(ingestOf({ kind: 'sha256', expectedHex: SHA256 }, { 'content-md5': MD5.toString('base64') }, threshold), (body) =>
        storage.putObject('b', 'k', body),
      );
      assert.equal(result.md5Hex, MD5.toString('hex'), `threshold ${threshold}`);
      assert.equal(result.size, BODY.length);
      await write.discard();
    }
  });

  it('rejects a wrong Content-MD5 or payload hash found by the pool, and leaves no staged file', async () => {
    const cases: Array<[PayloadMode, Record<string, string>, string]> = [
      [{ kind: 'unsigned' }, { 'content-md5': Buffer.alloc(16).toString('base64') }, 'BadDigest'],
      [{ kind: 'sha256', expectedHex: '0'.repeat(64) }, {}, 'XAmzContentSHA256Mismatch'],
    ];
    for (const [payload, headers, code] of cases) {
      await assert.rejects(
        stageVerified(ingestOf(payload, headers, 1024 * 1024), (body) => storage.putObject('b', 'bad', body)),
        (e: unknown) => e instanceof S3Error && e.code === code,
      );
      assert.deepEqual(await readdir(join(dir, '.tmp')), []);
      assert.equal(await storage.objectExists('b', 'bad'), false);
    }
  });
});
