// Incremental decoder for aws-chunked request bodies (spec/auth.md §7.2, §7.3).
//
// Fed with the HTTP body in whatever pieces it arrives (aws-chunk boundaries do not line up with
// HTTP chunk boundaries), it hands back the decoded object bytes as views into the input — chunk
// data is never copied or buffered — and verifies chunk and trailer signatures in signed modes.
//
// Error mapping (AWS has no dedicated public code for broken framing):
//   - body ends before the final chunk / trailer end       -> IncompleteBody
//   - unparsable size line, missing CRLF, bytes after end  -> InvalidRequest
//   - chunk or trailer signature wrong or missing          -> SignatureDoesNotMatch
//   - a chunk larger than maxChunkSize                     -> EntityTooLarge
import { createHash, type Hash } from 'node:crypto';
import { S3Error } from '../s3/errors.js';
import { EMPTY_SHA256, signString, signaturesEqual, type SigningContext } from './sigv4.js';

export interface AwsChunkedOptions {
  /** Present in the signed modes: chunk signatures (and the trailer signature) are verified. */
  signing?: SigningContext;
  /** A trailer section follows the final 0-size chunk (the *-TRAILER modes). */
  trailer: boolean;
  /** Largest accepted chunk size; nothing is buffered, this only rejects absurd sizes early. */
  maxChunkSize?: number;
}

type State = 'size-line' | 'data' | 'data-crlf' | 'final-crlf' | 'trailer' | 'done';

const CR = 0x0d;
const LF = 0x0a;
/** Longest size line or trailer line accepted (a signed size line is about 90 bytes). */
const MAX_LINE = 4096;
const MAX_TRAILER_LINES = 64;
const HEX_SIZE = /^[0-9a-fA-F]{1,13}$/; // 13 hex digits stays below 2^53
const SIGNATURE_EXTENSION = 'chunk-signature=';
const TRAILER_SIGNATURE = 'x-amz-trailer-signature';

function framingError(detail: string): S3Error {
  return new S3Error('InvalidRequest', `Malformed aws-chunked body: ${detail}.`);
}

export class AwsChunkedDecoder {
  /** Trailer headers by lowercase name (x-amz-trailer-signature excluded). */
  readonly trailers = new Map<string, string>();
  private state: State = 'size-line';
  private decoded = 0;
  private readonly maxChunkSize: number;
  private readonly signing: SigningContext | undefined;
  private readonly trailerExpected: boolean;
  /** Chunk string-to-sign up to (and including) the newline before the previous signature. */
  private readonly chunkPrefix: string;
  private previousSignature: string;

  // Line assembly across input pieces.
  private lineParts: Buffer[] = [];
  private lineLength = 0;

  // Current chunk.
  private remaining = 0;
  private chunkSignature = '';
  private chunkHash: Hash | null = null;
  private crlfSeen = 0;

  // Trailer section.
  private trailerCanonical = '';
  private trailerLines = 0;
  private trailerSignatureSeen = false;

  constructor(options: AwsChunkedOptions) {
    this.signing = options.signing;
    this.trailerExpected = options.trailer;
    this.maxChunkSize = options.maxChunkSize ?? Number.MAX_SAFE_INTEGER;
    this.previousSignature = options.signing?.seedSignature ?? '';
    this.chunkPrefix = options.signing === undefined
      ? ''
      : `AWS4-HMAC-SHA256-PAYLOAD\n${options.signing.timestamp}\n${options.signing.scope}\n`;
  }

  /** Object bytes decoded so far. */
  get decodedLength(): number {
    return this.decoded;
  }

  /** True once the terminating empty line has been read. */
  get done(): boolean {
    return this.state === 'done';
  }

  /**
   * Feeds the next piece of the encoded body. `onData` receives decoded bytes as views into
   * `input` (valid as long as `input` is). Throws S3Error on any framing or signature error.
   */
  write(input: Buffer, onData: (data: Buffer) => void): void {
    let pos = 0;
    const n = input.length;
    while (pos < n) {
      switch (this.state) {
        case 'data': {
          const take = Math.min(this.remaining, n - pos);
          const slice = input.subarray(pos, pos + take);
          pos += take;
          this.remaining -= take;
          this.decoded += take;
          this.chunkHash?.update(slice);
          onData(slice);
          if (this.remaining === 0) {
            this.finishChunk();
            this.state = 'data-crlf';
            this.crlfSeen = 0;
          }
          break;
        }
        case 'data-crlf': {
          const expected = this.crlfSeen === 0 ? CR : LF;
          if (input[pos] !== expected) throw framingError('chunk data is not followed by CRLF');
          pos++;
          if (++this.crlfSeen === 2) this.state = 'size-line';
          break;
        }
        case 'done':
          throw framingError('data after the final chunk');
        default: {
          const end = input.indexOf(LF, pos);
          if (end < 0) {
            this.appendLinePart(input.subarray(pos));
            pos = n;
            break;
          }
          this.appendLinePart(input.subarray(pos, end));
          pos = end + 1;
          this.handleLine(this.takeLine());
        }
      }
    }
  }

