// Small pieces both HTTP engines share: the last-resort 500 answer and status-line text.
import { STATUS_CODES } from 'node:http';

/** The answer when the engine itself (or a handler that broke its never-throw promise) fails. */
export const INTERNAL_ERROR_BODY = Buffer.from(
  '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code>' +
    '<Message>We encountered an internal error. Please try again.</Message></Error>',
);
export const INTERNAL_ERROR_CONTENT_TYPE = 'application/xml';

const statusLines = new Map<number, string>();

/** '200 OK', '404 Not Found', …; cached because uWS wants the full text on every response. */
export function statusLine(status: number): string {
  let line = statusLines.get(status);
  if (line === undefined) {
    line = `${status} ${STATUS_CODES[status] ?? 'Unknown'}`;
    statusLines.set(status, line);
  }
  return line;
}

/** 1xx, 204 and 304 answers carry neither a body nor a Content-Length (RFC 9110 §8.6). */
export function statusForbidsBody(status: number): boolean {
  return status === 204 || status === 304 || (status >= 100 && status < 200);
}

/** Case-insensitive lookup of a response header the handler set. */
export function findHeader(headers: Record<string, string>, lowerName: string): string | undefined {
  for (const name in headers) {
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) return headers[name];
  }
  return undefined;
}

/** Content-Length the handler declared, or undefined when absent or not a plain decimal. */
export function declaredContentLength(headers: Record<string, string>): number | undefined {
  const value = findHeader(headers, 'content-length');
  if (value === undefined || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value.trim());
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}

// Node's own header rules (RFC 9110 token names; values of tab, visible ASCII and obs-text).
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const INVALID_HEADER_VALUE_CHAR = /[^\t\x20-\x7e\x80-\xff]/;

/** Throws on a header node:http would refuse, so both engines reject the same responses. */
export function assertValidHeader(name: string, value: string): void {
  if (!HEADER_NAME.test(name)) throw new TypeError(`invalid response header name ${JSON.stringify(name)}`);
  if (INVALID_HEADER_VALUE_CHAR.test(value)) {
    throw new TypeError(`invalid character in response header ${name}`);
  }
}
