// `edgeformer pretrain t5 --corpus FILE --out DIR [--eval-corpus FILE] [--objective span|lm|prefix-lm] …` and `edgeformer train
// --tasks tasks.json --out DIR [--mixing proportional|equal|temperature] [--K N] [--T X] …`: T5 training
// runs (src/train/t5-run.ts) with progress on stderr and the result as JSON on stdout. Bad settings exit
// 2; a diverged run exits 1 with the last good checkpoint kept. Test hooks as `pretrain bert`
// (EDGEFORMER_TEST_STEP_DELAY_MS, EDGEFORMER_TEST_NAN_STEP).

import { LR_SCALES, type LrScale } from "../../train/run-loop.ts";
import { LOSS_WEIGHTINGS, type LossWeighting, type T5RunOptions, trainT5 } from "../../train/t5-run.ts";
import { T5_OBJECTIVES, type T5Objective } from "../../train/t5data/examples.ts";
import type { MixingStrategy } from "../../train/t5data/mixing.ts";
import {
  type Flags,
  int,
  num,
  oneOf,
  runResult,
  str,
  TRAINING_OPTIONS,
  testNanStep,
  testStepDelay,
  trainingFlags,
  UsageError,
} from "../args.ts";

const s = { type: "string" } as const;

/** Flags both T5 commands take. */
const COMMON =
  "[--config FILE | --init DIR] [--vocab-size V] [--steps N] [--batch B] [--lr X] [--warmup N] [--schedule linear|cosine] [--max-grad-norm X] [--weight-decay X] [--lr-scale none|rms] [--loss-weighting token|example] [--input-length T] [--target-length T] [--seed S] [--eval-every N] [--save-every N] [--log-every N] [--keep N] [--eval-examples N] [--micro-batch N] [--threads N] [--stop-at N] [--progress auto|bar|lines|none] [--resume]";
export const PRETRAIN_T5_SUMMARY = `t5 --corpus FILE --out DIR [--eval-corpus FILE] [--objective span|lm|prefix-lm] [--noise-density X] [--mean-noise-span-length X] [--held-out F] ${COMMON}`;
export const TRAIN_SUMMARY = `--tasks tasks.json --out DIR [--eval-tasks tasks.json] [--mixing proportional|equal|temperature] [--K N] [--T X] ${COMMON}`;

export const T5_RUN_OPTIONS = {
  ...TRAINING_OPTIONS,
  out: s,
  config: s,
  init: s,
  "vocab-size": s,
  "input-length": s,
  "target-length": s,
  "stop-at": s,
  "micro-batch": s,
  "lr-scale": s,
  "loss-weighting": s,
  threads: s,
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
    ...trainingFlags(flags),
    inputLength: int(flags, "input-length", undefined, 4),
    targetLength: int(flags, "target-length", undefined, 2),
    stopAt: int(flags, "stop-at", undefined, 1),
    microBatch: int(flags, "micro-batch", undefined, 0),
    threads: int(flags, "threads", undefined, 1),
    lrScale:
      flags["lr-scale"] === undefined ? undefined : oneOf<LrScale>(flags, "lr-scale", LR_SCALES, "none"),
    lossWeighting:
      flags["loss-weighting"] === undefined
        ? undefined
        : oneOf<LossWeighting>(flags, "loss-weighting", LOSS_WEIGHTINGS, "token"),
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
  opts.afterStep = testStepDelay();
  const nanStep = testNanStep();
  if (nanStep > 0)
    opts.beforeStep = (step, trainer) => {
      if (step === nanStep) trainer.params.view("shared.weight")[0] = Number.NaN;
    };
  return runResult(trainT5(opts));
}
