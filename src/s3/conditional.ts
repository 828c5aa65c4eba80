// Conditional GET/HEAD (s3-api.md §4.5) and Range parsing (§4.6).
import { S3Error } from './errors.js';
import { epochSeconds, parseHttpDate } from './time.js';

export type ConditionOutcome = 'proceed' | 'not-modified' | 'precondition-failed';

function stripEtag(tag: string): string {
  let t = tag.trim();
  if (t.startsWith('W/')) t = t.slice(2);
  if (t.length >= 2 && t.startsWith('"') && t.endsWith('"')) t = t.slice(1, -1);
  return t;
}

/** True when the comma-separated list contains '*' or the ETag. */
export function etagListMatches(list: string, etag: string): boolean {
  const target = stripEtag(etag);
  return list.split(',').some((item) => {
    const t = item.trim();
    return t === '*' || stripEtag(t) === target;
  });
}

export function evaluateConditions(headers: Readonly<Record<string, string>>, etag: string, lastModifiedIso: string): ConditionOutcome {
  const modified = epochSeconds(lastModifiedIso);
  const ifMatch = headers['if-match'];
  const ifNoneMatch = headers['if-none-match'];
  if (ifMatch !== undefined) {
    if (!etagListMatches(ifMatch, etag)) return 'precondition-failed';
  } else if (headers['if-unmodified-since'] !== undefined) {
    const since = parseHttpDate(headers['if-unmodified-since']);
    if (since !== undefined && modified > since) return 'precondition-failed';
  }
  if (ifNoneMatch !== undefined) {
    if (etagListMatches(ifNoneMatch, etag)) return 'not-modified';
  } else if (headers['if-modified-since'] !== undefined) {
    const since = parseHttpDate(headers['if-modified-since']);
    if (since !== undefined && modified <= since) return 'not-modified';
  }
  return 'proceed';
}

export interface ResolvedRange {
  start: number;
  end: number;
}

function invalidRange(size: number, value: string): S3Error {
  return new S3Error('InvalidRange', undefined, { RangeRequested: value, ActualObjectSize: size }, { 'Content-Range': `bytes */${size}` });
}

const SPEC = /^(\d*)-(\d*)$/;

/** undefined = serve the whole object (absent, unparsable or multi-range headers are ignored). */
export function resolveRange(value: string | undefined, size: number): ResolvedRange | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (!v.startsWith('bytes=')) return undefined;
  const spec = v.slice(6).trim();
  if (spec.includes(',')) return undefined;
  const m = SPEC.exec(spec);
  if (!m) return undefined;
  const [, first = '', last = ''] = m;
  if (first === '' && last === '') throw invalidRange(size, v);
  if (first === '') {
    const n = Number(last);
    if (n === 0 || size === 0) throw invalidRange(size, v);
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(first);
  if (start >= size) throw invalidRange(size, v);
  if (last === '') return { start, end: size - 1 };
  const end = Number(last);
  if (start > end) throw invalidRange(size, v);
  return { start, end: Math.min(end, size - 1) };
}

/** x-amz-copy-source-if-* (s3-api.md §4.10): any failure is a 412, never a 304. */
export function evaluateCopySourceConditions(headers: Readonly<Record<string, string>>, etag: string, lastModifiedIso: string): 'proceed' | 'precondition-failed' {
  const mapped: Record<string, string> = {};
  for (const name of ['if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since']) {
    const v = headers[`x-amz-copy-source-${name}`];
    if (v !== undefined) mapped[name] = v;
  }
  return evaluateConditions(mapped, etag, lastModifiedIso) === 'proceed' ? 'proceed' : 'precondition-failed';
}
