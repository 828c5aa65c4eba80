// Where should an upload's MD5 (ETag) and optional SHA-256 be computed? Runs N concurrent
// simulated uploads (default 8 × 64 MiB, fed in 512 KiB chunks — the uWS onData size — and
// written to temp files like the storage layer does) under each strategy, and measures total
// throughput AND how responsive the event loop stays meanwhile.
//
//   node dist/bench/hash-strategy.js [--uploads 8] [--size 64MiB] [--chunk 512KiB] [--rounds 3] [--no-disk]
import { createHash, randomFillSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { processCpuSeconds } from './server-process.js';
import { closeHashPool, hashChunk, hashFile, hashPool, type DigestAlgorithm } from '../src/workers/pool.js';
import { fmt, formatBytes, formatTable, parseSize } from './table.js';

type StrategyName = 'none' | 'inline' | 'pool-chunk' | 'pool-file' | 'thread';

const STRATEGIES: { name: StrategyName; what: string }[] = [
  { name: 'none', what: 'no hashing: copy + write only (the floor)' },
  { name: 'inline', what: 'createHash().update(chunk) on the event-loop thread, overlapping the file write' },
  { name: 'pool-chunk', what: 'each chunk hashed by a piscina task (transferred); per-chunk digests only, NOT an object MD5 — shows the dispatch cost' },
  { name: 'pool-file', what: 'write the whole upload, then one piscina task hashes the temp file (read back from page cache)' },
  { name: 'thread', what: 'one new worker_thread per upload keeps the running digest; chunks transferred, ≤ 8 in flight' },
];

interface Options {
  uploads: number;
  size: number;
  chunk: number;
  rounds: number;
  disk: boolean;
}

interface RunResult {
  strategy: StrategyName;
  algorithms: readonly DigestAlgorithm[];
  seconds: number;
  mibPerSec: number;
  /** Event-loop utilisation of the main thread, 0..1. */
  elu: number;
  /** Process CPU (all threads) / wall time: cores kept busy. */
  cores: number;
  /** CPU time of the main (event-loop) thread alone / wall time, 0..1. */
  mainCpu: number;
  eldP50Ms: number;
  eldP99Ms: number;
  eldMaxMs: number;
  pingP50Ms: number;
  pingP99Ms: number;
  pingMaxMs: number;
  digestsOk: boolean;
}

const MiB = 1024 * 1024;

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/**
 * Every ~1 ms a timer schedules a setImmediate and records how long it took to run: the time
 * the loop spent on other callbacks (I/O completions, hashing) in between — what a tiny
 * request arriving at that moment would wait.
 */
function startPinger(): () => number[] {
  const latencies: number[] = [];
  let running = true;
  const tick = (): void => {
    if (!running) return;
    const t0 = performance.now();
    setImmediate(() => {
      latencies.push(performance.now() - t0);
      setTimeout(tick, 1);
    });
  };
  tick();
  return () => {
    running = false;
    return latencies;
  };
}

/** Stand-in for one uWS onData delivery: a fresh copy that owns its memory. */
function nextChunk(source: Buffer): Buffer {
  return Buffer.from(source);
}

interface UploadSink {
  write(chunk: Buffer): Promise<void>;
  close(): Promise<void>;
  path: string;
}

async function openSink(dir: string, name: string, disk: boolean): Promise<UploadSink> {
  const path = join(dir, name);
  if (!disk) return { path, write: async () => undefined, close: async () => undefined };
  const fh = await open(path, 'w');
  return {
    path,
    write: async (chunk) => {
      await fh.write(chunk);
    },
    close: () => fh.close(),
  };
}

type Digests = Partial<Record<DigestAlgorithm, string>>;

/** One upload under one strategy; resolves with the object's digests (per-chunk for pool-chunk). */
async function upload(strategy: StrategyName, algorithms: readonly DigestAlgorithm[], o: Options, source: Buffer, dir: string, index: number): Promise<Digests[]> {
  const sink = await openSink(dir, `upload-${index}`, o.disk || strategy === 'pool-file');
  const chunks = o.size / o.chunk;
  try {
    switch (strategy) {
      case 'none': {
        for (let i = 0; i < chunks; i++) await sink.write(nextChunk(source));
        return [];
      }
      case 'inline': {
        const hashes = algorithms.map((a) => [a, createHash(a)] as const);
        for (let i = 0; i < chunks; i++) {
          const chunk = nextChunk(source);
          const written = sink.write(chunk);
          for (const [, h] of hashes) h.update(chunk);
          await written;
        }
        return [Object.fromEntries(hashes.map(([a, h]) => [a, h.digest('hex')]))];
      }
      case 'pool-chunk': {
        const inFlight: Promise<Digests>[] = [];
        const results: Digests[] = [];
        for (let i = 0; i < chunks; i++) {
          const chunk = nextChunk(source);
          await sink.write(chunk);
          inFlight.push(hashChunk(chunk, algorithms, { transfer: true }).then((r) => digestsOf(r, algorithms)));
          if (inFlight.length >= 8) results.push(await (inFlight.shift() as Promise<Digests>));
        }
        results.push(...(await Promise.all(inFlight)));
        return results;
      }
      case 'pool-file': {
        for (let i = 0; i < chunks; i++) await sink.write(nextChunk(source));
        await sink.close();
        return [digestsOf(await hashFile(sink.path, algorithms), algorithms)];
      }
      case 'thread': {
        const worker = new Worker(new URL('./upload-hash-thread.js', import.meta.url), { workerData: { algorithms } });
        let acked = 0;
        let wake: (() => void) | undefined;
        const digests = new Promise<Digests>((resolve, reject) => {
          worker.on('message', (m: { ack?: true; digests?: Digests }) => {
            if (m.ack) {
              acked++;
              wake?.();
            } else if (m.digests) resolve(m.digests);
          });
          worker.once('error', reject);
        });
        for (let sent = 0; sent < chunks; sent++) {
          const chunk = nextChunk(source);
          await sink.write(chunk);
          while (sent - acked >= 8) await new Promise<void>((r) => (wake = r));
          worker.postMessage({ chunk }, [chunk.buffer as ArrayBuffer]);
        }
        worker.postMessage({ end: true });
        return [await digests];
      }
      default:
        throw new Error(`unknown strategy ${String(strategy)}`);
    }
  } finally {
    await sink.close().catch(() => undefined);
    if (o.disk || strategy === 'pool-file') await unlink(sink.path).catch(() => undefined);
  }
}

function digestsOf(r: Record<string, string | number>, algorithms: readonly DigestAlgorithm[]): Digests {
  return Object.fromEntries(algorithms.map((a) => [a, String(r[`${a}Hex`])]));
}

async function runOnce(strategy: StrategyName, algorithms: readonly DigestAlgorithm[], o: Options, source: Buffer, expected: { object: Digests; chunk: Digests }, dir: string): Promise<RunResult> {
  const eld = monitorEventLoopDelay({ resolution: 1 });
  const stopPinger = startPinger();
  eld.enable();
  const elu0 = performance.eventLoopUtilization();
  const cpu0 = process.cpuUsage();
  const main0 = mainThreadCpuSeconds();
  const t0 = performance.now();
  const results = await Promise.all(Array.from({ length: o.uploads }, (_, i) => upload(strategy, algorithms, o, source, dir, i)));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const mainCpu = (mainThreadCpuSeconds() - main0) / seconds;
  const elu = performance.eventLoopUtilization(elu0).utilization;
  eld.disable();
  const pings = stopPinger();

  const want = strategy === 'pool-chunk' ? expected.chunk : expected.object;
  const digestsOk = strategy === 'none' || results.every((perUpload) => perUpload.length > 0 && perUpload.every((d) => algorithms.every((a) => d[a] === want[a])));
  return {
    strategy,
    algorithms,
    seconds,
    mibPerSec: (o.uploads * o.size) / MiB / seconds,
    elu,
    cores: (cpu.user + cpu.system) / 1e6 / seconds,
    mainCpu,
    eldP50Ms: eld.percentile(50) / 1e6,
    eldP99Ms: eld.percentile(99) / 1e6,
    eldMaxMs: eld.max / 1e6,
    pingP50Ms: percentile(pings, 50),
    pingP99Ms: percentile(pings, 99),
    pingMaxMs: pings.length ? Math.max(...pings) : NaN,
    digestsOk,
  };
}

/** CPU seconds of this process's main thread (its task id is the PID) from /proc. */
function mainThreadCpuSeconds(): number {
  return processCpuSeconds(process.pid, `/proc/self/task/${process.pid}/stat`);
}

function median(values: number[]): number {
  const s = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

async function idleBaseline(): Promise<RunResult> {
  const eld = monitorEventLoopDelay({ resolution: 1 });
  const stopPinger = startPinger();
  eld.enable();
  const elu0 = performance.eventLoopUtilization();
  await new Promise((r) => setTimeout(r, 1000));
  const elu = performance.eventLoopUtilization(elu0).utilization;
  eld.disable();
  const pings = stopPinger();
  return {
    strategy: 'none',
    algorithms: [],
    seconds: 1,
    mibPerSec: NaN,
    elu,
    cores: NaN,
    mainCpu: NaN,
    eldP50Ms: eld.percentile(50) / 1e6,
    eldP99Ms: eld.percentile(99) / 1e6,
    eldMaxMs: eld.max / 1e6,
    pingP50Ms: percentile(pings, 50),
    pingP99Ms: percentile(pings, 99),
    pingMaxMs: Math.max(...pings),
    digestsOk: true,
  };
}

async function threadSpawnMs(): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const w = new Worker(new URL('./upload-hash-thread.js', import.meta.url), { workerData: { algorithms: ['md5'] } });
    await new Promise<void>((resolve, reject) => {
      w.once('online', () => resolve());
      w.once('error', reject);
    });
    times.push(performance.now() - t0);
    await w.terminate();
  }
  return median(times);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      uploads: { type: 'string', default: '8' },
      size: { type: 'string', default: '64MiB' },
      chunk: { type: 'string', default: '512KiB' },
      rounds: { type: 'string', default: '3' },
      'no-disk': { type: 'boolean', default: false },
    },
  });
  const o: Options = { uploads: Number(values.uploads), size: parseSize(values.size), chunk: parseSize(values.chunk), rounds: Number(values.rounds), disk: !values['no-disk'] };
  if (o.size % o.chunk !== 0) throw new Error('--size must be a multiple of --chunk');
  const dir = mkdtempSync(join(tmpdir(), 'bleepstore-hash-strategy-'));
  const started = performance.now();
  const source = randomFillSync(Buffer.allocUnsafe(o.chunk));
  const sets: (readonly DigestAlgorithm[])[] = [['md5'], ['md5', 'sha256']];
  const expected = new Map<string, { object: Digests; chunk: Digests }>();
  for (const set of sets) {
    const object: Digests = {};
    const chunk: Digests = {};
    for (const a of set) {
      const h = createHash(a);
      for (let i = 0; i < o.size / o.chunk; i++) h.update(source);
      object[a] = h.digest('hex');
      chunk[a] = createHash(a).update(source).digest('hex');
    }
    expected.set(set.join('+'), { object, chunk });
  }

  const log = (s: string): void => {
    process.stderr.write(s + '\n');
  };
  const all: RunResult[] = [];
  let idle: RunResult;
  let spawnMs: number;
  let poolThreads = 0;
  try {
    // Warm-up: JIT, pool threads started, worker script compiled. Not reported.
    const warm: Options = { ...o, uploads: 2, size: 8 * o.chunk };
    poolThreads = hashPool().options.maxThreads;
    for (const s of STRATEGIES) await runOnce(s.name, ['md5'], warm, source, { object: {}, chunk: {} }, dir);
    idle = await idleBaseline();
    spawnMs = await threadSpawnMs();
    for (let round = 1; round <= o.rounds; round++) {
      for (const set of sets) {
        for (const s of STRATEGIES) {
          if (s.name === 'none' && set.length > 1) continue;
          const r = await runOnce(s.name, set, o, source, expected.get(set.join('+')) as { object: Digests; chunk: Digests }, dir);
          all.push(r);
          log(`round ${round} ${s.name} ${set.join('+')}: ${fmt(r.mibPerSec)} MiB/s, ping p99 ${fmt(r.pingP99Ms)} ms${r.digestsOk ? '' : ' DIGEST MISMATCH'}`);
        }
      }
    }
  } finally {
    await closeHashPool();
    rmSync(dir, { recursive: true, force: true });
  }

  const rows: string[][] = [];
  const summary: { key: string; mibPerSec: number; pingP99: number; strategy: StrategyName; set: string }[] = [];
  rows.push(['idle (no uploads)', '—', '—', fmt(idle.elu * 100, 2), '—', '—', fmt(idle.eldP50Ms), fmt(idle.eldP99Ms), fmt(idle.eldMaxMs), fmt(idle.pingP50Ms), fmt(idle.pingP99Ms), fmt(idle.pingMaxMs), '—']);
  for (const set of sets) {
    for (const s of STRATEGIES) {
      const runs = all.filter((r) => r.strategy === s.name && r.algorithms.join('+') === set.join('+'));
      if (runs.length === 0) continue;
      const m = (f: (r: RunResult) => number): number => median(runs.map(f));
      const ok = runs.every((r) => r.digestsOk);
      rows.push([
        s.name,
        s.name === 'none' ? '—' : set.join('+'),
        fmt(m((r) => r.mibPerSec)),
        fmt(m((r) => r.elu * 100), 2),
        fmt(m((r) => r.mainCpu * 100), 2),
        fmt(m((r) => r.cores), 2),
        fmt(m((r) => r.eldP50Ms)),
        fmt(m((r) => r.eldP99Ms)),
        fmt(m((r) => r.eldMaxMs)),
        fmt(m((r) => r.pingP50Ms)),
        fmt(m((r) => r.pingP99Ms)),
        fmt(m((r) => r.pingMaxMs)),
        s.name === 'none' ? '—' : ok ? 'ok' : 'MISMATCH',
      ]);
      if (s.name !== 'none') summary.push({ key: set.join('+'), strategy: s.name, set: set.join('+'), mibPerSec: m((r) => r.mibPerSec), pingP99: m((r) => r.pingP99Ms) });
    }
  }

  const load = loadavg().map((l) => l.toFixed(2)).join(' ');
  const out: string[] = [
    `Upload hashing strategies — node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load average ${load}, piscina threads ${poolThreads}, ${((performance.now() - started) / 1000).toFixed(0)} s`,
    `Load: ${o.uploads} concurrent uploads × ${formatBytes(o.size)}, fed in ${formatBytes(o.chunk)} chunks (each a fresh copy, as uWS onData must be copied)${o.disk ? ', each written to its own temp file' : ', not written anywhere (--no-disk)'}.`,
    `Figures are medians of ${o.rounds} rounds. A new worker_thread takes ${fmt(spawnMs)} ms to come online (part of 'thread').`,
    '',
    ...STRATEGIES.map((s) => `  ${s.name.padEnd(10)} ${s.what}`),
    '',
    'MiB/s        total bytes of all uploads ÷ wall time, digests included',
    'loop busy %  event-loop utilisation of the main thread (time not idle-waiting; includes time the OS ran other threads instead)',
    'main CPU %   CPU time of the main thread alone ÷ wall time (/proc/self/task/PID/stat)',
    'cores        process CPU time (all threads) ÷ wall time',
    'ELD          perf_hooks.monitorEventLoopDelay (1 ms resolution): how late timers fire',
    'ping         a setImmediate scheduled every ~1 ms from a timer: how long a tiny request would wait',
    '',
    formatTable(['strategy', 'hashes', 'MiB/s', 'loop busy %', 'main CPU %', 'cores', 'ELD p50 ms', 'ELD p99 ms', 'ELD max ms', 'ping p50 ms', 'ping p99 ms', 'ping max ms', 'digests'], rows, 2),
    '',
  ];
  for (const set of sets) {
    const candidates = summary.filter((s) => s.set === set.join('+') && s.strategy !== 'pool-chunk');
    if (candidates.length === 0) continue;
    const fastest = candidates.reduce((a, b) => (b.mibPerSec > a.mibPerSec ? b : a));
    const calmest = candidates.reduce((a, b) => (b.pingP99 < a.pingP99 ? b : a));
    out.push(`${set.join('+')}: highest throughput ${fastest.strategy} (${fmt(fastest.mibPerSec)} MiB/s); most responsive loop ${calmest.strategy} (ping p99 ${fmt(calmest.pingP99)} ms). pool-chunk excluded: it cannot produce an object MD5.`);
  }
  process.stdout.write(out.join('\n') + '\n');
  if (all.some((r) => !r.digestsOk)) process.exitCode = 1;
}

main().catch((e: Error) => {
  process.stderr.write(`hash-strategy: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
