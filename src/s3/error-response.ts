// Renders an S3Error as the S3 error document (errors-and-headers.md §1): no namespace,
// Code, Message, Resource, RequestId, HostId, then the error's extra fields.
import type { HttpResponse } from '../http/types.js';
import { renderXml, type XmlNode } from '../xml/writer.js';
import type { S3Error } from './errors.js';

export function errorResponse(err: S3Error, resource: string, requestId: string, hostId: string): HttpResponse {
  const children: XmlNode[] = [
    ['Code', err.code],
    ['Message', err.message],
    ['Resource', resource],
    ['RequestId', requestId],
    ['HostId', hostId],
  ];
  for (const [k, v] of Object.entries(err.extras)) children.push([k, v]);
  return {
    status: err.status,
    headers: { 'Content-Type': 'application/xml', ...err.headers },
    body: renderXml('Error', children),
  };
}
