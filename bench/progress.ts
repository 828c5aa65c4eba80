// Progress for the load benchmark. Finished phases are logged as lines on stderr; while a phase
// runs, a live status line (phase, elapsed time, operations so far, current rate) is redrawn on
// stdout — only when stdout is a terminal, so piped or redirected output stays a clean report.

/** What a running phase counts; the progress display reads it, the phase runner writes it. */
export class LiveCounter {
  ops = 0;
  errors = 0;
  bytes = 0;
}

const REDRAW_MS = 250;

export class Progress {
  private readonly live: boolean;
  private timer: NodeJS.Timeout | undefined;
  private label = '';
  private startedAt = 0;
  private counter: LiveCounter | undefined;
  private drawn = false;

  constructor(
    private readonly quiet: boolean,
    stdoutIsTty = process.stdout.isTTY === true,
  ) {
    this.live = stdoutIsTty && !quiet;
  }

  /** A finished-phase or status line; clears the live line first so the two never interleave. */
  log(line: string): void {
    if (this.quiet) return;
    this.clear();
    process.stderr.write(line + '\n');
    this.draw();
  }

  /** Starts the live line for one phase, which shows what `counter` has counted so far. */
  begin(label: string, counter: LiveCounter): void {
    this.label = label;
    this.counter = counter;
    this.startedAt = performance.now();
    if (!this.live) return;
    this.timer ??= setInterval(() => this.draw(), REDRAW_MS);
    this.timer.unref();
    this.draw();
  }

  end(): void {
    this.counter = undefined;
    this.clear();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private draw(): void {
    if (!this.live || this.counter === undefined) return;
    const seconds = (performance.now() - this.startedAt) / 1000;
    const c = this.counter;
    const rate = seconds > 0 ? c.ops / seconds : 0;
    const mib = c.bytes / 1024 / 1024;
    const parts = [`${this.label}`, `${seconds.toFixed(1)} s`, `${c.ops.toLocaleString('en-US')} ops`, `${rate.toFixed(0)}/s`];
    if (mib >= 1) parts.push(`${(mib / Math.max(seconds, 1e-3)).toFixed(0)} MiB/s`);
    if (c.errors) parts.push(`${c.errors} errors`);
    const columns = process.stdout.columns || 100;
    process.stdout.write(`\r\x1b[K${('… ' + parts.join('  ')).slice(0, columns - 1)}`);
    this.drawn = true;
  }

  private clear(): void {
    if (!this.drawn) return;
    process.stdout.write('\r\x1b[K');
    this.drawn = false;
  }
}
