// What the two fine-tuning drivers (finetune.ts: one task, BERT or T5; finetune-multitask.ts: BERT with one
// head per task) share besides run-loop.ts: the settings and result fields both have, the settings checks
// and required settings common to both, the base model's tokenizer and weights, the check that a resumed
// run's data did not change, and the tail of every step (FinetuneLoop): tokens/s and progress, the train
// entry of metrics.jsonl and its log line every logEvery steps, held-out evaluation every evalEvery steps,
// checkpoints every saveEvery steps (trainer_state.json ends with the schedule, optimizer, settings and
// data records; both with curves.svg, their time left out of tokens/s), and the end of the loop. What a
// step computes, what its log entry holds beyond the common keys, and what an evaluation measures stay in
// the driver.
import type { TensorInput } from "../io/safetensors.ts";
import { readTensors } from "../models/checkpoint-node.ts";
import type { TensorStore } from "../models/tensors.ts";
import { loadTokenizerDir } from "../tokenizers/node.ts";
import type { Tokenizer } from "../tokenizers/types.ts";
import { optimizerTensors } from "./checkpoint.ts";
import type { FinetuneStrategy } from "./finetune.ts";
import type { CurveSpec, MetricsEntry, MetricsLog } from "./metrics.ts";
import type { ParamStore } from "./params.ts";
import { formatDuration, type Progress } from "./progress.ts";
import { PretrainSettingsError } from "./run-files.ts";
import { due, type RunFolder, stepLine, stopped, TokenRate } from "./run-loop.ts";
import type { LrSchedule, ScheduleKind } from "./schedule.ts";

/** The settings both fine-tuning drivers have (saved in trainer_state.json and reused by resume). */
export interface FinetuneCommonSettings {
  /** Base model folder. */
  model: string;
  strategy: FinetuneStrategy;
  /** unfreeze: steps between two unfreezings (0: spread the stages evenly over the run). */
  unfreezeEvery: number;
  /** adapters: bottleneck width r. */
  bottleneck: number;
  steps: number;
  /** Examples per step. */
  batch: number;
  /** 0: the strategy's default (1e-4 full / unfreeze, 1e-3 adapters). */
  lr: number;
  warmup: number;
  schedule: ScheduleKind;
  /** Tokens per example (BERT: [CLS]/[SEP] included; T5: input tokens). */
  seqLen: number;
  seed: number;
  evalEvery: number;
  saveEvery: number;
  logEvery: number;
  /** 0: no clipping. */
  maxGradNorm: number;
  weightDecay: number;
  /** Cap on evaluated held-out examples (per task; a seeded sample when the file has more). */
  evalExamples: number;
  keep: number;
}

/** What both drivers' results hold (`Ev`: their held-out evaluation). */
export interface FinetuneRunResult<Ev> {
  out: string;
  strategy: FinetuneStrategy;
  steps: number;
  resumed_from?: number;
  loss?: number;
  eval?: Ev;
  parameters: number;
  /** Parameters trained at the end of the run. */
  trainable_parameters: number;
  /** "model": a complete model folder; "adapter": an adapter folder. */
  output: "model" | "adapter";
  files: string[];
  checkpoint: string;
  seconds: number;
}

/** The end of a new result both drivers share: parameter counts, output kind, no files yet, the checkpoint resumed from. */
export function resultTail(
  params: ParamStore,
  strategy: FinetuneStrategy,
  latest: { dir: string } | undefined,
): Pick<
  FinetuneRunResult<unknown>,
  "parameters" | "trainable_parameters" | "output" | "files" | "checkpoint" | "seconds"
> {
  return {
    parameters: params.count,
    trainable_parameters: params.trainableCount,
    output: strategy === "adapters" ? "adapter" : "model",
    files: [],
    checkpoint: latest?.dir ?? "",
    seconds: 0,
  };
}

/** The settings both fine-tuning drivers check alike. */
interface CommonSettings {
  strategy: string;
  lr: number;
  maxGradNorm: number;
  weightDecay: number;
  schedule: ScheduleKind;
}

/** Refuses a setting `k` of `s` that is not an integer ≥ `min`. */
export function checkInt<S>(s: S, k: keyof S & string, min: number): void {
  const v = s[k] as number;
  if (!(Number.isInteger(v) && v >= min))
    throw new PretrainSettingsError(`${k} must be an integer ≥ ${min}, got ${v}`);
}

