// A minimal keep-alive HTTP/1.1 client over one raw TCP socket: one request at a time, no
// pipelining. It does far less work per request than node:http's client (no header objects
// unless asked, no IncomingMessage streams), so the generator stays cheap next to the server.
import { connect, type Socket } from 'node:net';
import type { Readable } from 'node:stream';

export interface HttpResponse {
  status: number;
  /** Lowercased names; only filled when the request asked for headers. */
  headers: Map<string, string>;
  bodyBytes: number;
  /** The Content-Length header's value, or -1 when absent (HEAD answers carry the object's size). */
  contentLength: number;
  /** The body when the request asked to collect it, and always for status >= 300 (errors). */
  body: Buffer | undefined;
}

export interface HttpRequestSpec {
  method: string;
  /** Request target: path plus optional ?query. */
  target: string;
  headers: Record<string, string>;
  /**
   * The whole request head (request line, headers, blank line) rendered up front by renderHead();
   * when set, target and headers are not looked at again, so a request signed once costs nothing
   * per send.
   */
  head?: Buffer;
  /** A small body, or a stream for large ones (its byte count must match content-length). */
  body?: Buffer | Readable;
  /** Receives every body chunk (e.g. a checksum sink); the chunk is only valid during the call. */
  onBody?: (chunk: Buffer) => void;
  collectBody?: boolean;
  wantHeaders?: boolean;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');

/** The request head exactly as request() would send it for `spec` on a connection to `hostHeader`. */
export function renderHead(spec: Pick<HttpRequestSpec, 'method' | 'target' | 'headers'>, hostHeader: string): Buffer {
  let head = `${spec.method} ${spec.target} HTTP/1.1\r\nhost: ${hostHeader}\r\n`;
  for (const name in spec.headers) head += `${name}: ${spec.headers[name]}\r\n`;
  return Buffer.from(head + '\r\n', 'latin1');
}
const CRLF = Buffer.from('\r\n');

type BodyMode = { kind: 'length'; remaining: number } | { kind: 'chunked'; state: 'size' | 'data' | 'data-crlf' | 'trailer'; remaining: number } | { kind: 'close' };

interface Pending {
  spec: HttpRequestSpec;
  resolve: (r: HttpResponse) => void;
  reject: (e: Error) => void;
  response: HttpResponse | undefined;
  mode: BodyMode | undefined;
  parts: Buffer[];
  requestSent: boolean;
}

export class HttpConnection {
  private buffered: Buffer = Buffer.alloc(0);
  private pending: Pending | undefined;
  private closed = false;
  /** False once the connection cannot carry another request (server closed, early response). */
  usable = true;

