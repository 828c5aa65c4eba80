// CopyObject and UploadPartCopy (s3-api.md §4.10, §6.3). Bytes are streamed from the source
// through the same ingest pipeline as uploads, so the new ETag is the MD5 of what was written.
import { createIngest, type Ingest } from '../../ingest/ingest.js';
import type { ObjectRecord } from '../../metadata/types.js';
import type { ByteRange } from '../../storage/types.js';
import { aclFromHeaders, serializeAcl } from '../acl.js';
import { evaluateCopySourceConditions } from '../conditional.js';
import type { OperationHandler, RequestContext } from '../context.js';
import { S3Error } from '../errors.js';
import { contentFieldsFromHeaders, storageClassFromHeaders, userMetadataFromHeaders } from '../object-headers.js';
import { xmlResponse } from '../responses.js';
import { poolDigestThreshold, publish, stageVerified } from '../publish.js';
import { storageFailure } from '../storage-errors.js';
import { nowIso } from '../time.js';
import { requireBucket } from './buckets.js';
import { checksumElement, parsePartNumber, publishPart, requireUpload, uploadAlgorithm } from './multipart.js';
import { assertWritableKey } from './objects.js';
import type { ChecksumAlgorithm } from '../../checksum/index.js';
import type { XmlNode } from '../../xml/writer.js';

const MAX_COPY_SOURCE = 5 * 1024 ** 3;

interface CopySource {
  bucket: string;
  key: string;
  object: ObjectRecord;
}

/** Parses x-amz-copy-source ('bucket/key' or '/bucket/key', percent-encoded, optional ?versionId). */
export function parseCopySource(header: string): { bucket: string; key: string } {
  let raw = header.trim();
  const q = raw.indexOf('?');
  if (q !== -1) raw = raw.slice(0, q);
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    throw new S3Error('InvalidArgument', 'Invalid copy source encoding', { ArgumentName: 'x-amz-copy-source', ArgumentValue: header });
  }
  if (decoded.startsWith('/')) decoded = decoded.slice(1);
  const slash = decoded.indexOf('/');
  const bucket = slash === -1 ? decoded : decoded.slice(0, slash);
  const key = slash === -1 ? '' : decoded.slice(slash + 1);
  if (bucket === '' || key === '') {
    throw new S3Error('InvalidArgument', 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey', { ArgumentName: 'x-amz-copy-source', ArgumentValue: header });
  }
  return { bucket, key };
}

async function resolveSource(ctx: RequestContext): Promise<CopySource> {
  const { bucket, key } = parseCopySource(ctx.headers['x-amz-copy-source'] ?? '');
  const { metadata } = ctx.deps;
  if (!(await metadata.bucketExists(bucket))) throw new S3Error('NoSuchBucket', undefined, { BucketName: bucket });
  const object = await metadata.getObject(bucket, key);
  if (!object) throw new S3Error('NoSuchKey', undefined, { Key: key });
  if (evaluateCopySourceConditions(ctx.headers, object.etag, object.last_modified) === 'precondition-failed') {
    throw new S3Error('PreconditionFailed', undefined, { Condition: 'x-amz-copy-source-if-*' });
  }
  return { bucket, key, object };
}

/** Opens the source range and returns a verified byte stream plus its result. */
/** `checksum`: also compute this flexible checksum of the copied bytes (for parts of uploads that declared one). */
async function openCopySource(ctx: RequestContext, src: CopySource, range?: ByteRange, checksum?: ChecksumAlgorithm): Promise<Ingest> {
  const { storage } = ctx.deps;
  let read;
  try {
    read = await storage.getObject(src.bucket, src.key, range);
  } catch (e) {
    throw storageFailure(e);
  }
  return createIngest(read.stream, {
    payload: { kind: 'unsigned' },
    headers: checksum === undefined ? { 'content-length': String(read.size) } : { 'content-length': String(read.size), 'x-amz-sdk-checksum-algorithm': checksum },
    maxSize: MAX_COPY_SOURCE,
    poolDigestMinBytes: poolDigestThreshold(storage),
  });
}

