import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Crc32cJs, Crc64NvmeJs } from '@aws-sdk/checksums/crc';
import {
  checksumHeaderName,
  createChecksum,
  parseChecksumAlgorithm,
  CHECKSUM_ALGORITHMS,
  type ChecksumAlgorithm,
} from '../src/checksum/index.js';
import { crc32c } from '../src/checksum/crc32c.js';

const CHECK = Buffer.from('123456789');

function hexToBase64(hex: string): string {
  return Buffer.from(hex, 'hex').toString('base64');
}

function oneShot(alg: ChecksumAlgorithm, data: Buffer): string {
  const h = createChecksum(alg);
  h.update(data);
  return h.digestBase64();
}

test('standard check values for "123456789" (base64 of the big-endian digest)', () => {
  assert.equal(oneShot('crc32', CHECK), hexToBase64('cbf43926'));
  assert.equal(oneShot('crc32c', CHECK), hexToBase64('e3069283'));
  assert.equal(oneShot('crc64nvme', CHECK), hexToBase64('ae8b14860a799888'));
  assert.equal(oneShot('sha1', CHECK), createHash('sha1').update(CHECK).digest('base64'));
  assert.equal(oneShot('sha256', CHECK), createHash('sha256').update(CHECK).digest('base64'));
});

test('empty input digests', () => {
  assert.equal(oneShot('crc32', Buffer.alloc(0)), 'AAAAAA==');
  assert.equal(oneShot('crc32c', Buffer.alloc(0)), 'AAAAAA==');
  assert.equal(oneShot('crc64nvme', Buffer.alloc(0)), 'AAAAAAAAAAA=');
});

test('the JS SDK trailer value: CRC32 of "chunk-one chunk-two" is s4R9Pg==', () => {
  // platform.md §6: body "chunk-one " + "chunk-two" carried trailer x-amz-checksum-crc32:s4R9Pg==
  assert.equal(oneShot('crc32', Buffer.from('chunk-one chunk-two')), 's4R9Pg==');
});

test('the AWS documented trailer vector: CRC32C of 66560 x "a" is sOO8/Q==', () => {
  assert.equal(oneShot('crc32c', Buffer.alloc(66560, 'a')), 'sOO8/Q==');
});

test('incremental updates across odd splits equal one shot, for every algorithm', () => {
  const data = randomBytes(100_003);
  const splits = [1, 3, 7, 8, 9, 15, 16, 17, 63, 64, 65, 4095, 65537];
  for (const alg of CHECKSUM_ALGORITHMS) {
    const expected = oneShot(alg, data);
    for (const step of splits) {
      const h = createChecksum(alg);
      for (let i = 0; i < data.length; i += step) h.update(data.subarray(i, i + step));
      assert.equal(h.digestBase64(), expected, `${alg} with ${step}-byte pieces`);
    }
    // Irregular splits that misalign the 8-byte blocks.
    const h = createChecksum(alg);
    let i = 0;
    let step = 1;
    while (i < data.length) {
      h.update(data.subarray(i, i + step));
      i += step;
      step = (step * 7 + 3) % 1001;
    }
    assert.equal(h.digestBase64(), expected, `${alg} irregular`);
  }
});

test('CRC32C and CRC64NVME agree with the AWS SDK implementations on random data', async () => {
  for (const size of [0, 1, 7, 8, 9, 255, 4096, 65_539, 1 << 20]) {
    const data = randomBytes(size);
    const sdk32c = new Crc32cJs();
    sdk32c.update(data);
    assert.equal(oneShot('crc32c', data), Buffer.from(await sdk32c.digest()).toString('base64'), `crc32c ${size}`);
    const sdk64 = new Crc64NvmeJs();
    sdk64.update(data);
    assert.equal(oneShot('crc64nvme', data), Buffer.from(await sdk64.digest()).toString('base64'), `crc64nvme ${size}`);
  }
});

test('crc32c() continues from a previous value', () => {
  const a = randomBytes(1001);
  const b = randomBytes(77);
  assert.equal(crc32c(b, crc32c(a)), crc32c(Buffer.concat([a, b])));
});

test('header names and algorithm parsing', () => {
  assert.equal(checksumHeaderName('crc32'), 'x-amz-checksum-crc32');
  assert.equal(checksumHeaderName('crc64nvme'), 'x-amz-checksum-crc64nvme');
  assert.equal(parseChecksumAlgorithm('CRC32'), 'crc32');
  assert.equal(parseChecksumAlgorithm('crc64nvme'), 'crc64nvme');
  assert.equal(parseChecksumAlgorithm('CRC64NVME'), 'crc64nvme');
  assert.equal(parseChecksumAlgorithm('Sha256'), 'sha256');
  assert.equal(parseChecksumAlgorithm('x-amz-checksum-crc32c'), 'crc32c');
  assert.equal(parseChecksumAlgorithm('X-Amz-Checksum-SHA1'), 'sha1');
  assert.equal(parseChecksumAlgorithm('md5'), null);
  assert.equal(parseChecksumAlgorithm('x-amz-checksum-'), null);
  assert.equal(parseChecksumAlgorithm(''), null);
});
