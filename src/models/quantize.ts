// Our int8 checkpoint format: every Linear weight W [N,K] and the token embedding table become an I8
// tensor under the same name plus an F32 tensor "<name>_scale" [N], in one of two schemes:
// - "row": one symmetric scale per row, W ≈ q·scale (BERT; the fastest GEMM);
// - "block": the scale is a row unit and an I8 tensor "<name>_mult" [N, ceil(K/8)] holds an integer
//   multiplier 1…block_mult_max(K) (≤ 16) per block of 8 columns: W[n,k] ≈ q·scale[n]·mult[n, k/8].
//   Its blocks get their own step for 1/8 more bytes, which cuts the weight error ~2.5×, but its
//   one-row GEMM (decoding) is ~20% slower than the row scheme's.
// T5 mixes them per tensor (t5Int8Scheme): the token table (whose gathered rows feed the residual
// stream: most of the per-row error) and the encoder's linears in the block scheme, the decoder's linears
// one scale per row (they run once per generated token), and the tied LM head is a per-row copy of the
// table made at load time (requantizeRows). Checkpoints written before (all "row", or all "block")
// load as they are. All other tensors (position and segment embeddings, norms, biases, T5's relative
// position tables) stay as they are. It is still a safetensors file, so one reader serves both; metadata
// "edgeformer.dtype" says "int8".
import type { TensorInput } from "../io/safetensors.ts";
import type { KernelRuntime } from "../runtime/load.ts";
import { CheckpointError, type TensorStore } from "./tensors.ts";

/** "row": one scale per output row; "block": a row unit times a multiplier per 8 columns. */
export type Int8Scheme = "row" | "block";

/**
 * The scheme of one T5 tensor (at load time and in `edgeformer quantize`): "block" for the token table
 * and the encoder's linears, "row" for the decoder's linears and a separate lm_head (decoding runs them
 * one row per token, where the row scheme's kernel is faster). Measured min per-row logits cosine
 * int8 vs f32 on the tiny fixtures: gated 0.99952, relu 0.99970, copy 0.99990 (all "block": 0.99973,
 * 0.99985, 0.99996; block table only: 0.99914 gated).
 */
export function t5Int8Scheme(name: string): Int8Scheme {
  return /^encoder\.|(^|\.)shared\.weight$/.test(name) ? "block" : "row";
}

/** Columns per multiplier block of the "block" scheme (the kernels' QBLOCK). */
export const QBLOCK = 8;

/** An int8 weight [N,K]: q [N,K], scales [N] (row scales, or row units when mults [N, ceil(K/8)] is set). */
export interface QuantizedWeight {
  q: Int8Array;
  scales: Float32Array;
  mults?: Int8Array;
}

/** Token embedding tables: stored int8 too (gathered by embed_q8_f32; also the tied LM head). */
export function isTokenTable(name: string, shape: number[]): boolean {
  return shape.length === 2 && /(word_embeddings|(^|\.)shared)\.weight$/.test(name);
}

/** Rank-2 weights of Linear layers (not embedding tables, not T5's relative-position tables, not adapters: they run in f32). */
export function isLinearWeight(name: string, shape: number[]): boolean {
  return (
    shape.length === 2 &&
    name.endsWith(".weight") &&
    !/embeddings|(^|\.)shared\.weight$|relative_attention_bias|embed_tokens|\.adapter\./.test(name)
  );
}

/** True for "<w>_scale" / "<w>_mult", the side tensors of an int8 weight w that `isWeight` accepts. */
export function isQuantSideTensor(name: string, isWeight: (w: string) => boolean): boolean {
  const m = /^(.*\.weight)_(scale|mult)$/.exec(name);
  return m !== null && isWeight(m[1]);
}

/** The int8 scheme of each tensor of a checkpoint's architecture: t5Int8Scheme for T5, "row" otherwise. */
export function int8SchemeFor(store: TensorStore): (name: string) => Int8Scheme {
  const t5 =
    store.has("encoder.block.0.layer.0.SelfAttention.q.weight") ||
    store.has("decoder.block.0.layer.0.SelfAttention.q.weight");
  return t5 ? t5Int8Scheme : () => "row";
}

