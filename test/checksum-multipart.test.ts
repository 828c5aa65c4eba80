import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createChecksum, type ChecksumAlgorithm } from '../src/checksum/index.js';
import {
  checksumTypeAllowed,
  checksumTypeOfValue,
  compositeChecksum,
  crcCombine,
  defaultChecksumType,
  fullObjectCrc,
} from '../src/checksum/multipart.js';

const CRCS = ['crc32', 'crc32c', 'crc64nvme'] as const;

function oneShot(alg: ChecksumAlgorithm, data: Buffer): string {
  const h = createChecksum(alg);
  h.update(data);
  return h.digestBase64();
}

function asBigint(base64: string): bigint {
  return BigInt(`0x${Buffer.from(base64, 'base64').toString('hex')}`);
}

test('crcCombine equals the one-shot CRC of the concatenation (all three polynomials, edge lengths)', () => {
  for (const alg of CRCS) {
    for (const [lenA, lenB] of [[0, 0], [0, 7], [9, 0], [1, 1], [3, 8], [100, 257], [4096, 1], [1, 70000]] as const) {
      const a = randomBytes(lenA);
      const b = randomBytes(lenB);
      const combined = crcCombine(alg, asBigint(oneShot(alg, a)), asBigint(oneShot(alg, b)), lenB);
      assert.equal(combined, asBigint(oneShot(alg, Buffer.concat([a, b]))), `${alg} ${lenA}+${lenB}`);
    }
  }
});

test('fullObjectCrc of parts (shared and distinct sizes) equals the CRC of the whole object', () => {
  for (const alg of CRCS) {
    const sizes = [5000, 5000, 5000, 123, 0, 77];
    const parts = sizes.map((n) => randomBytes(n));
    const value = fullObjectCrc(alg, parts.map((p) => ({ value: oneShot(alg, p), size: p.length })));
    assert.equal(value, oneShot(alg, Buffer.concat(parts)), alg);
    assert.equal(Buffer.from(value, 'base64').length, alg === 'crc64nvme' ? 8 : 4);
  }
  // A single part is its own full-object CRC; a CRC with leading zero bytes keeps its width.
  assert.equal(fullObjectCrc('crc32', [{ value: 'AAAAAQ==', size: 10 }]), 'AAAAAQ==');
});

test('compositeChecksum hashes the raw part digests and appends -N', () => {
  const parts = [randomBytes(10), randomBytes(20), randomBytes(5)];
  for (const alg of ['sha256', 'sha1'] as const) {
    const digests = parts.map((p) => createHash(alg).update(p).digest());
    const expected = `${createHash(alg).update(Buffer.concat(digests)).digest('base64')}-3`;
    assert.equal(compositeChecksum(alg, digests.map((d) => d.toString('base64'))), expected);
  }
  const crcs = parts.map((p) => oneShot('crc32', p));
  assert.equal(compositeChecksum('crc32', crcs), `${oneShot('crc32', Buffer.concat(crcs.map((c) => Buffer.from(c, 'base64'))))}-3`);
});

test('checksum type rules and type of a stored value', () => {
  assert.equal(checksumTypeAllowed('crc64nvme', 'COMPOSITE'), false);
  assert.equal(checksumTypeAllowed('crc64nvme', 'FULL_OBJECT'), true);
  assert.equal(checksumTypeAllowed('sha256', 'FULL_OBJECT'), false);
  assert.equal(checksumTypeAllowed('sha1', 'COMPOSITE'), true);
  assert.equal(checksumTypeAllowed('crc32', 'FULL_OBJECT'), true);
  assert.equal(checksumTypeAllowed('crc32c', 'COMPOSITE'), true);
  assert.equal(defaultChecksumType('crc64nvme'), 'FULL_OBJECT');
  assert.equal(defaultChecksumType('crc32'), 'COMPOSITE');
  assert.equal(checksumTypeOfValue('AAAAAQ==-12'), 'COMPOSITE');
  assert.equal(checksumTypeOfValue('AAAAAQ=='), 'FULL_OBJECT');
});
