// The one request-XML parser, on saxes: a capped, namespace-agnostic element tree.
// DOCTYPE and entity declarations are rejected outright (no XXE, no entity expansion).
import { SaxesParser } from 'saxes';

export interface XmlElement {
  /** Local name, namespace prefix stripped. */
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  text: string;
}

export class XmlParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XmlParseError';
  }
}

export interface XmlLimits {
  /** Maximum number of elements in the document. */
  maxElements: number;
  /** Maximum nesting depth. */
  maxDepth: number;
}

const DEFAULT_LIMITS: XmlLimits = { maxElements: 100_000, maxDepth: 16 };

function localName(name: string): string {
  const i = name.indexOf(':');
  return i === -1 ? name : name.slice(i + 1);
}

/** Parses a complete body; throws XmlParseError for anything not well-formed or over the limits. */
export function parseXml(body: Buffer | string, limits: XmlLimits = DEFAULT_LIMITS): XmlElement {
  const parser = new SaxesParser({ xmlns: false, position: false });
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let elements = 0;
  let failure: Error | undefined;

  parser.on('error', (e) => {
    failure ??= e;
  });
  parser.on('doctype', () => {
    failure ??= new XmlParseError('DOCTYPE is not allowed');
  });
  parser.on('opentag', (tag) => {
    if (++elements > limits.maxElements) failure ??= new XmlParseError('too many elements');
    if (stack.length >= limits.maxDepth) failure ??= new XmlParseError('nesting too deep');
    const attributes: Record<string, string> = {};
    for (const [k, v] of Object.entries(tag.attributes)) attributes[k] = String(v);
    const el: XmlElement = { name: localName(tag.name), attributes, children: [], text: '' };
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(el);
    else if (root) failure ??= new XmlParseError('more than one root element');
    else root = el;
    stack.push(el);
  });
  parser.on('text', (t) => {
    const top = stack[stack.length - 1];
    if (top) top.text += t;
  });
  parser.on('cdata', (t) => {
    const top = stack[stack.length - 1];
    if (top) top.text += t;
  });
  parser.on('closetag', () => {
    stack.pop();
  });

  try {
    parser.write(typeof body === 'string' ? body : body.toString('utf8'));
    if (!failure) parser.close();
  } catch (e) {
    failure ??= e as Error;
  }
  if (failure) throw failure instanceof XmlParseError ? failure : new XmlParseError(failure.message);
  if (!root) throw new XmlParseError('empty document');
  return root;
}

/** First child with the given local name. */
export function child(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c) => c.name === name);
}

/** All children with the given local name. */
export function childrenNamed(el: XmlElement, name: string): XmlElement[] {
  return el.children.filter((c) => c.name === name);
}

/** Trimmed text of the named child, or undefined. */
export function childText(el: XmlElement, name: string): string | undefined {
  const c = child(el, name);
  return c === undefined ? undefined : c.text.trim();
}
