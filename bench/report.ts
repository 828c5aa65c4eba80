// The load benchmark's report: per engine, a table per workload family with every figure of the
// server under test beside the ceiling's and as a ratio to it, the populate timings, load
// averages, server RSS, and the generator's headroom; plus the same data as JSON.
import { cpus, loadavg } from 'node:os';
import type { PhaseResult, TargetKind } from './load-client.js';
import type { Engine, Options } from './options.js';
import type { SuiteResult } from './suite.js';
import { fmt, formatBytes, formatTable, ratio } from './table.js';

export interface TargetRun {
  kind: TargetKind;
  engine: Engine | undefined;
  banner: string;
  suite: SuiteResult;
}

export interface EngineResult {
  engine: Engine | undefined;
  main: TargetRun;
  ceiling: TargetRun | undefined;
}

const load = (l: readonly number[]): string => l.map((x) => x.toFixed(2)).join(' ');

function pair(a: number, b: number | undefined, digits = 3): string {
  return b === undefined ? fmt(a, digits) : `${fmt(a, digits)} / ${fmt(b, digits)}`;
}

function errorsOf(p: PhaseResult, c: PhaseResult | undefined): string {
  return String(p.errors + (c?.errors ?? 0));
}

/** The phase's headline rate: MiB/s for transfers, operations (or pages) per second otherwise. */
export function rateOf(p: PhaseResult): number {
  return p.workload === 'large' || p.workload === 'multipart' ? p.mibPerSec : p.opsPerSec;
}

