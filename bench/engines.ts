// Per-engine and per-backend figures (`npm run bench:engines`): the same short load profile run
// against BleepStore on every metadata engine (with local disk) and every storage backend (with
// SQLite metadata), each cloud one against its real local server from test/servers/ (the same
// servers the tests use, so these figures measure BleepStore plus an emulator on this machine,
// not the cloud service). Every figure is also given as a ratio to the default configuration
// (sqlite + local) measured in the same run.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { MetadataEngineName, StorageBackendName } from '../src/config.js';
import { isCloudMetadataEngine, isCloudStorageBackend, startPeer } from '../test/servers/index.js';
import type { ConfigPatch, TestPeer } from '../test/servers/types.js';
import type { PhaseResult } from './load-client.js';
import { spawnServer } from './server-process.js';
import { fmt, formatTable } from './table.js';

const USAGE = `Usage: node dist/bench/engines.js [options]      (npm run bench:engines -- [options])
  --metadata LIST   metadata engines on local disk (default sqlite,memory,local,dynamodb,firestore,cosmos)
  --storage LIST    storage backends on sqlite metadata (default local,memory,sqlite,aws,azure,gcp)
  --duration SECS   each timed phase (default 3)
  --large-size SIZE the large object (default 256MiB)
  --list-keys N     keys in the listed bucket (default 2000)
  --json FILE       also write every figure as JSON`;

const BLEEPSTORE_READY = /Starting BleepStore on ([^\s:]+):(\d+) \([^)]*\)/;
const ACCESS_KEY = 'bleepstore';
const SECRET_KEY = 'bleepstore-secret';

interface Target {
  label: string;
  metadata: MetadataEngineName;
  storage: StorageBackendName;
  /** Whether to measure the large-object transfer (storage backends only: metadata does not move bytes). */
  large: boolean;
}

interface TargetResult {
  target: Target;
  peer: string | undefined;
  phases: PhaseResult[];
  error?: string;
}

function sectionsFor(t: Target, dataDir: string): ConfigPatch {
  const metadata: Record<string, unknown> = { engine: t.metadata };
  if (t.metadata === 'sqlite') metadata.sqlite = { path: join(dataDir, 'metadata.db') };
  if (t.metadata === 'local') metadata.local = { root_dir: join(dataDir, 'meta') };
  const storage: Record<string, unknown> = { backend: t.storage };
  if (t.storage === 'local') storage.local = { root_dir: join(dataDir, 'objects') };
  return { metadata, storage } as ConfigPatch;
}

function runLoad(args: string[]): Promise<void> {
  const script = fileURLToPath(new URL('./load.js', import.meta.url));
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [script, ...args], { maxBuffer: 64 * 1024 * 1024 }, (error, _stdout, stderr) => {
      if (error) reject(new Error(`${error.message}\n${stderr.slice(-2000)}`));
      else resolve();
    });
  });
}

