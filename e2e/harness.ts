// Starts the real BleepStore server (dist/src/cli.js) as a child process on a private temp
// data dir, for end-to-end tests. Every e2e file runs its suite once per selected HTTP engine,
// against the metadata engine and storage backend selected for this run (e2e/matrix.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'node:http';
import { backendSections, SELECTED_HTTP_ENGINES, type HttpEngine } from './matrix.js';

export const ENGINES: readonly Engine[] = SELECTED_HTTP_ENGINES;
export type Engine = HttpEngine;

export const ACCESS_KEY = 'bleepstore';
export const SECRET_KEY = 'bleepstore-secret';
export const REGION = 'us-east-1';

/** dist/e2e/harness.js -> dist/src/cli.js */
const CLI_PATH = resolve(dirname(fileURLToPath(import.meta.url)), '../src/cli.js');
const START_TIMEOUT_MS = 30_000;
const LOG_LIMIT = 256 * 1024;
const RESTART_MARKER = '\n--- restart ---\n';
const READY_LINE = /Starting BleepStore on ([^\s:]+|\[[^\]]+\]):(\d+)/;

// Children still running when the test process exits are killed, so a failed test never leaks
// a server holding a port or a temp dir.
const liveChildren = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});

export interface StartOptions {
  engine: Engine;
  /** Reuse an existing data dir (e.g. after a crash); default: a fresh temp dir. */
  dataDir?: string;
}

export class ServerHandle {
  readonly engine: Engine;
  /** Parent of everything the server writes: config, metadata.db, objects/. */
  readonly dataDir: string;
  /** storage.local.root_dir */
  readonly rootDir: string;
  readonly configPath: string;
  port = 0;
  private child: ChildProcess | undefined;
  private log = '';
  private exited: Promise<number | null> = Promise.resolve(null);
  private readonly ownsDataDir: boolean;

  private constructor(engine: Engine, dataDir: string, ownsDataDir: boolean) {
    this.engine = engine;
    this.dataDir = dataDir;
    this.ownsDataDir = ownsDataDir;
    this.rootDir = join(dataDir, 'objects');
    this.configPath = join(dataDir, 'bleepstore.yaml');
  }

