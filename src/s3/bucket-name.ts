// Bucket naming rules (spec/s3-api.md §3.1).
import { S3Error } from './errors.js';

const SHAPE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const IPV4 = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;
const BAD_PREFIXES = ['xn--', 'sthree-', 'amzn-s3-demo-'];
const BAD_SUFFIXES = ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3'];

export function isValidBucketName(name: string): boolean {
  return (
    SHAPE.test(name) &&
    !IPV4.test(name) &&
    !name.includes('..') &&
    !BAD_PREFIXES.some((p) => name.startsWith(p)) &&
    !BAD_SUFFIXES.some((s) => name.endsWith(s))
  );
}

export function assertValidBucketName(name: string): void {
  if (!isValidBucketName(name)) throw new S3Error('InvalidBucketName', undefined, { BucketName: name });
}
