// Load benchmark (`npm run bench`). With no arguments it runs, for each HTTP engine (uws, node):
//   1. the ceiling: a trivial static server on that engine (bench/ceiling.ts), then
//   2. BleepStore on that engine, on a fresh temp dir,
// both as child processes driven by the same in-process generator, and prints every
// BleepStore figure beside the ceiling's and as a ratio to it. See --help.
import { createHash, randomFillSync } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { crc32 } from 'node:zlib';
import { oneRequest, runLargePhase, runSmallPhase, signedRequest, type LargeObject, type PhaseResult, type Target } from './load-client.js';
import { spawnServer, type ServerProcess } from './server-process.js';
import { BenchSigner } from './sigv4-signer.js';
import { fmt, formatBytes, formatTable, parseSize, ratio } from './table.js';

type Engine = 'uws' | 'node';
type TargetKind = 'bleepstore' | 'ceiling' | 'endpoint';

const USAGE = `Usage: node dist/bench/load.js [options]
  --duration SECS          length of each timed small-object phase (default 5)
  --concurrency LIST       small-object concurrencies (default 1,16)
  --small-size SIZE        small object size (default 4KiB)
  --large-size SIZE        the single large object at concurrency 1 (default 256MiB)
  --parallel SIZExN        large objects at concurrency N (default 16MiBx16)
  --large-repeat N         run each large-object phase N times, report the median run (default 3)
  --no-large               skip the large-object phases
  --engines LIST           HTTP engines to run BleepStore and the ceiling on (default uws,node)
  --json FILE              also write every figure as JSON
  --endpoint URL           measure this S3 server (http://host:port) instead of starting BleepStore
  --access-key K --secret-key S --region R   credentials for --endpoint (default bleepstore/bleepstore-secret/us-east-1)
  --server-pid PID         with --endpoint: read that process's CPU time and peak RSS
  --ceiling ENGINE         with --endpoint: also run the ceiling on ENGINE (uws|node)
SIZE accepts binary suffixes: 4k, 4KiB, 256MiB, 1g.`;

const MiB = 1024 * 1024;

interface Options {
  durationMs: number;
  concurrencies: number[];
  smallSize: number;
  largeSize: number;
  parallelSize: number;
  parallelCount: number;
  large: boolean;
  largeRepeat: number;
  engines: Engine[];
  json: string | undefined;
  endpoint: URL | undefined;
  accessKey: string;
  secretKey: string;
  region: string;
  serverPid: number | undefined;
  ceiling: Engine | undefined;
}

function parseEngine(e: string): Engine {
  if (e !== 'uws' && e !== 'node') throw new Error(`engine must be uws or node, got ${e}`);
  return e;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string', default: '5' },
      concurrency: { type: 'string', default: '1,16' },
      'small-size': { type: 'string', default: '4KiB' },
      'large-size': { type: 'string', default: '256MiB' },
      parallel: { type: 'string', default: '16MiBx16' },
      'no-large': { type: 'boolean', default: false },
      'large-repeat': { type: 'string', default: '3' },
      engines: { type: 'string', default: 'uws,node' },
      json: { type: 'string' },
      endpoint: { type: 'string' },
      'access-key': { type: 'string', default: 'bleepstore' },
      'secret-key': { type: 'string', default: 'bleepstore-secret' },
      region: { type: 'string', default: 'us-east-1' },
      'server-pid': { type: 'string' },
      ceiling: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    process.exit(0);
  }
  const duration = Number(values.duration);
  if (!(duration > 0)) throw new Error('--duration must be a positive number of seconds');
  const concurrencies = values.concurrency.split(',').map(Number);
  if (concurrencies.some((c) => !Number.isInteger(c) || c < 1)) throw new Error('--concurrency must be a list of positive integers');
  const pm = /^(.+)x(\d+)$/i.exec(values.parallel);
  if (!pm) throw new Error('--parallel must look like 16MiBx16');
  const endpoint = values.endpoint === undefined ? undefined : new URL(values.endpoint);
  if (endpoint && endpoint.protocol !== 'http:') throw new Error('--endpoint must be an http:// URL (the raw-socket generator does not speak TLS)');
  return {
    durationMs: duration * 1000,
    concurrencies,
    smallSize: parseSize(values['small-size']),
    largeSize: parseSize(values['large-size']),
    parallelSize: parseSize(pm[1] as string),
    parallelCount: Number(pm[2]),
    large: !values['no-large'],
    largeRepeat: Math.max(1, Number(values['large-repeat']) || 1),
    engines: values.engines.split(',').map(parseEngine),
    json: values.json,
    endpoint,
    accessKey: values['access-key'],
    secretKey: values['secret-key'],
    region: values.region,
    serverPid: values['server-pid'] === undefined ? undefined : Number(values['server-pid']),
    ceiling: values.ceiling === undefined ? undefined : parseEngine(values.ceiling),
  };
}

