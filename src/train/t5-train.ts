// T5ForConditionalGeneration training on the kernels: every parameter in a parameter store
// (src/train/params.ts) under its Hugging Face name, a teacher-forced training forward that saves what the
// backward needs, the loss (mean cross-entropy over labels ≠ −100; decoder inputs = labels shifted right
// after the decoder start token, or the given decoder_input_ids), the backward as the reverse list of
// backward kernel calls, and AdamW. The forward runs the same kernels as src/models/t5.ts: RMSNorm,
// fused QKV (self-attention) and K|V (cross-attention) GEMMs on packed copies of the weights, unscaled
// attention with a relative-position bias built once per stack from block 0's table (bidirectional in
// the encoder, causal in the decoder) and shared by every layer, ReLU / GELU or gated-GELU (wi_0|wi_1
// fused) feed-forward, and the LM head: tied to `shared.weight` (decoder output × d_model^-0.5 when
// scale_decoder_outputs) or a separate `lm_head.weight`. Backward specifics: the bias gradients
// [H,Tq,Tk] of all layers of a stack are summed and scattered into that stack's block-0 table
// [buckets,H] host-side; cross-attention dK/dV flow into the encoder output; `shared.weight` collects
// the encoder and decoder lookups and, when tied, the head. No dropout.

import type { TensorInput } from "../io/safetensors.ts";
import { shiftRight, type T5Input } from "../models/t5.ts";
import type { T5Config } from "../models/t5-config.ts";
import { CheckpointError, type TensorStore } from "../models/tensors.ts";
import { Epilogue, IGNORE_INDEX, MaskKind } from "../runtime/kernels.ts";
import type { KernelRuntime } from "../runtime/load.ts";
import type { RunOptions } from "./bert-train.ts";
import { normals } from "./data/random.ts";
import { type ParamSpec, ParamStore } from "./params.ts";
import { gatherPositionBias, positionBuckets, scatterPositionBiasGrad } from "./t5-position-bias.ts";
import { TrainerBase } from "./trainer-base.ts";

/** A training batch: a T5Input with its targets (−100 = no loss). */
export interface T5Batch extends T5Input {
  /** [B,Tdec] target ids, −100 = ignored. */
  labels: Int32Array;
}

export interface T5TrainOutput {
  /** Mean cross-entropy over the labeled target tokens (NaN when there are none, as PyTorch). */
  loss: number;
  /** Number of labeled target tokens (labels ≠ −100) the loss averages over. */
  tokens: number;
  /** Flat decoder rows b·Tdec + t with a label (the only rows the LM head runs on). */
  rows: Int32Array;
  /** [rows.length, V] logits of those rows (when asked for). */
  logits?: Float32Array;
}

export interface T5TrainerOptions {
  /** Initial weights by Hugging Face name; without them every parameter is initialized randomly. */
  weights?: TensorStore;
  /** Initialize parameters the checkpoint lacks (e.g. an untied lm_head) instead of failing. */
  initMissing?: boolean;
  /** Seed and initializer_factor (default 1) of the random init (Hugging Face's T5 _init_weights). */
  seed?: number;
  initializerFactor?: number;
  /**
   * LM head tied to `shared.weight`. Default: with weights, tied unless the checkpoint has
   * lm_head.weight (as T5Model decides); without, config.tieWordEmbeddings.
   */
  tieWordEmbeddings?: boolean;
}

/** Copies of `shared.weight` that checkpoints may hold (the same parameter in PyTorch). */
export const T5_EMBEDDING_COPIES = ["encoder.embed_tokens.weight", "decoder.embed_tokens.weight"] as const;

/**
 * Hugging Face Trainer's rule (get_decay_parameter_names): no weight decay on anything named like a bias
 * (which includes relative_attention_bias) or a norm (layer_norm, final_layer_norm).
 */
export function t5HasWeightDecay(name: string): boolean {
  const n = name.toLowerCase();
  return !(
    n.includes("bias") ||
    n.includes("layernorm") ||
    /_norm(\.|$)/.test(n) ||
    /(^|\.)norm(\.|$)/.test(n)
  );
}

/** A bias-free Linear y = x·Wᵀ: byte pointers into the parameter / gradient regions, and its packed copy. */
interface Lin {
  N: number;
  K: number;
  w: number; // [N,K] unpacked (Hugging Face layout; stacked tensors adjacent)
  dw: number; // [N,K]
  wp: number; // pack_weights_f32 panels of w
}

interface Norm {
  w: number; // [C]
  dw: number; // [C]
}

interface FeedForward {
  wi: Lin; // [F,C], or [2F,C] = wi_0 | wi_1 when gated
  wo: Lin; // [C,F]
}

interface EncoderLayer {
  ln0: Norm;
  qkv: Lin; // [3I,C]: q | k | v
  o: Lin; // [C,I]
  ln1: Norm;
  ff: FeedForward;
}

interface DecoderLayer {
  ln0: Norm;
  qkv: Lin; // [3I,C]
  o: Lin; // [C,I]
  ln1: Norm;
  cq: Lin; // [I,C] cross-attention query
  ckv: Lin; // [2I,C] cross-attention k | v (applied to the encoder output)
  co: Lin; // [C,I]
  ln2: Norm;
  ff: FeedForward;
}

