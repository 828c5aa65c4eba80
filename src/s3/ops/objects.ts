// Single-request object operations: PutObject, GetObject, HeadObject, DeleteObject (s3-api.md §4).
import type { HttpResponse } from '../../http/types.js';
import { createIngest } from '../../ingest/ingest.js';
import { checksumHeaderName, type ChecksumAlgorithm } from '../../checksum/index.js';
import { checksumTypeOfValue } from '../../checksum/multipart.js';
import type { ObjectRecord } from '../../metadata/types.js';
import { aclFromHeaders, serializeAcl } from '../acl.js';
import { evaluateConditions, etagListMatches, resolveRange } from '../conditional.js';
import type { OperationHandler, RequestContext } from '../context.js';
import { S3Error } from '../errors.js';
import { contentFieldsFromHeaders, objectResponseHeaders, storageClassFromHeaders, userMetadataFromHeaders } from '../object-headers.js';
import { withKeyLock } from '../key-locks.js';
import { emptyResponse } from '../responses.js';
import { poolDigestThreshold, publish, stageVerified } from '../publish.js';
import { storageFailure } from '../storage-errors.js';
import { httpDate, nowIso } from '../time.js';
import { requireBucket } from './buckets.js';

const MAX_KEY_BYTES = 1024;

/**
 * Keys a write may create: ≤ 1024 UTF-8 bytes, no NUL (which no filesystem or client can
 * round-trip) and valid Unicode (a lone surrogate has no UTF-8 form, so engines would disagree).
 */
export function assertWritableKey(key: string): void {
  const bytes = Buffer.byteLength(key);
  if (bytes > MAX_KEY_BYTES) throw new S3Error('KeyTooLongError', undefined, { Size: bytes, MaxSizeAllowed: MAX_KEY_BYTES });
  if (key.includes('\0')) throw new S3Error('InvalidArgument', 'Object key must not contain a NUL character.', { ArgumentName: 'key' });
  if (!key.isWellFormed()) throw new S3Error('InvalidArgument', 'Object key must be valid UTF-8.', { ArgumentName: 'key' });
}

async function requireObject(ctx: RequestContext): Promise<ObjectRecord> {
  await requireBucket(ctx);
  const obj = await ctx.deps.metadata.getObject(ctx.bucket, ctx.key);
  if (!obj) throw new S3Error('NoSuchKey', undefined, { Key: ctx.key });
  return obj;
}

/** If-None-Match: * and If-Match on PUT (conditional writes). */
export async function checkWriteConditions(ctx: RequestContext): Promise<void> {
  const ifNoneMatch = ctx.headers['if-none-match'];
  const ifMatch = ctx.headers['if-match'];
  if (ifNoneMatch === undefined && ifMatch === undefined) return;
  const existing = await ctx.deps.metadata.getObject(ctx.bucket, ctx.key);
  if (ifNoneMatch !== undefined && ifNoneMatch.trim() === '*' && existing) {
    throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-None-Match' });
  }
  if (ifMatch !== undefined) {
    if (!existing) throw new S3Error('NoSuchKey', undefined, { Key: ctx.key });
    if (!etagListMatches(ifMatch, existing.etag)) throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Match' });
  }
}

/**
 * The same conditions once more inside the commit section: a conditional writer whose check
 * passed before its body streamed, but whose condition no longer holds, lost a race (409).
 */
export async function recheckWriteConditions(ctx: RequestContext): Promise<void> {
  try {
    await checkWriteConditions(ctx);
  } catch (e) {
    if (e instanceof S3Error && (e.code === 'PreconditionFailed' || e.code === 'NoSuchKey')) throw new S3Error('ConditionalRequestConflict');
    throw e;
  }
}

