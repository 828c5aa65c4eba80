// Test data on disk and its fingerprints: random files written in chunks, streaming digests,
// and a sampler of a process's resident memory. Nothing here holds a large object in memory.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';

export const KiB = 1024;
export const MiB = 1024 * 1024;

export interface Fingerprint {
  size: number;
  sha256: string;
  md5: string;
  /** base64 of the big-endian CRC32, the form of x-amz-checksum-crc32 */
  crc32: string;
}

export interface RandomFile extends Fingerprint {
  path: string;
}

/** A private temp dir for client-side files; remove it with cleanup(). */
export function makeWorkDir(label: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `bleepstore-e2e-${label}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

class Digests {
  private readonly sha = createHash('sha256');
  private readonly md5 = createHash('md5');
  private crc = 0;
  private size = 0;
  update(chunk: Buffer): void {
    this.sha.update(chunk);
    this.md5.update(chunk);
    this.crc = crc32(chunk, this.crc);
    this.size += chunk.length;
  }
  result(): Fingerprint {
    const crcBytes = Buffer.alloc(4);
    crcBytes.writeUInt32BE(this.crc >>> 0);
    return { size: this.size, sha256: this.sha.digest('hex'), md5: this.md5.digest('hex'), crc32: crcBytes.toString('base64') };
  }
}

export function fingerprint(data: Buffer): Fingerprint {
  const d = new Digests();
  d.update(data);
  return d.result();
}

/** Writes `size` random bytes to dir/name in 1 MiB chunks and returns the file's fingerprint. */
export async function writeRandomFile(dir: string, name: string, size: number): Promise<RandomFile> {
  const path = join(dir, name);
  const out = createWriteStream(path);
  const digests = new Digests();
  let left = size;
  while (left > 0) {
    const chunk = randomBytes(Math.min(left, MiB));
    digests.update(chunk);
    left -= chunk.length;
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolveEnd, reject) => {
    out.once('error', reject);
    out.end(() => resolveEnd());
  });
  return { path, ...digests.result() };
}

/** Consumes a stream and fingerprints it without keeping it. */
export async function fingerprintStream(stream: Readable | AsyncIterable<Uint8Array>): Promise<Fingerprint> {
  const digests = new Digests();
  for await (const chunk of stream as AsyncIterable<Uint8Array | string>) {
    digests.update(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }
  return digests.result();
}

export function fingerprintFile(path: string): Promise<Fingerprint> {
  return fingerprintStream(createReadStream(path));
}

/** Resident set size of a process in bytes, from /proc/PID/status (VmRSS). */
export function readRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** Samples a process's RSS every `intervalMs` until stop(); reports the peak. */
export class RssSampler {
  private peakBytes = 0;
  private samples = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number, intervalMs = 100) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    try {
      this.peakBytes = Math.max(this.peakBytes, readRss(this.pid));
      this.samples++;
    } catch {
      // the process may have exited; the test notices that by other means
    }
  }

  stop(): { peakBytes: number; samples: number } {
    clearInterval(this.timer);
    this.sample();
    return { peakBytes: this.peakBytes, samples: this.samples };
  }
}

export function formatMiB(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}

/** Every file under `dir` (recursively), as paths relative to it; [] when dir is missing. */
export function listFilesRecursive(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...listFilesRecursive(full).map((p) => join(name, p)));
    else out.push(name);
  }
  return out;
}

/** Total size in bytes of the files directly in `dir`. */
export function directorySize(dir: string): number {
  if (!existsSync(dir)) return 0;
  let total = 0;
  for (const name of readdirSync(dir)) {
    try {
      total += statSync(join(dir, name)).size;
    } catch {
      // removed meanwhile
    }
  }
  return total;
}
