// T5 config.json → a validated, normalized config (Hugging Face key names mapped once, here). Covers
// T5 v1.0 (ReLU feed-forward, head tied to the shared embedding with d_model^-0.5 output scaling) and
// T5 v1.1 / FLAN / mT5 (gated-GELU with the tanh GELU, usually an untied lm_head), and our optional
// "edgeformer_architecture": the encoder–decoder, or one stack of decoder blocks over input ⊕ target
// (decoder-only LM: causal everywhere; prefix LM: fully visible over the input, causal after).
import { ConfigError } from "./bert-config.ts";

export { ConfigError };

/** Feed-forward activation after normalization: "gelu" is erf GELU, "gelu_new" the tanh approximation. */
export type T5Activation = "relu" | "gelu" | "gelu_new";

/**
 * Which of the three T5 architectures a checkpoint holds (config.json "edgeformer_architecture"):
 * - "encoder-decoder": T5ForConditionalGeneration (fully-visible encoder, causal decoder).
 * - "decoder-only": one stack of self-attention blocks (decoder.block.*, no cross-attention, FFN at
 *   layer.1) over input ⊕ target, causal everywhere, causal relative-position buckets.
 * - "prefix-lm": the same stack, fully visible over the input prefix and causal after it,
 *   bidirectional relative-position buckets.
 */
export type T5Architecture = "encoder-decoder" | "decoder-only" | "prefix-lm";

export const T5_ARCHITECTURES: readonly T5Architecture[] = ["encoder-decoder", "decoder-only", "prefix-lm"];

export interface T5Config {
  modelType: "t5";
  /** Encoder–decoder (default), decoder-only LM or prefix LM (config.json "edgeformer_architecture"). */
  architecture: T5Architecture;
  architectures: string[];
  vocabSize: number;
  /** d_model: hidden size C. */
  dModel: number;
  /** d_kv: head size D (inner attention width is numHeads·dKv, which need not equal dModel). */
  dKv: number;
  /** d_ff: feed-forward width F. */
  dFf: number;
  numLayers: number;
  numDecoderLayers: number;
  numHeads: number;
  relativeAttentionNumBuckets: number;
  relativeAttentionMaxDistance: number;
  layerNormEpsilon: number;
  /** Normalized: "relu", "gelu", "gelu_new" (tanh GELU) or "gated-gelu" (gated, tanh GELU). */
  feedForwardProj: string;
  /** Dense activation (gated-gelu → gelu_new, as transformers maps it). */
  denseAct: T5Activation;
  /** wi_0/wi_1 (gated) instead of wi. */
  isGated: boolean;
  /** LM head tied to shared.weight when the checkpoint has no lm_head.weight. */
  tieWordEmbeddings: boolean;
  /** Multiply the decoder output by d_model^-0.5 before the LM head (T5 v1.0 tied head). */
  scaleDecoderOutputs: boolean;
  decoderStartTokenId: number;
  /** First end-of-sequence id (eosTokenIds[0]). */
  eosTokenId: number;
  eosTokenIds: number[];
  padTokenId: number;
}

function int(json: Record<string, unknown>, key: string, fallback?: number, min = 0): number {
  const v = json[key] ?? fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    throw new ConfigError(
      `config.json: "${key}" must be an integer ≥ ${min}, got ${JSON.stringify(json[key] ?? null)}`,
    );
  }
  return v;
}

