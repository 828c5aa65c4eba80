// /openapi.json, generated from the route table (src/s3/routes.ts), so it lists exactly the
// operations the server dispatches. OpenAPI allows one operation per method and path, while S3
// multiplexes many operations on one method + resource by query parameters and headers; each
// OpenAPI operation therefore lists its S3 operations, in dispatch order, under
// `x-s3-operations` together with what selects them. Operation ids per method + resource are the
// names the reference schema uses (ListBuckets, GetBucket, PostObject, ...), so tools built
// on either document agree.
import { ROUTES, type OperationName, type ResourceLevel, type Route } from '../s3/routes.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type OpenApiDocument = { [key: string]: Json };

interface OperationDoc {
  summary: string;
  tag: 'Bucket' | 'Object' | 'MultipartUpload';
  /** Success status. */
  status: '200' | '204';
  /** Optional query parameters beyond the ones that select the operation. */
  query?: readonly string[];
  /** Request headers worth listing. */
  headers?: readonly string[];
  /** The operation reads an XML (or object) request body. */
  body?: 'xml' | 'object';
}

/** Descriptions for every routed operation; a Record, so a new route without docs fails to compile. */
const OPERATION_DOCS: Record<OperationName, OperationDoc> = {
  ListBuckets: { summary: 'List all buckets owned by the authenticated sender', tag: 'Bucket', status: '200' },
  CreateBucket: { summary: 'Create a bucket (optional CreateBucketConfiguration body)', tag: 'Bucket', status: '200', headers: ['x-amz-acl'], body: 'xml' },
  DeleteBucket: { summary: 'Delete an empty bucket', tag: 'Bucket', status: '204' },
  HeadBucket: { summary: 'Check that a bucket exists and is accessible', tag: 'Bucket', status: '200' },
  GetBucketLocation: { summary: 'Region of the bucket', tag: 'Bucket', status: '200' },
  GetBucketAcl: { summary: 'Access control list of the bucket', tag: 'Bucket', status: '200' },
  PutBucketAcl: { summary: 'Set the bucket ACL (canned header, grant headers or AccessControlPolicy body)', tag: 'Bucket', status: '200', headers: ['x-amz-acl'], body: 'xml' },
  ListObjects: { summary: 'List objects (version 1)', tag: 'Object', status: '200', query: ['prefix', 'delimiter', 'marker', 'max-keys', 'encoding-type'] },
  ListObjectsV2: {
    summary: 'List objects (version 2)',
    tag: 'Object',
    status: '200',
    query: ['prefix', 'delimiter', 'continuation-token', 'start-after', 'max-keys', 'fetch-owner', 'encoding-type'],
  },
  ListMultipartUploads: {
    summary: 'List in-progress multipart uploads',
    tag: 'MultipartUpload',
    status: '200',
    query: ['prefix', 'delimiter', 'key-marker', 'upload-id-marker', 'max-uploads', 'encoding-type'],
  },
  DeleteObjects: { summary: 'Delete up to 1000 objects in one request', tag: 'Object', status: '200', headers: ['Content-MD5'], body: 'xml' },
  PutObject: {
    summary: 'Store an object',
    tag: 'Object',
    status: '200',
    headers: ['Content-Type', 'Content-MD5', 'Cache-Control', 'Content-Disposition', 'Content-Encoding', 'Expires', 'x-amz-acl', 'If-None-Match'],
    body: 'object',
  },
  CopyObject: {
    summary: 'Copy an object (server side)',
    tag: 'Object',
    status: '200',
    headers: ['x-amz-metadata-directive', 'x-amz-copy-source-if-match', 'x-amz-copy-source-if-none-match', 'x-amz-copy-source-if-modified-since', 'x-amz-copy-source-if-unmodified-since'],
  },
  GetObject: {
    summary: 'Retrieve an object (Range and conditional requests supported)',
    tag: 'Object',
    status: '200',
    query: ['partNumber', 'response-content-type', 'response-content-disposition', 'response-content-encoding', 'response-content-language', 'response-expires', 'response-cache-control'],
    headers: ['Range', 'If-Match', 'If-None-Match', 'If-Modified-Since', 'If-Unmodified-Since'],
  },
  HeadObject: { summary: 'Object metadata without the body', tag: 'Object', status: '200', headers: ['Range', 'If-Match', 'If-None-Match', 'If-Modified-Since', 'If-Unmodified-Since'] },
  DeleteObject: { summary: 'Delete an object', tag: 'Object', status: '204' },
  GetObjectAcl: { summary: 'Access control list of the object', tag: 'Object', status: '200' },
  PutObjectAcl: { summary: 'Set the object ACL', tag: 'Object', status: '200', headers: ['x-amz-acl'], body: 'xml' },
  CreateMultipartUpload: { summary: 'Start a multipart upload', tag: 'MultipartUpload', status: '200', headers: ['Content-Type', 'x-amz-acl'] },
  UploadPart: { summary: 'Upload one part (1..10000) of a multipart upload', tag: 'MultipartUpload', status: '200', headers: ['Content-MD5'], body: 'object' },
  UploadPartCopy: { summary: 'Copy a part from an existing object', tag: 'MultipartUpload', status: '200', headers: ['x-amz-copy-source-range'] },
  CompleteMultipartUpload: { summary: 'Assemble the uploaded parts into the object', tag: 'MultipartUpload', status: '200', body: 'xml' },
  AbortMultipartUpload: { summary: 'Abort a multipart upload and discard its parts', tag: 'MultipartUpload', status: '204' },
  ListParts: { summary: 'List the uploaded parts of a multipart upload', tag: 'MultipartUpload', status: '200', query: ['max-parts', 'part-number-marker'] },
};

