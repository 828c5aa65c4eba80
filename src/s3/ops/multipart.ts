// Multipart upload: Create, UploadPart, Complete, Abort, ListParts, ListMultipartUploads
// (s3-api.md §6). Parts may arrive in parallel, out of order, and start at any number.
import { createHash } from 'node:crypto';
import { createIngest } from '../../ingest/ingest.js';
import { checksumDisplayName, checksumHeaderName, parseChecksumAlgorithm, type ChecksumAlgorithm } from '../../checksum/index.js';
import {
  checksumTypeAllowed,
  checksumTypeOfValue,
  compositeChecksum,
  defaultChecksumType,
  fullObjectCrc,
  isCrcAlgorithm,
  type MultipartChecksumType,
} from '../../checksum/multipart.js';
import type { ObjectChecksum, PartRecord, UploadRecord } from '../../metadata/types.js';
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

/** x-amz-checksum-algorithm / x-amz-checksum-type of CreateMultipartUpload, validated as S3 does. */
function declaredChecksum(h: Record<string, string | undefined>): { algorithm: ChecksumAlgorithm; type: MultipartChecksumType } | null {
  const algHeader = h['x-amz-checksum-algorithm'];
  const typeHeader = h['x-amz-checksum-type'];
  if (algHeader === undefined) {
    if (typeHeader !== undefined) throw new S3Error('InvalidRequest', 'The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.');
    return null;
  }
  const algorithm = parseChecksumAlgorithm(algHeader);
  if (algorithm === null || algHeader.trim().toLowerCase().startsWith('x-amz-')) throw new S3Error('InvalidRequest', 'Value for x-amz-checksum-algorithm header is invalid.');
  let type = defaultChecksumType(algorithm);
  if (typeHeader !== undefined) {
    const t = typeHeader.trim().toUpperCase();
    if (t !== 'COMPOSITE' && t !== 'FULL_OBJECT') throw new S3Error('InvalidRequest', 'Value for x-amz-checksum-type header is invalid.');
    type = t;
  }
  if (!checksumTypeAllowed(algorithm, type)) {
    throw new S3Error('InvalidRequest', `The ${type} checksum type cannot be used with the ${algorithm} checksum algorithm.`);
  }
  return { algorithm, type };
}

/** The algorithm an upload declared, or undefined. */
export function uploadAlgorithm(upload: UploadRecord): ChecksumAlgorithm | undefined {
  return upload.checksum_algorithm ? (parseChecksumAlgorithm(upload.checksum_algorithm) ?? undefined) : undefined;
}

export const createMultipartUpload: OperationHandler = async (ctx) => {
  assertWritableKey(ctx.key);
  await requireBucket(ctx);
  const h = ctx.headers;
  const checksum = declaredChecksum(h);
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
  if (checksum) {
    upload.checksum_algorithm = checksum.algorithm;
    upload.checksum_type = checksum.type;
  }
  await ctx.deps.metadata.createMultipartUpload(upload);
  const response = xmlResponse('InitiateMultipartUploadResult', [
    ['Bucket', ctx.bucket],
    ['Key', ctx.key],
    ['UploadId', upload.upload_id],
  ]);
  if (checksum) {
    response.headers['x-amz-checksum-algorithm'] = checksumDisplayName(checksum.algorithm);
    response.headers['x-amz-checksum-type'] = checksum.type;
  }
  return response;
};

/** Parts of one number replace each other; the lock keeps bytes and row of one upload together. */
export function publishPart(ctx: RequestContext, uploadId: string, partNumber: number, write: StagedWrite, etag: string, checksum?: ObjectChecksum | null): Promise<void> {
  return publish(ctx.deps.metadata, ctx.bucket, `\0part\0${uploadId}\0${partNumber}`, write, {
    action: { kind: 'part', uploadId, partNumber, size: write.size, etag, checksum: checksum ?? null },
  });
}

/** Whether the request carries a flexible checksum of its own (header, trailer or SDK hint). */
function requestNamesChecksum(h: Record<string, string | undefined>): boolean {
  if (h['x-amz-sdk-checksum-algorithm'] !== undefined) return true;
  if ((h['x-amz-trailer'] ?? '').toLowerCase().includes('x-amz-checksum-')) return true;
  return Object.keys(h).some((name) => name.startsWith('x-amz-checksum-'));
}

export const uploadPart: OperationHandler = async (ctx) => {
  const partNumber = parsePartNumber(ctx);
  const upload = await requireUpload(ctx);
  const { storage } = ctx.deps;
  const declared = uploadAlgorithm(upload);
  // A part sent without any checksum of an upload that declared one gets it computed here, so
  // Complete can always derive the object checksum.
  const headers = declared !== undefined && !requestNamesChecksum(ctx.headers) ? { ...ctx.headers, 'x-amz-sdk-checksum-algorithm': declared } : ctx.headers;
  const ingest = createIngest(ctx.body, { payload: ctx.payload, headers, maxSize: MAX_PART_SIZE, poolDigestMinBytes: poolDigestThreshold(storage) });
  const { write, result } = await stageVerified(ingest, (body) => storage.putPart(ctx.bucket, ctx.key, upload.upload_id, partNumber, body));
  if (declared !== undefined && result.checksum?.algorithm !== declared) {
    await write.discard();
    throw new S3Error('InvalidRequest', `Checksum Type mismatch occurred, expected checksum Type: ${declared}, actual checksum Type: ${result.checksum?.algorithm ?? 'null'}`);
  }
  const etag = `"${result.md5Hex}"`;
  const checksum = result.checksum ? { algorithm: result.checksum.algorithm, value: result.checksum.base64 } : null;
  await publishPart(ctx, upload.upload_id, partNumber, write, etag, checksum);
  const responseHeaders: Record<string, string> = { ETag: etag };
  if (result.checksum) responseHeaders[checksumHeaderName(result.checksum.algorithm)] = result.checksum.base64;
  return emptyResponse(200, responseHeaders);
};

