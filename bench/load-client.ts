// The load generator's phases: timed small-object PUT/GET loops at a fixed concurrency, and
// count-bounded large-object transfers streamed from a file slice / into a CRC32 sink. Every
// phase also samples the server process (CPU time, peak RSS) when its PID is known.
import { createReadStream } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { crc32 } from 'node:zlib';
import { HttpConnection, type HttpRequestSpec, type HttpResponse } from './http-client.js';
import { processCpuSeconds, processPeakRss, resetPeakRss } from './server-process.js';
import type { BenchSigner } from './sigv4-signer.js';

export interface Target {
  host: string;
  port: number;
  bucket: string;
  signer: BenchSigner;
  /** Check GET bodies (length and CRC32). Off for the ceiling, which serves zeros. */
  verify: boolean;
  /** Server PID for CPU and RSS figures (undefined for a remote endpoint). */
  serverPid: number | undefined;
}

export interface PhaseResult {
  name: string;
  op: 'PUT' | 'GET';
  objectSize: number;
  concurrency: number;
  ops: number;
  errors: number;
  firstError: string | undefined;
  seconds: number;
  opsPerSec: number;
  mibPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Server CPU seconds (user+system, all threads) per operation, in µs. NaN if unknown. */
  serverCpuUsPerOp: number;
  /** Share of one core the server used during the phase, in %. */
  serverCpuPercent: number;
  serverPeakRssMiB: number;
  /** Share of one core the generator (this process) used, in %; ~100 means it may be the bottleneck. */
  clientCpuPercent: number;
}

const MiB = 1024 * 1024;

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

function objectPath(t: Target, key: string): string {
  return `/${t.bucket}/${key}`;
}

export function signedRequest(t: Target, method: string, key: string, extra: Partial<HttpRequestSpec> = {}, headers: Record<string, string> = {}): HttpRequestSpec {
  const path = key === '' ? `/${t.bucket}` : objectPath(t, key);
  return { method, target: path, headers: { ...t.signer.sign(method, path, [], `${t.host}:${t.port}`), ...headers }, ...extra };
}

function describeFailure(r: HttpResponse): string {
  const body = r.body ? r.body.toString('utf8', 0, Math.min(r.body.length, 300)).replace(/\s+/g, ' ') : '';
  return `HTTP ${r.status} ${body}`.trim();
}

/** Wraps a phase with server/client CPU and peak-RSS sampling. */
async function measured(
  t: Target,
  run: () => Promise<{ ops: number; bytes: number; latenciesMs: Float64Array; errors: number; firstError: string | undefined; seconds: number }>,
  meta: Pick<PhaseResult, 'name' | 'op' | 'objectSize' | 'concurrency'>,
): Promise<PhaseResult> {
  const pid = t.serverPid;
  if (pid !== undefined) resetPeakRss(pid);
  const cpu0 = pid !== undefined ? processCpuSeconds(pid) : NaN;
  const client0 = process.cpuUsage();
  const r = await run();
  const client = process.cpuUsage(client0);
  const cpu = pid !== undefined ? processCpuSeconds(pid) - cpu0 : NaN;
  const sorted = r.latenciesMs.slice().sort();
  return {
    ...meta,
    ops: r.ops,
    errors: r.errors,
    firstError: r.firstError,
    seconds: r.seconds,
    opsPerSec: r.ops / r.seconds,
    mibPerSec: r.bytes / MiB / r.seconds,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    serverCpuUsPerOp: r.ops > 0 ? (cpu * 1e6) / r.ops : NaN,
    serverCpuPercent: (cpu / r.seconds) * 100,
    serverPeakRssMiB: pid !== undefined ? processPeakRss(pid) / MiB : NaN,
    clientCpuPercent: ((client.user + client.system) / 1e6 / r.seconds) * 100,
  };
}

async function openConnections(t: Target, n: number): Promise<HttpConnection[]> {
  return Promise.all(Array.from({ length: n }, () => HttpConnection.connect(t.host, t.port)));
}

export interface SmallPhaseOptions {
  op: 'PUT' | 'GET';
  concurrency: number;
  durationMs: number;
  /** PUT: the body of every object. GET: the body every object is expected to have. */
  body: Buffer;
  /** PUT: keys are `${keyPrefix}-w{worker}-{n}`. */
  keyPrefix: string;
  /** GET: keys to read, round-robin. */
  keys?: readonly string[];
  /** Safety bound on operations per phase. */
  maxOps?: number;
}

