// Training progress on stderr: on a terminal, one bar redrawn in place (step, loss, tokens/s, ETA) with
// log lines (evaluations, checkpoints) printed above it; otherwise plain lines only (the caller prints
// one per logged step). Never touches stdout, which carries the command's JSON result.

export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export type ProgressMode = "auto" | "bar" | "lines" | "none";

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

export function formatRate(x: number): string {
  if (!Number.isFinite(x)) return "?";
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)}k`;
  return x.toFixed(0);
}

export class Progress {
  readonly bar: boolean;
  readonly quiet: boolean;
  private shown = false;
  private lastDraw = 0;
  private readonly t0 = performance.now();

  constructor(
    readonly total: number,
    readonly startStep: number,
    readonly stream: ProgressStream = process.stderr,
    mode: ProgressMode = "auto",
  ) {
    this.quiet = mode === "none";
    this.bar = mode === "bar" || (mode === "auto" && stream.isTTY === true);
  }

  /** Seconds since the progress started. */
  get elapsed(): number {
    return (performance.now() - this.t0) / 1000;
  }

  /** Estimated seconds left after `step`, from the average step time of this session. */
  eta(step: number): number {
    const done = step - this.startStep;
    return done > 0 ? (this.elapsed / done) * (this.total - step) : Number.NaN;
  }

  /** Redraws the bar (at most ~10 times a second, always at the last step). */
  update(step: number, loss: number, tokensPerSecond: number): void {
    if (!this.bar || this.quiet) return;
    const now = performance.now();
    if (now - this.lastDraw < 100 && step < this.total) return;
    this.lastDraw = now;
    const width = Math.max(10, Math.min(40, (this.stream.columns ?? 100) - 70));
    const frac = this.total > 0 ? step / this.total : 1;
    const fill = Math.round(frac * width);
    const text =
      `[${"#".repeat(fill)}${".".repeat(width - fill)}] ${step}/${this.total}` +
      ` loss ${loss.toFixed(4)} ${formatRate(tokensPerSecond)} tok/s ETA ${formatDuration(this.eta(step))}`;
    this.stream.write(`\r\x1b[K${text}`);
    this.shown = true;
  }

  /** A log line (above the bar on a terminal). */
  line(text: string): void {
    if (this.quiet) return;
    if (this.shown) this.stream.write("\r\x1b[K");
    this.shown = false;
    this.stream.write(`${text}\n`);
    this.lastDraw = 0;
  }

  /** Ends the bar's line. */
  done(): void {
    if (this.shown) this.stream.write("\n");
    this.shown = false;
  }
}