interface RequestedPart {
  partNumber: number;
  etag: string;
  /** The part checksum the client listed (<ChecksumCRC32> ...), if any. */
  checksum?: ObjectChecksum;
}

/** XML element name of a checksum value: 'ChecksumCRC32', 'ChecksumSHA256' ... */
export function checksumElement(alg: ChecksumAlgorithm): string {
  return `Checksum${checksumDisplayName(alg)}`;
}

const CHECKSUM_ELEMENTS: readonly [string, ChecksumAlgorithm][] = (['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'] as const).map((a) => [checksumElement(a), a]);

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
    const part: RequestedPart = { partNumber: Number(num), etag: stripQuotes(etag) };
    for (const [element, algorithm] of CHECKSUM_ELEMENTS) {
      const value = childText(p, element);
      if (value !== undefined) part.checksum = { algorithm, value: value.trim() };
    }
    return part;
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

function checksumXml(checksum: ObjectChecksum | null | undefined): XmlNode[] {
  const alg = checksum ? parseChecksumAlgorithm(checksum.algorithm) : null;
  if (!checksum || alg === null) return [];
  return [[checksumElement(alg), checksum.value]];
}

function completeResult(ctx: RequestContext, etag: string, checksum: ObjectChecksum | null | undefined) {
  const host = ctx.headers['host'] ?? 'localhost';
  const location = `http://${host}/${ctx.bucket}/${ctx.key.split('/').map(encodeURIComponent).join('/')}`;
  const sum = checksumXml(checksum);
  return xmlResponse('CompleteMultipartUploadResult', [
    ['Location', location],
    ['Bucket', ctx.bucket],
    ['Key', ctx.key],
    ['ETag', etag],
    ...sum,
    ...(sum.length > 0 && checksum ? [['ChecksumType', checksumTypeOfValue(checksum.value)] as XmlNode] : []),
  ]);
}

/**
 * Checks the part checksums the client listed against the stored ones and derives the object
 * checksum from the upload's declared algorithm and type (null when it declared none, or when a
 * part has no stored checksum of that algorithm, e.g. one written by UploadPartCopy).
 */
function objectChecksumFor(upload: UploadRecord, requested: RequestedPart[], listed: PartRecord[]): ObjectChecksum | null {
  const algorithm = uploadAlgorithm(upload);
  const type = upload.checksum_type === 'FULL_OBJECT' ? 'FULL_OBJECT' : 'COMPOSITE';
  requested.forEach((r, i) => {
    const stored = listed[i]?.checksum;
    const invalidPart = new S3Error('InvalidPart', undefined, { UploadId: upload.upload_id, PartNumber: r.partNumber, ETag: `"${r.etag}"` });
    if (r.checksum === undefined) {
      if (algorithm !== undefined && type === 'COMPOSITE') {
        throw new S3Error('InvalidRequest', `The upload was created using a ${algorithm} checksum. The complete request must include the checksum for each part. It was missing for part ${r.partNumber} in the request.`);
      }
      return;
    }
    if (!stored || stored.algorithm !== r.checksum.algorithm || stored.value !== r.checksum.value) throw invalidPart;
  });
  if (algorithm === undefined) return null;
  const values: string[] = [];
  for (const p of listed) {
    if (p.checksum?.algorithm !== algorithm) return null;
    values.push(p.checksum.value);
  }
  if (type === 'FULL_OBJECT' && isCrcAlgorithm(algorithm)) {
    return { algorithm, value: fullObjectCrc(algorithm, listed.map((p, i) => ({ value: values[i] as string, size: p.size }))) };
  }
  return { algorithm, value: compositeChecksum(algorithm, values) };
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
    if (existing && existing.etag === compositeEtag(retried.map((p) => p.etag))) return completeResult(ctx, existing.etag, existing.checksum);
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
  const checksum = objectChecksumFor(upload, requested, listed);
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
        checksum,
      },
    },
  });
  await storage.deleteParts(ctx.bucket, ctx.key, uploadId).catch((e: Error) => log.warn('part cleanup after complete failed', { uploadId, error: e.message }));
  return completeResult(ctx, etag, checksum);
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
    ...(upload.checksum_algorithm ? [['ChecksumAlgorithm', upload.checksum_algorithm.toUpperCase()] as XmlNode, ['ChecksumType', upload.checksum_type ?? 'COMPOSITE'] as XmlNode] : []),
    ['PartNumberMarker', marker],
    ['NextPartNumberMarker', result.nextPartNumberMarker ?? last?.part_number ?? marker],
    ['MaxParts', maxParts],
    ['IsTruncated', result.isTruncated],
    ...result.parts.map((p): XmlNode => ['Part', [['PartNumber', p.part_number], ['LastModified', p.last_modified], ['ETag', p.etag], ['Size', p.size], ...checksumXml(p.checksum)]]),
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