export const putObject: OperationHandler = async (ctx) => {
  assertWritableKey(ctx.key);
  await requireBucket(ctx);
  const { metadata, storage, config } = ctx.deps;
  const h = ctx.headers;
  // Everything that can be rejected from headers alone is rejected before reading the body.
  const acl = aclFromHeaders(h, { id: ctx.principal.ownerId, displayName: ctx.principal.displayName });
  const content = contentFieldsFromHeaders(h);
  const userMetadata = userMetadataFromHeaders(h);
  const storageClass = storageClassFromHeaders(h);
  await checkWriteConditions(ctx);
  const ingest = createIngest(ctx.body, { payload: ctx.payload, headers: h, maxSize: config.server.max_object_size, poolDigestMinBytes: poolDigestThreshold(storage) });
  const { write, result } = await stageVerified(ingest, (body) => storage.putObject(ctx.bucket, ctx.key, body));
  const etag = `"${result.md5Hex}"`;
  await publish(metadata, ctx.bucket, ctx.key, write, {
    check: () => recheckWriteConditions(ctx),
    action: {
      kind: 'object',
      object: {
        bucket: ctx.bucket,
        key: ctx.key,
        size: result.size,
        etag,
        ...content,
        storage_class: storageClass,
        acl: serializeAcl(acl),
        user_metadata: userMetadata,
        last_modified: nowIso(),
        delete_marker: false,
        checksum: result.checksum ? { algorithm: result.checksum.algorithm, value: result.checksum.base64 } : null,
      },
    },
  });
  const headers: Record<string, string> = { ETag: etag };
  if (result.checksum) headers[checksumHeaderName(result.checksum.algorithm)] = result.checksum.base64;
  return emptyResponse(200, headers);
};

/** GET and HEAD share everything but the body. */
async function readObject(ctx: RequestContext, withBody: boolean): Promise<HttpResponse> {
  const obj = await requireObject(ctx);
  const partNumber = ctx.query.get('partNumber');
  if (partNumber !== undefined) {
    const n = Number(partNumber);
    if (!Number.isInteger(n) || n < 1 || n > 10000) throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', { ArgumentName: 'partNumber', ArgumentValue: partNumber });
    if (n > 1) throw new S3Error('InvalidPartNumber', undefined, { PartNumberRequested: n, ActualPartCount: 1 });
  }
  const outcome = evaluateConditions(ctx.headers, obj.etag, obj.last_modified);
  if (outcome === 'not-modified') return emptyResponse(304, { ETag: obj.etag, 'Last-Modified': httpDate(obj.last_modified) });
  if (outcome === 'precondition-failed') throw new S3Error('PreconditionFailed');

  const range = resolveRange(ctx.headers['range'], obj.size);
  const headers = objectResponseHeaders(obj, ctx.query);
  if (ctx.headers['x-amz-checksum-mode']?.toUpperCase() === 'ENABLED' && obj.checksum && !range) {
    headers[checksumHeaderName(obj.checksum.algorithm as ChecksumAlgorithm)] = obj.checksum.value;
    // Multipart composite values end in "-N"; everything else covers the whole object.
    headers['x-amz-checksum-type'] = checksumTypeOfValue(obj.checksum.value);
  }
  const length = range ? range.end - range.start + 1 : obj.size;
  headers['Content-Length'] = String(length);
  if (range) headers['Content-Range'] = `bytes ${range.start}-${range.end}/${obj.size}`;
  const status = range ? 206 : 200;
  if (!withBody) return { status, headers };

  // Open the data before any status is sent: a missing file is a 500, not a truncated 200.
  let read;
  try {
    read = await ctx.deps.storage.getObject(ctx.bucket, ctx.key, range);
  } catch (e) {
    throw storageFailure(e);
  }
  if (read.size !== length) {
    read.stream.destroy();
    ctx.deps.log.error('object data size differs from metadata', { bucket: ctx.bucket, key: ctx.key, expected: length, actual: read.size });
    throw new S3Error('InternalError');
  }
  return { status, headers, body: read.stream };
}

export const getObject: OperationHandler = (ctx) => readObject(ctx, true);
export const headObject: OperationHandler = (ctx) => readObject(ctx, false);

/**
 * Metadata first, then data: a crash in between leaves an invisible orphan file, never a
 * dangling row. Under the key lock so a concurrent write cannot commit between the two steps.
 */
export async function deleteObjectUnderLock(ctx: RequestContext, key: string): Promise<void> {
  const { metadata, storage, log } = ctx.deps;
  await withKeyLock(ctx.bucket, key, async () => {
    await metadata.deleteObject(ctx.bucket, key);
    await storage.deleteObject(ctx.bucket, key).catch((e: Error) => log.warn('object data delete failed', { bucket: ctx.bucket, key, error: e.message }));
  });
}

export const deleteObject: OperationHandler = async (ctx) => {
  await requireBucket(ctx);
  await deleteObjectUnderLock(ctx, ctx.key);
  return emptyResponse(204);
};
