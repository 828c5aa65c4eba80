// Large-object workloads, count-bounded: single PUTs/GETs streamed from a slice of the source
// file or into a CRC32 sink, and a multipart upload (Create, parts with a fixed number in flight,
// Complete). Requests are signed just before they are sent; a transfer takes far longer than
// signing, so up-front signing would change nothing here.
import { createReadStream, type ReadStream } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { crc32 } from 'node:zlib';
import type { HttpConnection, HttpResponse } from './http-client.js';
import type { LargeObject } from './large-source.js';
import { describeFailure, isRealS3, measured, oneRequest, openConnections, signedRequest, type PhaseResult, type Target } from './load-client.js';
import { objectPath } from './small-phases.js';
import { formatBytes } from './table.js';

const MiB = 1024 * 1024;

function sliceStream(file: string, start: number, size: number): ReadStream {
  return createReadStream(file, { start, end: start + size - 1, highWaterMark: MiB });
}

/** GETs `key` into a CRC32 sink; undefined when it has `expected`'s length (and bytes, for real S3). */
async function getAndCheck(t: Target, conn: HttpConnection, bucket: string, obj: LargeObject): Promise<string | undefined> {
  let crc = 0;
  const verify = isRealS3(t);
  const r = await conn.request(signedRequest(t, 'GET', objectPath(bucket, obj.key), [], {}, { onBody: verify ? (c) => (crc = crc32(c, crc)) : undefined }));
  if (r.status !== 200) return describeFailure(r);
  if (r.bodyBytes !== obj.size) return `GET ${obj.key}: ${r.bodyBytes} bytes, expected ${obj.size}`;
  if (verify && crc !== obj.crc32) return `GET ${obj.key}: body differs from what was PUT`;
  return undefined;
}

/** All objects transferred at once, one connection each; the phase ends when all are done. */
export async function runLargePhase(t: Target, op: 'PUT' | 'GET', bucket: string, sourceFile: string, objects: readonly LargeObject[]): Promise<PhaseResult> {
  const conns = await openConnections(t, objects.length);
  const size = objects[0]?.size ?? 0;
  const name = objects.length === 1 ? `${op} ${formatBytes(size)}` : `${op} ${objects.length}×${formatBytes(size)}`;
  try {
    return await measured(t, { workload: 'large', name, objectSize: size, concurrency: objects.length }, async (live) => {
      const latencies: number[] = [];
      let bytes = 0;
      let firstError: string | undefined;
      const start = performance.now();
      await Promise.all(
        objects.map(async (obj, i) => {
          const conn = conns[i] as HttpConnection;
          const t0 = performance.now();
          let failure: string | undefined;
          try {
            if (op === 'GET') failure = await getAndCheck(t, conn, bucket, obj);
            else {
              const body = sliceStream(sourceFile, obj.start, obj.size);
              const r = await conn.request(signedRequest(t, 'PUT', objectPath(bucket, obj.key), [], { 'content-length': String(obj.size) }, { body }));
              if (r.status !== 200) failure = describeFailure(r);
            }
          } catch (e) {
            failure = (e as Error).message;
          }
          latencies.push(performance.now() - t0);
          if (failure === undefined) {
            live.ops++;
            live.bytes += obj.size;
            bytes += obj.size;
          } else {
            live.errors++;
            firstError ??= failure;
          }
        }),
      );
      return { ops: live.ops, bytes, latenciesMs: latencies, errors: live.errors, firstError, seconds: (performance.now() - start) / 1000 };
    });
  } finally {
    for (const c of conns) c.close();
  }
}

function xmlText(body: Buffer | undefined, tag: string): string | undefined {
  const m = new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(body?.toString('utf8') ?? '');
  return m?.[1];
}

export interface MultipartOptions {
  bucket: string;
  /** The object: the first `size` bytes of the source file, uploaded in `partSize` parts. */
  object: LargeObject;
  partSize: number;
  inFlight: number;
}