function renderEngine(r: EngineResult): string {
  const { main, ceiling } = r;
  const withC = ceiling !== undefined;
  const label = main.kind === 'bleepstore' ? 'BleepStore' : 'server';
  const find = (p: PhaseResult): PhaseResult | undefined => ceiling?.suite.phases.find((c) => c.name === p.name && c.concurrency === p.concurrency);
  const out: string[] = [];
  const s = main.suite;
  out.push(
    `load average ${load(s.loadavgStart)} at the start, ${load(s.loadavgEnd)} at the end; ${label} suite ${s.seconds.toFixed(0)} s` +
      (ceiling ? `, ceiling suite ${ceiling.suite.seconds.toFixed(0)} s (load ${load(ceiling.suite.loadavgStart)} → ${load(ceiling.suite.loadavgEnd)})` : ''),
  );
  if (Number.isFinite(s.rssStartMiB)) out.push(`${label} RSS: ${fmt(s.rssStartMiB)} MiB when its suite started, ${fmt(s.rssEndMiB)} MiB at the end (peak per phase in the tables).`);
  if (withC) out.push(`Cells "a / b" are ${label} / ceiling; ratio = ${label} ÷ ceiling.`);
  const tables: string[] = [];

  const small = s.phases.filter((p) => p.workload === 'small' || p.workload === 'mixed');
  if (small.length) {
    const header = ['operation', 'conc', 'ops/s', ...(withC ? ['ceiling ops/s', 'ratio'] : []), 'p50 ms', 'p99 ms', 'p99.9 ms', 'srv CPU µs/op', ...(withC ? ['ceil CPU µs/op'] : []), 'peak RSS MiB', 'gen CPU %', 'errors'];
    const rows = small.map((p) => {
      const c = find(p);
      return [
        p.name,
        String(p.concurrency),
        fmt(p.opsPerSec),
        ...(withC ? [fmt(c?.opsPerSec ?? NaN), ratio(p.opsPerSec, c?.opsPerSec ?? NaN)] : []),
        fmt(p.p50Ms),
        fmt(p.p99Ms),
        p.samples >= 1000 ? fmt(p.p999Ms) : `${fmt(p.p999Ms)}*`,
        fmt(p.serverCpuUsPerOp),
        ...(withC ? [fmt(c?.serverCpuUsPerOp ?? NaN)] : []),
        fmt(p.serverPeakRssMiB),
        pair(p.clientCpuPercent, c?.clientCpuPercent, 2),
        errorsOf(p, c),
      ];
    });
    const notes = small
      .filter((p) => p.workload === 'mixed')
      .map((p) => `  mix: GET ${fmt(p.extra['GET ops'] ?? NaN)} requests p50 ${fmt(p.extra['GET p50 ms'] ?? NaN)} p99 ${fmt(p.extra['GET p99 ms'] ?? NaN)} ms; PUT ${fmt(p.extra['PUT ops'] ?? NaN)} requests p50 ${fmt(p.extra['PUT p50 ms'] ?? NaN)} p99 ${fmt(p.extra['PUT p99 ms'] ?? NaN)} ms`);
    if (small.some((p) => p.samples < 1000)) notes.push('  * fewer than 1,000 requests in the phase: p99.9 is the slowest one');
    tables.push([formatTable(header, rows), ...notes].join('\n'));
  }

  const large = s.phases.filter((p) => p.workload === 'large' || p.workload === 'multipart');
  if (large.length) {
    const cpuPerGiB = (p: PhaseResult): number => (p.serverCpuUsPerOp * p.ops) / 1e6 / ((p.ops * p.objectSize) / 1024 ** 3);
    const header = ['operation', 'conc', 'MiB/s', ...(withC ? ['ceiling MiB/s', 'ratio'] : []), 'seconds', 'srv CPU s/GiB', ...(withC ? ['ceil CPU s/GiB'] : []), 'peak RSS MiB', 'gen CPU %', 'errors'];
    const rows = large.map((p) => {
      const c = find(p);
      return [
        p.name,
        String(p.concurrency),
        fmt(p.mibPerSec),
        ...(withC ? [fmt(c?.mibPerSec ?? NaN), ratio(p.mibPerSec, c?.mibPerSec ?? NaN)] : []),
        fmt(p.seconds),
        fmt(cpuPerGiB(p)),
        ...(withC ? [fmt(c ? cpuPerGiB(c) : NaN)] : []),
        fmt(p.serverPeakRssMiB),
        pair(p.clientCpuPercent, c?.clientCpuPercent, 2),
        errorsOf(p, c),
      ];
    });
    const notes: string[] = [];
    for (const p of large) {
      if (p.extra.runs !== undefined) notes.push(`  ${p.name}: median of ${p.extra.runs} runs (${fmt(p.extra['slowest MiB/s'] ?? NaN)}–${fmt(p.extra['fastest MiB/s'] ?? NaN)} MiB/s)`);
      if (p.workload === 'multipart' && p.errors === 0) {
        const c = find(p);
        const cNote = c && c.errors === 0 ? ` (ceiling: ${fmt(c.extra['parts MiB/s'] ?? NaN)} MiB/s, ${fmt(c.extra['complete seconds'] ?? NaN)} s)` : '';
        notes.push(`  ${p.name}: ${p.extra.parts} parts at ${fmt(p.extra['parts MiB/s'] ?? NaN)} MiB/s, then CompleteMultipartUpload ${fmt(p.extra['complete seconds'] ?? NaN)} s${cNote}; part p50 ${fmt(p.p50Ms)} ms, p99 ${fmt(p.p99Ms)} ms`);
      }
    }
    tables.push([formatTable(header, rows), ...notes].join('\n'));
  }

  const list = s.phases.filter((p) => p.workload === 'list');
  if (list.length) {
    const header = ['listing (1000 entries/page)', 'pages/walk', 'pages/s', ...(withC ? ['ceiling pages/s', 'ratio'] : []), 'entries/s', 'p50 ms', 'p99 ms', 'srv CPU µs/page', ...(withC ? ['ceil CPU µs/page'] : []), 'peak RSS MiB', 'gen CPU %', 'errors'];
    const rows = list.map((p) => {
      const c = find(p);
      return [
        p.name,
        String(p.extra['pages per walk'] ?? '—'),
        fmt(p.opsPerSec),
        ...(withC ? [fmt(c?.opsPerSec ?? NaN), ratio(p.opsPerSec, c?.opsPerSec ?? NaN)] : []),
        fmt(p.extra['entries/s'] ?? NaN),
        fmt(p.p50Ms),
        fmt(p.p99Ms),
        fmt(p.serverCpuUsPerOp),
        ...(withC ? [fmt(c?.serverCpuUsPerOp ?? NaN)] : []),
        fmt(p.serverPeakRssMiB),
        pair(p.clientCpuPercent, c?.clientCpuPercent, 2),
        errorsOf(p, c),
      ];
    });
    const notes = s.populate.map((x) =>
      x.mode === 'sqlite'
        ? `  ${x.bucket}: ${x.keys.toLocaleString('en-US')} keys written into the SQLite metadata before the server started, in ${x.seconds.toFixed(1)} s (metadata rows only, no data files: LIST reads only metadata)`
        : `  ${x.bucket}: ${x.keys.toLocaleString('en-US')} keys populated over HTTP with 0-byte PUTs at concurrency ${x.phase?.concurrency ?? '?'} in ${x.seconds.toFixed(1)} s (${fmt(x.phase?.opsPerSec ?? NaN)} PUT/s, server ${fmt(x.phase?.serverCpuUsPerOp ?? NaN)} µs/PUT)`,
    );
    tables.push([formatTable(header, rows), ...notes].join('\n'));
  }

  out.push('', tables.join('\n\n'));
  const failures = [...s.phases, ...(ceiling?.suite.phases ?? [])].filter((p) => p.firstError);
  for (const p of failures) out.push(`first error in ${p.name} c=${p.concurrency}: ${p.firstError}`);
  const headroom = headroomLine(r);
  if (headroom) out.push('', headroom);
  return out.join('\n');
}

