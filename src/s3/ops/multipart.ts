// Multipart upload: Create, UploadPart, Complete, Abort, ListParts, ListMultipartUploads
// (s3-api.md §6). Parts may arrive in parallel, out of order, and start at any number.
import { createHash } from 'node:crypto';
import { createIngest } from '../../ingest/ingest.js';
import { checksumHeaderName } from '../../checksum/index.js';
import type { PartRecord, UploadRecord } from '../../metadata/types.js';
import type { StagedWrite } from '../../storage/types.js';
import { childrenNamed, childText, parseXml, XmlParseError } from '../../xml/parser.js';
import type { XmlNode } from '../../xml/writer.js';
import { aclFromHeaders, serializeAcl } from '../acl.js';
import { readBody } from '../body.js';
import { etagListMatches } from '../conditional.js';
import type { OperationHandler, RequestContext } from '../context.js';
import { S3Error } from '../errors.js';
import { contentFieldsFromHeaders, storageClassFromHeaders, userMetadataFromHeaders } from '../object-headers.js';
import { emptyResponse, ownerXml, xmlResponse } from '../responses.js';
import { poolDigestThreshold, publish, staged, stageVerified } from '../publish.js';
import { nowIso } from '../time.js';
import { newUploadId } from '../upload-id.js';
import { encoderFor } from '../url-encoding.js';
import { requireBucket } from './buckets.js';
import { assertWritableKey } from './objects.js';

export const MAX_PART_SIZE = 5 * 1024 ** 3;
export const MIN_PART_SIZE = 5 * 1024 ** 2;
const MAX_PARTS = 10000;
/** 10,000 pretty-printed <Part> entries with checksums stay well under this. */
const MAX_COMPLETE_BODY = 4 * 1024 * 1024;

export function parsePartNumber(ctx: RequestContext): number {
  const raw = ctx.query.get('partNumber') ?? '';
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > MAX_PARTS) {
    throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', { ArgumentName: 'partNumber', ArgumentValue: raw });
  }
  return n;
}

function uploadIdParam(ctx: RequestContext): string {
  const id = ctx.query.get('uploadId') ?? '';
  if (id === '') throw new S3Error('InvalidArgument', 'This operation requires an uploadId.', { ArgumentName: 'uploadId' });
  return id;
}

/** The upload named by ?uploadId for this bucket and key, or NoSuchUpload. */
export async function requireUpload(ctx: RequestContext): Promise<UploadRecord> {
  const uploadId = uploadIdParam(ctx);
  await requireBucket(ctx);
  const upload = await ctx.deps.metadata.getMultipartUpload(ctx.bucket, ctx.key, uploadId);
  if (!upload) throw new S3Error('NoSuchUpload', undefined, { UploadId: uploadId });
  return upload;
}

export const createMultipartUpload: OperationHandler = async (ctx) => {
  assertWritableKey(ctx.key);
  await requireBucket(ctx);
  const h = ctx.headers;
  const owner = { id: ctx.principal.ownerId, displayName: ctx.principal.displayName };
  const upload: UploadRecord = {
    upload_id: newUploadId(),
    bucket: ctx.bucket,
    key: ctx.key,
    ...contentFieldsFromHeaders(h),
    storage_class: storageClassFromHeaders(h),
    acl: serializeAcl(aclFromHeaders(h, owner)),
    user_metadata: userMetadataFromHeaders(h),
    owner_id: owner.id,
    owner_display: owner.displayName,
    initiated_at: nowIso(),
  };
  await ctx.deps.metadata.createMultipartUpload(upload);
  return xmlResponse('InitiateMultipartUploadResult', [
    ['Bucket', ctx.bucket],
    ['Key', ctx.key],
    ['UploadId', upload.upload_id],
  ]);
};

