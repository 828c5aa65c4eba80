// `npm test`: the whole suite. First every unit test and the e2e suite in the default
// configuration (sqlite + local disk, both HTTP engines); then the e2e suite once per other
// metadata engine (on local disk) and per other storage backend (on sqlite), on the default HTTP
// engine, each against its real server (test/servers/). Prints a summary and fails if any run
// failed. `npm test -- storage:aws metadata:dynamodb` runs only the named runs ('default' is the
// first one).
//
// Runs go two at a time (BLEEPSTORE_TEST_JOBS, default min(2, cores)): each run is its own
// process tree with its own servers on free ports and temp dirs, and most of a run's time is
// spent waiting on client CLIs and emulators, so two at once nearly halve the wall time (CI's
// limit is 90 minutes: one at a time took 85, before matrix runs dropped the second client
// versions and gcp's 1 GiB objects; two at a time, with those cuts, 39 minutes here). A run's
// output is printed whole when it ends, so runs never interleave; with BLEEPSTORE_TEST_JOBS=1 it
// streams live instead.
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const DIST = resolve(dirname(fileURLToPath(import.meta.url)), '..');

interface Run {
  name: string;
  files: string[];
  env: Record<string, string>;
}

function testFiles(dir: string): string[] {
  return readdirSync(join(DIST, dir))
    .filter((f) => f.endsWith('.test.js'))
    .sort()
    .map((f) => join(DIST, dir, f));
}

const E2E = testFiles('e2e');
const RUNS: Run[] = [
  { name: 'default', files: [...testFiles('test'), ...E2E], env: {} },
  ...['memory', 'local', 'dynamodb', 'firestore', 'cosmos'].map((engine) => ({
    name: `metadata:${engine}`,
    files: E2E,
    env: { BLEEPSTORE_E2E_METADATA: engine, BLEEPSTORE_E2E_STORAGE: 'local', BLEEPSTORE_E2E_HTTP_ENGINES: 'uws' },
  })),
  ...['memory', 'sqlite', 'aws', 'azure', 'gcp'].map((backend) => ({
    name: `storage:${backend}`,
    files: E2E,
    env: { BLEEPSTORE_E2E_METADATA: 'sqlite', BLEEPSTORE_E2E_STORAGE: backend, BLEEPSTORE_E2E_HTTP_ENGINES: 'uws' },
  })),
];

interface Outcome {
  name: string;
  code: number | null;
  seconds: number;
  counts: Record<string, number>;
}

/** The totals the TAP reporter prints at the end ("# pass 12"). */
function tapCounts(path: string): Record<string, number> {
  const counts: Record<string, number> = {};
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return counts;
  }
  for (const m of text.matchAll(/^# (tests|pass|fail|cancelled|skipped|todo) (\d+)$/gm)) counts[m[1] ?? ''] = Number(m[2]);
  return counts;
}

async function execute(run: Run, tapDir: string, live: boolean): Promise<Outcome> {
  const base = join(tapDir, run.name.replace(/[^a-z0-9]/gi, '-'));
  const tap = `${base}.tap`;
  const args = ['--test', '--test-concurrency=1', '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tap}`, ...run.files];
  const title = `=== ${run.name}: ${run.files.length} test files ${JSON.stringify(run.env)} ===`;
  console.log(live ? `\n${title}\n` : `${new Date().toISOString().slice(11, 19)} started ${run.name}`);
  const started = Date.now();
  const log = live ? null : openSync(`${base}.log`, 'w');
  const code = await new Promise<number | null>((resolveCode) => {
    const child = spawn(process.execPath, args, { stdio: log === null ? 'inherit' : ['ignore', log, log], env: { ...process.env, ...run.env } });
    child.once('exit', (c) => resolveCode(c));
  });
  const seconds = (Date.now() - started) / 1000;
  if (log !== null) {
    closeSync(log);
    process.stdout.write(`\n${title}\n\n${readFileSync(`${base}.log`, 'utf8')}\n=== ${run.name}: exit ${code} after ${seconds.toFixed(0)} s ===\n\n`);
  }
  return { name: run.name, code, seconds, counts: tapCounts(tap) };
}

const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !RUNS.some((r) => r.name === w));
if (unknown.length > 0) {
  console.error(`unknown run(s): ${unknown.join(', ')}; known: ${RUNS.map((r) => r.name).join(', ')}`);
  process.exit(2);
}
const selected = wanted.length === 0 ? RUNS : RUNS.filter((r) => wanted.includes(r.name));
const tapDir = mkdtempSync(join(tmpdir(), 'bleepstore-test-run-'));
const jobs = Math.max(1, Number(process.env.BLEEPSTORE_TEST_JOBS) || Math.min(2, availableParallelism()));
const live = jobs === 1 || selected.length === 1;
const outcomes: Outcome[] = [];
const queue = [...selected]; // the default run, the longest, starts first
const started = Date.now();
await Promise.all(
  Array.from({ length: Math.min(jobs, queue.length) }, async () => {
    for (let run = queue.shift(); run !== undefined; run = queue.shift()) outcomes.push(await execute(run, tapDir, live));
  }),
);
outcomes.sort((a, b) => selected.findIndex((r) => r.name === a.name) - selected.findIndex((r) => r.name === b.name));
rmSync(tapDir, { recursive: true, force: true });

console.log(`\n=== summary: ${outcomes.length} runs, ${jobs} at a time, ${((Date.now() - started) / 1000).toFixed(0)} s ===`);
for (const o of outcomes) {
  const c = o.counts;
  const status = o.code === 0 ? 'ok  ' : 'FAIL';
  console.log(
    `${status} ${o.name.padEnd(18)} ${String(c.tests ?? '?').padStart(4)} tests, ${c.pass ?? '?'} pass, ${c.fail ?? '?'} fail, ${c.skipped ?? 0} skipped, ${c.todo ?? 0} todo, ${c.cancelled ?? 0} cancelled in ${o.seconds.toFixed(0)} s`,
  );
}
process.exit(outcomes.every((o) => o.code === 0) ? 0 : 1);