/** Feed-forward activations saved for the backward. */
interface FfActs {
  pre: number; // [M,F] activation input (GEMM preact), or [M,2F] wi_0 | wi_1 outputs when gated
  act: number; // [M,F] activation output (wo input)
}

interface EncoderActs {
  xin: number; // [M,C] layer input (residual stream)
  rstd0: number; // [M]
  h0: number; // [M,C] RMSNorm 0 output
  qkv: number; // [M,3I]
  probs: number; // [B,H,T,T]
  ctx: number; // [M,I] attention output before o
  x1: number; // [M,C] xin + ctx·Woᵀ
  rstd1: number; // [M]
  h1: number; // [M,C]
  ff: FfActs;
  xout: number; // [M,C] x1 + act·Wo_ffᵀ
}

interface DecoderActs {
  xin: number; // [Md,C]
  rstd0: number; // [Md]
  h0: number; // [Md,C]
  qkv: number; // [Md,3I]
  probs: number; // [B,H,Td,Td] causal self-attention
  ctx: number; // [Md,I]
  x1: number; // [Md,C]
  rstd1: number; // [Md]
  h1: number; // [Md,C]
  q: number; // [Md,I] cross-attention queries
  kv: number; // [M,2I] cross-attention k | v of the encoder output
  cprobs: number; // [B,H,Td,T]
  cctx: number; // [Md,I]
  x2: number; // [Md,C]
  rstd2: number; // [Md]
  h2: number; // [Md,C]
  ff: FfActs;
  xout: number; // [Md,C]
}

/** Everything the forward leaves for the backward (byte pointers into the arena; shapes beside). */
interface Saved {
  B: number;
  T: number; // encoder length
  Td: number; // decoder length
  M: number; // B·T
  Md: number; // B·Td
  ids: number; // [M] i32 encoder input ids
  dids: number; // [Md] i32 decoder input ids
  encBuckets: Int32Array; // [T·T] host
  decBuckets: Int32Array; // [Td·Td] host
  enc: EncoderActs[];
  encRstd: number; // [M] final RMSNorm
  encOut: number; // [M,C] encoder output (cross-attention K/V input)
  dec: DecoderActs[];
  decRstd: number; // [Md] final RMSNorm
  head?: {
    n: number; // labeled rows
    rows: number; // [n] i32 flat decoder rows
    hr: number; // [n,C] head input (final-norm rows, × d_model^-0.5 when scaled)
    dlogits: number; // [n,V]
  };
}

const SHARED = "shared.weight";
const ENC_REL = "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight";
const DEC_REL = "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight";

export class T5Trainer extends TrainerBase<T5Batch, T5TrainOutput, RunOptions> {
  readonly params: ParamStore;
  /** LM head = shared.weight (no lm_head.weight parameter). */
  readonly tied: boolean;
  /** Decoder output × d_model^-0.5 before the head (config.scaleDecoderOutputs). */
  readonly scaled: boolean;
  /** Copies of shared.weight the loaded checkpoint held; exportWeights writes them back. */
  readonly embeddingCopies: string[] = [];
  private readonly shared: number; // [V,C]
  private readonly dshared: number;
  private readonly encLayers: EncoderLayer[] = [];
  private readonly encFinal: Norm;
  private readonly decLayers: DecoderLayer[] = [];
  private readonly decFinal: Norm;
  private readonly head: Lin; // [V,C]: shared.weight or lm_head.weight
  private readonly ffEpilogue: number;

