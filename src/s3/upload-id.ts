// Upload ids: UUIDv7 (time-ordered, UUID-shaped like Python's, constant length and URL-safe),
// so ordering by id agrees with initiation order (s3-api.md §6.1, §6.6).
import { randomBytes } from 'node:crypto';

export function newUploadId(now = Date.now()): string {
  const b = randomBytes(16);
  b.writeUIntBE(now, 0, 6);
  b[6] = 0x70 | ((b[6] ?? 0) & 0x0f);
  b[8] = 0x80 | ((b[8] ?? 0) & 0x3f);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
