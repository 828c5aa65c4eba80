// The one route table: method + resource + sub-resource query -> operation (spec/s3-api.md §1.3).
// Rows are checked top to bottom within a resource level; the first match wins.
import { S3Error } from './errors.js';

export const OPERATIONS = [
  'ListBuckets',
  'CreateBucket',
  'DeleteBucket',
  'HeadBucket',
  'GetBucketLocation',
  'GetBucketAcl',
  'PutBucketAcl',
  'ListObjects',
  'ListObjectsV2',
  'ListMultipartUploads',
  'DeleteObjects',
  'PutObject',
  'CopyObject',
  'GetObject',
  'HeadObject',
  'DeleteObject',
  'GetObjectAcl',
  'PutObjectAcl',
  'CreateMultipartUpload',
  'UploadPart',
  'UploadPartCopy',
  'CompleteMultipartUpload',
  'AbortMultipartUpload',
  'ListParts',
] as const;
export type OperationName = (typeof OPERATIONS)[number];

export type ResourceLevel = 'service' | 'bucket' | 'object';

export interface Route {
  operation: OperationName;
  method: string;
  level: ResourceLevel;
  /** Query parameters that must all be present. */
  query?: readonly string[];
  /** A query parameter that must have this exact value. */
  queryValue?: readonly [name: string, value: string];
  /** A request header that must be present. */
  header?: string;
}

export const ROUTES: readonly Route[] = [
  { operation: 'ListBuckets', method: 'GET', level: 'service' },

  { operation: 'PutBucketAcl', method: 'PUT', level: 'bucket', query: ['acl'] },
  { operation: 'CreateBucket', method: 'PUT', level: 'bucket' },
  { operation: 'GetBucketLocation', method: 'GET', level: 'bucket', query: ['location'] },
  { operation: 'GetBucketAcl', method: 'GET', level: 'bucket', query: ['acl'] },
  { operation: 'ListMultipartUploads', method: 'GET', level: 'bucket', query: ['uploads'] },
  { operation: 'ListObjectsV2', method: 'GET', level: 'bucket', queryValue: ['list-type', '2'] },
  { operation: 'ListObjects', method: 'GET', level: 'bucket' },
  { operation: 'HeadBucket', method: 'HEAD', level: 'bucket' },
  { operation: 'DeleteBucket', method: 'DELETE', level: 'bucket' },
  { operation: 'DeleteObjects', method: 'POST', level: 'bucket', query: ['delete'] },

  { operation: 'UploadPartCopy', method: 'PUT', level: 'object', query: ['uploadId', 'partNumber'], header: 'x-amz-copy-source' },
  { operation: 'UploadPart', method: 'PUT', level: 'object', query: ['uploadId', 'partNumber'] },
  { operation: 'PutObjectAcl', method: 'PUT', level: 'object', query: ['acl'] },
  { operation: 'CopyObject', method: 'PUT', level: 'object', header: 'x-amz-copy-source' },
  { operation: 'PutObject', method: 'PUT', level: 'object' },
  { operation: 'GetObjectAcl', method: 'GET', level: 'object', query: ['acl'] },
  { operation: 'ListParts', method: 'GET', level: 'object', query: ['uploadId'] },
  { operation: 'GetObject', method: 'GET', level: 'object' },
  { operation: 'HeadObject', method: 'HEAD', level: 'object' },
  { operation: 'AbortMultipartUpload', method: 'DELETE', level: 'object', query: ['uploadId'] },
  { operation: 'DeleteObject', method: 'DELETE', level: 'object' },
  { operation: 'CreateMultipartUpload', method: 'POST', level: 'object', query: ['uploads'] },
  { operation: 'CompleteMultipartUpload', method: 'POST', level: 'object', query: ['uploadId'] },
];

/** Recognised S3 sub-resources this server does not implement → 501 (spec §1.3). */
export const UNSUPPORTED_SUBRESOURCES: ReadonlySet<string> = new Set([
  'versioning', 'versions', 'tagging', 'policy', 'policyStatus', 'cors', 'lifecycle', 'encryption',
  'website', 'logging', 'notification', 'replication', 'requestPayment', 'object-lock', 'legal-hold',
  'retention', 'ownershipControls', 'publicAccessBlock', 'accelerate', 'analytics', 'inventory',
  'metrics', 'intelligent-tiering', 'restore', 'select', 'torrent', 'attributes',
]);

/** Methods S3 knows; anything else is 405 on any resource. */
const KNOWN_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'PUT', 'POST', 'DELETE']);

function matches(route: Route, method: string, query: ReadonlyMap<string, string>, headers: Readonly<Record<string, string>>): boolean {
  if (route.method !== method) return false;
  if (route.query && !route.query.every((q) => query.has(q))) return false;
  if (route.queryValue && query.get(route.queryValue[0]) !== route.queryValue[1]) return false;
  if (route.header && headers[route.header] === undefined) return false;
  return true;
}

/** Resolves the operation or throws MethodNotAllowed / NotImplemented. */
export function resolveRoute(
  method: string,
  level: ResourceLevel,
  query: ReadonlyMap<string, string>,
  headers: Readonly<Record<string, string>>,
): OperationName {
  if (level !== 'service') {
    for (const name of query.keys()) {
      if (UNSUPPORTED_SUBRESOURCES.has(name)) {
        throw new S3Error('NotImplemented', `The ${name} sub-resource is not implemented.`);
      }
    }
  }
  if (KNOWN_METHODS.has(method)) {
    for (const route of ROUTES) {
      if (route.level === level && matches(route, method, query, headers)) return route.operation;
    }
    // POST on a bucket or object without a supported sub-resource (e.g. browser POST uploads).
    if (method === 'POST' && level !== 'service') throw new S3Error('NotImplemented');
  }
  throw new S3Error('MethodNotAllowed', undefined, { Method: method, ResourceType: level.toUpperCase() });
}
