/*
 * HTTP engine on uWebSockets.js (the trufflesuite 20.30 build; native only on Node 20, ABI 115).
 *
 * Limits of this uWS build that no adapter code can lift (platform.md §1.2, re-checked here):
 * - A request Content-Length of 1e9 bytes or more (10+ digits) makes uWS close the connection at
 *   once, so PUT / UploadPart bodies of 953.7 MiB and larger cannot arrive on this engine.
 * - HTTP/1.0 requests are not served (no answer, closed at the idle timeout).
 * - `Expect: 100-Continue` (capital C, as rclone sends it) gets no `100 Continue`; the client waits
 *   out its own timer (~1 s). Lowercase `100-continue` is answered by uWS itself.
 * - HTTP pipelining works only while answers settle within the microtasks run inside the uWS
 *   callback: when a second request arrives while the first one's answer waits on real I/O (disk,
 *   timers, workers), uWS closes the connection. Pipelining clients lose their connection.
 * - Heads over 4 KiB split across TCP reads, more than 48 headers, chunk extensions and malformed
 *   requests get no 4xx: the connection is just closed or left to time out.
 * - Header values are decoded as UTF-8 and leading bytes >= 0x80 are trimmed away.
 * - The keep-alive idle timeout is fixed at ~10 s; keepAliveTimeoutSeconds is ignored.
 * - Sockets lack SO_REUSEADDR: after close() has shut client connections from the server side,
 *   the port stays in TIME_WAIT and neither engine can listen on it again for ~60 s.
 */
import uWS from 'uWebSockets.js';
import type {
  HttpRequest as UwsRequest,
  HttpResponse as UwsResponse,
  us_listen_socket,
} from 'uWebSockets.js';
import { Readable } from 'node:stream';
import {
  ClientAbortError,
  type HttpEngine,
  type HttpEngineOptions,
  type HttpRequest,
  type HttpResponse,
  type RequestHandler,
} from './types.js';
import {
  INTERNAL_ERROR_BODY,
  INTERNAL_ERROR_CONTENT_TYPE,
  assertValidHeader,
  declaredContentLength,
  errorMessage,
  statusForbidsBody,
  statusLine,
} from './engine-common.js';

/** Request bytes buffered in the body stream before the socket is paused. */
const BODY_HIGH_WATER_MARK = 256 * 1024;
const DEFAULT_GRACE_MS = 5000;
const NON_ASCII = /[^\x00-\x7f]/;

const ignoreError = (): void => {};

/**
 * uWS decodes the request line and header bytes as UTF-8; node:http keeps them as latin1 (one
 * char per byte). Re-encode so both engines hand the same strings to the S3 layer.
 */
function asLatin1(text: string): string {
  return NON_ASCII.test(text) ? Buffer.from(text, 'utf8').toString('latin1') : text;
}

/** Response header values are bytes in latin1, as node:http writes them; uWS would write UTF-8. */
function headerValueBytes(value: string): string | Buffer {
  return NON_ASCII.test(value) ? Buffer.from(value, 'latin1') : value;
}

/** One request/response pair. After `settled` the uWS response object must not be touched. */
class UwsExchange {
  private settled = false;
  private bodyReceived = false;
  private bodyPaused = false;
  private discardBody = false;
  private headStarted = false;
  private method = 'GET';
  private readonly controller = new AbortController();
  private readonly body: Readable;

  // Streamed-response state, read by the single long-lived onWritable handler (rule 6).
  private source: Readable | null = null;
  private chunked = false;
  private totalSize = 0;
  private bytesQueued = 0;
  private pending: Buffer | null = null;
  private pendingOffset = 0;
  private awaitingDrain = false;

  constructor(
    private readonly res: UwsResponse,
    private readonly log: (msg: string) => void,
    private readonly onSettled: () => void,
  ) {
    // Rule 2: the abort handler comes before anything else.
    res.onAborted(() => this.onAborted());
    this.body = new Readable({ highWaterMark: BODY_HIGH_WATER_MARK, read: () => this.resumeBody() });
    // Nobody may be listening when a client goes away; an unheard 'error' would crash the process.
    this.body.on('error', ignoreError);
  }

