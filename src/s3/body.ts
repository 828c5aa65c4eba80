// Reading small request bodies (XML documents) fully, with a cap, through the ingest pipeline so
// Content-MD5, checksums and payload signatures are verified like any other body.
import { createIngest } from '../ingest/ingest.js';
import type { RequestContext } from './context.js';
import { S3Error, type S3ErrorCode } from './errors.js';

/** Reads the whole (decoded, verified) body; over `maxBytes` → the given error code. */
export async function readBody(ctx: RequestContext, maxBytes: number, tooLarge: S3ErrorCode): Promise<Buffer> {
  const declared = Number(ctx.headers['x-amz-decoded-content-length'] ?? ctx.headers['content-length'] ?? '0');
  if (declared > maxBytes) throw new S3Error(tooLarge, 'The request body is too large.');
  const h = ctx.headers;
  // No framing at all means no body (a bare PUT /bucket); the ingest would call that MissingContentLength.
  if (h['content-length'] === undefined && h['transfer-encoding'] === undefined && h['x-amz-decoded-content-length'] === undefined) {
    return Buffer.alloc(0);
  }
  const ingest = createIngest(ctx.body, { payload: ctx.payload, headers: h, maxSize: maxBytes });
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of ingest.stream) {
      const buf = chunk as Buffer;
      total += buf.length;
      if (total > maxBytes) throw new S3Error(tooLarge, 'The request body is too large.');
      chunks.push(buf);
    }
  } catch (e) {
    // The ingest raises EntityTooLarge for over-size bodies; XML bodies use their own code.
    if (e instanceof S3Error && e.code === 'EntityTooLarge') throw new S3Error(tooLarge, 'The request body is too large.');
    throw e;
  }
  return Buffer.concat(chunks, total);
}