/** The strategy among `strategies`. */
export function checkStrategy(s: { strategy: string }, strategies: readonly string[]): void {
  if (!strategies.includes(s.strategy))
    throw new PretrainSettingsError(`strategy must be one of ${strategies.join(", ")}, got ${s.strategy}`);
}

/** lr > 0. */
export function checkLr(s: { lr: number }): void {
  if (!(s.lr > 0)) throw new PretrainSettingsError(`lr must be > 0, got ${s.lr}`);
}

/** maxGradNorm, weightDecay ≥ 0; a known schedule. */
export function checkOptimizerSettings(s: CommonSettings): void {
  if (!(s.maxGradNorm >= 0)) throw new PretrainSettingsError(`maxGradNorm must be ≥ 0, got ${s.maxGradNorm}`);
  if (!(s.weightDecay >= 0)) throw new PretrainSettingsError(`weightDecay must be ≥ 0, got ${s.weightDecay}`);
  if (s.schedule !== "linear" && s.schedule !== "cosine")
    throw new PretrainSettingsError(`schedule must be linear or cosine, got ${s.schedule}`);
}

/**
 * The end of resolving settings: the base model, then `input` (the data: [key, what to pass]), then the
 * strategy are required; a new run without an explicit lr takes the strategy's default; warm-up -1 until
 * the step count is known; `check` sees the settings with warm-up ≥ 0.
 */
export function finishSettings<S extends CommonSettings & { model: string; warmup: number }>(
  s: S,
  input: [keyof S, string],
  newRunLr: number | undefined,
  check: (s: S) => void,
): S {
  if (s.model === undefined) throw new PretrainSettingsError("a base model folder is required (--model DIR)");
  if (s[input[0]] === undefined) throw new PretrainSettingsError(input[1]);
  if (s.strategy === undefined)
    throw new PretrainSettingsError("a strategy is required (--strategy full|unfreeze|adapters)");
  if (newRunLr !== undefined) s.lr = newRunLr;
  s.warmup ??= -1; // set once the step count is known
  check({ ...s, warmup: Math.max(0, s.warmup) });
  return s;
}

/** The base model's tokenizer (a settings error when it cannot be read). */
export async function loadBaseTokenizer(model: string): Promise<Tokenizer> {
  try {
    return await loadTokenizerDir(model);
  } catch (e) {
    throw new PretrainSettingsError(`--model ${model}: ${(e as Error).message}`);
  }
}

/** The weights to start from: the resumed checkpoint's, else the base model's (a settings error when unreadable). */
export async function loadStartWeights(
  model: string,
  latest: { dir: string } | undefined,
): Promise<TensorStore> {
  if (latest) return readTensors(latest.dir);
  try {
    return await readTensors(model);
  } catch (e) {
    throw new PretrainSettingsError(`--model ${model}: ${(e as Error).message}`);
  }
}

/** On resume, refuses data or a model that differ from the checkpoint's record of them. */
export function checkSameData(
  state: Record<string, unknown> | undefined,
  data: Record<string, unknown>,
): void {
  if (state?.data && JSON.stringify(state.data) !== JSON.stringify(data))
    throw new PretrainSettingsError(
      `the data or the model changed since the checkpoint (${JSON.stringify(state.data)} then, ${JSON.stringify(data)} now)`,
    );
}

/** What a step hands to FinetuneLoop.after. */
export interface StepDone {
  loss: number;
  tokens: number;
  lr: number;
  gradNorm: number;
}

/** The train entry's driver-specific part, asked for on log steps only (the driver then resets its window). */
export interface TrainWindow {
  /** Keys between step and loss (e.g. epoch). */
  head?: Record<string, number>;
  /** Loss and accuracy over the steps since the last log line. */
  loss: number;
  accuracy: number;
  /** Keys after the common ones (e.g. per-task counts). */
  tail?: Record<string, number>;
}

/** A held-out evaluation: the eval entry's keys after type and step, and its log line given the time taken. */
export interface EvalDone {
  fields: Record<string, number>;
  line: (duration: string) => string;
}

/** The shared part of a fine-tuning driver's step loop, around the step the driver computes. */
export class FinetuneLoop {
  /** The tokens/s window. */
  readonly window = new TokenRate();

