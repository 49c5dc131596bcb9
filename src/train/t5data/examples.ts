// Token-level T5 training examples and their batches: documents packed into fixed-length chunks (T5's
// reduce_concat_tokens + split_tokens), each chunk turned into an (inputs, targets) pair by an objective
// — span corruption (sentinels), or a random split point for the language-model objectives (prefix →
// inputs, rest → targets, as the T5 paper's prefix-LM objective) — and collation with per-batch padding:
// inputs padded with the pad id under a zero attention mask, targets padded with −100 (no loss).

import { type Rng, randInt } from "../data/random.ts";
import type { T5Batch } from "../t5-train.ts";
import { spanCorruption } from "./span-corruption.ts";

export type T5Objective = "span" | "lm" | "prefix-lm";
export const T5_OBJECTIVES: readonly T5Objective[] = ["span", "lm", "prefix-lm"];

/** One example: token ids, each ending with EOS. */
export interface T5Example {
  inputs: number[];
  targets: number[];
  /** Index of the task the example came from (multi-task training). */
  task?: number;
}

/**
 * Concatenates the documents' tokens and cuts them into chunks of `length` (the last, shorter piece is
 * kept only when it is the only one, or at least half a chunk long).
 */
export function packChunks(docs: readonly (readonly number[])[], length: number): number[][] {
  if (!(Number.isInteger(length) && length >= 2))
    throw new RangeError(`chunk length must be ≥ 2, got ${length}`);
  const out: number[][] = [];
  let cur: number[] = [];
  for (const d of docs) {
    for (const t of d) {
      cur.push(t);
      if (cur.length === length) {
        out.push(cur);
        cur = [];
      }
    }
  }
  if (cur.length >= 2 && (out.length === 0 || cur.length * 2 >= length)) out.push(cur);
  return out;
}

export interface ObjectiveOptions {
  objective: T5Objective;
  /** Tokenizer vocab size (sentinel k = vocabSize − 1 − k). */
  vocabSize: number;
  eosId: number;
  noiseDensity?: number;
  meanNoiseSpanLength?: number;
}

/**
 * The (inputs, targets) of one chunk under an objective. span: T5 span corruption. lm / prefix-lm: a
 * split point uniform in [1, n − 1]: the tokens before it are the inputs, the rest the targets.
 */
export function objectiveExample(chunk: readonly number[], rng: Rng, o: ObjectiveOptions): T5Example {
  if (o.objective === "span") {
    const ex = spanCorruption(chunk, rng, {
      vocabSize: o.vocabSize,
      eosId: o.eosId,
      noiseDensity: o.noiseDensity,
      meanNoiseSpanLength: o.meanNoiseSpanLength,
    });
    return { inputs: ex.inputs, targets: ex.targets };
  }
  const split = chunk.length >= 2 ? randInt(rng, 1, chunk.length - 1) : 1;
  return { inputs: [...chunk.slice(0, split), o.eosId], targets: [...chunk.slice(split), o.eosId] };
}

/** Cuts ids to at most `max` tokens, keeping the final EOS. */
export function truncateWithEos(ids: readonly number[], max: number, eosId: number): number[] {
  if (ids.length <= max) return [...ids];
  return [...ids.slice(0, max - 1), eosId];
}

/** Collates examples into a T5Batch: inputs [B,T] padded with padId (mask 0), labels [B,Tdec] padded with −100. */
export function collateT5(examples: readonly T5Example[], padId = 0): T5Batch {
  const B = examples.length;
  if (B === 0) throw new RangeError("collateT5: no examples");
  const T = Math.max(1, ...examples.map((e) => e.inputs.length));
  const Td = Math.max(1, ...examples.map((e) => e.targets.length));
  const inputIds = new Int32Array(B * T).fill(padId); // [B,T]
  const attentionMask = new Int32Array(B * T); // [B,T]
  const labels = new Int32Array(B * Td).fill(-100); // [B,Tdec]
  examples.forEach((e, b) => {
    inputIds.set(e.inputs, b * T);
    attentionMask.fill(1, b * T, b * T + Math.max(1, e.inputs.length));
    labels.set(e.targets, b * Td);
  });
  return { inputIds, attentionMask, labels, batch: B, seq: T, decoderSeq: Td };
}