/** How far above the server under test the ceiling got in the same phase: the generator's headroom. */
export function headroomLine(r: EngineResult): string | undefined {
  if (!r.ceiling) return undefined;
  const pairs = r.main.suite.phases
    .map((p) => ({ p, c: r.ceiling?.suite.phases.find((c) => c.name === p.name && c.concurrency === p.concurrency) }))
    .filter((x): x is { p: PhaseResult; c: PhaseResult } => x.c !== undefined && rateOf(x.p) > 0 && x.c.errors === 0);
  if (pairs.length === 0) return undefined;
  const factors = pairs.map(({ p, c }) => ({ name: `${p.name} c=${p.concurrency}`, factor: rateOf(c) / rateOf(p) })).sort((a, b) => a.factor - b.factor);
  const least = factors[0] as { name: string; factor: number };
  const median = factors[Math.floor(factors.length / 2)] as { name: string; factor: number };
  const below = factors.filter((f) => f.factor < 1);
  const topGen = Math.max(...r.main.suite.phases.map((p) => p.clientCpuPercent));
  return (
    `Generator headroom (ceiling rate ÷ ${r.main.kind === 'bleepstore' ? 'BleepStore' : 'server'} rate, same phase): least ${fmt(least.factor, 2)}× (${least.name}), median ${fmt(median.factor, 2)}× over ${factors.length} phases; ` +
    `generator CPU peaked at ${fmt(topGen, 2)}% of one core in the ${r.main.kind === 'bleepstore' ? 'BleepStore' : 'server'} phases.` +
    (below.length ? `\nWARNING: the ceiling was below the server in ${below.map((b) => b.name).join(', ')} — there the generator or the machine, not the server, may be the limit.` : '')
  );
}

export function renderReport(results: readonly EngineResult[], o: Options, startedAt: Date, seconds: number): string {
  const lines: string[] = [];
  const cpu = cpus();
  lines.push(
    `BleepStore load benchmark${o.quick ? ' (--quick)' : ''} — ${startedAt.toISOString()}, node ${process.version}, ${cpu.length} CPUs (${cpu[0]?.model ?? '?'}), load average now ${load(loadavg())}, ${seconds.toFixed(0)} s in all`,
    `Timed phases: ${o.durationMs / 1000} s each on the server under test, ${o.ceilingDurationMs / 1000} s on the ceiling, at most ${o.maxOps.toLocaleString('en-US')} requests (a DELETE phase also ends when its keys run out), after an unreported warm-up.`,
    `Small objects: ${formatBytes(o.smallSize)} PUT, GET, HEAD, DELETE (the keys the PUT phase wrote) at concurrency ${o.concurrencies.join(', ')}; mix: ${o.readPercent}/${100 - o.readPercent} GET/PUT at concurrency ${o.mixedConcurrency} over the warm-up keys (PUTs overwrite with the same bytes).`,
    `Large: one ${formatBytes(o.largeSize)} object PUT then GET, median of ${o.largeRepeat} run(s); multipart: ${formatBytes(o.multipartSize)} in ${formatBytes(o.partSize)} parts, ${o.partsInFlight} in flight, timed once from Create to the end of Complete, then read back (median of ${o.largeRepeat} GET run(s)). MiB = 1,048,576 bytes.`,
    `Listing: ListObjectsV2 walks of whole buckets (${o.listKeys.map((k) => k.toLocaleString('en-US')).join(' and ')} keys, ${o.keysPerPrefix} keys under each prefix) without and with delimiter '/', ${o.listConcurrency} walk(s) at a time; every finished walk must return every key (or prefix).`,
    'Generator: one raw keep-alive TCP connection per concurrent client, SigV4 header auth with UNSIGNED-PAYLOAD; requests whose key is known (GET, HEAD, DELETE, the mix, first list pages) are signed before the clock starts, the rest just in time (cached signing key and date: a few µs each). GET bodies are length- and CRC32-checked.',
    'Ceiling: a static server on the same engine (no auth, metadata or disk; GET serves zeros, list pages are canned XML of the same shape). Server CPU = utime+stime of the server process, all threads (/proc, 10 ms ticks), per operation (per page for listings; per object for transfers, as s/GiB); peak RSS = VmHWM, reset before each phase. gen CPU % = this process, one core = 100.',
    'The machine is shared (other jobs may run): compare ratios within one run rather than absolute figures across runs.',
  );
  for (const r of results) {
    const head = r.main.kind === 'endpoint' ? `endpoint ${r.main.banner}` : `engine ${r.engine}: ${r.main.banner}`;
    lines.push('', `=== ${head}${r.ceiling ? ` — ceiling: ${r.ceiling.banner}` : ''} ===`, renderEngine(r));
  }
  return lines.join('\n') + '\n';
}

export function jsonReport(results: readonly EngineResult[], o: Options, startedAt: Date, seconds: number): unknown {
  return {
    version: 2,
    date: startedAt.toISOString(),
    seconds,
    machine: { node: process.version, cpus: cpus().length, model: cpus()[0]?.model, loadavgAtEnd: loadavg() },
    options: { ...o, workloads: [...o.workloads], endpoint: o.endpoint?.href, secretKey: undefined },
    runs: results.map((r) => ({
      engine: r.engine,
      target: r.main.kind,
      banner: r.main.banner,
      ...r.main.suite,
      populate: r.main.suite.populate.map(({ phase, ...rest }) => ({ ...rest, putsPerSec: phase?.opsPerSec, serverCpuUsPerPut: phase?.serverCpuUsPerOp })),
      ceiling: r.ceiling ? { banner: r.ceiling.banner, ...r.ceiling.suite } : undefined,
    })),
  };
}
