// `edgeformer finetune --model DIR --data FILE --out DIR --strategy full|unfreeze|adapters [options]`:
// fine-tuning a BERT (sequence classification on labelled JSONL / CSV) or a T5 (text-to-text pairs) into
// a run folder (src/train/finetune.ts): progress on stderr, the result as JSON on stdout. With
// `--tasks tasks.json [--eval-tasks tasks.json] [--mixing proportional|equal|temperature] [--K N] [--T X]`
// instead of --data: multi-task BERT fine-tuning, one head per task (src/train/finetune-multitask.ts);
// `--resume --out DIR` alone continues either kind of run. Bad settings exit 2, a diverged run (NaN or infinite loss) exits 1 with the last good checkpoint kept. Test-only
// hooks, from the environment, as `pretrain`'s: EDGEFORMER_TEST_STEP_DELAY_MS (sleep after each step)
// and EDGEFORMER_TEST_NAN_STEP (poison a trainable parameter with NaN before that step).
import { join } from "node:path";
import { readLatest } from "../../train/checkpoint.ts";
import {
  FINETUNE_STRATEGIES,
  type FinetuneOptions,
  type FinetuneStrategy,
  finetune,
} from "../../train/finetune.ts";
import {
  finetuneMultitask,
  MIXING_STRATEGIES,
  type MultitaskOptions,
} from "../../train/finetune-multitask.ts";
import { readJson } from "../../train/run-files.ts";
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

export const FINETUNE_SUMMARY =
  "--model DIR (--data FILE [--eval-data FILE] | --tasks tasks.json [--eval-tasks tasks.json] [--mixing proportional|equal|temperature] [--K N] [--T X]) --out DIR --strategy full|unfreeze|adapters [--unfreeze-every N] [--bottleneck R] [--steps N | --epochs E] [--batch B] [--lr X] [--warmup N] [--schedule linear|cosine] [--max-grad-norm X] [--weight-decay X] [--seq-len N] [--target-len N] [--labels a,b,c] [--seed S] [--eval-every N] [--eval-examples N] [--save-every N] [--log-every N] [--keep N] [--progress auto|bar|lines|none] [--resume]";

const s = { type: "string" } as const;

export const FINETUNE_OPTIONS = {
  ...TRAINING_OPTIONS,
  model: s,
  data: s,
  "eval-data": s,
  tasks: s,
  "eval-tasks": s,
  mixing: s,
  K: s,
  T: s,
  out: s,
  strategy: s,
  "unfreeze-every": s,
  bottleneck: s,
  epochs: s,
  "seq-len": s,
  "target-len": s,
  labels: s,
};

export async function finetuneCommand(flags: Flags): Promise<string> {
  const out = str(flags, "out", true)!;
  const resume = Boolean(flags.resume);
  const labels = str(flags, "labels")
    ?.split(",")
    .map((l) => l.trim());
  if (labels?.some((l) => l === ""))
    throw new UsageError("--labels must be a comma-separated list of non-empty labels");
  if (flags.tasks !== undefined || (flags.data === undefined && resume && (await isMultitaskRun(out))))
    return multitaskCommand(flags, out, resume);
  for (const f of ["eval-tasks", "mixing", "K", "T"])
    if (flags[f] !== undefined) throw new UsageError(`--${f} goes with --tasks`);
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
    ...trainingFlags(flags),
    epochs,
    seqLen: int(flags, "seq-len", undefined, 4),
    targetLen: int(flags, "target-len", undefined, 1),
    labels,
  };
  if (!resume) {
    for (const k of ["model", "data", "strategy"] as const)
      if (opts[k] === undefined) throw new UsageError(`--${k} is required`);
  }
  testHooks(opts);
  return runResult(finetune(opts));
}

/** The environment's test hooks: a delay after each step, a NaN put into a trainable tensor. */
function testHooks(opts: Pick<FinetuneOptions, "afterStep" | "beforeStep">): void {
  opts.afterStep = testStepDelay();
  const nanStep = testNanStep();
  if (nanStep > 0)
    opts.beforeStep = (step, trainer) => {
      if (step !== nanStep) return;
      const name = trainer.params
        .trainableNames()
        .find((n) => n.includes("LayerNorm") || n.includes("layer_norm"));
      trainer.params.view(name ?? trainer.params.trainableNames()[0])[0] = Number.NaN;
      trainer.repack();
    };
}

/** True when the run folder's latest checkpoint is a multi-task run's. */
async function isMultitaskRun(out: string): Promise<boolean> {
  const latest = await readLatest(out).catch(() => undefined);
  if (!latest) return false;
  const state = await readJson(join(latest.dir, "trainer_state.json"), "trainer state").catch(
    () => undefined,
  );
  return state?.kind === "finetune-multitask";
}

async function multitaskCommand(flags: Flags, out: string, resume: boolean): Promise<string> {
  for (const f of ["data", "eval-data", "epochs", "labels", "target-len"])
    if (flags[f] !== undefined)
      throw new UsageError(`--${f} does not apply to multi-task fine-tuning (--tasks)`);
  const opts: MultitaskOptions = {
    out,
    model: str(flags, "model"),
    tasks: str(flags, "tasks"),
    evalTasks: str(flags, "eval-tasks"),
    mixing:
      flags.mixing === undefined
        ? undefined
        : oneOf<MixingStrategy>(flags, "mixing", MIXING_STRATEGIES, "proportional"),
    limit: int(flags, "K", undefined, 1),
    temperature: num(flags, "T"),
    strategy:
      flags.strategy === undefined
        ? undefined
        : oneOf<FinetuneStrategy>(flags, "strategy", FINETUNE_STRATEGIES, "full"),
    unfreezeEvery: int(flags, "unfreeze-every", undefined, 1),
    bottleneck: int(flags, "bottleneck", undefined, 1),
    ...trainingFlags(flags),
    seqLen: int(flags, "seq-len", undefined, 4),
  };
  if (opts.temperature !== undefined && !(opts.temperature > 0))
    throw new UsageError(`--T must be > 0, got ${opts.temperature}`);
  if (!resume)
    for (const k of ["model", "tasks", "strategy"] as const)
      if (opts[k] === undefined) throw new UsageError(`--${k} is required`);
  testHooks(opts as Pick<FinetuneOptions, "afterStep" | "beforeStep">);
  return runResult(finetuneMultitask(opts));
}
