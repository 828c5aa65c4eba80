// The commit step every write shares. Inside one short per-key critical section:
//   1. record a commit intent (the metadata write to come, and the staged file's path),
//   2. rename the staged file into place,
//   3. commit the metadata row, then clear the intent.
// No reader or concurrent writer ever sees a row without its bytes, and a kill -9 between 2 and 3
// is repaired by the next start (recoverCommitIntents): the rename happened, so the intent's
// metadata write is rolled forward; if the staged file is still there, the intent is dropped.
import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Readable } from 'node:stream';
import type { Ingest, IngestResult } from '../ingest/ingest.js';
import type { CommitAction, CommitIntent, MetadataStore } from '../metadata/types.js';
import type { StagedWrite, StorageBackend } from '../storage/types.js';
import { withKeyLock } from './key-locks.js';
import { storageFailure } from './storage-errors.js';
import { nowIso } from './time.js';

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

/** Applies the metadata write of a commit (also used to roll an intent forward at startup). */
export async function applyCommitAction(metadata: MetadataStore, action: CommitAction): Promise<void> {
  switch (action.kind) {
    case 'object':
      return metadata.putObject(action.object);
    case 'part':
      return metadata.putPart(action.uploadId, action.partNumber, action.size, action.etag, action.checksum);
    case 'complete':
      return metadata.completeMultipartUpload(action.bucket, action.key, action.uploadId, action.object);
  }
}

/**
 * Prefix of this host's commit intent ids. Several nodes may share one cloud metadata store: a
 * starting node recovers only its own intents, never the in-flight publishes of its peers.
 */
export const INTENT_OWNER = createHash('sha256').update(hostname()).digest('hex').slice(0, 12);

/** True for intents this host recorded (ids without an owner come from before owners existed). */
export function ownsIntent(id: string): boolean {
  const dot = id.indexOf('.');
  return dot < 0 || id.slice(0, dot) === INTENT_OWNER;
}

/**
 * CommitIntent.staged_path of a remote staged write: this prefix and the backend's recoveryRef
 * (a local staged path is absolute, so the two never collide).
 */
export const REMOTE_STAGED_PREFIX = 'storage-ref:';

export interface PublishSteps {
  /** Re-checks conditions under the lock; throwing here discards the staged bytes. */
  check?: () => Promise<void>;
  /** The metadata write that makes the published bytes visible. */
  action: CommitAction;
}

/** `lockKey` is the object key, or a part's identity for UploadPart. */
export async function publish(metadata: MetadataStore, bucket: string, lockKey: string, write: StagedWrite, steps: PublishSteps): Promise<void> {
  try {
    await withKeyLock(bucket, lockKey, async () => {
      await steps.check?.();
      // Only a staged file or a remote staged write can be half-published by a crash; the memory
      // and sqlite backends commit with the process or in one transaction.
      const stagedRef = write.path ?? (write.recoveryRef === undefined ? undefined : REMOTE_STAGED_PREFIX + write.recoveryRef);
      const intent: CommitIntent | undefined =
        stagedRef === undefined ? undefined : { id: `${INTENT_OWNER}.${randomUUID()}`, staged_path: stagedRef, action: steps.action, created_at: nowIso() };
      if (intent) await metadata.recordCommitIntent(intent);
      try {
        await write.commit();
      } catch (e) {
        if (intent) await metadata.clearCommitIntent(intent.id);
        throw storageFailure(e);
      }
      await applyCommitAction(metadata, steps.action);
      if (intent) await metadata.clearCommitIntent(intent.id);
    });
  } finally {
    await write.discard(); // no-op once committed
  }
}
