// Small constructors for operation responses so every operation shapes them the same way.
import type { HttpResponse } from '../http/types.js';
import { renderS3Xml, type XmlNode } from '../xml/writer.js';

export function xmlResponse(root: string, children: readonly XmlNode[], status = 200): HttpResponse {
  return { status, headers: { 'Content-Type': 'application/xml' }, body: renderS3Xml(root, children) };
}

export function emptyResponse(status: number, headers: Record<string, string> = {}): HttpResponse {
  return { status, headers };
}

export function ownerXml(id: string, displayName: string): XmlNode[] {
  return [
    ['ID', id],
    ['DisplayName', displayName],
  ];
}
