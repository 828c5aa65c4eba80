// A BleepStore child process under full control of the lifecycle and crash tests: our own YAML
// (TTL, shutdown timeout) over this run's engines (e2e/matrix.ts), signals, exit code, and
// restarts on the same data dir.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { backendSections } from './matrix.js';

const CLI_PATH = resolve(dirname(fileURLToPath(import.meta.url)), '../src/cli.js');
const READY_LINE = /Starting BleepStore on [^\s]+:(\d+)/;
const START_TIMEOUT_MS = 30_000;
const LOG_LIMIT = 256 * 1024;

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export interface LifecycleConfig {
  engine: 'uws' | 'node';
  shutdownTimeout?: number;
  multipartTtlSeconds?: number;
}

export class LifecycleServer {
  readonly dataDir: string;
  readonly rootDir: string;
  port = 0;
  /** Milliseconds from spawn to the ready line of the last start. */
  startupMs = 0;
  private child: ChildProcess | undefined;
  private exitPromise: Promise<{ code: number | null; signal: NodeJS.Signals | null }> = Promise.resolve({ code: null, signal: null });
  private log = '';

  constructor(dataDir?: string) {
    this.dataDir = dataDir ?? mkdtempSync(join(tmpdir(), 'bleepstore-lifecycle-'));
    this.rootDir = join(this.dataDir, 'objects');
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    const pid = this.child?.pid;
    if (pid === undefined) throw new Error('not running');
    return pid;
  }

  logs(): string {
    return this.log;
  }

  running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves when the process has exited. */
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.exitPromise;
  }

  /** Writes the config and starts the server; resolves once it prints its ready line. */
  async start(config: LifecycleConfig): Promise<void> {
    const configPath = join(this.dataDir, 'bleepstore.yaml');
    const sections = await backendSections(this.dataDir);
    const metadata = { ...sections.metadata, multipart_ttl_seconds: config.multipartTtlSeconds ?? 604800 };
    const yaml = [
      `server: {host: "127.0.0.1", port: 0, http_engine: "${config.engine}", shutdown_timeout: ${config.shutdownTimeout ?? 30}}`,
      `metadata: ${JSON.stringify(metadata)}`,
      `storage: ${JSON.stringify(sections.storage)}`,
      'logging: {level: "warn"}',
      '',
    ].join('\n');
    writeFileSync(configPath, yaml);
    const started = performance.now();
    const child = spawn(process.execPath, [CLI_PATH, '--config', configPath], { cwd: this.dataDir, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    live.add(child);
    this.exitPromise = new Promise((resolveExit) => {
      child.once('exit', (code, signal) => {
        live.delete(child);
        resolveExit({ code, signal });
      });
    });
    const append = (c: Buffer): void => {
      this.log += c.toString('utf8');
      if (this.log.length > LOG_LIMIT) this.log = this.log.slice(-LOG_LIMIT);
    };
    child.stderr?.on('data', append);
    this.port = await new Promise<number>((resolvePort, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`no ready line within ${START_TIMEOUT_MS} ms:\n${this.log}`)), START_TIMEOUT_MS);
      child.stdout?.on('data', (c: Buffer) => {
        append(c);
        out += c.toString('utf8');
        const m = READY_LINE.exec(out);
        if (m) {
          clearTimeout(timer);
          resolvePort(Number(m[1]));
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`server exited during startup (${code ?? signal}):\n${this.log}`));
      });
    });
    this.startupMs = performance.now() - started;
  }

  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  async kill9(): Promise<void> {
    if (!this.running()) return;
    this.child?.kill('SIGKILL');
    await this.exitPromise;
  }

  /** Files directly under {root}/.tmp. */
  tmpFiles(): string[] {
    const dir = join(this.rootDir, '.tmp');
    return existsSync(dir) ? readdirSync(dir) : [];
  }

  /** Upload directories under {root}/.multipart. */
  partDirs(): string[] {
    const dir = join(this.rootDir, '.multipart');
    return existsSync(dir) ? readdirSync(dir) : [];
  }

  async destroy(): Promise<void> {
    await this.kill9();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** True when a TCP connect to the port is refused. */
export function connectionRefused(port: number): Promise<boolean> {
  return new Promise((resolveRefused) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolveRefused(false);
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolveRefused(e.code === 'ECONNREFUSED'));
  });
}

/** Resident set size of a process in bytes (Linux /proc). */
export async function rssBytes(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  return kb === undefined ? 0 : Number(kb) * 1024;
}