  constructor(
    readonly rt: KernelRuntime,
    readonly config: T5Config,
    opts: T5TrainerOptions = {},
  ) {
    super();
    const c = config;
    const [C, H, D, F, V, NB] = [
      c.dModel,
      c.numHeads,
      c.dKv,
      c.dFf,
      c.vocabSize,
      c.relativeAttentionNumBuckets,
    ];
    const I = H * D;
    const store = opts.weights;
    this.tied = opts.tieWordEmbeddings ?? (store ? !store.has("lm_head.weight") : c.tieWordEmbeddings);
    this.scaled = c.scaleDecoderOutputs;

    // Parameter specs in layout order (decay / no-decay groups split by ParamStore, order kept): stacked
    // tensors (q|k|v, cross k|v, wi_0|wi_1) are consecutive so they form one [N,K] matrix.
    const specs: ParamSpec[] = [];
    const add = (name: string, shape: number[]) => specs.push({ name, shape, decay: t5HasWeightDecay(name) });
    const attn = (p: string, withBias: boolean) => {
      for (const n of ["q", "k", "v"]) add(`${p}.${n}.weight`, [I, C]);
      add(`${p}.o.weight`, [C, I]);
      if (withBias) add(`${p}.relative_attention_bias.weight`, [NB, H]);
    };
    const ff = (p: string) => {
      if (c.isGated) {
        add(`${p}.DenseReluDense.wi_0.weight`, [F, C]);
        add(`${p}.DenseReluDense.wi_1.weight`, [F, C]);
      } else {
        add(`${p}.DenseReluDense.wi.weight`, [F, C]);
      }
      add(`${p}.DenseReluDense.wo.weight`, [C, F]);
      add(`${p}.layer_norm.weight`, [C]);
    };
    add(SHARED, [V, C]);
    for (let i = 0; i < c.numLayers; i++) {
      const b = `encoder.block.${i}.layer`;
      attn(`${b}.0.SelfAttention`, i === 0);
      add(`${b}.0.layer_norm.weight`, [C]);
      ff(`${b}.1`);
    }
    add("encoder.final_layer_norm.weight", [C]);
    for (let i = 0; i < c.numDecoderLayers; i++) {
      const b = `decoder.block.${i}.layer`;
      attn(`${b}.0.SelfAttention`, i === 0);
      add(`${b}.0.layer_norm.weight`, [C]);
      attn(`${b}.1.EncDecAttention`, false);
      add(`${b}.1.layer_norm.weight`, [C]);
      ff(`${b}.2`);
    }
    add("decoder.final_layer_norm.weight", [C]);
    if (!this.tied) add("lm_head.weight", [V, C]);

    const params = new ParamStore(rt, specs);
    this.params = params;
    const factor = opts.initializerFactor ?? 1;
    if (store) {
      // shared.weight may be saved only as encoder/decoder.embed_tokens.weight; the copies must fit.
      const sharedSource = store.has(SHARED)
        ? SHARED
        : (T5_EMBEDDING_COPIES.find((n) => store.has(n)) ?? SHARED);
      for (const n of T5_EMBEDDING_COPIES) {
        if (!store.has(n)) continue;
        const s = store.shape(n);
        if (s.length !== 2 || s[0] !== V || s[1] !== C)
          throw new CheckpointError(
            `training checkpoint: mis-shaped tensors: ${n} is [${s.join(",")}], expected [${V},${C}]`,
          );
        this.embeddingCopies.push(n);
      }
      const missing = params.load(store, {
        source: (n) => (n === SHARED ? sharedSource : n),
        allowMissing: opts.initMissing,
      });
      if (missing.length) initT5Params(params, missing, opts.seed ?? 0, factor, c);
    } else {
      initT5Params(params, params.names(), opts.seed ?? 0, factor, c);
    }

    // Pointers.
    const { arena, k } = rt;
    const linear = (first: string, N: number, K: number): Lin => {
      const l: Lin = {
        N,
        K,
        w: params.ptr(first),
        dw: params.gradPtr(first),
        wp: arena.alloc(k.packed_size_f32(N, K)),
      };
      this.linears.push(l);
      return l;
    };
    /** A Linear over tensors that the layout placed back to back (checked). */
    const stacked = (names: string[], K: number): Lin => {
      let N = 0;
      for (let i = 0; i < names.length; i++) {
        const e = params.entry(names[i]);
        if (i > 0) {
          const prev = params.entry(names[i - 1]);
          if (e.offset !== prev.offset + prev.size)
            throw new Error(`T5Trainer: ${names[i - 1]} and ${names[i]} are not adjacent`);
        }
        N += e.shape[0];
      }
      return linear(names[0], N, K);
    };
    const norm = (name: string): Norm => ({ w: params.ptr(name), dw: params.gradPtr(name) });
    const feedForward = (p: string): FeedForward => ({
      wi: c.isGated
        ? stacked([`${p}.DenseReluDense.wi_0.weight`, `${p}.DenseReluDense.wi_1.weight`], C)
        : linear(`${p}.DenseReluDense.wi.weight`, F, C),
      wo: linear(`${p}.DenseReluDense.wo.weight`, C, F),
    });
    const qkv = (p: string) => stacked([`${p}.q.weight`, `${p}.k.weight`, `${p}.v.weight`], C);
    this.shared = params.ptr(SHARED);
    this.dshared = params.gradPtr(SHARED);
    for (let i = 0; i < c.numLayers; i++) {
      const b = `encoder.block.${i}.layer`;
      this.encLayers.push({
        ln0: norm(`${b}.0.layer_norm.weight`),
        qkv: qkv(`${b}.0.SelfAttention`),
        o: linear(`${b}.0.SelfAttention.o.weight`, C, I),
        ln1: norm(`${b}.1.layer_norm.weight`),
        ff: feedForward(`${b}.1`),
      });
    }
    this.encFinal = norm("encoder.final_layer_norm.weight");
    for (let i = 0; i < c.numDecoderLayers; i++) {
      const b = `decoder.block.${i}.layer`;
      const x = `${b}.1.EncDecAttention`;
      this.decLayers.push({
        ln0: norm(`${b}.0.layer_norm.weight`),
        qkv: qkv(`${b}.0.SelfAttention`),
        o: linear(`${b}.0.SelfAttention.o.weight`, C, I),
        ln1: norm(`${b}.1.layer_norm.weight`),
        cq: linear(`${x}.q.weight`, I, C),
        ckv: stacked([`${x}.k.weight`, `${x}.v.weight`], C),
        co: linear(`${x}.o.weight`, C, I),
        ln2: norm(`${b}.2.layer_norm.weight`),
        ff: feedForward(`${b}.2`),
      });
    }
    this.decFinal = norm("decoder.final_layer_norm.weight");
    this.head = linear(this.tied ? SHARED : "lm_head.weight", V, C);
    this.ffEpilogue =
      c.denseAct === "relu" ? Epilogue.relu : c.denseAct === "gelu" ? Epilogue.geluErf : Epilogue.geluTanh;
    this.repack();
  }