function bool(json: Record<string, unknown>, key: string, fallback: boolean): boolean {
  const v = json[key] ?? fallback;
  if (typeof v !== "boolean")
    throw new ConfigError(`config.json: "${key}" must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

const ACT_ALIASES: Record<string, T5Activation> = {
  relu: "relu",
  gelu: "gelu",
  gelu_new: "gelu_new",
  gelu_pytorch_tanh: "gelu_new",
  gelu_fast: "gelu_new",
};

/** Parses feed_forward_proj / dense_act_fn / is_gated_act into the activation the kernels run. */
function feedForward(j: Record<string, unknown>): { proj: string; act: T5Activation; gated: boolean } {
  const projRaw = j.feed_forward_proj ?? (j.dense_act_fn === undefined ? "relu" : undefined);
  let act: string | undefined;
  let gated: boolean | undefined;
  if (projRaw !== undefined) {
    if (typeof projRaw !== "string")
      throw new ConfigError(
        `config.json: "feed_forward_proj" must be a string, got ${JSON.stringify(projRaw)}`,
      );
    const parts = projRaw.split("-");
    if (parts.length > 2 || (parts.length === 2 && parts[0] !== "gated")) {
      throw new ConfigError(
        `config.json: feed_forward_proj ${JSON.stringify(projRaw)} is not of the form "gated-{act}" or "{act}"`,
      );
    }
    gated = parts[0] === "gated" && parts.length === 2;
    act = projRaw === "gated-gelu" ? "gelu_new" : parts[parts.length - 1];
  }
  // transformers keeps dense_act_fn / is_gated_act from config.json when they are saved: they win.
  if (j.dense_act_fn !== undefined) {
    if (typeof j.dense_act_fn !== "string")
      throw new ConfigError(
        `config.json: "dense_act_fn" must be a string, got ${JSON.stringify(j.dense_act_fn)}`,
      );
    act = j.dense_act_fn;
  }
  if (j.is_gated_act !== undefined) gated = bool(j, "is_gated_act", false);
  gated ??= false;
  const norm = act === undefined ? undefined : ACT_ALIASES[act];
  if (gated && norm !== "gelu_new") {
    throw new ConfigError(
      `config.json: a gated feed-forward needs the tanh GELU (gelu_new / "gated-gelu"); ${JSON.stringify(act)} is not supported`,
    );
  }
  if (norm === undefined) {
    throw new ConfigError(
      `config.json: feed-forward activation ${JSON.stringify(act)} is not supported (${Object.keys(ACT_ALIASES).join(", ")})`,
    );
  }
  return { proj: gated ? "gated-gelu" : norm, act: norm, gated };
}

export function t5ConfigFromJson(json: unknown): T5Config {
  if (typeof json !== "object" || json === null || Array.isArray(json))
    throw new ConfigError("config.json: not a JSON object");
  const j = json as Record<string, unknown>;
  if (j.model_type !== undefined && j.model_type !== "t5" && j.model_type !== "mt5") {
    throw new ConfigError(`config.json: model_type is ${JSON.stringify(j.model_type)}, expected "t5"`);
  }
  const ff = feedForward(j);
  const arch = j.edgeformer_architecture ?? "encoder-decoder";
  if (!T5_ARCHITECTURES.includes(arch as T5Architecture))
    throw new ConfigError(
      `config.json: "edgeformer_architecture" must be one of ${T5_ARCHITECTURES.map((a) => `"${a}"`).join(", ")}, got ${JSON.stringify(arch)}`,
    );
  const eps = j.layer_norm_epsilon ?? 1e-6;
  if (typeof eps !== "number" || !(eps > 0))
    throw new ConfigError(
      `config.json: "layer_norm_epsilon" must be a positive number, got ${JSON.stringify(eps)}`,
    );
  const numLayers = int(j, "num_layers", 6, 1);
  const padTokenId = int(j, "pad_token_id", 0);
  const eosRaw = j.eos_token_id ?? 1;
  const eosTokenIds = Array.isArray(eosRaw) ? eosRaw : [eosRaw];
  if (
    eosTokenIds.length === 0 ||
    !eosTokenIds.every((e) => typeof e === "number" && Number.isInteger(e) && e >= 0)
  )
    throw new ConfigError(
      `config.json: "eos_token_id" must be a token id or a list of ids, got ${JSON.stringify(eosRaw)}`,
    );
  const vocabSize = int(j, "vocab_size", 32128, 1);
  const tie = bool(j, "tie_word_embeddings", true);
  const cfg: T5Config = {
    modelType: "t5",
    architecture: arch as T5Architecture,
    architectures: Array.isArray(j.architectures)
      ? (j.architectures as string[])
      : ["T5ForConditionalGeneration"],
    vocabSize,
    dModel: int(j, "d_model", 512, 1),
    dKv: int(j, "d_kv", 64, 1),
    dFf: int(j, "d_ff", 2048, 1),
    numLayers,
    numDecoderLayers: j.num_decoder_layers == null ? numLayers : int(j, "num_decoder_layers", numLayers, 1),
    numHeads: int(j, "num_heads", 8, 1),
    relativeAttentionNumBuckets: int(j, "relative_attention_num_buckets", 32, 2),
    relativeAttentionMaxDistance: int(j, "relative_attention_max_distance", 128, 1),
    layerNormEpsilon: eps,
    feedForwardProj: ff.proj,
    denseAct: ff.act,
    isGated: ff.gated,
    tieWordEmbeddings: tie,
    // transformers ≥ 5.17 saves scale_decoder_outputs; older configs derive it from the tie flag.
    scaleDecoderOutputs: bool(j, "scale_decoder_outputs", tie),
    decoderStartTokenId: j.decoder_start_token_id == null ? padTokenId : int(j, "decoder_start_token_id"),
    eosTokenId: eosTokenIds[0] as number,
    eosTokenIds: eosTokenIds as number[],
    padTokenId,
  };
  for (const [k, v] of [
    ["decoder_start_token_id", cfg.decoderStartTokenId],
    ["pad_token_id", cfg.padTokenId],
    ...cfg.eosTokenIds.map((e) => ["eos_token_id", e] as const),
  ] as const) {
    if (v >= vocabSize)
      throw new ConfigError(`config.json: "${k}" ${v} is outside the vocabulary (vocab_size ${vocabSize})`);
  }
  return cfg;
}

/** One stack of decoder blocks over input ⊕ target (decoder-only or prefix LM), no encoder. */
export function isT5LanguageModel(c: Pick<T5Config, "architecture">): boolean {
  return c.architecture !== "encoder-decoder";
}