async function measure(t: Target, o: { durationSecs: number; largeSize: string; listKeys: number }, workDir: string): Promise<TargetResult> {
  const dataDir = mkdtempSync(join(workDir, `${t.metadata}-${t.storage}-`));
  let peer: TestPeer | undefined;
  let server: Awaited<ReturnType<typeof spawnServer>> | undefined;
  try {
    const sections = sectionsFor(t, dataDir);
    const cloud = isCloudMetadataEngine(t.metadata) ? t.metadata : isCloudStorageBackend(t.storage) ? t.storage : undefined;
    if (cloud) {
      peer = await startPeer(cloud);
      const ns = await peer.namespace(`bench-${Date.now().toString(36)}`);
      if (isCloudMetadataEngine(t.metadata)) sections.metadata = { ...sections.metadata, ...ns.metadata };
      else sections.storage = { ...sections.storage, ...ns.storage };
    }
    const config = join(dataDir, 'config.json');
    const doc = {
      server: { host: '127.0.0.1', port: 0, http_engine: 'uws', shutdown_timeout: 2 },
      auth: { access_key: ACCESS_KEY, secret_key: SECRET_KEY },
      logging: { level: 'warn' },
      ...sections,
    };
    writeFileSync(config, JSON.stringify(doc, null, 2));
    server = await spawnServer(fileURLToPath(new URL('../src/cli.js', import.meta.url)), ['--config', config], BLEEPSTORE_READY, { timeoutMs: 60_000 });
    const json = join(dataDir, 'figures.json');
    await runLoad([
      '--endpoint', `http://127.0.0.1:${server.port}`, '--server-pid', String(server.pid), '--quiet', '--json', json,
      '--workloads', t.large ? 'small,list,large' : 'small,list', '--concurrency', '16', '--duration', String(o.durationSecs),
      '--list-keys', String(o.listKeys), '--keys-per-prefix', '100', '--populate', 'http',
      '--large-size', o.largeSize, '--large-repeat', '1',
    ]);
    const report = JSON.parse(readFileSync(json, 'utf8')) as { runs: { phases: PhaseResult[] }[] };
    return { target: t, peer: peer?.name, phases: report.runs[0]?.phases ?? [] };
  } catch (e) {
    return { target: t, peer: peer?.name, phases: [], error: (e as Error).message.split('\n').slice(0, 3).join(' ') };
  } finally {
    await server?.stop();
    await peer?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The headline figure of one phase, picked by name. */
function figure(r: TargetResult, pick: (p: PhaseResult) => boolean, rate: (p: PhaseResult) => number): number | undefined {
  const p = r.phases.find(pick);
  return p === undefined ? undefined : rate(p);
}

const COLUMNS: { title: string; pick: (p: PhaseResult) => boolean; rate: (p: PhaseResult) => number }[] = [
  { title: 'PUT 4KiB ops/s', pick: (p) => p.workload === 'small' && p.name.startsWith('PUT'), rate: (p) => p.opsPerSec },
  { title: 'GET 4KiB ops/s', pick: (p) => p.workload === 'small' && p.name.startsWith('GET'), rate: (p) => p.opsPerSec },
  { title: 'LIST pages/s', pick: (p) => p.workload === 'list' && !p.name.includes('→'), rate: (p) => p.opsPerSec },
  { title: 'LIST / pages/s', pick: (p) => p.workload === 'list' && p.name.includes('→'), rate: (p) => p.opsPerSec },
  { title: 'PUT large MiB/s', pick: (p) => p.workload === 'large' && p.name.startsWith('PUT'), rate: (p) => p.mibPerSec },
  { title: 'GET large MiB/s', pick: (p) => p.workload === 'large' && p.name.startsWith('GET'), rate: (p) => p.mibPerSec },
];

function render(results: TargetResult[]): string {
  const baseline = results.find((r) => r.target.metadata === 'sqlite' && r.target.storage === 'local');
  const rows = results.map((r) => [
    r.target.label,
    r.peer ?? '-',
    ...COLUMNS.map((c) => {
      const v = figure(r, c.pick, c.rate);
      if (v === undefined) return r.error ? 'error' : '-';
      const base = baseline && baseline !== r ? figure(baseline, c.pick, c.rate) : undefined;
      return base ? `${fmt(v, 3)} (${(v / base).toFixed(2)}×)` : fmt(v, 3);
    }),
  ]);
  const errors = results.filter((r) => r.error).map((r) => `${r.target.label}: ${r.error}`);
  return [
    formatTable(['configuration', 'peer server', ...COLUMNS.map((c) => c.title)], rows),
    'Ratios are to sqlite + local measured in the same run; 16 connections; uws engine.',
    ...errors,
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      metadata: { type: 'string', default: 'sqlite,memory,local,dynamodb,firestore,cosmos' },
      storage: { type: 'string', default: 'local,memory,sqlite,aws,azure,gcp' },
      duration: { type: 'string', default: '3' },
      'large-size': { type: 'string', default: '256MiB' },
      'list-keys': { type: 'string', default: '2000' },
      json: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const targets: Target[] = [];
  for (const m of values.metadata.split(',').filter(Boolean)) targets.push({ label: `metadata ${m}`, metadata: m as MetadataEngineName, storage: 'local', large: false });
  for (const s of values.storage.split(',').filter(Boolean)) {
    const existing = targets.find((t) => t.metadata === 'sqlite' && t.storage === s);
    if (existing) {
      existing.large = true;
      existing.label = 'sqlite + local (baseline)';
    } else {
      targets.push({ label: `storage ${s}`, metadata: 'sqlite', storage: s as StorageBackendName, large: true });
    }
  }
  const workDir = mkdtempSync(join(tmpdir(), 'bleepstore-bench-engines-'));
  const results: TargetResult[] = [];
  try {
    for (const t of targets) {
      process.stderr.write(`measuring ${t.label} ...\n`);
      results.push(await measure(t, { durationSecs: Number(values.duration), largeSize: values['large-size'], listKeys: Number(values['list-keys']) }, workDir));
    }
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
  console.log(render(results));
  if (values.json) writeFileSync(values.json, JSON.stringify({ date: new Date().toISOString(), results }, null, 2) + '\n');
  if (results.some((r) => r.error)) process.exitCode = 1;
}

await main();
