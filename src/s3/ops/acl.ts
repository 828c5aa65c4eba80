// Get/Put Bucket and Object ACL (s3-api.md §7). Stored and returned, never enforced.
import type { OperationHandler, RequestContext } from '../context.js';
import { aclFromHeaders, aclFromXml, renderAclXml, serializeAcl, type Acl, type Owner } from '../acl.js';
import { readBody } from '../body.js';
import { S3Error } from '../errors.js';
import { emptyResponse, xmlResponse } from '../responses.js';
import { requireBucket } from './buckets.js';

/** ACL bodies list at most a few hundred grants. */
const MAX_ACL_BODY = 256 * 1024;

function principalOwner(ctx: RequestContext): Owner {
  return { id: ctx.principal.ownerId, displayName: ctx.principal.displayName };
}

/** Precedence: headers (canned or grants) → XML body → reset to private (s3-api.md §7.1). */
async function aclFromRequest(ctx: RequestContext, owner: Owner): Promise<Acl | undefined> {
  const fromHeaders = aclFromHeaders(ctx.headers, owner);
  if (fromHeaders) return fromHeaders;
  const body = await readBody(ctx, MAX_ACL_BODY, 'MalformedACLError');
  return body.length > 0 ? aclFromXml(body, owner) : undefined;
}

export const getBucketAcl: OperationHandler = async (ctx) => {
  const bucket = await requireBucket(ctx);
  return xmlResponse('AccessControlPolicy', renderAclXml(bucket.acl, { id: bucket.owner_id, displayName: bucket.owner_display }));
};

export const putBucketAcl: OperationHandler = async (ctx) => {
  const bucket = await requireBucket(ctx);
  const acl = await aclFromRequest(ctx, { id: bucket.owner_id, displayName: bucket.owner_display });
  await ctx.deps.metadata.updateBucketAcl(ctx.bucket, serializeAcl(acl));
  return emptyResponse(200);
};

async function requireObjectAcl(ctx: RequestContext): Promise<string> {
  await requireBucket(ctx);
  const obj = await ctx.deps.metadata.getObject(ctx.bucket, ctx.key);
  if (!obj) throw new S3Error('NoSuchKey', undefined, { Key: ctx.key });
  return obj.acl;
}

export const getObjectAcl: OperationHandler = async (ctx) => {
  const stored = await requireObjectAcl(ctx);
  return xmlResponse('AccessControlPolicy', renderAclXml(stored, principalOwner(ctx)));
};

export const putObjectAcl: OperationHandler = async (ctx) => {
  await requireObjectAcl(ctx);
  const acl = await aclFromRequest(ctx, principalOwner(ctx));
  await ctx.deps.metadata.updateObjectAcl(ctx.bucket, ctx.key, serializeAcl(acl));
  return emptyResponse(200);
};
