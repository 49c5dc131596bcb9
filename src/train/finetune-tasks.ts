// The model-specific half of fine-tuning (src/train/finetune.ts is the loop): for BERT sequence
// classification and for T5 text-to-text, how examples are tokenized and collated, one step's loss,
// gradient and correct predictions, evaluation, which tensors the adapters strategy trains (adapters,
// layer norms, the head), and the block structure gradual unfreezing walks. T5 accuracy is exact match
// under teacher forcing, which equals greedy decoding's exact match (every argmax right given the right
// prefix ⇔ greedy decoding reproduces the target).
import { isAdapterTensor } from "../models/adapters.ts";
import type { Tokenizer } from "../tokenizers/types.ts";
import type { BertBatch, BertTrainer } from "./bert-train.ts";
import type { T5Trainer } from "./t5-train.ts";
import { collateT5, type T5Example, truncateWithEos } from "./t5data/index.ts";
import type { UnfreezeArch } from "./unfreeze.ts";

/** Sums over a batch: the loss (mean over `weight` units, e.g. sequences or tokens), correct predictions. */
export interface StepStats {
  loss: number;
  /** What the loss is a mean over (sequences for BERT, target tokens for T5). */
  weight: number;
  /** Examples predicted right, of `count`. */
  correct: number;
  count: number;
  /** Real (non-padding) tokens in the batch. */
  tokens: number;
}

export interface FinetuneTask<E> {
  readonly modelType: "bert" | "t5";
  readonly trainer: BertTrainer | T5Trainer;
  readonly unfreezeArch: UnfreezeArch;
  /** True for tensors the adapters strategy trains: adapters, layer norms and the task head. */
  adapterTrains(name: string): boolean;
  /** Zero-grad, forward, backward for a batch of examples. */
  lossAndGrad(items: readonly E[]): StepStats;
  /** Forward only. */
  evaluate(items: readonly E[]): StepStats;
}

// ---- BERT sequence classification ----

export interface BertClassifyExample {
  ids: number[];
  typeIds: number[];
  label: number;
}

/** Tokenizes a text (and optional pair) for classification, cut to maxLength tokens ([CLS]/[SEP] included). */
export function tokenizeClassify(
  tok: Tokenizer,
  text: string,
  pair: string | undefined,
  label: number,
  maxLength: number,
): BertClassifyExample {
  const e = tok.encode(text, pair, { maxLength, truncation: "longest_first" });
  return { ids: e.ids, typeIds: e.typeIds, label };
}

/** Pads examples to the batch's longest into a BertBatch with labels. */
export function collateClassify(items: readonly BertClassifyExample[], padId: number): BertBatch {
  const B = items.length;
  const T = Math.max(...items.map((e) => e.ids.length));
  const inputIds = new Int32Array(B * T).fill(padId); // [B,T]
  const attentionMask = new Int32Array(B * T); // [B,T]
  const tokenTypeIds = new Int32Array(B * T); // [B,T]
  items.forEach((e, b) => {
    inputIds.set(e.ids, b * T);
    tokenTypeIds.set(e.typeIds, b * T);
    attentionMask.fill(1, b * T, b * T + e.ids.length);
  });
  return {
    inputIds,
    attentionMask,
    tokenTypeIds,
    labels: Int32Array.from(items, (e) => e.label),
    batch: B,
    seq: T,
  };
}

/** BERT tensors the adapters strategy trains: adapters, layer norms, the pooler and the classifier head(s). */
export function bertAdapterTrains(name: string, prefix = "bert."): boolean {
  return (
    isAdapterTensor(name) ||
    name.includes("LayerNorm") ||
    name.startsWith("classifier.") ||
    name.startsWith(`${prefix}pooler.`)
  );
}

export class BertClassifyTask implements FinetuneTask<BertClassifyExample> {
  readonly modelType = "bert";
  readonly unfreezeArch: UnfreezeArch;

  constructor(
    readonly trainer: BertTrainer,
    readonly padId: number,
  ) {
    this.unfreezeArch = { modelType: "bert", numLayers: trainer.config.numLayers, prefix: trainer.prefix };
  }

  adapterTrains(name: string): boolean {
    return bertAdapterTrains(name, this.trainer.prefix);
  }

  private run(items: readonly BertClassifyExample[], grad: boolean): StepStats {
    const b = collateClassify(items, this.padId);
    const out = grad
      ? this.trainer.lossAndGrad(b, { logits: true })
      : this.trainer.evaluate(b, { logits: true });
    const L = this.trainer.config.numLabels;
    const logits = out.classifyLogits!; // [B,L]
    let correct = 0;
    for (let i = 0; i < b.batch; i++) {
      let best = 0;
      for (let j = 1; j < L; j++) if (logits[i * L + j] > logits[i * L + best]) best = j;
      if (best === b.labels![i]) correct++;
    }
    let tokens = 0;
    for (const m of b.attentionMask!) tokens += m;
    return { loss: out.classifyLoss!, weight: b.batch, correct, count: b.batch, tokens };
  }

  lossAndGrad(items: readonly BertClassifyExample[]): StepStats {
    return this.run(items, true);
  }

  evaluate(items: readonly BertClassifyExample[]): StepStats {
    return this.run(items, false);
  }
}

// ---- T5 text-to-text ----

/** Tokenizes an input / target pair, each ending in </s>, cut to the limits. */
export function tokenizeTextPair(
  tok: Tokenizer,
  input: string,
  target: string,
  inputLength: number,
  targetLength: number,
  eos: number,
): T5Example {
  return {
    inputs: truncateWithEos(tok.encode(input).ids, inputLength, eos),
    targets: truncateWithEos(tok.encode(target).ids, targetLength, eos),
  };
}

export class T5TextTask implements FinetuneTask<T5Example> {
  readonly modelType = "t5";
  readonly unfreezeArch: UnfreezeArch;

  constructor(
    readonly trainer: T5Trainer,
    readonly padId: number,
  ) {
    const c = trainer.config;
    this.unfreezeArch = { modelType: "t5", numLayers: c.numLayers, numDecoderLayers: c.numDecoderLayers };
  }

  adapterTrains(name: string): boolean {
    return isAdapterTensor(name) || name.includes("layer_norm") || name === "lm_head.weight";
  }

  private run(items: readonly T5Example[], grad: boolean): StepStats {
    const b = collateT5(items, this.padId);
    const out = grad
      ? this.trainer.lossAndGrad(b, { logits: true })
      : this.trainer.evaluate(b, { logits: true });
    const V = this.trainer.config.vocabSize;
    const Td = b.decoderSeq;
    const wrong = new Uint8Array(b.batch); // examples with a wrong target token
    const logits = out.logits!; // [rows,V]
    for (let r = 0; r < out.rows.length; r++) {
      let best = 0;
      for (let v = 1; v < V; v++) if (logits[r * V + v] > logits[r * V + best]) best = v;
      const row = out.rows[r];
      if (best !== b.labels[row]) wrong[Math.floor(row / Td)] = 1;
    }
    let tokens = 0;
    for (const m of b.attentionMask!) tokens += m;
    for (const e of items) tokens += e.targets.length;
    return {
      loss: out.tokens ? out.loss : 0,
      weight: out.tokens,
      correct: wrong.reduce((a, w) => a + (1 - w), 0),
      count: b.batch,
      tokens,
    };
  }

  lossAndGrad(items: readonly T5Example[]): StepStats {
    return this.run(items, true);
  }

  evaluate(items: readonly T5Example[]): StepStats {
    return this.run(items, false);
  }
}
