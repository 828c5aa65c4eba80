// CompleteMultipartUpload on the AWS gateway (spec/storage.md §5.1): the listed part objects are
// concatenated server-side by a native multipart upload on the final key, staged until commit()
// (CompleteMultipartUpload) — nothing is visible before, and discard() aborts it.
//
// Deviations from the spec's recipe, and why:
// - One listed part also goes through the multipart upload (not CopyObject): CopyObject would
//   publish at once, before the S3 layer's commit, and cannot copy more than 5 GiB.
// - S3 refuses (EntityTooSmall, at Complete) any non-last part under 5 MiB, and re-uploading
//   the same small bytes would not help. So the part sizes are read first (HeadObject, which also
//   finds a missing part before anything is created), and runs of small parts are concatenated
//   into one streamed UploadPart. Parts of 5 MiB or more are copied with UploadPartCopy (ranged
//   when above the 5 GiB copy limit). A target without UploadPartCopy (s3rver: NotImplemented)
//   gets the bytes streamed through us instead.
import { CreateMultipartUploadCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, UploadPartCommand, UploadPartCopyCommand } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { isUnsupported, type S3Calls } from './aws-calls.js';
import type { AwsKeyMap } from './aws-keys.js';
import { encodeRecoveryRef } from './aws-recovery.js';
import { abortUpload, completeUpload, stagedWrite } from './aws-staging.js';
import { newWriteToken, tokenMetadata } from './staged-write-ref.js';
import type { StagedWrite } from './types.js';

const MiB = 1024 * 1024;
/** S3's smallest non-last part. */
export const MIN_PART_BYTES = 5 * MiB;
/** S3's largest part, and the largest single UploadPartCopy range. */
const MAX_PART_BYTES = 5 * 1024 * MiB;
const HEADS_IN_FLIGHT = 8;
const PARTS_IN_FLIGHT = 4;

interface SourcePart {
  number: number;
  key: string;
  size: number;
}

/** A byte range of one source part. */
interface Piece {
  part: SourcePart;
  start: number;
  /** Inclusive. */
  end: number;
}

/** One part of the new upload: one whole or ranged source (copied), or several sources (streamed). */
interface Segment {
  pieces: Piece[];
  size: number;
}

/** Runs fn over items with at most `limit` at once; the first failure stops new starts and is thrown. */
async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  let failed: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failed === undefined && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!, i);
      } catch (error) {
        failed ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed) throw failed.error;
  return results;
}

function wholePiece(part: SourcePart): Piece {
  return { part, start: 0, end: part.size - 1 };
}

/** Groups the parts into segments every one of which, except the last, is ≥ 5 MiB and ≤ 5 GiB. */
export function planSegments(parts: readonly SourcePart[]): Segment[] {
  const segments: Segment[] = [];
  let run: Piece[] = [];
  let runBytes = 0;
  for (const part of parts) {
    if (part.size === 0) continue;
    if (run.length === 0 && part.size >= MIN_PART_BYTES) {
      const count = Math.ceil(part.size / MAX_PART_BYTES);
      const step = Math.ceil(part.size / count);
      for (let start = 0; start < part.size; start += step) {
        const end = Math.min(part.size, start + step) - 1;
        segments.push({ pieces: [{ part, start, end }], size: end - start + 1 });
      }
      continue;
    }
    run.push(wholePiece(part));
    runBytes += part.size;
    // Close the run once it is large enough; a big part that joined a small run may overshoot
    // the 5 GiB part limit only when parts themselves exceed it, which BleepStore never stores.
    if (runBytes >= MIN_PART_BYTES) {
      segments.push({ pieces: run, size: runBytes });
      run = [];
      runBytes = 0;
    }
  }
  if (run.length > 0) segments.push({ pieces: run, size: runBytes });
  return segments;
}

