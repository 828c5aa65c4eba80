// Crash recovery of the Azure gateway's staged writes (StagedWrite.recoveryRef, s3/publish.ts).
//
// Every staged write has a random write id (32 hex digits), and the one call that publishes it
// sets that id as the `writeid` metadata of the blob it publishes: the Put Blob of a small body,
// the Put Block List of a large body or an assembly, the Put Blob of a part's pointer (whose
// `writeid` also names the part's data blob). Each of those calls replaces the blob's metadata, so
// after a kill -9 anywhere in commit() the write reached its destination iff the blob there now
// carries its id. Why an id rather than comparing content:
// - "the staging blob is gone" does not prove a commit: commit() deletes it only afterwards, and
//   the startup sweep removes it after a day either way;
// - a content MD5 cannot tell this write from a later write of the same bytes (Azure stores none
//   for a Put Block List at all), while the id names this one write, so a later publish of the same
//   key (a recovery retried on a later start) is never mistaken for it.
//
// The ref is `az1:` + compact JSON {b: blob carrying the id, w: write id, x?: private blob holding
// the staged bytes (a staging blob, or a part's data blob), removed when it is of no further use}
// (staged-write-ref.ts).
import type { BlockBlobClient, ContainerClient } from '@azure/storage-blob';
import { dropBlob } from './azure-blocks.js';
import { azureCall, isNotFound } from './azure-client.js';
import type { AzureBlobNames } from './azure-names.js';
import { refCodec } from './staged-write-ref.js';

/** Metadata key (x-ms-meta-writeid) of the write id; a C# identifier, as Azure requires. */
const WRITE_ID_METADATA = 'writeid';
const WRITE_ID = /^[0-9a-f]{32}$/;

/** What one staged write needs to be found again after a restart. */
export interface StagedWriteIdentity {
  /** The blob whose publish commits the write: the object, or the part's pointer. */
  blob: string;
  writeId: string;
  /** The private blob staging the bytes, if any. */
  leftover?: string;
}

/** The metadata that marks a blob as published by the write with this id. */
export function writeIdMetadata(writeId: string): Record<string, string> {
  return { [WRITE_ID_METADATA]: writeId };
}

/** The id of the write that last published `blob`; undefined when there is no such blob (or it predates ids). */
export async function publishedWriteId(blob: BlockBlobClient): Promise<string | undefined> {
  try {
    const properties = await azureCall(() => blob.getProperties());
    return properties.metadata?.[WRITE_ID_METADATA];
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e; // cannot tell: recovery keeps the intent for the next start rather than deciding wrongly
  }
}

export const { encode: encodeRecoveryRef, decode: decodeRecoveryRef } = refCodec<StagedWriteIdentity>('az1:', {
  blob: { key: 'b' },
  writeId: { key: 'w', valid: (w) => WRITE_ID.test(w) },
  leftover: { key: 'x', optional: true },
});

/**
 * Whether the ref's leftover is a private blob of this very write, so that a damaged ref can never
 * delete an object: the staging blob of the write id, or the data blob its part pointer would name.
 */
function leftoverKind(names: AzureBlobNames, identity: StagedWriteIdentity): 'staging' | 'part data' | undefined {
  const { leftover, blob, writeId } = identity;
  if (leftover === undefined) return undefined;
  if (leftover === names.staging(writeId)) return 'staging';
  if (blob.startsWith(names.partsArea()) && leftover === `${blob}.${writeId}`) return 'part data';
  return undefined;
}

/**
 * StorageBackend.stagedWriteCommitted for the Azure gateway: committed iff the destination blob
 * (object or part pointer) carries the write's id. The staged bytes are then dropped, best effort,
 * when nothing will read them again: a staging blob always (a commit only copies from it), a part's
 * data blob only when its pointer does not name it. A ref this version cannot read (another
 * backend's, after a configuration change) → false. A failure to read the destination, after
 * retries, throws (BackendUnavailableError): the intent stays for the next start.
 */
export async function stagedWriteCommitted(container: ContainerClient, names: AzureBlobNames, ref: string): Promise<boolean> {
  const identity = decodeRecoveryRef(ref);
  if (identity === undefined) return false;
  const committed = (await publishedWriteId(container.getBlockBlobClient(identity.blob))) === identity.writeId;
  const kind = leftoverKind(names, identity);
  if (identity.leftover !== undefined && (kind === 'staging' || (kind === 'part data' && !committed))) {
    await dropBlob(container.getBlockBlobClient(identity.leftover), false);
  }
  return committed;
}