export const copyObject: OperationHandler = async (ctx) => {
  assertWritableKey(ctx.key);
  const h = ctx.headers;
  const directive = (h['x-amz-metadata-directive'] ?? 'COPY').toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') {
    throw new S3Error('InvalidArgument', 'Unknown metadata directive.', { ArgumentName: 'x-amz-metadata-directive', ArgumentValue: directive });
  }
  const src = await resolveSource(ctx);
  await requireBucket(ctx);
  if (src.object.size > MAX_COPY_SOURCE) {
    throw new S3Error('InvalidRequest', 'The specified copy source is larger than the maximum allowable size for a copy source: 5368709120');
  }
  const acl = aclFromHeaders(h, { id: ctx.principal.ownerId, displayName: ctx.principal.displayName });
  const storageClass = h['x-amz-storage-class'] !== undefined ? storageClassFromHeaders(h) : src.object.storage_class;
  const selfCopy = src.bucket === ctx.bucket && src.key === ctx.key;
  if (selfCopy && directive === 'COPY' && h['x-amz-storage-class'] === undefined && acl === undefined) {
    throw new S3Error(
      'InvalidRequest',
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    );
  }
  const content =
    directive === 'REPLACE'
      ? { ...contentFieldsFromHeaders(h), user_metadata: userMetadataFromHeaders(h) }
      : {
          content_type: src.object.content_type,
          content_encoding: src.object.content_encoding,
          content_language: src.object.content_language,
          content_disposition: src.object.content_disposition,
          cache_control: src.object.cache_control,
          expires: src.object.expires,
          user_metadata: src.object.user_metadata,
        };

  const { storage } = ctx.deps;
  const { write, result } = await stageVerified(await openCopySource(ctx, src), (body) => storage.putObject(ctx.bucket, ctx.key, body));
  const etag = `"${result.md5Hex}"`;
  const lastModified = nowIso();
  await publish(ctx.deps.metadata, ctx.bucket, ctx.key, write, {
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
        last_modified: lastModified,
        delete_marker: false,
        checksum: src.object.checksum ?? null, // same bytes, same checksum
      },
    },
  });
  return xmlResponse('CopyObjectResult', [
    ['ETag', etag],
    ['LastModified', lastModified],
  ]);
};

/** x-amz-copy-source-range: 'bytes=first-last', both required, inside the source. */
function parseCopyRange(value: string | undefined, size: number): ByteRange | undefined {
  if (value === undefined) return undefined;
  const m = /^bytes=(\d+)-(\d+)$/.exec(value.trim());
  const start = m ? Number(m[1]) : NaN;
  const end = m ? Number(m[2]) : NaN;
  if (!m || start > end || end >= size) {
    throw new S3Error('InvalidArgument', 'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy', {
      ArgumentName: 'x-amz-copy-source-range',
      ArgumentValue: value,
    });
  }
  return { start, end };
}

export const uploadPartCopy: OperationHandler = async (ctx) => {
  const partNumber = parsePartNumber(ctx);
  const upload = await requireUpload(ctx);
  const src = await resolveSource(ctx);
  const range = parseCopyRange(ctx.headers['x-amz-copy-source-range'], src.object.size);
  const length = range ? range.end - range.start + 1 : src.object.size;
  if (length > MAX_COPY_SOURCE) throw new S3Error('InvalidRequest', 'The specified copy source is larger than the maximum allowable size for a copy source: 5368709120');
  const { storage } = ctx.deps;
  // Like an uploaded part, a copied part of an upload that declared a checksum carries one, so
  // Complete can derive the object checksum.
  const declared = uploadAlgorithm(upload);
  const { write, result } = await stageVerified(await openCopySource(ctx, src, range, declared), (body) => storage.putPart(ctx.bucket, ctx.key, upload.upload_id, partNumber, body));
  const etag = `"${result.md5Hex}"`;
  const lastModified = nowIso();
  const checksum = result.checksum ? { algorithm: result.checksum.algorithm, value: result.checksum.base64 } : null;
  await publishPart(ctx, upload.upload_id, partNumber, write, etag, checksum);
  return xmlResponse('CopyPartResult', [
    ['ETag', etag],
    ['LastModified', lastModified],
    ...(result.checksum ? ([[checksumElement(result.checksum.algorithm), result.checksum.base64]] as XmlNode[]) : []),
  ]);
};
