// `edgeformer finetune --model DIR --data FILE --out DIR --strategy full|unfreeze|adapters [options]`:
// fine-tuning a BERT (sequence classification on labelled JSONL / CSV) or a T5 (text-to-text pairs) into
// a run folder (src/train/finetune.ts): progress on stderr, the result as JSON on stdout. Bad settings
// exit 2, a diverged run (NaN or infinite loss) exits 1 with the last good checkpoint kept. Test-only
// hooks, from the environment, as `pretrain`'s: EDGEFORMER_TEST_STEP_DELAY_MS (sleep after each step)
// and EDGEFORMER_TEST_NAN_STEP (poison a trainable parameter with NaN before that step).
import { setTimeout as sleep } from "node:timers/promises";
import {
  FINETUNE_STRATEGIES,
  type FinetuneOptions,
  type FinetuneStrategy,
  finetune,
  PretrainSettingsError,
} from "../../train/finetune.ts";
import type { ProgressMode } from "../../train/progress.ts";
import type { ScheduleKind } from "../../train/schedule.ts";
import { type Flags, int, num, oneOf, str, UsageError } from "../args.ts";

export const FINETUNE_SUMMARY =
  "--model DIR --data FILE --out DIR --strategy full|unfreeze|adapters [--eval-data FILE] [--unfreeze-every N] [--bottleneck R] [--steps N | --epochs E] [--batch B] [--lr X] [--warmup N] [--schedule linear|cosine] [--max-grad-norm X] [--weight-decay X] [--seq-len N] [--target-len N] [--labels a,b,c] [--seed S] [--eval-every N] [--eval-examples N] [--save-every N] [--log-every N] [--keep N] [--progress auto|bar|lines|none] [--resume]";

const s = { type: "string" } as const;
const flag = { type: "boolean" } as const;

export const FINETUNE_OPTIONS = {
  model: s,
  data: s,
  "eval-data": s,
  out: s,
  strategy: s,
  "unfreeze-every": s,
  bottleneck: s,
  steps: s,
  epochs: s,
  batch: s,
  lr: s,
  warmup: s,
  schedule: s,
  "max-grad-norm": s,
  "weight-decay": s,
  "seq-len": s,
  "target-len": s,
  labels: s,
  seed: s,
  "eval-every": s,
  "eval-examples": s,
  "save-every": s,
  "log-every": s,
  keep: s,
  progress: s,
  resume: flag,
};

export async function finetuneCommand(flags: Flags): Promise<string> {
  const out = str(flags, "out", true)!;
  const resume = Boolean(flags.resume);
  const labels = str(flags, "labels")
    ?.split(",")
    .map((l) => l.trim());
  if (labels?.some((l) => l === ""))
    throw new UsageError("--labels must be a comma-separated list of non-empty labels");
  const epochs = num(flags, "epochs");
  if (epochs !== undefined && !(epochs > 0)) throw new UsageError(`--epochs must be > 0, got ${epochs}`);
  const opts: FinetuneOptions = {
    out,
    model: str(flags, "model"),
    data: str(flags, "data"),
    evalData: str(flags, "eval-data"),
    strategy:
      flags.strategy === undefined
        ? undefined
        : oneOf<FinetuneStrategy>(flags, "strategy", FINETUNE_STRATEGIES, "full"),
    unfreezeEvery: int(flags, "unfreeze-every", undefined, 1),
    bottleneck: int(flags, "bottleneck", undefined, 1),
    steps: int(flags, "steps", undefined, 1),
    epochs,
    batch: int(flags, "batch", undefined, 1),
    lr: num(flags, "lr"),
    warmup: int(flags, "warmup"),
    schedule:
      flags.schedule === undefined
        ? undefined
        : oneOf<ScheduleKind>(flags, "schedule", ["linear", "cosine"], "linear"),
    maxGradNorm: num(flags, "max-grad-norm"),
    weightDecay: num(flags, "weight-decay"),
    seqLen: int(flags, "seq-len", undefined, 4),
    targetLen: int(flags, "target-len", undefined, 1),
    labels,
    seed: int(flags, "seed"),
    evalEvery: int(flags, "eval-every"),
    evalExamples: int(flags, "eval-examples"),
    saveEvery: int(flags, "save-every"),
    logEvery: int(flags, "log-every", undefined, 1),
    keep: int(flags, "keep", undefined, 1),
    resume,
    progress: oneOf<ProgressMode>(flags, "progress", ["auto", "bar", "lines", "none"], "auto"),
  };
  if (!resume) {
    for (const k of ["model", "data", "strategy"] as const)
      if (opts[k] === undefined) throw new UsageError(`--${k} is required`);
  }
  const delay = Number(process.env.EDGEFORMER_TEST_STEP_DELAY_MS ?? 0);
  if (delay > 0) opts.afterStep = () => sleep(delay);
  const nanStep = Number(process.env.EDGEFORMER_TEST_NAN_STEP ?? 0);
  if (nanStep > 0)
    opts.beforeStep = (step, trainer) => {
      if (step !== nanStep) return;
      const name = trainer.params
        .trainableNames()
        .find((n) => n.includes("LayerNorm") || n.includes("layer_norm"));
      trainer.params.view(name ?? trainer.params.trainableNames()[0])[0] = Number.NaN;
      trainer.repack();
    };
  try {
    return JSON.stringify(await finetune(opts));
  } catch (e) {
    if (e instanceof PretrainSettingsError) throw new UsageError(e.message);
    throw e;
  }
}
