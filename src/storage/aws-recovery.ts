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
// The ref is `aws1:` + compact JSON {k: backing key, t: token, u?: multipart upload id}.
import { AbortMultipartUploadCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import type { S3Calls } from './aws-calls.js';
import { StorageNotFoundError } from './types.js';

const REF_VERSION = 'aws1:';
/** User metadata key (x-amz-meta-bleepstore-write) holding the write token. */
const TOKEN_METADATA_KEY = 'bleepstore-write';

/** What one staged write needs to be found again after a restart. */
export interface StagedWriteIdentity {
  /** The backing key the write publishes to. */
  key: string;
  token: string;
  /** The native multipart upload that stages it, when there is one. */
  uploadId?: string;
}

/** 96 random bits: unique per write, 16 characters in the ref. */
export function newWriteToken(): string {
  return randomBytes(12).toString('base64url');
}

/** The user metadata that marks an object as published by the write with this token. */
export function tokenMetadata(token: string): Record<string, string> {
  return { [TOKEN_METADATA_KEY]: token };
}

export function encodeRecoveryRef(identity: StagedWriteIdentity): string {
  const compact: { k: string; t: string; u?: string } = { k: identity.key, t: identity.token };
  if (identity.uploadId !== undefined) compact.u = identity.uploadId;
  return REF_VERSION + JSON.stringify(compact);
}

/** The identity in a ref, or undefined for a ref this version did not write. */
export function decodeRecoveryRef(ref: string): StagedWriteIdentity | undefined {
  if (!ref.startsWith(REF_VERSION)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(ref.slice(REF_VERSION.length));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { k, t, u } = parsed as Record<string, unknown>;
  if (typeof k !== 'string' || k === '' || typeof t !== 'string' || t === '') return undefined;
  if (u !== undefined && (typeof u !== 'string' || u === '')) return undefined;
  return u === undefined ? { key: k, token: t } : { key: k, token: t, uploadId: u };
}

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

async function carriesToken(calls: S3Calls, key: string, token: string): Promise<boolean> {
  try {
    const head = await calls.run(`recovery check of ${key}`, () => calls.client.send(new HeadObjectCommand({ Bucket: calls.bucket, Key: key })));
    return head.Metadata?.[TOKEN_METADATA_KEY] === token;
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
  return carriesToken(calls, identity.key, identity.token);
}