  /**
   * The parameters under their Hugging Face names (a tied head is not written, as Hugging Face saves
   * it; the embed_tokens copies only when the loaded checkpoint had them).
   */
  exportWeights(): Record<string, TensorInput> {
    const out = this.params.tensors("params");
    for (const n of this.embeddingCopies) out[n] = { ...out[SHARED], data: this.params.value(SHARED) };
    return out;
  }

  /** d(loss)/d(parameter) under the Hugging Face names (lookups and a tied head inside shared.weight). */
  exportGradients(): Record<string, TensorInput> {
    return this.params.tensors("grads");
  }

  // -------------------------------------------------------------------------------------------

  private checkBatch(batch: T5Batch): void {
    const c = this.config;
    const { batch: B, seq: T, decoderSeq: Td } = batch;
    for (const [what, n] of [
      ["batch", B],
      ["sequence", T],
      ["decoder sequence", Td],
    ] as const)
      if (!(Number.isInteger(n) && n > 0)) throw new RangeError(`T5: empty or invalid input (${what} ${n})`);
    const sized: [string, Int32Array | undefined, number, string][] = [
      ["input_ids", batch.inputIds, B * T, `${B}×${T}`],
      ["attention_mask", batch.attentionMask, B * T, `${B}×${T}`],
      ["labels", batch.labels, B * Td, `${B}×${Td}`],
      ["decoder_input_ids", batch.decoderInputIds, B * Td, `${B}×${Td}`],
    ];
    if (!batch.labels) throw new RangeError("T5: labels are required to compute a loss");
    for (const [name, a, n, shape] of sized)
      if (a && a.length !== n) throw new RangeError(`T5: ${name} has ${a.length} values, expected ${shape}`);
    for (const y of batch.labels)
      if (y !== IGNORE_INDEX && !(y >= 0 && y < c.vocabSize))
        throw new RangeError(`T5: labels has label ${y} outside [0, ${c.vocabSize}) (−100 = ignored)`);
  }

  protected run(batch: T5Batch, grad: boolean, opts: RunOptions): T5TrainOutput {
    this.checkBatch(batch);
    const { arena } = this.rt;
    const mark = arena.mark();
    try {
      const { out, saved } = this.forward(batch, grad, opts);
      if (grad && saved.head) this.backward(saved);
      return out;
    } finally {
      arena.reset(mark);
    }
  }

  /** y [n,C] = shared[ids]; throws naming the ids outside the vocabulary. */
  private embed(y: number, ids: number, n: number, what: string): void {
    const { arena, k } = this.rt;
    const { dModel: C, vocabSize: V } = this.config;
    const bad = k.embed_f32(y, ids, 0, 0, this.shared, 0, 0, n, C, V, 0, 0);
    if (bad > 0) {
      const list = [...new Set(arena.i32(ids, n).filter((v) => v < 0 || v >= V))].slice(0, 5);
      throw new RangeError(
        `${what}: ${bad} ids are outside the vocabulary 0..${V - 1} (e.g. ${list.join(", ")})`,
      );
    }
  }

  /** The position bias [H,Tq,Tk] in the arena, from a table parameter [buckets,H] and the pair buckets. */
  private positionBias(table: string, buckets: Int32Array): number {
    const H = this.config.numHeads;
    const bias = new Float32Array(H * buckets.length); // [H,Tq,Tk]
    gatherPositionBias(bias, this.params.view(table), buckets, H);
    return this.rt.arena.put(bias);
  }

  private allocFf(M: number): FfActs {
    const { arena } = this.rt;
    const F = this.config.dFf;
    return { pre: arena.allocF32(M * (this.config.isGated ? 2 * F : F)), act: arena.allocF32(M * F) };
  }

  /** out [M,C] = residual + wo(act(wi(h))), or gated: residual + wo(gelu_tanh(wi_0 h) · wi_1 h). */
  private ffForward(ff: FeedForward, a: FfActs, h: number, residual: number, out: number, M: number): void {
    const { k } = this.rt;
    const { dModel: C, dFf: F } = this.config;
    if (this.config.isGated) {
      k.matmul_f32(a.pre, 0, h, ff.wi.wp, 0, 0, M, C, 2 * F, Epilogue.bias);
      k.gated_gelu_f32(a.act, a.pre, a.pre + F * 4, M, F, 2 * F);
    } else {
      k.matmul_f32(a.act, a.pre, h, ff.wi.wp, 0, 0, M, C, F, this.ffEpilogue);
    }
    k.matmul_f32(out, 0, a.act, ff.wo.wp, 0, residual, M, F, C, Epilogue.residual);
  }

