// ListObjects (V1) and ListObjectsV2 (s3-api.md §5). The metadata engine runs the listing
// algorithm over its key index; this file only maps parameters and renders the result.
import type { ListObjectsResult, ObjectRecord } from '../../metadata/types.js';
import type { XmlNode } from '../../xml/writer.js';
import type { OperationHandler, RequestContext } from '../context.js';
import { S3Error } from '../errors.js';
import { ownerXml, xmlResponse } from '../responses.js';
import { encoderFor } from '../url-encoding.js';
import { requireBucket } from './buckets.js';

const PAGE_CAP = 1000;

/** max-keys: default 1000; non-integer or negative → InvalidArgument; above 1000 the page is capped. */
export function parseMaxParam(query: ReadonlyMap<string, string>, name: string): { requested: number; effective: number } {
  const raw = query.get(name);
  if (raw === undefined || raw === '') return { requested: PAGE_CAP, effective: PAGE_CAP };
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n)) {
    throw new S3Error('InvalidArgument', `Provided ${name} not an integer or within integer range`, { ArgumentName: name, ArgumentValue: raw });
  }
  return { requested: n, effective: Math.min(n, PAGE_CAP) };
}

function contentsXml(objects: ObjectRecord[], encode: (v: string) => string, withOwner: boolean, bucketOwner: [string, string]): XmlNode[] {
  return objects.map((o) => [
    'Contents',
    [
      ['Key', encode(o.key)],
      ['LastModified', o.last_modified],
      ['ETag', o.etag],
      ['Size', o.size],
      ['Owner', withOwner ? ownerXml(bucketOwner[0], bucketOwner[1]) : undefined],
      ['StorageClass', o.storage_class || 'STANDARD'],
    ],
  ]);
}

function prefixesXml(prefixes: string[], encode: (v: string) => string): XmlNode[] {
  return prefixes.map((p) => ['CommonPrefixes', [['Prefix', encode(p)]]]);
}

async function runListing(ctx: RequestContext, startAfter: string, maxKeys: number): Promise<{ result: ListObjectsResult; owner: [string, string] }> {
  const bucket = await requireBucket(ctx);
  const result = await ctx.deps.metadata.listObjects(ctx.bucket, {
    prefix: ctx.query.get('prefix') ?? '',
    delimiter: ctx.query.get('delimiter') ?? '',
    maxKeys,
    startAfter,
  });
  return { result, owner: [bucket.owner_id, bucket.owner_display] };
}

export const listObjectsV1: OperationHandler = async (ctx) => {
  const encode = encoderFor(ctx.query);
  const { requested, effective } = parseMaxParam(ctx.query, 'max-keys');
  const marker = ctx.query.get('marker') ?? '';
  const { result, owner } = await runListing(ctx, marker, effective);
  const q = ctx.query;
  return xmlResponse('ListBucketResult', [
    ['Name', ctx.bucket],
    ['Prefix', encode(q.get('prefix') ?? '')],
    ['Marker', encode(marker)],
    ['Delimiter', q.has('delimiter') ? encode(q.get('delimiter') ?? '') : undefined],
    ['EncodingType', q.has('encoding-type') ? 'url' : undefined],
    ['MaxKeys', requested],
    ['IsTruncated', result.isTruncated],
    ['NextMarker', result.isTruncated && result.nextMarker !== undefined ? encode(result.nextMarker) : undefined],
    ...contentsXml(result.contents, encode, true, owner),
    ...prefixesXml(result.commonPrefixes, encode),
  ]);
};

function decodeToken(token: string): string {
  const decoded = Buffer.from(token, 'base64url');
  // base64url decoding is lenient: insist the token re-encodes to itself.
  if (token === '' || decoded.toString('base64url') !== token) {
    throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', { ArgumentName: 'continuation-token' });
  }
  return decoded.toString('utf8');
}

export const listObjectsV2: OperationHandler = async (ctx) => {
  const encode = encoderFor(ctx.query);
  const { requested, effective } = parseMaxParam(ctx.query, 'max-keys');
  const q = ctx.query;
  const token = q.get('continuation-token');
  const startAfter = q.get('start-after');
  const after = token !== undefined ? decodeToken(token) : startAfter ?? '';
  const fetchOwner = (q.get('fetch-owner') ?? '').toLowerCase() === 'true';
  const { result, owner } = await runListing(ctx, after, effective);
  return xmlResponse('ListBucketResult', [
    ['Name', ctx.bucket],
    ['Prefix', encode(q.get('prefix') ?? '')],
    ['Delimiter', q.has('delimiter') ? encode(q.get('delimiter') ?? '') : undefined],
    ['EncodingType', q.has('encoding-type') ? 'url' : undefined],
    ['MaxKeys', requested],
    ['StartAfter', startAfter !== undefined ? encode(startAfter) : undefined],
    ['ContinuationToken', token],
    ['KeyCount', result.contents.length + result.commonPrefixes.length],
    ['IsTruncated', result.isTruncated],
    ['NextContinuationToken', result.isTruncated && result.nextMarker !== undefined ? Buffer.from(result.nextMarker, 'utf8').toString('base64url') : undefined],
    ...contentsXml(result.contents, encode, fetchOwner, owner),
    ...prefixesXml(result.commonPrefixes, encode),
  ]);
};