/** operationId of each (resource, method) group, as in the reference schema. */
const GROUP_IDS: Record<ResourceLevel, Record<string, string>> = {
  service: { GET: 'ListBuckets' },
  bucket: { PUT: 'CreateBucket', GET: 'GetBucket', HEAD: 'HeadBucket', DELETE: 'DeleteBucket', POST: 'PostBucket' },
  object: { PUT: 'PutObject', GET: 'GetObject', HEAD: 'HeadObject', DELETE: 'DeleteObject', POST: 'PostObject' },
};

const RESOURCE_PATHS: Record<ResourceLevel, string> = { service: '/', bucket: '/{Bucket}', object: '/{Bucket}/{Key+}' };

const ref = (to: string): Json => ({ $ref: to });
const requestIdHeader: Json = { 'x-amz-request-id': ref('#/components/headers/x-amz-request-id') };

/** What selects a route: query parameters, an exact query value, a header (dispatch order matters). */
function selector(route: Route): { [key: string]: Json } {
  const out: { [key: string]: Json } = { operation: route.operation };
  if (route.query) out.query = [...route.query];
  if (route.queryValue) out.queryValue = { [route.queryValue[0]]: route.queryValue[1] };
  if (route.header) out.header = route.header;
  return out;
}

function describeSelector(route: Route): string {
  const parts: string[] = [];
  if (route.query) parts.push(...route.query.map((q) => `?${q}`));
  if (route.queryValue) parts.push(`${route.queryValue[0]}=${route.queryValue[1]}`);
  if (route.header) parts.push(`header ${route.header}`);
  return parts.length === 0 ? `${route.operation} (default)` : `${route.operation} (${parts.join(', ')})`;
}

function queryParam(name: string, description: string): Json {
  return { name, in: 'query', required: false, allowEmptyValue: true, description, schema: { type: 'string' } };
}

function headerParam(name: string, description: string): Json {
  return { name, in: 'header', required: false, description, schema: { type: 'string' } };
}

