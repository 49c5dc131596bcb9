// Our int8 checkpoint format: every Linear weight W [N,K] and the token embedding table become an I8
// tensor under the same name plus an F32 tensor "<name>_scale" [N] (symmetric, one scale per row:
// W ≈ q·scale); all other tensors (position and segment embeddings, norms, biases, T5's relative
// position tables) stay as they are. It is still a
// safetensors file, so one reader serves both; metadata "edgeformer.dtype" says "int8".
import type { TensorInput } from "../io/safetensors.ts";
import type { KernelRuntime } from "../runtime/load.ts";
import type { TensorStore } from "./tensors.ts";

/** Token embedding tables: stored int8 too (gathered by embed_q8_f32; also the tied LM head). */
export function isTokenTable(name: string, shape: number[]): boolean {
  return shape.length === 2 && /(word_embeddings|(^|\.)shared)\.weight$/.test(name);
}

/** Rank-2 weights of Linear layers (not embedding tables, not T5's relative-position tables). */
export function isLinearWeight(name: string, shape: number[]): boolean {
  return (
    shape.length === 2 &&
    name.endsWith(".weight") &&
    !/embeddings|(^|\.)shared\.weight$|relative_attention_bias|embed_tokens/.test(name)
  );
}

/** Quantizes with the kernel module's own quantizer, so loading f32 as int8 gives the same weights. */
export function quantizeRows(
  rt: KernelRuntime,
  w: Float32Array,
  N: number,
  K: number,
): { q: Int8Array; scales: Float32Array } {
  const { arena, k } = rt;
  const mark = arena.mark();
  try {
    const pw = arena.put(w);
    const wq = arena.alloc(N * K);
    const ws = arena.allocF32(N);
    k.quantize_weights_i8(wq, ws, pw, N, K);
    return { q: arena.i8(wq, N * K).slice(), scales: arena.f32(ws, N).slice() };
  } finally {
    arena.reset(mark);
  }
}

export function quantizeCheckpoint(
  rt: KernelRuntime,
  store: TensorStore,
): { tensors: Record<string, TensorInput>; metadata: Record<string, string> } {
  const tensors: Record<string, TensorInput> = {};
  for (const name of store.names()) {
    const shape = store.shape(name);
    const dtype = store.dtype(name);
    if (dtype === "I8" || name.endsWith(".weight_scale")) {
      tensors[name] = { dtype, shape, data: dtype === "I8" ? store.int8(name) : store.float32(name) };
      continue;
    }
    if (dtype !== "F32" && dtype !== "F16" && dtype !== "BF16") {
      continue; // integer buffers (position_ids) are not weights
    }
    const data = store.float32(name);
    if (isLinearWeight(name, shape) || isTokenTable(name, shape)) {
      const [N, K] = shape;
      const { q, scales } = quantizeRows(rt, data, N, K);
      tensors[name] = { dtype: "I8", shape, data: q };
      tensors[`${name}_scale`] = { dtype: "F32", shape: [N], data: scales };
    } else {
      tensors[name] = { dtype: "F32", shape, data };
    }
  }
  return {
    tensors,
    metadata: {
      format: "pt",
      "edgeformer.dtype": "int8",
      "edgeformer.quantization": "symmetric per-row int8",
    },
  };
}
