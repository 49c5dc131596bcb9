// Learning-rate schedules for pretraining: linear warm-up from 0 to the peak rate, then linear or cosine
// decay towards 0 at the last step. A pure function of the optimizer step, so a resumed run continues
// the schedule exactly (no state beyond the step and the schedule's settings).

export type ScheduleKind = "linear" | "cosine";

export interface LrSchedule {
  /** Peak learning rate (reached at the end of the warm-up). */
  lr: number;
  /** Warm-up steps (0: start at the peak). */
  warmup: number;
  /** Total optimizer steps of the run. */
  total: number;
  kind: ScheduleKind;
}

/**
 * The learning rate of optimizer step `step` (0-based: the number of steps already taken). Warm-up:
 * lr·(step + 1)/warmup, so the first step already moves; decay: with progress p = (step − warmup) /
 * (total − warmup) in [0, 1), linear lr·(1 − p) or cosine lr·(1 + cos πp)/2, so no step has rate 0.
 */
export function learningRate(s: LrSchedule, step: number): number {
  if (step < s.warmup) return (s.lr * (step + 1)) / s.warmup;
  const span = s.total - s.warmup;
  if (span <= 0) return s.lr;
  const p = Math.min(1, Math.max(0, (step - s.warmup) / span));
  return s.kind === "cosine" ? s.lr * 0.5 * (1 + Math.cos(Math.PI * p)) : s.lr * (1 - p);
}
