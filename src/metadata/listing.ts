// The one implementation of the listing algorithm (s3-api.md §5.2, §6.6) shared by every metadata
// engine. Engines only supply a range reader ("rows in listing order from this cursor, below this
// bound, at most n"); grouping into common prefixes, marker handling and truncation live here.
//
// Ordering is UTF-8 byte order (S3 order; also SQLite's BINARY collation on TEXT). It equals
// Unicode code point order, which differs from JS string order (UTF-16 code units) for characters
// U+E000..U+FFFF versus astral characters.
import type {
  ListObjectsOptions,
  ListObjectsResult,
  ListPartsResult,
  ListUploadsOptions,
  ListUploadsResult,
  ObjectRecord,
  PartRecord,
  UploadRecord,
} from './types.js';

/** Compares two strings in UTF-8 byte order (= code point order). Negative, zero or positive. */
export function utf8Compare(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      // Below U+D800 code units and code points agree. Above, UTF-16 puts surrogates (astral
      // characters) before U+E000..U+FFFF, UTF-8 puts them after: shift them past U+FFFF.
      if (x >= 0xd800 && y >= 0xd800) return surrogatesLast(x) - surrogatesLast(y);
      return x - y;
    }
  }
  return a.length - b.length;
}

function surrogatesLast(unit: number): number {
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}

const MAX_CODE_POINT = 0x10ffff;

/**
 * The smallest string greater (in UTF-8 order) than every string starting with `prefix`, or null
 * when there is none (empty prefix, or only U+10FFFF characters). Range scans use
 * `key >= prefix AND key < bound` instead of LIKE.
 *
 * Incrementing the last UTF-8 byte can produce invalid UTF-8 (0x7F→0x80, 0xBF→0xC0), which cannot
 * be bound as TEXT; incrementing the last code point (carrying past U+10FFFF, skipping the
 * surrogate block) is the same bound for every valid key and stays a valid string.
 */
export function prefixUpperBound(prefix: string): string | null {
  const codePoints = Array.from(prefix, (ch) => {
    const cp = ch.codePointAt(0) ?? 0;
    // A lone surrogate is stored as U+FFFD (the UTF-8 encoder's replacement).
    return cp >= 0xd800 && cp <= 0xdfff ? 0xfffd : cp;
  });
  while (codePoints.length > 0) {
    const last = codePoints.pop() ?? MAX_CODE_POINT;
    if (last < MAX_CODE_POINT) {
      const next = last + 1 === 0xd800 ? 0xe000 : last + 1;
      return String.fromCodePoint(...codePoints, next);
    }
  }
  return null;
}

/**
 * The common prefix `key` rolls up into (§5.2 step 2): `prefix` + the rest up to and including
 * the first occurrence of `delimiter` after the prefix, or null when the key stands for itself.
 */
export function commonPrefixOf(key: string, prefix: string, delimiter: string): string | null {
  if (delimiter === '') return null;
  const at = key.indexOf(delimiter, prefix.length);
  return at < 0 ? null : key.slice(0, at + delimiter.length);
}

/** Where a range read starts: strictly after a row already seen, or at/after a key. */
export type ListCursor<R> =
  | { kind: 'after'; row: R }
  | { kind: 'from'; key: string; inclusive: boolean };

/**
 * Reads rows in listing order starting at `cursor`, with key < `end` when end is not null,
 * at most `limit` rows. Listing order is by key (UTF-8), then any engine-specific tie-breakers
 * (uploads: initiated_at, upload_id); an 'after' cursor continues after the given row in that order.
 * Returning fewer than `limit` rows means the range is exhausted.
 */
export type RangeReader<R> = (cursor: ListCursor<R>, end: string | null, limit: number) => R[] | Promise<R[]>;

export interface ListQuery<R> {
  prefix: string;
  /** '' = no grouping. Any string. */
  delimiter: string;
  /** Entries (rows + common prefixes) per page; <= 0 gives an empty, untruncated page. */
  maxEntries: number;
  /** Entries (keys or common prefixes) <= marker are skipped; '' = no marker. */
  marker: string;
  /**
   * When set, rows whose key equals the marker are read too and kept only if this returns true
   * (ListMultipartUploads' upload-id-marker). When absent they are skipped, like every entry <= marker.
   */
  keepRowAtMarker?: (row: R) => boolean;
  keyOf: (row: R) => string;
  read: RangeReader<R>;
}

/** The last emitted entry: a row, or a common prefix. */
export type ListEntry<R> = { kind: 'row'; row: R } | { kind: 'prefix'; prefix: string };

