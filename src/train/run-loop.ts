// The scaffolding every training driver (pretrain.ts, t5-run.ts, finetune.ts, finetune-multitask.ts)
// shares around its own step: the options besides settings (RunOptions), opening the run folder (refuse
// an existing run without --resume, read the latest checkpoint's trainer_state.json, drop leftovers of an
// interrupted save), settings a resumed run must keep, the AdamW schedule and its saved record, resuming
// the optimizer, writing a checkpoint with its progress line, the per-step checks (a NaN or infinite loss
// or gradient norm stops training naming the last good checkpoint; global-norm clipping), the tokens/s
// window (time spent evaluating and saving is left out), the lines-mode step log line, and the end of a
// run (final model files, the result's duration and checkpoint, curves kept when training diverged).
// What a driver's step computes, logs and evaluates stays in the driver.
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { type TensorInput, writeSafetensors } from "../io/safetensors.ts";
import type { KernelRuntime } from "../runtime/load.ts";
import {
  type CheckpointFiles,
  cleanRunFolder,
  loadOptimizer,
  readLatest,
  readSafetensors,
  writeCheckpoint,
  writeFileAtomic,
} from "./checkpoint.ts";
import { ADAMW_DEFAULTS, type AdamWOptions, type ParamStore } from "./params.ts";
import {
  formatDuration,
  formatRate,
  type Progress,
  type ProgressMode,
  type ProgressStream,
} from "./progress.ts";
import { PretrainSettingsError, readJson, TrainingDivergedError } from "./run-files.ts";
import type { LrSchedule, ScheduleKind } from "./schedule.ts";

export interface RunFolderOptions {
  out: string;
  resume?: boolean;
  /** "auto" (default): a progress bar when the stream is a terminal, plain lines otherwise. */
  progress?: ProgressMode;
  stream?: ProgressStream;
}

/** What every driver takes besides its settings: where, how it reports, and test hooks. */
export interface RunOptions<Trainer> extends RunFolderOptions {
  /** A kernel runtime to train on (default: a new one, owned by the run). */
  runtime?: KernelRuntime;
  /** Test hooks: before each step (1-based; e.g. to poison a parameter), after each step (e.g. to slow down). */
  beforeStep?: (step: number, trainer: Trainer) => void;
  afterStep?: (step: number) => void | Promise<void>;
}

/** A run folder being trained into: where it resumes from, what it says, its checkpoints. */
export class RunFolder {
  /** The last checkpoint written (or resumed from). */
  lastSaved: string | undefined;

  private constructor(
    /** When the run started (performance.now()). */
    readonly t0: number,
    readonly out: string,
    readonly progressMode: ProgressMode,
    readonly stream: ProgressStream,
    /** The checkpoint resumed from. */
    readonly latest: { step: number; dir: string } | undefined,
    /** Its trainer_state.json. */
    readonly state: Record<string, unknown> | undefined,
  ) {
    this.lastSaved = latest?.dir;
  }

  /**
   * Creates `out` if needed; with a checkpoint there, refuses to go on without `resume` and reads its
   * trainer state (`check` may reject it) before removing what an interrupted save left behind.
   */
  static async open(
    opts: RunFolderOptions,
    check?: (state: Record<string, unknown>, dir: string) => void,
  ): Promise<RunFolder> {
    const out = opts.out;
    const t0 = performance.now();
    await mkdir(out, { recursive: true });
    const latest = await readLatest(out);
    if (latest && !opts.resume)
      throw new PretrainSettingsError(
        `${out} already holds a run (latest: ${latest.dir}); pass --resume to continue it or choose another --out`,
      );
    let state: Record<string, unknown> | undefined;
    if (latest) {
      state = await readJson(join(latest.dir, "trainer_state.json"), "trainer state");
      check?.(state, latest.dir);
    }
    await cleanRunFolder(out, latest?.step);
    return new RunFolder(t0, out, opts.progress ?? "auto", opts.stream ?? process.stderr, latest, state);
  }

  /** A line on the stream (nothing with progress "none"). */
  say(s: string): void {
    if (this.progressMode !== "none") this.stream.write(`${s}\n`);
  }

  get startStep(): number {
    return this.latest?.step ?? 0;
  }

  /** Seconds of training before this process (resume). */
  get elapsedBefore(): number {
    return this.latest ? ((this.state!.elapsed_s as number) ?? 0) : 0;
  }

  /** Seconds of training in all, up to `now`. */
  elapsed(now = performance.now()): number {
    return this.elapsedBefore + (now - this.t0) / 1000;
  }

  /** Loads the resumed checkpoint's optimizer state into `params` (which must hold its weights). */
  async loadOptimizer(params: ParamStore): Promise<void> {
    const latest = this.latest;
    if (!latest) return;
    loadOptimizer(params, await readSafetensors(join(latest.dir, "optimizer.safetensors")));
    if (params.step !== latest.step)
      throw new Error(`${latest.dir}: optimizer step ${params.step} ≠ checkpoint step ${latest.step}`);
  }

  /** Writes the checkpoint of `step` (keeping the newest `keep`), says so, and returns its folder. */
  async save(
    step: number,
    files: CheckpointFiles,
    optimizer: Record<string, TensorInput>,
    keep: number,
    progress: Progress,
  ): Promise<string> {
    const st = performance.now();
    const dir = await writeCheckpoint(this.out, step, files, optimizer, keep);
    this.lastSaved = dir;
    progress.line(`checkpoint ${dir} (${formatDuration((performance.now() - st) / 1000)})`);
    return dir;
  }

