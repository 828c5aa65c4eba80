// Negative tests for every S3 operation of the route table, hand-signed and sent raw, once per
// HTTP engine: each case checks the status and the spec's <Code> (errors-and-headers.md §2), and
// after each case the server must still serve (a signed HeadBucket answers 200). Includes XXE
// payloads, a 10,001-part Complete, a 1,001-key DeleteObjects, Complete naming a part never
// uploaded, copy-source '..' tricks and racing conditional writes.
import { describe, before, after, afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ENGINES, startServer, sleep, type ServerHandle } from './harness.js';
import { MiB, listFilesRecursive } from './files.js';
import { signHeaders, signedRequest, send, encodeKeyPath, errorCode, showResponse, sha256Hex, type RawResponse } from './raw-http.js';

const md5Hex = (data: Buffer): string => createHash('md5').update(data).digest('hex');
const md5B64 = (data: Buffer): string => createHash('md5').update(data).digest('base64');

function expectError(res: RawResponse, status: number, code: string | readonly string[], what = ''): string {
  const codes = typeof code === 'string' ? [code] : code;
  const label = `${what ? what + ': ' : ''}expected ${status} ${codes.join('|')}, got ${showResponse(res)}`;
  assert.equal(res.status, status, label);
  const got = errorCode(res.body) ?? '';
  assert.ok(codes.includes(got), label);
  assert.match(String(res.headers['content-type']), /^application\/xml/, `${label} (content-type)`);
  assert.match(res.body.toString('utf8'), new RegExp(`<RequestId>${String(res.headers['x-amz-request-id'])}</RequestId>`), `${label} (RequestId)`);
  return got;
}

/** HEAD errors: status only, no body. */
function expectHeadError(res: RawResponse, status: number, what: string): void {
  assert.equal(res.status, status, `${what}: ${showResponse(res)}`);
  assert.equal(res.body.length, 0, `${what}: HEAD error carried a body`);
}

function expectOk(res: RawResponse, what: string, status = 200): RawResponse {
  assert.equal(res.status, status, `${what}: ${showResponse(res)}`);
  return res;
}

function xmlText(body: Buffer, tag: string): string | undefined {
  return new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(body.toString('utf8'))?.[1];
}