  constructor(
    private readonly c: {
      run: RunFolder;
      progress: Progress;
      metrics: MetricsLog;
      /** Saved in trainer_state.json; keep: checkpoints kept. */
      settings: { steps: number; logEvery: number; evalEvery: number; saveEvery: number; keep: number };
      title: string;
      curves: CurveSpec;
      /** Whether there is held-out data to evaluate. */
      hasEval: boolean;
      /** The held-out evaluation at step `n` (1-based). */
      evaluate: (n: number) => EvalDone;
      /** The run's result: its checkpoint, loss, eval and trainable parameters are set here. */
      result: FinetuneRunResult<unknown>;
      /**
       * What a checkpoint holds besides the optimizer: the model's config and tokenizer files, the weights,
       * and trainer_state.json: the driver's part of a step (`state`) followed by the schedule, the optimizer's
       * record, the settings and the data's record.
       */
      checkpoint: {
        config: Record<string, unknown>;
        tokenizer: Record<string, string | Uint8Array>;
        trainer: { exportWeights(): Record<string, TensorInput>; params: ParamStore };
        state: (step: number) => Record<string, unknown>;
        schedule: LrSchedule;
        optimizer: Record<string, unknown>;
        data: Record<string, unknown>;
      };
      afterStep?: (step: number) => void | Promise<void>;
    },
  ) {}

  /** After step `n`'s update: progress; the train log when due; evaluation and checkpoint when due; the afterStep hook. */
  async after(n: number, s: StepDone, logged: () => TrainWindow): Promise<void> {
    const { run, progress, metrics, settings, title, curves } = this.c;
    const params = this.c.checkpoint.trainer.params;
    const now = performance.now();
    const logNow = n % settings.logEvery === 0 || n === settings.steps;
    const rate = this.window.add(s.tokens, logNow, now);
    progress.update(n, s.loss, rate);
    if (logNow) {
      const w = logged();
      const e: MetricsEntry = {
        type: "train",
        step: n,
        ...w.head,
        loss: w.loss,
        accuracy: w.accuracy,
        lr: s.lr,
        grad_norm: s.gradNorm,
        trainable: params.trainableCount,
        tokens_per_s: Math.round(rate),
        elapsed_s: Number(run.elapsed(now).toFixed(3)),
        ...w.tail,
      };
      await metrics.append(e);
      stepLine(
        progress,
        n,
        settings.steps,
        `loss ${e.loss.toFixed(4)} accuracy ${(100 * (e.accuracy as number)).toFixed(1)}%`,
        s.lr,
        s.gradNorm,
        rate,
      );
    }
    if (settings.evalEvery > 0 && this.c.hasEval && due(n, settings.evalEvery, settings.steps))
      await this.window.excluding(async () => {
        const te = performance.now();
        const ev = this.c.evaluate(n);
        await metrics.append({ type: "eval", step: n, ...ev.fields } as MetricsEntry);
        progress.line(ev.line(formatDuration((performance.now() - te) / 1000)));
        await metrics.writeCurves(title, curves);
      });
    if (due(n, settings.saveEvery, settings.steps))
      await this.window.excluding(async () => {
        await this.save(n);
        await metrics.writeCurves(title, curves);
      });
    if (this.c.afterStep) await this.c.afterStep(n);
  }

  /** Writes the checkpoint of `step` and makes it the result's. */
  async save(step: number): Promise<void> {
    const k = this.c.checkpoint;
    this.c.result.checkpoint = await this.c.run.save(
      step,
      {
        config: k.config,
        tokenizer: k.tokenizer,
        model: k.trainer.exportWeights(),
        state: {
          ...k.state(step),
          schedule: k.schedule,
          optimizer: k.optimizer,
          settings: this.c.settings,
          data: k.data,
        },
      },
      optimizerTensors(k.trainer.params),
      this.c.settings.keep,
      this.c.progress,
    );
  }

  /**
   * After the loop: closes the progress bar; the result's loss, or (nothing was trained: the run was already
   * at its last step) the eval of the log's last eval entry (`evalOf`); the parameters trained at the end.
   */
  end<Ev>(loss: number, evalOf: (e: MetricsEntry) => Ev): void {
    const { run, progress, metrics, settings, result } = this.c;
    const startStep = run.startStep;
    progress.done();
    if (startStep < settings.steps) result.loss = loss;
    else {
      run.say(`${run.latest?.dir} is already at step ${startStep} of ${settings.steps}: nothing to train`);
      const lastEval = metrics.entries.filter((e) => e.type === "eval").pop();
      if (lastEval) result.eval = evalOf(lastEval);
    }
    result.trainable_parameters = this.c.checkpoint.trainer.params.trainableCount;
  }

  /** When the loop throws: closes the progress bar, keeps the curves of a diverged run. */
  stopped(e: unknown): Promise<void> {
    return stopped(e, this.c.progress, () => this.c.metrics.writeCurves(this.c.title, this.c.curves));
  }
}
