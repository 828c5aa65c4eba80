// Spawning, port-waiting and stopping of the test peers' server processes. Every process started
// here is stopped by PID: on stop(), and with SIGKILL when the test process exits.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createServer, connect } from 'node:net';

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface PeerProcess {
  readonly pid: number;
  readonly port: number;
  /** stdout+stderr so far (last 64 KiB), for error messages. */
  output(): string;
  stop(): Promise<void>;
}

export interface SpawnPeerOptions {
  /** For messages, e.g. 'DynamoDB Local'. */
  name: string;
  command: string;
  args: string[];
  /** The port the server will listen on; start() resolves once it accepts a TCP connection. */
  port: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
}

/** Starts a server process and waits until its port accepts connections; throws with its output otherwise. */
export async function spawnPeer(options: SpawnPeerOptions): Promise<PeerProcess> {
  const spawnOptions: SpawnOptions = { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] };
  const child = spawn(options.command, options.args, spawnOptions);
  live.add(child);
  let log = '';
  const append = (chunk: Buffer): void => {
    log = (log + chunk.toString('utf8')).slice(-64 * 1024);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  // A peer must not keep the test process alive: when the tests are done the process exits and
  // the exit hook above kills the peer by PID.
  child.unref();
  for (const stream of [child.stdout, child.stderr]) (stream as unknown as { unref?: () => void } | null)?.unref?.();
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      live.delete(child);
      resolve();
    });
  });
  let spawnError: Error | undefined;
  child.once('error', (e) => {
    spawnError = e;
  });

  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    if (spawnError) throw new Error(`${options.name}: cannot start ${options.command}: ${spawnError.message}`);
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${options.name} exited (code ${child.exitCode}, signal ${child.signalCode}) before listening on ${options.port}:\n${log}`);
    }
    if (await canConnect(options.port)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${options.name} did not listen on 127.0.0.1:${options.port} within ${options.timeoutMs ?? 60_000} ms:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    pid: child.pid ?? 0,
    port: options.port,
    output: () => log,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    },
  };
}