/** Quantizes with the kernel module's own quantizer, so loading f32 as int8 gives the same weights. */
export function quantizeWeight(
  rt: KernelRuntime,
  w: Float32Array,
  N: number,
  K: number,
  scheme: Int8Scheme,
): QuantizedWeight {
  const { arena, k } = rt;
  if (w.length !== N * K) throw new RangeError(`quantize: weight has ${w.length} values, expected ${N}×${K}`);
  const mark = arena.mark();
  try {
    const pw = arena.put(w);
    const wq = arena.alloc(N * K);
    const ws = arena.allocF32(N);
    if (scheme === "row") {
      k.quantize_weights_i8(wq, ws, pw, N, K);
      return { q: arena.i8(wq, N * K).slice(), scales: arena.f32(ws, N).slice() };
    }
    const nb = Math.ceil(K / QBLOCK);
    const wm = arena.alloc(N * nb);
    k.quantize_weights_i8b(wq, ws, wm, pw, N, K);
    return {
      q: arena.i8(wq, N * K).slice(),
      scales: arena.f32(ws, N).slice(),
      mults: arena.i8(wm, N * nb).slice(),
    };
  } finally {
    arena.reset(mark);
  }
}

/** One scale per row (the "row" scheme). */
export function quantizeRows(
  rt: KernelRuntime,
  w: Float32Array,
  N: number,
  K: number,
): { q: Int8Array; scales: Float32Array } {
  return quantizeWeight(rt, w, N, K, "row");
}

/**
 * An int8 weight of our checkpoint format: the I8 tensor, its "_scale" and, in the block scheme, its
 * "_mult". Shapes are checked; CheckpointError names the tensor otherwise.
 */
export function readQuantized(store: TensorStore, name: string): QuantizedWeight {
  const shape = store.shape(name);
  if (store.dtype(name) !== "I8" || shape.length !== 2)
    throw new CheckpointError(
      `${name}: expected a rank-2 I8 tensor, got ${store.dtype(name)} [${shape.join(",")}]`,
    );
  const [N, K] = shape;
  const sides = readQuantSides(store, name, N, K);
  return { q: store.int8(name), ...sides };
}

/**
 * The side tensors of the int8 weight `name` [N,K] of our format: "_scale" [N] and, in the block
 * scheme, "_mult" I8 [N, ceil(K/8)]; shapes checked (CheckpointError naming the tensor). The weight
 * itself is not read (a model may copy it from the store straight into wasm memory).
 */
export function readQuantSides(
  store: TensorStore,
  name: string,
  N: number,
  K: number,
): { scales: Float32Array; mults?: Int8Array } {
  const scaleName = `${name}_scale`;
  if (!store.has(scaleName)) throw new CheckpointError(`${name} is int8 but ${scaleName} is missing`);
  const ss = store.shape(scaleName);
  if (ss.length !== 1 || ss[0] !== N)
    throw new CheckpointError(
      `${scaleName} is [${ss.join(",")}], expected [${N}] (one scale per row of ${name})`,
    );
  const scales = store.float32(scaleName);
  const multName = `${name}_mult`;
  if (!store.has(multName)) return { scales };
  const ms = store.shape(multName);
  const nb = Math.ceil(K / QBLOCK);
  if (store.dtype(multName) !== "I8" || ms.length !== 2 || ms[0] !== N || ms[1] !== nb)
    throw new CheckpointError(
      `${multName} is ${store.dtype(multName)} [${ms.join(",")}], expected I8 [${N},${nb}] (a multiplier per ${QBLOCK} columns of ${name})`,
    );
  return { scales, mults: store.int8(multName) };
}

/**
 * Checks an int8 weight against [N,K] before it reaches the kernels: array lengths and, in the block
 * scheme, multipliers within 1…block_mult_max(K) (larger ones could overflow the int32 sums).
 */
export function checkQuantized(
  rt: KernelRuntime,
  w: QuantizedWeight,
  N: number,
  K: number,
  what: string,
): void {
  if (w.q.length !== N * K || w.scales.length !== N)
    throw new RangeError(`${what}: int8 weight/scales do not match ${N}×${K}`);
  if (!w.mults) return;
  const nb = Math.ceil(K / QBLOCK);
  if (w.mults.length !== N * nb)
    throw new RangeError(`${what}: ${w.mults.length} multipliers, expected ${N}×${nb}`);
  checkMultRange(rt, w.mults, K, what);
}

/** Throws a RangeError (naming `what`, the row and block) unless every multiplier [N, ceil(K/8)] is in 1…block_mult_max(K). */
export function checkMultRange(rt: KernelRuntime, mults: Int8Array, K: number, what: string): void {
  const nb = Math.ceil(K / QBLOCK);
  const mmax = rt.k.block_mult_max(K);
  for (let i = 0; i < mults.length; i++) {
    const m = mults[i];
    if (m < 1 || m > mmax)
      throw new RangeError(
        `${what}: block multiplier ${m} (row ${Math.floor(i / nb)}, block ${i % nb}) is outside 1…${mmax} for K=${K}`,
      );
  }
}

