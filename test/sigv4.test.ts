// SigV4 verification against requests signed by the real AWS signer (@smithy/signature-v4,
// the one inside @aws-sdk/client-s3), plus the AWS documented streaming example.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@smithy/core/checksum';
import { HttpRequest, escapeUri } from '@smithy/core/protocols';
import { S3Error, type S3ErrorCode } from '../src/s3/errors.js';
import { SigV4Verifier, deriveSigningKey, type CredentialSource, type VerifiableRequest } from '../src/auth/sigv4.js';
import { canonicalQueryString, canonicalUri, parseQuery, uriEncode } from '../src/auth/canonical.js';

const AK = 'AKIDEXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const HOST = '127.0.0.1:9000';
const SIGNING_DATE = new Date('2026-02-22T12:00:00Z');
const NOW = SIGNING_DATE.getTime();

/** A credentials table in memory (the real source is the metadata store). */
class MemoryCredentials implements CredentialSource {
  lookups = 0;
  readonly rows = new Map<string, { secret_key: string; owner_id: string; display_name: string }>([
    [AK, { secret_key: SECRET, owner_id: 'owner-1', display_name: 'Owner One' }],
  ]);
  async getCredential(accessKeyId: string) {
    this.lookups++;
    return this.rows.get(accessKeyId) ?? null;
  }
}

function verifier(now = NOW, credentials: CredentialSource = new MemoryCredentials(), maxBufferedBody?: number): SigV4Verifier {
  return new SigV4Verifier(credentials, maxBufferedBody === undefined ? { now: () => now } : { now: () => now, maxBufferedBody });
}

function signer(secret = SECRET, region = 'us-east-1', applyChecksum = true): SignatureV4 {
  return new SignatureV4({
    credentials: { accessKeyId: AK, secretAccessKey: secret },
    region,
    service: 's3',
    sha256: Sha256,
    uriEscapePath: false, // S3 clients encode the path once themselves
    applyChecksum,
  });
}

type Query = Record<string, string | string[]>;

/** Query string as a client puts it on the wire (escapeUri on names and values). */
function rawQueryOf(query: Query): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(query)) {
    for (const v of Array.isArray(value) ? value : [value]) parts.push(`${escapeUri(name)}=${escapeUri(v)}`);
  }
  return parts.join('&');
}

/** Object key to path the way the S3 clients do: each segment escaped, '/' kept. */
function keyPath(bucket: string, key: string): string {
  return `/${bucket}/` + key.split('/').map(escapeUri).join('/');
}

interface SignOptions {
  method?: string;
  path?: string;
  query?: Query;
  headers?: Record<string, string>;
  body?: Buffer;
  secret?: string;
  region?: string;
  date?: Date;
  applyChecksum?: boolean;
}

async function signHeader(o: SignOptions = {}): Promise<VerifiableRequest & { bodyBytes: Buffer }> {
  const method = o.method ?? 'GET';
  const path = o.path ?? '/bucket/key';
  const query = o.query ?? {};
  const request = new HttpRequest({
    method,
    protocol: 'http:',
    hostname: '127.0.0.1',
    port: 9000,
    path,
    query,
    headers: { host: HOST, ...(o.headers ?? {}) },
    ...(o.body === undefined ? {} : { body: o.body }),
  });
  const signed = await signer(o.secret, o.region, o.applyChecksum ?? true).sign(request, { signingDate: o.date ?? SIGNING_DATE });
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers)) headers[k.toLowerCase()] = v;
  const bodyBytes = o.body ?? Buffer.alloc(0);
  return { method, rawPath: path, rawQuery: rawQueryOf(query), headers, body: Readable.from([bodyBytes]), bodyBytes };
}

interface PresignOptions {
  method?: string;
  path?: string;
  query?: Query;
  headers?: Record<string, string>;
  expiresIn?: number;
  /** The JS SDK presigner signs X-Amz-Content-Sha256=UNSIGNED-PAYLOAD into the URL; boto3 does not. */
  contentSha256InQuery?: boolean;
  date?: Date;
}

