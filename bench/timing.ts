// Timing helpers for benchmarks: warm-up, then the median of many runs (at least minRuns and minMs).
import { performance } from "node:perf_hooks";

export interface Timing {
  medianMs: number;
  runs: number;
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
  times.sort((a, b) => a - b);
  const m = times.length >> 1;
  return { medianMs: times.length % 2 ? times[m] : (times[m - 1] + times[m]) / 2, runs: times.length };
}
