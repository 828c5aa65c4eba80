// Where the AWS gateway keeps BleepStore's bytes in the one backing bucket (spec/storage.md §5):
//   object  {prefix}{bucket}/{key}
//   part    {prefix}.parts/{upload_id}/{part_number}
// Bucket names never start with '.', so the '.parts/' and '.long-keys/' areas cannot collide
// with an object.
import { createHash } from 'node:crypto';
import { UnsafePathError } from './key-path.js';

/** S3's limit on a key, in UTF-8 bytes. */
export const MAX_S3_KEY_BYTES = 1024;

export class AwsKeyMap {
  constructor(private readonly prefix: string) {}

  /**
   * The backing key of an object. A BleepStore key may itself be 1024 bytes, so with the prefix
   * and bucket in front the mapped name can exceed what S3 accepts; only such keys go to
   * `{prefix}.long-keys/{bucket}/{sha256 of key}` instead (beyond the spec, which cannot store them).
   */
  object(bucket: string, key: string): string {
    const mapped = `${this.prefix}${bucket}/${key}`;
    if (Buffer.byteLength(mapped, 'utf8') <= MAX_S3_KEY_BYTES) return mapped;
    return `${this.longKeyArea(bucket)}${createHash('sha256').update(key, 'utf8').digest('hex')}`;
  }

  /** The listing prefix of a bucket's objects (other than long-key ones). */
  bucketArea(bucket: string): string {
    return `${this.prefix}${bucket}/`;
  }

  longKeyArea(bucket: string): string {
    return `${this.prefix}.long-keys/${bucket}/`;
  }

  part(uploadId: string, partNumber: number): string {
    return `${this.partsOf(uploadId)}${partNumber}`;
  }

  /** The listing prefix holding every part of one upload. */
  partsOf(uploadId: string): string {
    // A '/' (or a dot segment) would let one upload's prefix cover another's parts.
    if (uploadId === '' || uploadId === '.' || uploadId === '..' || uploadId.includes('/')) {
      throw new UnsafePathError(`unsafe upload id ${JSON.stringify(uploadId)}`);
    }
    return `${this.prefix}.parts/${uploadId}/`;
  }
}