function groupOperation(level: ResourceLevel, method: string, routes: readonly Route[]): Json {
  const parameters: Json[] = [];
  const seen = new Set<string>();
  const add = (key: string, param: Json): void => {
    if (seen.has(key)) return;
    seen.add(key);
    parameters.push(param);
  };
  for (const route of routes) {
    for (const q of route.query ?? []) add(`q:${q}`, queryParam(q, `Selects ${routes.filter((r) => r.query?.includes(q)).map((r) => r.operation).join(' / ')}.`));
    if (route.queryValue) add(`q:${route.queryValue[0]}`, queryParam(route.queryValue[0], `${route.queryValue[1]} selects ${route.operation}.`));
    if (route.header) add(`h:${route.header}`, headerParam(route.header, `Selects ${route.operation}.`));
  }
  for (const route of routes) {
    const doc = OPERATION_DOCS[route.operation];
    for (const q of doc.query ?? []) add(`q:${q}`, queryParam(q, `Used by ${route.operation}.`));
    for (const h of doc.headers ?? []) add(`h:${h.toLowerCase()}`, headerParam(h, `Used by ${route.operation}.`));
  }
  const tags = [...new Set(routes.map((r) => OPERATION_DOCS[r.operation].tag))];
  const statuses = [...new Set(routes.map((r) => OPERATION_DOCS[r.operation].status))].sort();
  const responses: { [key: string]: Json } = {};
  for (const status of statuses) {
    responses[status] = {
      description: routes.filter((r) => OPERATION_DOCS[r.operation].status === status).map((r) => r.operation).join(', ') + ' succeeded.',
      headers: requestIdHeader,
      ...(method === 'HEAD' || status === '204' ? {} : { content: { 'application/xml': { schema: { type: 'string' } }, 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } }),
    };
  }
  for (const [status, name] of [['400', 'BadRequest'], ['403', 'AccessDenied'], ['404', 'NotFound'], ['409', 'Conflict'], ['500', 'InternalError'], ['501', 'NotImplemented'], ['503', 'ServiceUnavailable']] as const) {
    if (level === 'service' && (status === '404' || status === '409' || status === '501')) continue;
    responses[status] = ref(`#/components/responses/${name}`);
  }
  const operation: { [key: string]: Json } = {
    operationId: GROUP_IDS[level][method] ?? `${method}${level}`,
    summary: routes.length === 1 ? OPERATION_DOCS[routes[0].operation].summary : `Multiplex: ${routes.map(describeSelector).join('; ')}`,
    description: routes.map((r) => `- ${describeSelector(r)}: ${OPERATION_DOCS[r.operation].summary}`).join('\n'),
    tags,
    'x-s3-operations': routes.map(selector),
    responses,
  };
  if (parameters.length > 0) operation.parameters = parameters;
  const bodies = routes.map((r) => OPERATION_DOCS[r.operation].body).filter((b) => b !== undefined);
  if (bodies.length > 0) {
    const content: { [key: string]: Json } = {};
    if (bodies.includes('xml')) content['application/xml'] = { schema: { type: 'string' } };
    if (bodies.includes('object')) content['application/octet-stream'] = { schema: { type: 'string', format: 'binary' } };
    operation.requestBody = { required: false, content };
  }
  return operation;
}

function errorResponseDoc(description: string): Json {
  return { description, headers: requestIdHeader, content: { 'application/xml': { schema: ref('#/components/schemas/Error') } } };
}

