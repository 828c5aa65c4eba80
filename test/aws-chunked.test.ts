// aws-chunked decoding: AWS documented vectors, bodies signed here with the §7.3 formulas,
// the JS SDK unsigned-trailer body from platform.md §6, arbitrary input splits, every error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { AwsChunkedDecoder, type AwsChunkedOptions } from '../src/auth/aws-chunked.js';
import { S3Error, type S3ErrorCode } from '../src/s3/errors.js';
import type { SigningContext } from '../src/auth/sigv4.js';

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const sha256Hex = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data).digest();

/** kSigning per auth.md §4.3, written out independently of the code under test. */
function signingKey(secret: string, date: string, region: string): Buffer {
  return hmac(hmac(hmac(hmac('AWS4' + secret, date), region), 's3'), 'aws4_request');
}

// The AWS documentation examples (sigv4-streaming.html, sigv4-streaming-trailers.html).
const DOC_KEY = signingKey('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', '20130524', 'us-east-1');
const DOC_DATA = Buffer.alloc(66560, 'a');
const DOC_SIGNED = {
  seed: '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
  chunks: [
    'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
    '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
    'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
  ],
};
const DOC_TRAILER = {
  seed: '106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e',
  chunks: [
    'b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2',
    '1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7',
    '2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992',
  ],
  trailerSignature: 'd81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435',
};

function docContext(seed: string): SigningContext {
  return { signingKey: DOC_KEY, timestamp: '20130524T000000Z', scope: '20130524/us-east-1/s3/aws4_request', seedSignature: seed };
}

function docSignedBody(): Buffer {
  const [s1, s2, s3] = DOC_SIGNED.chunks;
  return Buffer.concat([
    Buffer.from(`10000;chunk-signature=${s1}\r\n`), DOC_DATA.subarray(0, 65536), Buffer.from('\r\n'),
    Buffer.from(`400;chunk-signature=${s2}\r\n`), DOC_DATA.subarray(65536), Buffer.from('\r\n'),
    Buffer.from(`0;chunk-signature=${s3}\r\n\r\n`),
  ]);
}

function docTrailerBody(trailerLineEnd = '\r\n'): Buffer {
  const [s1, s2, s3] = DOC_TRAILER.chunks;
  return Buffer.concat([
    Buffer.from(`10000;chunk-signature=${s1}\r\n`), DOC_DATA.subarray(0, 65536), Buffer.from('\r\n'),
    Buffer.from(`400;chunk-signature=${s2}\r\n`), DOC_DATA.subarray(65536), Buffer.from('\r\n'),
    Buffer.from(`0;chunk-signature=${s3}\r\n`),
    Buffer.from(`x-amz-checksum-crc32c:sOO8/Q==${trailerLineEnd}x-amz-trailer-signature:${DOC_TRAILER.trailerSignature}\r\n\r\n`),
  ]);
}

/** Signs and frames `chunks` per auth.md §7.2/§7.3 (final 0 chunk and trailer signed too). */
function buildSignedBody(chunks: Buffer[], ctx: SigningContext, trailer?: Record<string, string>): { body: Buffer; signatures: string[] } {
  const parts: Buffer[] = [];
  const signatures: string[] = [];
  let previous = ctx.seedSignature;
  for (const data of [...chunks, Buffer.alloc(0)]) {
    const stringToSign = ['AWS4-HMAC-SHA256-PAYLOAD', ctx.timestamp, ctx.scope, previous, EMPTY_SHA256, sha256Hex(data)].join('\n');
    previous = createHmac('sha256', ctx.signingKey).update(stringToSign).digest('hex');
    signatures.push(previous);
    parts.push(Buffer.from(`${data.length.toString(16)};chunk-signature=${previous}\r\n`));
    if (data.length > 0) parts.push(data, Buffer.from('\r\n'));
  }
  if (trailer === undefined) {
    parts.push(Buffer.from('\r\n'));
  } else {
    const lines = Object.entries(trailer).map(([name, value]) => `${name}:${value}`);
    const hashed = sha256Hex(lines.map((l) => l + '\n').join(''));
    const stringToSign = ['AWS4-HMAC-SHA256-TRAILER', ctx.timestamp, ctx.scope, previous, hashed].join('\n');
    const trailerSignature = createHmac('sha256', ctx.signingKey).update(stringToSign).digest('hex');
    signatures.push(trailerSignature);
    parts.push(Buffer.from(lines.map((l) => l + '\r\n').join('') + `x-amz-trailer-signature:${trailerSignature}\r\n\r\n`));
  }
  return { body: Buffer.concat(parts), signatures };
}