/** Parts of one number replace each other; the lock keeps bytes and row of one upload together. */
export function publishPart(ctx: RequestContext, uploadId: string, partNumber: number, write: StagedWrite, etag: string): Promise<void> {
  return publish(ctx.deps.metadata, ctx.bucket, `\0part\0${uploadId}\0${partNumber}`, write, {
    action: { kind: 'part', uploadId, partNumber, size: write.size, etag },
  });
}

export const uploadPart: OperationHandler = async (ctx) => {
  const partNumber = parsePartNumber(ctx);
  const upload = await requireUpload(ctx);
  const { storage } = ctx.deps;
  const ingest = createIngest(ctx.body, { payload: ctx.payload, headers: ctx.headers, maxSize: MAX_PART_SIZE, poolDigestMinBytes: poolDigestThreshold(storage) });
  const { write, result } = await stageVerified(ingest, (body) => storage.putPart(ctx.bucket, ctx.key, upload.upload_id, partNumber, body));
  const etag = `"${result.md5Hex}"`;
  await publishPart(ctx, upload.upload_id, partNumber, write, etag);
  const headers: Record<string, string> = { ETag: etag };
  if (result.checksum) headers[checksumHeaderName(result.checksum.algorithm)] = result.checksum.base64;
  return emptyResponse(200, headers);
};

interface RequestedPart {
  partNumber: number;
  etag: string;
}

function stripQuotes(etag: string): string {
  return etag.trim().replace(/^"(.*)"$/, '$1');
}

function parseCompleteBody(body: Buffer): RequestedPart[] {
  let root;
  try {
    root = parseXml(body, { maxElements: MAX_PARTS * 12 + 10, maxDepth: 8 });
  } catch (e) {
    if (e instanceof XmlParseError) throw new S3Error('MalformedXML');
    throw e;
  }
  if (root.name !== 'CompleteMultipartUpload') throw new S3Error('MalformedXML');
  const parts = childrenNamed(root, 'Part');
  if (parts.length === 0 || parts.length > MAX_PARTS) throw new S3Error('MalformedXML');
  return parts.map((p) => {
    const num = childText(p, 'PartNumber');
    const etag = childText(p, 'ETag');
    if (num === undefined || etag === undefined || !/^\d+$/.test(num)) throw new S3Error('MalformedXML');
    return { partNumber: Number(num), etag: stripQuotes(etag) };
  });
}

/** "{md5 of the concatenated binary part MD5s}-{N}" */
export function compositeEtag(partEtags: string[]): string {
  const md5 = createHash('md5');
  for (const e of partEtags) md5.update(Buffer.from(stripQuotes(e), 'hex'));
  return `"${md5.digest('hex')}-${partEtags.length}"`;
}

function checkCompleteConditions(ctx: RequestContext, existingEtag: string | undefined): void {
  const ifNoneMatch = ctx.headers['if-none-match'];
  const ifMatch = ctx.headers['if-match'];
  if (ifNoneMatch !== undefined && ifNoneMatch.trim() === '*' && existingEtag !== undefined) {
    throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-None-Match' });
  }
  if (ifMatch !== undefined) {
    if (existingEtag === undefined) throw new S3Error('NoSuchKey', undefined, { Key: ctx.key });
    if (!etagListMatches(ifMatch, existingEtag)) throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Match' });
  }
}

function completeResult(ctx: RequestContext, etag: string) {
  const host = ctx.headers['host'] ?? 'localhost';
  const location = `http://${host}/${ctx.bucket}/${ctx.key.split('/').map(encodeURIComponent).join('/')}`;
  return xmlResponse('CompleteMultipartUploadResult', [
    ['Location', location],
    ['Bucket', ctx.bucket],
    ['Key', ctx.key],
    ['ETag', etag],
  ]);
}

