// The commit step every write shares: the staged bytes are published and the metadata committed
// inside one short per-key critical section, in that order (data first, then the row that points
// at it), so no reader or concurrent writer ever sees a row without its bytes.
import type { StagedWrite } from '../storage/types.js';
import { withKeyLock } from './key-locks.js';
import { storageFailure } from './storage-errors.js';

/** Awaits a storage staging call, mapping backend errors to what the client sees. */
export async function staged(write: Promise<StagedWrite>): Promise<StagedWrite> {
  try {
    return await write;
  } catch (e) {
    throw storageFailure(e);
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