// ---- the large-object source file -------------------------------------------------------

interface LargePlan {
  file: string;
  single: LargeObject[];
  parallel: LargeObject[];
}

/**
 * Writes a file of pseudo-random bytes (a random 1 MiB block, each MiB stamped with its index
 * so no two MiBs are equal) and the CRC32 of every object's byte range, never holding more
 * than 1 MiB in memory.
 */
function writeLargeSource(dir: string, o: Options, runId: string): LargePlan {
  const file = join(dir, 'large-source.bin');
  const total = Math.max(o.largeSize, o.parallelSize * o.parallelCount);
  const block = randomFillSync(Buffer.allocUnsafe(MiB));
  const ranges: { start: number; size: number; crc: number }[] = [{ start: 0, size: o.largeSize, crc: 0 }];
  for (let i = 0; i < o.parallelCount; i++) ranges.push({ start: i * o.parallelSize, size: o.parallelSize, crc: 0 });
  const fd = openSync(file, 'w');
  try {
    for (let offset = 0; offset < total; offset += MiB) {
      const n = Math.min(MiB, total - offset);
      block.writeUInt32BE(offset / MiB, 0);
      const piece = block.subarray(0, n);
      writeSync(fd, piece);
      for (const r of ranges) {
        const from = Math.max(r.start, offset);
        const to = Math.min(r.start + r.size, offset + n);
        if (from < to) r.crc = crc32(piece.subarray(from - offset, to - offset), r.crc);
      }
    }
  } finally {
    closeSync(fd);
  }
  const [single, ...parallel] = ranges.map((r, i) => ({
    key: i === 0 ? `${runId}-large-${formatBytes(o.largeSize).replace(' ', '')}` : `${runId}-par-${String(i - 1).padStart(2, '0')}`,
    start: r.start,
    size: r.size,
    crc32: r.crc,
  }));
  return { file, single: single ? [single] : [], parallel };
}

// ---- running one target ----------------------------------------------------------------

interface TargetRun {
  kind: TargetKind;
  engine: Engine | undefined;
  banner: string;
  phases: PhaseResult[];
}

/** Runs every phase against `t`; `keys` collects what was written, even if a phase throws. */
async function runPhases(t: Target, o: Options, plan: LargePlan | undefined, runId: string, keys: string[], log: (s: string) => void): Promise<PhaseResult[]> {
  const phases: PhaseResult[] = [];
  const body = randomFillSync(Buffer.allocUnsafe(o.smallSize));
  const report = (p: PhaseResult): void => {
    phases.push(p);
    const rate = p.objectSize > MiB ? `${fmt(p.mibPerSec)} MiB/s` : `${fmt(p.opsPerSec)} ops/s`;
    log(`    ${p.name} c=${p.concurrency}: ${rate}${p.errors ? `, ${p.errors} errors (${p.firstError ?? ''})` : ''}`);
  };

  // Warm-up (JIT, SQLite page cache, connection setup); not reported.
  const warmConc = Math.max(...o.concurrencies);
  const warmMs = Math.min(1000, o.durationMs / 4);
  const warm = await runSmallPhase(t, { op: 'PUT', concurrency: warmConc, durationMs: warmMs, body, keyPrefix: `${runId}-warm` });
  keys.push(...warm.written);
  if (warm.written.length === 0) throw new Error(`warm-up PUTs all failed: ${warm.result.firstError ?? 'no response'}`);
  await runSmallPhase(t, { op: 'GET', concurrency: warmConc, durationMs: warmMs, body, keyPrefix: '', keys: warm.written });

  for (const c of o.concurrencies) {
    const put = await runSmallPhase(t, { op: 'PUT', concurrency: c, durationMs: o.durationMs, body, keyPrefix: `${runId}-c${c}` });
    report(put.result);
    keys.push(...put.written);
    const readKeys = put.written.length > 0 ? put.written : warm.written;
    report((await runSmallPhase(t, { op: 'GET', concurrency: c, durationMs: o.durationMs, body, keyPrefix: '', keys: readKeys })).result);
  }
  if (plan) {
    // One transfer lasts well under a second, so a single run is at the mercy of the machine's
    // other load: repeat and keep the median run (by time).
    const medianOf = async (op: 'PUT' | 'GET', objects: LargeObject[]): Promise<PhaseResult> => {
      const runs: PhaseResult[] = [];
      for (let i = 0; i < o.largeRepeat; i++) runs.push(await runLargePhase(t, op, plan.file, objects));
      const failed = runs.find((r) => r.errors > 0);
      return failed ?? (runs.sort((a, b) => a.seconds - b.seconds)[Math.floor((runs.length - 1) / 2)] as PhaseResult);
    };
    for (const objects of [plan.single, plan.parallel]) {
      if (objects.length === 0) continue;
      report(await medianOf('PUT', objects));
      keys.push(...objects.map((x) => x.key));
      report(await medianOf('GET', objects));
    }
  }
  return phases;
}

