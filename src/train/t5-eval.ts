// Held-out evaluation of a text-to-text model on a tasks.json, the engine of `edgeformer evaluate`: for
// each task, greedy generation (optionally with transformers' no_repeat_ngram_size and
// repetition_penalty) on (up to `limit` of) its examples, scored by exact match (after
// lower-casing and collapsing whitespace) and token F1 (SQuAD's bag-of-words overlap of the normalized
// words), against two trivial baselines computed on the same examples: the task's most frequent target
// in the training tasks file (or in the evaluated examples themselves when none is given) and copying
// the input (without its "task: " prefix). Span-filling tasks are scored on the filled spans the same way.

import { generateText, type T5Pipeline } from "../tasks/text2text.ts";
import type { Task } from "./t5data/mixing.ts";

export interface Scores {
  exact_match: number;
  token_f1: number;
}

export interface TaskReport {
  examples: number;
  model: Scores;
  baseline_majority: Scores & { target: string };
  baseline_copy: Scores;
  /** A few (input, target, output) triples to show. */
  samples: { input: string; target: string; output: string }[];
  seconds: number;
}

/** Lower-case, collapse whitespace, drop the sentinels and the punctuation around words. */
export function normalizeAnswer(s: string): string {
  return s
    .toLowerCase()
    .replace(/<extra_id_\d+>/g, " ")
    .replace(/[^\p{L}\p{N}\s'-]/gu, " ")
    .replace(/\s+/g, " ")
    .trim();
}

/** SQuAD token F1 of a prediction against a reference (both normalized). */
export function tokenF1(prediction: string, reference: string): number {
  const p = normalizeAnswer(prediction).split(" ").filter(Boolean);
  const r = normalizeAnswer(reference).split(" ").filter(Boolean);
  if (p.length === 0 || r.length === 0) return p.length === r.length ? 1 : 0;
  const counts = new Map<string, number>();
  for (const w of r) counts.set(w, (counts.get(w) ?? 0) + 1);
  let same = 0;
  for (const w of p) {
    const c = counts.get(w) ?? 0;
    if (c > 0) {
      same++;
      counts.set(w, c - 1);
    }
  }
  if (same === 0) return 0;
  const precision = same / p.length;
  const recall = same / r.length;
  return (2 * precision * recall) / (precision + recall);
}

export function score(predictions: readonly string[], references: readonly string[]): Scores {
  let em = 0;
  let f1 = 0;
  predictions.forEach((p, i) => {
    if (normalizeAnswer(p) === normalizeAnswer(references[i])) em++;
    f1 += tokenF1(p, references[i]);
  });
  const n = Math.max(1, predictions.length);
  return { exact_match: em / n, token_f1: f1 / n };
}

/** The most frequent target (ties: the first seen). */
export function majorityTarget(targets: readonly string[]): string {
  const counts = new Map<string, number>();
  let best = "";
  let bestN = 0;
  for (const t of targets) {
    const n = (counts.get(t) ?? 0) + 1;
    counts.set(t, n);
    if (n > bestN) {
      best = t;
      bestN = n;
    }
  }
  return best;
}

/** The input without a leading "task: " prefix. */
export function stripTaskPrefix(input: string): string {
  return input.replace(/^[a-z_]+:\s+/, "");
}

export interface EvaluateOptions {
  /** Examples per task (the first ones). Default 200. */
  limit?: number;
  /** Generation batch. Default 16. */
  batch?: number;
  maxNewTokens?: number;
  /** Greedy decoding's repetition controls (src/models/logits-process.ts): 0 and 1 = off (default). */
  noRepeatNgramSize?: number;
  repetitionPenalty?: number;
  /** Training tasks by name, for the majority baseline. */
  trainTasks?: readonly Task[];
  samples?: number;
}

export function evaluateTasks(
  p: T5Pipeline,
  tasks: readonly Task[],
  o: EvaluateOptions = {},
): Record<string, TaskReport> {
  const limit = o.limit ?? 200;
  const batch = o.batch ?? 16;
  const out: Record<string, TaskReport> = {};
  for (const task of tasks) {
    const t0 = performance.now();
    const ex = task.examples.slice(0, limit);
    const inputs = ex.map((e) => `${task.prefix}${e.input}`);
    const refs = ex.map((e) => e.target);
    const outputs: string[] = [];
    for (let i = 0; i < inputs.length; i += batch) {
      const res = generateText(p, inputs.slice(i, i + batch), {
        maxNewTokens: o.maxNewTokens ?? 48,
        noRepeatNgramSize: o.noRepeatNgramSize,
        repetitionPenalty: o.repetitionPenalty,
      });
      outputs.push(...res.map((r) => r.generated_text));
    }
    const train = o.trainTasks?.find((t) => t.name === task.name);
    const majority = majorityTarget((train ?? task).examples.map((e) => e.target));
    out[task.name] = {
      examples: ex.length,
      model: score(outputs, refs),
      baseline_majority: {
        ...score(
          refs.map(() => majority),
          refs,
        ),
        target: majority,
      },
      baseline_copy: score(
        ex.map((e) => stripTaskPrefix(e.input)),
        refs,
      ),
      samples: ex
        .slice(0, o.samples ?? 5)
        .map((e, i) => ({ input: inputs[i], target: e.target, output: outputs[i] })),
      seconds: Number(((performance.now() - t0) / 1000).toFixed(2)),
    };
  }
  return out;
}
