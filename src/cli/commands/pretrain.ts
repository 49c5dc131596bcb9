// `edgeformer pretrain bert --corpus FILE --out DIR [options]` (and `pretrain t5`, see train-t5.ts): BERT pretraining (MLM + NSP) from a text
// corpus (one sentence per line, blank lines between documents) into a run folder (src/train/pretrain.ts):
// progress on stderr, the result as JSON on stdout. Bad settings exit 2, a diverged run (NaN or infinite
// loss) exits 1 with the last good checkpoint kept. Test-only hooks, from the environment:
// EDGEFORMER_TEST_STEP_DELAY_MS (sleep after each step, so a test can kill the run mid-way) and
// EDGEFORMER_TEST_NAN_STEP (poison a parameter with NaN before that step).
import { setTimeout as sleep } from "node:timers/promises";
import { type PretrainOptions, PretrainSettingsError, pretrainBert } from "../../train/pretrain.ts";
import type { ProgressMode } from "../../train/progress.ts";
import type { ScheduleKind } from "../../train/schedule.ts";
import { type Flags, int, num, oneOf, str, UsageError } from "../args.ts";
import { PRETRAIN_T5_OPTIONS, PRETRAIN_T5_SUMMARY, T5_RUN_OPTIONS, t5RunCommand } from "./train-t5.ts";

export const PRETRAIN_SUMMARY = `bert --corpus FILE --out DIR [--config FILE | --init DIR] [--vocab FILE | --vocab-size V] [--steps N] [--batch B] [--accumulate N] [--lr X] [--warmup N] [--schedule linear|cosine] [--max-grad-norm X] [--weight-decay X] [--seq-len T] [--seed S] [--threads N] [--eval-every N] [--save-every N] [--log-every N] [--keep N] [--held-out F] [--eval-examples N] [--dupe-factor N] [--cased] [--progress auto|bar|lines|none] [--resume]\n  pretrain ${PRETRAIN_T5_SUMMARY}`;

const s = { type: "string" } as const;
const flag = { type: "boolean" } as const;

export const PRETRAIN_OPTIONS = {
  ...T5_RUN_OPTIONS,
  ...PRETRAIN_T5_OPTIONS,
  corpus: s,
  out: s,
  config: s,
  init: s,
  vocab: s,
  "vocab-size": s,
  steps: s,
  batch: s,
  accumulate: s,
  lr: s,
  warmup: s,
  schedule: s,
  "max-grad-norm": s,
  "weight-decay": s,
  "seq-len": s,
  seed: s,
  threads: s,
  "eval-every": s,
  "save-every": s,
  "log-every": s,
  keep: s,
  "held-out": s,
  "eval-examples": s,
  "dupe-factor": s,
  cased: flag,
  progress: s,
  resume: flag,
};

/** pretrain t5 flags that BERT runs do not take. */
const T5_ONLY = [
  "eval-corpus",
  "objective",
  "noise-density",
  "mean-noise-span-length",
  "input-length",
  "target-length",
];

/** pretrain bert flags that T5 runs do not take. */
const BERT_ONLY = ["vocab", "accumulate", "seq-len", "threads", "dupe-factor", "cased"];

export async function pretrainCommand(flags: Flags, positionals: string[]): Promise<string> {
  if (positionals.length !== 1 || (positionals[0] !== "bert" && positionals[0] !== "t5"))
    throw new UsageError(
      positionals.length === 0
        ? "which model to pretrain? (bert or t5)"
        : `cannot pretrain ${JSON.stringify(positionals.join(" "))} (bert or t5)`,
    );
  if (positionals[0] === "t5") {
    for (const f of BERT_ONLY)
      if (flags[f] !== undefined) throw new UsageError(`--${f} is for pretrain bert, not t5`);
    return t5RunCommand("pretrain", flags);
  }
  for (const f of T5_ONLY)
    if (flags[f] !== undefined) throw new UsageError(`--${f} is for pretrain t5, not bert`);
  const out = str(flags, "out", true)!;
  const opts: PretrainOptions = {
    out,
    corpus: str(flags, "corpus"),
    config: str(flags, "config"),
    init: str(flags, "init"),
    vocab: str(flags, "vocab"),
    vocabSize: int(flags, "vocab-size", undefined, 10),
    steps: int(flags, "steps", undefined, 1),
    batch: int(flags, "batch", undefined, 1),
    accumulate: int(flags, "accumulate", undefined, 1),
    lr: num(flags, "lr"),
    warmup: int(flags, "warmup"),
    schedule:
      flags.schedule === undefined
        ? undefined
        : oneOf<ScheduleKind>(flags, "schedule", ["linear", "cosine"], "linear"),
    maxGradNorm: num(flags, "max-grad-norm"),
    weightDecay: num(flags, "weight-decay"),
    seqLen: int(flags, "seq-len", undefined, 8),
    seed: int(flags, "seed"),
    threads: int(flags, "threads", undefined, 1),
    evalEvery: int(flags, "eval-every"),
    saveEvery: int(flags, "save-every"),
    logEvery: int(flags, "log-every", undefined, 1),
    keep: int(flags, "keep", undefined, 1),
    heldOut: num(flags, "held-out"),
    evalExamples: int(flags, "eval-examples"),
    dupeFactor: int(flags, "dupe-factor", undefined, 1),
    lowercase: flags.cased ? false : undefined,
    resume: Boolean(flags.resume),
    progress: oneOf<ProgressMode>(flags, "progress", ["auto", "bar", "lines", "none"], "auto"),
  };
  if (!opts.resume && opts.corpus === undefined) throw new UsageError("--corpus is required");
  const delay = Number(process.env.EDGEFORMER_TEST_STEP_DELAY_MS ?? 0);
  if (delay > 0) opts.afterStep = () => sleep(delay);
  const nanStep = Number(process.env.EDGEFORMER_TEST_NAN_STEP ?? 0);
  if (nanStep > 0)
    opts.beforeStep = (step, trainer) => {
      if (step === nanStep) trainer.params.view("bert.embeddings.LayerNorm.weight")[0] = Number.NaN;
    };
  try {
    return JSON.stringify(await pretrainBert(opts));
  } catch (e) {
    if (e instanceof PretrainSettingsError) throw new UsageError(e.message);
    throw e;
  }
}