async function createBucket(t: Target): Promise<void> {
  const r = await oneRequest(t, signedRequest(t, 'PUT', '', {}, { 'content-length': '0' }));
  if (r.status !== 200) throw new Error(`CreateBucket ${t.bucket} failed: HTTP ${r.status} ${r.body?.toString() ?? ''}`);
}

/** Deletes what the run wrote on a remote endpoint: DeleteObjects in batches, then the bucket. */
async function cleanUpRemote(t: Target, keys: readonly string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 1000) {
    const xml = Buffer.from(
      `<Delete><Quiet>true</Quiet>${keys
        .slice(i, i + 1000)
        .map((k) => `<Object><Key>${k}</Key></Object>`)
        .join('')}</Delete>`,
    );
    const md5 = createHash('md5').update(xml).digest('base64');
    const path = `/${t.bucket}`;
    const headers = { ...t.signer.sign('POST', path, [['delete', '']], `${t.host}:${t.port}`, { 'content-md5': md5 }), 'content-length': String(xml.length) };
    const r = await oneRequest(t, { method: 'POST', target: `${path}?delete`, headers, body: xml });
    if (r.status !== 200) throw new Error(`DeleteObjects failed: HTTP ${r.status} ${r.body?.toString() ?? ''}`);
  }
  const r = await oneRequest(t, signedRequest(t, 'DELETE', ''));
  if (r.status !== 204) throw new Error(`DeleteBucket failed: HTTP ${r.status} ${r.body?.toString() ?? ''}`);
}

const running = new Set<ServerProcess>();

async function withServer<T>(start: () => Promise<ServerProcess>, use: (s: ServerProcess) => Promise<T>): Promise<T> {
  const server = await start();
  running.add(server);
  try {
    return await use(server);
  } finally {
    await server.stop();
    running.delete(server);
  }
}

const BLEEPSTORE_READY = /Starting BleepStore on ([^\s:]+):(\d+) \([^)]*\)/;
const CEILING_READY = /Ceiling \(\w+\) listening on ([^\s:]+):(\d+)/;

function startBleepStore(dir: string, engine: Engine): Promise<ServerProcess> {
  const data = mkdtempSync(join(dir, `bleepstore-${engine}-`));
  const config = join(data, 'config.yaml');
  // JSON is valid YAML and needs no quoting care for temp paths.
  const doc = {
    server: { host: '127.0.0.1', port: 0, http_engine: engine, shutdown_timeout: 2 },
    metadata: { engine: 'sqlite', sqlite: { path: join(data, 'metadata.db') } },
    storage: { backend: 'local', local: { root_dir: join(data, 'objects') } },
  };
  writeFileSync(config, JSON.stringify(doc, null, 2));
  return spawnServer(fileURLToPath(new URL('../src/cli.js', import.meta.url)), ['--config', config], BLEEPSTORE_READY);
}

function startCeilingProcess(engine: Engine): Promise<ServerProcess> {
  return spawnServer(fileURLToPath(new URL('./ceiling.js', import.meta.url)), ['--engine', engine], CEILING_READY);
}

// ---- report ----------------------------------------------------------------------------

function pair(a: number, b: number | undefined, digits = 3): string {
  return b === undefined ? fmt(a, digits) : `${fmt(a, digits)} / ${fmt(b, digits)}`;
}

function errorsCell(p: PhaseResult, c: PhaseResult | undefined): string {
  const n = p.errors + (c?.errors ?? 0);
  return n === 0 ? '0' : String(n);
}