function copySourceOf(calls: S3Calls, key: string): string {
  return `${calls.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

export class AwsAssembler {
  /** Set once the target answers UploadPartCopy with NotImplemented (s3rver). */
  private copyUnsupported = false;

  constructor(
    private readonly calls: S3Calls,
    private readonly keys: AwsKeyMap,
  ) {}

  async assemble(bucket: string, key: string, uploadId: string, partNumbers: readonly number[]): Promise<StagedWrite> {
    const calls = this.calls;
    const what = `${bucket}/${key}`;
    const destination = this.keys.object(bucket, key);
    const parts = await mapBounded(partNumbers, HEADS_IN_FLIGHT, async (n) => {
      const partKey = this.keys.part(uploadId, n);
      const head = await calls.run(`part ${n} of upload ${uploadId}`, () => calls.client.send(new HeadObjectCommand({ Bucket: calls.bucket, Key: partKey })));
      return { number: n, key: partKey, size: head.ContentLength ?? 0 };
    });
    const total = parts.reduce((sum, p) => sum + p.size, 0);
    const segments = planSegments(parts);
    const token = newWriteToken();
    if (segments.length === 0) {
      // No bytes at all: a multipart upload cannot complete without a part, so publish an empty object.
      return stagedWrite(
        0,
        encodeRecoveryRef({ key: destination, token }),
        () =>
          calls
            .run(what, () => calls.client.send(new PutObjectCommand({ Bucket: calls.bucket, Key: destination, Body: Buffer.alloc(0), ContentLength: 0, Metadata: tokenMetadata(token) })))
            .then(() => {}),
        async () => {},
      );
    }

    const targetUploadId = await calls.run(what, async () => {
      const created = await calls.client.send(new CreateMultipartUploadCommand({ Bucket: calls.bucket, Key: destination, Metadata: tokenMetadata(token) }));
      if (!created.UploadId) throw new Error(`CreateMultipartUpload for ${destination} returned no UploadId`);
      return created.UploadId;
    });
    let etags: string[];
    try {
      etags = await mapBounded(segments, PARTS_IN_FLIGHT, (segment, i) => this.uploadSegment(what, destination, targetUploadId, i + 1, segment));
    } catch (e) {
      await abortUpload(calls, destination, targetUploadId);
      throw e;
    }
    return stagedWrite(
      total,
      encodeRecoveryRef({ key: destination, token, uploadId: targetUploadId }),
      () => completeUpload(calls, what, destination, targetUploadId, etags),
      () => abortUpload(calls, destination, targetUploadId),
    );
  }

  private async uploadSegment(what: string, destination: string, targetUploadId: string, partNumber: number, segment: Segment): Promise<string> {
    const calls = this.calls;
    if (segment.pieces.length === 1 && !this.copyUnsupported) {
      const piece = segment.pieces[0]!;
      const ranged = piece.start !== 0 || piece.end !== piece.part.size - 1;
      try {
        const out = await calls.run(`part ${piece.part.number} (copy)`, () =>
          calls.client.send(
            new UploadPartCopyCommand({
              Bucket: calls.bucket,
              Key: destination,
              UploadId: targetUploadId,
              PartNumber: partNumber,
              CopySource: copySourceOf(calls, piece.part.key),
              CopySourceRange: ranged ? `bytes=${piece.start}-${piece.end}` : undefined,
            }),
          ),
        );
        const etag = out.CopyPartResult?.ETag;
        if (!etag) throw new Error(`UploadPartCopy into ${destination} returned no ETag`);
        return etag;
      } catch (e) {
        if (!isUnsupported(e)) throw e;
        this.copyUnsupported = true;
      }
    }
    // Streamed through us: reopened on every attempt, so a retry sends the bytes again.
    const out = await calls.run(what, () =>
      calls.client.send(
        new UploadPartCommand({
          Bucket: calls.bucket,
          Key: destination,
          UploadId: targetUploadId,
          PartNumber: partNumber,
          Body: Readable.from(this.piecesBytes(segment.pieces)),
          ContentLength: segment.size,
        }),
      ),
    );
    if (!out.ETag) throw new Error(`UploadPart into ${destination} returned no ETag`);
    return out.ETag;
  }

  private async *piecesBytes(pieces: readonly Piece[]): AsyncGenerator<Buffer> {
    const calls = this.calls;
    for (const piece of pieces) {
      const got = await calls.run(`part ${piece.part.number}`, () =>
        calls.client.send(new GetObjectCommand({ Bucket: calls.bucket, Key: piece.part.key, Range: `bytes=${piece.start}-${piece.end}` })),
      );
      if (!got.Body) throw new Error(`GetObject ${piece.part.key} returned no body`);
      for await (const chunk of got.Body as Readable) yield chunk as Buffer;
    }
  }
}
