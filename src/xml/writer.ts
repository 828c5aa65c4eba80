// The one XML writer for S3 responses: a tiny builder over a string array.
// Success bodies carry the S3 namespace on the root; error bodies never do (errors-and-headers.md §1).

export const S3_NAMESPACE = 'http://s3.amazonaws.com/doc/2006-03-01/';
const DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>';

// CR is escaped too: an XML parser turns a literal CR into LF, so a key 'a\rb' would list as 'a\nb'.
const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\r': '&#13;' };
const NEEDS_ESCAPE = /[&<>"'\r]/;
const ESCAPE_ALL = /[&<>"'\r]/g;

export function escapeXml(text: string): string {
  return NEEDS_ESCAPE.test(text) ? text.replace(ESCAPE_ALL, (c) => ESCAPES[c] ?? c) : text;
}

/** A child value: text, a nested element list, or null/undefined to omit the element. */
export type XmlValue = string | number | boolean | XmlNode[] | null | undefined;
export type XmlNode = readonly [name: string, value: XmlValue, attributes?: Readonly<Record<string, string>>];

function openTag(out: string[], name: string, attributes: Readonly<Record<string, string>> | undefined): void {
  out.push('<', name);
  if (attributes) for (const [k, v] of Object.entries(attributes)) out.push(' ', k, '="', escapeXml(v), '"');
  out.push('>');
}

function renderNodes(out: string[], nodes: readonly XmlNode[]): void {
  for (const [name, value, attributes] of nodes) {
    if (value === null || value === undefined) continue;
    openTag(out, name, attributes);
    if (Array.isArray(value)) renderNodes(out, value);
    else out.push(escapeXml(String(value)));
    out.push('</', name, '>');
  }
}

/**
 * Renders a document: declaration, root element (with optional attributes, e.g. the namespace),
 * then children. `undefined`/`null` children are omitted, which keeps optional fields terse.
 */
export function renderXml(root: string, children: readonly XmlNode[], attributes: Record<string, string> = {}): Buffer {
  const out: string[] = [DECLARATION, '<', root];
  for (const [k, v] of Object.entries(attributes)) out.push(' ', k, '="', escapeXml(v), '"');
  if (children.length === 0) {
    out.push('/>');
  } else {
    out.push('>');
    renderNodes(out, children);
    out.push('</', root, '>');
  }
  return Buffer.from(out.join(''), 'utf8');
}

/** A success body: root element in the S3 namespace. */
export function renderS3Xml(root: string, children: readonly XmlNode[]): Buffer {
  return renderXml(root, children, { xmlns: S3_NAMESPACE });
}

/** A success body whose root holds only text, e.g. <LocationConstraint>; empty text self-closes. */
export function renderS3XmlText(root: string, text: string): Buffer {
  const open = `${DECLARATION}<${root} xmlns="${S3_NAMESPACE}"`;
  return Buffer.from(text === '' ? `${open}/>` : `${open}>${escapeXml(text)}</${root}>`, 'utf8');
}
