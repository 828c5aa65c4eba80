// The engine-neutral HTTP surface. S3 code sees only these types, never uWS or node:http objects.
import type { Readable } from 'node:stream';

/** A request as the S3 layer sees it: everything read synchronously by the engine up front. */
export interface HttpRequest {
  /** Uppercase method, e.g. 'GET'. */
  readonly method: string;
  /** Raw, undecoded path without the query (e.g. '/bucket/a%20b'). */
  readonly rawPath: string;
  /** Raw text after the first '?', '' when absent or empty. */
  readonly rawQuery: string;
  /** Lowercased header names; duplicate headers joined with ','. */
  readonly headers: Readonly<Record<string, string>>;
  readonly remoteAddress: string;
  /**
   * The request body as a byte stream with backpressure. HTTP chunked transfer encoding is
   * already removed by the engine. If the client disconnects before the body ends, the stream
   * is destroyed with an error (ClientAbortError).
   */
  readonly body: Readable;
  /** Fires when the client goes away before a response was completed. */
  readonly signal: AbortSignal;
}

/** What an operation answers; the engine writes it. */
export interface HttpResponse {
  status: number;
  /** Header names as they should appear on the wire. Content-Length is set by the engine for Buffer bodies. */
  headers: Record<string, string>;
  /**
   * Absent: empty body (Content-Length: 0 unless headers say otherwise, as for HEAD).
   * Buffer: sent whole. Readable: streamed with backpressure; headers must carry Content-Length.
   */
  body?: Buffer | Readable;
}

/** The single entry point an engine calls for every request. It never throws. */
export type RequestHandler = (req: HttpRequest) => Promise<HttpResponse>;

export interface HttpEngineOptions {
  host: string;
  port: number;
  /** Seconds a keep-alive connection may idle. */
  keepAliveTimeoutSeconds?: number;
  /** Largest request head in bytes (engines with a configurable limit). */
  maxHeaderSize?: number;
  /** Concurrent connections; 0 or absent = no limit (engines that can enforce it). */
  maxConnections?: number;
}

export interface HttpEngine {
  readonly name: 'uws' | 'node';
  /** Starts listening; resolves with the bound port (useful with port 0). */
  listen(options: HttpEngineOptions): Promise<number>;
  /** Stops accepting connections, waits for in-flight requests up to the given time, then closes. */
  close(graceMs?: number): Promise<void>;
}

export class ClientAbortError extends Error {
  constructor() {
    super('client aborted the request');
    this.name = 'ClientAbortError';
  }
}
