// ACLs as stored (metadata.md §2) and built from request headers (s3-api.md §7.1).
// ACLs are stored and returned, never enforced (single tenant).
import { child, childrenNamed, childText, parseXml, type XmlElement } from '../xml/parser.js';
import type { XmlNode } from '../xml/writer.js';
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

const XSI = 'http://www.w3.org/2001/XMLSchema-instance';
const PERMISSIONS: ReadonlySet<string> = new Set(['FULL_CONTROL', 'READ', 'WRITE', 'READ_ACP', 'WRITE_ACP']);

/** Reads a stored ACL leniently: any key order, missing fields, corrupt text → default. */
export function parseStoredAcl(json: string): Acl {
  try {
    const v: unknown = JSON.parse(json);
    if (!v || typeof v !== 'object') return { grants: [] };
    const o = v as { owner?: { id?: unknown; display_name?: unknown }; grants?: unknown };
    const acl: Acl = { grants: [] };
    if (o.owner && typeof o.owner.id === 'string' && o.owner.id !== '') {
      acl.owner = { id: o.owner.id, display_name: typeof o.owner.display_name === 'string' ? o.owner.display_name : undefined };
    }
    if (Array.isArray(o.grants)) {
      for (const g of o.grants as Array<{ grantee?: Record<string, unknown>; permission?: unknown }>) {
        const p = g?.permission;
        const ge = g?.grantee;
        if (typeof p !== 'string' || !PERMISSIONS.has(p) || !ge) continue;
        if (ge.type === 'Group' && typeof ge.uri === 'string') acl.grants.push({ grantee: { type: 'Group', uri: ge.uri }, permission: p as Permission });
        else if (typeof ge.id === 'string') {
          acl.grants.push({
            grantee: { type: 'CanonicalUser', id: ge.id, display_name: typeof ge.display_name === 'string' ? ge.display_name : undefined },
            permission: p as Permission,
          });
        }
      }
    }
    return acl;
  } catch {
    return { grants: [] };
  }
}

/** The AccessControlPolicy document (s3-api.md §7.2); `fallbackOwner` fills a missing owner. */
export function renderAclXml(stored: string, fallbackOwner: Owner): XmlNode[] {
  const acl = parseStoredAcl(stored);
  const owner = acl.owner ? { id: acl.owner.id, displayName: acl.owner.display_name ?? '' } : fallbackOwner;
  const grants = acl.grants.length > 0 ? acl.grants : [ownerGrant(owner)];
  return [
    ['Owner', [['ID', owner.id], ['DisplayName', owner.displayName]]],
    [
      'AccessControlList',
      grants.map((g): XmlNode => [
        'Grant',
        [
          g.grantee.type === 'Group'
            ? ['Grantee', [['URI', g.grantee.uri]], { 'xmlns:xsi': XSI, 'xsi:type': 'Group' }]
            : ['Grantee', [['ID', g.grantee.id], ['DisplayName', g.grantee.display_name ?? (g.grantee.id === owner.id ? owner.displayName : undefined)]], { 'xmlns:xsi': XSI, 'xsi:type': 'CanonicalUser' }],
          ['Permission', g.permission],
        ],
      ]),
    ],
  ];
}

/** Parses an AccessControlPolicy body; anything unusable → MalformedACLError. */
export function aclFromXml(body: Buffer, currentOwner: Owner): Acl {
  let root: XmlElement;
  try {
    root = parseXml(body);
  } catch {
    throw new S3Error('MalformedACLError');
  }
  if (root.name !== 'AccessControlPolicy') throw new S3Error('MalformedACLError');
  const ownerEl = child(root, 'Owner');
  const owner = { id: (ownerEl && childText(ownerEl, 'ID')) || currentOwner.id, display_name: (ownerEl && childText(ownerEl, 'DisplayName')) || currentOwner.displayName };
  const list = child(root, 'AccessControlList');
  const grants: Grant[] = [];
  for (const g of list ? childrenNamed(list, 'Grant') : []) {
    const grantee = child(g, 'Grantee');
    const permission = childText(g, 'Permission');
    if (!grantee || !permission || !PERMISSIONS.has(permission)) throw new S3Error('MalformedACLError');
    const type = Object.entries(grantee.attributes).find(([k]) => k === 'xsi:type' || k.endsWith(':type'))?.[1];
    const uri = childText(grantee, 'URI');
    if (uri !== undefined || type === 'Group') {
      if (!uri) throw new S3Error('MalformedACLError');
      grants.push({ grantee: { type: 'Group', uri }, permission: permission as Permission });
    } else {
      const id = childText(grantee, 'ID') ?? childText(grantee, 'EmailAddress');
      if (!id) throw new S3Error('MalformedACLError');
      grants.push({ grantee: { type: 'CanonicalUser', id, display_name: childText(grantee, 'DisplayName') }, permission: permission as Permission });
    }
  }
  return { owner, grants };
}
