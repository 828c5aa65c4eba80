#!/usr/bin/env node
// Load benchmark (`npm run bench`, `bleepstore-bench`). With no arguments it runs, for each HTTP
// engine (uws, node):
//   1. the ceiling: a trivial static server on that engine (bench/ceiling.ts), then
//   2. BleepStore on that engine, on a fresh temp dir,
// both as child processes driven by the same in-process generator, and prints every BleepStore
// figure beside the ceiling's and as a ratio to it. With --endpoint it measures any S3 server.
// See --help (bench/options.ts) and bench/suite.ts for the workloads.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeLargeSource } from './large-source.js';
import type { Target, TargetKind } from './load-client.js';
import { listKeys, type ListBucketPlan } from './list-phases.js';
import { parseOptions, type Engine, type Options } from './options.js';
import { populateDataDirectory } from './populate-sqlite.js';
import { Progress } from './progress.js';
import { jsonReport, renderReport, type EngineResult, type TargetRun } from './report.js';
import { spawnServer, type ServerProcess } from './server-process.js';
import { BenchSigner } from './sigv4-signer.js';
import { cleanUpRemote, runSuite, type PopulateInfo, type SuitePlan, type WrittenKeys } from './suite.js';

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

/** A fresh data directory with its config; with `prePopulate`, list buckets are written into it first. */
async function prepareBleepStore(dir: string, engine: Engine, o: Options, listBuckets: readonly ListBucketPlan[], prePopulate: boolean): Promise<{ config: string; populated: PopulateInfo[] }> {
  const data = mkdtempSync(join(dir, `bleepstore-${engine}-`));
  const config = join(data, 'config.yaml');
  const dbPath = join(data, 'metadata.db');
  const objectsRoot = join(data, 'objects');
  // JSON is valid YAML and needs no quoting care for temp paths.
  const doc = {
    server: { host: '127.0.0.1', port: 0, http_engine: engine, shutdown_timeout: 2, region: o.region },
    auth: { access_key: o.accessKey, secret_key: o.secretKey },
    metadata: { engine: 'sqlite', sqlite: { path: dbPath } },
    storage: { backend: 'local', local: { root_dir: objectsRoot } },
  };
  writeFileSync(config, JSON.stringify(doc, null, 2));
  const populated: PopulateInfo[] = [];
  if (prePopulate && listBuckets.length > 0) {
    const buckets = listBuckets.map((b) => ({ bucket: b.bucket, keys: listKeys(b) }));
    const seconds = await populateDataDirectory({ dbPath, objectsRoot, accessKey: o.accessKey, region: o.region, buckets });
    // One transaction for all buckets: the time is shared out by key count.
    const total = buckets.reduce((n, b) => n + b.keys.length, 0);
    for (const b of buckets) populated.push({ bucket: b.bucket, keys: b.keys.length, mode: 'sqlite', seconds: (seconds * b.keys.length) / total });
  }
  return { config, populated };
}

function startBleepStore(config: string): Promise<ServerProcess> {
  return spawnServer(fileURLToPath(new URL('../src/cli.js', import.meta.url)), ['--config', config], BLEEPSTORE_READY);
}