  /** dh [M,C] = d/d h of the feed-forward given g = d out [M,C] (dh, dact, dpre are overwritten). */
  private ffBackward(
    ff: FeedForward,
    a: FfActs,
    h: number,
    g: number,
    dh: number,
    dact: number,
    dpre: number,
    M: number,
  ): void {
    const { k } = this.rt;
    const { dModel: C, dFf: F, isGated } = this.config;
    k.zero_f32(dact, M * F);
    k.matmul_backward_f32(dact, ff.wo.dw, 0, g, a.act, ff.wo.w, M, F, C);
    const N = isGated ? 2 * F : F;
    k.zero_f32(dpre, M * N);
    if (isGated) k.gated_gelu_backward_f32(dpre, dpre + F * 4, dact, a.pre, a.pre + F * 4, M, F, 2 * F);
    else k.activation_backward_f32(dpre, dact, a.pre, M * F, this.ffEpilogue);
    k.zero_f32(dh, M * C);
    k.matmul_backward_f32(dh, ff.wi.dw, 0, dpre, h, ff.wi.w, M, C, N);
  }

  private forward(batch: T5Batch, grad: boolean, opts: RunOptions): { out: T5TrainOutput; saved: Saved } {
    const c = this.config;
    const { arena, k } = this.rt;
    const { batch: B, seq: T, decoderSeq: Td } = batch;
    const [C, H, D, V] = [c.dModel, c.numHeads, c.dKv, c.vocabSize];
    const I = H * D;
    const [NB, MD] = [c.relativeAttentionNumBuckets, c.relativeAttentionMaxDistance];
    const M = B * T;
    const Md = B * Td;
    const eps = c.layerNormEpsilon;
    const Tmax = Math.max(T, Td);
    const scratch = arena.alloc(k.attention_scratch_size(Tmax, Tmax, D)); // grows with Tq and Tk

    // ---- encoder: embeddings, layers (bidirectional position bias), final RMSNorm
    const ids = arena.put(batch.inputIds); // [M] i32
    const keyMask = arena.put(batch.attentionMask ?? new Int32Array(M).fill(1)); // [B,T] i32
    let x = arena.allocF32(M * C); // [M,C]
    this.embed(x, ids, M, "T5 encoder: input_ids");
    const encBuckets = positionBuckets(T, T, true, NB, MD); // [T·T]
    const encBias = this.positionBias(ENC_REL, encBuckets); // [H,T,T]
    const enc: EncoderActs[] = [];
    for (const l of this.encLayers) {
      const a: EncoderActs = {
        xin: x,
        rstd0: arena.allocF32(M),
        h0: arena.allocF32(M * C),
        qkv: arena.allocF32(M * 3 * I),
        probs: arena.allocF32(B * H * T * T),
        ctx: arena.allocF32(M * I),
        x1: arena.allocF32(M * C),
        rstd1: arena.allocF32(M),
        h1: arena.allocF32(M * C),
        ff: this.allocFf(M),
        xout: arena.allocF32(M * C),
      };
      k.rmsnorm_f32(a.h0, a.rstd0, x, l.ln0.w, M, C, eps);
      k.matmul_f32(a.qkv, 0, a.h0, l.qkv.wp, 0, 0, M, C, 3 * I, Epilogue.bias);
      k.attention_f32(
        a.ctx,
        a.probs,
        scratch,
        a.qkv,
        a.qkv + I * 4,
        a.qkv + 2 * I * 4,
        encBias,
        keyMask,
        B,
        H,
        T,
        T,
        D,
        1,
        MaskKind.none,
        0,
        T * 3 * I,
        3 * I,
        T * 3 * I,
        3 * I,
        T * 3 * I,
        3 * I,
        T * I,
        I,
      );
      k.matmul_f32(a.x1, 0, a.ctx, l.o.wp, 0, x, M, I, C, Epilogue.residual);
      k.rmsnorm_f32(a.h1, a.rstd1, a.x1, l.ln1.w, M, C, eps);
      this.ffForward(l.ff, a.ff, a.h1, a.x1, a.xout, M);
      enc.push(a);
      x = a.xout;
    }
    const encRstd = arena.allocF32(M); // [M]
    const encOut = arena.allocF32(M * C); // [M,C]
    k.rmsnorm_f32(encOut, encRstd, x, this.encFinal.w, M, C, eps);

    // ---- decoder: embeddings, layers (causal position bias; cross-attention under the encoder mask)
    const decIds =
      batch.decoderInputIds ?? shiftRight(batch.labels, B, Td, c.decoderStartTokenId, c.padTokenId);
    const dids = arena.put(decIds); // [Md] i32
    let y = arena.allocF32(Md * C); // [Md,C]
    this.embed(y, dids, Md, "T5 decoder: decoder_input_ids");
    const decBuckets = positionBuckets(Td, Td, false, NB, MD); // [Td·Td]
    const decBias = this.positionBias(DEC_REL, decBuckets); // [H,Td,Td]
    const dec: DecoderActs[] = [];
    for (const l of this.decLayers) {
      const a: DecoderActs = {
        xin: y,
        rstd0: arena.allocF32(Md),
        h0: arena.allocF32(Md * C),
        qkv: arena.allocF32(Md * 3 * I),
        probs: arena.allocF32(B * H * Td * Td),
        ctx: arena.allocF32(Md * I),
        x1: arena.allocF32(Md * C),
        rstd1: arena.allocF32(Md),
        h1: arena.allocF32(Md * C),
        q: arena.allocF32(Md * I),
        kv: arena.allocF32(M * 2 * I),
        cprobs: arena.allocF32(B * H * Td * T),
        cctx: arena.allocF32(Md * I),
        x2: arena.allocF32(Md * C),
        rstd2: arena.allocF32(Md),
        h2: arena.allocF32(Md * C),
        ff: this.allocFf(Md),
        xout: arena.allocF32(Md * C),
      };
      // self-attention
      k.rmsnorm_f32(a.h0, a.rstd0, y, l.ln0.w, Md, C, eps);
      k.matmul_f32(a.qkv, 0, a.h0, l.qkv.wp, 0, 0, Md, C, 3 * I, Epilogue.bias);
      k.attention_f32(
        a.ctx,
        a.probs,
        scratch,
        a.qkv,
        a.qkv + I * 4,
        a.qkv + 2 * I * 4,
        decBias,
        0,
        B,
        H,
        Td,
        Td,
        D,
        1,
        MaskKind.causal,
        0,
        Td * 3 * I,
        3 * I,
        Td * 3 * I,
        3 * I,
        Td * 3 * I,
        3 * I,
        Td * I,
        I,
      );
      k.matmul_f32(a.x1, 0, a.ctx, l.o.wp, 0, y, Md, I, C, Epilogue.residual);
      // cross-attention
      k.rmsnorm_f32(a.h1, a.rstd1, a.x1, l.ln1.w, Md, C, eps);
      k.matmul_f32(a.q, 0, a.h1, l.cq.wp, 0, 0, Md, C, I, Epilogue.bias);
      k.matmul_f32(a.kv, 0, encOut, l.ckv.wp, 0, 0, M, C, 2 * I, Epilogue.bias);
      k.attention_f32(
        a.cctx,
        a.cprobs,
        scratch,
        a.q,
        a.kv,
        a.kv + I * 4,
        0,
        keyMask,
        B,
        H,
        Td,
        T,
        D,
        1,
        MaskKind.none,
        0,
        Td * I,
        I,
        T * 2 * I,
        2 * I,
        T * 2 * I,
        2 * I,
        Td * I,
        I,
      );
      k.matmul_f32(a.x2, 0, a.cctx, l.co.wp, 0, a.x1, Md, I, C, Epilogue.residual);
      // feed-forward
      k.rmsnorm_f32(a.h2, a.rstd2, a.x2, l.ln2.w, Md, C, eps);
      this.ffForward(l.ff, a.ff, a.h2, a.x2, a.xout, Md);
      dec.push(a);
      y = a.xout;
    }
    const decRstd = arena.allocF32(Md); // [Md]
    const decOut = arena.allocF32(Md * C); // [Md,C]
    k.rmsnorm_f32(decOut, decRstd, y, this.decFinal.w, Md, C, eps);

    const saved: Saved = {
      B,
      T,
      Td,
      M,
      Md,
      ids,
      dids,
      encBuckets,
      decBuckets,
      enc,
      encRstd,
      encOut,
      dec,
      decRstd,
    };

    // ---- LM head on the labeled rows only (ignored rows add nothing to the loss or the gradients)
    const rowList: number[] = [];
    for (let r = 0; r < Md; r++) if (batch.labels[r] !== IGNORE_INDEX) rowList.push(r);
    const n = rowList.length;
    const out: T5TrainOutput = { loss: Number.NaN, tokens: n, rows: Int32Array.from(rowList) };
    if (n === 0) {
      if (opts.logits) out.logits = new Float32Array(0);
      return { out, saved };
    }
    const rows = arena.put(out.rows); // [n] i32
    const labels = arena.put(Int32Array.from(rowList, (r) => batch.labels[r])); // [n] i32
    const hr = arena.allocF32(n * C); // [n,C]
    k.embed_f32(hr, rows, 0, 0, decOut, 0, 0, n, C, Md, 0, 0); // gather rows of decOut [Md,C]
    if (this.scaled) scaleInPlace(arena.f32(hr, n * C), Math.fround(C ** -0.5));
    const logits = arena.allocF32(n * V); // [n,V]
    k.matmul_f32(logits, 0, hr, this.head.wp, 0, 0, n, C, V, Epilogue.bias);
    const dlogits = grad ? arena.allocF32(n * V) : 0; // [n,V]
    if (dlogits) k.zero_f32(dlogits, n * V);
    const lossBuf = arena.allocF32(1); // [1]
    k.cross_entropy_f32(dlogits, lossBuf, logits, labels, n, V, opts.lossScale ?? 1);
    out.loss = arena.f32(lossBuf, 1)[0];
    if (opts.logits) out.logits = arena.readF32(logits, n * V);
    saved.head = { n, rows, hr, dlogits };
    return { out, saved };
  }

