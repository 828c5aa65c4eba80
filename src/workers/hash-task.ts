// The message shapes shared by the hash pool (src/workers/pool.ts) and its worker
// (workers/hash-worker.ts). Type-only: nothing here runs, so the worker pulls in no server code.

export type DigestAlgorithm = 'md5' | 'sha1' | 'sha256';

/** `{ md5Hex: '…', sha256Hex: '…' }` for the algorithms asked for, lowercase hex. */
export type HexDigests<A extends DigestAlgorithm> = { [K in A as `${K}Hex`]: string };

export type HashTask =
  | { kind: 'file'; path: string; algorithms: readonly DigestAlgorithm[] }
  | { kind: 'chunk'; data: Uint8Array; algorithms: readonly DigestAlgorithm[] };

export interface HashTaskResult {
  /** Bytes hashed (the file's length for 'file' tasks). */
  size: number;
  /** Lowercase hex digest per requested algorithm. */
  digests: Partial<Record<DigestAlgorithm, string>>;
}
