// SigV4 canonicalisation helpers (spec/auth.md §4.1): URI encoding, canonical URI, canonical
// query string and canonical headers. Pure functions over the raw request parts.

/** Bytes that stay literal in SigV4 URI encoding: A-Z a-z 0-9 - _ . ~ */
const UNRESERVED = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~') UNRESERVED[c.charCodeAt(0)] = 1;

/** '%XX' for every byte, uppercase hex. */
const PERCENT: string[] = [];
for (let b = 0; b < 256; b++) PERCENT.push('%' + b.toString(16).toUpperCase().padStart(2, '0'));

const ALL_UNRESERVED = /^[A-Za-z0-9\-_.~]*$/;

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x37;
  if (code >= 0x61 && code <= 0x66) return code - 0x57;
  return -1;
}

/** SigV4 URI-encodes raw bytes: unreserved bytes literal, every other byte (including '/') as %XX. */
export function uriEncodeBytes(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    out += UNRESERVED[b] ? String.fromCharCode(b) : (PERCENT[b] as string);
  }
  return out;
}

/** SigV4 URI-encodes a string (as UTF-8). '/' is encoded as %2F. */
export function uriEncode(value: string): string {
  if (ALL_UNRESERVED.test(value)) return value;
  return uriEncodeBytes(Buffer.from(value, 'utf8'));
}

/**
 * Percent-decodes a raw URL component to bytes. Characters that are not part of a valid
 * '%XX' escape are kept as their UTF-8 bytes (a stray '%' stays '%'); with `plusAsSpace`
 * (query strings) '+' becomes a space.
 */
export function percentDecodeBytes(raw: string, plusAsSpace: boolean): Buffer {
  const src = Buffer.from(raw, 'utf8');
  const out = Buffer.allocUnsafe(src.length);
  let n = 0;
  for (let i = 0; i < src.length; i++) {
    const b = src[i] as number;
    if (b === 0x25 && i + 2 < src.length) {
      const hi = hexValue(src[i + 1] as number);
      const lo = hexValue(src[i + 2] as number);
      if (hi >= 0 && lo >= 0) {
        out[n++] = (hi << 4) | lo;
        i += 2;
        continue;
      }
    }
    out[n++] = plusAsSpace && b === 0x2b ? 0x20 : b;
  }
  return out.subarray(0, n);
}

/** Percent-decodes a raw URL component to a string (UTF-8). */
export function percentDecode(raw: string, plusAsSpace: boolean): string {
  if (!raw.includes('%') && !(plusAsSpace && raw.includes('+'))) return raw;
  return percentDecodeBytes(raw, plusAsSpace).toString('utf8');
}

/** Decodes then re-encodes one raw component with the SigV4 rule. */
function canonicalComponent(raw: string, plusAsSpace: boolean): string {
  if (ALL_UNRESERVED.test(raw)) return raw;
  return uriEncodeBytes(percentDecodeBytes(raw, plusAsSpace));
}

/**
 * Canonical URI: the raw path split on '/', each segment percent-decoded and re-encoded,
 * joined with '/'. Segment-wise so that an encoded '%2F' inside a key stays '%2F'. No
 * dot-segment normalisation and no double encoding (S3 rules). Empty path gives '/'.
 */
export function canonicalUri(rawPath: string): string {
  if (rawPath === '') return '/';
  if (/^[A-Za-z0-9\-_.~/]*$/.test(rawPath)) return rawPath;
  const segments = rawPath.split('/');
  for (let i = 0; i < segments.length; i++) segments[i] = canonicalComponent(segments[i] as string, false);
  return segments.join('/');
}

/** One query parameter: raw text as received and its SigV4-encoded canonical form. */
export interface QueryParam {
  /** Decoded name ('+' read as space). */
  name: string;
  /** Decoded value ('' when the parameter had no '='). */
  value: string;
  encodedName: string;
  encodedValue: string;
}

/** Splits a raw query on '&' and the first '='; empty pieces (from '&&') are skipped. */
export function parseQuery(rawQuery: string): QueryParam[] {
  const params: QueryParam[] = [];
  if (rawQuery === '') return params;
  for (const piece of rawQuery.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const rawName = eq < 0 ? piece : piece.slice(0, eq);
    const rawValue = eq < 0 ? '' : piece.slice(eq + 1);
    params.push({
      name: percentDecode(rawName, true),
      value: percentDecode(rawValue, true),
      encodedName: canonicalComponent(rawName, true),
      encodedValue: canonicalComponent(rawValue, true),
    });
  }
  return params;
}

function compareAscii(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Canonical query string: parameters sorted by encoded name, then encoded value (byte order;
 * the encoded forms are ASCII so string order is byte order), joined as name=value with '&'.
 * Sorting pairs rather than whole 'name=value' strings matters when one name is a prefix of
 * another ('a' vs 'a-b'). `excludeName` drops a parameter by decoded name (X-Amz-Signature).
 */
export function canonicalQueryString(params: readonly QueryParam[], excludeName?: string): string {
  const kept = excludeName === undefined ? params.slice() : params.filter((p) => p.name !== excludeName);
  if (kept.length === 0) return '';
  kept.sort((a, b) => compareAscii(a.encodedName, b.encodedName) || compareAscii(a.encodedValue, b.encodedValue));
  let out = '';
  for (let i = 0; i < kept.length; i++) {
    const p = kept[i] as QueryParam;
    out += (i === 0 ? '' : '&') + p.encodedName + '=' + p.encodedValue;
  }
  return out;
}

const NEEDS_WS_NORMALISATION = /^[ \t]|[ \t]$|[ \t\r\n]{2}|[\t\r\n]/;

/** Header value as SigV4 signs it: trimmed, internal whitespace runs collapsed to one space. */
export function canonicalHeaderValue(value: string): string {
  if (!NEEDS_WS_NORMALISATION.test(value)) return value;
  return value.replace(/[ \t\r\n]+/g, ' ').trim();
}

/**
 * The CanonicalHeaders block: one 'name:value\n' line per signed header name (already
 * lowercase, in the order given). An absent header signs as an empty value; `host` is the
 * header verbatim (with its port).
 */
export function canonicalHeaders(headers: Readonly<Record<string, string>>, signedHeaderNames: readonly string[]): string {
  let out = '';
  for (const name of signedHeaderNames) {
    // hasOwn: a signed header named e.g. 'constructor' must not read Object.prototype.
    const value = Object.hasOwn(headers, name) ? headers[name] : undefined;
    out += name + ':' + (value === undefined ? '' : canonicalHeaderValue(value)) + '\n';
  }
  return out;
}
