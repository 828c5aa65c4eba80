// The bytes of the large-object workloads: one file of pseudo-random data that every large PUT and
// multipart part streams a slice of, and the CRC32 of each object's slice so GETs can be checked
// without keeping the objects in memory.
import { randomFillSync } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

export interface LargeObject {
  key: string;
  /** Byte range of the source file holding the object's content. */
  start: number;
  size: number;
  crc32: number;
}

const MiB = 1024 * 1024;

/**
 * Writes `dir`/large-source.bin big enough for every object (a random 1 MiB block, each MiB
 * stamped with its index so no two MiBs are equal), never holding more than 1 MiB in memory,
 * and fills in each object's CRC32.
 */
export function writeLargeSource(dir: string, objects: readonly Omit<LargeObject, 'crc32'>[]): { file: string; objects: LargeObject[] } {
  const file = join(dir, 'large-source.bin');
  const total = Math.max(0, ...objects.map((o) => o.start + o.size));
  const block = randomFillSync(Buffer.allocUnsafe(MiB));
  const withCrc = objects.map((o) => ({ ...o, crc32: 0 }));
  const fd = openSync(file, 'w');
  try {
    for (let offset = 0; offset < total; offset += MiB) {
      const n = Math.min(MiB, total - offset);
      block.writeUInt32BE(offset / MiB, 0);
      const piece = block.subarray(0, n);
      writeSync(fd, piece);
      for (const r of withCrc) {
        const from = Math.max(r.start, offset);
        const to = Math.min(r.start + r.size, offset + n);
        if (from < to) r.crc32 = crc32(piece.subarray(from - offset, to - offset), r.crc32);
      }
    }
  } finally {
    closeSync(fd);
  }
  return { file, objects: withCrc };
}