function renderTables(main: TargetRun, ceiling: TargetRun | undefined): string {
  const out: string[] = [];
  const find = (p: PhaseResult): PhaseResult | undefined => ceiling?.phases.find((c) => c.name === p.name && c.concurrency === p.concurrency);
  const withC = ceiling !== undefined;
  const label = main.kind === 'bleepstore' ? 'BleepStore' : 'server';
  if (withC) out.push(`Cells "a / b" are ${label} / ceiling.`);

  const small = main.phases.filter((p) => p.objectSize <= MiB);
  if (small.length) {
    const header = ['operation', 'conc', `${label} ops/s`, ...(withC ? ['ceiling ops/s', 'ratio'] : []), 'p50 ms', 'p99 ms', 'server CPU µs/op', ...(withC ? ['CPU ×'] : []), 'peak RSS MiB', 'generator CPU %', 'errors'];
    const rows = small.map((p) => {
      const c = find(p);
      return [
        p.name,
        String(p.concurrency),
        fmt(p.opsPerSec),
        ...(withC ? [fmt(c?.opsPerSec ?? NaN), ratio(p.opsPerSec, c?.opsPerSec ?? NaN)] : []),
        pair(p.p50Ms, c?.p50Ms),
        pair(p.p99Ms, c?.p99Ms),
        pair(p.serverCpuUsPerOp, c?.serverCpuUsPerOp),
        ...(withC ? [ratio(p.serverCpuUsPerOp, c?.serverCpuUsPerOp ?? NaN)] : []),
        pair(p.serverPeakRssMiB, c?.serverPeakRssMiB),
        pair(p.clientCpuPercent, c?.clientCpuPercent, 2),
        errorsCell(p, c),
      ];
    });
    out.push(formatTable(header, rows));
  }
  const large = main.phases.filter((p) => p.objectSize > MiB);
  if (large.length) {
    const cpuPerGiB = (r: PhaseResult): number => (r.serverCpuUsPerOp * r.ops) / 1e6 / ((r.ops * r.objectSize) / 1024 ** 3);
    const header = ['operation', 'conc', `${label} MiB/s`, ...(withC ? ['ceiling MiB/s', 'ratio'] : []), 'seconds', 'server CPU s/GiB', 'peak RSS MiB', 'generator CPU %', 'errors'];
    const rows = large.map((p) => {
      const c = find(p);
      return [
        p.name,
        String(p.concurrency),
        fmt(p.mibPerSec),
        ...(withC ? [fmt(c?.mibPerSec ?? NaN), ratio(p.mibPerSec, c?.mibPerSec ?? NaN)] : []),
        pair(p.seconds, c?.seconds),
        pair(cpuPerGiB(p), c ? cpuPerGiB(c) : undefined),
        pair(p.serverPeakRssMiB, c?.serverPeakRssMiB),
        pair(p.clientCpuPercent, c?.clientCpuPercent, 2),
        errorsCell(p, c),
      ];
    });
    out.push(formatTable(header, rows));
  }
  const errors = [...main.phases, ...(ceiling?.phases ?? [])].filter((p) => p.firstError);
  for (const p of errors) out.push(`first error in ${p.name} c=${p.concurrency}: ${p.firstError}`);
  return out.join('\n\n');
}

