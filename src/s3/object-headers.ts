// Content headers and user metadata: from request headers into records, and from records into
// GET/HEAD response headers (errors-and-headers.md §5, s3-api.md §4.1, §4.7).
import type { ContentFields, ObjectRecord } from '../metadata/types.js';
import { S3Error } from './errors.js';
import { httpDate } from './time.js';

const USER_META_PREFIX = 'x-amz-meta-';
const MAX_USER_METADATA_BYTES = 2048;
const STORAGE_CLASSES: ReadonlySet<string> = new Set([
  'STANDARD', 'REDUCED_REDUNDANCY', 'STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'GLACIER',
  'DEEP_ARCHIVE', 'OUTPOSTS', 'GLACIER_IR', 'SNOW', 'EXPRESS_ONEZONE',
]);

/** Content-Encoding without the aws-chunked transport token; null when nothing remains. */
function storedContentEncoding(value: string | undefined): string | null {
  if (value === undefined) return null;
  const kept = value
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '' && t.toLowerCase() !== 'aws-chunked');
  return kept.length === 0 ? null : kept.join(',');
}

export function contentFieldsFromHeaders(headers: Readonly<Record<string, string>>): ContentFields {
  return {
    content_type: headers['content-type'] || 'application/octet-stream',
    content_encoding: storedContentEncoding(headers['content-encoding']),
    content_language: headers['content-language'] ?? null,
    content_disposition: headers['content-disposition'] ?? null,
    cache_control: headers['cache-control'] ?? null,
    expires: headers['expires'] ?? null,
  };
}

/** x-amz-meta-* headers as stored JSON (prefixed lowercase names, metadata.md §2). */
export function userMetadataFromHeaders(headers: Readonly<Record<string, string>>): string {
  const meta: Record<string, string> = {};
  let bytes = 0;
  let any = false;
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith(USER_META_PREFIX)) continue;
    meta[name] = value;
    any = true;
    bytes += Buffer.byteLength(name.slice(USER_META_PREFIX.length)) + Buffer.byteLength(value);
  }
  if (bytes > MAX_USER_METADATA_BYTES) throw new S3Error('MetadataTooLarge', undefined, { MaxSizeAllowed: MAX_USER_METADATA_BYTES, Size: bytes });
  return any ? JSON.stringify(meta) : '{}';
}

export function storageClassFromHeaders(headers: Readonly<Record<string, string>>): string {
  const value = headers['x-amz-storage-class'];
  if (value === undefined || value === '') return 'STANDARD';
  if (!STORAGE_CLASSES.has(value)) throw new S3Error('InvalidStorageClass', undefined, { StorageClassRequested: value });
  return value;
}

function parseUserMetadata(json: string): Record<string, string> {
  try {
    const parsed: unknown = JSON.parse(json);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(parsed)) if (typeof v === 'string') out[k] = v;
      return out;
    }
  } catch {
    // A corrupt row must not fail the read; it simply has no user metadata.
  }
  return {};
}

const OVERRIDES: ReadonlyArray<readonly [query: string, header: string]> = [
  ['response-content-type', 'Content-Type'],
  ['response-content-language', 'Content-Language'],
  ['response-expires', 'Expires'],
  ['response-cache-control', 'Cache-Control'],
  ['response-content-disposition', 'Content-Disposition'],
  ['response-content-encoding', 'Content-Encoding'],
];

/** Headers of a GET/HEAD object response (without Content-Length / Content-Range). */
export function objectResponseHeaders(obj: ObjectRecord, query: ReadonlyMap<string, string>): Record<string, string> {
  const h: Record<string, string> = {
    ETag: obj.etag,
    'Last-Modified': httpDate(obj.last_modified),
    'Content-Type': obj.content_type || 'application/octet-stream',
    'Accept-Ranges': 'bytes',
  };
  if (obj.content_encoding !== null) h['Content-Encoding'] = obj.content_encoding;
  if (obj.content_language !== null) h['Content-Language'] = obj.content_language;
  if (obj.content_disposition !== null) h['Content-Disposition'] = obj.content_disposition;
  if (obj.cache_control !== null) h['Cache-Control'] = obj.cache_control;
  if (obj.expires !== null) h['Expires'] = obj.expires;
  if (obj.storage_class && obj.storage_class !== 'STANDARD') h['x-amz-storage-class'] = obj.storage_class;
  for (const [name, value] of Object.entries(parseUserMetadata(obj.user_metadata))) {
    const lower = name.toLowerCase();
    // Python/Go databases store names without the prefix; read both forms (metadata.md §2).
    h[lower.startsWith(USER_META_PREFIX) ? lower : USER_META_PREFIX + lower] = value;
  }
  for (const [param, header] of OVERRIDES) {
    const v = query.get(param);
    if (v !== undefined) h[header] = v;
  }
  return h;
}
