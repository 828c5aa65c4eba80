// The workload sequence run against one target (BleepStore, the ceiling, or an endpoint):
// small objects at each concurrency, the GET/PUT mix, large objects, multipart, listings.
// The same sequence runs on every target, so each figure has a ceiling counterpart.
import { createHash, randomFillSync } from 'node:crypto';
import { loadavg } from 'node:os';
import type { LargeObject } from './large-source.js';
import { describeFailure, oneRequest, signedRequest, type PhaseResult, type Target } from './load-client.js';
import { PAGE_SIZE, listKeys, populateOverHttp, runListPhase, type ListBucketPlan } from './list-phases.js';
import type { Options } from './options.js';
import { processRss } from './server-process.js';
import { runMixedPhase, runSmallPhase, type SmallOp } from './small-phases.js';
import { fmt } from './table.js';
import { runLargePhase, runMultipartPhase } from './transfer-phases.js';

const MiB = 1024 * 1024;

export interface SuitePlan {
  smallBucket: string;
  keyPrefix: string;
  source: { file: string; single: LargeObject; parallel: LargeObject[]; multipart: LargeObject } | undefined;
  listBuckets: ListBucketPlan[];
}

export interface PopulateInfo {
  bucket: string;
  keys: number;
  mode: 'http' | 'sqlite';
  seconds: number;
  /** For HTTP: the populate PUT phase itself (rate, server CPU). */
  phase?: PhaseResult;
}

export interface SuiteResult {
  phases: PhaseResult[];
  populate: PopulateInfo[];
  loadavgStart: number[];
  loadavgEnd: number[];
  /** Server RSS when the suite started and ended, MiB (NaN when unknown). */
  rssStartMiB: number;
  rssEndMiB: number;
  seconds: number;
}

/** Every key a run wrote, by bucket, so a remote endpoint can be cleaned up afterwards. */
export type WrittenKeys = Map<string, Set<string>>;

function remember(written: WrittenKeys, bucket: string, keys: Iterable<string>): void {
  let set = written.get(bucket);
  if (!set) written.set(bucket, (set = new Set()));
  for (const k of keys) set.add(k);
}

export async function createBucket(t: Target, bucket: string): Promise<void> {
  const r = await oneRequest(t, signedRequest(t, 'PUT', `/${bucket}`, [], { 'content-length': '0' }));
  if (r.status !== 200) throw new Error(`CreateBucket ${bucket} failed: ${describeFailure(r)}`);
}

function describe(p: PhaseResult): string {
  const rate =
    p.workload === 'large' || p.workload === 'multipart'
      ? `${fmt(p.mibPerSec)} MiB/s`
      : p.workload === 'list'
        ? `${fmt(p.opsPerSec)} pages/s`
        : `${fmt(p.opsPerSec)} ops/s, p99 ${fmt(p.p99Ms)} ms`;
  const cpu = Number.isFinite(p.serverCpuUsPerOp) ? `, server ${fmt(p.serverCpuUsPerOp)} µs/op` : '';
  return `    ${p.name} c=${p.concurrency}: ${rate}${cpu}${p.errors ? `, ${p.errors} errors (${p.firstError ?? ''})` : ''}`;
}

/**
 * One transfer lasts about a second, so a single run is at the mercy of the machine's other
 * load: repeat it and keep the median run (by time), noting the spread. A failed run wins.
 */
async function medianOf(repeat: number, run: () => Promise<PhaseResult>): Promise<PhaseResult> {
  const runs: PhaseResult[] = [];
  for (let i = 0; i < repeat; i++) runs.push(await run());
  const failed = runs.find((r) => r.errors > 0);
  const median = failed ?? (runs.sort((a, b) => a.seconds - b.seconds)[Math.floor((runs.length - 1) / 2)] as PhaseResult);
  if (runs.length > 1) median.extra = { ...median.extra, runs: runs.length, 'fastest MiB/s': Math.max(...runs.map((r) => r.mibPerSec)), 'slowest MiB/s': Math.min(...runs.map((r) => r.mibPerSec)) };
  return median;
}

/**
 * Runs the selected workloads. `populate` says how list buckets get their keys: over HTTP here,
 * already done (sqlite, before the server started: `prePopulated` has the timings), or not at
 * all (the ceiling serves canned pages).
 */