// ---- main ------------------------------------------------------------------------------

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'bleepstore-bench-'));
  const runId = Date.now().toString(36);
  const log = (s: string): void => {
    process.stderr.write(s + '\n');
  };
  let interrupted = false;
  const onSignal = (): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log('interrupted: stopping servers and removing temp files');
    Promise.allSettled([...running].map((s) => s.stop())).finally(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const started = Date.now();
  const results: { engine: Engine | undefined; main: TargetRun; ceiling: TargetRun | undefined }[] = [];
  try {
    const plan = o.large ? writeLargeSource(dir, o, runId) : undefined;
    const signer = new BenchSigner(o.accessKey, o.secretKey, o.region);

    const runTarget = async (kind: TargetKind, engine: Engine | undefined, server: ServerProcess | undefined): Promise<TargetRun> => {
      const host = server?.host ?? (o.endpoint as URL).hostname;
      const port = server?.port ?? Number((o.endpoint as URL).port || 80);
      const t: Target = {
        host,
        port,
        bucket: `bench-${runId}`,
        signer,
        verify: kind !== 'ceiling',
        serverPid: server?.pid ?? o.serverPid,
      };
      log(`  ${kind}${engine ? ` (${engine})` : ''} on ${host}:${port}${server ? ` pid ${server.pid}` : ''}`);
      if (kind !== 'ceiling') await createBucket(t);
      const keys: string[] = [];
      try {
        const phases = await runPhases(t, o, plan, runId, keys, log);
        return { kind, engine, banner: server?.banner ?? (o.endpoint as URL).href, phases };
      } finally {
        // A local server's data dies with its temp dir; a remote one is cleaned explicitly.
        if (kind === 'endpoint') {
          log(`  cleaning up ${keys.length} objects and bucket ${t.bucket}`);
          await cleanUpRemote(t, keys);
        }
      }
    };

    if (o.endpoint) {
      const mainRun = await runTarget('endpoint', undefined, undefined);
      const ceilingRun = o.ceiling ? await withServer(() => startCeilingProcess(o.ceiling as Engine), (s) => runTarget('ceiling', o.ceiling, s)) : undefined;
      results.push({ engine: o.ceiling, main: mainRun, ceiling: ceilingRun });
    } else {
      for (const engine of o.engines) {
        log(`engine ${engine}:`);
        const ceilingRun = await withServer(() => startCeilingProcess(engine), (s) => runTarget('ceiling', engine, s));
        const mainRun = await withServer(() => startBleepStore(dir, engine), async (s) => {
          const run = await runTarget('bleepstore', engine, s);
          if (!s.banner.includes(`engine=${engine}`)) log(`  WARNING: asked for engine ${engine}, server says: ${s.banner}`);
          return run;
        });
        results.push({ engine, main: mainRun, ceiling: ceilingRun });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const lines: string[] = [];
  const load = loadavg().map((l) => l.toFixed(2)).join(' ');
  lines.push(
    `BleepStore load benchmark — ${new Date().toISOString()}, node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load average ${load}, ${((Date.now() - started) / 1000).toFixed(0)} s`,
    `Small objects: ${formatBytes(o.smallSize)}, ${o.durationMs / 1000} s per phase after a warm-up. Large objects: one ${formatBytes(o.largeSize)} object at concurrency 1; at concurrency ${o.parallelCount}, ${o.parallelCount} × ${formatBytes(o.parallelSize)} objects (one per connection) to keep the run short; median of ${o.largeRepeat} runs.`,
    'Generator: one raw keep-alive TCP connection per concurrent client, SigV4 (UNSIGNED-PAYLOAD) signed per request; GET bodies are length- and CRC32-checked against what was PUT.',
    'Ceiling: a static server on the same engine (no auth, metadata or disk; GET serves zeros, PUT drains). ratio = BleepStore ÷ ceiling; CPU × = BleepStore server CPU per op ÷ ceiling\'s.',
    'Server CPU = utime+stime of the server process, all threads (/proc/PID/stat, 10 ms ticks); peak RSS = VmHWM, reset before each phase.',
    'Generator CPU % is this process (one core = 100; it includes the kernel\'s loopback TCP work for its sends). Near 100 the generator, not the server, is the limit.',
  );
  for (const r of results) {
    lines.push('', `=== ${r.main.kind === 'endpoint' ? `endpoint ${r.main.banner}` : `engine ${r.engine}: ${r.main.banner}`}${r.ceiling ? ` — ceiling: ${r.ceiling.banner}` : ''} ===`, '');
    lines.push(renderTables(r.main, r.ceiling));
  }
  process.stdout.write(lines.join('\n') + '\n');

  if (o.json) {
    const doc = {
      version: 1,
      date: new Date().toISOString(),
      machine: { node: process.version, cpus: cpus().length, model: cpus()[0]?.model, loadavg: loadavg() },
      options: { ...o, endpoint: o.endpoint?.href, secretKey: undefined },
      runs: results.map((r) => ({ engine: r.engine, target: r.main.kind, banner: r.main.banner, phases: r.main.phases, ceiling: r.ceiling ? { banner: r.ceiling.banner, phases: r.ceiling.phases } : undefined })),
    };
    writeFileSync(o.json, JSON.stringify(doc, null, 2) + '\n');
    log(`wrote ${o.json}`);
  }
  const failed = results.some((r) => r.main.phases.some((p) => p.ops === 0));
  process.exitCode = failed ? 1 : 0;
}

main().catch((e: Error) => {
  process.stderr.write(`bench: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
