// Staged writes for the AWS gateway (objects and parts alike): nothing is visible under the
// destination key until commit().
//
// Why a native multipart upload on the destination key rather than a temp key + CopyObject:
// CompleteMultipartUpload publishes atomically without copying the bytes a second time (a
// CopyObject of a large temp object takes long inside the S3 layer's per-key critical section,
// and above 5 GiB needs ranged UploadPartCopy), and AbortMultipartUpload drops the staged parts.
// Bodies smaller than one part are held (≤ 8 MiB, the bound we hold for a part anyway) and sent
// with one PutObject at commit: one request instead of three for the common small object.
// Either way the body streams through bounded buffers; the whole object is never in memory.
// Both publish with a write token in user metadata, by which the next start recognises a commit
// a crash cut short (aws-recovery.ts).
import { AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, PutObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { errorCodeOf, type S3Calls } from './aws-calls.js';
import { encodeRecoveryRef } from './aws-recovery.js';
import { ChunkBuffer } from './chunk-buffer.js';
import { newWriteToken, tokenMetadata } from './staged-write-ref.js';
import type { StagedWrite } from './types.js';

const MiB = 1024 * 1024;
/** Part size of a streamed upload; also the largest body held for a single PutObject. */
export const STAGING_PART_BYTES = 8 * MiB;
/** Parts uploading at once per body: bounds memory at (this + 1) × part size. */
const PARTS_IN_FLIGHT = 3;

/** Parts grow every 1000 so that 10,000 parts reach far beyond the 5 GiB object limit. */
function partSizeFor(partNumber: number): number {
  return STAGING_PART_BYTES * 2 ** Math.min(9, Math.floor((partNumber - 1) / 1000));
}

/**
 * Aborts a multipart upload. Never throws: it runs on failure paths whose own error matters more,
 * and a failed abort leaves only staged parts in the target's upload area, never anything visible
 * under the key (s3rver cannot abort at all; on AWS a lifecycle rule with
 * AbortIncompleteMultipartUpload sweeps such leftovers).
 */
export async function abortUpload(calls: S3Calls, key: string, uploadId: string): Promise<void> {
  try {
    await calls.run(`abort of upload to ${key}`, () => calls.client.send(new AbortMultipartUploadCommand({ Bucket: calls.bucket, Key: key, UploadId: uploadId })));
  } catch {
    // See above: nothing visible is left behind.
  }
}

/**
 * A StagedWrite whose commit/discard run at most once and whose discard after commit is a no-op.
 * `recoveryRef` lets the next start tell whether a commit cut short by a crash published (aws-recovery.ts).
 */
export function stagedWrite(size: number, recoveryRef: string, publish: () => Promise<void>, drop: () => Promise<void>): StagedWrite {
  let state: 'open' | 'committed' | 'discarded' = 'open';
  return {
    size,
    recoveryRef,
    async commit() {
      if (state !== 'open') throw new Error(`staged write already ${state}`);
      state = 'committed';
      await publish();
    },
    async discard() {
      if (state !== 'open') return;
      state = 'discarded';
      await drop();
    },
  };
}

/** Completes a multipart upload with the given part ETags (1-based, in order). */
export async function completeUpload(calls: S3Calls, what: string, key: string, uploadId: string, etags: string[]): Promise<void> {
  await calls.run(what, async (attempt) => {
    try {
      await calls.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: calls.bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
        }),
      );
    } catch (e) {
      // A retry after a lost response finds the upload already completed.
      if (attempt > 1 && errorCodeOf(e) === 'NoSuchUpload') return;
      throw e;
    }
  });
}

/**
 * Streams `body` towards `key`. Resolves once every byte is stored in the target (or held, for a
 * small body); rejects with the body's own error (client abort, digest mismatch) after dropping
 * whatever was staged.
 */
export async function stageStream(calls: S3Calls, what: string, key: string, body: Readable): Promise<StagedWrite> {
  const buffer = new ChunkBuffer();
  let uploadId: string | undefined;
  const etags: string[] = [];
  const inFlight = new Set<Promise<void>>();
  let uploadFailure: { error: unknown } | undefined;
  let size = 0;
  const token = newWriteToken();

  const startPart = async (data: Buffer): Promise<void> => {
    uploadId ??= await calls.run(what, async () => {
      const created = await calls.client.send(new CreateMultipartUploadCommand({ Bucket: calls.bucket, Key: key, Metadata: tokenMetadata(token) }));
      if (!created.UploadId) throw new Error(`CreateMultipartUpload for ${key} returned no UploadId`);
      return created.UploadId;
    });
    const id = uploadId;
    const partNumber = etags.length + 1;
    etags.push('');
    const upload = calls
      .run(what, () => calls.client.send(new UploadPartCommand({ Bucket: calls.bucket, Key: key, UploadId: id, PartNumber: partNumber, Body: data, ContentLength: data.length })))
      .then(
        (out) => {
          etags[partNumber - 1] = out.ETag ?? '';
        },
        (error: unknown) => {
          uploadFailure ??= { error };
        },
      );
    const tracked: Promise<void> = upload.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
    while (inFlight.size >= PARTS_IN_FLIGHT) await Promise.race(inFlight);
    if (uploadFailure) throw uploadFailure.error;
  };

  try {
    for await (const chunk of body as AsyncIterable<Buffer | string>) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += bytes.length;
      buffer.push(bytes);
      while (buffer.size >= partSizeFor(etags.length + 1)) await startPart(buffer.take(partSizeFor(etags.length + 1)));
    }
    if (uploadId === undefined) {
      const data = buffer.take(buffer.size);
      return stagedWrite(
        size,
        encodeRecoveryRef({ key, token }),
        () =>
          calls
            .run(what, () => calls.client.send(new PutObjectCommand({ Bucket: calls.bucket, Key: key, Body: data, ContentLength: data.length, Metadata: tokenMetadata(token) })))
            .then(() => {}),
        async () => {},
      );
    }
    if (buffer.size > 0) await startPart(buffer.take(buffer.size));
    await Promise.all(inFlight);
    if (uploadFailure) throw uploadFailure.error;
  } catch (e) {
    await Promise.allSettled(inFlight);
    if (uploadId !== undefined) await abortUpload(calls, key, uploadId);
    throw e;
  }
  const id = uploadId;
  return stagedWrite(
    size,
    encodeRecoveryRef({ key, token, uploadId: id }),
    () => completeUpload(calls, what, key, id, etags),
    () => abortUpload(calls, key, id),
  );
}
