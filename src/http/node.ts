// HTTP engine on node:http: slower per request than uWS but passes every protocol check
// (platform.md §1.2), so it is the fallback and the engine for clients uWS cannot serve.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Readable, pipeline, type Duplex } from 'node:stream';
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
} from './engine-common.js';

const BODY_HIGH_WATER_MARK = 256 * 1024;
const HEADERS_TIMEOUT_MS = 60_000;
const DEFAULT_KEEP_ALIVE_SECONDS = 5;
const DEFAULT_GRACE_MS = 5000;

const ignoreError = (): void => {};

/**
 * The request body as the S3 layer sees it: `req`'s bytes, but a client that goes away before the
 * end destroys it with ClientAbortError (node itself would use a generic ECONNRESET 'aborted').
 * Reading starts only when the consumer asks, so an unread body is left to node to discard.
 */
function wrapRequestBody(req: IncomingMessage): Readable {
  let started = false;
  const body = new Readable({
    highWaterMark: BODY_HIGH_WATER_MARK,
    read() {
      if (started) {
        req.resume();
        return;
      }
      started = true;
      req.on('data', (chunk: Buffer) => {
        // A destroyed body refuses every push; keep draining the socket instead of stalling it.
        if (!body.push(chunk) && !body.destroyed) req.pause();
      });
      req.on('end', () => body.push(null));
    },
  });
  // Nobody may be listening when a client goes away; an unheard 'error' would crash the process.
  body.on('error', ignoreError);
  const abort = (): void => {
    if (!req.complete && !body.destroyed) body.destroy(new ClientAbortError());
  };
  req.on('error', abort);
  req.on('close', abort);
  return body;
}

/** Splits req.url by hand: `new URL()` would normalise the raw path S3 signs. */
function splitUrl(url: string): { rawPath: string; rawQuery: string } {
  const mark = url.indexOf('?');
  return mark < 0
    ? { rawPath: url, rawQuery: '' }
    : { rawPath: url.slice(0, mark), rawQuery: url.slice(mark + 1) };
}

function readHeaders(req: IncomingMessage): Record<string, string> {
  const headers = Object.create(null) as Record<string, string>;
  const distinct = req.headersDistinct;
  for (const [name, values] of Object.entries(distinct)) {
    if (values !== undefined) headers[name] = values.join(',');
  }
  return headers;
}

function setHeaders(res: ServerResponse, headers: Record<string, string>): void {
  for (const name in headers) assertValidHeader(name, headers[name]);
  for (const name in headers) {
    // The engine decides Content-Length from what it actually sends.
    if (name.toLowerCase() === 'content-length') continue;
    res.setHeader(name, headers[name]);
  }
}

function answerInternalError(res: ServerResponse, log: (msg: string) => void, err: unknown): void {
  log(`node: internal error: ${errorMessage(err)}`);
  try {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    res.statusCode = 500;
    res.setHeader('Content-Type', INTERNAL_ERROR_CONTENT_TYPE);
    res.setHeader('Content-Length', INTERNAL_ERROR_BODY.length);
    res.setHeader('Connection', 'close');
    res.end(INTERNAL_ERROR_BODY);
  } catch (secondErr) {
    log(`node: could not answer 500: ${errorMessage(secondErr)}`);
    res.destroy();
  }
}

const HEADER_TOO_LARGE_BODY =
  '<?xml version="1.0" encoding="UTF-8"?><Error><Code>RequestHeaderSectionTooLarge</Code>' +
  '<Message>Your request header section exceeds the maximum allowed size.</Message></Error>';

