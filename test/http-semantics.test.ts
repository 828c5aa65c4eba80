// Conditional requests and Range resolution (spec/s3-api.md §4.5, §4.6).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluateConditions, resolveRange } from '../src/s3/conditional.js';
import { S3Error } from '../src/s3/errors.js';

const ETAG = '"0123456789abcdef0123456789abcdef"';
const MODIFIED = '2026-02-22T12:00:00.000Z';
const BEFORE = 'Sun, 22 Feb 2026 11:59:59 GMT';
const SAME = 'Sun, 22 Feb 2026 12:00:00 GMT';

describe('evaluateConditions', () => {
  it('If-Match: list, weak and * forms', () => {
    assert.equal(evaluateConditions({ 'if-match': ETAG }, ETAG, MODIFIED), 'proceed');
    assert.equal(evaluateConditions({ 'if-match': '"x", W/' + ETAG }, ETAG, MODIFIED), 'proceed');
    assert.equal(evaluateConditions({ 'if-match': '*' }, ETAG, MODIFIED), 'proceed');
    assert.equal(evaluateConditions({ 'if-match': '"nope"' }, ETAG, MODIFIED), 'precondition-failed');
  });

  it('If-Unmodified-Since only when If-Match is absent', () => {
    assert.equal(evaluateConditions({ 'if-unmodified-since': BEFORE }, ETAG, MODIFIED), 'precondition-failed');
    assert.equal(evaluateConditions({ 'if-unmodified-since': SAME }, ETAG, MODIFIED), 'proceed');
    assert.equal(evaluateConditions({ 'if-match': ETAG, 'if-unmodified-since': BEFORE }, ETAG, MODIFIED), 'proceed');
  });

  it('If-None-Match → 304; If-Modified-Since only without it; bad dates ignored', () => {
    assert.equal(evaluateConditions({ 'if-none-match': ETAG }, ETAG, MODIFIED), 'not-modified');
    assert.equal(evaluateConditions({ 'if-none-match': '*' }, ETAG, MODIFIED), 'not-modified');
    assert.equal(evaluateConditions({ 'if-none-match': '"other"' }, ETAG, MODIFIED), 'proceed');
    assert.equal(evaluateConditions({ 'if-modified-since': SAME }, ETAG, MODIFIED), 'not-modified');
    assert.equal(evaluateConditions({ 'if-modified-since': BEFORE }, ETAG, MODIFIED), 'proceed');
    assert.equal(evaluateConditions({ 'if-none-match': '"other"', 'if-modified-since': SAME }, ETAG, MODIFIED), 'proceed');
    assert.equal(evaluateConditions({ 'if-modified-since': 'garbage' }, ETAG, MODIFIED), 'proceed');
  });
});

function rangeError(value: string, size: number): S3Error {
  try {
    resolveRange(value, size);
  } catch (e) {
    assert.ok(e instanceof S3Error);
    return e;
  }
  assert.fail(`expected InvalidRange for ${value}`);
}

describe('resolveRange', () => {
  it('resolves closed, open and suffix ranges', () => {
    assert.deepEqual(resolveRange('bytes=0-0', 10), { start: 0, end: 0 });
    assert.deepEqual(resolveRange('bytes=2-5', 10), { start: 2, end: 5 });
    assert.deepEqual(resolveRange('bytes=2-100', 10), { start: 2, end: 9 });
    assert.deepEqual(resolveRange('bytes=7-', 10), { start: 7, end: 9 });
    assert.deepEqual(resolveRange('bytes=-3', 10), { start: 7, end: 9 });
    assert.deepEqual(resolveRange('bytes=-30', 10), { start: 0, end: 9 });
  });

  it('ignores absent, non-bytes, unparsable and multi-range headers', () => {
    assert.equal(resolveRange(undefined, 10), undefined);
    assert.equal(resolveRange('items=0-1', 10), undefined);
    assert.equal(resolveRange('bytes=a-b', 10), undefined);
    assert.equal(resolveRange('bytes=0-1,3-4', 10), undefined);
  });

  it('answers 416 InvalidRange with Content-Range for unsatisfiable ranges', () => {
    for (const [v, size] of [['bytes=10-', 10], ['bytes=5-2', 10], ['bytes=-0', 10], ['bytes=-', 10], ['bytes=0-0', 0], ['bytes=-5', 0]] as const) {
      const e = rangeError(v, size);
      assert.equal(e.code, 'InvalidRange');
      assert.equal(e.status, 416);
      assert.equal(e.headers['Content-Range'], `bytes */${size}`);
    }
  });
});