  /** Rule 4: copy everything off the stack-allocated uWS request before returning. */
  start(req: UwsRequest): HttpRequest {
    const headers = Object.create(null) as Record<string, string>;
    req.forEach((name, value) => {
      const text = asLatin1(value);
      const previous = headers[name];
      headers[name] = previous === undefined ? text : `${previous},${text}`;
    });
    this.method = req.getMethod().toUpperCase();
    // getQuery() is typed string but gives undefined when the URL has no '?'.
    const query: string | undefined = req.getQuery();
    const request: HttpRequest = {
      method: this.method,
      rawPath: asLatin1(req.getUrl()),
      rawQuery: query === undefined ? '' : asLatin1(query),
      headers,
      remoteAddress: Buffer.from(this.res.getRemoteAddressAsText()).toString('latin1'),
      body: this.body,
      signal: this.controller.signal,
    };
    this.res.onData((chunk, isLast) => this.onBodyChunk(chunk, isLast));
    // Without framing headers there is no body. Settle that now: the handler may answer before
    // uWS reports the empty last chunk, and must not be taken for an early answer to an upload.
    const length = headers['content-length'];
    if (headers['transfer-encoding'] === undefined && (length === undefined || length === '0')) {
      this.endBody();
    }
    return request;
  }

  private onBodyChunk(chunk: ArrayBuffer, isLast: boolean): void {
    try {
      if (this.discardBody || this.bodyReceived) return;
      if (chunk.byteLength > 0) {
        // Rule 1: uWS detaches or reuses the ArrayBuffer once we return. allocUnsafe + set was the
        // cheapest copy measured (pooled below 4 KiB, no zero-fill above).
        const copy = Buffer.allocUnsafe(chunk.byteLength);
        copy.set(new Uint8Array(chunk));
        if (!this.body.push(copy) && !isLast && !this.bodyPaused) {
          this.bodyPaused = true;
          this.res.pause();
        }
      }
      if (isLast) this.endBody();
    } catch (err) {
      this.fail(err);
    }
  }

  private endBody(): void {
    this.bodyReceived = true;
    this.body.push(null);
    // uWS keeps delivering the chunks of a read it already made after pause(), so the last one
    // can arrive while paused. The ended stream will never ask for more: unpause now, or the
    // next request on this keep-alive connection stalls until the idle timeout.
    if (this.bodyPaused) {
      this.bodyPaused = false;
      this.res.resume();
    }
  }

  /** The body stream wants more: let uWS read the socket again. */
  private resumeBody(): void {
    if (!this.bodyPaused || this.settled) return;
    this.bodyPaused = false;
    try {
      this.res.resume();
    } catch (err) {
      this.fail(err);
    }
  }

  private onAborted(): void {
    try {
      const wasSettled = this.settled;
      this.settled = true;
      this.controller.abort(new ClientAbortError());
      if (!this.bodyReceived) this.body.destroy(new ClientAbortError());
      this.source?.destroy();
      if (!wasSettled) this.onSettled();
    } catch (err) {
      this.log(`uws: abort handling failed: ${errorMessage(err)}`);
    }
  }

  private settle(): void {
    if (this.settled) return;
    this.settled = true;
    this.onSettled();
  }

  /**
   * The handler answered before the whole request body arrived (an early 4xx on an upload). The
   * rest of the body will never be read: stop buffering it, unpause the socket so the answer can
   * flow, and make the connection close after the answer.
   */
  private abandonRequestBody(): void {
    this.discardBody = true;
    if (this.bodyPaused) {
      this.bodyPaused = false;
      this.res.resume();
    }
    this.body.destroy(new ClientAbortError());
  }

  /** Writes status and headers; returns whether the handler asked for `Connection: close`. */
  private writeHead(status: number, headers: Record<string, string>): boolean {
    let wantsClose = false;
    for (const name in headers) assertValidHeader(name, headers[name]);
    this.headStarted = true;
    this.res.writeStatus(statusLine(status));
    for (const name in headers) {
      const lower = name.toLowerCase();
      // uWS writes Content-Length (end/tryEnd), Date and the chunked framing itself.
      if (lower === 'content-length' || lower === 'date' || lower === 'transfer-encoding') continue;
      const value = headers[name];
      if (lower === 'connection') {
        wantsClose = /\bclose\b/i.test(value);
        continue;
      }
      this.res.writeHeader(name, headerValueBytes(value));
    }
    return wantsClose;
  }

