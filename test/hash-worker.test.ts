// The piscina hash worker must give exactly the digests that inline node:crypto gives,
// for whole files (by path) and for single chunks, whether chunks are copied or transferred.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { closeHashPool, hashChunk, hashFile } from '../src/workers/pool.js';

const dir = mkdtempSync(join(tmpdir(), 'bleepstore-hash-worker-'));
after(async () => {
  await closeHashPool();
  rmSync(dir, { recursive: true, force: true });
});

function inline(alg: string, data: Uint8Array): string {
  return createHash(alg).update(data).digest('hex');
}

describe('hash worker', () => {
  it('hashes a random multi-buffer file like inline crypto', async () => {
    // 3 MiB + 123 bytes: spans several 1 MiB reads and ends mid-buffer.
    const data = randomBytes(3 * 1024 * 1024 + 123);
    const path = join(dir, 'random.bin');
    writeFileSync(path, data);
    const got = await hashFile(path, ['md5', 'sha1', 'sha256']);
    assert.equal(got.size, data.length);
    assert.equal(got.md5Hex, inline('md5', data));
    assert.equal(got.sha1Hex, inline('sha1', data));
    assert.equal(got.sha256Hex, inline('sha256', data));
  });

  it('hashes an empty file', async () => {
    const path = join(dir, 'empty.bin');
    writeFileSync(path, Buffer.alloc(0));
    const got = await hashFile(path, ['md5']);
    assert.deepEqual(got, { size: 0, md5Hex: 'd41d8cd98f00b204e9800998ecf8427e' });
  });

  it('rejects for a missing file', async () => {
    await assert.rejects(hashFile(join(dir, 'does-not-exist'), ['md5']), /ENOENT/);
  });

  it('hashes copied chunks, including views into a larger buffer', async () => {
    const big = randomBytes(2 * 1024 * 1024);
    const chunks = [big.subarray(0, 512 * 1024), big.subarray(512 * 1024 + 7, 1024 * 1024), Buffer.from('abc'), Buffer.alloc(0)];
    for (const chunk of chunks) {
      const got = await hashChunk(chunk, ['md5', 'sha256']);
      assert.equal(got.size, chunk.length);
      assert.equal(got.md5Hex, inline('md5', chunk));
      assert.equal(got.sha256Hex, inline('sha256', chunk));
    }
    // Copy mode leaves the caller's buffer usable.
    assert.equal(big.length, 2 * 1024 * 1024);
  });

  it('hashes transferred chunks and detaches the sender copy', async () => {
    const chunk = Buffer.from(randomBytes(512 * 1024)); // owns its whole ArrayBuffer
    assert.equal(chunk.byteLength, chunk.buffer.byteLength);
    const expected = inline('md5', chunk);
    const got = await hashChunk(chunk, ['md5'], { transfer: true });
    assert.equal(got.md5Hex, expected);
    assert.equal(chunk.buffer.byteLength, 0, 'transferred buffer is detached');
  });

  it('copies rather than transfers a pooled Buffer even when asked to transfer', async () => {
    const small = Buffer.from('pooled buffers share one ArrayBuffer'); // from Node's 8 KiB pool
    const neighbour = Buffer.from('neighbour in the same pool');
    const got = await hashChunk(small, ['sha256'], { transfer: true });
    assert.equal(got.sha256Hex, inline('sha256', Buffer.from('pooled buffers share one ArrayBuffer')));
    assert.equal(neighbour.toString(), 'neighbour in the same pool');
  });

  it('serves many concurrent chunk tasks correctly', async () => {
    const chunks = Array.from({ length: 32 }, (_, i) => randomBytes(1000 + i * 997));
    const results = await Promise.all(chunks.map((c) => hashChunk(c, ['md5'])));
    results.forEach((r, i) => assert.equal(r.md5Hex, inline('md5', chunks[i] as Buffer)));
  });
});
