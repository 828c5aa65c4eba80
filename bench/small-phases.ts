// Small-object workloads: timed, count-bounded PUT / GET / HEAD / DELETE loops at one
// concurrency, and a GET/PUT mix. GET bodies are length- and CRC32-checked against what was PUT;
// HEAD must report the object's size; DELETE must answer 204 and deletes every key at most once.
import { crc32 } from 'node:zlib';
import type { HttpRequestSpec } from './http-client.js';
import { closedLoop, describeFailure, isRealS3, measured, presignedRequest, signedRequest, type PhaseResult, type Step, type Target } from './load-client.js';
import { formatBytes } from './table.js';

export type SmallOp = 'PUT' | 'GET' | 'HEAD' | 'DELETE';

export interface SmallPhaseOptions {
  op: SmallOp;
  concurrency: number;
  durationMs: number;
  maxOps: number;
  bucket: string;
  /** PUT: the body of every object. Otherwise: the body every object is expected to have. */
  body: Buffer;
  /** PUT: keys are `${keyPrefix}-w{worker}-{n}`. */
  keyPrefix: string;
  /** GET/HEAD: keys to read, round-robin. DELETE: keys to delete, each once. */
  keys?: readonly string[];
  /** Shown instead of the operation name (e.g. "warm-up PUT"). */
  label?: string;
}

/** Per-worker CRC32 sink, so one pre-signed request object serves every worker. */
function crcSinks(n: number): { crc: number; sink: (c: Buffer) => void }[] {
  return Array.from({ length: n }, () => {
    const s = { crc: 0, sink: (c: Buffer): void => void (s.crc = crc32(c, s.crc)) };
    return s;
  });
}

export function objectPath(bucket: string, key: string): string {
  return `/${bucket}/${key}`;
}

/** Runs one small-object phase; for PUT also returns the keys written. */
export async function runSmallPhase(t: Target, o: SmallPhaseOptions): Promise<{ result: PhaseResult; written: string[] }> {
  const written: string[] = [];
  const size = o.body.length;
  const expectedCrc = crc32(o.body);
  const keys = o.keys ?? [];
  if (o.op !== 'PUT' && keys.length === 0) throw new Error(`${o.op} phase needs keys`);
  const verify = isRealS3(t);
  const sinks = crcSinks(o.concurrency);
  // Everything whose key is known is signed before the clock starts.
  const presigned: HttpRequestSpec[] = o.op === 'PUT' ? [] : keys.map((k) => presignedRequest(t, o.op, objectPath(o.bucket, k)));
  const perWorker = new Array<number>(o.concurrency).fill(0);
  let nextKey = 0;

  const next = (w: number): Step | undefined => {
    const n = perWorker[w]++ as number;
    switch (o.op) {
      case 'PUT': {
        const key = `${o.keyPrefix}-w${w}-${n}`;
        return {
          spec: signedRequest(t, 'PUT', objectPath(o.bucket, key), [], { 'content-length': String(size) }, { body: o.body }),
          bytes: size,
          check: (r) => {
            if (r.status !== 200) return describeFailure(r);
            written.push(key);
            return undefined;
          },
        };
      }
      case 'GET': {
        const i = (w + n * o.concurrency) % keys.length;
        const sink = sinks[w] as (typeof sinks)[number];
        sink.crc = 0;
        return {
          spec: verify ? { ...(presigned[i] as HttpRequestSpec), onBody: sink.sink } : (presigned[i] as HttpRequestSpec),
          bytes: size,
          check: (r) => {
            if (r.status !== 200) return describeFailure(r);
            if (r.bodyBytes !== size) return `GET ${keys[i]}: ${r.bodyBytes} bytes, expected ${size}`;
            if (verify && sink.crc !== expectedCrc) return `GET ${keys[i]}: body differs from what was PUT`;
            return undefined;
          },
        };
      }
      case 'HEAD': {
        const i = (w + n * o.concurrency) % keys.length;
        return {
          spec: presigned[i] as HttpRequestSpec,
          bytes: 0,
          check: (r) => (r.status !== 200 ? `HEAD ${keys[i]}: HTTP ${r.status}` : r.contentLength !== size ? `HEAD ${keys[i]}: Content-Length ${r.contentLength}, expected ${size}` : undefined),
        };
      }
      case 'DELETE': {
        if (nextKey >= presigned.length) return undefined; // every key deleted: the count bound
        const i = nextKey++;
        return { spec: presigned[i] as HttpRequestSpec, bytes: 0, check: (r) => (r.status === 204 ? undefined : describeFailure(r)) };
      }
    }
  };

  const result = await measured(t, { workload: 'small', name: o.label ?? `${o.op} ${formatBytes(size)}`, objectSize: size, concurrency: o.concurrency }, (live) =>
    closedLoop(t, { concurrency: o.concurrency, durationMs: o.durationMs, maxOps: o.maxOps }, live, next),
  );
  return { result, written };
}

export interface MixedPhaseOptions {
  concurrency: number;
  durationMs: number;
  maxOps: number;
  bucket: string;
  body: Buffer;
  /** Existing keys, all holding `body`: GETs read them and PUTs overwrite them with the same bytes. */
  keys: readonly string[];
  readPercent: number;
}

/** A GET/PUT mix over one key set, chosen at random per request (seeded, so runs repeat). */
export async function runMixedPhase(t: Target, o: MixedPhaseOptions): Promise<PhaseResult> {
  const size = o.body.length;
  const expectedCrc = crc32(o.body);
  const verify = isRealS3(t);
  const sinks = crcSinks(o.concurrency);
  const gets = o.keys.map((k) => presignedRequest(t, 'GET', objectPath(o.bucket, k)));
  const puts = o.keys.map((k) => presignedRequest(t, 'PUT', objectPath(o.bucket, k), [], { 'content-length': String(size) }, { body: o.body }));
  let seed = 0x2545f491;
  const random = (): number => {
    // xorshift32: cheap, and the same sequence every run
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 0x100000000;
  };

  const next = (w: number): Step => {
    const i = Math.floor(random() * o.keys.length);
    if (random() * 100 >= o.readPercent) {
      return { spec: puts[i] as HttpRequestSpec, bytes: size, kind: 1, check: (r) => (r.status === 200 ? undefined : describeFailure(r)) };
    }
    const sink = sinks[w] as (typeof sinks)[number];
    sink.crc = 0;
    return {
      spec: verify ? { ...(gets[i] as HttpRequestSpec), onBody: sink.sink } : (gets[i] as HttpRequestSpec),
      bytes: size,
      kind: 0,
      check: (r) => {
        if (r.status !== 200) return describeFailure(r);
        if (r.bodyBytes !== size) return `GET ${o.keys[i]}: ${r.bodyBytes} bytes, expected ${size}`;
        if (verify && sink.crc !== expectedCrc) return `GET ${o.keys[i]}: body differs from what was PUT`;
        return undefined;
      },
    };
  };

  const name = `${o.readPercent}/${100 - o.readPercent} GET/PUT ${formatBytes(size)}`;
  return measured(t, { workload: 'mixed', name, objectSize: size, concurrency: o.concurrency }, (live) =>
    closedLoop(t, { concurrency: o.concurrency, durationMs: o.durationMs, maxOps: o.maxOps, kinds: ['GET', 'PUT'] }, live, next),
  );
}