  /** The reverse list of backward kernel calls; every gradient buffer is zeroed before it accumulates. */
  private backward(s: Saved): void {
    const c = this.config;
    const { arena, k } = this.rt;
    const { B, T, Td, M, Md } = s;
    const [C, H, D, F, V] = [c.dModel, c.numHeads, c.dKv, c.dFf, c.vocabSize];
    const I = H * D;
    const Mmax = Math.max(M, Md);
    const Tmax = Math.max(T, Td);
    const zeros = (n: number) => {
      const p = arena.allocF32(n);
      k.zero_f32(p, n);
      return p;
    };
    // work buffers, reused by every layer of both stacks (each zeroed before it accumulates)
    const dh = arena.allocF32(Mmax * C); // [rows,C] d/d a normed sublayer input
    const dact = arena.allocF32(Mmax * F); // [rows,F]
    const dpre = arena.allocF32(Mmax * (c.isGated ? 2 * F : F)); // [rows,F] or [rows,2F]
    const dctx = arena.allocF32(Mmax * I); // [rows,I]
    const dqkv = arena.allocF32(Mmax * 3 * I); // [rows,3I]
    const dq = arena.allocF32(Md * I); // [Md,I]
    const dkv = arena.allocF32(M * 2 * I); // [M,2I]
    const scratch = arena.alloc(k.attention_backward_scratch_size(Tmax, Tmax, D));

    // LM head (tied: dW into shared.weight), × d_model^-0.5, scatter into the decoder output rows
    const hd = s.head!;
    const dhr = zeros(hd.n * C); // [n,C]
    k.matmul_backward_f32(dhr, this.head.dw, 0, hd.dlogits, hd.hr, this.head.w, hd.n, C, V);
    if (this.scaled) scaleInPlace(arena.f32(dhr, hd.n * C), Math.fround(C ** -0.5));
    const dDecOut = zeros(Md * C); // [Md,C]
    k.embed_backward_f32(dDecOut, 0, 0, dhr, hd.rows, 0, 0, hd.n, C, Md, 0, 0);

    // decoder final RMSNorm, then the layers in reverse; g = d/d the residual stream
    // (configs have ≥ 1 layer per stack: t5ConfigFromJson enforces it)
    const yL = s.dec[s.dec.length - 1].xout; // [Md,C] final RMSNorm input
    const g = zeros(Md * C); // [Md,C]
    k.rmsnorm_backward_f32(g, this.decFinal.dw, s.decRstd, dDecOut, yL, this.decFinal.w, Md, C);
    const dEncOut = zeros(M * C); // [M,C] cross-attention K/V paths of every decoder layer
    const dDecBias = zeros(H * Td * Td); // [H,Td,Td] summed over layers and batch
    for (let i = s.dec.length - 1; i >= 0; i--) {
      const l = this.decLayers[i];
      const a = s.dec[i];
      // feed-forward: g = d xout = d x2 (residual) + RMSNorm 2 path
      this.ffBackward(l.ff, a.ff, a.h2, g, dh, dact, dpre, Md);
      k.rmsnorm_backward_f32(g, l.ln2.dw, a.rstd2, dh, a.x2, l.ln2.w, Md, C);
      // cross-attention: o, attention (dQ; dK|dV → encoder output), q; then RMSNorm 1 into g = d x1
      k.zero_f32(dctx, Md * I);
      k.matmul_backward_f32(dctx, l.co.dw, 0, g, a.cctx, l.co.w, Md, I, C);
      k.zero_f32(dq, Md * I);
      k.zero_f32(dkv, M * 2 * I);
      k.attention_backward_f32(
        dq,
        dkv,
        dkv + I * 4,
        0,
        a.cprobs,
        scratch,
        a.q,
        a.kv,
        a.kv + I * 4,
        dctx,
        B,
        H,
        Td,
        T,
        D,
        1,
        Td * I,
        I,
        T * 2 * I,
        2 * I,
        T * 2 * I,
        2 * I,
        Td * I,
        I,
      );
      k.zero_f32(dh, Md * C);
      k.matmul_backward_f32(dh, l.cq.dw, 0, dq, a.h1, l.cq.w, Md, C, I);
      k.matmul_backward_f32(dEncOut, l.ckv.dw, 0, dkv, s.encOut, l.ckv.w, M, C, 2 * I);
      k.rmsnorm_backward_f32(g, l.ln1.dw, a.rstd1, dh, a.x1, l.ln1.w, Md, C);
      // causal self-attention: o, attention (+ position-bias gradient), fused QKV; RMSNorm 0 → g = d xin
      k.zero_f32(dctx, Md * I);
      k.matmul_backward_f32(dctx, l.o.dw, 0, g, a.ctx, l.o.w, Md, I, C);
      k.zero_f32(dqkv, Md * 3 * I);
      k.attention_backward_f32(
        dqkv,
        dqkv + I * 4,
        dqkv + 2 * I * 4,
        dDecBias,
        a.probs,
        scratch,
        a.qkv,
        a.qkv + I * 4,
        a.qkv + 2 * I * 4,
        dctx,
        B,
        H,
        Td,
        Td,
        D,
        1,
        Td * 3 * I,
        3 * I,
        Td * 3 * I,
        3 * I,
        Td * 3 * I,
        3 * I,
        Td * I,
        I,
      );
      k.zero_f32(dh, Md * C);
      k.matmul_backward_f32(dh, l.qkv.dw, 0, dqkv, a.h0, l.qkv.w, Md, C, 3 * I);
      k.rmsnorm_backward_f32(g, l.ln0.dw, a.rstd0, dh, a.xin, l.ln0.w, Md, C);
    }
    k.embed_backward_f32(this.dshared, 0, 0, g, s.dids, 0, 0, Md, C, V, 0, 0);
    this.scatterBias(DEC_REL, dDecBias, H * Td * Td, s.decBuckets);

    // encoder final RMSNorm, then the layers in reverse
    const ge = zeros(M * C); // [M,C]
    const xL = s.enc[s.enc.length - 1].xout; // [M,C] final RMSNorm input
    k.rmsnorm_backward_f32(ge, this.encFinal.dw, s.encRstd, dEncOut, xL, this.encFinal.w, M, C);
    const dEncBias = zeros(H * T * T); // [H,T,T]
    for (let i = s.enc.length - 1; i >= 0; i--) {
      const l = this.encLayers[i];
      const a = s.enc[i];
      this.ffBackward(l.ff, a.ff, a.h1, ge, dh, dact, dpre, M);
      k.rmsnorm_backward_f32(ge, l.ln1.dw, a.rstd1, dh, a.x1, l.ln1.w, M, C);
      k.zero_f32(dctx, M * I);
      k.matmul_backward_f32(dctx, l.o.dw, 0, ge, a.ctx, l.o.w, M, I, C);
      k.zero_f32(dqkv, M * 3 * I);
      k.attention_backward_f32(
        dqkv,
        dqkv + I * 4,
        dqkv + 2 * I * 4,
        dEncBias,
        a.probs,
        scratch,
        a.qkv,
        a.qkv + I * 4,
        a.qkv + 2 * I * 4,
        dctx,
        B,
        H,
        T,
        T,
        D,
        1,
        T * 3 * I,
        3 * I,
        T * 3 * I,
        3 * I,
        T * 3 * I,
        3 * I,
        T * I,
        I,
      );
      k.zero_f32(dh, M * C);
      k.matmul_backward_f32(dh, l.qkv.dw, 0, dqkv, a.h0, l.qkv.w, M, C, 3 * I);
      k.rmsnorm_backward_f32(ge, l.ln0.dw, a.rstd0, dh, a.xin, l.ln0.w, M, C);
    }
    k.embed_backward_f32(this.dshared, 0, 0, ge, s.ids, 0, 0, M, C, V, 0, 0);
    this.scatterBias(ENC_REL, dEncBias, H * T * T, s.encBuckets);
  }

