// Whole-object checksums of multipart uploads, derived from the part checksums without reading
// the data again: COMPOSITE (checksum of the concatenated part digests, suffixed "-N") and
// FULL_OBJECT (the part CRCs combined into the CRC of the whole object).
import { createChecksum, checksumDigestLength, type ChecksumAlgorithm } from './index.js';

export type MultipartChecksumType = 'COMPOSITE' | 'FULL_OBJECT';

/** Which types S3 allows per algorithm (CRC64NVME only FULL_OBJECT, SHA only COMPOSITE). */
export function checksumTypeAllowed(alg: ChecksumAlgorithm, type: MultipartChecksumType): boolean {
  if (alg === 'crc64nvme') return type === 'FULL_OBJECT';
  if (alg === 'sha1' || alg === 'sha256') return type === 'COMPOSITE';
  return true;
}

/** The type S3 picks when CreateMultipartUpload names only the algorithm. */
export function defaultChecksumType(alg: ChecksumAlgorithm): MultipartChecksumType {
  return alg === 'crc64nvme' ? 'FULL_OBJECT' : 'COMPOSITE';
}

/** A stored value with the "-N" suffix is composite; anything else covers the whole object. */
export function checksumTypeOfValue(value: string): MultipartChecksumType {
  return /-\d+$/.test(value) ? 'COMPOSITE' : 'FULL_OBJECT';
}

/** base64(HASH(raw part digest 1 ++ ... ++ raw part digest N)) + "-N". */
export function compositeChecksum(alg: ChecksumAlgorithm, partValues: readonly string[]): string {
  const hasher = createChecksum(alg);
  for (const v of partValues) hasher.update(Buffer.from(v, 'base64'));
  return `${hasher.digestBase64()}-${partValues.length}`;
}

// ---- CRC combination (GF(2) operator method, as zlib's crc32_combine, for any width) ----

/** Reflected polynomials; all three CRCs use init = xorout = all ones, which cancels in combine. */
const REFLECTED_POLY: Record<'crc32' | 'crc32c' | 'crc64nvme', bigint> = {
  crc32: 0xedb88320n,
  crc32c: 0x82f63b78n,
  crc64nvme: 0x9a6c9329ac4bc9b5n,
};

export function isCrcAlgorithm(alg: ChecksumAlgorithm): alg is 'crc32' | 'crc32c' | 'crc64nvme' {
  return alg in REFLECTED_POLY;
}

/** Matrix (one column per bit, as a bigint) times vector over GF(2). */
function gf2Times(matrix: bigint[], vec: bigint): bigint {
  let sum = 0n;
  for (let i = 0; vec !== 0n; i++, vec >>= 1n) if (vec & 1n) sum ^= matrix[i] as bigint;
  return sum;
}

function gf2Square(matrix: bigint[]): bigint[] {
  return matrix.map((col) => gf2Times(matrix, col));
}

/** The GF(2) operator that advances a CRC register over `length` zero bytes (matrix columns = images of each bit). */
export function zeroBytesOperator(alg: 'crc32' | 'crc32c' | 'crc64nvme', length: number): bigint[] {
  const width = checksumDigestLength(alg) * 8;
  // One zero bit: shift right, folding the polynomial back in on carry.
  let power: bigint[] = [REFLECTED_POLY[alg]];
  for (let n = 1; n < width; n++) power.push(1n << BigInt(n - 1));
  for (let i = 0; i < 3; i++) power = gf2Square(power); // 8 zero bits = one zero byte
  let result: bigint[] = Array.from({ length: width }, (_, n) => 1n << BigInt(n)); // identity
  for (let len = BigInt(length); len > 0n; len >>= 1n) {
    if (len & 1n) result = result.map((col) => gf2Times(power, col));
    if (len > 1n) power = gf2Square(power);
  }
  return result;
}

/**
 * CRC of A ++ B from crc(A), crc(B) and the byte length of B (finalised values, as the one-shot
 * functions return them): the init/xorout terms cancel, leaving shift(crcA, |B|) xor crcB.
 */
export function crcCombine(alg: 'crc32' | 'crc32c' | 'crc64nvme', crcA: bigint, crcB: bigint, lengthB: number): bigint {
  return gf2Times(zeroBytesOperator(alg, lengthB), crcA) ^ crcB;
}

function digestToBigint(value: string): bigint {
  return BigInt(`0x${Buffer.from(value, 'base64').toString('hex') || '0'}`);
}

function bigintToBase64(value: bigint, bytes: number): string {
  return Buffer.from(value.toString(16).padStart(bytes * 2, '0'), 'hex').toString('base64');
}

/** The FULL_OBJECT CRC of the parts in order, from their base64 CRCs and byte sizes. */
export function fullObjectCrc(alg: 'crc32' | 'crc32c' | 'crc64nvme', parts: readonly { value: string; size: number }[]): string {
  // Parts mostly share one size, so each distinct size builds its operator once.
  const operators = new Map<number, bigint[]>();
  let crc = 0n; // the CRC of no bytes is 0 for all three
  for (const p of parts) {
    let op = operators.get(p.size);
    if (op === undefined) {
      op = zeroBytesOperator(alg, p.size);
      operators.set(p.size, op);
    }
    crc = gf2Times(op, crc) ^ digestToBigint(p.value);
  }
  return bigintToBase64(crc, checksumDigestLength(alg));
}
