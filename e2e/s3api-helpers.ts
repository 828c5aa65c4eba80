// Shared pieces of the s3api-* e2e suites: private config files for the external clients
// (aws-cli, rclone, s3cmd), a seeded tree of small files and a byte-for-byte tree comparison.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ACCESS_KEY, SECRET_KEY, REGION } from './harness.js';
import { clientEnv, runProcess, missingClient, type ProcessResult } from './clients.js';
import { listFilesRecursive } from './files.js';

export const PIP_AWS = 'aws';
export const DEBIAN_AWS = '/usr/bin/aws';
export const PIP_PYTHON = 'python3';
export const DEBIAN_PYTHON = '/usr/bin/python3';
export const RCLONE = 'rclone';
export const S3CMD = 's3cmd';

/** True when `command args` starts and exits 0 (the client is installed and runs). */
export async function clientWorks(command: string, args: string[]): Promise<boolean> {
  try {
    return (await runProcess(command, args, { env: clientEnv(), timeoutMs: 60_000 })).code === 0;
  } catch {
    return false;
  }
}

/**
 * A missing client fails under CI (where .ci/run installs it) and skips loudly elsewhere.
 * Returns true when the caller should go on.
 */
export async function requireClient(t: { skip: (message: string) => void }, command: string, args: string[]): Promise<boolean> {
  if (await clientWorks(command, args)) return true;
  const missing = missingClient(command);
  if (missing.fail) assert.fail(missing.message);
  t.skip(`NOT TESTED: ${missing.message}`);
  return false;
}

export function expectExit0(r: ProcessResult, what: string): string {
  assert.equal(r.code, 0, `${what} failed (exit ${r.code}, signal ${r.signal}):\nstderr: ${r.stderr.slice(-4000)}\nstdout: ${r.stdout.slice(-2000)}`);
  return r.stdout;
}

/** aws-cli with a private config (never ~/.aws), path-style addressing and no retries. */
export function awsCli(workDir: string, command: string, endpoint: string, s3Settings: Record<string, string> = {}) {
  const configFile = join(workDir, `aws-config-${command.replace(/\W/g, '_')}-${Object.keys(s3Settings).length}`);
  const s3Lines = Object.entries({ addressing_style: 'path', ...s3Settings }).map(([k, v]) => `    ${k} = ${v}`);
  writeFileSync(configFile, ['[default]', `region = ${REGION}`, 'output = json', 'max_attempts = 1', 's3 =', ...s3Lines, ''].join('\n'));
  const env = clientEnv({ AWS_CONFIG_FILE: configFile, AWS_SHARED_CREDENTIALS_FILE: join(workDir, 'no-credentials') });
  const run = (args: string[], timeoutMs = 300_000): Promise<ProcessResult> =>
    runProcess(command, ['--endpoint-url', endpoint, ...args], { env, cwd: workDir, timeoutMs });
  const ok = async (...args: string[]): Promise<string> => expectExit0(await run(args), `${command} ${args.join(' ')}`);
  const json = async <T = Record<string, unknown>>(...args: string[]): Promise<T> => {
    const out = await ok(...args);
    return (out.trim() === '' ? {} : JSON.parse(out)) as T;
  };
  return { run, ok, json, env };
}

/** rclone with a private config file naming the remote `bleep`; AWS_CA_BUNDLE is never passed. */
export function rcloneCli(workDir: string, endpoint: string) {
  const configFile = join(workDir, 'rclone.conf');
  writeFileSync(
    configFile,
    [
      '[bleep]',
      'type = s3',
      'provider = Other',
      `access_key_id = ${ACCESS_KEY}`,
      `secret_access_key = ${SECRET_KEY}`,
      `endpoint = ${endpoint}`,
      `region = ${REGION}`,
      'force_path_style = true',
      '',
    ].join('\n'),
  );
  const env = clientEnv();
  const run = (args: string[], timeoutMs = 300_000): Promise<ProcessResult> =>
    runProcess(RCLONE, ['--config', configFile, '--retries', '1', '--low-level-retries', '1', ...args], { env, cwd: workDir, timeoutMs });
  const ok = async (...args: string[]): Promise<string> => expectExit0(await run(args), `rclone ${args.join(' ')}`);
  return { run, ok };
}