/**
 * One multipart upload, timed from CreateMultipartUpload to the end of CompleteMultipartUpload.
 * ops = 1 (the object); `extra` splits the time into parts and Complete (which assembles the
 * parts into one file on BleepStore).
 */
export async function runMultipartPhase(t: Target, sourceFile: string, o: MultipartOptions): Promise<PhaseResult> {
  const obj = o.object;
  const path = objectPath(o.bucket, obj.key);
  const partCount = Math.ceil(obj.size / o.partSize);
  const conns = await openConnections(t, o.inFlight);
  const name = `multipart ${formatBytes(obj.size)} (${formatBytes(o.partSize)} parts)`;
  try {
    return await measured(t, { workload: 'multipart', name, objectSize: obj.size, concurrency: o.inFlight }, async (live) => {
      const start = performance.now();
      const fail = (why: string, latencies: number[] = []): { ops: number; bytes: number; latenciesMs: number[]; errors: number; firstError: string; seconds: number } => ({
        ops: 0,
        bytes: 0,
        latenciesMs: latencies,
        errors: 1,
        firstError: why,
        seconds: (performance.now() - start) / 1000,
      });
      const created = await oneRequest(t, signedRequest(t, 'POST', path, [['uploads', '']], { 'content-length': '0' }));
      const uploadId = xmlText(created.body, 'UploadId');
      if (created.status !== 200 || uploadId === undefined) return fail(`CreateMultipartUpload: ${describeFailure(created)}`);

      const etags: string[] = new Array<string>(partCount);
      const latencies: number[] = [];
      let nextPart = 0;
      let firstError: string | undefined;
      const uploader = async (conn: HttpConnection): Promise<void> => {
        while (nextPart < partCount && firstError === undefined) {
          const i = nextPart++;
          const partStart = obj.start + i * o.partSize;
          const size = Math.min(o.partSize, obj.size - i * o.partSize);
          const query: [string, string][] = [
            ['partNumber', String(i + 1)],
            ['uploadId', uploadId],
          ];
          const t0 = performance.now();
          let r: HttpResponse;
          try {
            r = await conn.request(signedRequest(t, 'PUT', path, query, { 'content-length': String(size) }, { body: sliceStream(sourceFile, partStart, size), wantHeaders: true }));
          } catch (e) {
            firstError ??= `UploadPart ${i + 1}: ${(e as Error).message}`;
            return;
          }
          latencies.push(performance.now() - t0);
          const etag = r.headers.get('etag');
          if (r.status !== 200 || etag === undefined) {
            firstError ??= `UploadPart ${i + 1}: ${describeFailure(r)}`;
            return;
          }
          etags[i] = etag;
          live.bytes += size;
        }
      };
      await Promise.all(conns.map((c) => uploader(c)));
      const partsDone = performance.now();
      if (firstError !== undefined) {
        await oneRequest(t, signedRequest(t, 'DELETE', path, [['uploadId', uploadId]])).catch(() => undefined);
        return fail(firstError, latencies);
      }

      const xml = Buffer.from(`<CompleteMultipartUpload>${etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`).join('')}</CompleteMultipartUpload>`);
      const done = await oneRequest(t, signedRequest(t, 'POST', path, [['uploadId', uploadId]], { 'content-length': String(xml.length) }, { body: xml }));
      const end = performance.now();
      // Complete can fail with 200 and an <Error> body once it has started answering.
      const completed = done.status === 200 && done.body?.includes('<CompleteMultipartUploadResult') === true && !done.body.includes('<Error>');
      if (!completed) return fail(`CompleteMultipartUpload: ${describeFailure(done)}`, latencies);
      live.ops = 1;
      const partsSeconds = (partsDone - start) / 1000;
      return {
        ops: 1,
        bytes: obj.size,
        latenciesMs: latencies,
        errors: 0,
        firstError: undefined,
        seconds: (end - start) / 1000,
        extra: { parts: partCount, 'parts seconds': partsSeconds, 'parts MiB/s': obj.size / MiB / partsSeconds, 'complete seconds': (end - partsDone) / 1000 },
      };
    });
  } finally {
    for (const c of conns) c.close();
  }
}
