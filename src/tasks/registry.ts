// The task table: each task name maps to the model head it needs and the function that runs it, so
// the CLI and the worker look tasks up here instead of branching on names.
import type { BertHead } from "../models/bert.ts";
import { classify } from "./classify.ts";
import { embed } from "./embeddings.ts";
import { fillMask } from "./fill-mask.ts";
import { nextSentence } from "./next-sentence.ts";
import type { BertPipeline } from "./pipeline.ts";
import { answerQuestion } from "./question-answering.ts";
import { classifyTokens } from "./token-classification.ts";

export interface TaskInfo {
  /** Heads the checkpoint must carry (none: the encoder alone serves). */
  needs: BertHead[];
  description: string;
}

export const BERT_TASKS = {
  "fill-mask": { needs: ["mlm"], description: "most likely tokens for each [MASK]", run: fillMask },
  embeddings: { needs: [], description: "mean or [CLS] pooled sentence embeddings", run: embed },
  "next-sentence": {
    needs: ["nsp"],
    description: "probability that text B follows text A",
    run: nextSentence,
  },
  classify: {
    needs: ["classifier"],
    description: "sequence classification labels with scores",
    run: classify,
  },
  "token-classification": {
    needs: ["classifier"],
    description: "per-token labels, grouped by word",
    run: classifyTokens,
  },
  "question-answering": { needs: ["qa"], description: "best answer span in a context", run: answerQuestion },
} as const satisfies Record<string, TaskInfo & { run: unknown }>;

export type BertTaskName = keyof typeof BERT_TASKS;

/** Task names a loaded pipeline can serve. */
export function supportedTasks(p: BertPipeline): BertTaskName[] {
  return (Object.keys(BERT_TASKS) as BertTaskName[]).filter((name) => {
    const t = BERT_TASKS[name];
    if (name === "token-classification") return p.model.isTokenClassifier;
    if (name === "classify") return p.model.heads.has("classifier") && !p.model.isTokenClassifier;
    return t.needs.every((h) => p.model.heads.has(h as BertHead));
  });
}
