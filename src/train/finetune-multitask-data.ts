// The data half of multi-task BERT fine-tuning (src/train/finetune-multitask.ts is the loop): tasks.json
// tasks of labelled text (src/train/t5data/mixing.ts: {"text", "label", "text_pair"?} JSONL lines) →
// each task's label list, tokenized training and held-out examples, majority-class baselines; and the
// plan of one step: `batch` draws of the mixing sampler (each draw picks its task by the rates, so the
// batch mixes tasks exactly as the rates say, example by example), grouped by task in task order. The
// loop runs one forward/backward per group with the group's head, accumulating gradients with the loss
// scaled by group size / batch, so the step's gradient is that of the mean loss over the whole batch.
// Pure: the caller reads the files.
import type { Tokenizer } from "../tokenizers/types.ts";
import { epochPermutation } from "./data/index.ts";
import { FinetuneDataError, labelList, majority } from "./finetune-data.ts";
import { type BertClassifyExample, tokenizeClassify } from "./finetune-tasks.ts";
import type { LabeledExample, MixtureSampler, MixtureTask } from "./t5data/mixing.ts";
import { withPrefix } from "./t5data/mixing.ts";

/** One task of a multi-task run, ready to train. */
export interface MultitaskTask {
  name: string;
  /** Put before each text (tasks.json's prefix; "" for none). */
  prefix: string;
  /** Labels by class index (sorted, numerically when all are integers). */
  labels: string[];
  /** Tokenized training examples, in file order (the sampler draws indices into this list). */
  train: BertClassifyExample[];
  /** Tokenized held-out examples (a seeded sample of at most evalExamples). */
  evalItems: BertClassifyExample[];
  /** The most frequent training label and the share of held-out examples that have it. */
  majority: string;
  majorityAccuracy: number;
}

/** One group of a step: the examples of one task, in draw order. */
export interface StepGroup<E> {
  task: number;
  items: E[];
}

/** The examples of one step: `batch` draws, grouped by task (groups in task order). */
export function planStep<E>(sampler: MixtureSampler<E>, batch: number): StepGroup<E>[] {
  const byTask = new Map<number, E[]>();
  for (const d of sampler.drawMany(batch)) {
    const g = byTask.get(d.taskIndex);
    if (g) g.push(d.example);
    else byTask.set(d.taskIndex, [d.example]);
  }
  return [...byTask.entries()].sort((a, b) => a[0] - b[0]).map(([task, items]) => ({ task, items }));
}

/** At most `n` items: a seeded sample kept in file order when there are more. */
export function sampleItems<T>(items: readonly T[], n: number, seed: number): T[] {
  if (items.length <= n) return [...items];
  const idx = Array.from(epochPermutation(items.length, seed, 0).subarray(0, n)).sort((a, b) => a - b);
  return idx.map((i) => items[i]);
}

export interface PrepareTasksOptions {
  tokenizer: Tokenizer;
  /** Tokens per example ([CLS]/[SEP] included). */
  seqLen: number;
  evalExamples: number;
  evalSeed: number;
  /** Each task's label list when already fixed (a resumed run, or a base model's multi-task heads). */
  labels?: Record<string, string[]>;
}

/**
 * The tasks of a run: labels from the training data (or `labels`), examples tokenized with the task's
 * prefix before the text, held-out tasks matched by name (every held-out task must be a training task;
 * training tasks without held-out data get none). Throws FinetuneDataError on bad labels.
 */
export function prepareTasks(
  train: readonly MixtureTask<LabeledExample>[],
  evalTasks: readonly MixtureTask<LabeledExample>[],
  o: PrepareTasksOptions,
): MultitaskTask[] {
  for (const t of evalTasks)
    if (!train.some((u) => u.name === t.name))
      throw new FinetuneDataError(`held-out task ${JSON.stringify(t.name)} is not a training task`);
  for (const t of train)
    if (!/^[^.\s]+$/.test(t.name))
      throw new FinetuneDataError(
        `task name ${JSON.stringify(t.name)}: no dots or spaces (it names the head's tensors, classifier.{task}.weight)`,
      );
  return train.map((t) => {
    const fixed = o.labels?.[t.name];
    let labels: string[];
    try {
      labels = labelList(t.examples, fixed);
    } catch (e) {
      throw new FinetuneDataError(`task ${t.name}: ${(e as Error).message}`);
    }
    const id = new Map(labels.map((l, i) => [l, i]));
    const tok = (e: LabeledExample) =>
      tokenizeClassify(o.tokenizer, withPrefix(t.prefix, e.text), e.textPair, id.get(e.label)!, o.seqLen);
    const held = evalTasks.find((u) => u.name === t.name);
    const evalRaw = held ? sampleItems(held.examples, o.evalExamples, o.evalSeed) : [];
    const unknown = evalRaw.filter((e) => !id.has(e.label));
    if (unknown.length)
      throw new FinetuneDataError(
        `held-out task ${t.name}: ${unknown.length} examples have labels its training data does not (${[...new Set(unknown.map((e) => e.label))].slice(0, 5).join(", ")})`,
      );
    const maj = majority(
      t.examples.map((e) => e.label),
      labels,
    ).value;
    return {
      name: t.name,
      prefix: t.prefix,
      labels,
      train: t.examples.map(tok),
      evalItems: evalRaw.map(tok),
      majority: maj,
      majorityAccuracy: evalRaw.length ? evalRaw.filter((e) => e.label === maj).length / evalRaw.length : 0,
    };
  });
}
