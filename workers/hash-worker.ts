// piscina worker: hashes a whole file (read back by path, usually from page cache) or one
// chunk, with any of md5/sha1/sha256 in a single pass. Tasks are stateless: an incremental
// digest cannot live here between tasks because piscina has no worker affinity.
import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import type { HashTask, HashTaskResult } from '../src/workers/hash-task.js';

const READ_SIZE = 1024 * 1024;
// One read buffer per worker thread; tasks run one at a time per worker.
let readBuffer: Buffer | undefined;

function finish(hashes: Map<string, Hash>, size: number): HashTaskResult {
  const digests: HashTaskResult['digests'] = {};
  for (const [alg, h] of hashes) digests[alg as keyof HashTaskResult['digests']] = h.digest('hex');
  return { size, digests };
}

function hashFile(path: string, hashes: Map<string, Hash>): number {
  readBuffer ??= Buffer.allocUnsafe(READ_SIZE);
  const fd = openSync(path, 'r');
  let size = 0;
  try {
    // Synchronous reads are the cheapest way to stream a file inside a dedicated thread.
    for (;;) {
      const n = readSync(fd, readBuffer, 0, READ_SIZE, null);
      if (n === 0) break;
      const view = readBuffer.subarray(0, n);
      for (const h of hashes.values()) h.update(view);
      size += n;
    }
  } finally {
    closeSync(fd);
  }
  return size;
}

export default function hashTask(task: HashTask): HashTaskResult {
  const hashes = new Map<string, Hash>(task.algorithms.map((alg) => [alg, createHash(alg)]));
  if (task.kind === 'file') return finish(hashes, hashFile(task.path, hashes));
  for (const h of hashes.values()) h.update(task.data);
  return finish(hashes, task.data.byteLength);
}
