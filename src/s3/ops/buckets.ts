// Bucket operations: ListBuckets, CreateBucket, DeleteBucket, HeadBucket, GetBucketLocation
// (spec/s3-api.md §3).
import { BucketExistsError, type BucketRecord } from '../../metadata/types.js';
import { readBody } from '../body.js';
import { aclFromHeaders, serializeAcl } from '../acl.js';
import { assertValidBucketName } from '../bucket-name.js';
import type { OperationHandler, RequestContext } from '../context.js';
import { S3Error } from '../errors.js';
import { emptyResponse, ownerXml, xmlResponse } from '../responses.js';
import { nowIso } from '../time.js';
import { childText, parseXml, XmlParseError } from '../../xml/parser.js';
import { renderS3XmlText, type XmlNode } from '../../xml/writer.js';

/** CreateBucketConfiguration bodies are tiny; anything bigger is not one. */
const MAX_CREATE_BUCKET_BODY = 64 * 1024;

export async function requireBucket(ctx: RequestContext): Promise<BucketRecord> {
  const bucket = await ctx.deps.metadata.getBucket(ctx.bucket);
  if (!bucket) throw new S3Error('NoSuchBucket', undefined, { BucketName: ctx.bucket });
  return bucket;
}

export const listBuckets: OperationHandler = async (ctx) => {
  const prefix = ctx.query.get('prefix') ?? '';
  const maxParam = ctx.query.get('max-buckets');
  const max = maxParam === undefined ? 10000 : Number(maxParam);
  if (!Number.isInteger(max) || max < 1 || max > 10000) {
    throw new S3Error('InvalidArgument', 'max-buckets must be an integer between 1 and 10000', { ArgumentName: 'max-buckets', ArgumentValue: maxParam ?? '' });
  }
  const token = ctx.query.get('continuation-token');
  const after = token ? Buffer.from(token, 'base64url').toString('utf8') : '';
  const all = (await ctx.deps.metadata.listBuckets()).filter((b) => b.name.startsWith(prefix) && b.name > after);
  const page = all.slice(0, max);
  const buckets: XmlNode[] = page.map((b) => ['Bucket', [['Name', b.name], ['CreationDate', b.created_at], ['BucketRegion', b.region]]]);
  const last = page[page.length - 1];
  return xmlResponse('ListAllMyBucketsResult', [
    ['Owner', ownerXml(ctx.principal.ownerId, ctx.principal.displayName)],
    ['Buckets', buckets],
    ['Prefix', ctx.query.has('prefix') ? prefix : undefined],
    ['ContinuationToken', all.length > max && last ? Buffer.from(last.name).toString('base64url') : undefined],
  ]);
};

function parseLocationConstraint(body: Buffer): string {
  if (body.length === 0) return '';
  let root;
  try {
    root = parseXml(body);
  } catch (e) {
    if (e instanceof XmlParseError) throw new S3Error('MalformedXML');
    throw e;
  }
  if (root.name !== 'CreateBucketConfiguration') throw new S3Error('MalformedXML');
  return childText(root, 'LocationConstraint') ?? '';
}

export const createBucket: OperationHandler = async (ctx) => {
  assertValidBucketName(ctx.bucket);
  const body = await readBody(ctx, MAX_CREATE_BUCKET_BODY, 'MalformedXML');
  const location = parseLocationConstraint(body);
  const owner = { id: ctx.principal.ownerId, displayName: ctx.principal.displayName };
  const acl = aclFromHeaders(ctx.headers, owner);
  const { config, metadata, storage } = ctx.deps;
  const locationHeader = { Location: `/${ctx.bucket}` };

  const existing = await metadata.getBucket(ctx.bucket);
  if (existing) return existingBucketAnswer(ctx, existing, locationHeader);
  await storage.createBucket(ctx.bucket);
  try {
    await metadata.createBucket({
      name: ctx.bucket,
      region: location || config.server.region,
      owner_id: owner.id,
      owner_display: owner.displayName,
      acl: serializeAcl(acl),
      created_at: nowIso(),
    });
  } catch (e) {
    // A concurrent CreateBucket won the race: answer as if it had been there first.
    if (!(e instanceof BucketExistsError)) throw e;
    const winner = await metadata.getBucket(ctx.bucket);
    if (winner) return existingBucketAnswer(ctx, winner, locationHeader);
    throw e;
  }
  return emptyResponse(200, locationHeader);
};

function existingBucketAnswer(ctx: RequestContext, existing: BucketRecord, headers: Record<string, string>) {
  if (existing.owner_id !== ctx.principal.ownerId) throw new S3Error('BucketAlreadyExists', undefined, { BucketName: ctx.bucket });
  // us-east-1 quirk: re-creating your own bucket succeeds there and conflicts elsewhere.
  if (ctx.deps.config.server.region !== 'us-east-1') throw new S3Error('BucketAlreadyOwnedByYou', undefined, { BucketName: ctx.bucket });
  return emptyResponse(200, headers);
}

export const deleteBucket: OperationHandler = async (ctx) => {
  await requireBucket(ctx);
  const { metadata, storage, log } = ctx.deps;
  if ((await metadata.countObjects(ctx.bucket)) > 0) throw new S3Error('BucketNotEmpty', undefined, { BucketName: ctx.bucket });
  const uploads = await metadata.listMultipartUploads(ctx.bucket, { prefix: '', delimiter: '', maxUploads: 1000, keyMarker: '', uploadIdMarker: '' });
  await metadata.deleteBucket(ctx.bucket);
  // Metadata is gone first; leftover data is an invisible orphan, never a dangling row.
  for (const u of uploads.uploads) {
    await storage.deleteUploadParts(u.upload_id).catch((e: Error) => log.warn('part cleanup failed', { uploadId: u.upload_id, error: e.message }));
  }
  await storage.deleteBucket(ctx.bucket).catch((e: Error) => log.warn('bucket directory cleanup failed', { bucket: ctx.bucket, error: e.message }));
  return emptyResponse(204);
};

export const headBucket: OperationHandler = async (ctx) => {
  const bucket = await requireBucket(ctx);
  return emptyResponse(200, { 'x-amz-bucket-region': bucket.region });
};

export const getBucketLocation: OperationHandler = async (ctx) => {
  const bucket = await requireBucket(ctx);
  const region = bucket.region === 'us-east-1' ? '' : bucket.region;
  return { status: 200, headers: { 'Content-Type': 'application/xml' }, body: renderS3XmlText('LocationConstraint', region) };
};
