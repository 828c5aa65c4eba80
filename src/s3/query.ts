// Query-string parsing for routing and operations (spec/s3-api.md §1.1): split on '&', then on
// the first '='; '+' is a space; a parameter without '=' is present with an empty value.
import { S3Error } from './errors.js';

function decodeQueryComponent(raw: string): string {
  const spaced = raw.includes('+') ? raw.replace(/\+/g, ' ') : raw;
  if (!spaced.includes('%')) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch {
    throw new S3Error('InvalidURI');
  }
}

/** All pairs in order (duplicates kept). */
export function parseQueryPairs(rawQuery: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  if (rawQuery === '') return pairs;
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq === -1 ? part : part.slice(0, eq);
    const value = eq === -1 ? '' : part.slice(eq + 1);
    pairs.push([decodeQueryComponent(name), decodeQueryComponent(value)]);
  }
  return pairs;
}

/** First value wins, as S3 does for repeated parameters. */
export function parseQuery(rawQuery: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const [name, value] of parseQueryPairs(rawQuery)) if (!map.has(name)) map.set(name, value);
  return map;
}