export const completeMultipartUpload: OperationHandler = async (ctx) => {
  const uploadId = uploadIdParam(ctx);
  await requireBucket(ctx);
  const { metadata, storage, log } = ctx.deps;
  const upload = await metadata.getMultipartUpload(ctx.bucket, ctx.key, uploadId);
  const body = await readBody(ctx, MAX_COMPLETE_BODY, 'MalformedXML');
  if (!upload) {
    // Idempotent retry: the upload is gone but the object it produced is there.
    const noSuchUpload = new S3Error('NoSuchUpload', undefined, { UploadId: uploadId });
    let retried: RequestedPart[];
    try {
      retried = parseCompleteBody(body);
    } catch {
      throw noSuchUpload;
    }
    const existing = await metadata.getObject(ctx.bucket, ctx.key);
    if (existing && existing.etag === compositeEtag(retried.map((p) => p.etag))) return completeResult(ctx, existing.etag);
    throw noSuchUpload;
  }
  const requested = parseCompleteBody(body);
  for (let i = 1; i < requested.length; i++) {
    if ((requested[i]?.partNumber ?? 0) <= (requested[i - 1]?.partNumber ?? 0)) throw new S3Error('InvalidPartOrder');
  }
  const stored = new Map<number, PartRecord>();
  for (const p of await metadata.getPartsForCompletion(uploadId)) stored.set(p.part_number, p);
  const listed: PartRecord[] = requested.map((r) => {
    const part = stored.get(r.partNumber);
    if (!part || stripQuotes(part.etag) !== r.etag) throw new S3Error('InvalidPart', undefined, { UploadId: uploadId, PartNumber: r.partNumber, ETag: `"${r.etag}"` });
    return part;
  });
  listed.forEach((p, i) => {
    if (i < listed.length - 1 && p.size < MIN_PART_SIZE) {
      throw new S3Error('EntityTooSmall', undefined, { UploadId: uploadId, PartNumber: p.part_number, ETag: p.etag, ProposedSize: p.size, MinSizeAllowed: MIN_PART_SIZE });
    }
  });
  checkCompleteConditions(ctx, (await metadata.getObject(ctx.bucket, ctx.key))?.etag);

  const etag = compositeEtag(listed.map((p) => p.etag));
  const size = listed.reduce((sum, p) => sum + p.size, 0);
  const write = await staged(storage.assembleParts(ctx.bucket, ctx.key, uploadId, listed.map((p) => p.part_number)));
  await publish(metadata, ctx.bucket, ctx.key, write, {
    // Re-check under the lock: a conditional write that passed above but lost a race is a conflict.
    check: async () => {
      try {
        checkCompleteConditions(ctx, (await metadata.getObject(ctx.bucket, ctx.key))?.etag);
      } catch (e) {
        if (e instanceof S3Error && (e.code === 'PreconditionFailed' || e.code === 'NoSuchKey')) throw new S3Error('ConditionalRequestConflict');
        throw e;
      }
      // A concurrent Complete or Abort of the same upload may have won.
      if (!(await metadata.getMultipartUpload(ctx.bucket, ctx.key, uploadId))) throw new S3Error('NoSuchUpload', undefined, { UploadId: uploadId });
    },
    action: {
      kind: 'complete',
      bucket: ctx.bucket,
      key: ctx.key,
      uploadId,
      object: {
        bucket: ctx.bucket,
        key: ctx.key,
        size,
        etag,
        content_type: upload.content_type,
        content_encoding: upload.content_encoding,
        content_language: upload.content_language,
        content_disposition: upload.content_disposition,
        cache_control: upload.cache_control,
        expires: upload.expires,
        storage_class: upload.storage_class,
        acl: upload.acl,
        user_metadata: upload.user_metadata,
        last_modified: nowIso(),
        delete_marker: false,
        checksum: null,
      },
    },
  });
  await storage.deleteParts(ctx.bucket, ctx.key, uploadId).catch((e: Error) => log.warn('part cleanup after complete failed', { uploadId, error: e.message }));
  return completeResult(ctx, etag);
};

