// Turns the raw request target into (bucket, key): path-style and virtual-hosted style
// (spec/s3-api.md §1.1). The raw path is percent-decoded exactly once, here.
import { S3Error } from './errors.js';

export interface S3Address {
  /** undefined = the service root (ListBuckets). */
  bucket?: string;
  /** undefined or '' = the bucket resource. */
  key?: string;
}

/** Strict percent-decoding: '+' stays '+', malformed escapes or invalid UTF-8 → InvalidURI. */
export function decodePathComponent(raw: string): string {
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new S3Error('InvalidURI');
  }
}

function hostWithoutPort(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(0, end + 1);
  }
  const colon = host.indexOf(':');
  return (colon === -1 ? host : host.slice(0, colon)).toLowerCase();
}

/** The bucket named by the Host header under one of the virtual-host base domains, if any. */
export function virtualHostBucket(host: string | undefined, domains: readonly string[]): string | undefined {
  if (!host || domains.length === 0) return undefined;
  const name = hostWithoutPort(host);
  for (const domain of domains) {
    const suffix = '.' + domain.toLowerCase();
    if (name.length > suffix.length && name.endsWith(suffix)) return name.slice(0, -suffix.length);
  }
  return undefined;
}

export function parseAddress(rawPath: string, host: string | undefined, virtualHostDomains: readonly string[]): S3Address {
  const vhostBucket = virtualHostBucket(host, virtualHostDomains);
  const path = rawPath.startsWith('/') ? rawPath.slice(1) : rawPath;
  if (vhostBucket !== undefined) {
    return { bucket: vhostBucket, key: path === '' ? undefined : decodePathComponent(path) };
  }
  if (path === '') return {};
  const slash = path.indexOf('/');
  if (slash === -1) return { bucket: decodePathComponent(path) };
  const key = path.slice(slash + 1);
  return { bucket: decodePathComponent(path.slice(0, slash)), key: key === '' ? undefined : decodePathComponent(key) };
}
