// Timestamp formats (errors-and-headers.md §6): stored/XML times are ISO 8601 with whole seconds
// and '.000Z'; HTTP headers use IMF-fixdate; conditionals compare whole seconds.

/** Now as stored: whole seconds, e.g. 2026-02-22T12:00:00.000Z. */
export function nowIso(): string {
  return new Date(Math.floor(Date.now() / 1000) * 1000).toISOString();
}

/** ISO (or any Date-parsable) timestamp → IMF-fixdate for HTTP headers. */
export function httpDate(iso: string): string {
  return new Date(iso).toUTCString();
}

/** Parses IMF-fixdate, RFC 850 and asctime forms; undefined when unparsable (the condition is then ignored). */
export function parseHttpDate(value: string): number | undefined {
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

/** Whole seconds since the epoch of a stored timestamp. */
export function epochSeconds(iso: string): number {
  return Math.floor(Date.parse(iso) / 1000);
}
