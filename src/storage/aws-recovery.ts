// Crash recovery of the AWS gateway's staged writes (StagedWrite.recoveryRef, s3/publish.ts).
//
// Every staged write carries a random write token, stored as user metadata on what it publishes
// (the PutObject of a small body, or the CreateMultipartUpload whose completion publishes a large
// body or an assembly). After a kill -9 anywhere in commit(), the write reached its destination
// iff the object now under the key carries that token. Why a token rather than the ETag:
// - a single PutObject's ETag is the MD5 only without SSE-KMS/SSE-C (and on some S3-compatible
//   targets not at all), and a multipart ETag is never an MD5 of the object;
// - "the upload is gone" does not prove completion: a lifecycle AbortIncompleteMultipartUpload
//   rule or an earlier abort removes it too;
// - the token names this one write, so a later write of the same key (a recovery retried on a
//   later start) is never mistaken for it.
//
// The ref is `aws1:` + compact JSON {k: backing key, t: token, u?: multipart upload id}
// (staged-write-ref.ts).
import { AbortMultipartUploadCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import type { S3Calls } from './aws-calls.js';
import { carriesToken, refCodec } from './staged-write-ref.js';
import { StorageNotFoundError } from './types.js';

/** What one staged write needs to be found again after a restart. */
export interface StagedWriteIdentity {
  /** The backing key the write publishes to. */
  key: string;
  token: string;
  /** The native multipart upload that stages it, when there is one. */
  uploadId?: string;
}

export const { encode: encodeRecoveryRef, decode: decodeRecoveryRef } = refCodec<StagedWriteIdentity>('aws1:', {
  key: { key: 'k' },
  token: { key: 't' },
  uploadId: { key: 'u', optional: true },
});

/**
 * Aborts the staging upload, best effort: an open one never completed and now never will. A
 * failure (NoSuchUpload: completed or aborted earlier; s3rver cannot abort; no permission) is
 * ignored: the leftover parts are invisible, and the object's token answers either way.
 */
async function abortStagingUpload(calls: S3Calls, key: string, uploadId: string): Promise<void> {
  try {
    await calls.run(`recovery abort of upload to ${key}`, () => calls.client.send(new AbortMultipartUploadCommand({ Bucket: calls.bucket, Key: key, UploadId: uploadId })));
  } catch {
    // See above.
  }
}

async function publishedWithToken(calls: S3Calls, key: string, token: string): Promise<boolean> {
  try {
    const head = await calls.run(`recovery check of ${key}`, () => calls.client.send(new HeadObjectCommand({ Bucket: calls.bucket, Key: key })));
    return carriesToken(head.Metadata, token);
  } catch (e) {
    if (e instanceof StorageNotFoundError) return false;
    throw e; // cannot tell: the intent is kept for the next start rather than decided wrongly
  }
}

/**
 * StorageBackend.stagedWriteCommitted for the AWS gateway. The staging upload is aborted FIRST, so
 * that a CompleteMultipartUpload still running for the killed process (AWS may take minutes to
 * finish one) cannot publish after we answered; the token is checked even after a successful
 * abort, since some S3-compatible targets also answer 204 for an upload that had completed.
 * A ref this version cannot read (another backend's, after a configuration change) → false.
 */
export async function stagedWriteCommitted(calls: S3Calls, ref: string): Promise<boolean> {
  const identity = decodeRecoveryRef(ref);
  if (identity === undefined) return false;
  if (identity.uploadId !== undefined) await abortStagingUpload(calls, identity.key, identity.uploadId);
  return publishedWithToken(calls, identity.key, identity.token);
}
