// Worker for the "one dedicated thread per upload" strategy in bench/hash-strategy.ts: keeps
// the running digests of one upload, fed chunk by chunk (transferred) over parentPort.
// Messages in:  { chunk: Uint8Array } ... then { end: true }
// Messages out: { ack: true } per chunk (flow control), then { digests: { md5: hex, ... } }
import { createHash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';

type In = { chunk: Uint8Array } | { end: true };

const algorithms = (workerData as { algorithms: string[] }).algorithms;
const hashes = algorithms.map((alg) => [alg, createHash(alg)] as const);
const port = parentPort;
if (!port) throw new Error('upload-hash-thread must run as a worker thread');

port.on('message', (msg: In) => {
  if ('chunk' in msg) {
    for (const [, h] of hashes) h.update(msg.chunk);
    port.postMessage({ ack: true });
    return;
  }
  port.postMessage({ digests: Object.fromEntries(hashes.map(([alg, h]) => [alg, h.digest('hex')])) });
  port.close();
});
