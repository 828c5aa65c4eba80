// Byte counting for request and response bodies: what was really streamed, not what
// Content-Length promised (observability.md §2). The request meter also enforces the body idle
// timeout (server.body_idle_timeout): a client that stops sending while the server is ready for
// more bytes gets 400 RequestTimeout instead of holding a connection and a temp file forever.
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { S3Error } from '../s3/errors.js';

/**
 * Sits between the engine's body stream and whoever reads the body. Piped the way the ingest
 * pipeline pipes (an error of the source destroys the meter; a failing reader unpipes without
 * destroying the source), so the engine can still answer an early error.
 */
export class RequestBodyMeter extends Transform {
  bytes = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly source: Readable,
    idleTimeoutMs: number,
  ) {
    super();
    if (idleTimeoutMs > 0) {
      this.timer = setTimeout(this.onIdle, idleTimeoutMs);
      this.timer.unref();
    }
    source.on('error', (err: Error) => this.destroy(err));
    source.pipe(this);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    this.timer?.refresh();
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.stopTimer();
    callback();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.stopTimer();
    callback(err);
  }

  /**
   * The request is answered: nobody will read the rest of the body. Stops the timer and lets go
   * of the source (the engine decides what happens to unread bytes).
   */
  release(): void {
    this.stopTimer();
    if (!this.readableEnded && !this.destroyed) {
      this.source.unpipe(this);
      this.destroy();
    }
  }

  private stopTimer(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  /**
   * Only a stall on the client's side counts: when our reader is slow, bytes pile up in this
   * stream (or the source is paused by the pipe), and that is backpressure, not idleness.
   */
  private readonly onIdle = (): void => {
    if (this.timer === undefined) return;
    const backpressured =
      this.readableLength >= this.readableHighWaterMark || this.writableLength > 0 || this.source.readableLength > 0;
    if (backpressured) {
      this.timer.refresh();
      return;
    }
    this.stopTimer();
    this.destroy(new S3Error('RequestTimeout'));
  };
}

/**
 * Passes a response body through and reports, once, how many bytes the engine took and whether
 * the stream ran to its end. Destroying the meter (client gone) destroys the source (closes its
 * file descriptor).
 */
export class ResponseBodyMeter extends Transform {
  bytes = 0;

  constructor(source: Readable, onDone: (bytes: number) => void) {
    super();
    source.on('error', (err: Error) => this.destroy(err));
    source.pipe(this);
    this.once('close', () => {
      if (!source.readableEnded && !source.destroyed) source.destroy();
      onDone(this.bytes);
    });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    callback(null, chunk);
  }
}