  static async start(options: StartOptions): Promise<ServerHandle> {
    const owns = options.dataDir === undefined;
    const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), `bleepstore-e2e-${options.engine}-`));
    const handle = new ServerHandle(options.engine, dataDir, owns);
    await handle.writeConfig();
    try {
      await handle.spawnAndWait();
    } catch (e) {
      await handle.stop(); // kills a half-started process and removes a temp dir we created
      throw e;
    }
    return handle;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    const pid = this.child?.pid;
    if (pid === undefined) throw new Error('server is not running');
    return pid;
  }

  get tmpDir(): string {
    return join(this.rootDir, '.tmp');
  }

  /** Server stdout+stderr so far (last 256 KiB), for failure messages. */
  logs(): string {
    return this.log;
  }

  /** Output of the current (or last) process only, i.e. since the last (re)start. */
  currentRunLog(): string {
    const marker = this.log.lastIndexOf(RESTART_MARKER);
    return marker < 0 ? this.log : this.log.slice(marker + RESTART_MARKER.length);
  }

  isRunning(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Files currently in {root_dir}/.tmp (a missing directory counts as empty). */
  tmpFiles(): string[] {
    return existsSync(this.tmpDir) ? readdirSync(this.tmpDir) : [];
  }

  private async writeConfig(): Promise<void> {
    const { metadata, storage } = await backendSections(this.dataDir);
    // JSON is YAML: the sections are written as flow mappings.
    const yaml = [
      `server: {host: "127.0.0.1", port: 0, region: "${REGION}", http_engine: "${this.engine}"}`,
      `auth: {access_key: "${ACCESS_KEY}", secret_key: "${SECRET_KEY}"}`,
      `metadata: ${JSON.stringify(metadata)}`,
      `storage: ${JSON.stringify(storage)}`,
      '',
    ].join('\n');
    writeFileSync(this.configPath, yaml);
  }

  private appendLog(chunk: Buffer): void {
    this.log += chunk.toString('utf8');
    if (this.log.length > LOG_LIMIT) this.log = this.log.slice(-LOG_LIMIT);
  }

  private async spawnAndWait(): Promise<void> {
    if (!existsSync(CLI_PATH)) throw new Error(`server not built: ${CLI_PATH} is missing (run tsc)`);
    const child = spawn(process.execPath, [CLI_PATH, '--config', this.configPath, '--port', '0', '--host', '127.0.0.1'], {
      cwd: this.dataDir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    liveChildren.add(child);
    this.exited = new Promise((resolveExit) => {
      child.once('exit', (code) => {
        liveChildren.delete(child);
        resolveExit(code);
      });
    });

    const port = await new Promise<number>((resolvePort, reject) => {
      let stdoutBuffer = '';
      const timer = setTimeout(() => {
        reject(new Error(`server did not print its ready line within ${START_TIMEOUT_MS} ms:\n${this.log}`));
      }, START_TIMEOUT_MS);
      child.stdout?.on('data', (chunk: Buffer) => {
        this.appendLog(chunk);
        stdoutBuffer += chunk.toString('utf8');
        const match = READY_LINE.exec(stdoutBuffer);
        if (match) {
          clearTimeout(timer);
          stdoutBuffer = '';
          resolvePort(Number(match[2]));
        } else if (stdoutBuffer.length > LOG_LIMIT) {
          stdoutBuffer = stdoutBuffer.slice(-1024);
        }
      });
      child.stderr?.on('data', (chunk: Buffer) => this.appendLog(chunk));
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`server exited before listening (code ${code}, signal ${signal}):\n${this.log}`));
      });
    });
    this.port = port;
    if (port === 0) throw new Error(`server reported port 0; expected the bound port:\n${this.log}`);
    await this.waitHealthy();
  }

  private async waitHealthy(): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    let lastError = '';
    while (Date.now() < deadline) {
      if (!this.isRunning()) throw new Error(`server died during startup:\n${this.log}`);
      try {
        const status = await getStatus(`${this.endpoint}/healthz`);
        if (status === 200) return;
        lastError = `GET /healthz -> ${status}`;
      } catch (e) {
        lastError = (e as Error).message;
      }
      await sleep(50);
    }
    throw new Error(`server never became healthy (${lastError}):\n${this.log}`);
  }

  /**
   * True when the process runs and answers /healthz. When the probe fails, waits up to 2 s for
   * the process to exit, so a server that is crashing right now is reported as dead.
   */
  async checkAlive(): Promise<boolean> {
    if (!this.isRunning()) return false;
    try {
      if ((await getStatus(`${this.endpoint}/healthz`)) === 200) return true;
    } catch {
      // fall through
    }
    await Promise.race([this.exited, sleep(2000)]);
    return this.isRunning();
  }

  /** Graceful stop (SIGTERM), then SIGKILL after 10 s. Removes the temp data dir if we made it. */
  async stop(options: { keepData?: boolean } = {}): Promise<void> {
    if (this.isRunning()) {
      this.child?.kill('SIGTERM');
      const killer = setTimeout(() => this.child?.kill('SIGKILL'), 10_000);
      await this.exited;
      clearTimeout(killer);
    }
    if (this.ownsDataDir && !options.keepData) rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** kill -9 the server process and wait until it is gone. Data dir stays. */
  async kill9(): Promise<void> {
    if (!this.isRunning()) return;
    this.child?.kill('SIGKILL');
    await this.exited;
  }

  /** Starts a new server process on the same data dir (after stop({keepData}) or kill9). The port changes. */
  async restart(): Promise<void> {
    if (this.isRunning()) await this.kill9();
    this.log += RESTART_MARKER;
    await this.spawnAndWait();
  }
}

export function startServer(engine: Engine): Promise<ServerHandle> {
  return ServerHandle.start({ engine });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function getStatus(url: string): Promise<number> {
  return new Promise((resolveStatus, reject) => {
    const req = request(url, { method: 'GET', agent: false, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolveStatus(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('healthz timed out')));
    req.on('error', reject);
    req.end();
  });
}