/** The JS SDK's STREAMING-UNSIGNED-PAYLOAD-TRAILER body captured in platform.md §6. */
const SDK_BODY = Buffer.from('a\r\nchunk-one \r\n9\r\nchunk-two\r\n0\r\nx-amz-checksum-crc32:s4R9Pg==\r\n\r\n');

/** Feeds `body` in pieces of `split` bytes (or the given piece sizes, cycled) and ends. */
function decode(options: AwsChunkedOptions, body: Buffer, split: number | number[] = body.length): { data: Buffer; decoder: AwsChunkedDecoder } {
  const decoder = new AwsChunkedDecoder(options);
  const out: Buffer[] = [];
  const sizes = Array.isArray(split) ? split : [split];
  let pos = 0;
  let i = 0;
  while (pos < body.length) {
    const size = Math.max(1, sizes[i++ % sizes.length] as number);
    // Copy each piece so decoded views cannot alias the original body by accident.
    decoder.write(Buffer.from(body.subarray(pos, pos + size)), (d) => out.push(Buffer.from(d)));
    pos += size;
  }
  decoder.end();
  return { data: Buffer.concat(out), decoder };
}

function throwsCode(fn: () => unknown, code: S3ErrorCode): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof S3Error, `expected S3Error ${code}, got ${String(err)}`);
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    return true;
  });
}

test('the test signer reproduces the AWS documented chunk and trailer signatures', () => {
  const signed = buildSignedBody([DOC_DATA.subarray(0, 65536), DOC_DATA.subarray(65536)], docContext(DOC_SIGNED.seed));
  assert.deepEqual(signed.signatures, DOC_SIGNED.chunks);
  assert.deepEqual(signed.body, docSignedBody());
  const trailed = buildSignedBody([DOC_DATA.subarray(0, 65536), DOC_DATA.subarray(65536)], docContext(DOC_TRAILER.seed), {
    'x-amz-checksum-crc32c': 'sOO8/Q==',
  });
  assert.deepEqual(trailed.signatures, [...DOC_TRAILER.chunks, DOC_TRAILER.trailerSignature]);
  assert.deepEqual(trailed.body, docTrailerBody());
});

test('AWS documented signed example decodes under any input split', () => {
  const body = docSignedBody();
  for (const split of [1, 2, 3, 7, 64, 4096, 65537, body.length, [5, 1, 90, 65536, 2]]) {
    const { data, decoder } = decode({ signing: docContext(DOC_SIGNED.seed), trailer: false }, body, split);
    assert.deepEqual(data, DOC_DATA, `split ${String(split)}`);
    assert.equal(decoder.decodedLength, 66560);
    assert.equal(decoder.done, true);
    assert.equal(decoder.trailers.size, 0);
  }
});

test('AWS documented signed-trailer example: chunk and trailer signatures, trailer exposed', () => {
  for (const split of [1, 13, 65536, 1 << 20]) {
    const { data, decoder } = decode({ signing: docContext(DOC_TRAILER.seed), trailer: true }, docTrailerBody(), split);
    assert.deepEqual(data, DOC_DATA);
    assert.deepEqual([...decoder.trailers], [['x-amz-checksum-crc32c', 'sOO8/Q==']]);
  }
  // Variant: checksum line ended by a bare LF, then a CRLF before the signature line.
  const { decoder } = decode({ signing: docContext(DOC_TRAILER.seed), trailer: true }, docTrailerBody('\n\r\n'), 1);
  assert.equal(decoder.trailers.get('x-amz-checksum-crc32c'), 'sOO8/Q==');
});

