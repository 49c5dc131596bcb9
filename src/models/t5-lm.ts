// What the T5 language-model architectures (decoder-only and prefix LM, config "edgeformer_architecture")
// share between training (src/train/t5-train.ts) and inference (src/models/t5.ts): the row layout of
// input ⊕ target, the attention pattern, and the list of sublayers (for adapters).
//
// Row layout: each row is [left padding, the row's input tokens (attention_mask 1, in order), the
// decoder inputs (labels shifted right after the decoder start token)], so every row has the same
// prefix width P = the longest input and the targets start at position P in every row. The padding
// is on the left because T5's position bias is relative: the real tokens of a row see the same
// distances whatever the padding, so a row's outputs do not depend on the rest of the batch. Padding
// positions are masked as keys (their own outputs are never used).
//
// Attention: decoder-only is causal over the whole row (causal relative-position buckets); prefix LM
// is fully visible over the prefix (positions < P: the input tokens) and causal after it, with
// bidirectional buckets. The decoder start token is the first causal position: it sees the whole
// input and itself, and no prefix position sees it.
import { MaskKind } from "../runtime/kernels.ts";
import type { T5Config } from "./t5-config.ts";

/** The input tokens of each row, left-aligned into a prefix of width P (the longest input). */
export interface LmPrefix {
  /** Prefix width: the most input tokens (attention_mask 1) of any row; 0 when every row is empty. */
  P: number;
  /** [B,P] source index b·T + t of each prefix position, −1 for left padding. */
  src: Int32Array;
}

/** Left-aligns the tokens of an input batch [B,T] (mask [B,T], all ones when absent) into [B,P]. */
export function lmPrefix(mask: Int32Array | undefined, B: number, T: number): LmPrefix {
  const lengths = new Int32Array(B); // [B] input tokens per row
  for (let b = 0; b < B; b++) {
    let n = 0;
    for (let t = 0; t < T; t++) if (mask?.[b * T + t] !== 0) n++;
    lengths[b] = n;
  }
  const P = lengths.reduce((a, n) => Math.max(a, n), 0);
  const src = new Int32Array(B * P).fill(-1); // [B,P]
  for (let b = 0; b < B; b++) {
    let at = b * P + P - lengths[b];
    for (let t = 0; t < T; t++) if (mask?.[b * T + t] !== 0) src[at++] = b * T + t;
  }
  return { P, src };
}

/** One row per batch entry: left padding, input tokens, decoder inputs (ids [B,S], keyMask [B,S]). */
export interface LmSequence extends LmPrefix {
  /** P + Tdec. */
  S: number;
  /** [B,S] token ids (padding positions hold padId). */
  ids: Int32Array;
  /** [B,S] 1 = a real token, 0 = left padding. */
  keyMask: Int32Array;
}

/** input [B,T] (mask [B,T]) ⊕ decoder inputs [B,Td] → the LM rows [B, P + Td]. */
export function lmSequence(
  inputIds: Int32Array,
  mask: Int32Array | undefined,
  B: number,
  T: number,
  decoderIds: Int32Array,
  Td: number,
  padId: number,
): LmSequence {
  const pre = lmPrefix(mask, B, T);
  const { P, src } = pre;
  const S = P + Td;
  const ids = new Int32Array(B * S).fill(padId); // [B,S]
  const keyMask = new Int32Array(B * S).fill(1); // [B,S]
  for (let b = 0; b < B; b++) {
    for (let p = 0; p < P; p++) {
      const s = src[b * P + p];
      if (s < 0) keyMask[b * S + p] = 0;
      else ids[b * S + p] = inputIds[s];
    }
    ids.set(decoderIds.subarray(b * Td, (b + 1) * Td), b * S + P);
  }
  return { ...pre, S, ids, keyMask };
}

/** The self-attention pattern of an LM stack whose rows have a prefix of width P. */
export function lmAttention(
  c: Pick<T5Config, "architecture">,
  P: number,
): { maskKind: number; prefixLen: number; bidirectional: boolean } {
  return c.architecture === "prefix-lm"
    ? { maskKind: MaskKind.prefix, prefixLen: P, bidirectional: true }
    : { maskKind: MaskKind.causal, prefixLen: 0, bidirectional: false };
}

/**
 * Every sublayer of a T5, by tensor-name prefix (where an adapter goes): encoder–decoder
 * encoder.block.{i}.layer.{0,1} and decoder.block.{i}.layer.{0,1,2} (self-attention, cross-attention,
 * feed-forward); the LM architectures decoder.block.{i}.layer.{0,1} (self-attention, feed-forward).
 */
export function t5Sublayers(c: Pick<T5Config, "architecture" | "numLayers" | "numDecoderLayers">): string[] {
  const out: string[] = [];
  const lm = c.architecture !== "encoder-decoder";
  if (!lm)
    for (let i = 0; i < c.numLayers; i++)
      out.push(`encoder.block.${i}.layer.0`, `encoder.block.${i}.layer.1`);
  for (let i = 0; i < c.numDecoderLayers; i++)
    for (let j = 0; j < (lm ? 2 : 3); j++) out.push(`decoder.block.${i}.layer.${j}`);
  return out;
}

/**
 * A hint when a checkpoint's tensors belong to another architecture than the config's (an encoder–decoder
 * checkpoint under an LM config, or the reverse), else undefined.
 */
export function architectureMismatch(
  c: Pick<T5Config, "architecture">,
  names: readonly string[],
): string | undefined {
  const hasEncoder = names.some((n) => n.startsWith("encoder.block."));
  const lmBlocks = names.some((n) => /^decoder\.block\.\d+\.layer\.1\.DenseReluDense\./.test(n));
  const lm = c.architecture !== "encoder-decoder";
  if (lm && hasEncoder)
    return `the checkpoint holds encoder tensors (an encoder–decoder T5) but config.json says "edgeformer_architecture": "${c.architecture}"`;
  if (!lm && !hasEncoder && lmBlocks)
    return 'the checkpoint has no encoder and its decoder blocks have no cross-attention (a decoder-only or prefix LM) but config.json says "encoder-decoder" (set "edgeformer_architecture")';
  return undefined;
}