async function presign(o: PresignOptions = {}): Promise<VerifiableRequest> {
  const method = o.method ?? 'GET';
  const path = o.path ?? '/bucket/key';
  const headers: Record<string, string> = { host: HOST, ...(o.headers ?? {}) };
  // The S3 presigner spells it 'X-Amz-Content-Sha256'; the signer hoists it under that name.
  if (o.contentSha256InQuery ?? true) headers['X-Amz-Content-Sha256'] = 'UNSIGNED-PAYLOAD';
  const request = new HttpRequest({
    method,
    protocol: 'http:',
    hostname: '127.0.0.1',
    port: 9000,
    path,
    query: o.query ?? {},
    headers,
    // A stream body makes the signer use UNSIGNED-PAYLOAD when no header says otherwise.
    ...(o.contentSha256InQuery ?? true ? {} : { body: Readable.from([]) }),
  });
  const signed = await signer().presign(request, { signingDate: o.date ?? SIGNING_DATE, expiresIn: o.expiresIn ?? 3600 });
  const sentHeaders: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers)) sentHeaders[k.toLowerCase()] = v;
  return { method, rawPath: path, rawQuery: rawQueryOf(signed.query as Query), headers: sentHeaders, body: Readable.from([]) };
}

async function rejectsWith(promise: Promise<unknown>, code: S3ErrorCode, message?: RegExp): Promise<S3Error> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof S3Error, `expected S3Error ${code}, got ${String(err)}`);
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    if (message !== undefined) assert.match(err.message, message);
    return err;
  }
  assert.fail(`expected ${code}, but verification succeeded`);
}

// ---------------------------------------------------------------- canonical helpers

test('canonicalUri decodes and re-encodes each segment, keeping an encoded slash inside a key', () => {
  assert.equal(canonicalUri(''), '/');
  assert.equal(canonicalUri('/'), '/');
  assert.equal(canonicalUri('/bucket/a/b.txt'), '/bucket/a/b.txt');
  assert.equal(canonicalUri('/bucket/a%2Fb'), '/bucket/a%2Fb');
  assert.equal(canonicalUri('/bucket/a%2fb%c3%bc'), '/bucket/a%2Fb%C3%BC'); // uppercase hex
  assert.equal(canonicalUri('/bucket/a%7Eb'), '/bucket/a~b'); // unreserved gets decoded
  assert.equal(canonicalUri("/bucket/!'()*"), '/bucket/%21%27%28%29%2A');
  assert.equal(canonicalUri('/bucket/a+b'), '/bucket/a%2Bb'); // '+' is literal in a path
  assert.equal(canonicalUri('/bucket/./../x'), '/bucket/./../x'); // no dot-segment normalisation
  assert.equal(canonicalUri('/bucket/ü'), '/bucket/%C3%BC'); // raw UTF-8 characters
  assert.equal(canonicalUri('/bucket/100%'), '/bucket/100%25'); // stray '%'
});

test('canonical query sorts by encoded name then value, not by whole name=value strings', () => {
  // Whole-string sorting would put 'a-b=2' first ('-' < '=').
  assert.equal(canonicalQueryString(parseQuery('a-b=2&a=1')), 'a=1&a-b=2');
  assert.equal(canonicalQueryString(parseQuery('k=2&k=10&k=1')), 'k=1&k=10&k=2');
  assert.equal(canonicalQueryString(parseQuery('uploads&prefix=a+b%2Fc')), 'prefix=a%20b%2Fc&uploads=');
  assert.equal(canonicalQueryString(parseQuery('X-Amz-Signature=abc&b=1'), 'X-Amz-Signature'), 'b=1');
  assert.equal(canonicalQueryString(parseQuery('')), '');
  assert.equal(uriEncode('a b/ü'), 'a%20b%2F%C3%BC');
});