test('signed bodies: any altered byte, signature or order fails with SignatureDoesNotMatch', () => {
  const ctx = docContext(DOC_SIGNED.seed);
  const body = docSignedBody();
  const dataByte = Buffer.from(body);
  dataByte[100] = 'b'.charCodeAt(0); // inside chunk 1 data
  throwsCode(() => decode({ signing: ctx, trailer: false }, dataByte), 'SignatureDoesNotMatch');
  const lastData = Buffer.from(body);
  lastData[body.indexOf('400;') + 86 + 1023] = 'b'.charCodeAt(0); // last byte of chunk 2
  throwsCode(() => decode({ signing: ctx, trailer: false }, lastData), 'SignatureDoesNotMatch');
  const finalSig = Buffer.from(body.toString('latin1').replace(DOC_SIGNED.chunks[2] as string, '0'.repeat(64)), 'latin1');
  throwsCode(() => decode({ signing: ctx, trailer: false }, finalSig, 1), 'SignatureDoesNotMatch');
  throwsCode(() => decode({ signing: docContext('f'.repeat(64)), trailer: false }, body), 'SignatureDoesNotMatch');

  // Chunks swapped (each individually well signed, but the chain is broken).
  const a = randomBytes(9000);
  const b = randomBytes(9000);
  const one = buildSignedBody([a, b], ctx).body;
  const other = buildSignedBody([b, a], ctx).body;
  const swapped = Buffer.concat([other.subarray(0, one.indexOf('\r\n2328;') + 2), one.subarray(one.indexOf('\r\n2328;') + 2)]);
  throwsCode(() => decode({ signing: ctx, trailer: false }, swapped), 'SignatureDoesNotMatch');

  // Unsigned chunk headers in a signed mode.
  throwsCode(() => decode({ signing: ctx, trailer: false }, SDK_BODY), 'SignatureDoesNotMatch');
});

test('signed trailer: altered value or signature, or an unsigned line after it, is rejected', () => {
  const ctx = docContext(DOC_TRAILER.seed);
  const alteredValue = Buffer.from(docTrailerBody().toString('latin1').replace('sOO8/Q==', 'AAAAAA=='), 'latin1');
  throwsCode(() => decode({ signing: ctx, trailer: true }, alteredValue), 'SignatureDoesNotMatch');
  const alteredSig = Buffer.from(docTrailerBody().toString('latin1').replace(DOC_TRAILER.trailerSignature, 'a'.repeat(64)), 'latin1');
  throwsCode(() => decode({ signing: ctx, trailer: true }, alteredSig), 'SignatureDoesNotMatch');
  const injected = Buffer.from(docTrailerBody().toString('latin1').replace(/\r\n\r\n$/, '\r\nx-amz-meta-evil:1\r\n\r\n'), 'latin1');
  throwsCode(() => decode({ signing: ctx, trailer: true }, injected), 'InvalidRequest');
  // Signature line missing entirely: the trailer never completes.
  const noSig = Buffer.from(docTrailerBody().toString('latin1').replace(/x-amz-trailer-signature:[0-9a-f]+\r\n/, ''), 'latin1');
  throwsCode(() => decode({ signing: ctx, trailer: true }, noSig), 'IncompleteBody');
});

