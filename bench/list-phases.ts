// ListObjectsV2 workloads: the bucket layout (keys grouped under prefixes), populating it over
// HTTP with bounded parallel 0-byte PUTs, and timed walks of the whole bucket, page by page,
// with or without a delimiter. Every completed walk on a real S3 server must return exactly the
// expected number of entries; the ceiling serves canned pages, so there a walk is just the same
// number of pages.
import { closedLoop, describeFailure, isRealS3, measured, presignedRequest, signedRequest, type PhaseResult, type Query, type Step, type Target } from './load-client.js';
import { objectPath } from './small-phases.js';

export const PAGE_SIZE = 1000;

export interface ListBucketPlan {
  bucket: string;
  keyCount: number;
  prefixCount: number;
}

/** `p0042/object-00017`: keys sort by prefix, then by number, which is also the order they are made in. */
export function listKeys(plan: ListBucketPlan): string[] {
  const perPrefix = Math.ceil(plan.keyCount / plan.prefixCount);
  const prefixDigits = Math.max(4, String(plan.prefixCount - 1).length);
  const keyDigits = Math.max(5, String(perPrefix - 1).length);
  const keys: string[] = [];
  for (let p = 0; p < plan.prefixCount && keys.length < plan.keyCount; p++) {
    for (let n = 0; n < perPrefix && keys.length < plan.keyCount; n++) keys.push(`p${String(p).padStart(prefixDigits, '0')}/object-${String(n).padStart(keyDigits, '0')}`);
  }
  return keys;
}

/** Bounded parallel 0-byte PUTs of every key; the result's seconds is how long populating took. */
export async function populateOverHttp(t: Target, bucket: string, keys: readonly string[], concurrency: number, timeoutMs: number): Promise<PhaseResult> {
  let next = 0;
  const step = (): Step | undefined => {
    if (next >= keys.length) return undefined;
    const key = keys[next++] as string;
    return {
      spec: signedRequest(t, 'PUT', objectPath(bucket, key), [], { 'content-length': '0' }),
      bytes: 0,
      check: (r) => (r.status === 200 ? undefined : describeFailure(r)),
    };
  };
  const result = await measured(t, { workload: 'populate', name: `populate ${bucket}: PUT 0 B`, objectSize: 0, concurrency }, (live) =>
    closedLoop(t, { concurrency, durationMs: timeoutMs, maxOps: keys.length }, live, step),
  );
  if (result.ops !== keys.length) throw new Error(`populating ${bucket}: ${result.ops} of ${keys.length} PUTs succeeded in ${result.seconds.toFixed(0)} s (${result.firstError ?? 'time bound reached'})`);
  return result;
}

const CONTENTS = Buffer.from('<Contents>');
const COMMON_PREFIXES = Buffer.from('<CommonPrefixes>');
const TRUNCATED = Buffer.from('<IsTruncated>true</IsTruncated>');
const TOKEN_OPEN = Buffer.from('<NextContinuationToken>');
const TOKEN_CLOSE = Buffer.from('</NextContinuationToken>');

function countOf(body: Buffer, needle: Buffer): number {
  let n = 0;
  for (let at = body.indexOf(needle); at >= 0; at = body.indexOf(needle, at + needle.length)) n++;
  return n;
}

function unescapeXml(s: string): string {
  return s.replace(/&(amp|lt|gt|quot|apos);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" })[e] as string);
}

/** What the generator needs from a ListBucketResult page, found by byte search (no XML parse). */
export function scanListPage(body: Buffer): { entries: number; truncated: boolean; token: string | undefined } {
  const open = body.indexOf(TOKEN_OPEN);
  const close = open >= 0 ? body.indexOf(TOKEN_CLOSE, open) : -1;
  return {
    entries: countOf(body, CONTENTS) + countOf(body, COMMON_PREFIXES),
    truncated: body.includes(TRUNCATED),
    token: close > open ? unescapeXml(body.toString('utf8', open + TOKEN_OPEN.length, close)) : undefined,
  };
}

export interface ListPhaseOptions {
  plan: ListBucketPlan;
  delimiter: boolean;
  concurrency: number;
  durationMs: number;
  /** Count bound, in pages. */
  maxPages: number;
}

interface Walk {
  token: string | undefined;
  pages: number;
  entries: number;
}

/** Repeated full walks of the bucket; ops = pages. A walk cut by the time bound still counts its pages. */
export async function runListPhase(t: Target, o: ListPhaseOptions): Promise<PhaseResult> {
  const { plan } = o;
  const path = `/${plan.bucket}`;
  const expectedEntries = o.delimiter ? plan.prefixCount : plan.keyCount;
  const expectedPages = Math.max(1, Math.ceil(expectedEntries / PAGE_SIZE));
  const real = isRealS3(t);
  const baseQuery: [string, string][] = [['list-type', '2'], ...(o.delimiter ? ([['delimiter', '/']] as [string, string][]) : [])];
  // The ceiling honours max-keys, so asking it for what the real walk's page would hold gives the
  // same page sizes; a real server is always asked for full pages.
  const maxKeysFor = (w: Walk): string => String(real ? PAGE_SIZE : Math.min(PAGE_SIZE, expectedEntries - w.entries));
  const firstPage = presignedRequest(t, 'GET', path, [...baseQuery, ['max-keys', maxKeysFor({ token: undefined, pages: 0, entries: 0 })]], {}, { collectBody: true });
  const walks: Walk[] = Array.from({ length: o.concurrency }, () => ({ token: undefined, pages: 0, entries: 0 }));
  let walksDone = 0;
  let entriesListed = 0;

  const next = (w: number): Step => {
    const walk = walks[w] as Walk;
    const query: Query = walk.token === undefined ? [] : [...baseQuery, ['max-keys', maxKeysFor(walk)], ['continuation-token', walk.token]];
    const restart = (): void => {
      walk.token = undefined;
      walk.pages = 0;
      walk.entries = 0;
    };
    return {
      spec: walk.token === undefined ? firstPage : signedRequest(t, 'GET', path, query, {}, { collectBody: true }),
      bytes: 0,
      check: (r) => {
        if (r.status !== 200 || r.body === undefined) {
          restart();
          return describeFailure(r);
        }
        const page = scanListPage(r.body);
        walk.pages++;
        walk.entries += page.entries;
        entriesListed += page.entries;
        const more = real ? page.truncated : walk.pages < expectedPages;
        if (more) {
          if (page.token === undefined) {
            restart();
            return 'truncated page without NextContinuationToken';
          }
          walk.token = page.token;
          return undefined;
        }
        const got = walk.entries;
        restart();
        if (real && got !== expectedEntries) return `a full walk listed ${got} entries, expected ${expectedEntries}`;
        walksDone++;
        return undefined;
      },
    };
  };

  const name = `ListObjectsV2 ${plan.keyCount.toLocaleString('en-US')} keys${o.delimiter ? `, '/' → ${plan.prefixCount.toLocaleString('en-US')} prefixes` : ''}`;
  const result = await measured(t, { workload: 'list', name, objectSize: 0, concurrency: o.concurrency }, (live) =>
    closedLoop(t, { concurrency: o.concurrency, durationMs: o.durationMs, maxOps: o.maxPages }, live, next),
  );
  result.extra = { ...result.extra, 'pages per walk': expectedPages, 'walks completed': walksDone, 'entries/s': entriesListed / result.seconds };
  return result;
}
