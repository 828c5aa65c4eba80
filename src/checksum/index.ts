// The five S3 "flexible checksum" algorithms behind one incremental interface
// (spec/auth.md §7.4). Digests are base64 of the big-endian digest bytes, as S3 sends them.
import { createHash, type Hash } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { crc32c } from './crc32c.js';
import { Crc64Nvme } from './crc64nvme.js';

export type ChecksumAlgorithm = 'crc32' | 'crc32c' | 'crc64nvme' | 'sha1' | 'sha256';

export const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'];

export interface ChecksumHasher {
  update(chunk: Buffer): void;
  /** Call once, after the last update (the SHA variants cannot be digested twice). */
  digestBase64(): string;
}

const DIGEST_LENGTH: Record<ChecksumAlgorithm, number> = { crc32: 4, crc32c: 4, crc64nvme: 8, sha1: 20, sha256: 32 };

/** Number of digest bytes, used to validate a base64 checksum header before hashing. */
export function checksumDigestLength(alg: ChecksumAlgorithm): number {
  return DIGEST_LENGTH[alg];
}

/** 'x-amz-checksum-crc32' etc. */
export function checksumHeaderName(alg: ChecksumAlgorithm): string {
  return `x-amz-checksum-${alg}`;
}

/** Upper-case name as S3 writes it in messages and XML ('CRC32', 'CRC64NVME', 'SHA256'). */
export function checksumDisplayName(alg: ChecksumAlgorithm): string {
  return alg.toUpperCase();
}

/**
 * Accepts an algorithm name in any case ('CRC32', 'crc64nvme') or a checksum header name
 * ('x-amz-checksum-crc32c'); anything else gives null.
 */
export function parseChecksumAlgorithm(value: string): ChecksumAlgorithm | null {
  let name = value.trim().toLowerCase();
  if (name.startsWith('x-amz-checksum-')) name = name.slice('x-amz-checksum-'.length);
  switch (name) {
    case 'crc32':
    case 'crc32c':
    case 'crc64nvme':
    case 'sha1':
    case 'sha256':
      return name;
    default:
      return null;
  }
}

function uint32Base64(value: number): string {
  const out = Buffer.allocUnsafe(4);
  out.writeUInt32BE(value >>> 0, 0);
  return out.toString('base64');
}

class Crc32Hasher implements ChecksumHasher {
  private crc = 0;
  update(chunk: Buffer): void {
    this.crc = zlibCrc32(chunk, this.crc);
  }
  digestBase64(): string {
    return uint32Base64(this.crc);
  }
}

class Crc32cHasher implements ChecksumHasher {
  private crc = 0;
  update(chunk: Buffer): void {
    this.crc = crc32c(chunk, this.crc);
  }
  digestBase64(): string {
    return uint32Base64(this.crc);
  }
}

class Crc64NvmeHasher implements ChecksumHasher {
  private readonly crc = new Crc64Nvme();
  update(chunk: Buffer): void {
    this.crc.update(chunk);
  }
  digestBase64(): string {
    return this.crc.digest().toString('base64');
  }
}

class CryptoHasher implements ChecksumHasher {
  private readonly hash: Hash;
  constructor(alg: 'sha1' | 'sha256') {
    this.hash = createHash(alg);
  }
  update(chunk: Buffer): void {
    this.hash.update(chunk);
  }
  digestBase64(): string {
    return this.hash.digest('base64');
  }
}

export function createChecksum(alg: ChecksumAlgorithm): ChecksumHasher {
  switch (alg) {
    case 'crc32':
      return new Crc32Hasher();
    case 'crc32c':
      return new Crc32cHasher();
    case 'crc64nvme':
      return new Crc64NvmeHasher();
    case 'sha1':
    case 'sha256':
      return new CryptoHasher(alg);
  }
}