  respond(response: HttpResponse): void {
    const { status, headers, body } = response;
    if (this.settled) {
      if (body instanceof Readable) body.destroy();
      return;
    }
    try {
      const bodyUnread = !this.bodyReceived;
      if (bodyUnread) this.abandonRequestBody();
      const sendsBody = this.method !== 'HEAD' && !statusForbidsBody(status);
      const declared = declaredContentLength(headers);
      if (body instanceof Readable) {
        if (sendsBody) {
          this.streamResponse(status, headers, body, declared, bodyUnread);
          return;
        }
        body.destroy();
      }
      this.res.cork(() => {
        const close = this.writeHead(status, headers) || bodyUnread;
        if (!sendsBody || (body === undefined && declared !== undefined)) {
          // HEAD, 204/304, or a length announced without a body. Rule 5: endWithoutBody() takes no
          // argument (a number aborts the process, undefined writes a bogus second length), so
          // the length goes in as a header and closing is left to the client.
          if (!statusForbidsBody(status)) {
            const length = declared ?? (body instanceof Buffer ? body.length : 0);
            this.res.writeHeader('Content-Length', String(length));
          }
          if (close) this.res.writeHeader('Connection', 'close');
          this.res.endWithoutBody();
        } else {
          this.res.end(body instanceof Buffer ? body : '', close);
        }
      });
      this.settle();
    } catch (err) {
      if (body instanceof Readable) body.destroy();
      this.fail(err);
    }
  }

  private streamResponse(
    status: number,
    headers: Record<string, string>,
    source: Readable,
    declared: number | undefined,
    closeAfter: boolean,
  ): void {
    this.source = source;
    this.chunked = declared === undefined;
    this.totalSize = declared ?? 0;
    let headWritten = false;
    // The head goes out with the first chunk, so a source failing before any data still gets a 500.
    const writeHeadOnce = (): void => {
      if (headWritten) return;
      headWritten = true;
      // tryEnd has no close flag: announce the close and let the client act on it.
      if (this.writeHead(status, headers) || closeAfter) this.res.writeHeader('Connection', 'close');
    };
    this.res.onWritable((offset) => this.onWritable(offset));
    source.on('data', (data: Buffer | string) => {
      if (this.settled) return;
      try {
        const chunk = typeof data === 'string' ? Buffer.from(data) : data;
        this.res.cork(() => {
          writeHeadOnce();
          this.writeChunk(chunk);
        });
      } catch (err) {
        this.fail(err);
      }
    });
    source.on('end', () => {
      if (this.settled || this.pending !== null) return; // onWritable finishes a pending tail
      try {
        this.res.cork(() => {
          writeHeadOnce();
          if (this.chunked || (this.totalSize === 0 && this.bytesQueued === 0)) {
            this.res.end();
            this.settle();
          } else {
            this.log(`uws: response stream ended after ${this.bytesQueued} of ${this.totalSize} bytes`);
            this.forceClose();
          }
        });
      } catch (err) {
        this.fail(err);
      }
    });
    source.on('error', (err: unknown) => {
      if (this.settled) return;
      this.log(`uws: response stream failed: ${errorMessage(err)}`);
      this.fail(err);
    });
  }

  /** Runs corked. Pauses the source whenever uWS builds up backpressure. */
  private writeChunk(chunk: Buffer): void {
    const source = this.source;
    if (source === null) return;
    this.bytesQueued += chunk.length;
    if (this.chunked) {
      // write() always takes the whole chunk; false only means "stop for now".
      if (!this.res.write(chunk)) {
        this.awaitingDrain = true;
        source.pause();
      }
      return;
    }
    const offsetBefore = this.res.getWriteOffset();
    const [ok, done] = this.res.tryEnd(chunk, this.totalSize);
    if (done) {
      this.finishStream();
    } else if (!ok) {
      this.pending = chunk;
      this.pendingOffset = offsetBefore;
      source.pause();
    }
  }

  /** The one onWritable handler for this response: retries the unsent tail, then resumes the source. */
  private onWritable(offset: number): boolean {
    try {
      if (this.settled || this.source === null) return true;
      if (this.chunked) {
        if (this.awaitingDrain) {
          this.awaitingDrain = false;
          this.source.resume();
        }
        return true;
      }
      const pending = this.pending;
      if (pending === null) return true;
      const [ok, done] = this.res.tryEnd(pending.subarray(offset - this.pendingOffset), this.totalSize);
      if (done) {
        this.finishStream();
        return true;
      }
      if (ok) {
        this.pending = null;
        if (this.source.readableEnded) {
          // The source ended while we waited and everything it gave is out, yet uWS is not done.
          this.log(`uws: response stream ended after ${this.bytesQueued} of ${this.totalSize} bytes`);
          this.forceClose();
        } else {
          this.source.resume();
        }
      }
      return ok;
    } catch (err) {
      this.fail(err);
      return true;
    }
  }

