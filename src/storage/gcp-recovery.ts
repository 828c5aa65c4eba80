// Crash recovery of the GCS gateway's staged writes (StagedWrite.recoveryRef, s3/publish.ts).
//
// Every staged write carries a random write token in the custom metadata of its temp object (set
// by the upload, or on the compose/copy request that builds an assembly's temp). commit() copies
// the temp to its destination, and a copy without a destination resource carries the source's
// metadata (GCS JSON API rewrite; the firebase-tools emulator does the same), so after a kill -9
// anywhere in commit() the write reached its destination iff the object now under that name
// carries the token. Why a token rather than comparing the temp and the destination:
// - the temp is deleted right after the copy, so "temp gone" cannot tell "committed" from
//   "removed by the lifecycle rule that sweeps `.tmp/`";
// - an MD5/CRC32C match cannot tell this write from a later write of the same bytes, and the
//   token names this one write, so a later publish of the same key (a recovery retried on a later
//   start) is never mistaken for it.
//
// The ref is `gcs1:` + compact JSON {k: destination name, t: token, s?: temp name}
// (staged-write-ref.ts).
import { carriesToken, refCodec } from './staged-write-ref.js';

/** What one staged write needs to be found again after a restart. */
export interface StagedWriteIdentity {
  /** The object name the write publishes to. */
  name: string;
  token: string;
  /** The temp object that stages it. */
  temp?: string;
}

/** The object operations recovery needs (GcpStorage supplies them, with its retry policy). */
export interface RecoveryObjects {
  /** The custom metadata of the object, or undefined when no object has that name. */
  customMetadataOf(name: string): Promise<Record<string, unknown> | undefined>;
  /** Deletes a temp object; idempotent. Refuses names outside the temp area (a damaged ref). */
  deleteTemp(name: string): Promise<void>;
}

export const { encode: encodeRecoveryRef, decode: decodeRecoveryRef } = refCodec<StagedWriteIdentity>('gcs1:', {
  name: { key: 'k' },
  token: { key: 't' },
  temp: { key: 's', optional: true },
});

/**
 * StorageBackend.stagedWriteCommitted for the GCS gateway. The temp is deleted FIRST (it is
 * garbage either way: a committed write's commit() deletes it too), so that a copy still running
 * for the killed process fails on the missing source instead of publishing after we answered.
 * Best effort: a failed delete leaves a private temp for the `.tmp/` lifecycle rule, and the
 * token answers either way. A failure to read the destination throws (after withRetry): the
 * intent is then kept for the next start rather than decided wrongly.
 * A ref this version cannot read (another backend's, after a configuration change) → false.
 */
export async function stagedWriteCommitted(objects: RecoveryObjects, ref: string): Promise<boolean> {
  const identity = decodeRecoveryRef(ref);
  if (identity === undefined) return false;
  if (identity.temp !== undefined) await objects.deleteTemp(identity.temp).catch(() => {});
  return carriesToken(await objects.customMetadataOf(identity.name), identity.token);
}
