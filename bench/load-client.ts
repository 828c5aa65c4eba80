// The load generator's core: the target description, signed request building (up front where
// the request is known before the clock starts, just in time otherwise), the closed-loop driver
// every timed workload uses, and the per-phase measurement of server CPU and RSS.
import { performance } from 'node:perf_hooks';
import { HttpConnection, renderHead, type HttpRequestSpec, type HttpResponse } from './http-client.js';
import { LiveCounter, type Progress } from './progress.js';
import { processCpuSeconds, processPeakRss, processRss, resetPeakRss } from './server-process.js';
import { queryString, type BenchSigner } from './sigv4-signer.js';

export type TargetKind = 'bleepstore' | 'ceiling' | 'endpoint';

export interface Target {
  kind: TargetKind;
  host: string;
  port: number;
  signer: BenchSigner;
  /** Server PID for CPU and RSS figures (undefined for a remote endpoint without --server-pid). */
  serverPid: number | undefined;
  progress: Progress;
}

/** Real S3 answers are checked (bodies, counts); the ceiling serves canned answers. */
export function isRealS3(t: Target): boolean {
  return t.kind !== 'ceiling';
}

export type Query = ReadonlyArray<readonly [string, string]>;

export function hostHeader(t: Target): string {
  return `${t.host}:${t.port}`;
}

/** A signed request, signed now (cached signing key and date: a few µs). */
export function signedRequest(t: Target, method: string, path: string, query: Query = [], headers: Record<string, string> = {}, extra: Partial<HttpRequestSpec> = {}): HttpRequestSpec {
  const target = query.length ? `${path}?${queryString(query)}` : path;
  return { method, target, headers: { ...t.signer.sign(method, path, query, hostHeader(t)), ...headers }, ...extra };
}

/**
 * The same, with the request head rendered too, for requests built before a phase starts: a
 * SigV4 signature stays valid for 15 minutes, so re-sending it costs the generator nothing.
 */
export function presignedRequest(t: Target, method: string, path: string, query: Query = [], headers: Record<string, string> = {}, extra: Partial<HttpRequestSpec> = {}): HttpRequestSpec {
  const spec = signedRequest(t, method, path, query, headers, extra);
  return { ...spec, head: renderHead(spec, hostHeader(t)) };
}

export function describeFailure(r: HttpResponse): string {
  const body = r.body ? r.body.toString('utf8', 0, Math.min(r.body.length, 300)).replace(/\s+/g, ' ') : '';
  return `HTTP ${r.status} ${body}`.trim();
}

export function openConnections(t: Target, n: number): Promise<HttpConnection[]> {
  return Promise.all(Array.from({ length: n }, () => HttpConnection.connect(t.host, t.port)));
}

/** One request on a fresh connection, body collected (bucket create/delete, cleanup). */
export async function oneRequest(t: Target, spec: HttpRequestSpec): Promise<HttpResponse> {
  const conn = await HttpConnection.connect(t.host, t.port);
  try {
    return await conn.request({ ...spec, collectBody: true });
  } finally {
    conn.close();
  }
}

// ---- measurement ---------------------------------------------------------------------------

export interface PhaseResult {
  /** small | mixed | large | multipart | list */
  workload: string;
  name: string;
  objectSize: number;
  concurrency: number;
  /** Operations that succeeded (requests, or objects for transfers, or pages for listings). */
  ops: number;
  errors: number;
  firstError: string | undefined;
  seconds: number;
  opsPerSec: number;
  mibPerSec: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  /** Latency samples behind the percentiles (requests issued, successful or not). */
  samples: number;
  /** Server CPU seconds (user+system, all threads) per operation, in µs. NaN if unknown. */
  serverCpuUsPerOp: number;
  /** Share of one core the server used during the phase, in %. */
  serverCpuPercent: number;
  /** Peak resident set of the server during the phase (VmHWM after a reset), MiB. */
  serverPeakRssMiB: number;
  /** Resident set of the server when the phase ended, MiB. */
  serverRssMiB: number;
  /** Share of one core the generator (this process) used, in %; ~100 means it may be the bottleneck. */
  clientCpuPercent: number;
  /** Workload-specific figures (per-operation latencies of a mix, listing entries, …). */
  extra: Record<string, number>;
}

export interface RawPhase {
  ops: number;
  bytes: number;
  latenciesMs: ArrayLike<number>;
  errors: number;
  firstError: string | undefined;
  seconds: number;
  extra?: Record<string, number>;
}

export type PhaseMeta = Pick<PhaseResult, 'workload' | 'name' | 'objectSize' | 'concurrency'>;

