// Identity of the configured default credential (s3-api.md §2): owner id = first 32 hex chars
// of SHA-256(access key), display name = the access key.
import { createHash } from 'node:crypto';

export function defaultOwnerId(accessKey: string): string {
  return createHash('sha256').update(accessKey).digest('hex').slice(0, 32);
}