// ---------------------------------------------------------------- header auth, positive

test('header auth GET: principal and the signed empty-body hash', async () => {
  const req = await signHeader();
  const result = await verifier().verify(req);
  assert.deepEqual(result.principal, { accessKeyId: AK, ownerId: 'owner-1', displayName: 'Owner One' });
  assert.deepEqual(result.payload, {
    kind: 'sha256',
    expectedHex: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  });
  assert.equal(result.bufferedBody, undefined);
});

test('header auth PUT with a body hash and extra signed headers', async () => {
  const body = Buffer.from('hello world');
  const req = await signHeader({
    method: 'PUT',
    headers: { 'content-type': 'text/plain', 'x-amz-meta-note': '  two   spaces\tand tab  ', 'content-length': '11' },
    body,
  });
  assert.match(req.headers['authorization'] ?? '', /x-amz-meta-note/);
  const result = await verifier().verify(req);
  assert.equal(result.payload.kind, 'sha256');
  assert.equal(result.payload.kind === 'sha256' && result.payload.expectedHex, 'b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9');
});

test('UNSIGNED-PAYLOAD is accepted and reported as unsigned', async () => {
  const req = await signHeader({ method: 'PUT', headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
  const result = await verifier().verify(req);
  assert.deepEqual(result.payload, { kind: 'unsigned' });
});

test('object keys with spaces, unicode, +, %, !\'()* and encoded slashes', async () => {
  const keys = [
    'dir/a b.txt',
    'ünïcødé/日本語 ファイル.txt',
    'a+b=c&d',
    '100% sure',
    "!'()*~-_.",
    'emoji 😀/x',
    'trailing/',
    'tab\there',
  ];
  const v = verifier();
  for (const key of keys) {
    const req = await signHeader({ path: keyPath('bucket', key) });
    const result = await v.verify(req);
    assert.equal(result.principal.accessKeyId, AK, key);
  }
  // A key that itself contains '/' sent fully encoded (%2F) must stay one segment.
  const req = await signHeader({ path: '/bucket/' + escapeUri('a/b') });
  assert.equal(req.rawPath, '/bucket/a%2Fb');
  await v.verify(req);
});

test('query parameters: prefix-named params, repeated names, empty values, + as space', async () => {
  const v = verifier();
  const query: Query = { a: '1', 'a-b': '2', prefix: 'photos/2024 ü+', 'list-type': '2', uploads: '', k: ['z', 'a'] };
  await v.verify(await signHeader({ query }));

  // 'uploads' without '=' and a space sent as '+' canonicalise like the signer's 'uploads=' / '%20'.
  const signed = await signHeader({ query: { uploads: '', prefix: 'a b' } });
  await v.verify({ ...signed, rawQuery: 'uploads&prefix=a+b', body: Readable.from([]) });
});

test('Authorization parsing tolerates component order and spacing; region is not checked', async () => {
  const req = await signHeader({ region: 'eu-west-9' });
  const auth = req.headers['authorization'] ?? '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^,]+), SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(auth);
  assert.ok(m, auth);
  const reordered = `AWS4-HMAC-SHA256 Signature=${m[3]},SignedHeaders=${m[2]} ,  Credential=${m[1]}`;
  await verifier().verify({ ...req, headers: { ...req.headers, authorization: reordered } });
});

test('AWS documented streaming example: seed signature verifies and yields the signing context', async () => {
  // docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html, "Example: PUT Object".
  const creds: CredentialSource = {
    async getCredential(ak) {
      return ak === 'AKIAIOSFODNN7EXAMPLE'
        ? { secret_key: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', owner_id: 'o', display_name: 'd' }
        : null;
    },
  };
  const seed = '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9';
  const v = new SigV4Verifier(creds, { now: () => Date.UTC(2013, 4, 24, 0, 5) });
  const result = await v.verify({
    method: 'PUT',
    rawPath: '/examplebucket/chunkObject.txt',
    rawQuery: '',
    headers: {
      host: 's3.amazonaws.com',
      'x-amz-date': '20130524T000000Z',
      'x-amz-storage-class': 'REDUCED_REDUNDANCY',
      authorization:
        'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=' +
        seed,
      'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': '66560',
      'content-length': '66824',
    },
    body: Readable.from([]),
  });
  assert.equal(result.payload.kind, 'aws-chunked');
  if (result.payload.kind !== 'aws-chunked') return;
  assert.equal(result.payload.signed, true);
  assert.equal(result.payload.trailer, false);
  assert.equal(result.payload.signing.seedSignature, seed);
  assert.equal(result.payload.signing.timestamp, '20130524T000000Z');
  assert.equal(result.payload.signing.scope, '20130524/us-east-1/s3/aws4_request');
  assert.deepEqual(result.payload.signing.signingKey, deriveSigningKey('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', '20130524', 'us-east-1'));
});

test('streaming payload modes are classified', async () => {
  const v = verifier();
  const cases = [
    ['STREAMING-AWS4-HMAC-SHA256-PAYLOAD', true, false],
    ['STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', true, true],
    ['STREAMING-UNSIGNED-PAYLOAD-TRAILER', false, true],
  ] as const;
  for (const [value, signed, trailer] of cases) {
    const req = await signHeader({ method: 'PUT', headers: { 'x-amz-content-sha256': value } });
    const result = await v.verify(req);
    assert.equal(result.payload.kind, 'aws-chunked', value);
    if (result.payload.kind !== 'aws-chunked') continue;
    assert.equal(result.payload.signed, signed);
    assert.equal(result.payload.trailer, trailer);
    assert.equal(result.payload.signing.seedSignature, /Signature=([0-9a-f]{64})/.exec(req.headers['authorization'] ?? '')?.[1]);
  }
});

test('no x-amz-content-sha256 header: the body is buffered, hashed and returned', async () => {
  const body = Buffer.from('<Delete><Object><Key>a</Key></Object></Delete>');
  const req = await signHeader({ method: 'POST', query: { delete: '' }, body, applyChecksum: false });
  assert.equal(req.headers['x-amz-content-sha256'], undefined);
  const result = await verifier().verify(req);
  assert.deepEqual(result.bufferedBody, body);
  assert.deepEqual(result.payload, { kind: 'unsigned' });

  // The body is part of the signature: another body fails.
  const tampered = await signHeader({ method: 'POST', query: { delete: '' }, body, applyChecksum: false });
  await rejectsWith(verifier().verify({ ...tampered, body: Readable.from([Buffer.from('<Delete/>')]) }), 'SignatureDoesNotMatch');

  // Over the buffering cap.
  const big = await signHeader({ method: 'POST', body: Buffer.alloc(2048), applyChecksum: false });
  await rejectsWith(verifier(NOW, new MemoryCredentials(), 1024).verify(big), 'InvalidRequest', /1024 bytes/);
});

test('credentials are cached for 60 s', async () => {
  const creds = new MemoryCredentials();
  const v = new SigV4Verifier(creds, { now: () => clock });
  let clock = NOW;
  await v.verify(await signHeader());
  await v.verify(await signHeader());
  assert.equal(creds.lookups, 1);
  creds.rows.delete(AK); // key disabled: still served from the cache for up to 60 s
  clock = NOW + 30_000;
  await v.verify(await signHeader());
  clock = NOW + 61_000;
  await rejectsWith(v.verify(await signHeader()), 'InvalidAccessKeyId');
  assert.equal(creds.lookups, 2);
});

// ---------------------------------------------------------------- presigned, positive

test('presigned GET with response-* overrides (JS SDK style, X-Amz-Content-Sha256 in the URL)', async () => {
  const req = await presign({
    path: keyPath('bucket', 'docs/report 2024.pdf'),
    query: { 'response-content-disposition': 'attachment; filename="a b.pdf"', 'response-content-type': 'application/pdf', 'x-id': 'GetObject' },
  });
  assert.match(req.rawQuery, /X-Amz-Content-Sha256=UNSIGNED-PAYLOAD/);
  const result = await verifier(NOW + 3000_000).verify(req);
  assert.equal(result.principal.ownerId, 'owner-1');
  assert.deepEqual(result.payload, { kind: 'unsigned' });
});

test('presigned GET without X-Amz-Content-Sha256 (boto3 style) is valid beyond 15 minutes', async () => {
  const req = await presign({ contentSha256InQuery: false, expiresIn: 7200 });
  assert.doesNotMatch(req.rawQuery, /Content-Sha256/);
  // 100 minutes after signing: no ±900 s skew check applies to presigned URLs.
  await verifier(NOW + 6000_000).verify(req);
});

test('presigned PUT with a signed content-type; a hex x-amz-content-sha256 header is still checked', async () => {
  const req = await presign({ method: 'PUT', headers: { 'content-type': 'image/png' }, contentSha256InQuery: false });
  const ok = await verifier().verify(req);
  assert.deepEqual(ok.payload, { kind: 'unsigned' });
  await rejectsWith(verifier().verify({ ...req, headers: { ...req.headers, 'content-type': 'text/plain' } }), 'SignatureDoesNotMatch');

  const hex = 'b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9';
  const withHash = await verifier().verify({ ...req, headers: { ...req.headers, 'x-amz-content-sha256': hex } });
  assert.deepEqual(withHash.payload, { kind: 'sha256', expectedHex: hex });
});

// ---------------------------------------------------------------- negatives

test('wrong secret gives SignatureDoesNotMatch with the string to sign', async () => {
  const err = await rejectsWith(verifier().verify(await signHeader({ secret: 'not-the-secret' })), 'SignatureDoesNotMatch');
  assert.equal(err.status, 403);
  assert.match(String(err.extras['StringToSign']), /^AWS4-HMAC-SHA256\n20260222T120000Z\n20260222\/us-east-1\/s3\/aws4_request\n[0-9a-f]{64}$/);
});

test('tampering with path, query, a signed header or the method breaks the signature', async () => {
  const req = await signHeader({ query: { a: '1' }, headers: { 'x-amz-meta-x': 'y' } });
  const v = verifier();
  await v.verify(req);
  await rejectsWith(v.verify({ ...req, rawPath: '/bucket/other' }), 'SignatureDoesNotMatch');
  await rejectsWith(v.verify({ ...req, rawQuery: 'a=2' }), 'SignatureDoesNotMatch');
  await rejectsWith(v.verify({ ...req, headers: { ...req.headers, 'x-amz-meta-x': 'z' } }), 'SignatureDoesNotMatch');
  await rejectsWith(v.verify({ ...req, headers: { ...req.headers, host: 'evil:9000' } }), 'SignatureDoesNotMatch');
  await rejectsWith(v.verify({ ...req, method: 'DELETE' }), 'SignatureDoesNotMatch');
});

test('unknown access key gives InvalidAccessKeyId', async () => {
  const req = await signHeader();
  const auth = (req.headers['authorization'] ?? '').replace(`Credential=${AK}/`, 'Credential=AKIDUNKNOWN/');
  await rejectsWith(verifier().verify({ ...req, headers: { ...req.headers, authorization: auth } }), 'InvalidAccessKeyId');
});

test('clock skew over 900 s gives RequestTimeTooSkewed (header auth), within it passes', async () => {
  const req = await signHeader();
  await verifier(NOW + 899_000).verify(req);
  await verifier(NOW - 899_000).verify(await signHeader());
  const err = await rejectsWith(verifier(NOW + 901_000).verify(await signHeader()), 'RequestTimeTooSkewed');
  assert.equal(err.status, 403);
  await rejectsWith(verifier(NOW - 901_000).verify(await signHeader()), 'RequestTimeTooSkewed');
});

test('credential date different from the x-amz-date date gives AuthorizationHeaderMalformed', async () => {
  // Signed at 23:59:50 (credential date 20260222); x-amz-date moved past midnight; clock agrees.
  const signedAt = new Date('2026-02-22T23:59:50Z');
  const req = await signHeader({ date: signedAt });
  const headers = { ...req.headers, 'x-amz-date': '20260223T000005Z' };
  await rejectsWith(verifier(Date.UTC(2026, 1, 23, 0, 0, 5)).verify({ ...req, headers }), 'AuthorizationHeaderMalformed', /20260222/);
});

test('malformed Authorization headers give AuthorizationHeaderMalformed', async () => {
  const req = await signHeader();
  const sig = '0'.repeat(64);
  const bad = [
    `AWS4-HMAC-SHA256 Credential=${AK}/20260222/us-east-1/s3, SignedHeaders=host, Signature=${sig}`, // 4 parts
    `AWS4-HMAC-SHA256 Credential=${AK}/20260222/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=${sig}`,
    `AWS4-HMAC-SHA256 Credential=${AK}/20260222/us-east-1/s3/aws5_request, SignedHeaders=host, Signature=${sig}`,
    `AWS4-HMAC-SHA256 Credential=${AK}/20260222/us-east-1/s3/aws4_request, Signature=${sig}`, // no SignedHeaders
    `AWS4-HMAC-SHA256 garbage`,
    `AWS4-HMAC-SHA256`,
  ];
  for (const authorization of bad) {
    const err = await rejectsWith(verifier().verify({ ...req, headers: { ...req.headers, authorization } }), 'AuthorizationHeaderMalformed');
    assert.equal(err.status, 400);
  }
});

test('missing or unparsable timestamps give AccessDenied', async () => {
  const req = await signHeader();
  const { 'x-amz-date': _drop, ...noDate } = req.headers;
  await rejectsWith(verifier().verify({ ...req, headers: noDate }), 'AccessDenied');
  await rejectsWith(verifier().verify({ ...req, headers: { ...req.headers, 'x-amz-date': '20261322T120000Z' } }), 'AccessDenied');
});

test('no auth, SigV2 and SigV4a give AccessDenied; both mechanisms give InvalidArgument', async () => {
  const base: VerifiableRequest = { method: 'GET', rawPath: '/bucket/key', rawQuery: '', headers: { host: HOST }, body: Readable.from([]) };
  await rejectsWith(verifier().verify(base), 'AccessDenied');
  await rejectsWith(verifier().verify({ ...base, headers: { host: HOST, authorization: `AWS ${AK}:c2lnbmF0dXJl` } }), 'AccessDenied');
  await rejectsWith(verifier().verify({ ...base, rawQuery: `AWSAccessKeyId=${AK}&Signature=abc&Expires=1` }), 'AccessDenied');
  await rejectsWith(
    verifier().verify({ ...base, headers: { host: HOST, authorization: `AWS4-ECDSA-P256-SHA256 Credential=${AK}/20260222/s3/aws4_request, SignedHeaders=host, Signature=00` } }),
    'AccessDenied',
  );

  const presigned = await presign();
  const headerSigned = await signHeader();
  const err = await rejectsWith(
    verifier().verify({ ...presigned, headers: { ...presigned.headers, authorization: headerSigned.headers['authorization'] ?? '' } }),
    'InvalidArgument',
  );
  assert.equal(err.status, 400);
});

test('unsupported payload modes: SigV4a streaming is NotImplemented, garbage is InvalidArgument', async () => {
  const ecdsa = await signHeader({ method: 'PUT', headers: { 'x-amz-content-sha256': 'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD' } });
  const err = await rejectsWith(verifier().verify(ecdsa), 'NotImplemented');
  assert.equal(err.status, 501);
  const garbage = await signHeader({ method: 'PUT', headers: { 'x-amz-content-sha256': 'not-a-hash' } });
  await rejectsWith(verifier().verify(garbage), 'InvalidArgument');
});

test('presigned: expired, not yet valid, bad expiry, missing parameters, bad algorithm', async () => {
  const req = await presign({ expiresIn: 60 });
  await verifier(NOW + 60_000).verify(req);
  const expired = await rejectsWith(verifier(NOW + 61_000).verify(req), 'AccessDenied', /Request has expired/);
  assert.equal(expired.status, 403);
  await rejectsWith(verifier(NOW - 901_000).verify(req), 'AccessDenied', /not valid yet/);

  const tooLong = req.rawQuery.replace('X-Amz-Expires=60', 'X-Amz-Expires=604801');
  assert.notEqual(tooLong, req.rawQuery);
  const err = await rejectsWith(verifier().verify({ ...req, rawQuery: tooLong }), 'AuthorizationQueryParametersError', /604800/);
  assert.equal(err.status, 400);
  await rejectsWith(verifier().verify({ ...req, rawQuery: req.rawQuery.replace('X-Amz-Expires=60', 'X-Amz-Expires=0') }), 'AuthorizationQueryParametersError');
  await rejectsWith(verifier().verify({ ...req, rawQuery: req.rawQuery.replace('X-Amz-Expires=60', 'X-Amz-Expires=abc') }), 'AuthorizationQueryParametersError');

  for (const name of ['X-Amz-Signature', 'X-Amz-Date', 'X-Amz-Credential', 'X-Amz-SignedHeaders', 'X-Amz-Expires']) {
    const without = req.rawQuery.split('&').filter((p) => !p.startsWith(name + '=')).join('&');
    await rejectsWith(verifier().verify({ ...req, rawQuery: without }), 'AuthorizationQueryParametersError');
  }
  const badAlg = req.rawQuery.replace('X-Amz-Algorithm=AWS4-HMAC-SHA256', 'X-Amz-Algorithm=AWS4-HMAC-SHA1');
  await rejectsWith(verifier().verify({ ...req, rawQuery: badAlg }), 'AuthorizationQueryParametersError');
  const badCred = req.rawQuery.replace('%2Fs3%2F', '%2Fec2%2F');
  assert.notEqual(badCred, req.rawQuery);
  await rejectsWith(verifier().verify({ ...req, rawQuery: badCred }), 'AuthorizationQueryParametersError');
  const otherDay = req.rawQuery.replace('X-Amz-Date=20260222T120000Z', 'X-Amz-Date=20260223T000000Z');
  await rejectsWith(verifier().verify({ ...req, rawQuery: otherDay }), 'AuthorizationQueryParametersError');
});

test('presigned: wrong signature, unknown key, and a tampered parameter', async () => {
  const req = await presign({ query: { 'response-content-type': 'text/plain' } });
  const v = verifier();
  await rejectsWith(v.verify({ ...req, rawQuery: req.rawQuery.replace(/X-Amz-Signature=[0-9a-f]{64}/, 'X-Amz-Signature=' + 'a'.repeat(64)) }), 'SignatureDoesNotMatch');
  await rejectsWith(v.verify({ ...req, rawQuery: req.rawQuery.replace('response-content-type=text%2Fplain', 'response-content-type=text%2Fhtml') }), 'SignatureDoesNotMatch');
  await rejectsWith(v.verify({ ...req, rawQuery: req.rawQuery.replace(`X-Amz-Credential=${AK}`, 'X-Amz-Credential=AKIDNOPE') }), 'InvalidAccessKeyId');
  await rejectsWith(v.verify({ ...req, method: 'PUT' }), 'SignatureDoesNotMatch');
});