/**
 * Requests node's parser refuses never reach the handler. An oversized head gets an S3-shaped
 * 400 RequestHeaderSectionTooLarge; everything else keeps node's own answers (408 for a head that
 * took too long, 400 otherwise). The connection is closed either way.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code !== 'ECONNRESET' && socket.writable && (socket as Socket).bytesWritten === 0) {
    if (err.code === 'HPE_HEADER_OVERFLOW') {
      socket.write(
        `HTTP/1.1 400 Bad Request\r\nContent-Type: application/xml\r\nContent-Length: ${Buffer.byteLength(HEADER_TOO_LARGE_BODY)}\r\n` +
          `Connection: close\r\n\r\n${HEADER_TOO_LARGE_BODY}`,
      );
    } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      socket.write('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n');
    } else {
      socket.write('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    }
  }
  socket.destroy(err);
}

function respond(
  req: IncomingMessage,
  res: ServerResponse,
  body: Readable,
  response: HttpResponse,
  log: (msg: string) => void,
): void {
  const { status, headers } = response;
  const payload = response.body;
  if (res.destroyed || res.writableEnded) {
    if (payload instanceof Readable) payload.destroy();
    return;
  }
  try {
    res.statusCode = status;
    setHeaders(res, headers);
    if (!req.complete) {
      // Answered before the upload finished (an early 4xx): the rest of the body is never read,
      // so the connection cannot be reused. Keep draining until the answer is out.
      res.setHeader('Connection', 'close');
      body.destroy(new ClientAbortError());
      req.resume();
    }
    const declared = declaredContentLength(headers);
    const sendsBody = req.method !== 'HEAD' && !statusForbidsBody(status);
    if (!sendsBody) {
      if (payload instanceof Readable) payload.destroy();
      if (!statusForbidsBody(status)) {
        res.setHeader('Content-Length', declared ?? (payload instanceof Buffer ? payload.length : 0));
      }
      res.end();
    } else if (payload instanceof Buffer) {
      res.setHeader('Content-Length', payload.length);
      res.end(payload);
    } else if (payload === undefined) {
      res.setHeader('Content-Length', declared ?? 0);
      res.end();
    } else {
      // Without a declared length node falls back to chunked encoding.
      if (declared !== undefined) res.setHeader('Content-Length', declared);
      pipeline(payload, res, (err) => {
        // A premature close is the client leaving; anything else is a failing source.
        if (err && (err as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') {
          log(`node: response stream failed: ${errorMessage(err)}`);
        }
      });
    }
  } catch (err) {
    if (payload instanceof Readable) payload.destroy();
    answerInternalError(res, log, err);
  }
}

export function createNodeEngine(handler: RequestHandler, log: (msg: string) => void): HttpEngine {
  let inFlight = 0;
  let onIdle: (() => void) | null = null;

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    inFlight++;
    const controller = new AbortController();
    let body: Readable | null = null;
    res.on('close', () => {
      // 'close' without a finished response means the client went away (or we dropped it).
      if (!res.writableFinished) {
        controller.abort(new ClientAbortError());
        if (body !== null && !req.complete && !body.destroyed) body.destroy(new ClientAbortError());
      }
      inFlight--;
      if (inFlight === 0 && onIdle !== null) onIdle();
    });
    try {
      body = wrapRequestBody(req);
      const requestBody = body;
      const request: HttpRequest = {
        method: req.method ?? 'GET',
        ...splitUrl(req.url ?? '/'),
        headers: readHeaders(req),
        remoteAddress: req.socket.remoteAddress ?? '',
        body: requestBody,
        signal: controller.signal,
      };
      let answer: Promise<HttpResponse>;
      try {
        answer = handler(request);
      } catch (err) {
        answer = Promise.reject(err);
      }
      answer.then(
        (response) => respond(req, res, requestBody, response, log),
        (err: unknown) => answerInternalError(res, log, err),
      );
    } catch (err) {
      answerInternalError(res, log, err);
    }
  };

  /** Created by listen(), which knows the limits (maxHeaderSize is a construction option). */
  let server: http.Server | null = null;

  return {
    name: 'node',
    listen(options: HttpEngineOptions): Promise<number> {
      const created = http.createServer(options.maxHeaderSize ? { maxHeaderSize: options.maxHeaderSize } : {}, onRequest);
      server = created;
      // Node's 300 s default per request would cut off multi-GB uploads (operations.md §5).
      created.requestTimeout = 0;
      created.headersTimeout = HEADERS_TIMEOUT_MS;
      created.keepAliveTimeout = (options.keepAliveTimeoutSeconds ?? DEFAULT_KEEP_ALIVE_SECONDS) * 1000;
      // Connections beyond the cap are closed at accept, before any byte is read.
      if (options.maxConnections) created.maxConnections = options.maxConnections;
      created.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => answerClientError(err, socket));
      return new Promise((resolve, reject) => {
        const onError = (err: Error): void => reject(err);
        created.once('error', onError);
        created.listen(options.port, options.host, () => {
          created.off('error', onError);
          created.on('error', (err) => log(`node: server error: ${errorMessage(err)}`));
          const address = created.address();
          resolve(typeof address === 'object' && address !== null ? address.port : options.port);
        });
      });
    },
    async close(graceMs = DEFAULT_GRACE_MS): Promise<void> {
      if (server === null) return;
      const listening = server;
      const closed = new Promise<void>((resolve) => listening.close(() => resolve()));
      listening.closeIdleConnections();
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
      listening.closeAllConnections();
      await closed;
    },
  };
}