  /** Call when the encoded body has ended; throws IncompleteBody if it stopped early. */
  end(): void {
    if (this.state !== 'done') {
      throw new S3Error('IncompleteBody', 'The aws-chunked request body ended before its final chunk and trailer.');
    }
  }

  private appendLinePart(part: Buffer): void {
    if (part.length === 0) return;
    this.lineLength += part.length;
    if (this.lineLength > MAX_LINE) throw framingError('line too long');
    this.lineParts.push(part);
  }

  /** The assembled line without its line ending (a bare LF is tolerated, CRLF is the norm). */
  private takeLine(): string {
    const parts = this.lineParts;
    const line = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, this.lineLength);
    this.lineParts = [];
    this.lineLength = 0;
    const len = line.length > 0 && line[line.length - 1] === CR ? line.length - 1 : line.length;
    return line.toString('latin1', 0, len);
  }

  private handleLine(line: string): void {
    switch (this.state) {
      case 'size-line':
        this.startChunk(line);
        return;
      case 'final-crlf':
        if (line !== '') throw framingError('the final chunk is not followed by an empty line');
        this.state = 'done';
        return;
      case 'trailer':
        this.trailerLine(line);
        return;
      default:
        throw framingError('unexpected line');
    }
  }

  private startChunk(line: string): void {
    const semi = line.indexOf(';');
    const sizeText = semi < 0 ? line : line.slice(0, semi);
    if (!HEX_SIZE.test(sizeText)) throw framingError('invalid chunk size line');
    const size = parseInt(sizeText, 16);
    if (size > this.maxChunkSize) {
      throw new S3Error('EntityTooLarge', `An aws-chunked chunk of ${size} bytes exceeds the maximum of ${this.maxChunkSize}.`);
    }
    if (this.signing !== undefined) {
      const at = semi < 0 ? -1 : line.indexOf(SIGNATURE_EXTENSION, semi);
      if (at < 0) throw new S3Error('SignatureDoesNotMatch', 'A signed aws-chunked chunk carries no chunk-signature.');
      const sigStart = at + SIGNATURE_EXTENSION.length;
      const sigEnd = line.indexOf(';', sigStart);
      this.chunkSignature = (sigEnd < 0 ? line.slice(sigStart) : line.slice(sigStart, sigEnd)).trim();
      this.chunkHash = createHash('sha256');
    }
    if (size === 0) {
      this.finishChunk();
      this.state = this.trailerExpected ? 'trailer' : 'final-crlf';
      return;
    }
    this.remaining = size;
    this.state = 'data';
  }

  /** Verifies the signature of the chunk just completed (signed modes) and chains it. */
  private finishChunk(): void {
    const signing = this.signing;
    if (signing === undefined || this.chunkHash === null) return;
    const stringToSign = this.chunkPrefix + this.previousSignature + '\n' + EMPTY_SHA256 + '\n' + this.chunkHash.digest('hex');
    this.chunkHash = null;
    const expected = signString(signing.signingKey, stringToSign);
    if (!signaturesEqual(this.chunkSignature, expected)) {
      throw new S3Error('SignatureDoesNotMatch', 'The chunk signature we calculated does not match the signature you provided.');
    }
    this.previousSignature = expected;
  }

  private trailerLine(line: string): void {
    if (line === '') {
      // Some signers end checksum lines with a bare LF and then send a CRLF before the
      // signature line; in signed mode the trailer only ends after the signature.
      if (this.signing !== undefined && !this.trailerSignatureSeen) return;
      this.state = 'done';
      return;
    }
    if (this.trailerSignatureSeen) throw framingError('trailer header after x-amz-trailer-signature');
    if (++this.trailerLines > MAX_TRAILER_LINES) throw framingError('too many trailer headers');
    const colon = line.indexOf(':');
    if (colon <= 0) throw framingError('invalid trailer header');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name !== TRAILER_SIGNATURE) {
      this.trailers.set(name, value);
      this.trailerCanonical += name + ':' + value + '\n';
      return;
    }
    this.trailerSignatureSeen = true;
    const signing = this.signing;
    if (signing === undefined) return; // unsigned-trailer mode: nothing to check it against
    const stringToSign =
      `AWS4-HMAC-SHA256-TRAILER\n${signing.timestamp}\n${signing.scope}\n${this.previousSignature}\n` +
      createHash('sha256').update(this.trailerCanonical, 'latin1').digest('hex');
    if (!signaturesEqual(value, signString(signing.signingKey, stringToSign))) {
      throw new S3Error('SignatureDoesNotMatch', 'The trailer signature we calculated does not match the signature you provided.');
    }
  }
}