  private constructor(
    private readonly socket: Socket,
    readonly hostHeader: string,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e) => this.fail(e));
    socket.on('close', () => {
      this.closed = true;
      this.usable = false;
      const p = this.pending;
      if (p?.mode?.kind === 'close' && p.response) {
        this.pending = undefined;
        p.resolve(this.finishBody(p, p.response));
      } else {
        this.fail(new Error('connection closed by server'));
      }
    });
  }

  static connect(host: string, port: number): Promise<HttpConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port }, () => {
        socket.off('error', reject);
        resolve(new HttpConnection(socket, `${host}:${port}`));
      });
      socket.once('error', reject);
    });
  }

  close(): void {
    this.usable = false;
    this.socket.destroy();
  }

  request(spec: HttpRequestSpec): Promise<HttpResponse> {
    if (this.pending) return Promise.reject(new Error('request already in flight on this connection'));
    if (this.closed) return Promise.reject(new Error('connection is closed'));
    return new Promise((resolve, reject) => {
      const pending: Pending = { spec, resolve, reject, response: undefined, mode: undefined, parts: [], requestSent: false };
      this.pending = pending;
      const head = spec.head ?? renderHead(spec, this.hostHeader);
      const body = spec.body;
      if (body === undefined) {
        this.socket.write(head);
        pending.requestSent = true;
      } else if (Buffer.isBuffer(body)) {
        // One write for head and a small body keeps it to one TCP segment.
        this.socket.write(body.length <= 16384 ? Buffer.concat([head, body]) : head);
        if (body.length > 16384) this.socket.write(body);
        pending.requestSent = true;
      } else {
        this.socket.write(head);
        body.on('error', (e) => this.fail(e));
        body.on('end', () => {
          pending.requestSent = true;
        });
        body.pipe(this.socket, { end: false });
      }
    });
  }

  private fail(e: Error): void {
    this.usable = false;
    const p = this.pending;
    this.pending = undefined;
    if (p) p.reject(e);
  }

  private onData(chunk: Buffer): void {
    const p = this.pending;
    if (!p) {
      // Bytes with no request in flight: the stream is out of sync, never reuse it.
      this.usable = false;
      return;
    }
    let data = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    this.buffered = Buffer.alloc(0);
    if (!p.response) {
      const end = data.indexOf(CRLFCRLF);
      if (end < 0) {
        this.buffered = data;
        return;
      }
      if (!this.parseHead(p, data.toString('latin1', 0, end))) return;
      data = data.subarray(end + 4);
    }
    this.consumeBody(p, data);
  }

  private parseHead(p: Pending, head: string): boolean {
    const firstLineEnd = head.indexOf('\r\n');
    const statusLine = firstLineEnd < 0 ? head : head.slice(0, firstLineEnd);
    const status = Number(statusLine.slice(9, 12));
    if (!statusLine.startsWith('HTTP/1.') || !Number.isInteger(status)) {
      this.fail(new Error(`bad status line: ${JSON.stringify(statusLine.slice(0, 80))}`));
      this.socket.destroy();
      return false;
    }
    const headers = new Map<string, string>();
    let contentLength = -1;
    let chunked = false;
    let close = false;
    if (firstLineEnd >= 0) {
      for (const line of head.slice(firstLineEnd + 2).split('\r\n')) {
        const colon = line.indexOf(':');
        if (colon <= 0) continue;
        const name = line.slice(0, colon).toLowerCase();
        const value = line.slice(colon + 1).trim();
        if (name === 'content-length') contentLength = Number(value);
        else if (name === 'transfer-encoding') chunked = value.toLowerCase().includes('chunked');
        else if (name === 'connection') close = value.toLowerCase() === 'close';
        if (p.spec.wantHeaders) headers.set(name, value);
      }
    }
    if (close) this.usable = false;
    // A response before the request body was fully sent leaves the stream unusable.
    if (!p.requestSent) this.usable = false;
    p.response = { status, headers, bodyBytes: 0, contentLength, body: undefined };
    const noBody = p.spec.method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200);
    if (noBody) p.mode = { kind: 'length', remaining: 0 };
    else if (chunked) p.mode = { kind: 'chunked', state: 'size', remaining: 0 };
    else if (contentLength >= 0) p.mode = { kind: 'length', remaining: contentLength };
    else {
      p.mode = { kind: 'close' };
      this.usable = false;
    }
    return true;
  }

  private deliver(p: Pending, r: HttpResponse, part: Buffer): void {
    if (part.length === 0) return;
    r.bodyBytes += part.length;
    p.spec.onBody?.(part);
    if (p.spec.collectBody || r.status >= 300) p.parts.push(Buffer.from(part));
  }

  private finishBody(p: Pending, r: HttpResponse): HttpResponse {
    if (p.spec.collectBody || r.status >= 300) r.body = Buffer.concat(p.parts);
    return r;
  }

  private complete(p: Pending, r: HttpResponse, leftover: Buffer): void {
    if (leftover.length) this.usable = false; // unsolicited bytes: out of sync
    this.pending = undefined;
    p.resolve(this.finishBody(p, r));
  }

  private consumeBody(p: Pending, data: Buffer): void {
    const r = p.response as HttpResponse;
    const mode = p.mode as BodyMode;
    if (mode.kind === 'close') {
      this.deliver(p, r, data);
      return;
    }
    if (mode.kind === 'length') {
      const take = Math.min(mode.remaining, data.length);
      this.deliver(p, r, data.subarray(0, take));
      mode.remaining -= take;
      if (mode.remaining === 0) this.complete(p, r, data.subarray(take));
      return;
    }
    // Chunked transfer coding.
    let at = 0;
    while (at < data.length) {
      if (mode.state === 'data') {
        const take = Math.min(mode.remaining, data.length - at);
        this.deliver(p, r, data.subarray(at, at + take));
        mode.remaining -= take;
        at += take;
        if (mode.remaining === 0) mode.state = 'data-crlf';
        continue;
      }
      const lineEnd = data.indexOf(CRLF, at);
      if (lineEnd < 0) break;
      const line = data.toString('latin1', at, lineEnd);
      at = lineEnd + 2;
      if (mode.state === 'data-crlf') {
        mode.state = 'size';
      } else if (mode.state === 'size') {
        const size = parseInt(line, 16);
        if (!Number.isFinite(size)) {
          this.fail(new Error(`bad chunk size line ${JSON.stringify(line)}`));
          this.socket.destroy();
          return;
        }
        if (size === 0) mode.state = 'trailer';
        else {
          mode.state = 'data';
          mode.remaining = size;
        }
      } else if (line === '') {
        this.complete(p, r, data.subarray(at));
        return;
      }
    }
    if (at < data.length) this.buffered = Buffer.from(data.subarray(at));
  }
}