  private finishStream(): void {
    this.settle();
    const source = this.source;
    // The source may hold bytes beyond the announced length; they can never be sent.
    if (source !== null && !source.readableEnded) source.destroy();
  }

  /** Drops the connection: the only honest answer once part of a response went out. */
  private forceClose(): void {
    this.settle(); // before close(): close() runs onAborted synchronously
    this.controller.abort(new ClientAbortError());
    this.source?.destroy();
    this.res.close();
  }

  /** Internal failure: a minimal S3 500 if nothing was written yet, otherwise drop the connection. */
  fail(err: unknown): void {
    this.log(`uws: internal error: ${errorMessage(err)}`);
    this.source?.destroy();
    if (this.settled) return;
    try {
      if (this.headStarted) {
        this.forceClose();
        return;
      }
      if (!this.bodyReceived) this.abandonRequestBody();
      this.headStarted = true;
      this.res.cork(() => {
        this.res
          .writeStatus(statusLine(500))
          .writeHeader('Content-Type', INTERNAL_ERROR_CONTENT_TYPE)
          .end(INTERNAL_ERROR_BODY, true);
      });
      this.settle();
    } catch (secondErr) {
      this.log(`uws: could not answer 500: ${errorMessage(secondErr)}`);
      try {
        if (!this.settled) this.forceClose();
      } catch {
        // The response is gone already; nothing left to do.
      }
    }
  }
}

/** `app.close()` exists at runtime in 20.30 (it closes every socket) but is missing from the .d.ts. */
interface ClosableApp {
  close?: () => void;
}

export function createUwsEngine(handler: RequestHandler, log: (msg: string) => void): HttpEngine {
  const app = uWS.App();
  let listenSocket: us_listen_socket | null = null;
  let inFlight = 0;
  let onIdle: (() => void) | null = null;

  const requestSettled = (): void => {
    inFlight--;
    if (inFlight === 0 && onIdle !== null) onIdle();
  };

  app.any('/*', (res, req) => {
    let exchange: UwsExchange | null = null;
    try {
      exchange = new UwsExchange(res, log, requestSettled);
      inFlight++;
      const request = exchange.start(req);
      const current = exchange;
      let answer: Promise<HttpResponse>;
      try {
        answer = handler(request);
      } catch (err) {
        answer = Promise.reject(err);
      }
      answer.then(
        (response) => current.respond(response),
        (err: unknown) => current.fail(err),
      );
    } catch (err) {
      // Rule 3: a throw out of this callback terminates the process.
      if (exchange !== null) {
        exchange.fail(err);
      } else {
        log(`uws: could not accept request: ${errorMessage(err)}`);
        try {
          res.close();
        } catch {
          // Nothing else can be done with this connection.
        }
      }
    }
  });

  return {
    name: 'uws',
    listen(options: HttpEngineOptions): Promise<number> {
      return new Promise((resolve, reject) => {
        // Rule 8: always pass the host; listen(port) binds every interface.
        app.listen(options.host, options.port, (socket) => {
          if (socket === false) {
            reject(new Error(`uWS could not listen on ${options.host}:${options.port}`));
            return;
          }
          listenSocket = socket;
          resolve(uWS.us_socket_local_port(socket));
        });
      });
    },
    async close(graceMs = DEFAULT_GRACE_MS): Promise<void> {
      if (listenSocket !== null) {
        uWS.us_listen_socket_close(listenSocket);
        listenSocket = null;
      }
      if (inFlight > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(finish, graceMs);
          function finish(): void {
            clearTimeout(timer);
            onIdle = null;
            resolve();
          }
          onIdle = finish;
        });
      }
      // The last answer may have been written from a microtask still inside a uWS callback, with
      // its bytes in the cork buffer; closing there would drop them. Let uWS unwind first.
      await new Promise<void>((resolve) => setImmediate(resolve));
      // Closes idle keep-alive sockets (and aborts any request still running) so the event loop is released.
      (app as ClosableApp).close?.();
    },
  };
}
