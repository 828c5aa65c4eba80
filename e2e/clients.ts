// Client-side helpers: the JS SDK client for a test server, and the environment and process
// runner for external clients (boto3 scripts, aws-cli).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { S3Client } from '@aws-sdk/client-s3';
import { ACCESS_KEY, SECRET_KEY, REGION } from './harness.js';

/** @aws-sdk/client-s3 with default behaviour except path style and no retries (retries would hide server errors). */
export function sdkClient(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region: REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
    maxAttempts: 1,
  });
}

/** HTTP status of an SDK error (S3ServiceException carries $metadata). */
export function sdkErrorStatus(error: unknown): number | undefined {
  if (error && typeof error === 'object' && '$metadata' in error) {
    const meta = (error as { $metadata?: { httpStatusCode?: number } }).$metadata;
    return meta?.httpStatusCode;
  }
  return undefined;
}

export function sdkErrorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

/**
 * Environment for external S3 clients: the test credentials, and nothing from the user's AWS
 * setup (AWS_CA_BUNDLE breaks some clients; profiles and config files must not leak in).
 */
export function clientEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith('AWS_') || name.startsWith('BOTO_')) continue;
    env[name] = value;
  }
  return {
    ...env,
    AWS_ACCESS_KEY_ID: ACCESS_KEY,
    AWS_SECRET_ACCESS_KEY: SECRET_KEY,
    AWS_DEFAULT_REGION: REGION,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
    PYTHONUNBUFFERED: '1',
    ...extra,
  };
}

export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (no shell), capturing output. Rejects only if it cannot start or times out. */
export function runProcess(command: string, args: string[], options: { env: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number }): Promise<ProcessResult> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, { env: options.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} timed out after ${options.timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, options.timeoutMs ?? 120_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolveRun({ code, signal, stdout, stderr });
    });
  });
}

/**
 * How to treat a client that is not installed: outside CI the test is skipped with a loud
 * message; under CI (where .ci/run installs it) absence is a failure.
 */
export function missingClient(what: string): { fail: boolean; message: string } {
  const message = `${what} is not installed (.ci/run installs it with apt-get)`;
  return { fail: Boolean(process.env.CI), message };
}

export function executableExists(path: string): boolean {
  return existsSync(path);
}