// XML attack bodies. None may be expanded, fetched or echoed.
const XXE_FILE = (root: string, inner: string): Buffer =>
  Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE ${root} [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n${inner.replace('XXE', '&xxe;')}`);
const XXE_REMOTE_DTD = (root: string, inner: string): Buffer =>
  Buffer.from(`<?xml version="1.0"?><!DOCTYPE ${root} SYSTEM "http://127.0.0.1:9/evil.dtd">${inner.replace('XXE', 'x')}`);
const BILLION_LAUGHS = (root: string, inner: string): Buffer => {
  const entities = ['<!ENTITY l0 "lol">'];
  for (let i = 1; i <= 9; i++) entities.push(`<!ENTITY l${i} "${`&l${i - 1};`.repeat(10)}">`);
  return Buffer.from(`<?xml version="1.0"?><!DOCTYPE ${root} [${entities.join('')}]>${inner.replace('XXE', '&l9;')}`);
};
const XML_ATTACKS = [
  ['XXE file entity', XXE_FILE],
  ['external DTD', XXE_REMOTE_DTD],
  ['billion laughs', BILLION_LAUGHS],
] as const;

function assertNoLeak(res: RawResponse, what: string): void {
  const text = res.body.toString('utf8');
  assert.doesNotMatch(text, /root:x:0:0|lollollol/, `${what}: entity content leaked into the response`);
}

const completeXml = (parts: Array<[number | string, string]>): Buffer =>
  Buffer.from(
    `<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${parts
      .map(([n, etag]) => `<Part><PartNumber>${n}</PartNumber><ETag>${etag}</ETag></Part>`)
      .join('')}</CompleteMultipartUpload>`,
  );
const deleteXml = (keys: string[], quiet = false): Buffer =>
  Buffer.from(`<Delete><Quiet>${quiet}</Quiet>${keys.map((k) => `<Object><Key>${k}</Key></Object>`).join('')}</Delete>`);
const ACL_XML = (grantsXml: string): Buffer =>
  Buffer.from(
    `<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>o</ID></Owner><AccessControlList>${grantsXml}</AccessControlList></AccessControlPolicy>`,
  );
const UNKNOWN_UPLOAD = '01900000-0000-7000-8000-000000000000';

for (const engine of ENGINES) {
  describe(`s3api negative [${engine}]`, () => {
    let server: ServerHandle;
    const B = `neg-${engine}`;
    const SENTINEL = randomBytes(1000);
    const path = (key?: string, bucket = B): string => (key === undefined ? `/${bucket}` : `/${bucket}/${encodeKeyPath(key)}`);
    type Req = { query?: Record<string, string>; headers?: Record<string, string>; body?: Buffer };
    const call = async (method: string, p: string, r: Req = {}): Promise<RawResponse> => {
      try {
        return await signedRequest(server.endpoint, { method, path: p, query: r.query, headers: r.headers, body: r.body });
      } catch (e) {
        // A transport error usually means the server crashed: say so, with its last words.
        const alive = await server.checkAlive();
        throw new Error(`${method} ${p} ${JSON.stringify(r.query ?? {})} ${JSON.stringify(r.headers ?? {})}: ${(e as Error).message}; ` +
          `server ${alive ? 'still alive' : `DIED:\n${server.currentRunLog().slice(-2500)}`}`);
      }
    };
    const put = (key: string, body: Buffer, headers: Record<string, string> = {}): Promise<RawResponse> => call('PUT', path(key), { headers, body });
    const get = (key: string, r: Req = {}): Promise<RawResponse> => call('GET', path(key), r);
    const createUpload = async (key: string): Promise<string> => {
      const res = expectOk(await call('POST', path(key), { query: { uploads: '' } }), `create upload ${key}`);
      const id = xmlText(res.body, 'UploadId');
      assert.ok(id);
      return id;
    };
    const uploadPart = async (key: string, uploadId: string, n: number, body: Buffer): Promise<string> => {
      const res = expectOk(await call('PUT', path(key), { query: { partNumber: String(n), uploadId }, body }), `part ${n}`);
      return String(res.headers['etag']);
    };

    before(async () => {
      server = await startServer(engine);
      expectOk(await call('PUT', path()), 'create bucket');
      expectOk(await put('sentinel', SENTINEL), 'put sentinel');
    });
    afterEach(async () => {
      // The server keeps serving: process alive, and a signed request right after succeeds. A dead
      // server is restarted (same data dir) so one crash does not hide the remaining cases.
      if (!(await server.checkAlive())) {
        const lastWords = server.currentRunLog().slice(-3000);
        await server.restart();
        assert.fail(`the server died during this case (restarted for the next one):\n${lastWords}`);
      }
      expectOk(await call('HEAD', path()), 'HeadBucket after the case');
    });
    after(async () => {
      if (server?.isRunning()) {
        const res = await get('sentinel');
        assert.equal(res.status, 200, 'sentinel lost');
        assert.ok(res.body.equals(SENTINEL), 'sentinel bytes changed');
      }
      await server?.stop();
    });

    test('routing: unknown methods 405, unsupported sub-resources and bare POSTs 501, undecodable paths InvalidURI', async () => {
      expectError(await call('PUT', '/'), 405, 'MethodNotAllowed', 'PUT /');
      expectError(await call('PATCH', path()), 405, 'MethodNotAllowed', 'PATCH bucket');
      expectError(await call('PATCH', path('k')), 405, 'MethodNotAllowed', 'PATCH object');
      expectError(await call('PUT', path(), { query: { tagging: '' }, body: Buffer.from('<Tagging/>') }), 501, 'NotImplemented', 'PUT ?tagging');
      expectError(await call('DELETE', path(), { query: { cors: '' } }), 501, 'NotImplemented', 'DELETE ?cors must not delete the bucket');
      expectError(await call('GET', path('sentinel'), { query: { retention: '' } }), 501, 'NotImplemented', 'GET object ?retention');
      expectError(await call('POST', path(), { body: Buffer.from('x') }), 501, 'NotImplemented', 'POST bucket without ?delete');
      expectError(await call('POST', path('k'), { body: Buffer.from('x') }), 501, 'NotImplemented', 'POST object without sub-resource');
      expectError(await call('GET', `/${B}/bad%zzescape`), 400, 'InvalidURI', 'undecodable escape');
      expectError(await call('GET', `/${B}/bad%C3%28utf8`), 400, 'InvalidURI', 'invalid UTF-8');
      expectError(await call('GET', '/', { query: { 'max-buckets': '0' } }), 400, 'InvalidArgument', 'max-buckets=0');
    });

    test('CreateBucket: invalid names, malformed and hostile bodies, conflicting ACL headers', async () => {
      for (const name of ['ab', 'Upper', 'under_score', '192.168.1.1', 'a..b', 'xn--abc', '-dash', 'dash-', 'x'.repeat(64), 'foo-s3alias', 'bar--ol-s3']) {
        const res = await call('PUT', `/${name}`);
        expectError(res, 400, 'InvalidBucketName', `bucket ${name}`);
        assert.equal(xmlText(res.body, 'BucketName'), name);
      }
      expectError(await call('PUT', '/new-bucket-1', { body: Buffer.from('not xml') }), 400, 'MalformedXML', 'non-XML body');
      expectError(await call('PUT', '/new-bucket-1', { body: Buffer.from('<Other/>') }), 400, 'MalformedXML', 'wrong root');
      for (const [label, attack] of XML_ATTACKS) {
        const res = await call('PUT', '/new-bucket-1', { body: attack('CreateBucketConfiguration', '<CreateBucketConfiguration><LocationConstraint>XXE</LocationConstraint></CreateBucketConfiguration>') });
        expectError(res, 400, 'MalformedXML', label);
        assertNoLeak(res, label);
      }
      expectError(await call('PUT', '/new-bucket-1', { headers: { 'x-amz-acl': 'private', 'x-amz-grant-read': 'id="abc"' } }), 400, 'InvalidArgument', 'canned + grant');
      expectError(await call('PUT', '/new-bucket-1', { headers: { 'x-amz-acl': 'world-writable' } }), 400, 'InvalidArgument', 'unknown canned ACL');
      // None of those may have created the bucket.
      expectHeadError(await call('HEAD', '/new-bucket-1'), 404, 'bucket created by a rejected request');
      // Creating an existing bucket of ours in us-east-1 is 200.
      expectOk(await call('PUT', path()), 'CreateBucket again');
    });

    test('DeleteBucket, HeadBucket, GetBucketLocation, GetBucketAcl, PutBucketAcl: missing bucket and bad input', async () => {
      expectError(await call('DELETE', '/no-such-bucket'), 404, 'NoSuchBucket', 'DeleteBucket missing');
      expectError(await call('DELETE', path()), 409, 'BucketNotEmpty', 'DeleteBucket non-empty');
      expectHeadError(await call('HEAD', '/no-such-bucket'), 404, 'HeadBucket missing');
      expectError(await call('GET', '/no-such-bucket', { query: { location: '' } }), 404, 'NoSuchBucket', 'GetBucketLocation missing');
      expectError(await call('GET', '/no-such-bucket', { query: { acl: '' } }), 404, 'NoSuchBucket', 'GetBucketAcl missing');
      expectError(await call('PUT', '/no-such-bucket', { query: { acl: '' }, headers: { 'x-amz-acl': 'private' } }), 404, 'NoSuchBucket', 'PutBucketAcl missing');
      expectError(await call('PUT', path(), { query: { acl: '' }, body: Buffer.from('<AccessControlPolicy><Owner>') }), 400, 'MalformedACLError', 'PutBucketAcl truncated XML');
      for (const [label, attack] of XML_ATTACKS) {
        const res = await call('PUT', path(), { query: { acl: '' }, body: attack('AccessControlPolicy', ACL_XML('<Grant><Grantee><ID>XXE</ID></Grantee><Permission>READ</Permission></Grant>').toString()) });
        expectError(res, 400, 'MalformedACLError', `PutBucketAcl ${label}`);
        assertNoLeak(res, label);
      }
      expectError(await call('PUT', path(), { query: { acl: '' }, headers: { 'x-amz-acl': 'public-read', 'x-amz-grant-write': 'uri="http://acs.amazonaws.com/groups/global/AllUsers"' } }), 400, 'InvalidArgument', 'PutBucketAcl canned + grant');
      expectError(await call('PUT', path(), { query: { acl: '' }, headers: { 'x-amz-acl': 'nope' } }), 400, 'InvalidArgument', 'PutBucketAcl unknown canned');
      // The ACL is unchanged by the rejected requests: still owner FULL_CONTROL only.
      const acl = expectOk(await call('GET', path(), { query: { acl: '' } }), 'GetBucketAcl').body.toString();
      assert.equal(acl.match(/<Grant>/g)?.length, 1, acl);
      assert.match(acl, /FULL_CONTROL/);
    });

    test('ListObjects V1/V2 and ListMultipartUploads: missing bucket, bad parameters', async () => {
      expectError(await call('GET', '/no-such-bucket'), 404, 'NoSuchBucket', 'ListObjects missing');
      expectError(await call('GET', '/no-such-bucket', { query: { 'list-type': '2' } }), 404, 'NoSuchBucket', 'ListObjectsV2 missing');
      expectError(await call('GET', '/no-such-bucket', { query: { uploads: '' } }), 404, 'NoSuchBucket', 'ListMultipartUploads missing');
      expectError(await call('GET', path(), { query: { 'max-keys': '-5' } }), 400, 'InvalidArgument', 'max-keys=-5');
      expectError(await call('GET', path(), { query: { 'list-type': '2', 'max-keys': 'ten' } }), 400, 'InvalidArgument', 'max-keys=ten');
      expectError(await call('GET', path(), { query: { 'list-type': '2', 'encoding-type': 'gzip' } }), 400, 'InvalidArgument', 'encoding-type=gzip');
      expectError(await call('GET', path(), { query: { 'list-type': '2', 'continuation-token': '%%%' } }), 400, 'InvalidArgument', 'bad token');
      expectError(await call('GET', path(), { query: { uploads: '', 'encoding-type': 'base64' } }), 400, 'InvalidArgument', 'uploads encoding-type');
    });

    test('DeleteObjects: 1,001 keys, none, malformed, XXE, bad Content-MD5, missing bucket; nothing deleted', async () => {
      const keys = Array.from({ length: 1001 }, (_, i) => (i === 500 ? 'sentinel' : `k${i}`));
      const tooMany = deleteXml(keys);
      expectError(await call('POST', path(), { query: { delete: '' }, body: tooMany, headers: { 'content-md5': md5B64(tooMany) } }), 400, 'MalformedXML', '1,001 keys');
      expectOk(await call('HEAD', path('sentinel')), 'sentinel survives a rejected 1,001-key delete');
      expectError(await call('POST', path(), { query: { delete: '' }, body: Buffer.from('<Delete><Quiet>true</Quiet></Delete>') }), 400, 'MalformedXML', 'zero keys');
      expectError(await call('POST', path(), { query: { delete: '' }, body: Buffer.from('<Delete><Object><Key>a</Key></Object>') }), 400, 'MalformedXML', 'unclosed');
      expectError(await call('POST', path(), { query: { delete: '' }, body: Buffer.from('<Remove><Object><Key>a</Key></Object></Remove>') }), 400, 'MalformedXML', 'wrong root');
      expectError(await call('POST', path(), { query: { delete: '' }, body: Buffer.from('<Delete><Object><Key></Key></Object></Delete>') }), 400, 'MalformedXML', 'empty key');
      for (const [label, attack] of XML_ATTACKS) {
        const res = await call('POST', path(), { query: { delete: '' }, body: attack('Delete', '<Delete><Object><Key>XXE</Key></Object><Object><Key>sentinel</Key></Object></Delete>') });
        expectError(res, 400, 'MalformedXML', `DeleteObjects ${label}`);
        assertNoLeak(res, label);
      }
      const one = deleteXml(['sentinel']);
      expectError(await call('POST', path(), { query: { delete: '' }, body: one, headers: { 'content-md5': 'not base64!' } }), 400, 'InvalidDigest', 'Content-MD5 not base64');
      expectError(await call('POST', path(), { query: { delete: '' }, body: one, headers: { 'content-md5': md5B64(Buffer.from('other')) } }), 400, 'BadDigest', 'Content-MD5 mismatch');
      expectError(await call('POST', '/no-such-bucket', { query: { delete: '' }, body: one }), 404, 'NoSuchBucket', 'missing bucket');
      expectOk(await call('HEAD', path('sentinel')), 'sentinel survives every rejected delete');
      // Exactly 1,000 keys is fine; missing keys are reported as deleted.
      const thousand = deleteXml(keys.filter((k) => k !== 'sentinel'), true);
      const ok = expectOk(await call('POST', path(), { query: { delete: '' }, body: thousand }), '1,000 keys');
      assert.doesNotMatch(ok.body.toString(), /<Error>/);
    });

    test('PutObject: missing bucket, long key, bad digests, ACL, metadata, storage class, sha256, If-None-Match', async () => {
      const body = Buffer.from('hello');
      expectError(await call('PUT', path('k', 'no-such-bucket'), { body }), 404, 'NoSuchBucket', 'missing bucket');
      expectError(await put('a'.repeat(1025), body), 400, 'KeyTooLongError', '1025-byte key');
      expectError(await put('é'.repeat(513), body), 400, 'KeyTooLongError', '1026-byte key in 513 chars');
      // 1,024 bytes is allowed; the local backend stores '/'-separated segments of <= 255 bytes.
      expectOk(await put(['a'.repeat(255), 'b'.repeat(255), 'c'.repeat(255), 'd'.repeat(254), 'e'].join('/'), body), '1024-byte key is allowed');
      expectError(await put('k', body, { 'content-md5': 'abc' }), 400, 'InvalidDigest', 'short Content-MD5');
      expectError(await put('k', body, { 'content-md5': md5B64(Buffer.from('other')) }), 400, 'BadDigest', 'wrong Content-MD5');
      expectError(await put('k', body, { 'x-amz-acl': 'private', 'x-amz-grant-full-control': 'id="x"' }), 400, 'InvalidArgument', 'canned + grant');
      expectError(await put('k', body, { 'x-amz-acl': 'everyone' }), 400, 'InvalidArgument', 'unknown canned');
      expectError(await put('k', body, { 'x-amz-meta-big': 'v'.repeat(2100) }), 400, 'MetadataTooLarge', '2 KB metadata');
      expectError(await put('k', body, { 'x-amz-storage-class': 'COLD' }), 400, 'InvalidStorageClass', 'storage class');
      const mismatch = await signedRequest(server.endpoint, { method: 'PUT', path: path('k'), body }, { payloadHash: sha256Hex('something else') });
      expectError(mismatch, 400, 'XAmzContentSHA256Mismatch', 'x-amz-content-sha256 mismatch');
      expectError(await put('nul\0key', body), 400, 'InvalidArgument', 'NUL in key');
      expectHeadError(await call('HEAD', path('k')), 404, 'no rejected PUT may create the object');
      expectError(await put('sentinel', body, { 'if-none-match': '*' }), 412, 'PreconditionFailed', 'If-None-Match: * on an existing key');
      expectError(await put('sentinel', body, { 'if-match': '"00000000000000000000000000000000"' }), 412, 'PreconditionFailed', 'If-Match mismatch');
      expectError(await put('never-there', body, { 'if-match': '*' }), 404, 'NoSuchKey', 'If-Match on a missing key');
      expectOk(await put('created-once', body, { 'if-none-match': '*' }), 'If-None-Match: * on a new key');
    });

    test('GetObject and HeadObject: missing key/bucket, ranges, conditionals, partNumber', async () => {
      const missing = await get('no/such key');
      expectError(missing, 404, 'NoSuchKey', 'missing key');
      assert.equal(xmlText(missing.body, 'Key'), 'no/such key');
      expectError(await call('GET', path('k', 'no-such-bucket')), 404, 'NoSuchBucket', 'missing bucket');
      const range = await get('sentinel', { headers: { range: 'bytes=5000-6000' } });
      expectError(range, 416, 'InvalidRange', 'range past the end');
      assert.equal(range.headers['content-range'], `bytes */${SENTINEL.length}`);
      expectError(await get('sentinel', { headers: { range: 'bytes=-0' } }), 416, 'InvalidRange', 'suffix of 0');
      expectError(await get('sentinel', { headers: { 'if-match': '"nope"' } }), 412, 'PreconditionFailed', 'If-Match');
      expectError(await get('sentinel', { headers: { 'if-unmodified-since': 'Mon, 01 Jan 2001 00:00:00 GMT' } }), 412, 'PreconditionFailed', 'If-Unmodified-Since');
      const notModified = await get('sentinel', { headers: { 'if-none-match': `"${md5Hex(SENTINEL)}"` } });
      assert.equal(notModified.status, 304, showResponse(notModified));
      assert.equal(notModified.body.length, 0);
      expectError(await get('sentinel', { query: { partNumber: '2' } }), 416, 'InvalidPartNumber', 'partNumber=2');
      expectError(await get('sentinel', { query: { partNumber: '0' } }), 400, 'InvalidArgument', 'partNumber=0');
      expectHeadError(await call('HEAD', path('no such key')), 404, 'HeadObject missing');
      expectHeadError(await call('HEAD', path('k', 'no-such-bucket')), 404, 'HeadObject missing bucket');
      expectHeadError(await call('HEAD', path('sentinel'), { headers: { 'if-match': '"nope"' } }), 412, 'HeadObject If-Match');
    });

    test('DeleteObject, GetObjectAcl, PutObjectAcl: missing bucket/key, malformed and hostile ACL bodies', async () => {
      expectError(await call('DELETE', path('k', 'no-such-bucket')), 404, 'NoSuchBucket', 'DeleteObject missing bucket');
      expectOk(await call('DELETE', path('never existed')), 'DeleteObject of a missing key', 204);
      expectError(await call('GET', path('no such'), { query: { acl: '' } }), 404, 'NoSuchKey', 'GetObjectAcl missing key');
      expectError(await call('PUT', path('no such'), { query: { acl: '' }, headers: { 'x-amz-acl': 'private' } }), 404, 'NoSuchKey', 'PutObjectAcl missing key');
      expectError(await call('GET', path('k', 'no-such-bucket'), { query: { acl: '' } }), 404, 'NoSuchBucket', 'GetObjectAcl missing bucket');
      expectError(await call('PUT', path('sentinel'), { query: { acl: '' }, body: Buffer.from('<<<') }), 400, 'MalformedACLError', 'PutObjectAcl garbage');
      for (const [label, attack] of XML_ATTACKS) {
        const res = await call('PUT', path('sentinel'), { query: { acl: '' }, body: attack('AccessControlPolicy', ACL_XML('<Grant><Grantee><ID>XXE</ID></Grantee><Permission>READ</Permission></Grant>').toString()) });
        expectError(res, 400, 'MalformedACLError', `PutObjectAcl ${label}`);
        assertNoLeak(res, label);
      }
      expectError(await call('PUT', path('sentinel'), { query: { acl: '' }, headers: { 'x-amz-acl': 'private', 'x-amz-grant-read': 'id="x"' } }), 400, 'InvalidArgument', 'PutObjectAcl canned + grant');
    });

    test("CopyObject: missing source/destination, bad headers, conditions, self-copy, and '..' tricks", async () => {
      const copy = (dst: string, source: string, headers: Record<string, string> = {}, bucket = B): Promise<RawResponse> =>
        call('PUT', path(dst, bucket), { headers: { 'x-amz-copy-source': source, ...headers } });
      expectError(await copy('dst', '/no-such-bucket/sentinel'), 404, 'NoSuchBucket', 'source bucket missing');
      expectError(await copy('dst', `/${B}/no-such-key`), 404, 'NoSuchKey', 'source key missing');
      expectError(await copy('dst', `/${B}/sentinel`, {}, 'no-such-bucket'), 404, 'NoSuchBucket', 'destination bucket missing');
      expectError(await copy('a'.repeat(1025), `/${B}/sentinel`), 400, 'KeyTooLongError', 'destination key too long');
      expectError(await copy('dst', `${B}/`), 400, 'InvalidArgument', 'empty source key');
      expectError(await copy('dst', B), 400, 'InvalidArgument', 'no key at all');
      expectError(await copy('dst', '/'), 400, 'InvalidArgument', 'just a slash');
      expectError(await copy('dst', `${B}/bad%zz`), 400, 'InvalidArgument', 'undecodable source');
      expectError(await copy('dst', `${B}/sentinel`, { 'x-amz-metadata-directive': 'MERGE' }), 400, 'InvalidArgument', 'bad directive');
      expectError(await copy('dst', `${B}/sentinel`, { 'x-amz-copy-source-if-match': '"nope"' }), 412, 'PreconditionFailed', 'copy-source-if-match');
      expectError(await copy('dst', `${B}/sentinel`, { 'x-amz-copy-source-if-none-match': `"${md5Hex(SENTINEL)}"` }), 412, 'PreconditionFailed', 'copy-source-if-none-match');
      expectError(await copy('dst', `${B}/sentinel`, { 'x-amz-copy-source-if-unmodified-since': 'Mon, 01 Jan 2001 00:00:00 GMT' }), 412, 'PreconditionFailed', 'copy-source-if-unmodified-since');
      expectError(await copy('sentinel', `${B}/sentinel`), 400, 'InvalidRequest', 'self-copy without changes');
      expectError(await copy('dst', `${B}/sentinel`, { 'x-amz-acl': 'bogus' }), 400, 'InvalidArgument', 'bad canned ACL on copy');

      // '..' in the copy source names keys literally; it never walks out of a bucket or the store.
      const tricks = [
        ['../../etc/passwd', 'NoSuchBucket'],
        ['/../etc/passwd', 'NoSuchBucket'],
        [`${B}/../${B}/sentinel`, 'NoSuchKey'],
        [`${B}/a/../sentinel`, 'NoSuchKey'],
        [`${B}/./sentinel`, 'NoSuchKey'],
        [`${B}/%2e%2e/%2e%2e/%2e%2e/etc/passwd`, 'NoSuchKey'],
        [`${B}/..%2F..%2F..%2F..%2Fetc%2Fpasswd`, 'NoSuchKey'],
        [`${B}/../../metadata.db`, 'NoSuchKey'],
        [`${B}/../../bleepstore.yaml`, 'NoSuchKey'],
        [`..%2F${B}/sentinel`, 'NoSuchBucket'],
        // the header is decoded as a whole, then split at the first '/': bucket B, key '../B/sentinel'
        [`${B}%2F..%2F${B}/sentinel`, 'NoSuchKey'],
      ] as const;
      for (const [source, code] of tricks) {
        const res = await copy('dst', source);
        expectError(res, 404, code, `copy source ${source}`);
      }
      expectHeadError(await call('HEAD', path('dst')), 404, 'a rejected copy created the destination');

      // A key that really is 'dots/../alias' is copied as itself, not as 'alias' or 'sentinel'.
      const alias = randomBytes(300);
      expectOk(await put('dots/../alias', alias), 'put dots/../alias');
      expectOk(await put('alias', randomBytes(10)), 'put alias');
      expectOk(await copy('copied/alias', `${B}/dots/../alias`), 'copy dots/../alias');
      assert.ok((await get('copied/alias')).body.equals(alias), 'copy of dots/../alias has other bytes');
      // A destination with '..' segments stays a key inside the store.
      expectOk(await copy('../../escaped', `${B}/sentinel`), 'copy to ../../escaped');
      assert.ok((await get('../../escaped')).body.equals(SENTINEL));
      for (const outside of [join(server.dataDir, 'escaped'), join(server.rootDir, 'escaped'), join(server.dataDir, '..', 'escaped')]) {
        assert.equal(existsSync(outside), false, `${outside} was written outside the bucket`);
      }
      assert.deepEqual(listFilesRecursive(server.dataDir).filter((f) => f.endsWith('escaped') && !f.startsWith('objects/')), []);
      for (const k of ['dots/../alias', 'alias', 'copied/alias', '../../escaped']) expectOk(await call('DELETE', path(k)), `delete ${k}`, 204);
    });

    test('CreateMultipartUpload, UploadPart, UploadPartCopy, ListParts, AbortMultipartUpload: bad ids, numbers, ranges', async () => {
      expectError(await call('POST', path('k', 'no-such-bucket'), { query: { uploads: '' } }), 404, 'NoSuchBucket', 'create: missing bucket');
      expectError(await call('POST', path('a'.repeat(1025)), { query: { uploads: '' } }), 400, 'KeyTooLongError', 'create: long key');
      expectError(await call('POST', path('k'), { query: { uploads: '' }, headers: { 'x-amz-acl': 'private', 'x-amz-grant-read': 'id="x"' } }), 400, 'InvalidArgument', 'create: canned + grant');
      const id = await createUpload('mp/neg');
      const part = Buffer.from('part data');
      for (const n of ['0', '10001', '-1', 'abc', '1.5', '']) {
        expectError(await call('PUT', path('mp/neg'), { query: { partNumber: n, uploadId: id }, body: part }), 400, 'InvalidArgument', `partNumber=${n}`);
      }
      const noSuch = await call('PUT', path('mp/neg'), { query: { partNumber: '1', uploadId: UNKNOWN_UPLOAD }, body: part });
      expectError(noSuch, 404, 'NoSuchUpload', 'unknown upload id');
      assert.equal(xmlText(noSuch.body, 'UploadId'), UNKNOWN_UPLOAD);
      expectError(await call('PUT', path('mp/other-key'), { query: { partNumber: '1', uploadId: id }, body: part }), 404, 'NoSuchUpload', 'upload id of another key');
      expectError(await call('PUT', path('mp/neg'), { query: { partNumber: '1', uploadId: '' }, body: part }), 400, 'InvalidArgument', 'empty upload id');
      expectError(await call('PUT', path('mp/neg', 'no-such-bucket'), { query: { partNumber: '1', uploadId: id }, body: part }), 404, 'NoSuchBucket', 'part: missing bucket');
      expectError(await call('PUT', path('mp/neg'), { query: { partNumber: '1', uploadId: id }, body: part, headers: { 'content-md5': md5B64(Buffer.from('x')) } }), 400, 'BadDigest', 'part: Content-MD5');

      const copyPart = (headers: Record<string, string>, uploadId = id): Promise<RawResponse> =>
        call('PUT', path('mp/neg'), { query: { partNumber: '2', uploadId }, headers });
      for (const range of ['bytes=0-1000', 'bytes=10-5', 'bytes=5-', 'bytes=-5', 'items=0-1', 'bytes=0-1,3-4']) {
        expectError(await copyPart({ 'x-amz-copy-source': `${B}/sentinel`, 'x-amz-copy-source-range': range }), 400, 'InvalidArgument', `copy range ${range}`);
      }
      expectError(await copyPart({ 'x-amz-copy-source': `${B}/sentinel` }, UNKNOWN_UPLOAD), 404, 'NoSuchUpload', 'copy part: unknown upload');
      expectError(await copyPart({ 'x-amz-copy-source': `${B}/missing` }), 404, 'NoSuchKey', 'copy part: missing source');
      expectError(await copyPart({ 'x-amz-copy-source': `${B}/a/../sentinel` }), 404, 'NoSuchKey', "copy part: '..' source");
      expectError(await copyPart({ 'x-amz-copy-source': '../../etc/passwd' }), 404, 'NoSuchBucket', "copy part: '..' bucket");
      expectError(await copyPart({ 'x-amz-copy-source': `${B}/sentinel`, 'x-amz-copy-source-if-match': '"x"' }), 412, 'PreconditionFailed', 'copy part: condition');

      expectError(await call('GET', path('mp/neg'), { query: { uploadId: UNKNOWN_UPLOAD } }), 404, 'NoSuchUpload', 'ListParts unknown');
      expectError(await call('GET', path('mp/other-key'), { query: { uploadId: id } }), 404, 'NoSuchUpload', 'ListParts other key');
      expectError(await call('DELETE', path('mp/neg'), { query: { uploadId: UNKNOWN_UPLOAD } }), 404, 'NoSuchUpload', 'Abort unknown');
      expectError(await call('DELETE', path('mp/neg'), { query: { uploadId: '' } }), 400, 'InvalidArgument', 'Abort empty id');
      // None of the rejected requests stored a part.
      const parts = expectOk(await call('GET', path('mp/neg'), { query: { uploadId: id } }), 'ListParts').body.toString();
      assert.doesNotMatch(parts, /<Part>/, parts);
      expectOk(await call('DELETE', path('mp/neg'), { query: { uploadId: id } }), 'Abort', 204);
      expectError(await call('DELETE', path('mp/neg'), { query: { uploadId: id } }), 404, 'NoSuchUpload', 'Abort twice');
      expectError(await call('PUT', path('mp/neg'), { query: { partNumber: '1', uploadId: id }, body: part }), 404, 'NoSuchUpload', 'part after abort');
    });

    test('CompleteMultipartUpload: 10,001 parts, parts never uploaded, bad ETags, order, sizes, XML attacks; then a good Complete', async () => {
      const key = 'mp/complete';
      const id = await createUpload(key);
      const big = randomBytes(5 * MiB);
      const small = randomBytes(1000);
      const etag1 = await uploadPart(key, id, 1, big);
      const etag2 = await uploadPart(key, id, 2, small);
      const etag3 = await uploadPart(key, id, 3, small);
      const complete = (body: Buffer, uploadId = id, bucket = B): Promise<RawResponse> => call('POST', path(key, bucket), { query: { uploadId }, body });

      const tenThousandOne = completeXml(Array.from({ length: 10001 }, (_, i): [number, string] => [i + 1, etag1]));
      expectError(await complete(tenThousandOne), 400, ['MalformedXML', 'InvalidArgument'], '10,001 parts');
      expectError(await complete(completeXml([[1, etag1], [4, etag3]])), 400, 'InvalidPart', 'part 4 never uploaded');
      expectError(await complete(completeXml([[7, etag1]])), 400, 'InvalidPart', 'only a part never uploaded');
      expectError(await complete(completeXml([[1, '"00000000000000000000000000000000"'], [2, etag2]])), 400, 'InvalidPart', 'wrong ETag');
      expectError(await complete(completeXml([[2, etag2], [1, etag1]])), 400, 'InvalidPartOrder', 'descending');
      expectError(await complete(completeXml([[1, etag1], [1, etag1]])), 400, 'InvalidPartOrder', 'duplicate');
      expectError(await complete(completeXml([[5, etag1], [4, etag1]])), 400, 'InvalidPartOrder', 'order is checked before existence');
      expectError(await complete(completeXml([[2, etag2], [3, etag3]])), 400, 'EntityTooSmall', 'small non-last part');
      expectError(await complete(completeXml([])), 400, 'MalformedXML', 'zero parts');
      expectError(await complete(completeXml([['one', etag1]])), 400, 'MalformedXML', 'non-numeric part number');
      expectError(await complete(Buffer.from('<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>')), 400, 'MalformedXML', 'part without ETag');
      expectError(await complete(Buffer.from('<CompleteMultipartUpload><Part>')), 400, 'MalformedXML', 'truncated');
      expectError(await complete(Buffer.from('')), 400, ['MalformedXML', 'MissingRequestBodyError'], 'empty body');
      for (const [label, attack] of XML_ATTACKS) {
        const res = await complete(attack('CompleteMultipartUpload', `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>XXE</ETag></Part></CompleteMultipartUpload>`));
        expectError(res, 400, 'MalformedXML', `Complete ${label}`);
        assertNoLeak(res, label);
      }
      expectError(await complete(completeXml([[1, etag1]]), UNKNOWN_UPLOAD), 404, 'NoSuchUpload', 'unknown upload');
      expectError(await complete(completeXml([[1, etag1]]), id, 'no-such-bucket'), 404, 'NoSuchBucket', 'missing bucket');
      expectError(await call('POST', path('mp/other'), { query: { uploadId: id }, body: completeXml([[1, etag1]]) }), 404, 'NoSuchUpload', 'upload of another key');
      expectHeadError(await call('HEAD', path(key)), 404, 'a rejected Complete created the object');
      // Conditional Complete: If-None-Match: * when the key exists.
      expectOk(await put(key, Buffer.from('in the way')), 'put in the way');
      expectError(await call('POST', path(key), { query: { uploadId: id }, body: completeXml([[1, etag1], [2, etag2]]), headers: { 'if-none-match': '*' } }), 412, 'PreconditionFailed', 'Complete If-None-Match: *');
      expectOk(await call('DELETE', path(key)), 'delete the obstacle', 204);
      // Re-uploading a part number replaces it: the old ETag no longer completes.
      const etag3b = await uploadPart(key, id, 3, randomBytes(2000));
      assert.notEqual(etag3b, etag3);
      expectError(await complete(completeXml([[1, etag1], [3, etag3]])), 400, 'InvalidPart', 'replaced part, old ETag');

      // The upload survived every rejected Complete: a correct one works, unlisted part 3 is dropped.
      const done = expectOk(await complete(completeXml([[1, etag1], [2, etag2]])), 'good Complete');
      const expectedEtag = `"${md5Hex(Buffer.concat([Buffer.from(md5Hex(big), 'hex'), Buffer.from(md5Hex(small), 'hex')]))}-2"`;
      assert.equal(xmlText(done.body, 'ETag')?.replace(/&quot;/g, '"'), expectedEtag);
      const got = await get(key);
      assert.ok(got.body.equals(Buffer.concat([big, small])), 'assembled bytes differ');
      expectError(await call('GET', path(key), { query: { uploadId: id } }), 404, 'NoSuchUpload', 'ListParts after Complete');
      expectOk(await call('DELETE', path(key)), 'delete', 204);
    });

    test('racing conditional PUTs: If-None-Match: * and If-Match, one winner, the loser gets 412 or 409', async (t) => {
      const loserCodes: string[] = [];
      /** Sends a signed PUT whose body is held back at a gate, so both racers pass the early check. */
      const racer = async (key: string, body: Buffer, headers: Record<string, string>, gate: Promise<void>): Promise<RawResponse> => {
        const signed = await signHeaders(server.endpoint, { method: 'PUT', path: path(key), headers }, { payloadHash: sha256Hex(body) });
        signed['content-length'] = String(body.length);
        return send(server.endpoint, {
          method: 'PUT',
          path: path(key),
          headers: signed,
          writeBody: (req) => {
            req.write(body.subarray(0, body.length / 2));
            void gate.then(() => req.end(body.subarray(body.length / 2)));
          },
        });
      };
      const race = async (key: string, headers: Record<string, string>): Promise<void> => {
        const a = randomBytes(256 * 1024);
        const b = randomBytes(256 * 1024);
        let open!: () => void;
        const gate = new Promise<void>((r) => (open = r));
        const pending = [racer(key, a, headers, gate), racer(key, b, headers, gate)];
        await sleep(300); // both requests are in, both past their header checks
        open();
        const [ra, rb] = await Promise.all(pending);
        const results = [ra, rb] as RawResponse[];
        const winners = results.filter((r) => r.status === 200);
        const losers = results.filter((r) => r.status !== 200);
        assert.equal(winners.length, 1, `${key}: expected one winner, got ${results.map(showResponse).join(' / ')}`);
        const loser = losers[0] as RawResponse;
        const code = errorCode(loser.body);
        loserCodes.push(`${loser.status} ${code}`);
        assert.ok(
          (loser.status === 412 && code === 'PreconditionFailed') || (loser.status === 409 && code === 'ConditionalRequestConflict'),
          `${key}: loser ${showResponse(loser)}`,
        );
        const stored = (await get(key)).body;
        const winnerBody = ra?.status === 200 ? a : b;
        assert.ok(stored.equals(winnerBody), `${key}: stored bytes are not the winner's`);
        assert.equal(String(winners[0]?.headers['etag']), `"${md5Hex(winnerBody)}"`);
      };
      for (let round = 0; round < 3; round++) await race(`race/new-${round}`, { 'if-none-match': '*' });
      for (let round = 0; round < 3; round++) {
        const key = `race/existing-${round}`;
        const first = expectOk(await put(key, Buffer.from('v1')), 'put v1');
        await race(key, { 'if-match': String(first.headers['etag']) });
      }
      t.diagnostic(`losers: ${loserCodes.join(', ')}`);
    });
  });
}
