// Where the Azure gateway keeps BleepStore's bytes in the one backing container (spec/storage.md §5):
//   object       {prefix}{bucket}/{key}                 (dot-like segments escaped, see below)
//   long key     {prefix}.long-keys/{bucket}/{sha256 of key}
//   staging      {prefix}.staging/{write id}             a large body until commit() publishes it
//   part         {prefix}.parts/{upload_id}/{n}          pointer: metadata names the current data blob
//   part data    {prefix}.parts/{upload_id}/{n}.{write id}
// Bucket names never start with '.', so the dot areas cannot collide with an object.
import { createHash } from 'node:crypto';
import { assertPartNumber, assertSafeName, UnsafePathError } from './key-path.js';

/** Azure's limit on a blob name (characters; counted here as UTF-8 bytes, which is never fewer). */
export const MAX_BLOB_NAME_BYTES = 1024;
/** Azure's limit on the number of '/'-separated segments in a blob name. */
export const MAX_BLOB_NAME_SEGMENTS = 254;

/**
 * A key segment Azure or the HTTP stack would not keep verbatim: '' ('a//b', 'photos/'), '.' and
 * '..' (URL normalisation removes them before the request is sent), and any segment ending in '.'
 * (Azure documents that path segments must not end with a dot). Segments starting with '%' are
 * escaped too, so that escaping stays reversible.
 */
function needsEscape(segment: string): boolean {
  return segment === '' || segment.endsWith('.') || segment.startsWith('%');
}

/** Same rule as the local layout (key-path.ts): '%' + uppercase hex of the UTF-8 bytes. */
function escapeSegment(segment: string): string {
  return needsEscape(segment) ? '%' + Buffer.from(segment, 'utf8').toString('hex').toUpperCase() : segment;
}

export function escapeKeyForBlob(key: string): string {
  return key.split('/').map(escapeSegment).join('/');
}

export class AzureBlobNames {
  constructor(private readonly prefix: string) {}

  /**
   * The blob of an object. Ordinary keys map verbatim to `{prefix}{bucket}/{key}`; a key whose
   * mapped name exceeds Azure's name limits goes to `{prefix}.long-keys/{bucket}/{sha256}`
   * instead (beyond the spec, which cannot store such keys at all).
   */
  object(bucket: string, key: string): string {
    assertSafeName(bucket, 'bucket name');
    const mapped = `${this.bucketArea(bucket)}${escapeKeyForBlob(key)}`;
    if (Buffer.byteLength(mapped, 'utf8') <= MAX_BLOB_NAME_BYTES && mapped.split('/').length <= MAX_BLOB_NAME_SEGMENTS) return mapped;
    return `${this.longKeyArea(bucket)}${createHash('sha256').update(key, 'utf8').digest('hex')}`;
  }

  /** The listing prefix of every plainly named object of a bucket. */
  bucketArea(bucket: string): string {
    assertSafeName(bucket, 'bucket name');
    return `${this.prefix}${bucket}/`;
  }

  /** The listing prefix of a bucket's objects stored under hashed names. */
  longKeyArea(bucket: string): string {
    assertSafeName(bucket, 'bucket name');
    return `${this.prefix}.long-keys/${bucket}/`;
  }

  stagingArea(): string {
    return `${this.prefix}.staging/`;
  }

  staging(writeId: string): string {
    return `${this.stagingArea()}${writeId}`;
  }

  /** The listing prefix holding the parts of every upload. */
  partsArea(): string {
    return `${this.prefix}.parts/`;
  }

  /** The listing prefix holding every part (pointers and data) of one upload. */
  partsOf(uploadId: string): string {
    // A '/' or a leading '.' would let one upload's prefix cover another's parts.
    assertSafeName(uploadId, 'upload id');
    return `${this.partsArea()}${uploadId}/`;
  }

  partPointer(uploadId: string, partNumber: number): string {
    assertPartNumber(partNumber);
    return `${this.partsOf(uploadId)}${partNumber}`;
  }

  partData(uploadId: string, partNumber: number, writeId: string): string {
    if (!/^[0-9a-f]{32}$/.test(writeId)) throw new UnsafePathError(`bad write id ${JSON.stringify(writeId)}`);
    return `${this.partPointer(uploadId, partNumber)}.${writeId}`;
  }
}