export const abortMultipartUpload: OperationHandler = async (ctx) => {
  const upload = await requireUpload(ctx);
  await ctx.deps.metadata.abortMultipartUpload(ctx.bucket, ctx.key, upload.upload_id);
  await ctx.deps.storage.deleteParts(ctx.bucket, ctx.key, upload.upload_id).catch((e: Error) => ctx.deps.log.warn('part cleanup after abort failed', { uploadId: upload.upload_id, error: e.message }));
  return emptyResponse(204);
};

export const listParts: OperationHandler = async (ctx) => {
  const upload = await requireUpload(ctx);
  const markerRaw = ctx.query.get('part-number-marker') ?? '0';
  const marker = /^\d+$/.test(markerRaw) ? Number(markerRaw) : 0;
  const maxRaw = ctx.query.get('max-parts');
  const maxParts = maxRaw !== undefined && /^\d+$/.test(maxRaw) ? Math.min(Number(maxRaw), 1000) : 1000;
  const result = await ctx.deps.metadata.listParts(upload.upload_id, marker, maxParts);
  const last = result.parts[result.parts.length - 1];
  return xmlResponse('ListPartsResult', [
    ['Bucket', ctx.bucket],
    ['Key', ctx.key],
    ['UploadId', upload.upload_id],
    ['Initiator', ownerXml(upload.owner_id, upload.owner_display)],
    ['Owner', ownerXml(upload.owner_id, upload.owner_display)],
    ['StorageClass', upload.storage_class],
    ['PartNumberMarker', marker],
    ['NextPartNumberMarker', result.nextPartNumberMarker ?? last?.part_number ?? marker],
    ['MaxParts', maxParts],
    ['IsTruncated', result.isTruncated],
    ...result.parts.map((p): XmlNode => ['Part', [['PartNumber', p.part_number], ['LastModified', p.last_modified], ['ETag', p.etag], ['Size', p.size]]]),
  ]);
};

export const listMultipartUploads: OperationHandler = async (ctx) => {
  await requireBucket(ctx);
  const encode = encoderFor(ctx.query);
  const q = ctx.query;
  const maxRaw = q.get('max-uploads');
  // Upstream: non-integer → 1000; clamp to 0..1000.
  const maxUploads = maxRaw !== undefined && /^\d+$/.test(maxRaw) ? Math.min(Number(maxRaw), 1000) : 1000;
  const keyMarker = q.get('key-marker') ?? '';
  const uploadIdMarker = q.get('upload-id-marker') ?? '';
  const result = await ctx.deps.metadata.listMultipartUploads(ctx.bucket, {
    prefix: q.get('prefix') ?? '',
    delimiter: q.get('delimiter') ?? '',
    maxUploads,
    keyMarker,
    uploadIdMarker,
  });
  return xmlResponse('ListMultipartUploadsResult', [
    ['Bucket', ctx.bucket],
    ['KeyMarker', encode(keyMarker)],
    ['UploadIdMarker', uploadIdMarker],
    ['NextKeyMarker', result.isTruncated && result.nextKeyMarker !== undefined ? encode(result.nextKeyMarker) : undefined],
    ['NextUploadIdMarker', result.isTruncated ? result.nextUploadIdMarker : undefined],
    ['MaxUploads', maxUploads],
    ['IsTruncated', result.isTruncated],
    ['Prefix', q.has('prefix') ? encode(q.get('prefix') ?? '') : undefined],
    ['Delimiter', q.has('delimiter') ? encode(q.get('delimiter') ?? '') : undefined],
    ['EncodingType', q.has('encoding-type') ? 'url' : undefined],
    ...result.uploads.map((u): XmlNode => [
      'Upload',
      [
        ['Key', encode(u.key)],
        ['UploadId', u.upload_id],
        ['Initiator', ownerXml(u.owner_id, u.owner_display)],
        ['Owner', ownerXml(u.owner_id, u.owner_display)],
        ['StorageClass', u.storage_class],
        ['Initiated', u.initiated_at],
      ],
    ]),
    ...result.commonPrefixes.map((p): XmlNode => ['CommonPrefixes', [['Prefix', encode(p)]]]),
  ]);
};