/** s3cmd with a private config: path style (host_bucket without %(bucket)s), SigV4, plain http. */
export function s3cmdCli(workDir: string, endpoint: string) {
  const host = new URL(endpoint).host;
  const configFile = join(workDir, 's3cmd.cfg');
  writeFileSync(
    configFile,
    [
      '[default]',
      `access_key = ${ACCESS_KEY}`,
      `secret_key = ${SECRET_KEY}`,
      `host_base = ${host}`,
      `host_bucket = ${host}`,
      `bucket_location = ${REGION}`,
      'use_https = False',
      'signature_v2 = False',
      'multipart_chunk_size_mb = 5',
      'max_retries = 1',
      '',
    ].join('\n'),
  );
  const env = clientEnv();
  const run = (args: string[], timeoutMs = 300_000): Promise<ProcessResult> =>
    runProcess(S3CMD, ['-c', configFile, '--no-progress', ...args], { env, cwd: workDir, timeoutMs });
  const ok = async (...args: string[]): Promise<string> => expectExit0(await run(args), `s3cmd ${args.join(' ')}`);
  return { run, ok };
}

/** mulberry32, so a tree is the same on every run with the same seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAME_STYLES = [
  (i: number) => `file-${i}.txt`,
  (i: number) => `with space ${i}.bin`,
  (i: number) => `plus+sign+${i}`,
  (i: number) => `pct%25and%${i}`,
  (i: number) => `ünïcødé-${i}.dat`,
  (i: number) => `日本語-${i}`,
  (i: number) => `emoji-😀-${i}`,
  (i: number) => `under_score_${i}`,
  (i: number) => `tilde~${i}.x`,
] as const;

export interface TreeOptions {
  /** Name styles to use (indexes into the list above); all by default. */
  styles?: readonly number[];
  maxSize?: number;
}

/** Writes `count` small files in nested folders; returns relative path -> sha256. */
export function writeTree(root: string, count: number, seed: number, options: TreeOptions = {}): Map<string, string> {
  const rand = prng(seed);
  const styles = options.styles ?? NAME_STYLES.map((_, i) => i);
  const maxSize = options.maxSize ?? 4096;
  const files = new Map<string, string>();
  for (let i = 0; i < count; i++) {
    const depth = Math.floor(rand() * 3);
    const dirs = Array.from({ length: depth }, (_, d) => `d${d}-${Math.floor(rand() * 4)}`);
    const style = NAME_STYLES[styles[Math.floor(rand() * styles.length)] as number] as (i: number) => string;
    const rel = join(...dirs, style(i));
    const size = i % 97 === 0 ? 0 : Math.floor(rand() * maxSize);
    const data = Buffer.alloc(size);
    for (let b = 0; b < size; b++) data[b] = Math.floor(rand() * 256);
    const path = join(root, rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, data);
    files.set(rel, sha256(data));
  }
  return files;
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Asserts `dir` holds exactly the expected files with the expected bytes. */
export function assertTreeEquals(dir: string, expected: ReadonlyMap<string, string>, what: string): void {
  const actual = listFilesRecursive(dir).sort();
  const wanted = [...expected.keys()].sort();
  const missing = wanted.filter((f) => !actual.includes(f));
  const extra = actual.filter((f) => !expected.has(f));
  assert.deepEqual({ missing: missing.slice(0, 20), extra: extra.slice(0, 20) }, { missing: [], extra: [] }, `${what}: file sets differ (${missing.length} missing, ${extra.length} extra)`);
  const differing = wanted.filter((f) => sha256(readFileSync(join(dir, f))) !== expected.get(f));
  assert.deepEqual(differing.slice(0, 20), [], `${what}: ${differing.length} files differ in content`);
}
