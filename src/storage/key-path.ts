// Maps (bucket, key) to a file path relative to the local storage root (spec/storage.md §2.1, §2.4).
//
// The key's "/" become directory separators and ordinary segments are stored verbatim, so ordinary
// keys keep the upstream on-disk layout. A segment the filesystem would reinterpret or cannot
// hold is stored reversibly as "%" + uppercase hex of its UTF-8 bytes:
//   empty → "%", "." → "%2E", ".." → "%2E2E", "%41" → "%253431", "a\0b" → "%610062".
// Because no stored segment is ever "", "." or "..", and none contains NUL or "/", a mapped path
// can never leave the bucket directory. The mapping is a bijection between well-formed keys and
// canonical relative paths; decodeObjectRelPath is its inverse.

/** Linux NAME_MAX: the longest single path component, in bytes. */
export const MAX_SEGMENT_BYTES = 255;
export const MULTIPART_DIR = '.multipart';
export const TMP_DIR = '.tmp';

/** A key segment (after escaping) exceeds NAME_MAX; the S3 layer answers KeyTooLongError. */
export class KeyPathTooLongError extends Error {
  constructor(readonly segmentBytes: number) {
    super(`key segment is ${segmentBytes} bytes on disk; the limit is ${MAX_SEGMENT_BYTES}`);
    this.name = 'KeyPathTooLongError';
  }
}

/** A bucket name, upload id or stored path that cannot be mapped safely (a caller bug, not user input). */
export class UnsafePathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafePathError';
  }
}

// A lone surrogate has no UTF-8 encoding, so such a key could not be stored reversibly.
const LONE_SURROGATE = /\p{Cs}/u;
const CANONICAL_HEX = /^(?:[0-9A-F]{2})*$/;

function needsEscape(segment: string): boolean {
  return segment === '' || segment === '.' || segment === '..' || segment.startsWith('%') || segment.includes('\0');
}

function checkLength(stored: string): string {
  const bytes = Buffer.byteLength(stored, 'utf8');
  if (bytes > MAX_SEGMENT_BYTES) throw new KeyPathTooLongError(bytes);
  return stored;
}

export function encodeKeySegment(segment: string): string {
  if (!needsEscape(segment)) return checkLength(segment);
  return checkLength('%' + Buffer.from(segment, 'utf8').toString('hex').toUpperCase());
}

export function decodeKeySegment(stored: string): string {
  if (!stored.startsWith('%')) {
    if (needsEscape(stored)) throw new UnsafePathError(`not a canonical stored segment: ${JSON.stringify(stored)}`);
    return stored;
  }
  const hex = stored.slice(1);
  if (!CANONICAL_HEX.test(hex)) throw new UnsafePathError(`bad escaped segment: ${JSON.stringify(stored)}`);
  const segment = Buffer.from(hex, 'hex').toString('utf8');
  // Reject what the encoder would never produce (e.g. "%41" for "A", or invalid UTF-8).
  if (encodeKeySegment(segment) !== stored) {
    throw new UnsafePathError(`not a canonical stored segment: ${JSON.stringify(stored)}`);
  }
  return segment;
}

/** Relative path of a key inside its bucket directory ("/"-separated). */
export function encodeKey(key: string): string {
  if (LONE_SURROGATE.test(key)) throw new UnsafePathError('key is not well-formed Unicode');
  return key.split('/').map(encodeKeySegment).join('/');
}

export function decodeKey(relPath: string): string {
  return relPath.split('/').map(decodeKeySegment).join('/');
}

/**
 * Bucket names and upload ids must already be one safe path component. They are validated, not
 * escaped, because the layout stores them verbatim and bucket names never start with ".".
 */
export function assertSafeName(name: string, what: string): void {
  if (
    name === '' ||
    name.startsWith('.') ||
    name.includes('/') ||
    name.includes('\0') ||
    Buffer.byteLength(name, 'utf8') > MAX_SEGMENT_BYTES
  ) {
    throw new UnsafePathError(`unsafe ${what}: ${JSON.stringify(name)}`);
  }
}

/** "{bucket}/{escaped key}", relative to the storage root. */
export function objectRelPath(bucket: string, key: string): string {
  assertSafeName(bucket, 'bucket name');
  return `${bucket}/${encodeKey(key)}`;
}

export function decodeObjectRelPath(relPath: string): { bucket: string; key: string } {
  const slash = relPath.indexOf('/');
  if (slash < 0) throw new UnsafePathError(`not an object path: ${JSON.stringify(relPath)}`);
  const bucket = relPath.slice(0, slash);
  assertSafeName(bucket, 'bucket name');
  return { bucket, key: decodeKey(relPath.slice(slash + 1)) };
}

export function assertPartNumber(partNumber: number): void {
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10000) {
    throw new UnsafePathError(`invalid part number: ${partNumber}`);
  }
}

/** ".multipart/{upload_id}" (the upload's part directory), relative to the storage root. */
export function uploadRelDir(uploadId: string): string {
  assertSafeName(uploadId, 'upload id');
  return `${MULTIPART_DIR}/${uploadId}`;
}

/** ".multipart/{upload_id}/{part_number}": plain decimal, no padding. */
export function partRelPath(uploadId: string, partNumber: number): string {
  assertPartNumber(partNumber);
  return `${uploadRelDir(uploadId)}/${partNumber}`;
}
