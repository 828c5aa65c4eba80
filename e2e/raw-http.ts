// Hand-built S3 requests for negative tests: SigV4 signing through @smithy/signature-v4 (an
// implementation independent of the server's), raw node:http sending, aws-chunked bodies.
import { createHash, createHmac } from 'node:crypto';
import { request, type IncomingHttpHeaders, type ClientRequest } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { HttpRequest as SmithyRequest, SourceData, Checksum } from '@smithy/types';
import { ACCESS_KEY, SECRET_KEY, REGION } from './harness.js';
import { connect, type Socket } from 'node:net';

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** node:crypto SHA-256 / HMAC-SHA256 in the shape smithy's signer wants. */
class NodeSha256 implements Checksum {
  private hash;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(secret));
  }
  update(data: Uint8Array): void {
    this.hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return this.hash.digest();
  }
  reset(): void {
    throw new Error('not needed');
  }
}

function toBuffer(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}
export const GOOD_CREDENTIALS: Credentials = { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY };

export function signer(credentials: Credentials = GOOD_CREDENTIALS): SignatureV4 {
  // uriEscapePath false: S3 signs the path as sent (already percent-encoded), no normalisation.
  return new SignatureV4({ credentials, region: REGION, service: 's3', sha256: NodeSha256, uriEscapePath: false, applyChecksum: false });
}

export interface RawRequest {
  method: string;
  /** Percent-encoded path as it goes on the wire, e.g. '/bucket/a%20b'. */
  path: string;
  /** Path used in the canonical request when it differs from the wire path. */
  signedPath?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
}

export interface SignOptions {
  credentials?: Credentials;
  signingDate?: Date;
  /** x-amz-content-sha256 value: a hex digest or a sentinel. Default: SHA-256 of the empty body. */
  payloadHash?: string;
}

function hostOf(endpoint: string): { hostname: string; port: number; host: string } {
  const url = new URL(endpoint);
  return { hostname: url.hostname, port: Number(url.port), host: url.host };
}

/** Returns the request headers with x-amz-date, x-amz-content-sha256, host and Authorization. */
export async function signHeaders(endpoint: string, req: RawRequest, options: SignOptions = {}): Promise<Record<string, string>> {
  const { hostname, port, host } = hostOf(endpoint);
  const toSign: SmithyRequest = {
    method: req.method,
    protocol: 'http:',
    hostname,
    port,
    path: req.signedPath ?? req.path,
    query: req.query ?? {},
    headers: { ...req.headers, host, 'x-amz-content-sha256': options.payloadHash ?? EMPTY_SHA256 },
  };
  const signed = await signer(options.credentials).sign(toSign, { signingDate: options.signingDate ?? new Date() });
  return signed.headers;
}

/** A presigned URL path+query (no host) for the given request. */
export async function presignPath(endpoint: string, req: RawRequest, expiresIn: number, signingDate = new Date()): Promise<string> {
  const { hostname, port, host } = hostOf(endpoint);
  // The payload line of a presigned request is UNSIGNED-PAYLOAD (auth.md §5); smithy takes it from
  // this header, which must be neither hoisted into the query nor signed.
  const presigned = await signer().presign(
    { method: req.method, protocol: 'http:', hostname, port, path: req.path, query: req.query ?? {}, headers: { host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } },
    { expiresIn, signingDate, unhoistableHeaders: new Set(['x-amz-content-sha256']), unsignableHeaders: new Set(['x-amz-content-sha256']) },
  );
  return req.path + '?' + encodeQuery(presigned.query as Record<string, string>);
}

/** S3 URI encoding (RFC 3986 unreserved kept, everything else %XX). */
export function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

/** Encodes a key for the path, keeping '/' between segments. */
export function encodeKeyPath(key: string): string {
  return key.split('/').map(uriEncode).join('/');
}

export function encodeQuery(query: Record<string, string>): string {
  return Object.keys(query)
    .sort()
    .map((k) => `${uriEncode(k)}=${uriEncode(query[k] ?? '')}`)
    .join('&');
}

/**
 * Presigns by hand, for parameters smithy refuses to produce (X-Amz-Expires > 604800).
 * Signs only `host`, payload UNSIGNED-PAYLOAD (auth.md §5).
 */
export async function presignPathManually(endpoint: string, method: string, path: string, expires: number): Promise<string> {
  const { host } = hostOf(endpoint);
  const longDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const scope = `${longDate.slice(0, 8)}/${REGION}/s3/aws4_request`;
  const query: Record<string, string> = {
    'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
    'X-Amz-Credential': `${ACCESS_KEY}/${scope}`,
    'X-Amz-Date': longDate,
    'X-Amz-Expires': String(expires),
    'X-Amz-SignedHeaders': 'host',
  };
  const canonical = [method, path, encodeQuery(query), `host:${host}\n`, 'host', 'UNSIGNED-PAYLOAD'].join('\n');
  const stringToSign = ['AWS4-HMAC-SHA256', longDate, scope, sha256Hex(canonical)].join('\n');
  const signature = await signer().sign(stringToSign, { signingDate: parseLongDate(longDate) });
  return `${path}?${encodeQuery(query)}&X-Amz-Signature=${signature}`;
}