test('signed bodies built here: random chunk sizes and random splits round-trip', () => {
  const ctx: SigningContext = {
    signingKey: signingKey('secret', '20260222', 'eu-central-1'),
    timestamp: '20260222T120000Z',
    scope: '20260222/eu-central-1/s3/aws4_request',
    seedSignature: 'c'.repeat(64),
  };
  const payload = randomBytes(300_001);
  const chunks: Buffer[] = [];
  for (let pos = 0, i = 0; pos < payload.length; i++) {
    const size = [65536, 8192, 1, 100_000, 17][i % 5] as number;
    chunks.push(payload.subarray(pos, pos + size));
    pos += size;
  }
  const { body } = buildSignedBody(chunks, ctx, { 'x-amz-checksum-sha256': 'ignored-by-the-decoder' });
  const { data, decoder } = decode({ signing: ctx, trailer: true }, body, [3, 65535, 1, 9000, 12345]);
  assert.deepEqual(data, payload);
  assert.equal(decoder.trailers.get('x-amz-checksum-sha256'), 'ignored-by-the-decoder');
});

test('JS SDK unsigned-trailer body: 1-byte splits and the captured HTTP chunk sizes', () => {
  for (const split of [1, 2, [3, 0xa, 2, 3, 9, 2], SDK_BODY.length]) {
    const { data, decoder } = decode({ trailer: true }, SDK_BODY, split);
    assert.equal(data.toString(), 'chunk-one chunk-two');
    assert.equal(decoder.trailers.get('x-amz-checksum-crc32'), 's4R9Pg==');
  }
  // Unsigned trailer mode with no trailer headers at all.
  assert.equal(decode({ trailer: true }, Buffer.from('3\r\nabc\r\n0\r\n\r\n'), 1).data.toString(), 'abc');
  // An empty object.
  assert.equal(decode({ trailer: true }, Buffer.from('0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n')).data.length, 0);
});

test('a body cut anywhere before its end is IncompleteBody', () => {
  for (let cut = 0; cut < SDK_BODY.length; cut++) {
    throwsCode(() => decode({ trailer: true }, SDK_BODY.subarray(0, cut), 1), 'IncompleteBody');
  }
  const signed = docSignedBody();
  for (const cut of [0, 10, 90, 65536, 65627, signed.length - 2, signed.length - 1]) {
    throwsCode(() => decode({ signing: docContext(DOC_SIGNED.seed), trailer: false }, signed.subarray(0, cut)), 'IncompleteBody');
  }
});

test('garbage framing is InvalidRequest; an oversize chunk is EntityTooLarge', () => {
  throwsCode(() => decode({ trailer: true }, Buffer.from('zz\r\nabc\r\n0\r\n\r\n')), 'InvalidRequest');
  throwsCode(() => decode({ trailer: true }, Buffer.from('\r\n')), 'InvalidRequest');
  throwsCode(() => decode({ trailer: true }, Buffer.from('3\r\nabcX\r\n0\r\n\r\n')), 'InvalidRequest'); // no CRLF after data
  throwsCode(() => decode({ trailer: true }, Buffer.from('3\r\nabc\r\n0\r\n\r\nextra')), 'InvalidRequest');
  throwsCode(() => decode({ trailer: false }, Buffer.from('3\r\nabc\r\n0\r\nx:1\r\n\r\n')), 'InvalidRequest'); // trailer in a non-trailer mode
  throwsCode(() => decode({ trailer: true }, Buffer.from('3\r\nabc\r\n0\r\nnot-a-header\r\n\r\n')), 'InvalidRequest');
  throwsCode(() => decode({ trailer: true }, Buffer.from('1'.repeat(5000))), 'InvalidRequest'); // endless size line
  throwsCode(() => decode({ trailer: true }, Buffer.from('fffffffffffffffff\r\n')), 'InvalidRequest');
  throwsCode(() => decode({ trailer: true, maxChunkSize: 1000 }, Buffer.from('3e9\r\n')), 'EntityTooLarge');
  // Exactly at the limit is fine.
  const ok = Buffer.concat([Buffer.from('3e8\r\n'), Buffer.alloc(1000, 1), Buffer.from('\r\n0\r\n\r\n')]);
  assert.equal(decode({ trailer: true, maxChunkSize: 1000 }, ok, 7).data.length, 1000);
});
