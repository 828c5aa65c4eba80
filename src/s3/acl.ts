// ACLs as stored (metadata.md §2) and built from request headers (s3-api.md §7.1).
// ACLs are stored and returned, never enforced (single tenant).
import { S3Error } from './errors.js';

export const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers';
export const AUTHENTICATED_USERS = 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers';
export const LOG_DELIVERY = 'http://acs.amazonaws.com/groups/s3/LogDelivery';

export type Permission = 'FULL_CONTROL' | 'READ' | 'WRITE' | 'READ_ACP' | 'WRITE_ACP';
export type Grantee =
  | { type: 'CanonicalUser'; id: string; display_name?: string }
  | { type: 'Group'; uri: string };
export interface Grant {
  grantee: Grantee;
  permission: Permission;
}
export interface Acl {
  owner?: { id: string; display_name?: string };
  grants: Grant[];
}
export interface Owner {
  id: string;
  displayName: string;
}

const GRANT_HEADERS: ReadonlyArray<readonly [string, Permission]> = [
  ['x-amz-grant-read', 'READ'],
  ['x-amz-grant-write', 'WRITE'],
  ['x-amz-grant-read-acp', 'READ_ACP'],
  ['x-amz-grant-write-acp', 'WRITE_ACP'],
  ['x-amz-grant-full-control', 'FULL_CONTROL'],
];

function ownerGrant(owner: Owner): Grant {
  return { grantee: { type: 'CanonicalUser', id: owner.id, display_name: owner.displayName }, permission: 'FULL_CONTROL' };
}

/** Canned ACL → ACL; single tenant, so bucket-owner-* and aws-exec-read equal private. */
export function cannedAcl(name: string, owner: Owner): Acl {
  const grants: Grant[] = [ownerGrant(owner)];
  switch (name) {
    case 'private':
    case 'bucket-owner-read':
    case 'bucket-owner-full-control':
    case 'aws-exec-read':
      break;
    case 'public-read':
      grants.push({ grantee: { type: 'Group', uri: ALL_USERS }, permission: 'READ' });
      break;
    case 'public-read-write':
      grants.push({ grantee: { type: 'Group', uri: ALL_USERS }, permission: 'READ' });
      grants.push({ grantee: { type: 'Group', uri: ALL_USERS }, permission: 'WRITE' });
      break;
    case 'authenticated-read':
      grants.push({ grantee: { type: 'Group', uri: AUTHENTICATED_USERS }, permission: 'READ' });
      break;
    case 'log-delivery-write':
      grants.push({ grantee: { type: 'Group', uri: LOG_DELIVERY }, permission: 'WRITE' });
      grants.push({ grantee: { type: 'Group', uri: LOG_DELIVERY }, permission: 'READ_ACP' });
      break;
    default:
      throw new S3Error('InvalidArgument', `The canned ACL ${name} is not valid.`, { ArgumentName: 'x-amz-acl', ArgumentValue: name });
  }
  return { owner: { id: owner.id, display_name: owner.displayName }, grants };
}

/** Parses one grant header value: comma-separated `id="..."`, `uri="..."`, `emailAddress="..."` or bare ids. */
function parseGrantees(value: string): Grantee[] {
  const grantees: Grantee[] = [];
  for (const raw of value.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    const kind = eq === -1 ? 'id' : item.slice(0, eq).trim().toLowerCase();
    const v = (eq === -1 ? item : item.slice(eq + 1)).trim().replace(/^"(.*)"$/, '$1');
    if (kind === 'uri') grantees.push({ type: 'Group', uri: v });
    else if (kind === 'id' || kind === 'emailaddress') grantees.push({ type: 'CanonicalUser', id: v });
    else throw new S3Error('InvalidArgument', `Invalid grantee type ${kind}.`);
  }
  return grantees;
}

/**
 * The ACL named by `x-amz-acl` or `x-amz-grant-*` headers, or undefined when neither is present.
 * Both together → InvalidArgument.
 */
export function aclFromHeaders(headers: Readonly<Record<string, string>>, owner: Owner): Acl | undefined {
  const canned = headers['x-amz-acl'];
  const grantHeaders = GRANT_HEADERS.filter(([h]) => headers[h] !== undefined);
  if (canned !== undefined && grantHeaders.length > 0) {
    throw new S3Error('InvalidArgument', 'Specifying both Canned ACLs and Header Grants is not allowed');
  }
  if (canned !== undefined) return cannedAcl(canned.trim(), owner);
  if (grantHeaders.length === 0) return undefined;
  const grants: Grant[] = [];
  for (const [header, permission] of grantHeaders) {
    for (const grantee of parseGrantees(headers[header] ?? '')) grants.push({ grantee, permission });
  }
  return { owner: { id: owner.id, display_name: owner.displayName }, grants };
}

export function serializeAcl(acl: Acl | undefined): string {
  return acl === undefined ? '{}' : JSON.stringify(acl);
}