/** Fixed-duration loop of small PUTs or GETs; returns the result and (for PUT) the keys written. */
export async function runSmallPhase(t: Target, o: SmallPhaseOptions): Promise<{ result: PhaseResult; written: string[] }> {
  const written: string[] = [];
  const expectedCrc = crc32(o.body);
  const maxOps = o.maxOps ?? 2_000_000;
  const keys = o.keys ?? [];
  if (o.op === 'GET' && keys.length === 0) throw new Error('GET phase needs keys to read');
  const conns = await openConnections(t, o.concurrency);

  const result = await measured(
    t,
    async () => {
      const latencies: number[] = [];
      let ops = 0;
      let errors = 0;
      let firstError: string | undefined;
      let issued = 0;
      const start = performance.now();
      const deadline = start + o.durationMs;

      const worker = async (w: number): Promise<void> => {
        let conn = conns[w] as HttpConnection;
        for (let n = 0; performance.now() < deadline && issued < maxOps; n++) {
          issued++;
          if (!conn.usable) {
            conn.close();
            conn = await HttpConnection.connect(t.host, t.port);
            conns[w] = conn;
          }
          const key = o.op === 'PUT' ? `${o.keyPrefix}-w${w}-${n}` : (keys[(w + n * o.concurrency) % keys.length] as string);
          let crc = 0;
          const spec =
            o.op === 'PUT'
              ? signedRequest(t, 'PUT', key, { body: o.body }, { 'content-length': String(o.body.length) })
              : signedRequest(t, 'GET', key, t.verify ? { onBody: (c) => (crc = crc32(c, crc)) } : {});
          const t0 = performance.now();
          let failure: string | undefined;
          try {
            const r = await conn.request(spec);
            if (r.status !== 200) failure = describeFailure(r);
            else if (o.op === 'GET' && r.bodyBytes !== o.body.length) failure = `GET ${key}: ${r.bodyBytes} bytes, expected ${o.body.length}`;
            else if (o.op === 'GET' && t.verify && crc !== expectedCrc) failure = `GET ${key}: body differs from what was PUT`;
          } catch (e) {
            failure = (e as Error).message;
          }
          latencies.push(performance.now() - t0);
          if (failure === undefined) {
            ops++;
            if (o.op === 'PUT') written.push(key);
          } else {
            errors++;
            firstError ??= failure;
          }
        }
      };
      await Promise.all(conns.map((_, w) => worker(w)));
      return { ops, bytes: ops * o.body.length, latenciesMs: Float64Array.from(latencies), errors, firstError, seconds: (performance.now() - start) / 1000 };
    },
    { name: `${o.op} ${o.body.length >= 1024 ? o.body.length / 1024 + ' KiB' : o.body.length + ' B'}`, op: o.op, objectSize: o.body.length, concurrency: o.concurrency },
  );
  for (const c of conns) c.close();
  return { result, written };
}

export interface LargeObject {
  key: string;
  /** Byte range of the source file holding the object's content. */
  start: number;
  size: number;
  crc32: number;
}

/** All objects transferred at once, one connection each; the phase ends when all are done. */
export async function runLargePhase(t: Target, op: 'PUT' | 'GET', sourceFile: string, objects: readonly LargeObject[]): Promise<PhaseResult> {
  const conns = await openConnections(t, objects.length);
  const size = objects[0]?.size ?? 0;
  const name = objects.length === 1 ? `${op} ${size / MiB} MiB` : `${op} ${objects.length}×${size / MiB} MiB`;
  const result = await measured(
    t,
    async () => {
      const latencies: number[] = [];
      let errors = 0;
      let ops = 0;
      let bytes = 0;
      let firstError: string | undefined;
      const start = performance.now();
      await Promise.all(
        objects.map(async (obj, i) => {
          const conn = conns[i] as HttpConnection;
          let crc = 0;
          const spec =
            op === 'PUT'
              ? signedRequest(
                  t,
                  'PUT',
                  obj.key,
                  { body: createReadStream(sourceFile, { start: obj.start, end: obj.start + obj.size - 1, highWaterMark: MiB }) },
                  { 'content-length': String(obj.size) },
                )
              : signedRequest(t, 'GET', obj.key, { onBody: t.verify ? (c) => (crc = crc32(c, crc)) : undefined });
          const t0 = performance.now();
          let failure: string | undefined;
          try {
            const r = await conn.request(spec);
            if (r.status !== 200) failure = describeFailure(r);
            else if (op === 'GET' && r.bodyBytes !== obj.size) failure = `GET ${obj.key}: ${r.bodyBytes} bytes, expected ${obj.size}`;
            else if (op === 'GET' && t.verify && crc !== obj.crc32) failure = `GET ${obj.key}: body differs from what was PUT`;
          } catch (e) {
            failure = (e as Error).message;
          }
          latencies.push(performance.now() - t0);
          if (failure === undefined) {
            ops++;
            bytes += obj.size;
          } else {
            errors++;
            firstError ??= failure;
          }
        }),
      );
      return { ops, bytes, latenciesMs: Float64Array.from(latencies), errors, firstError, seconds: (performance.now() - start) / 1000 };
    },
    { name, op, objectSize: size, concurrency: objects.length },
  );
  for (const c of conns) c.close();
  return result;
}

/** One signed request on a fresh connection (bucket create/delete, cleanup). */
export async function oneRequest(t: Target, spec: HttpRequestSpec): Promise<HttpResponse> {
  const conn = await HttpConnection.connect(t.host, t.port);
  try {
    return await conn.request({ ...spec, collectBody: true });
  } finally {
    conn.close();
  }
}
