// A BERT pipeline: a tokenizer, a loaded model and the length limit, plus the step every task shares:
// texts (or pairs) → one padded batch → BertInput.
import type { BertInput, BertModel } from "../models/bert.ts";
import { padBatch } from "../tokenizers/padding.ts";
import type { EncodeOptions, Encoding, Tokenizer } from "../tokenizers/types.ts";

export interface BertPipeline {
  tokenizer: Tokenizer;
  model: BertModel;
  /** Longest input in tokens (special tokens included); defaults to max_position_embeddings. */
  maxLength?: number;
}

export class TaskInputError extends Error {
  override name = "TaskInputError";
}

export function maxLengthOf(p: BertPipeline): number {
  return Math.min(p.maxLength ?? Number.POSITIVE_INFINITY, p.model.config.maxPositions);
}

/** Tokenizes texts (and optional pairs), truncating to the pipeline's limit, and pads them into one batch. */
export function encodeBatch(
  p: BertPipeline,
  texts: string[],
  pairs?: string[],
  options: EncodeOptions = {},
): { encodings: Encoding[]; input: BertInput } {
  if (texts.length === 0) throw new TaskInputError("no input texts");
  const maxLength = maxLengthOf(p);
  const encoded = texts.map((t, i) =>
    p.tokenizer.encode(t, pairs?.[i], { maxLength, truncation: "longest_first", ...options }),
  );
  const padId = p.tokenizer.special.pad ?? 0;
  const encodings = padBatch(encoded, { padId, padToken: p.tokenizer.idToToken(padId) });
  const B = encodings.length;
  const T = encodings[0].ids.length;
  const input: BertInput = {
    inputIds: Int32Array.from(encodings.flatMap((e) => e.ids)),
    attentionMask: Int32Array.from(encodings.flatMap((e) => e.attentionMask)),
    tokenTypeIds: Int32Array.from(encodings.flatMap((e) => e.typeIds)),
    batch: B,
    seq: T,
  };
  return { encodings, input };
}

export function softmax(logits: ArrayLike<number>): Float64Array {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  const out = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    out[i] = Math.exp(logits[i] - max);
    sum += out[i];
  }
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}

/** Indices of the k largest values, largest first. */
export function topK(values: ArrayLike<number>, k: number): number[] {
  const idx = Array.from({ length: values.length }, (_, i) => i);
  idx.sort((a, b) => values[b] - values[a]);
  return idx.slice(0, Math.max(0, k));
}

export function checkTopK(k: number | undefined, fallback: number): number {
  const v = k ?? fallback;
  if (!Number.isInteger(v) || v < 1) throw new TaskInputError(`top_k must be a positive integer, got ${k}`);
  return v;
}
