// Text classification with a BertForSequenceClassification head: softmax over the labels (sigmoid for
// one label or multi-label checkpoints), the top_k labels by score, as [{label, score}]. A multi-task
// model (one head per task) classifies with the head of opts.task, or its selected task by default, with
// the task's training prefix put before each text (a space between unless the prefix ends with one).
import { type BertPipeline, checkTopK, encodeBatch, softmax, topK } from "./pipeline.ts";

export interface LabelScore {
  label: string;
  score: number;
}

export function classify(
  p: BertPipeline,
  texts: string[],
  opts: { topK?: number; pairs?: string[]; multiLabel?: boolean; task?: string } = {},
): LabelScore[][] {
  const labels = opts.task === undefined ? p.model.config.id2label : p.model.taskLabels(opts.task);
  const k = Math.min(checkTopK(opts.topK, 1), labels.length);
  const task = opts.task ?? p.model.task;
  const prefix = task === undefined ? "" : p.model.taskPrefix(task);
  const join = (t: string) => (prefix === "" || /\s$/u.test(prefix) ? prefix + t : `${prefix} ${t}`);
  const { input } = encodeBatch(p, prefix ? texts.map(join) : texts, opts.pairs);
  const logits = p.model.forward(input, { classify: true, task: opts.task }).classifyLogits!; // [B,L]
  const L = labels.length;
  const sigmoid = opts.multiLabel || L === 1;
  return texts.map((_, b) => {
    const row = logits.subarray(b * L, (b + 1) * L);
    const scores = sigmoid ? Float64Array.from(row, (x) => 1 / (1 + Math.exp(-x))) : softmax(row);
    return topK(scores, k).map((i) => ({ label: labels[i], score: scores[i] }));
  });
}
