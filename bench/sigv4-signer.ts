// A deliberately small SigV4 header signer for the load generator. It signs with
// UNSIGNED-PAYLOAD (no body hashing) and caches the signing key and the x-amz-date string,
// so a request costs one SHA-256 of the canonical request plus one HMAC (~2–4 µs).
// Keys and bucket names used by the benchmarks contain only unreserved characters, so the
// path needs no percent-encoding; the query is encoded here.
import { createHash, createHmac } from 'node:crypto';

export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

export interface SignedHeaders {
  'x-amz-date': string;
  'x-amz-content-sha256': string;
  authorization: string;
}

export class BenchSigner {
  private keyDate = '';
  private signingKey: Buffer = Buffer.alloc(0);
  private dateSecond = -1;
  private amzDate = '';

  constructor(
    private readonly accessKey: string,
    private readonly secretKey: string,
    private readonly region = 'us-east-1',
  ) {}

  private now(): string {
    const second = Math.floor(Date.now() / 1000);
    if (second !== this.dateSecond) {
      this.dateSecond = second;
      this.amzDate = new Date(second * 1000).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    }
    return this.amzDate;
  }

  private keyFor(date: string): Buffer {
    if (date !== this.keyDate) {
      const kDate = hmac('AWS4' + this.secretKey, date);
      this.signingKey = hmac(hmac(hmac(kDate, this.region), 's3'), 'aws4_request');
      this.keyDate = date;
    }
    return this.signingKey;
  }

  /**
   * Headers that authorise `method path?query` for `host` (exactly as sent in Host).
   * `extra` headers (lowercase names) are sent and signed too, e.g. content-md5.
   */
  sign(method: string, path: string, query: ReadonlyArray<readonly [string, string]>, host: string, extra: Record<string, string> = {}): SignedHeaders & Record<string, string> {
    const amzDate = this.now();
    const date = amzDate.slice(0, 8);
    const canonicalQuery = query
      .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
      .map(([k, v]) => `${k}=${v}`)
      .join('&');
    const headers: Record<string, string> = { host, 'x-amz-content-sha256': UNSIGNED_PAYLOAD, 'x-amz-date': amzDate, ...extra };
    const names = Object.keys(headers).sort();
    const canonicalHeaders = names.map((n) => `${n}:${(headers[n] as string).trim()}\n`).join('');
    const signedHeaders = names.join(';');
    const canonicalRequest = `${method}\n${path}\n${canonicalQuery}\n${canonicalHeaders}\n${signedHeaders}\n${UNSIGNED_PAYLOAD}`;
    const scope = `${date}/${this.region}/s3/aws4_request`;
    const stringToSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${createHash('sha256').update(canonicalRequest).digest('hex')}`;
    const signature = createHmac('sha256', this.keyFor(date)).update(stringToSign).digest('hex');
    const { host: _host, ...rest } = headers;
    return {
      ...rest,
      'x-amz-date': amzDate,
      'x-amz-content-sha256': UNSIGNED_PAYLOAD,
      authorization: `AWS4-HMAC-SHA256 Credential=${this.accessKey}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
    };
  }
}

/** `a=1&b` style query text for the request line, matching what sign() was given. */
export function queryString(query: ReadonlyArray<readonly [string, string]>): string {
  return query.map(([k, v]) => (v === '' ? uriEncode(k) : `${uriEncode(k)}=${uriEncode(v)}`)).join('&');
}