  /**
   * After a step's backward: stops on a non-finite loss, clips the gradient to `maxGradNorm` (0: none),
   * stops on a non-finite gradient norm. `n` is the 1-based step. Returns the norm and the scale.
   */
  clip(
    params: ParamStore,
    maxGradNorm: number,
    loss: number,
    n: number,
    lr: number,
  ): { norm: number; scale: number } {
    const last = this.lastSaved ? `last good checkpoint: ${this.lastSaved}` : "no checkpoint was written yet";
    if (!Number.isFinite(loss))
      throw new TrainingDivergedError(
        `training diverged: loss is ${loss} at step ${n} (lr ${lr.toPrecision(3)}); ${last} (lower --lr and --resume)`,
      );
    const clip = maxGradNorm > 0 ? params.clipScale(maxGradNorm) : { norm: params.gradNorm(), scale: 1 };
    if (!Number.isFinite(clip.norm))
      throw new TrainingDivergedError(
        `training diverged: gradient norm is ${clip.norm} at step ${n} (lr ${lr.toPrecision(3)}); ${last} (lower --lr and --resume)`,
      );
    return clip;
  }

  /** The end of a run's result: its duration, and its checkpoint (the last written when it was removed). */
  finish<R extends { seconds: number; checkpoint: string }>(result: R): R {
    result.seconds = Number(((performance.now() - this.t0) / 1000).toFixed(3));
    if (!existsSync(result.checkpoint)) result.checkpoint = this.lastSaved ?? "";
    return result;
  }
}

/** How a run scales the learning rate per tensor: not at all, or by the tensor's RMS (Adafactor-style). */
export type LrScale = "none" | "rms";
export const LR_SCALES: readonly LrScale[] = ["none", "rms"];

/**
 * The optimizer of a run's settings: the learning-rate schedule, AdamW's options, and their record in
 * trainer_state.json.
 */
export function optimizerOf(s: {
  lr: number;
  warmup: number;
  steps: number;
  schedule: ScheduleKind;
  weightDecay: number;
  maxGradNorm: number;
  /** "rms": each tensor's lr scaled by its RMS (AdamWOptions.scaleByRms); default "none". */
  lrScale?: LrScale;
}): { schedule: LrSchedule; adamw: AdamWOptions; saved: Record<string, unknown> } {
  const schedule: LrSchedule = { lr: s.lr, warmup: s.warmup, total: s.steps, kind: s.schedule };
  const adamw: AdamWOptions = { ...ADAMW_DEFAULTS, weightDecay: s.weightDecay };
  if (s.lrScale === "rms") adamw.scaleByRms = true;
  return {
    schedule,
    adamw,
    saved: { name: "AdamW", ...adamw, lr: schedule.lr, max_grad_norm: s.maxGradNorm },
  };
}

/** In lines mode, the log line of step `n` of `total`: `what` (loss and the like), lr, gradient norm, tokens/s, ETA. */
export function stepLine(
  progress: Progress,
  n: number,
  total: number,
  what: string,
  lr: number,
  gradNorm: number,
  rate: number,
): void {
  if (!progress.bar)
    progress.line(
      `step ${n}/${total} ${what} lr ${lr.toExponential(2)} grad ${gradNorm.toFixed(3)} | ${formatRate(rate)} tok/s | ETA ${formatDuration(progress.eta(n))}`,
    );
}

/** Refuses, on resume, a change to a setting that defines the data or the model. */
export function keepFixed<S>(fixed: readonly (keyof S)[], explicit: Partial<S>, saved: S | undefined): void {
  if (!saved) return;
  for (const k of fixed)
    if (explicit[k] !== undefined && JSON.stringify(explicit[k]) !== JSON.stringify(saved[k]))
      throw new PretrainSettingsError(
        `${String(k)} ${JSON.stringify(explicit[k])} differs from the checkpoint's ${JSON.stringify(saved[k])} (a resumed run keeps its data and model settings)`,
      );
}

/** Whether a step `n` (1-based) is one where something done every `every` steps (0: never) is due; always at `end`. */
export function due(n: number, every: number, end: number): boolean {
  return (every > 0 && n % every === 0) || n === end;
}

/** Tokens per second over a window of at least a second (or up to a log line), minus excluded time. */
export class TokenRate {
  rate = Number.NaN;
  private start = performance.now();
  private tokens = 0;

  /** Counts a step's tokens; closes the window when it is over a second old or `close`. Returns the rate. */
  add(tokens: number, close: boolean, now = performance.now()): number {
    this.tokens += tokens;
    if (now - this.start > 1000 || close) {
      this.rate = (this.tokens * 1000) / (now - this.start);
      this.start = now;
      this.tokens = 0;
    }
    return this.rate;
  }

  /** Runs `f` (an evaluation, a checkpoint) with its time left out of the window. */
  async excluding(f: () => Promise<void>): Promise<void> {
    const t = performance.now();
    await f();
    this.start += performance.now() - t;
  }
}

/** What every driver does when its loop throws: closes the progress bar, keeps the curves of a diverged run. */
export async function stopped(
  e: unknown,
  progress: Progress,
  writeCurves: () => Promise<void>,
): Promise<void> {
  progress.done();
  if (e instanceof TrainingDivergedError) await writeCurves().catch(() => {});
}

/** The run folder itself becomes the final model: config.json and model.safetensors. */
export async function writeFinalModel(
  out: string,
  configJson: Record<string, unknown>,
  weights: Record<string, TensorInput>,
): Promise<void> {
  await writeFileAtomic(join(out, "config.json"), `${JSON.stringify(configJson, null, 2)}\n`);
  await writeFileAtomic(join(out, "model.safetensors"), writeSafetensors(weights, { format: "pt" }));
}
