// The commit step every write shares: the staged bytes are published and the metadata committed
// inside one short per-key critical section, in that order (data first, then the row that points
// at it), so no reader or concurrent writer ever sees a row without its bytes.
import type { Readable } from 'node:stream';
import type { Ingest, IngestResult } from '../ingest/ingest.js';
import type { StagedWrite, StorageBackend } from '../storage/types.js';
import { withKeyLock } from './key-locks.js';
import { storageFailure } from './storage-errors.js';

/**
 * Bodies of at least this size have their MD5 (and payload SHA-256) computed by the hash pool
 * from the staged file rather than inline: it keeps the event loop responsive under concurrent
 * large uploads at a small throughput cost (bench/hash-strategy.ts; README, design section).
 * Parts of multipart uploads (≥ 5 MiB except the last) fall above it.
 */
export const POOL_DIGEST_MIN_BYTES = 4 * 1024 * 1024;

/** The pool threshold for this backend: only storage that stages into files can be read back. */
export function poolDigestThreshold(storage: StorageBackend): number | undefined {
  return storage.stagesToFiles ? POOL_DIGEST_MIN_BYTES : undefined;
}

/** Awaits a storage staging call, mapping backend errors to what the client sees. */
export async function staged(write: Promise<StagedWrite>): Promise<StagedWrite> {
  try {
    return await write;
  } catch (e) {
    throw storageFailure(e);
  }
}

/**
 * Stages the ingested body and finishes its verification (digests left to the hash pool are
 * computed from the staged file here). A failed check discards the staged bytes.
 */
export async function stageVerified(ingest: Ingest, stage: (body: Readable) => Promise<StagedWrite>): Promise<{ write: StagedWrite; result: IngestResult }> {
  const write = await staged(stage(ingest.stream));
  try {
    return { write, result: await ingest.finish(write) };
  } catch (e) {
    await write.discard();
    throw e;
  }
}

export interface PublishSteps {
  /** Re-checks conditions under the lock; throwing here discards the staged bytes. */
  check?: () => Promise<void>;
  /** Commits the metadata row for the published bytes. */
  commitMetadata: () => Promise<void>;
}

/** `lockKey` is the object key, or a part's identity for UploadPart. */
export async function publish(bucket: string, lockKey: string, write: StagedWrite, steps: PublishSteps): Promise<void> {
  try {
    await withKeyLock(bucket, lockKey, async () => {
      await steps.check?.();
      try {
        await write.commit();
      } catch (e) {
        throw storageFailure(e);
      }
      await steps.commitMetadata();
    });
  } finally {
    await write.discard(); // no-op once committed
  }
}
