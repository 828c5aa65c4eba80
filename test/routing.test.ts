// Address parsing and the route table (spec/s3-api.md §1).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAddress } from '../src/s3/address.js';
import { S3Error } from '../src/s3/errors.js';
import { parseQuery } from '../src/s3/query.js';
import { resolveRoute, ROUTES, type ResourceLevel } from '../src/s3/routes.js';

function route(method: string, level: ResourceLevel, rawQuery = '', headers: Record<string, string> = {}): string {
  return resolveRoute(method, level, parseQuery(rawQuery), headers);
}

function s3Code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof S3Error, `expected S3Error, got ${String(e)}`);
    return e.code;
  }
  assert.fail('expected an S3Error');
}

describe('parseAddress', () => {
  it('splits path-style bucket and key, decoding once', () => {
    assert.deepEqual(parseAddress('/', undefined, []), {});
    assert.deepEqual(parseAddress('/bkt', undefined, []), { bucket: 'bkt' });
    assert.deepEqual(parseAddress('/bkt/', undefined, []), { bucket: 'bkt', key: undefined });
    assert.deepEqual(parseAddress('/bkt/a%20b/c%2Fd', undefined, []), { bucket: 'bkt', key: 'a b/c/d' });
    // '+' in a path is a literal plus; '%2525' decodes once to '%25'.
    assert.deepEqual(parseAddress('/bkt/a+b%2525', undefined, []), { bucket: 'bkt', key: 'a+b%25' });
  });

  it('keeps dot segments and empty segments verbatim', () => {
    assert.equal(parseAddress('/bkt/a/../b', undefined, []).key, 'a/../b');
    assert.equal(parseAddress('/bkt/a//b/./', undefined, []).key, 'a//b/./');
    assert.equal(parseAddress('/bkt/..%2F..%2Fetc', undefined, []).key, '../../etc');
  });

  it('rejects undecodable escapes with InvalidURI', () => {
    assert.equal(s3Code(() => parseAddress('/bkt/a%zz', undefined, [])), 'InvalidURI');
    assert.equal(s3Code(() => parseAddress('/bkt/%C3%28', undefined, [])), 'InvalidURI');
  });

  it('takes the bucket from a virtual host under a configured domain', () => {
    const domains = ['s3.local'];
    assert.deepEqual(parseAddress('/', 'photos.s3.local:9000', domains), { bucket: 'photos', key: undefined });
    assert.deepEqual(parseAddress('/a/b%20c', 'photos.s3.local', domains), { bucket: 'photos', key: 'a/b c' });
    // The bare domain and other hosts stay path-style.
    assert.deepEqual(parseAddress('/bkt/k', 's3.local:9000', domains), { bucket: 'bkt', key: 'k' });
    assert.deepEqual(parseAddress('/bkt/k', '127.0.0.1:9000', domains), { bucket: 'bkt', key: 'k' });
  });
});

describe('parseQuery', () => {
  it('handles bare names, + as space, first value wins', () => {
    const q = parseQuery('uploads&prefix=a+b%2Bc&x=1&x=2&=&empty=');
    assert.equal(q.get('uploads'), '');
    assert.equal(q.get('prefix'), 'a b+c');
    assert.equal(q.get('x'), '1');
    assert.equal(q.get('empty'), '');
  });
});

describe('resolveRoute', () => {
  it('dispatches by method, level, sub-resource and header', () => {
    assert.equal(route('GET', 'service'), 'ListBuckets');
    assert.equal(route('PUT', 'bucket'), 'CreateBucket');
    assert.equal(route('PUT', 'bucket', 'acl'), 'PutBucketAcl');
    assert.equal(route('GET', 'bucket', 'location'), 'GetBucketLocation');
    assert.equal(route('GET', 'bucket', 'list-type=2&prefix=a'), 'ListObjectsV2');
    assert.equal(route('GET', 'bucket', 'list-type=1'), 'ListObjects');
    assert.equal(route('GET', 'bucket', 'uploads='), 'ListMultipartUploads');
    assert.equal(route('POST', 'bucket', 'delete'), 'DeleteObjects');
    assert.equal(route('PUT', 'object'), 'PutObject');
    assert.equal(route('PUT', 'object', 'x-id=PutObject'), 'PutObject');
    assert.equal(route('PUT', 'object', '', { 'x-amz-copy-source': '/a/b' }), 'CopyObject');
    assert.equal(route('PUT', 'object', 'partNumber=1&uploadId=u'), 'UploadPart');
    assert.equal(route('PUT', 'object', 'partNumber=1&uploadId=u', { 'x-amz-copy-source': '/a/b' }), 'UploadPartCopy');
    assert.equal(route('POST', 'object', 'uploads'), 'CreateMultipartUpload');
    assert.equal(route('POST', 'object', 'uploadId=u'), 'CompleteMultipartUpload');
    assert.equal(route('DELETE', 'object', 'uploadId=u'), 'AbortMultipartUpload');
    assert.equal(route('GET', 'object', 'uploadId=u'), 'ListParts');
    assert.equal(route('HEAD', 'object'), 'HeadObject');
  });

  it('answers 501 for known unsupported sub-resources and unrouted POST', () => {
    assert.equal(s3Code(() => route('GET', 'object', 'tagging')), 'NotImplemented');
    assert.equal(s3Code(() => route('PUT', 'bucket', 'versioning')), 'NotImplemented');
    assert.equal(s3Code(() => route('DELETE', 'bucket', 'cors')), 'NotImplemented');
    assert.equal(s3Code(() => route('POST', 'object')), 'NotImplemented');
  });

  it('answers 405 for other methods and for writes to the service root', () => {
    assert.equal(s3Code(() => route('PATCH', 'object')), 'MethodNotAllowed');
    assert.equal(s3Code(() => route('PUT', 'service')), 'MethodNotAllowed');
    assert.equal(s3Code(() => route('OPTIONS', 'bucket')), 'MethodNotAllowed');
  });

  it('has exactly one row per operation, so every operation is reachable', () => {
    const names = ROUTES.map((r) => r.operation);
    assert.equal(new Set(names).size, names.length);
  });
});