const MiB = 1024 * 1024;

/** Sorted copy; percentiles by nearest rank. */
export function sortedLatencies(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values).sort();
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/** Runs one phase with the live progress line, and samples server/generator CPU and server RSS around it. */
export async function measured(t: Target, meta: PhaseMeta, run: (live: LiveCounter) => Promise<RawPhase>): Promise<PhaseResult> {
  const pid = t.serverPid;
  if (pid !== undefined) resetPeakRss(pid);
  const live = new LiveCounter();
  t.progress.begin(`${t.kind} ${meta.name} c=${meta.concurrency}`, live);
  const cpu0 = pid !== undefined ? processCpuSeconds(pid) : NaN;
  const client0 = process.cpuUsage();
  let r: RawPhase;
  try {
    r = await run(live);
  } finally {
    t.progress.end();
  }
  const client = process.cpuUsage(client0);
  const cpu = pid !== undefined ? processCpuSeconds(pid) - cpu0 : NaN;
  const sorted = sortedLatencies(r.latenciesMs);
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
    p999Ms: percentile(sorted, 99.9),
    samples: sorted.length,
    serverCpuUsPerOp: r.ops > 0 ? (cpu * 1e6) / r.ops : NaN,
    serverCpuPercent: (cpu / r.seconds) * 100,
    serverPeakRssMiB: pid !== undefined ? processPeakRss(pid) / MiB : NaN,
    serverRssMiB: pid !== undefined ? processRss(pid) / MiB : NaN,
    clientCpuPercent: ((client.user + client.system) / 1e6 / r.seconds) * 100,
    extra: r.extra ?? {},
  };
}

// ---- the closed loop ---------------------------------------------------------------------

/** One request of a closed loop and how to judge its answer. */
export interface Step {
  spec: HttpRequestSpec;
  /** undefined = success; otherwise what went wrong. Runs before the next step is asked for. */
  check: (r: HttpResponse) => string | undefined;
  /** Payload bytes moved by a successful step (for MiB/s). */
  bytes: number;
  /** Index into ClosedLoopOptions.kinds, for per-kind latencies in a mix. */
  kind?: number;
}

export interface ClosedLoopOptions {
  concurrency: number;
  durationMs: number;
  /** Count bound: at most this many requests are issued in the phase. */
  maxOps: number;
  /** Names of the step kinds of a mix; each gets its own latency percentiles in `extra`. */
  kinds?: readonly string[];
}

/**
 * `concurrency` workers, each on its own keep-alive connection, send one request at a time until
 * the duration or the count bound is reached, or `next` has no more work for them (undefined).
 */
export async function closedLoop(t: Target, o: ClosedLoopOptions, live: LiveCounter, next: (worker: number) => Step | undefined): Promise<RawPhase> {
  const conns = await openConnections(t, o.concurrency);
  const latencies: number[] = [];
  const kindLatencies: number[][] = (o.kinds ?? []).map(() => []);
  let bytes = 0;
  let firstError: string | undefined;
  let issued = 0;
  const start = performance.now();
  const deadline = start + o.durationMs;

  const worker = async (w: number): Promise<void> => {
    let conn = conns[w] as HttpConnection;
    while (performance.now() < deadline && issued < o.maxOps) {
      const step = next(w);
      if (step === undefined) return;
      issued++;
      if (!conn.usable) {
        conn.close();
        conn = await HttpConnection.connect(t.host, t.port);
        conns[w] = conn;
      }
      const t0 = performance.now();
      let failure: string | undefined;
      try {
        failure = step.check(await conn.request(step.spec));
      } catch (e) {
        failure = (e as Error).message;
      }
      const ms = performance.now() - t0;
      latencies.push(ms);
      if (step.kind !== undefined) kindLatencies[step.kind]?.push(ms);
      if (failure === undefined) {
        live.ops++;
        live.bytes += step.bytes;
        bytes += step.bytes;
      } else {
        live.errors++;
        firstError ??= failure;
      }
    }
  };
  try {
    await Promise.all(conns.map((_, w) => worker(w)));
  } finally {
    for (const c of conns) c.close();
  }
  const extra: Record<string, number> = {};
  (o.kinds ?? []).forEach((name, i) => {
    const sorted = sortedLatencies(kindLatencies[i] as number[]);
    extra[`${name} ops`] = sorted.length;
    extra[`${name} p50 ms`] = percentile(sorted, 50);
    extra[`${name} p99 ms`] = percentile(sorted, 99);
  });
  return { ops: live.ops, bytes, latenciesMs: latencies, errors: live.errors, firstError, seconds: (performance.now() - start) / 1000, extra };
}
