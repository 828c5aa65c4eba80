// ETag values the sqlite store and memory snapshots keep next to the bytes (spec/storage.md §3-4):
// the quoted MD5 for single writes, the quoted composite "hex-N" for assembled objects, matching
// objects.etag. Nothing serves these in responses; they exist for cross-implementation identity.
import { createHash } from 'node:crypto';

export function quotedMd5(data: Uint8Array): string {
  return `"${createHash('md5').update(data).digest('hex')}"`;
}

/** S3 multipart ETag: MD5 over the concatenated binary part MD5s, suffixed with the part count. */
export function compositeEtag(partEtags: readonly string[]): string {
  const hash = createHash('md5');
  for (const etag of partEtags) {
    const hex = etag.replace(/^"|"$/g, '');
    if (!/^[0-9a-f]{32}$/.test(hex)) throw new Error(`part etag ${etag} is not an MD5`);
    hash.update(Buffer.from(hex, 'hex'));
  }
  return `"${hash.digest('hex')}-${partEtags.length}"`;
}
