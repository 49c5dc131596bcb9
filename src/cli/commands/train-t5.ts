// `edgeformer pretrain t5 --corpus FILE --out DIR [--eval-corpus FILE] [--objective span|lm|prefix-lm] …` and `edgeformer train
// --tasks tasks.json --out DIR [--mixing proportional|equal|temperature] [--K N] [--T X] …`: T5 training
// runs (src/train/t5-run.ts) with progress on stderr and the result as JSON on stdout. Bad settings exit
// 2; a diverged run exits 1 with the last good checkpoint kept. Test hooks as `pretrain bert`
// (EDGEFORMER_TEST_STEP_DELAY_MS, EDGEFORMER_TEST_NAN_STEP).
import { setTimeout as sleep } from "node:timers/promises";
import type { ProgressMode } from "../../train/progress.ts";
import { PretrainSettingsError } from "../../train/run-files.ts";
import type { ScheduleKind } from "../../train/schedule.ts";
import { type T5RunOptions, trainT5 } from "../../train/t5-run.ts";
import { T5_OBJECTIVES, type T5Objective } from "../../train/t5data/examples.ts";
import type { MixingStrategy } from "../../train/t5data/mixing.ts";
import { type Flags, int, num, oneOf, str, UsageError } from "../args.ts";

const s = { type: "string" } as const;
const flag = { type: "boolean" } as const;

/** Flags both T5 commands take. */
const COMMON =
  "[--config FILE | --init DIR] [--vocab-size V] [--steps N] [--batch B] [--lr X] [--warmup N] [--schedule linear|cosine] [--max-grad-norm X] [--weight-decay X] [--input-length T] [--target-length T] [--seed S] [--eval-every N] [--save-every N] [--log-every N] [--keep N] [--eval-examples N] [--micro-batch N] [--stop-at N] [--progress auto|bar|lines|none] [--resume]";
export const PRETRAIN_T5_SUMMARY = `t5 --corpus FILE --out DIR [--eval-corpus FILE] [--objective span|lm|prefix-lm] [--noise-density X] [--mean-noise-span-length X] [--held-out F] ${COMMON}`;
export const TRAIN_SUMMARY = `--tasks tasks.json --out DIR [--eval-tasks tasks.json] [--mixing proportional|equal|temperature] [--K N] [--T X] ${COMMON}`;

export const T5_RUN_OPTIONS = {
  out: s,
  config: s,
  init: s,
  "vocab-size": s,
  steps: s,
  batch: s,
  lr: s,
  warmup: s,
  schedule: s,
  "max-grad-norm": s,
  "weight-decay": s,
  "input-length": s,
  "target-length": s,
  seed: s,
  "eval-every": s,
  "save-every": s,
  "log-every": s,
  keep: s,
  "eval-examples": s,
  progress: s,
  resume: flag,
  "stop-at": s,
  "micro-batch": s,
};
export const PRETRAIN_T5_OPTIONS = {
  corpus: s,
  "eval-corpus": s,
  objective: s,
  "noise-density": s,
  "mean-noise-span-length": s,
  "held-out": s,
};
export const TRAIN_OPTIONS = { ...T5_RUN_OPTIONS, tasks: s, "eval-tasks": s, mixing: s, K: s, T: s };

export async function t5RunCommand(mode: "pretrain" | "tasks", flags: Flags): Promise<string> {
  const opts: T5RunOptions = {
    mode,
    out: str(flags, "out", true)!,
    config: str(flags, "config"),
    init: str(flags, "init"),
    vocabSize: int(flags, "vocab-size", undefined, 110),
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
    inputLength: int(flags, "input-length", undefined, 4),
    targetLength: int(flags, "target-length", undefined, 2),
    seed: int(flags, "seed"),
    evalEvery: int(flags, "eval-every"),
    saveEvery: int(flags, "save-every"),
    logEvery: int(flags, "log-every", undefined, 1),
    keep: int(flags, "keep", undefined, 1),
    evalExamples: int(flags, "eval-examples"),
    resume: Boolean(flags.resume),
    stopAt: int(flags, "stop-at", undefined, 1),
    microBatch: int(flags, "micro-batch", undefined, 0),
    progress: oneOf<ProgressMode>(flags, "progress", ["auto", "bar", "lines", "none"], "auto"),
  };
  if (mode === "pretrain") {
    opts.corpus = str(flags, "corpus");
    opts.evalCorpus = str(flags, "eval-corpus");
    if (flags.objective !== undefined)
      opts.objective = oneOf<T5Objective>(flags, "objective", T5_OBJECTIVES, "span");
    opts.noiseDensity = num(flags, "noise-density");
    opts.meanNoiseSpanLength = num(flags, "mean-noise-span-length");
    opts.heldOut = num(flags, "held-out");
    if (!opts.resume && opts.corpus === undefined) throw new UsageError("--corpus is required");
  } else {
    opts.tasks = str(flags, "tasks");
    opts.evalTasks = str(flags, "eval-tasks");
    if (flags.mixing !== undefined)
      opts.mixing = oneOf<MixingStrategy>(
        flags,
        "mixing",
        ["proportional", "equal", "temperature"],
        "temperature",
      );
    opts.limit = int(flags, "K", undefined, 1);
    opts.temperature = num(flags, "T");
    if (!opts.resume && opts.tasks === undefined) throw new UsageError("--tasks is required");
  }
  const delay = Number(process.env.EDGEFORMER_TEST_STEP_DELAY_MS ?? 0);
  if (delay > 0) opts.afterStep = () => sleep(delay);
  const nanStep = Number(process.env.EDGEFORMER_TEST_NAN_STEP ?? 0);
  if (nanStep > 0)
    opts.beforeStep = (step, trainer) => {
      if (step === nanStep) trainer.params.view("shared.weight")[0] = Number.NaN;
    };
  try {
    return JSON.stringify(await trainT5(opts));
  } catch (e) {
    if (e instanceof PretrainSettingsError) throw new UsageError(e.message);
    throw e;
  }
}
