// Small argument helpers shared by the CLI commands: typed flags with one-line usage errors, and what
// the training commands (pretrain, train, finetune) share: their common flags, the environment's test
// hooks, and turning a run's settings errors into usage errors.
import { existsSync, statSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import type { ProgressMode } from "../train/progress.ts";
import { PretrainSettingsError } from "../train/run-files.ts";
import type { ScheduleKind } from "../train/schedule.ts";

export class UsageError extends Error {
  override name = "UsageError";
}

export type Flags = Record<string, string | boolean | undefined>;

export function str(flags: Flags, name: string, required = false): string | undefined {
  const v = flags[name];
  if (v === undefined || v === false) {
    if (required) throw new UsageError(`--${name} is required`);
    return undefined;
  }
  if (v === true) throw new UsageError(`--${name} needs a value`);
  return v;
}

export function int(flags: Flags, name: string, fallback?: number, min = 0): number | undefined {
  const v = str(flags, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`--${name} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  return n;
}

export function num(flags: Flags, name: string, fallback?: number): number | undefined {
  const v = str(flags, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got ${JSON.stringify(v)}`);
  return n;
}

export function oneOf<T extends string>(flags: Flags, name: string, values: readonly T[], fallback: T): T {
  const v = str(flags, name) ?? fallback;
  if (!values.includes(v as T))
    throw new UsageError(`--${name} must be one of ${values.join(", ")}; got ${JSON.stringify(v)}`);
  return v as T;
}

export function dir(flags: Flags, name: string): string {
  const d = str(flags, name, true)!;
  if (!existsSync(d) || !statSync(d).isDirectory()) throw new UsageError(`--${name} ${d}: not a directory`);
  return d;
}

/** parseArgs options of the flags every training command takes (read by trainingFlags). */
export const TRAINING_OPTIONS = {
  steps: { type: "string" },
  batch: { type: "string" },
  lr: { type: "string" },
  warmup: { type: "string" },
  schedule: { type: "string" },
  "max-grad-norm": { type: "string" },
  "weight-decay": { type: "string" },
  seed: { type: "string" },
  "eval-every": { type: "string" },
  "eval-examples": { type: "string" },
  "save-every": { type: "string" },
  "log-every": { type: "string" },
  keep: { type: "string" },
  progress: { type: "string" },
  resume: { type: "boolean" },
} as const;

/**
 * The flags every training command takes (steps, batch, optimizer, schedule, evaluation, checkpoints,
 * progress, resume), as the drivers' options; unset flags are undefined (the run's defaults apply).
 */
export function trainingFlags(flags: Flags) {
  return {
    steps: int(flags, "steps", undefined, 1),
    batch: int(flags, "batch", undefined, 1),
    lr: num(flags, "lr"),
    warmup: int(flags, "warmup"),
    schedule:
      flags.schedule === undefined
        ? undefined
        : oneOf<ScheduleKind>(flags, "schedule", ["linear", "cosine"], "linear"),
    maxGradNorm: num(flags, "max-grad-norm"),
    weightDecay: num(flags, "weight-decay"),
    seed: int(flags, "seed"),
    evalEvery: int(flags, "eval-every"),
    evalExamples: int(flags, "eval-examples"),
    saveEvery: int(flags, "save-every"),
    logEvery: int(flags, "log-every", undefined, 1),
    keep: int(flags, "keep", undefined, 1),
    resume: Boolean(flags.resume),
    progress: oneOf<ProgressMode>(flags, "progress", ["auto", "bar", "lines", "none"], "auto"),
  };
}

/** Test hook from the environment: EDGEFORMER_TEST_STEP_DELAY_MS, a sleep after each step. */
export function testStepDelay(): (() => Promise<void>) | undefined {
  const delay = Number(process.env.EDGEFORMER_TEST_STEP_DELAY_MS ?? 0);
  return delay > 0 ? () => sleep(delay) : undefined;
}

/** Test hook from the environment: EDGEFORMER_TEST_NAN_STEP, the step before which a NaN is put in (0: none). */
export function testNanStep(): number {
  return Number(process.env.EDGEFORMER_TEST_NAN_STEP ?? 0);
}

/** A training run's result as JSON; its bad settings (PretrainSettingsError) become usage errors. */
export async function runResult(run: Promise<unknown>): Promise<string> {
  try {
    return JSON.stringify(await run);
  } catch (e) {
    if (e instanceof PretrainSettingsError) throw new UsageError(e.message);
    throw e;
  }
}
