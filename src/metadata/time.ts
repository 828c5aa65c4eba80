// Metadata timestamps: ISO 8601 UTC with whole seconds, `YYYY-MM-DDTHH:MM:SS.000Z` (metadata.md §1).
// Fixed width and the `T` separator make these strings order correctly under plain string comparison,
// which the reaper and the upload listing order rely on.

/** Formats a time as `YYYY-MM-DDTHH:MM:SS.000Z`, dropping sub-second precision. */
export function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString();
}

/** The current time as `YYYY-MM-DDTHH:MM:SS.000Z`. */
export function isoNow(): string {
  return isoSeconds(Date.now());
}

/** The time `seconds` ago in the same format (reaper cutoff). */
export function isoSecondsAgo(seconds: number): string {
  return isoSeconds(Date.now() - seconds * 1000);
}
