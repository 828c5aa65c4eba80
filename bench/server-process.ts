// Spawns a server as a child process, waits for its "listening" line, and reads its CPU time
// and peak RSS from /proc so server and generator costs stay separate. Only the spawned PID
// is ever signalled.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ; `getconf CLK_TCK` is 100 on Linux x86-64

export interface ProcStats {
  /** utime + stime of every thread, in seconds. */
  cpuSeconds: number;
}

/**
 * CPU seconds (user + system, all threads) of a live process, or NaN when unreadable. Pass a
 * /proc/PID/task/TID/stat path as `statPath` for one thread.
 */
export function processCpuSeconds(pid: number, statPath = `/proc/${pid}/stat`): number {
  try {
    const stat = readFileSync(statPath, 'latin1');
    // The command name is in parentheses and may contain spaces: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}

/** Peak resident set size (VmHWM) in bytes, or NaN when unreadable. */
export function processPeakRss(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Current resident set size (VmRSS) in bytes, or NaN when unreadable. */
export function processRss(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Resets VmHWM to the current RSS (Linux clear_refs "5"), so the next peak is per phase. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export interface ServerProcess {
  readonly pid: number;
  readonly host: string;
  readonly port: number;
  /** The whole matched "listening" line. */
  readonly banner: string;
  stderrTail(): string;
  exited(): boolean;
  stop(): Promise<void>;
}

export interface SpawnOptions {
  timeoutMs?: number;
  /** Options for node itself, before the script (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /**
   * Give the child a stdin pipe that stays open while this process lives, so a child that exits
   * at the pipe's end (bench/ceiling.ts) dies with the bench even when the bench is killed -9.
   */
  stdinLifeline?: boolean;
}

/**
 * Runs `node [nodeArgs] script args…` and resolves once stdout prints a line matching `ready`,
 * whose first two groups must be host and port.
 */
export function spawnServer(script: string, args: string[], ready: RegExp, options: SpawnOptions = {}): Promise<ServerProcess> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const child: ChildProcess = spawn(process.execPath, [...(options.nodeArgs ?? []), script, ...args], { stdio: [options.stdinLifeline ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  const tail: string[] = [];
  let exited = false;
  const exitPromise = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', () => {
    exited = true;
  });
  const remember = (text: string): void => {
    for (const line of text.split('\n')) if (line) tail.push(line);
    if (tail.length > 30) tail.splice(0, tail.length - 30);
  };
  child.stderr?.setEncoding('utf8').on('data', remember);

  return new Promise((resolve, reject) => {
    let stdout = '';
    let listening = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} did not report listening within ${timeoutMs} ms\n${tail.join('\n')}`));
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited early (code ${code}, signal ${signal})\n${tail.join('\n')}`));
    });
    child.stdout?.setEncoding('utf8').on('data', (text: string) => {
      if (listening) return remember(text); // keep draining so the child never blocks on a full pipe
      stdout += text;
      const m = ready.exec(stdout);
      if (!m) return;
      listening = true;
      clearTimeout(timer);
      const pid = child.pid as number;
      resolve({
        pid,
        host: m[1] as string,
        port: Number(m[2]),
        banner: m[0],
        stderrTail: () => tail.join('\n'),
        exited: () => exited,
        stop: async () => {
          if (exited) return;
          child.kill('SIGTERM');
          const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
          await exitPromise;
          clearTimeout(killer);
        },
      });
    });
  });
}
