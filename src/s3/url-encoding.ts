// `encoding-type=url` for listing responses (s3-api.md §5.5): UTF-8 bytes; keep A–Z a–z 0–9
// - _ . ~ /; space → '+'; every other byte → %XX uppercase.
import { S3Error } from './errors.js';

const KEEP = /^[A-Za-z0-9\-_.~/]*$/;

export function s3UrlEncode(value: string): string {
  if (KEEP.test(value)) return value;
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (byte < 0x80 && /[A-Za-z0-9\-_.~/]/.test(c)) out += c;
    else if (byte === 0x20) out += '+';
    else out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** Returns the encoder the request asked for; anything but 'url' → InvalidArgument. */
export function encoderFor(query: ReadonlyMap<string, string>): (v: string) => string {
  const type = query.get('encoding-type');
  if (type === undefined) return (v) => v;
  if (type.toLowerCase() !== 'url') {
    throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', { ArgumentName: 'encoding-type', ArgumentValue: type });
  }
  return s3UrlEncode;
}