export function parseLongDate(longDate: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(longDate);
  if (!m) throw new Error(`bad x-amz-date ${longDate}`);
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** `<Code>` of an S3 error body, if any. */
export function errorCode(body: Buffer): string | undefined {
  return /<Code>([^<]*)<\/Code>/.exec(body.toString('utf8'))?.[1];
}

export function showResponse(res: RawResponse): string {
  return `${res.status} ${res.body.toString('utf8').slice(0, 600)}`;
}

/**
 * Sends a request over a fresh connection. `body` may be a Buffer or a function that writes the
 * body itself (for slow / partial / aborted uploads).
 */
export function send(
  endpoint: string,
  options: { method: string; path: string; headers: Record<string, string>; body?: Buffer; writeBody?: (req: ClientRequest) => void },
): Promise<RawResponse> {
  const { hostname, port } = hostOf(endpoint);
  return new Promise((resolveSend, reject) => {
    const req = request({ hostname, port, method: options.method, path: options.path, headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolveSend({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(60_000, () => req.destroy(new Error(`${options.method} ${options.path}: no response within 60 s`)));
    if (options.writeBody) options.writeBody(req);
    else req.end(options.body);
  });
}

/** Signs (header auth, payload hash = SHA-256 of body unless given) and sends. */
export async function signedRequest(
  endpoint: string,
  req: RawRequest & { body?: Buffer },
  options: SignOptions = {},
): Promise<RawResponse> {
  const body = req.body ?? Buffer.alloc(0);
  const headers = await signHeaders(endpoint, req, { ...options, payloadHash: options.payloadHash ?? sha256Hex(body) });
  if (req.body !== undefined || req.method === 'PUT' || req.method === 'POST') headers['content-length'] = String(body.length);
  const query = req.query && Object.keys(req.query).length > 0 ? '?' + encodeQuery(req.query) : '';
  return send(endpoint, { method: req.method, path: req.path + query, headers, body });
}

// ---- aws-chunked bodies (auth.md §7.2-7.3) ----

/** Unsigned aws-chunked body with a trailer, as STREAMING-UNSIGNED-PAYLOAD-TRAILER. */
export function unsignedChunkedBody(chunks: Buffer[], trailer: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  for (const chunk of chunks) {
    parts.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n'));
  for (const [name, value] of Object.entries(trailer)) parts.push(Buffer.from(`${name}:${value}\r\n`));
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

/** Seed signature from an Authorization header. */
export function seedSignature(authorization: string): string {
  const m = /Signature=([0-9a-f]{64})/.exec(authorization);
  if (!m) throw new Error(`no signature in ${authorization}`);
  return m[1] as string;
}

/**
 * Signed aws-chunked body for STREAMING-AWS4-HMAC-SHA256-PAYLOAD: each chunk (and the final
 * empty one) signed over the previous signature. `corruptChunk` flips one signature to test rejection.
 */
export async function signedChunkedBody(
  chunks: Buffer[],
  headers: Record<string, string>,
  options: { corruptChunk?: number; credentials?: Credentials } = {},
): Promise<Buffer> {
  const authorization = headers['authorization'] ?? headers['Authorization'];
  const longDate = headers['x-amz-date'] ?? headers['X-Amz-Date'];
  if (!authorization || !longDate) throw new Error('sign the headers first');
  const signingDate = parseLongDate(longDate);
  const scope = `${longDate.slice(0, 8)}/${REGION}/s3/aws4_request`;
  const s = signer(options.credentials);
  let previous = seedSignature(authorization);
  const parts: Buffer[] = [];
  const all = [...chunks, Buffer.alloc(0)];
  for (let i = 0; i < all.length; i++) {
    const data = all[i] as Buffer;
    const stringToSign = ['AWS4-HMAC-SHA256-PAYLOAD', longDate, scope, previous, EMPTY_SHA256, sha256Hex(data)].join('\n');
    let signature = await s.sign(stringToSign, { signingDate });
    previous = signature;
    if (options.corruptChunk === i) signature = (signature[0] === '0' ? '1' : '0') + signature.slice(1);
    parts.push(Buffer.from(`${data.length.toString(16)};chunk-signature=${signature}\r\n`), data, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** A raw TCP connection to the server (for requests node:http would not send). */
export function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** The first response head read from a raw socket (or whatever arrived before it closed). */
export function firstResponse(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    socket.on('data', (c: Buffer) => {
      data += c.toString('latin1');
      if (data.includes('\r\n\r\n')) resolve(data);
    });
    socket.on('close', () => resolve(data));
    socket.on('error', () => undefined);
  });
}