export interface ListPage<R> {
  rows: R[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** Last emitted entry, set only when truncated (it is the resume marker). */
  next?: ListEntry<R>;
}

/** Rows per read when grouping: small after a read that mostly hit rows of collapsed prefixes. */
const MIN_GROUPED_READ = 4;
/** Upper bound of one read; pages are at most 1000 entries, plus one row to detect truncation. */
const MAX_READ = 1001;

/**
 * §5.2: groups rows into entries, skips entries <= marker, emits up to maxEntries and reports
 * whether another entry follows. Never reads past what it needs: after a common prefix it seeks
 * to the prefix's upper bound, so a delimiter listing costs O(entries) rows, not O(keys).
 */
export async function listEntries<R>(q: ListQuery<R>): Promise<ListPage<R>> {
  const page: ListPage<R> = { rows: [], commonPrefixes: [], isTruncated: false };
  if (q.maxEntries <= 0) return page;

  const end = prefixUpperBound(q.prefix);
  const markerAheadOfPrefix = q.marker !== '' && utf8Compare(q.marker, q.prefix) >= 0;
  let cursor: ListCursor<R> = markerAheadOfPrefix
    ? { kind: 'from', key: q.marker, inclusive: q.keepRowAtMarker !== undefined }
    : { kind: 'from', key: q.prefix, inclusive: true };

  let emitted = 0;
  let last: ListEntry<R> | undefined;
  // Without a delimiter every row is an entry, so one read of maxEntries + 1 rows suffices.
  // With one, rows under a common prefix are wasted: start small and grow while reads pay off.
  let readSize = q.delimiter === '' ? MAX_READ : MIN_GROUPED_READ;
  let group: string | null = null; // common prefix whose remaining rows are being skipped
  let pastMarker = !markerAheadOfPrefix;

  for (;;) {
    const limit = Math.min(readSize, q.maxEntries - emitted + 1, MAX_READ);
    const rows = await q.read(cursor, end, limit);
    let entriesInRead = 0;
    for (const row of rows) {
      const key = q.keyOf(row);
      if (group !== null && key.startsWith(group)) continue;
      group = commonPrefixOf(key, q.prefix, q.delimiter);

      if (group !== null) {
        // Comparing the entry, not the key, is what stops a marker equal to a common prefix
        // from re-listing that prefix (§5.2 step 3).
        if (!pastMarker && utf8Compare(group, q.marker) <= 0) continue;
        pastMarker = true;
      } else if (!pastMarker) {
        // Rows of the marker key are not ordered by upload id, so each one is checked.
        const vsMarker = utf8Compare(key, q.marker);
        if (vsMarker > 0) pastMarker = true;
        else if (vsMarker < 0 || !(q.keepRowAtMarker?.(row) ?? false)) continue;
      }

      if (emitted === q.maxEntries) {
        page.isTruncated = true;
        page.next = last;
        return page;
      }
      if (group !== null) {
        page.commonPrefixes.push(group);
        last = { kind: 'prefix', prefix: group };
      } else {
        page.rows.push(row);
        last = { kind: 'row', row };
      }
      emitted++;
      entriesInRead++;
    }
    if (rows.length < limit) return page; // range exhausted

    const lastRow = rows[rows.length - 1] as R;
    if (group !== null) {
      const bound = prefixUpperBound(group);
      if (bound === null) return page;
      cursor = { kind: 'from', key: bound, inclusive: true };
    } else {
      cursor = { kind: 'after', row: lastRow };
    }
    readSize = entriesInRead * 2 < rows.length ? MIN_GROUPED_READ : Math.min(readSize * 2, MAX_READ);
  }
}

/** Object listing (§5.2) over an engine's range reader of objects ordered by key. */
export async function listObjectsWith(
  options: ListObjectsOptions,
  read: RangeReader<ObjectRecord>,
): Promise<ListObjectsResult> {
  const page = await listEntries<ObjectRecord>({
    prefix: options.prefix,
    delimiter: options.delimiter,
    maxEntries: options.maxKeys,
    marker: options.startAfter,
    keyOf: (o) => o.key,
    read,
  });
  const result: ListObjectsResult = {
    contents: page.rows,
    commonPrefixes: page.commonPrefixes,
    isTruncated: page.isTruncated,
  };
  if (page.next) result.nextMarker = page.next.kind === 'row' ? page.next.row.key : page.next.prefix;
  return result;
}

/** Listing order of uploads (§6.6): key (UTF-8), then initiated_at, then upload id. */
export function compareUploads(a: UploadRecord, b: UploadRecord): number {
  return (
    utf8Compare(a.key, b.key) ||
    compareAscii(a.initiated_at, b.initiated_at) ||
    utf8Compare(a.upload_id, b.upload_id)
  );
}

function compareAscii(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Upload listing (§6.6) over an engine's range reader of uploads in compareUploads order.
 * key-marker alone resumes at keys > marker; with upload-id-marker, uploads of the marker key
 * with a greater upload id are included too. The upload-id-marker is ignored without a key-marker.
 */
export async function listUploadsWith(
  options: ListUploadsOptions,
  read: RangeReader<UploadRecord>,
): Promise<ListUploadsResult> {
  const uploadIdMarker = options.uploadIdMarker;
  const page = await listEntries<UploadRecord>({
    prefix: options.prefix,
    delimiter: options.delimiter,
    maxEntries: options.maxUploads,
    marker: options.keyMarker,
    keepRowAtMarker:
      options.keyMarker !== '' && uploadIdMarker !== ''
        ? (u) => utf8Compare(u.upload_id, uploadIdMarker) > 0
        : undefined,
    keyOf: (u) => u.key,
    read,
  });
  const result: ListUploadsResult = {
    uploads: page.rows,
    commonPrefixes: page.commonPrefixes,
    isTruncated: page.isTruncated,
  };
  if (page.next?.kind === 'row') {
    result.nextKeyMarker = page.next.row.key;
    result.nextUploadIdMarker = page.next.row.upload_id;
  } else if (page.next?.kind === 'prefix') {
    // Resuming from a common prefix needs only the key marker: the prefix entry is <= it.
    result.nextKeyMarker = page.next.prefix;
  }
  return result;
}

/** Shapes a ListParts page from parts numbered > marker, ascending, read with limit maxParts + 1. */
export function partsPage(rows: PartRecord[], maxParts: number): ListPartsResult {
  const isTruncated = rows.length > maxParts;
  const parts = (isTruncated ? rows.slice(0, maxParts) : rows).map((p) => ({ ...p }));
  const result: ListPartsResult = { parts, isTruncated };
  const last = parts[parts.length - 1];
  if (last !== undefined) result.nextPartNumberMarker = last.part_number;
  return result;
}
