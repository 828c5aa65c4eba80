// What the cloud gateways' crash recovery shares (aws-recovery.ts, gcp-recovery.ts,
// azure-recovery.ts): a random token that names one staged write and is stored as metadata on
// what its commit publishes, and the StagedWrite.recoveryRef format.
//
// A ref is a version prefix naming the gateway and its layout (e.g. `aws1:`), then the compact
// JSON of the write's identity: non-empty strings under one-letter keys. A ref of another version
// (another backend's, after a configuration change) or a damaged one decodes to undefined, so it is
// never taken for a commit. Refs outlive the process that wrote them (they sit in commit intents
// across restarts): a layout never changes under its version prefix.
import { randomBytes } from 'node:crypto';

/** User/custom metadata key (x-amz-meta-bleepstore-write, x-goog-meta-bleepstore-write) holding the write token. */
const TOKEN_METADATA_KEY = 'bleepstore-write';

/** 96 random bits: unique per write, 16 characters in the ref. */
export function newWriteToken(): string {
  return randomBytes(12).toString('base64url');
}

/** The metadata that marks an object as published by the write with this token. */
export function tokenMetadata(token: string): Record<string, string> {
  return { [TOKEN_METADATA_KEY]: token };
}

/** Whether an object's metadata (undefined: no object) marks it as published by the write with this token. */
export function carriesToken(metadata: Readonly<Record<string, unknown>> | undefined, token: string): boolean {
  return metadata?.[TOKEN_METADATA_KEY] === token;
}

interface RefField {
  /** The field's key in the ref's JSON. */
  key: string;
  /** A stricter check than "a non-empty string" (e.g. the shape of an id). */
  valid?: (value: string) => boolean;
}

/** How each field of an identity `T` is stored: optional fields of T, and only those, may be absent. */
export type RefLayout<T> = { [K in keyof T]-?: RefField & (undefined extends T[K] ? { optional: true } : { optional?: false }) };

export interface RefCodec<T> {
  encode(identity: T): string;
  /** The identity in a ref, or undefined for a ref of another version or a damaged one. */
  decode(ref: string): T | undefined;
}

/** The ref codec of one gateway version; `layout` also fixes the order of the keys in the JSON. */
export function refCodec<T extends { [K in keyof T]: string | undefined }>(version: string, layout: RefLayout<T>): RefCodec<T> {
  const fields = Object.entries(layout) as [keyof T & string, RefField & { optional?: boolean }][];
  return {
    encode(identity: T): string {
      const compact: Record<string, string> = {};
      for (const [name, field] of fields) {
        const value = identity[name];
        if (value !== undefined) compact[field.key] = value;
      }
      return version + JSON.stringify(compact);
    },
    decode(ref: string): T | undefined {
      if (!ref.startsWith(version)) return undefined;
      let parsed: unknown;
      try {
        parsed = JSON.parse(ref.slice(version.length));
      } catch {
        return undefined;
      }
      if (typeof parsed !== 'object' || parsed === null) return undefined;
      const stored = parsed as Record<string, unknown>;
      const identity: Record<string, string> = {};
      for (const [name, field] of fields) {
        const value = stored[field.key];
        if (value === undefined && field.optional === true) continue;
        if (typeof value !== 'string' || value === '' || (field.valid !== undefined && !field.valid(value))) return undefined;
        identity[name] = value;
      }
      return identity as T;
    },
  };
}
