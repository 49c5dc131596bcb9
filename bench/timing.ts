// Timing helpers for benchmarks. timeIt: warm-up, then the median of many runs (at least minRuns and
// minMs), for short kernels. timeCell / timeCellAsync: a time budget per benchmark cell (the whole-model
// grid): warm-up, then timed runs until maxRuns runs (and minMs) or budgetMs have passed (at least one
// run), median.
import { performance } from "node:perf_hooks";

export interface Timing {
  medianMs: number;
  runs: number;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError("median of no values");
  const s = Float64Array.from(xs).sort();
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function timeIt(
  fn: () => void,
  opts: { warmup?: number; minRuns?: number; minMs?: number } = {},
): Timing {
  const { warmup = 5, minRuns = 20, minMs = 800 } = opts;
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < minRuns || performance.now() - start < minMs) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return { medianMs: median(times), runs: times.length };
}

/** How one grid cell is timed. */
export interface CellPolicy {
  /** untimed runs first (0 is allowed: see skipWarmupAfterMs) */
  warmupRuns: number;
  /** … and keep warming up until this long has passed */
  warmupMs: number;
  /** warm-up time for the first cell of a freshly loaded engine (tier-up of new wasm), see cellPolicy */
  firstWarmupMs: number;
  /** stop after this many timed runs (fast cells keep going until minMs, for a steadier median) … */
  maxRuns: number;
  minMs: number;
  /** … or once this much timed time has passed (at least one timed run either way) */
  budgetMs: number;
}

/** Full runs: after one warm-up run, 10 runs (more for cells under 50 ms: 0.5 s), at most ~2 s. */
export const FULL_CELL: CellPolicy = {
  warmupRuns: 1,
  warmupMs: 0,
  firstWarmupMs: 1000,
  maxRuns: 10,
  minMs: 500,
  budgetMs: 2000,
};
/** --quick: one warm-up run and one timed run, to check that the code works (numbers mean nothing). */
export const QUICK_CELL: CellPolicy = {
  warmupRuns: 1,
  warmupMs: 0,
  firstWarmupMs: 0,
  maxRuns: 1,
  minMs: 0,
  budgetMs: 0,
};

/** Whether a cell takes another timed run after `runs` runs and `elapsedMs` of timed time. */
export function moreRuns(p: CellPolicy, runs: number, elapsedMs: number): boolean {
  if (runs === 0) return true;
  if (elapsedMs >= p.budgetMs) return false;
  return runs < p.maxRuns || elapsedMs < p.minMs;
}

/**
 * The policy for the next cell of one loaded model: the first cell of a freshly loaded engine also
 * warms up for `firstWarmupMs` (V8 runs new wasm on its baseline tier until the optimized code is
 * ready); a cell after one whose single run already took longer than the budget skips its warm-up run
 * (the code is hot, and one more run of a multi-second cell would only cost time).
 */
export function cellPolicy(base: CellPolicy, state: { first: boolean; lastRunMs?: number }): CellPolicy {
  if (state.first) return { ...base, warmupMs: Math.max(base.warmupMs, base.firstWarmupMs) };
  if (state.lastRunMs !== undefined && state.lastRunMs > base.budgetMs && base.budgetMs > 0)
    return { ...base, warmupRuns: 0, warmupMs: 0 };
  return base;
}

function check(p: CellPolicy): void {
  if (
    !(p.maxRuns >= 1) ||
    p.warmupRuns < 0 ||
    p.budgetMs < 0 ||
    p.warmupMs < 0 ||
    p.minMs < 0 ||
    p.firstWarmupMs < 0
  )
    throw new RangeError(`bad cell policy ${JSON.stringify(p)}`);
}

export function timeCell(fn: () => void, p: CellPolicy): Timing {
  check(p);
  const w0 = performance.now();
  for (let i = 0; i < p.warmupRuns || (i > 0 && performance.now() - w0 < p.warmupMs); i++) fn();
  const times: number[] = [];
  const start = performance.now();
  while (moreRuns(p, times.length, performance.now() - start)) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return { medianMs: median(times), runs: times.length };
}

export async function timeCellAsync(fn: () => Promise<unknown>, p: CellPolicy): Promise<Timing> {
  check(p);
  const w0 = performance.now();
  for (let i = 0; i < p.warmupRuns || (i > 0 && performance.now() - w0 < p.warmupMs); i++) await fn();
  const times: number[] = [];
  const start = performance.now();
  while (moreRuns(p, times.length, performance.now() - start)) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return { medianMs: median(times), runs: times.length };
}