  /** The table's gradient [buckets,H] += the bias gradient [H,Tq,Tk] (arena) gathered by bucket. */
  private scatterBias(table: string, dbias: number, n: number, buckets: Int32Array): void {
    const g = this.rt.arena.readF32(dbias, n);
    scatterPositionBiasGrad(this.params.view(table, "grads"), g, buckets, this.config.numHeads);
  }
}

function scaleInPlace(a: Float32Array, s: number): void {
  for (let i = 0; i < a.length; i++) a[i] *= s;
}

/**
 * Hugging Face's T5PreTrainedModel._init_weights (factor = initializer_factor): norms factor; shared and
 * lm_head N(0, factor); wi / wi_0 / wi_1 N(0, factor·d_model^-½), wo N(0, factor·d_ff^-½); q
 * N(0, factor·(d_model·d_kv)^-½), k and v N(0, factor·d_model^-½), o N(0, factor·(H·d_kv)^-½); the
 * relative-position tables N(0, factor·d_model^-½). Each tensor's values depend only on (seed, name).
 */
export function initT5Params(
  params: ParamStore,
  names: readonly string[],
  seed: number,
  factor: number,
  config: T5Config,
): void {
  const { dModel: C, dKv: D, dFf: F, numHeads: H } = config;
  const stdOf = (name: string): number => {
    if (name === SHARED || name === "lm_head.weight") return factor;
    if (name.endsWith("relative_attention_bias.weight")) return factor * C ** -0.5;
    if (/\.wi(_[01])?\.weight$/.test(name)) return factor * C ** -0.5;
    if (name.endsWith(".wo.weight")) return factor * F ** -0.5;
    if (name.endsWith(".q.weight")) return factor * (C * D) ** -0.5;
    if (name.endsWith(".k.weight") || name.endsWith(".v.weight")) return factor * C ** -0.5;
    if (name.endsWith(".o.weight")) return factor * (H * D) ** -0.5;
    throw new RangeError(`initT5Params: no rule for ${name}`);
  };
  for (const name of names) {
    const e = params.entry(name);
    const out = new Float32Array(e.size);
    if (name.endsWith("layer_norm.weight")) {
      out.fill(factor);
    } else {
      const std = stdOf(name);
      let h = seed >>> 0;
      for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
      const r = normals(h);
      for (let i = 0; i < e.size; i++) out[i] = r() * std;
    }
    params.set(name, out);
  }
}
