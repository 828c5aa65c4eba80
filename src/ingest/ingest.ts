// The one place request bodies are decoded, hashed and verified (spec/auth.md §7,
// errors-and-headers.md §2). A single Transform turns the HTTP body into object bytes:
// aws-chunked framing removed, MD5 (the ETag) always computed, SHA-256 and the declared
// flexible checksum when needed. Every check runs before the stream ends (in _flush), so a
// storage backend writing it to a temp file sees 'error' instead of 'end' and discards the file.
import { createHash, type Hash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { S3Error } from '../s3/errors.js';
import type { StagedWrite } from '../storage/types.js';
import { hashFile } from '../workers/pool.js';
import type { PayloadMode } from '../auth/sigv4.js';
import { AwsChunkedDecoder } from '../auth/aws-chunked.js';
import {
  CHECKSUM_ALGORITHMS,
  checksumDigestLength,
  checksumDisplayName,
  checksumHeaderName,
  createChecksum,
  parseChecksumAlgorithm,
  type ChecksumAlgorithm,
  type ChecksumHasher,
} from '../checksum/index.js';

export interface IngestOptions {
  payload: PayloadMode;
  /** For content-md5, x-amz-checksum-*, x-amz-sdk-checksum-algorithm, x-amz-trailer, x-amz-decoded-content-length, content-length, transfer-encoding. */
  headers: Readonly<Record<string, string>>;
  /** Bytes; exceeding it while streaming → EntityTooLarge. */
  maxSize: number;
  /**
   * Bodies declaring at least this many bytes get their MD5 (and payload SHA-256) computed from
   * the staged file by the hash pool in finish(), instead of inline on the event loop. Only for
   * storage that stages to files; undefined = always inline. Chosen by bench/hash-strategy.ts
   * (README, design section).
   */
  poolDigestMinBytes?: number;
}

export interface IngestResult {
  size: number;
  md5Hex: string;
  /** The declared checksum algorithm and the digest of the received bytes (verified when a value was sent). */
  checksum?: { algorithm: ChecksumAlgorithm; base64: string };
}

export interface Ingest {
  stream: Readable;
  /**
   * Once the stream ended successfully: the verified result. When digests were left to the hash
   * pool, they are computed from `staged.path` here and verified before anything is committed
   * (mismatch → BadDigest / XAmzContentSHA256Mismatch; the caller discards the staged write).
   */
  finish(staged?: StagedWrite): Promise<IngestResult>;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const MD5_BASE64 = /^[A-Za-z0-9+/]{22}==$/;
const DECIMAL = /^\d{1,16}$/;

/** What the headers promise about the body, validated before any byte is read. */
interface Expectations {
  /** Object size the body must have, when known. */
  size: number | undefined;
  /** Where that size came from, for error messages. */
  sizeHeader: 'content-length' | 'x-amz-decoded-content-length';
  md5: Buffer | undefined;
  checksumAlgorithm: ChecksumAlgorithm | undefined;
  /** Expected digest from the request header; trailer values are read at the end. */
  checksumFromHeader: Buffer | undefined;
  /** The trailer is declared to carry the checksum. */
  checksumInTrailer: boolean;
}

function parseLength(headers: Readonly<Record<string, string>>, name: string): number | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  if (!DECIMAL.test(value.trim())) {
    throw new S3Error('InvalidArgument', `Invalid ${name} header.`, { ArgumentName: name, ArgumentValue: value });
  }
  return Number(value.trim());
}

function decodeChecksumValue(alg: ChecksumAlgorithm, value: string, where: 'header' | 'trailing header'): Buffer {
  const trimmed = value.trim();
  const bytes = BASE64.test(trimmed) ? Buffer.from(trimmed, 'base64') : undefined;
  if (bytes === undefined || bytes.length !== checksumDigestLength(alg)) {
    throw new S3Error('InvalidRequest', `Value for ${checksumHeaderName(alg)} ${where} is invalid.`);
  }
  return bytes;
}

function tooLarge(proposed: number, max: number): S3Error {
  return new S3Error('EntityTooLarge', undefined, { ProposedSize: proposed, MaxSizeAllowed: max });
}

function readExpectations(options: IngestOptions): Expectations {
  const { headers, payload, maxSize } = options;
  const chunked = payload.kind === 'aws-chunked';

  // Size: the decoded length for aws-chunked (Content-Length counts the framing), else Content-Length.
  let size: number | undefined;
  let sizeHeader: Expectations['sizeHeader'] = 'content-length';
  if (chunked) {
    sizeHeader = 'x-amz-decoded-content-length';
    size = parseLength(headers, sizeHeader);
    if (size === undefined) {
      throw new S3Error('MissingContentLength', 'aws-chunked uploads must send the x-amz-decoded-content-length header.');
    }
  } else {
    size = parseLength(headers, 'content-length');
    if (size === undefined && headers['transfer-encoding'] === undefined) throw new S3Error('MissingContentLength');
  }
  if (size !== undefined && size > maxSize) throw tooLarge(size, maxSize);

  // Content-MD5: base64 of exactly 16 bytes.
  let md5: Buffer | undefined;
  const md5Header = headers['content-md5'];
  if (md5Header !== undefined) {
    if (!MD5_BASE64.test(md5Header.trim())) throw new S3Error('InvalidDigest');
    md5 = Buffer.from(md5Header.trim(), 'base64');
  }

  // Flexible checksum: at most one x-amz-checksum-* header; or declared for the trailer.
  let headerAlgorithm: ChecksumAlgorithm | undefined;
  let checksumFromHeader: Buffer | undefined;
  for (const alg of CHECKSUM_ALGORITHMS) {
    const value = headers[checksumHeaderName(alg)];
    if (value === undefined) continue;
    if (headerAlgorithm !== undefined) {
      throw new S3Error('InvalidRequest', 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
    }
    headerAlgorithm = alg;
    checksumFromHeader = decodeChecksumValue(alg, value, 'header');
  }
  let trailerAlgorithm: ChecksumAlgorithm | undefined;
  const trailerHeader = headers['x-amz-trailer'];
  if (chunked && payload.trailer && trailerHeader !== undefined) {
    for (const name of trailerHeader.split(',')) {
      const alg = name.trim().toLowerCase().startsWith('x-amz-checksum-') ? parseChecksumAlgorithm(name) : null;
      if (alg !== null) {
        trailerAlgorithm = alg;
        break;
      }
    }
  }
  if (headerAlgorithm !== undefined && trailerAlgorithm !== undefined) {
    throw new S3Error('InvalidRequest', 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
  }
  // x-amz-sdk-checksum-algorithm alone still asks for the checksum (to echo it); an unknown
  // name is accepted unverified (auth.md §7.4).
  const sdkHeader = headers['x-amz-sdk-checksum-algorithm'];
  const sdkAlgorithm = sdkHeader === undefined ? null : parseChecksumAlgorithm(sdkHeader);

  return {
    size,
    sizeHeader,
    md5,
    checksumAlgorithm: headerAlgorithm ?? trailerAlgorithm ?? sdkAlgorithm ?? undefined,
    checksumFromHeader,
    checksumInTrailer: trailerAlgorithm !== undefined,
  };
}

/** XAmzContentSHA256Mismatch unless the body's SHA-256 is what x-amz-content-sha256 said. */
function checkPayloadSha256(payload: PayloadMode, computedHex: string): void {
  if (payload.kind === 'sha256' && computedHex !== payload.expectedHex) {
    throw new S3Error('XAmzContentSHA256Mismatch', undefined, {
      ClientComputedContentSHA256: payload.expectedHex,
      S3ComputedContentSHA256: computedHex,
    });
  }
}

/** BadDigest unless the body's MD5 is what Content-MD5 said. */
function checkContentMd5(expected: Buffer | undefined, computed: Buffer): void {
  if (expected !== undefined && !computed.equals(expected)) {
    throw new S3Error('BadDigest', undefined, {
      ExpectedDigest: expected.toString('hex'),
      CalculatedDigest: computed.toString('base64'),
    });
  }
}

class IngestTransform extends Transform {
  /** Set once the stream ended; md5Hex is '' while the digests are left to the pool. */
  finalResult: IngestResult | undefined;
  private size = 0;
  private readonly md5: Hash | undefined;
  private readonly sha256: Hash | undefined;
  private readonly checksum: ChecksumHasher | undefined;
  private readonly decoder: AwsChunkedDecoder | undefined;
  /** Bound once: the decoder's per-slice callback. */
  private readonly onData = (data: Buffer): void => this.accept(data);

  constructor(
    private readonly payload: PayloadMode,
    private readonly expect: Expectations,
    private readonly maxSize: number,
    /** MD5 and payload SHA-256 are computed later, from the staged file, by the hash pool. */
    readonly digestsInPool: boolean,
  ) {
    super({ highWaterMark: 64 * 1024 });
    this.md5 = digestsInPool ? undefined : createHash('md5');
    this.sha256 = payload.kind === 'sha256' && !digestsInPool ? createHash('sha256') : undefined;
    this.checksum = expect.checksumAlgorithm === undefined ? undefined : createChecksum(expect.checksumAlgorithm);
    this.decoder = payload.kind === 'aws-chunked'
      ? new AwsChunkedDecoder({
          ...(payload.signed ? { signing: payload.signing } : {}),
          trailer: payload.trailer,
          maxChunkSize: maxSize,
        })
      : undefined;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      if (this.decoder === undefined) this.accept(chunk);
      else this.decoder.write(chunk, this.onData);
    } catch (err) {
      callback(err as Error);
      return;
    }
    callback();
  }

  /** One piece of object bytes: count, hash, pass on. */
  private accept(data: Buffer): void {
    this.size += data.length;
    if (this.size > this.maxSize) throw tooLarge(this.size, this.maxSize);
    const expected = this.expect.size;
    if (expected !== undefined && this.size > expected) {
      throw new S3Error('InvalidRequest', `The request body carries more than the ${expected} bytes declared by ${this.expect.sizeHeader}.`);
    }
    this.md5?.update(data);
    this.sha256?.update(data);
    this.checksum?.update(data);
    this.push(data);
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.finalResult = this.verify();
    } catch (err) {
      callback(err as Error);
      return;
    }
    callback();
  }

  private verify(): IngestResult {
    this.decoder?.end();
    const expect = this.expect;
    if (expect.size !== undefined && this.size < expect.size) {
      throw new S3Error(
        'IncompleteBody',
        `You did not provide the number of bytes specified by the ${expect.sizeHeader === 'content-length' ? 'Content-Length' : 'x-amz-decoded-content-length'} HTTP header.`,
      );
    }
    if (this.sha256 !== undefined) checkPayloadSha256(this.payload, this.sha256.digest('hex'));
    let md5Hex = '';
    if (this.md5 !== undefined) {
      const md5 = this.md5.digest();
      checkContentMd5(expect.md5, md5);
      md5Hex = md5.toString('hex');
    }
    const result: IngestResult = { size: this.size, md5Hex };
    const alg = expect.checksumAlgorithm;
    if (alg !== undefined && this.checksum !== undefined) {
      const computed = this.checksum.digestBase64();
      let expected = expect.checksumFromHeader;
      if (expect.checksumInTrailer) {
        const sent = this.decoder?.trailers.get(checksumHeaderName(alg));
        if (sent === undefined) {
          throw new S3Error('InvalidRequest', `The x-amz-trailer header declares ${checksumHeaderName(alg)} but the trailer does not carry it.`);
        }
        expected = decodeChecksumValue(alg, sent, 'trailing header');
      } else if (expected === undefined) {
        // Only x-amz-sdk-checksum-algorithm: a value may still arrive in an undeclared trailer.
        const sent = this.decoder?.trailers.get(checksumHeaderName(alg));
        if (sent !== undefined) expected = decodeChecksumValue(alg, sent, 'trailing header');
      }
      if (expected !== undefined && !Buffer.from(computed, 'base64').equals(expected)) {
        throw new S3Error('BadDigest', `The ${checksumDisplayName(alg)} you specified did not match the calculated checksum.`);
      }
      result.checksum = { algorithm: alg, base64: computed };
    }
    return result;
  }
}

/**
 * Validates the body headers synchronously (InvalidDigest for a malformed Content-MD5,
 * InvalidRequest for a malformed or duplicated checksum header, EntityTooLarge when the
 * declared size > maxSize, MissingContentLength when the size is unknowable) and returns the
 * decoding stream. If the source errors (client abort) the stream errors too. If the stream
 * fails, the source is unpiped but not destroyed, so the engine can still send the error.
 */
export function createIngest(body: Readable, options: IngestOptions): Ingest {
  const expectations = readExpectations(options);
  const min = options.poolDigestMinBytes;
  const digestsInPool = min !== undefined && expectations.size !== undefined && expectations.size >= min;
  const transform = new IngestTransform(options.payload, expectations, options.maxSize, digestsInPool);
  // Kept for the life of the source: destroy() on a finished transform is a no-op, and a
  // listener here means a late abort can never become an unhandled 'error'.
  body.on('error', (err: Error) => transform.destroy(err));
  // A small body can fail verification in _flush before its reader (e.g. a storage backend still
  // opening its temp file) attaches: without a listener that would be an unhandled 'error' that
  // kills the process. The reader still sees the error: an errored stream rejects its iterator.
  transform.on('error', () => {});
  body.pipe(transform);
  return {
    stream: transform,
    async finish(staged?: StagedWrite): Promise<IngestResult> {
      const result = transform.finalResult;
      if (result === undefined) throw new Error('ingest result read before the body stream ended');
      if (!transform.digestsInPool) return result;
      if (staged?.path === undefined) throw new Error('digests were left to the pool but the staged write has no file');
      const wantSha256 = options.payload.kind === 'sha256';
      const digests = await hashFile(staged.path, wantSha256 ? (['md5', 'sha256'] as const) : (['md5'] as const));
      if (digests.size !== result.size) throw new Error(`staged file holds ${digests.size} bytes, ${result.size} were written`);
      if ('sha256Hex' in digests) checkPayloadSha256(options.payload, digests.sha256Hex);
      checkContentMd5(expectations.md5, Buffer.from(digests.md5Hex, 'hex'));
      return { ...result, md5Hex: digests.md5Hex };
    },
  };
}
