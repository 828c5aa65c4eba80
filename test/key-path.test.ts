import assert from 'node:assert/strict';
import { resolve, sep } from 'node:path';
import { describe, it } from 'node:test';
import {
  KeyPathTooLongError,
  UnsafePathError,
  decodeObjectRelPath,
  objectRelPath,
  partRelPath,
  uploadRelDir,
} from '../src/storage/key-path.js';

const HOSTILE_KEYS = [
  '..',
  '.',
  '../../etc/passwd',
  'a/../../b',
  'a//b',
  'a/./b',
  'photos/',
  '/',
  '//',
  '%41',
  '%',
  '%2E',
  '/leading',
  'trailing/..',
  'nul\0byte',
  '\0',
  'back\\slash\\..',
  '...',
  '.hidden',
  'ünïcødé/日本語/😀',
  '',
];

describe('objectRelPath', () => {
  it('keeps ordinary keys in the upstream layout', () => {
    assert.equal(objectRelPath('bkt', 'file.txt'), 'bkt/file.txt');
    assert.equal(objectRelPath('bkt', 'dir/sub/file.txt'), 'bkt/dir/sub/file.txt');
    assert.equal(objectRelPath('bkt', 'a%b/c%'), 'bkt/a%b/c%');
    assert.equal(objectRelPath('bkt', '...'), 'bkt/...');
    assert.equal(objectRelPath('bkt', '.hidden/x'), 'bkt/.hidden/x');
    assert.equal(objectRelPath('bkt', 'ünï/😀'), 'bkt/ünï/😀');
  });

  it('escapes empty, dot, dot-dot, %-prefixed and NUL segments as uppercase hex', () => {
    assert.equal(objectRelPath('bkt', 'photos/'), 'bkt/photos/%');
    assert.equal(objectRelPath('bkt', '.'), 'bkt/%2E');
    assert.equal(objectRelPath('bkt', '..'), 'bkt/%2E2E');
    assert.equal(objectRelPath('bkt', '../../etc/passwd'), 'bkt/%2E2E/%2E2E/etc/passwd');
    assert.equal(objectRelPath('bkt', 'a//b'), 'bkt/a/%/b');
    assert.equal(objectRelPath('bkt', '/leading'), 'bkt/%/leading');
    assert.equal(objectRelPath('bkt', '%41'), 'bkt/%253431');
    assert.equal(objectRelPath('bkt', 'a\0b'), 'bkt/%610062');
    assert.equal(objectRelPath('bkt', '%é'), 'bkt/%25C3A9');
  });

  it('round-trips hostile keys', () => {
    for (const key of HOSTILE_KEYS) {
      const rel = objectRelPath('bkt', key);
      assert.deepEqual(decodeObjectRelPath(rel), { bucket: 'bkt', key }, JSON.stringify(key));
    }
  });

  it('maps distinct keys to distinct paths', () => {
    const paths = new Set(HOSTILE_KEYS.map((k) => objectRelPath('bkt', k)));
    assert.equal(paths.size, HOSTILE_KEYS.length);
  });

  it('never resolves outside root/bucket and never yields NUL, "." or ".." components', () => {
    const root = resolve('/srv/objects');
    for (const key of HOSTILE_KEYS) {
      const rel = objectRelPath('bkt', key);
      assert.ok(resolve(root, rel).startsWith(root + sep + 'bkt' + sep), JSON.stringify(key));
      assert.ok(!rel.includes('\0'));
      for (const part of rel.split('/')) assert.ok(part !== '' && part !== '.' && part !== '..', JSON.stringify(key));
    }
  });

  it('throws KeyPathTooLongError for a stored segment over 255 bytes', () => {
    assert.equal(objectRelPath('bkt', 'x'.repeat(255)), 'bkt/' + 'x'.repeat(255));
    assert.throws(() => objectRelPath('bkt', 'x'.repeat(256)), KeyPathTooLongError);
    assert.throws(() => objectRelPath('bkt', 'ok/' + 'é'.repeat(128)), KeyPathTooLongError); // 256 bytes
    // Escaping doubles the size: 128 bytes starting with % become 257 on disk.
    assert.throws(() => objectRelPath('bkt', '%'.repeat(128)), KeyPathTooLongError);
    // A 1024-byte key is fine when every segment fits.
    const key = ['a'.repeat(254), 'b'.repeat(255), 'c'.repeat(255), 'd'.repeat(255), 'e'].join('/');
    assert.equal(Buffer.byteLength(key), 1024);
    assert.equal(decodeObjectRelPath(objectRelPath('bkt', key)).key, key);
  });

  it('rejects keys with lone surrogates (no reversible UTF-8 form)', () => {
    assert.throws(() => objectRelPath('bkt', 'a\uD800b'), UnsafePathError);
  });

  it('rejects unsafe bucket names', () => {
    for (const bucket of ['', '.', '..', '.tmp', '.multipart', 'a/b', 'a\0b']) {
      assert.throws(() => objectRelPath(bucket, 'k'), UnsafePathError, JSON.stringify(bucket));
    }
  });
});

describe('decodeObjectRelPath', () => {
  it('rejects non-canonical stored paths', () => {
    for (const rel of ['bkt/%41', 'bkt/%2e', 'bkt/%2E2', 'bkt/%ZZ', 'bkt/a/../b', 'bkt/./x', 'bkt//x', 'bkt', '../x/y', 'bkt/%FF']) {
      assert.throws(() => decodeObjectRelPath(rel), UnsafePathError, rel);
    }
  });
});

describe('part paths', () => {
  it('uses .multipart/{upload_id}/{plain decimal}', () => {
    assert.equal(partRelPath('abc123', 1), '.multipart/abc123/1');
    assert.equal(partRelPath('abc123', 10000), '.multipart/abc123/10000');
    assert.equal(uploadRelDir('abc123'), '.multipart/abc123');
  });

  it('rejects unsafe upload ids and part numbers', () => {
    for (const id of ['', '.', '..', 'a/b', '../x', 'a\0']) {
      assert.throws(() => partRelPath(id, 1), UnsafePathError, JSON.stringify(id));
      assert.throws(() => uploadRelDir(id), UnsafePathError, JSON.stringify(id));
    }
    for (const n of [0, -1, 1.5, 10001, Number.NaN]) assert.throws(() => partRelPath('id', n), UnsafePathError, String(n));
  });
});