function infraPaths(options: OpenApiOptions): { [path: string]: Json } {
  const open = { security: [] as Json[], tags: ['Infrastructure'] };
  const paths: { [path: string]: Json } = {
    '/health': {
      get: { ...open, operationId: 'Health', summary: 'Deep health check: metadata and storage probes with latencies', responses: { '200': { description: 'Healthy' }, '503': { description: 'Degraded' } } },
    },
    '/openapi.json': { get: { ...open, operationId: 'OpenApi', summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1 document' } } } },
    '/docs': { get: { ...open, operationId: 'Docs', summary: 'Swagger UI for this document (served locally)', responses: { '200': { description: 'HTML page' } } } },
  };
  if (options.healthCheck) {
    paths['/healthz'] = { get: { ...open, operationId: 'Liveness', summary: 'Liveness (no dependency checks)', responses: { '200': { description: 'Alive' } } } };
    paths['/readyz'] = {
      get: {
        ...open,
        operationId: 'Readiness',
        summary: 'Readiness: startup recovery finished, metadata and storage answer, not draining',
        responses: { '200': { description: 'Ready' }, '503': { description: 'Not ready' } },
      },
    };
  }
  if (options.metrics) {
    paths['/metrics'] = { get: { ...open, operationId: 'Metrics', summary: 'Prometheus text exposition', responses: { '200': { description: 'Metrics' } } } };
  }
  return paths;
}

export interface OpenApiOptions {
  /** observability.metrics: /metrics is served. */
  metrics: boolean;
  /** observability.health_check: /healthz and /readyz are served. */
  healthCheck: boolean;
}

const METHOD_ORDER = ['GET', 'PUT', 'POST', 'DELETE', 'HEAD'];

/** The document without `servers` (the port is known only once listening). */
export function buildOpenApiDocument(options: OpenApiOptions, routes: readonly Route[] = ROUTES): OpenApiDocument {
  const paths: { [path: string]: Json } = {};
  for (const level of ['service', 'bucket', 'object'] as const) {
    const item: { [key: string]: Json } = {};
    if (level === 'bucket') item.parameters = [ref('#/components/parameters/BucketParam')];
    if (level === 'object') item.parameters = [ref('#/components/parameters/BucketParam'), ref('#/components/parameters/KeyParam')];
    for (const method of METHOD_ORDER) {
      const group = routes.filter((r) => r.level === level && r.method === method);
      if (group.length > 0) item[method.toLowerCase()] = groupOperation(level, method, group);
    }
    paths[RESOURCE_PATHS[level]] = item;
  }
  Object.assign(paths, infraPaths(options));
  return {
    openapi: '3.1.0',
    info: {
      title: 'BleepStore S3-Compatible API',
      version: '1.0.0',
      description:
        'The S3 REST API subset BleepStore serves, generated from its route table. Path-style and ' +
        'virtual-host-style addressing; SigV4 (header, presigned URL, aws-chunked) on every S3 request. ' +
        'Each operation lists the S3 operations it multiplexes, in dispatch order, under x-s3-operations.',
      license: { name: 'MIT' },
    },
    servers: [],
    security: [{ sigv4: [] }],
    tags: [
      { name: 'Bucket', description: 'Operations on buckets.' },
      { name: 'Object', description: 'Operations on objects.' },
      { name: 'MultipartUpload', description: 'Multipart upload lifecycle.' },
      { name: 'Infrastructure', description: 'Health, metrics and documentation endpoints (no authentication).' },
    ],
    paths,
    components: {
      securitySchemes: {
        sigv4: {
          type: 'http',
          scheme: 'bearer',
          description: 'AWS Signature Version 4: Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=... (or presigned query parameters).',
        },
      },
      parameters: {
        BucketParam: { name: 'Bucket', in: 'path', required: true, description: 'Bucket name (3-63 characters).', schema: { type: 'string', minLength: 3, maxLength: 63 } },
        KeyParam: { name: 'Key+', in: 'path', required: true, description: 'Object key; may contain "/".', schema: { type: 'string', minLength: 1, maxLength: 1024 } },
      },
      headers: { 'x-amz-request-id': { description: 'Unique request identifier.', schema: { type: 'string' } } },
      responses: {
        BadRequest: errorResponseDoc('400: invalid request (InvalidArgument, MalformedXML, EntityTooLarge, RequestTimeout, ...).'),
        AccessDenied: errorResponseDoc('403: authentication or authorisation failed.'),
        NotFound: errorResponseDoc('404: no such bucket, key or upload.'),
        Conflict: errorResponseDoc('409: bucket exists or is not empty, or a conditional write lost a race.'),
        InternalError: errorResponseDoc('500: internal error.'),
        NotImplemented: errorResponseDoc('501: recognised but unsupported sub-resource.'),
        ServiceUnavailable: errorResponseDoc('503: service unavailable or slow down.'),
      },
      schemas: {
        Error: {
          type: 'object',
          xml: { name: 'Error' },
          properties: {
            Code: { type: 'string' },
            Message: { type: 'string' },
            Resource: { type: 'string' },
            RequestId: { type: 'string' },
            HostId: { type: 'string' },
          },
          required: ['Code', 'Message', 'RequestId'],
        },
      },
    },
  };
}

/** The served bytes: the document with `servers` pointing at the bound port. */
export function serializeOpenApi(doc: OpenApiDocument, port: number): Buffer {
  const served = { ...doc, servers: [{ url: `http://localhost:${port}`, description: 'BleepStore typescript' }] };
  return Buffer.from(JSON.stringify(served));
}