function startCeilingProcess(engine: Engine): Promise<ServerProcess> {
  return spawnServer(fileURLToPath(new URL('./ceiling.js', import.meta.url)), ['--engine', engine, '--exit-with-stdin'], CEILING_READY, { stdinLifeline: true });
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const progress = new Progress(o.quiet);
  const dir = mkdtempSync(join(tmpdir(), 'bleepstore-bench-'));
  const runId = Date.now().toString(36);
  let interrupted = false;
  const onSignal = (): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
    progress.end();
    process.stderr.write('interrupted: stopping servers and removing temp files\n');
    Promise.allSettled([...running].map((s) => s.stop())).finally(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const startedAt = new Date();
  const results: EngineResult[] = [];
  try {
    const needSource = o.workloads.has('large') || o.workloads.has('multipart');
    let source: SuitePlan['source'];
    if (needSource) {
      const par = o.parallel;
      const wanted = [
        { key: `${runId}-large`, start: 0, size: o.largeSize },
        { key: `${runId}-multipart`, start: 0, size: o.multipartSize },
        ...(par ? Array.from({ length: par.count }, (_, i) => ({ key: `${runId}-par-${String(i).padStart(2, '0')}`, start: i * par.size, size: par.size })) : []),
      ];
      progress.log(`writing the large-object source file (${(Math.max(...wanted.map((w) => w.start + w.size)) / 1024 ** 2).toFixed(0)} MiB)`);
      const written = writeLargeSource(dir, wanted);
      const [single, multipart, ...parallel] = written.objects;
      if (!single || !multipart) throw new Error('large source has no objects');
      source = { file: written.file, single, multipart, parallel };
    }
    // Bucket names are unique per run so a remote endpoint's existing buckets are never touched.
    const listBuckets: ListBucketPlan[] = o.listKeys.map((keyCount) => ({
      bucket: `bench-${runId}-list-${keyCount >= 1000 && keyCount % 1000 === 0 ? `${keyCount / 1000}k` : keyCount}`,
      keyCount,
      prefixCount: Math.ceil(keyCount / o.keysPerPrefix),
    }));
    const plan: SuitePlan = { smallBucket: `bench-${runId}`, keyPrefix: runId, source, listBuckets };
    const signer = new BenchSigner(o.accessKey, o.secretKey, o.region);

    const runTarget = async (kind: TargetKind, engine: Engine | undefined, server: ServerProcess | undefined, prePopulated: PopulateInfo[] = []): Promise<TargetRun> => {
      const endpoint = o.endpoint;
      const host = server?.host ?? endpoint?.hostname ?? '127.0.0.1';
      const port = server?.port ?? Number(endpoint?.port || 80);
      const t: Target = { kind, host, port, signer, serverPid: server?.pid ?? (kind === 'endpoint' ? o.serverPid : undefined), progress };
      progress.log(`  ${kind}${engine ? ` (${engine})` : ''} on ${host}:${port}${server ? ` pid ${server.pid}` : ''}`);
      const written: WrittenKeys = new Map();
      const populate = kind === 'ceiling' ? 'none' : kind === 'bleepstore' && o.populate !== 'http' ? 'done' : 'http';
      try {
        const suite = await runSuite(t, o, plan, populate, prePopulated, written);
        return { kind, engine, banner: server?.banner ?? endpoint?.href ?? '', suite };
      } finally {
        // A local server's data dies with its temp dir; a remote one is cleaned explicitly.
        if (kind === 'endpoint') {
          progress.log(`  cleaning up ${[...written.values()].reduce((n, s) => n + s.size, 0)} objects in ${written.size} buckets`);
          await cleanUpRemote(t, written);
        }
      }
    };

    if (o.endpoint) {
      const main = await runTarget('endpoint', undefined, undefined);
      const ceilingEngine = o.ceilingEngine;
      const ceiling = ceilingEngine ? await withServer(() => startCeilingProcess(ceilingEngine), (s) => runTarget('ceiling', ceilingEngine, s)) : undefined;
      results.push({ engine: ceilingEngine, main, ceiling });
    } else {
      for (const engine of o.engines) {
        progress.log(`engine ${engine}:`);
        const ceiling = o.ceiling ? await withServer(() => startCeilingProcess(engine), (s) => runTarget('ceiling', engine, s)) : undefined;
        const prePopulate = o.workloads.has('list') && o.populate !== 'http';
        if (prePopulate) progress.log(`  writing ${o.listKeys.map((k) => k.toLocaleString('en-US')).join(' + ')} list keys into a new BleepStore's SQLite metadata`);
        const prepared = await prepareBleepStore(dir, engine, o, listBuckets, prePopulate);
        const main = await withServer(
          () => startBleepStore(prepared.config),
          async (s) => {
            if (!s.banner.includes(`engine=${engine}`)) progress.log(`  WARNING: asked for engine ${engine}, server says: ${s.banner}`);
            return runTarget('bleepstore', engine, s, prepared.populated);
          },
        );
        results.push({ engine, main, ceiling });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const seconds = (Date.now() - startedAt.getTime()) / 1000;
  process.stdout.write(renderReport(results, o, startedAt, seconds));
  if (o.json) {
    writeFileSync(o.json, JSON.stringify(jsonReport(results, o, startedAt, seconds), null, 2) + '\n');
    progress.log(`wrote ${o.json}`);
  }
  const failed = results.some((r) => r.main.suite.phases.some((p) => p.ops === 0 || p.errors > 0));
  process.exitCode = failed ? 1 : 0;
}

main().catch((e: Error) => {
  process.stderr.write(`bench: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