export async function runSuite(t: Target, o: Options, plan: SuitePlan, populate: 'http' | 'done' | 'none', prePopulated: PopulateInfo[], written: WrittenKeys): Promise<SuiteResult> {
  const started = performance.now();
  const loadavgStart = loadavg();
  const rssStartMiB = t.serverPid !== undefined ? processRss(t.serverPid) / MiB : NaN;
  const phases: PhaseResult[] = [];
  const report = (p: PhaseResult): PhaseResult => {
    phases.push(p);
    t.progress.log(describe(p));
    return p;
  };
  const real = t.kind !== 'ceiling';
  const durationMs = real ? o.durationMs : o.ceilingDurationMs;
  const bucket = plan.smallBucket;
  const body = randomFillSync(Buffer.allocUnsafe(o.smallSize));
  const w = o.workloads;

  if (real) await createBucket(t, bucket);

  if (w.has('small') || w.has('mixed')) {
    // Warm-up (JIT, SQLite page cache, connections), not reported; its keys are the mix's key set.
    const warmConc = Math.max(...o.concurrencies, o.mixedConcurrency);
    const warm = await runSmallPhase(t, { op: 'PUT', label: 'warm-up PUT', concurrency: warmConc, durationMs: Math.min(1000, durationMs), maxOps: 2000, bucket, body, keyPrefix: `${plan.keyPrefix}-warm` });
    remember(written, bucket, warm.written);
    if (warm.written.length === 0) throw new Error(`warm-up PUTs all failed: ${warm.result.firstError ?? 'no response'}`);
    await runSmallPhase(t, { op: 'GET', label: 'warm-up GET', concurrency: warmConc, durationMs: Math.min(500, durationMs), maxOps: 5000, bucket, body, keyPrefix: '', keys: warm.written });

    if (w.has('small')) {
      for (const c of o.concurrencies) {
        const put = await runSmallPhase(t, { op: 'PUT', concurrency: c, durationMs, maxOps: o.maxOps, bucket, body, keyPrefix: `${plan.keyPrefix}-c${c}` });
        report(put.result);
        remember(written, bucket, put.written);
        const keys = put.written.length > 0 ? put.written : warm.written;
        for (const op of ['GET', 'HEAD', 'DELETE'] as SmallOp[]) {
          if (op === 'DELETE' && put.written.length === 0) continue; // never delete the mix's keys
          report((await runSmallPhase(t, { op, concurrency: c, durationMs, maxOps: o.maxOps, bucket, body, keyPrefix: '', keys })).result);
        }
      }
    }
    if (w.has('mixed')) {
      report(await runMixedPhase(t, { concurrency: o.mixedConcurrency, durationMs, maxOps: o.maxOps, bucket, body, keys: warm.written, readPercent: o.readPercent }));
    }
  }

  const source = plan.source;
  if (source && w.has('large')) {
    for (const objects of [[source.single], source.parallel]) {
      if (objects.length === 0) continue;
      remember(
        written,
        bucket,
        objects.map((x) => x.key),
      );
      report(await medianOf(o.largeRepeat, () => runLargePhase(t, 'PUT', bucket, source.file, objects)));
      report(await medianOf(o.largeRepeat, () => runLargePhase(t, 'GET', bucket, source.file, objects)));
    }
  }

  if (source && w.has('multipart')) {
    remember(written, bucket, [source.multipart.key]);
    const mp = report(await runMultipartPhase(t, source.file, { bucket, object: source.multipart, partSize: o.partSize, inFlight: o.partsInFlight }));
    // Reading the assembled object back checks it byte for byte (CRC32) and measures its GET.
    if (mp.errors === 0) {
      const get = await medianOf(o.largeRepeat, () => runLargePhase(t, 'GET', bucket, source.file, [source.multipart]));
      get.name += ' (the multipart object)';
      report(get);
    }
  }

  const populated: PopulateInfo[] = [...prePopulated];
  if (w.has('list')) {
    for (const lb of plan.listBuckets) {
      if (populate === 'http') {
        await createBucket(t, lb.bucket);
        const keys = listKeys(lb);
        remember(written, lb.bucket, keys);
        t.progress.log(`    populating ${lb.bucket}: ${keys.length.toLocaleString('en-US')} 0-byte PUTs at concurrency ${o.populateConcurrency}`);
        const phase = await populateOverHttp(t, lb.bucket, keys, o.populateConcurrency, o.populateTimeoutMs);
        populated.push({ bucket: lb.bucket, keys: keys.length, mode: 'http', seconds: phase.seconds, phase });
        t.progress.log(`    populated in ${phase.seconds.toFixed(1)} s (${fmt(phase.opsPerSec)} PUT/s)`);
      }
      for (const delimiter of [false, true]) {
        const expected = delimiter ? lb.prefixCount : lb.keyCount;
        report(await runListPhase(t, { plan: lb, delimiter, concurrency: o.listConcurrency, durationMs, maxPages: Math.max(o.maxOps, Math.ceil(expected / PAGE_SIZE)) }));
      }
    }
  }

  return {
    phases,
    populate: populated,
    loadavgStart,
    loadavgEnd: loadavg(),
    rssStartMiB,
    rssEndMiB: t.serverPid !== undefined ? processRss(t.serverPid) / MiB : NaN,
    seconds: (performance.now() - started) / 1000,
  };
}

/** Deletes what a run wrote on a remote endpoint: DeleteObjects in batches of 1000, then the buckets. */
export async function cleanUpRemote(t: Target, written: WrittenKeys): Promise<void> {
  for (const [bucket, keySet] of written) {
    const keys = [...keySet];
    for (let i = 0; i < keys.length; i += 1000) {
      const xml = Buffer.from(`<Delete><Quiet>true</Quiet>${keys
        .slice(i, i + 1000)
        .map((k) => `<Object><Key>${k.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</Key></Object>`)
        .join('')}</Delete>`);
      const md5 = createHash('md5').update(xml).digest('base64');
      const r = await oneRequest(t, signedRequest(t, 'POST', `/${bucket}`, [['delete', '']], { 'content-md5': md5, 'content-length': String(xml.length) }, { body: xml }));
      if (r.status !== 200) throw new Error(`DeleteObjects in ${bucket} failed: ${describeFailure(r)}`);
    }
    const r = await oneRequest(t, signedRequest(t, 'DELETE', `/${bucket}`));
    if (r.status !== 204) throw new Error(`DeleteBucket ${bucket} failed: ${describeFailure(r)}`);
  }
}
