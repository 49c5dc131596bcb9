// `edgeformer pretrain bert --corpus FILE --out DIR [options]` (and `pretrain t5`, see train-t5.ts): BERT pretraining (MLM + NSP) from a text
// corpus (one sentence per line, blank lines between documents) into a run folder (src/train/pretrain.ts):
// progress on stderr, the result as JSON on stdout. Bad settings exit 2, a diverged run (NaN or infinite
// loss) exits 1 with the last good checkpoint kept. Test-only hooks, from the environment:
// EDGEFORMER_TEST_STEP_DELAY_MS (sleep after each step, so a test can kill the run mid-way) and
// EDGEFORMER_TEST_NAN_STEP (poison a parameter with NaN before that step).
import { type PretrainOptions, pretrainBert } from "../../train/pretrain.ts";
import {
  type Flags,
  int,
  num,
  runResult,
  str,
  TRAINING_OPTIONS,
  testNanStep,
  testStepDelay,
  trainingFlags,
  UsageError,
} from "../args.ts";
import { PRETRAIN_T5_OPTIONS, PRETRAIN_T5_SUMMARY, T5_RUN_OPTIONS, t5RunCommand } from "./train-t5.ts";

export const PRETRAIN_SUMMARY = `bert --corpus FILE --out DIR [--config FILE | --init DIR] [--vocab FILE | --vocab-size V] [--steps N] [--batch B] [--accumulate N] [--lr X] [--warmup N] [--schedule linear|cosine] [--max-grad-norm X] [--weight-decay X] [--seq-len T] [--seed S] [--threads N] [--eval-every N] [--save-every N] [--log-every N] [--keep N] [--held-out F] [--eval-examples N] [--dupe-factor N] [--cased] [--progress auto|bar|lines|none] [--resume]\n  pretrain ${PRETRAIN_T5_SUMMARY}`;

const s = { type: "string" } as const;
const flag = { type: "boolean" } as const;

/** The flags pretrain bert takes. */
const BERT_OPTIONS = {
  ...TRAINING_OPTIONS,
  out: s,
  corpus: s,
  config: s,
  init: s,
  vocab: s,
  "vocab-size": s,
  accumulate: s,
  "seq-len": s,
  threads: s,
  "held-out": s,
  "dupe-factor": s,
  cased: flag,
};

/** The flags pretrain t5 takes. */
const T5_OPTIONS = { ...T5_RUN_OPTIONS, ...PRETRAIN_T5_OPTIONS };

/** Every flag of either model (the parser's list); each model refuses the other's, never ignores them. */
export const PRETRAIN_OPTIONS = { ...T5_OPTIONS, ...BERT_OPTIONS };

/** UsageError for a flag given that `model` does not take (it is the other model's). */
function refuseOthers(flags: Flags, model: "bert" | "t5", takes: Record<string, unknown>): void {
  const other = model === "bert" ? "t5" : "bert";
  for (const [f, v] of Object.entries(flags))
    if (v !== undefined && !Object.hasOwn(takes, f))
      throw new UsageError(`--${f} is for pretrain ${other}, not ${model}`);
}

export async function pretrainCommand(flags: Flags, positionals: string[]): Promise<string> {
  if (positionals.length !== 1 || (positionals[0] !== "bert" && positionals[0] !== "t5"))
    throw new UsageError(
      positionals.length === 0
        ? "which model to pretrain? (bert or t5)"
        : `cannot pretrain ${JSON.stringify(positionals.join(" "))} (bert or t5)`,
    );
  if (positionals[0] === "t5") {
    refuseOthers(flags, "t5", T5_OPTIONS);
    return t5RunCommand("pretrain", flags);
  }
  refuseOthers(flags, "bert", BERT_OPTIONS);
  const out = str(flags, "out", true)!;
  const opts: PretrainOptions = {
    out,
    corpus: str(flags, "corpus"),
    config: str(flags, "config"),
    init: str(flags, "init"),
    vocab: str(flags, "vocab"),
    vocabSize: int(flags, "vocab-size", undefined, 10),
    ...trainingFlags(flags),
    accumulate: int(flags, "accumulate", undefined, 1),
    seqLen: int(flags, "seq-len", undefined, 8),
    threads: int(flags, "threads", undefined, 1),
    heldOut: num(flags, "held-out"),
    dupeFactor: int(flags, "dupe-factor", undefined, 1),
    lowercase: flags.cased ? false : undefined,
  };
  if (!opts.resume && opts.corpus === undefined) throw new UsageError("--corpus is required");
  opts.afterStep = testStepDelay();
  const nanStep = testNanStep();
  if (nanStep > 0)
    opts.beforeStep = (step, trainer) => {
      if (step === nanStep) trainer.params.view("bert.embeddings.LayerNorm.weight")[0] = Number.NaN;
    };
  return runResult(pretrainBert(opts));
}