/** W ≈ q·scale (·mult) as f32 [N,K] (rows n0 … n1−1 only, when given: [n1−n0, K]). */
export function dequantize(w: QuantizedWeight, N: number, K: number, n0 = 0, n1 = N): Float32Array {
  const out = new Float32Array((n1 - n0) * K);
  const nb = Math.ceil(K / QBLOCK);
  const { q, scales, mults } = w;
  for (let n = n0; n < n1; n++) {
    const s = scales[n];
    const o = (n - n0) * K;
    for (let b = 0; b < nb; b++) {
      const step = mults ? Math.fround(s * mults[n * nb + b]) : s;
      const end = Math.min(K, (b + 1) * QBLOCK);
      for (let c = b * QBLOCK; c < end; c++) out[o + c] = q[n * K + c] * step;
    }
  }
  return out;
}

/**
 * The row-scheme int8 weight closest to a quantized one (T5's tied LM head from its block-scheme token
 * table): dequantized and quantized again with one scale per row, a few thousand rows at a time (no f32
 * copy of the whole table). A row-scheme weight comes back as it is.
 */
export function requantizeRows(rt: KernelRuntime, w: QuantizedWeight, N: number, K: number): QuantizedWeight {
  if (!w.mults) return w;
  const q = new Int8Array(N * K);
  const scales = new Float32Array(N);
  const chunk = Math.max(1, Math.floor((1 << 22) / Math.max(K, 1)));
  for (let n0 = 0; n0 < N; n0 += chunk) {
    const n1 = Math.min(N, n0 + chunk);
    const part = quantizeWeight(rt, dequantize(w, N, K, n0, n1), n1 - n0, K, "row");
    q.set(part.q, n0 * K);
    scales.set(part.scales, n0);
  }
  return { q, scales };
}

/**
 * The int8 checkpoint of an f32 (or F16/BF16) one, every weight in `opts.scheme` (default: the schemes
 * its architecture loads with, int8SchemeFor, so the checkpoint equals quantizing at load time).
 * Tensors already int8 pass through.
 */
export function quantizeCheckpoint(
  rt: KernelRuntime,
  store: TensorStore,
  opts: { scheme?: Int8Scheme } = {},
): { tensors: Record<string, TensorInput>; metadata: Record<string, string> } {
  const forced = opts.scheme;
  const schemeOf = forced ? () => forced : int8SchemeFor(store);
  const used = new Set<Int8Scheme>();
  const tensors: Record<string, TensorInput> = {};
  for (const name of store.names()) {
    const shape = store.shape(name);
    const dtype = store.dtype(name);
    if (isQuantSideTensor(name, (w) => store.has(w))) {
      // an int8 weight's scales / multipliers pass through with it; those of a weight that is f32 here
      // (an overlay replaced it) are stale and get rewritten below
      const w = name.slice(0, name.lastIndexOf("_"));
      if (store.dtype(w) === "I8")
        tensors[name] = { dtype, shape, data: dtype === "I8" ? store.int8(name) : store.float32(name) };
      continue;
    }
    if (dtype === "I8") {
      tensors[name] = { dtype, shape, data: store.int8(name) };
      used.add(store.has(`${name}_mult`) ? "block" : "row");
      continue;
    }
    if (dtype !== "F32" && dtype !== "F16" && dtype !== "BF16") {
      continue; // integer buffers (position_ids) are not weights
    }
    const data = store.float32(name);
    if (isLinearWeight(name, shape) || isTokenTable(name, shape)) {
      const [N, K] = shape;
      const scheme = schemeOf(name);
      used.add(scheme);
      const { q, scales, mults } = quantizeWeight(rt, data, N, K, scheme);
      tensors[name] = { dtype: "I8", shape, data: q };
      tensors[`${name}_scale`] = { dtype: "F32", shape: [N], data: scales };
      if (mults) tensors[`${name}_mult`] = { dtype: "I8", shape: [N, Math.ceil(K / QBLOCK)], data: mults };
    } else {
      tensors[name] = { dtype: "F32", shape, data };
    }
  }
  return {
    tensors,
    metadata: {
      format: "pt",
      "edgeformer.dtype": "int8",
      "edgeformer.quantization": used.has("block")
        ? used.has("row")
          ? `int8: per-row unit × per-${QBLOCK}-column multiplier (<name>_mult) or symmetric per-row`
          : `int8, per-row unit × per-${QBLOCK}-column multiplier`
        : "symmetric per-row int8",
    },
  };
}
