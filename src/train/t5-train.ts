// T5 training on the kernels, for the three architectures of src/models/t5-config.ts: every parameter
// in a parameter store (src/train/params.ts) under its Hugging Face name, a teacher-forced training
// forward that saves what the backward needs, the loss (mean cross-entropy over labels ≠ −100; decoder
// inputs = labels shifted right after the decoder start token, or the given decoder_input_ids), the
// backward as the reverse list of backward kernel calls, and AdamW.
//
// Encoder–decoder (T5ForConditionalGeneration): the same kernels as src/models/t5.ts — RMSNorm, fused
// QKV (self-attention) and K|V (cross-attention) GEMMs on packed copies of the weights, unscaled
// attention with a relative-position bias built once per stack from block 0's table (bidirectional in
// the encoder, causal in the decoder) and shared by every layer, ReLU / GELU or gated-GELU (wi_0|wi_1
// fused) feed-forward, and the LM head: tied to `shared.weight` (decoder output × d_model^-0.5 when
// scale_decoder_outputs) or a separate `lm_head.weight`. Decoder-only and prefix LM: one stack of
// decoder blocks without cross-attention (decoder.block.{i}.layer.0 self-attention, layer.1
// feed-forward) over each row's input tokens ⊕ decoder inputs, laid out and masked as
// src/models/t5-lm.ts describes (left padding; causal, or fully visible over the input prefix); the
// loss is on the target positions only.
//
// Adapters (option `adapters`, or present in the weights): {sublayer}.adapter.{down,up}.{weight,bias}
// after every sublayer's output projection (o / wo), before the residual: adapter(z) = z +
// up(relu(down(z))) (src/models/adapters.ts names and initializes them). Frozen tensors
// (ParamStore.setTrainable) get no gradient work: their dW GEMMs, position-bias scatter and embedding
// scatter are skipped, and so is the encoder's whole backward when nothing in it (nor shared.weight)
// trains. Backward specifics: the bias gradients [H,Tq,Tk] of all layers of a stack are summed and
// scattered into that stack's block-0 table [buckets,H] host-side; cross-attention dK/dV flow into the
// encoder output; `shared.weight` collects every lookup and, when tied, the head. No dropout.

import type { TensorInput } from "../io/safetensors.ts";
import {
  adapterBottleneck,
  adapterTensorShapes,
  initAdapterTensor,
  isAdapterTensor,
} from "../models/adapters.ts";
import { shiftRight, type T5Input } from "../models/t5.ts";
import { isT5LanguageModel, type T5Architecture, type T5Config } from "../models/t5-config.ts";
import { architectureMismatch, lmAttention, lmSequence, t5Sublayers } from "../models/t5-lm.ts";
import { CheckpointError, type TensorStore } from "../models/tensors.ts";
import { Epilogue, IGNORE_INDEX, MaskKind } from "../runtime/kernels.ts";
import type { KernelRuntime } from "../runtime/load.ts";
import type { RunOptions as BertRunOptions } from "./bert-train.ts";

/** lossAndGrad / evaluate options of the T5 trainer. */
export interface T5StepOptions extends BertRunOptions {
  /**
   * Weight every example of the batch equally in the gradient (each example's tokens share 1/B of it)
   * instead of every target token (the default: long targets then dominate a mixed batch). The reported
   * loss stays the mean over target tokens. lossScale still multiplies the whole gradient.
   */
  perExample?: boolean;
}
type RunOptions = T5StepOptions;

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
  /**
   * Flat decoder rows b·Tdec + t with a label (the only rows the LM head runs on); for the LM
   * architectures too (target position t of row b).
   */
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
  /**
   * Adds a bottleneck adapter to every sublayer (initialized as the identity from `seed`, default the
   * model seed), unless the weights already hold adapters, which are loaded (their bottleneck must be
   * this one). Weights with adapters load them without this option too.
   */
  adapters?: { bottleneck: number; seed?: number };
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
  names: string[]; // the parameter(s) it holds
}

/** A vector parameter (an RMSNorm weight [C], an adapter bias). */
interface Vec {
  w: number;
  dw: number;
  name: string;
}

/** An adapter z + up(relu(down(z) + bd)) + bu after a sublayer's output projection. */
interface Adapter {
  r: number;
  down: Lin; // [r,C]
  downB: Vec; // [r]
  up: Lin; // [C,r]
  upB: Vec; // [C]
}

interface SelfAttn {
  ln: Norm;
  qkv: Lin; // [3I,C]: q | k | v
  o: Lin; // [C,I]
  ad?: Adapter;
}

interface CrossAttn {
  ln: Norm;
  q: Lin; // [I,C]
  kv: Lin; // [2I,C]: k | v (applied to the encoder output)
  o: Lin; // [C,I]
  ad?: Adapter;
}

interface FeedForward {
  ln: Norm;
  wi: Lin; // [F,C], or [2F,C] = wi_0 | wi_1 when gated
  wo: Lin; // [C,F]
  ad?: Adapter;
}

type Norm = Vec; // [C]

/** One block: self-attention, cross-attention (encoder–decoder decoder only), feed-forward. */
interface Block {
  self: SelfAttn;
  cross?: CrossAttn;
  ff: FeedForward;
}

/** A stack of blocks with its final RMSNorm and the relative-position table of its block 0. */
interface Stack {
  blocks: Block[];
  final: Norm;
  table: string; // relative_attention_bias [buckets,H] parameter
  prefix: "encoder" | "decoder";
}

/** Adapter activations saved for the backward. */
interface AdapterActs {
  z: number; // [M,C] output projection before the adapter
  pre: number; // [M,r] down(z) + bd
  act: number; // [M,r] relu(pre)
}

interface SelfActs {
  xin: number; // [M,C] sublayer input (residual stream)
  rstd: number; // [M]
  h: number; // [M,C] RMSNorm output
  qkv: number; // [M,3I]
  probs: number; // [B,H,T,T]
  ctx: number; // [M,I] attention output before o
  ad?: AdapterActs;
  xout: number; // [M,C] xin + adapter(ctx·Woᵀ)
}

interface CrossActs {
  xin: number; // [Md,C]
  rstd: number; // [Md]
  h: number; // [Md,C]
  q: number; // [Md,I]
  kv: number; // [M,2I] k | v of the encoder output
  probs: number; // [B,H,Td,T]
  ctx: number; // [Md,I]
  ad?: AdapterActs;
  xout: number; // [Md,C]
}

interface FfActs {
  xin: number; // [M,C]
  rstd: number; // [M]
  h: number; // [M,C]
  pre: number; // [M,F] activation input (GEMM preact), or [M,2F] wi_0 | wi_1 outputs when gated
  act: number; // [M,F] activation output (wo input)
  ad?: AdapterActs;
  xout: number; // [M,C]
}

interface BlockActs {
  self: SelfActs;
  cross?: CrossActs;
  ff: FfActs;
}

/** How a stack's self-attention sees its rows. */
interface StackView {
  B: number;
  T: number; // row length
  bias: number; // [H,T,T] relative-position bias
  keyMask: number; // [B,T] i32 key padding mask, or 0
  maskKind: number;
  prefixLen: number;
}

/** What the decoder's cross-attention reads (encoder–decoder). */
interface CrossView {
  Te: number;
  enc: number; // [B·Te,C] encoder output
  keyMask: number; // [B,Te] i32
}

/** One stack's forward, saved for the backward. */
interface StackSaved extends StackView {
  M: number; // B·T
  ids: number; // [M] i32 token ids
  buckets: Int32Array; // [T·T] host
  acts: BlockActs[];
  rstd: number; // [M] final RMSNorm
  out: number; // [M,C] final RMSNorm output
}

/** Everything the forward leaves for the backward (byte pointers into the arena; shapes beside). */
interface Saved {
  enc?: StackSaved; // encoder–decoder only
  cross?: CrossView;
  dec: StackSaved; // the decoder, or the LM stack
  head?: {
    n: number; // labeled rows
    rows: number; // [n] i32 flat rows of dec.out
    hr: number; // [n,C] head input (final-norm rows, × d_model^-0.5 when scaled)
    dlogits: number; // [n,V]
  };
}

/** Backward work buffers, shared by every sublayer (each zeroed before it accumulates). */
interface Work {
  dh: number; // [rows,C] d/d a normed sublayer input
  dact: number; // [rows,F]
  dpre: number; // [rows,F] or [rows,2F]
  dctx: number; // [rows,I]
  dqkv: number; // [rows,3I]
  dq: number; // [Md,I] cross-attention
  dkv: number; // [M,2I] cross-attention
  dz: number; // [rows,C] adapters: d/d the output projection
  da: number; // [rows,r]
  dpa: number; // [rows,r]
  scratch: number; // attention backward
}

const SHARED = "shared.weight";
const ENC_REL = "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight";
const DEC_REL = "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight";

export class T5Trainer extends TrainerBase<T5Batch, T5TrainOutput, RunOptions> {
  readonly params: ParamStore;
  /** Encoder–decoder, decoder-only LM or prefix LM (config.architecture). */
  readonly architecture: T5Architecture;
  /** LM head = shared.weight (no lm_head.weight parameter). */
  readonly tied: boolean;
  /** Decoder output × d_model^-0.5 before the head (config.scaleDecoderOutputs). */
  readonly scaled: boolean;
  /** Bottleneck width r of the adapters, when the model has them. */
  readonly adapterBottleneck: number | undefined;
  /** Copies of shared.weight the loaded checkpoint held; exportWeights writes them back. */
  readonly embeddingCopies: string[] = [];
  private readonly shared: number; // [V,C]
  private readonly dshared: number;
  private readonly encoder?: Stack; // encoder–decoder only
  private readonly decoder: Stack; // the decoder, or the LM stack
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
    const lm = isT5LanguageModel(c);
    this.architecture = c.architecture;
    const store = opts.weights;
    this.tied = opts.tieWordEmbeddings ?? (store ? !store.has("lm_head.weight") : c.tieWordEmbeddings);
    this.scaled = c.scaleDecoderOutputs;

    // Adapters: asked for, or present in the weights (then the bottlenecks must agree).
    const storedR = store ? adapterBottleneck(store) : undefined;
    const askedR = opts.adapters?.bottleneck;
    if (askedR !== undefined && !(Number.isInteger(askedR) && askedR >= 1))
      throw new RangeError(`T5Trainer: adapters.bottleneck must be an integer ≥ 1, got ${askedR}`);
    if (askedR !== undefined && storedR !== undefined && askedR !== storedR)
      throw new CheckpointError(
        `training checkpoint: its adapters have bottleneck ${storedR}, but ${askedR} was asked for`,
      );
    const R = askedR ?? storedR;
    this.adapterBottleneck = R;
    const sublayers = t5Sublayers(c);

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
    if (!lm) {
      for (let i = 0; i < c.numLayers; i++) {
        const b = `encoder.block.${i}.layer`;
        attn(`${b}.0.SelfAttention`, i === 0);
        add(`${b}.0.layer_norm.weight`, [C]);
        ff(`${b}.1`);
      }
      add("encoder.final_layer_norm.weight", [C]);
    }
    for (let i = 0; i < c.numDecoderLayers; i++) {
      const b = `decoder.block.${i}.layer`;
      attn(`${b}.0.SelfAttention`, i === 0);
      add(`${b}.0.layer_norm.weight`, [C]);
      if (lm) {
        ff(`${b}.1`);
      } else {
        attn(`${b}.1.EncDecAttention`, false);
        add(`${b}.1.layer_norm.weight`, [C]);
        ff(`${b}.2`);
      }
    }
    add("decoder.final_layer_norm.weight", [C]);
    if (!this.tied) add("lm_head.weight", [V, C]);
    const adapterNames: string[] = [];
    if (R !== undefined)
      for (const s of sublayers)
        for (const [n, shape] of adapterTensorShapes(s, C, R)) {
          add(n, shape);
          adapterNames.push(n);
        }

    const mismatch = store && architectureMismatch(c, store.names());
    if (mismatch) throw new CheckpointError(`training checkpoint: ${mismatch}`);
    const params = new ParamStore(rt, specs);
    this.params = params;
    const factor = opts.initializerFactor ?? 1;
    const adapterSeed = opts.adapters?.seed ?? opts.seed ?? 0;
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
      // new adapters (the checkpoint has none) are initialized; partial adapters are an error
      const fresh = storedR === undefined;
      const missing = params.load(store, {
        source: (n) => (n === SHARED ? sharedSource : n),
        allowMissing: opts.initMissing || (fresh && R !== undefined),
      });
      const missingAdapters = missing.filter(isAdapterTensor);
      const missingBase = missing.filter((n) => !isAdapterTensor(n));
      if (missingBase.length && !opts.initMissing)
        throw new CheckpointError(
          `training checkpoint: missing tensors: ${missingBase.slice(0, 8).join(", ")}`,
        );
      if (missingAdapters.length && !fresh && !opts.initMissing)
        throw new CheckpointError(
          `training checkpoint: missing tensors: ${missingAdapters.slice(0, 8).join(", ")}`,
        );
      for (const n of missingAdapters) params.set(n, initAdapterTensor(n, params.entry(n).size, adapterSeed));
      if (missingBase.length) initT5Params(params, missingBase, opts.seed ?? 0, factor, c);
    } else {
      for (const n of adapterNames) params.set(n, initAdapterTensor(n, params.entry(n).size, adapterSeed));
      initT5Params(
        params,
        params.names().filter((n) => !isAdapterTensor(n)),
        opts.seed ?? 0,
        factor,
        c,
      );
    }

    // Pointers.
    const { arena, k } = rt;
    const linear = (first: string, N: number, K: number, names = [first]): Lin => {
      const l: Lin = {
        N,
        K,
        w: params.ptr(first),
        dw: params.gradPtr(first),
        wp: arena.alloc(k.packed_size_f32(N, K)),
        names,
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
      return linear(names[0], N, K, names);
    };
    const vec = (name: string): Vec => ({ w: params.ptr(name), dw: params.gradPtr(name), name });
    const adapter = (sublayer: string): Adapter | undefined => {
      if (R === undefined) return undefined;
      const a = `${sublayer}.adapter`;
      return {
        r: R,
        down: linear(`${a}.down.weight`, R, C),
        downB: vec(`${a}.down.bias`),
        up: linear(`${a}.up.weight`, C, R),
        upB: vec(`${a}.up.bias`),
      };
    };
    const selfAttn = (p: string): SelfAttn => ({
      ln: vec(`${p}.layer_norm.weight`),
      qkv: stacked(
        ["q", "k", "v"].map((n) => `${p}.SelfAttention.${n}.weight`),
        C,
      ),
      o: linear(`${p}.SelfAttention.o.weight`, C, I),
      ad: adapter(p),
    });
    const feedForward = (p: string): FeedForward => ({
      ln: vec(`${p}.layer_norm.weight`),
      wi: c.isGated
        ? stacked([`${p}.DenseReluDense.wi_0.weight`, `${p}.DenseReluDense.wi_1.weight`], C)
        : linear(`${p}.DenseReluDense.wi.weight`, F, C),
      wo: linear(`${p}.DenseReluDense.wo.weight`, C, F),
      ad: adapter(p),
    });
    this.shared = params.ptr(SHARED);
    this.dshared = params.gradPtr(SHARED);
    if (!lm) {
      const blocks: Block[] = [];
      for (let i = 0; i < c.numLayers; i++) {
        const b = `encoder.block.${i}.layer`;
        blocks.push({ self: selfAttn(`${b}.0`), ff: feedForward(`${b}.1`) });
      }
      this.encoder = {
        blocks,
        final: vec("encoder.final_layer_norm.weight"),
        table: ENC_REL,
        prefix: "encoder",
      };
    }
    const blocks: Block[] = [];
    for (let i = 0; i < c.numDecoderLayers; i++) {
      const b = `decoder.block.${i}.layer`;
      if (lm) {
        blocks.push({ self: selfAttn(`${b}.0`), ff: feedForward(`${b}.1`) });
        continue;
      }
      const x = `${b}.1.EncDecAttention`;
      blocks.push({
        self: selfAttn(`${b}.0`),
        cross: {
          ln: vec(`${b}.1.layer_norm.weight`),
          q: linear(`${x}.q.weight`, I, C),
          kv: stacked([`${x}.k.weight`, `${x}.v.weight`], C),
          o: linear(`${x}.o.weight`, C, I),
          ad: adapter(`${b}.1`),
        },
        ff: feedForward(`${b}.2`),
      });
    }
    this.decoder = {
      blocks,
      final: vec("decoder.final_layer_norm.weight"),
      table: DEC_REL,
      prefix: "decoder",
    };
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

  /** Gradient pointer of a parameter, or 0 (skip its accumulation) when every tensor in it is frozen. */
  private dW(p: Lin | Vec): number {
    const names = "names" in p ? p.names : [p.name];
    return names.some((n) => this.params.isTrainable(n)) ? p.dw : 0;
  }

  // ---- forward ------------------------------------------------------------------------------

  private forward(batch: T5Batch, grad: boolean, opts: RunOptions): { out: T5TrainOutput; saved: Saved } {
    const c = this.config;
    const { arena, k } = this.rt;
    const { batch: B, seq: T, decoderSeq: Td } = batch;
    const [C, V] = [c.dModel, c.vocabSize];
    const [NB, MD] = [c.relativeAttentionNumBuckets, c.relativeAttentionMaxDistance];
    const decIds =
      batch.decoderInputIds ?? shiftRight(batch.labels, B, Td, c.decoderStartTokenId, c.padTokenId);

    let saved: Saved;
    /** Flat rows of the decoder / LM stack's output for each labeled target, and the out.rows b·Td + t. */
    const headRows: number[] = [];
    const outRows: number[] = [];
    if (this.encoder) {
      // ---- encoder (bidirectional position bias, key padding mask), then the decoder (causal position
      // bias; cross-attention under the encoder mask)
      const scratch = arena.alloc(k.attention_scratch_size(Math.max(T, Td), Math.max(T, Td), c.dKv));
      const keyMask = arena.put(batch.attentionMask ?? new Int32Array(B * T).fill(1)); // [B,T] i32
      const encBuckets = positionBuckets(T, T, true, NB, MD); // [T·T]
      const enc = this.stackForward(
        this.encoder,
        batch.inputIds,
        "T5 encoder: input_ids",
        scratch,
        {
          B,
          T,
          bias: this.positionBias(ENC_REL, encBuckets),
          keyMask,
          maskKind: MaskKind.none,
          prefixLen: 0,
        },
        encBuckets,
      );
      const cross: CrossView = { Te: T, enc: enc.out, keyMask };
      const decBuckets = positionBuckets(Td, Td, false, NB, MD); // [Td·Td]
      const dec = this.stackForward(
        this.decoder,
        decIds,
        "T5 decoder: decoder_input_ids",
        scratch,
        {
          B,
          T: Td,
          bias: this.positionBias(DEC_REL, decBuckets),
          keyMask: 0,
          maskKind: MaskKind.causal,
          prefixLen: 0,
        },
        decBuckets,
        cross,
      );
      saved = { enc, cross, dec };
      for (let r = 0; r < B * Td; r++)
        if (batch.labels[r] !== IGNORE_INDEX) {
          headRows.push(r);
          outRows.push(r);
        }
    } else {
      // ---- one stack over input ⊕ decoder inputs (left-padded rows, src/models/t5-lm.ts)
      const seq = lmSequence(batch.inputIds, batch.attentionMask, B, T, decIds, Td, c.padTokenId);
      const { P, S } = seq;
      const pattern = lmAttention(c, P);
      const scratch = arena.alloc(k.attention_scratch_size(S, S, c.dKv));
      const buckets = positionBuckets(S, S, pattern.bidirectional, NB, MD); // [S·S]
      const dec = this.stackForward(
        this.decoder,
        seq.ids,
        "T5 LM: input_ids / decoder_input_ids",
        scratch,
        {
          B,
          T: S,
          bias: this.positionBias(DEC_REL, buckets),
          keyMask: arena.put(seq.keyMask),
          maskKind: pattern.maskKind,
          prefixLen: pattern.prefixLen,
        },
        buckets,
      );
      saved = { dec };
      for (let b = 0; b < B; b++)
        for (let t = 0; t < Td; t++)
          if (batch.labels[b * Td + t] !== IGNORE_INDEX) {
            headRows.push(b * S + P + t);
            outRows.push(b * Td + t);
          }
    }

    // ---- LM head on the labeled rows only (ignored rows add nothing to the loss or the gradients)
    const n = headRows.length;
    const out: T5TrainOutput = { loss: Number.NaN, tokens: n, rows: Int32Array.from(outRows) };
    if (n === 0) {
      if (opts.logits) out.logits = new Float32Array(0);
      return { out, saved };
    }
    const rows = arena.put(Int32Array.from(headRows)); // [n] i32
    const labels = arena.put(Int32Array.from(outRows, (r) => batch.labels[r])); // [n] i32
    const hr = arena.allocF32(n * C); // [n,C]
    k.embed_f32(hr, rows, 0, 0, saved.dec.out, 0, 0, n, C, saved.dec.M, 0, 0); // gather rows of [M,C]
    if (this.scaled) scaleInPlace(arena.f32(hr, n * C), Math.fround(C ** -0.5));
    const logits = arena.allocF32(n * V); // [n,V]
    k.matmul_f32(logits, 0, hr, this.head.wp, 0, 0, n, C, V, Epilogue.bias);
    const dlogits = grad ? arena.allocF32(n * V) : 0; // [n,V]
    if (dlogits) k.zero_f32(dlogits, n * V);
    const lossBuf = arena.allocF32(1); // [1]
    k.cross_entropy_f32(dlogits, lossBuf, logits, labels, n, V, opts.lossScale ?? 1);
    out.loss = arena.f32(lossBuf, 1)[0];
    if (dlogits && opts.perExample) weightRowsPerExample(arena.f32(dlogits, n * V), outRows, Td, V);
    if (opts.logits) out.logits = arena.readF32(logits, n * V);
    saved.head = { n, rows, hr, dlogits };
    return { out, saved };
  }

  /** Embeddings, every block, the final RMSNorm of one stack over token ids [B,T]. */
  private stackForward(
    stack: Stack,
    tokenIds: Int32Array,
    what: string,
    scratch: number,
    v: StackView,
    buckets: Int32Array,
    cross?: CrossView,
  ): StackSaved {
    const c = this.config;
    const { arena, k } = this.rt;
    const C = c.dModel;
    const M = v.B * v.T;
    const ids = arena.put(tokenIds); // [M] i32
    let x = arena.allocF32(M * C); // [M,C] residual stream
    this.embed(x, ids, M, what);
    const acts: BlockActs[] = [];
    for (const blk of stack.blocks) {
      const self = this.selfForward(blk.self, x, v, scratch);
      x = self.xout;
      let crossActs: CrossActs | undefined;
      if (blk.cross && cross) {
        crossActs = this.crossForward(blk.cross, x, v, cross, scratch);
        x = crossActs.xout;
      }
      const ff = this.ffForward(blk.ff, x, M);
      x = ff.xout;
      acts.push({ self, cross: crossActs, ff });
    }
    const rstd = arena.allocF32(M); // [M]
    const out = arena.allocF32(M * C); // [M,C]
    k.rmsnorm_f32(out, rstd, x, stack.final.w, M, C, c.layerNormEpsilon);
    return { ...v, M, ids, buckets, acts, rstd, out };
  }

  /** xout [M,C] = xin + adapter(inp·Wᵀ) (no adapter: xin + inp·Wᵀ, one GEMM with the residual fused). */
  private project(l: Lin, ad: Adapter | undefined, inp: number, xin: number, xout: number, M: number) {
    const { arena, k } = this.rt;
    const C = this.config.dModel;
    if (!ad) {
      k.matmul_f32(xout, 0, inp, l.wp, 0, xin, M, l.K, C, Epilogue.residual);
      return undefined;
    }
    const a: AdapterActs = {
      z: arena.allocF32(M * C),
      pre: arena.allocF32(M * ad.r),
      act: arena.allocF32(M * ad.r),
    };
    k.matmul_f32(a.z, 0, inp, l.wp, 0, 0, M, l.K, C, Epilogue.bias);
    k.matmul_f32(a.act, a.pre, a.z, ad.down.wp, ad.downB.w, 0, M, C, ad.r, Epilogue.relu);
    k.add_f32(xout, xin, a.z, M * C);
    k.matmul_f32(xout, 0, a.act, ad.up.wp, ad.upB.w, xout, M, ad.r, C, Epilogue.residual);
    return a;
  }

  private selfForward(p: SelfAttn, x: number, v: StackView, scratch: number): SelfActs {
    const c = this.config;
    const { arena, k } = this.rt;
    const [C, H, D] = [c.dModel, c.numHeads, c.dKv];
    const I = H * D;
    const { B, T } = v;
    const M = B * T;
    const a: SelfActs = {
      xin: x,
      rstd: arena.allocF32(M),
      h: arena.allocF32(M * C),
      qkv: arena.allocF32(M * 3 * I),
      probs: arena.allocF32(B * H * T * T),
      ctx: arena.allocF32(M * I),
      xout: arena.allocF32(M * C),
    };
    k.rmsnorm_f32(a.h, a.rstd, x, p.ln.w, M, C, c.layerNormEpsilon);
    k.matmul_f32(a.qkv, 0, a.h, p.qkv.wp, 0, 0, M, C, 3 * I, Epilogue.bias);
    k.attention_f32(
      a.ctx,
      a.probs,
      scratch,
      a.qkv,
      a.qkv + I * 4,
      a.qkv + 2 * I * 4,
      v.bias,
      v.keyMask,
      B,
      H,
      T,
      T,
      D,
      1,
      v.maskKind,
      v.prefixLen,
      T * 3 * I,
      3 * I,
      T * 3 * I,
      3 * I,
      T * 3 * I,
      3 * I,
      T * I,
      I,
    );
    a.ad = this.project(p.o, p.ad, a.ctx, x, a.xout, M);
    return a;
  }

  private crossForward(p: CrossAttn, x: number, v: StackView, cr: CrossView, scratch: number): CrossActs {
    const c = this.config;
    const { arena, k } = this.rt;
    const [C, H, D] = [c.dModel, c.numHeads, c.dKv];
    const I = H * D;
    const { B, T: Td } = v;
    const { Te } = cr;
    const Md = B * Td;
    const M = B * Te;
    const a: CrossActs = {
      xin: x,
      rstd: arena.allocF32(Md),
      h: arena.allocF32(Md * C),
      q: arena.allocF32(Md * I),
      kv: arena.allocF32(M * 2 * I),
      probs: arena.allocF32(B * H * Td * Te),
      ctx: arena.allocF32(Md * I),
      xout: arena.allocF32(Md * C),
    };
    k.rmsnorm_f32(a.h, a.rstd, x, p.ln.w, Md, C, c.layerNormEpsilon);
    k.matmul_f32(a.q, 0, a.h, p.q.wp, 0, 0, Md, C, I, Epilogue.bias);
    k.matmul_f32(a.kv, 0, cr.enc, p.kv.wp, 0, 0, M, C, 2 * I, Epilogue.bias);
    k.attention_f32(
      a.ctx,
      a.probs,
      scratch,
      a.q,
      a.kv,
      a.kv + I * 4,
      0,
      cr.keyMask,
      B,
      H,
      Td,
      Te,
      D,
      1,
      MaskKind.none,
      0,
      Td * I,
      I,
      Te * 2 * I,
      2 * I,
      Te * 2 * I,
      2 * I,
      Td * I,
      I,
    );
    a.ad = this.project(p.o, p.ad, a.ctx, x, a.xout, Md);
    return a;
  }

  /** xout = x + wo(act(wi(h))), or gated: x + wo(gelu_tanh(wi_0 h) · wi_1 h); h = RMSNorm(x). */
  private ffForward(p: FeedForward, x: number, M: number): FfActs {
    const c = this.config;
    const { arena, k } = this.rt;
    const [C, F] = [c.dModel, c.dFf];
    const a: FfActs = {
      xin: x,
      rstd: arena.allocF32(M),
      h: arena.allocF32(M * C),
      pre: arena.allocF32(M * (c.isGated ? 2 * F : F)),
      act: arena.allocF32(M * F),
      xout: arena.allocF32(M * C),
    };
    k.rmsnorm_f32(a.h, a.rstd, x, p.ln.w, M, C, c.layerNormEpsilon);
    if (c.isGated) {
      k.matmul_f32(a.pre, 0, a.h, p.wi.wp, 0, 0, M, C, 2 * F, Epilogue.bias);
      k.gated_gelu_f32(a.act, a.pre, a.pre + F * 4, M, F, 2 * F);
    } else {
      k.matmul_f32(a.act, a.pre, a.h, p.wi.wp, 0, 0, M, C, F, this.ffEpilogue);
    }
    a.ad = this.project(p.wo, p.ad, a.act, x, a.xout, M);
    return a;
  }

  // ---- backward -----------------------------------------------------------------------------

  /** The reverse list of backward kernel calls; every gradient buffer is zeroed before it accumulates. */
  private backward(s: Saved): void {
    const c = this.config;
    const { arena, k } = this.rt;
    const [C, H, D, F, V] = [c.dModel, c.numHeads, c.dKv, c.dFf, c.vocabSize];
    const I = H * D;
    const dec = s.dec;
    const rows = Math.max(dec.M, s.enc?.M ?? 0);
    const Tmax = Math.max(dec.T, s.enc?.T ?? 0);
    const r = this.adapterBottleneck ?? 0;
    const zeros = (n: number) => {
      const p = arena.allocF32(n);
      k.zero_f32(p, n);
      return p;
    };
    const w: Work = {
      dh: arena.allocF32(rows * C),
      dact: arena.allocF32(rows * F),
      dpre: arena.allocF32(rows * (c.isGated ? 2 * F : F)),
      dctx: arena.allocF32(rows * I),
      dqkv: arena.allocF32(rows * 3 * I),
      dq: s.enc ? arena.allocF32(dec.M * I) : 0,
      dkv: s.enc ? arena.allocF32(s.enc.M * 2 * I) : 0,
      dz: r ? arena.allocF32(rows * C) : 0,
      da: r ? arena.allocF32(rows * r) : 0,
      dpa: r ? arena.allocF32(rows * r) : 0,
      scratch: arena.alloc(k.attention_backward_scratch_size(Tmax, Tmax, D)),
    };

    // LM head (tied: dW into shared.weight), × d_model^-0.5, scatter into the stack's output rows
    const hd = s.head!;
    const dhr = zeros(hd.n * C); // [n,C]
    k.matmul_backward_f32(dhr, this.dW(this.head), 0, hd.dlogits, hd.hr, this.head.w, hd.n, C, V);
    if (this.scaled) scaleInPlace(arena.f32(dhr, hd.n * C), Math.fround(C ** -0.5));
    const dOut = zeros(dec.M * C); // [M,C]
    k.embed_backward_f32(dOut, 0, 0, dhr, hd.rows, 0, 0, hd.n, C, dec.M, 0, 0);

    // the encoder needs a gradient only when one of its tensors (or the shared embedding) trains
    const encoderTrains =
      !!s.enc &&
      this.params
        .names()
        .some((n) => (n.startsWith("encoder.") || n === SHARED) && this.params.isTrainable(n));
    const dEnc = encoderTrains ? zeros(s.enc!.M * C) : 0; // [M,C] cross-attention K/V paths
    this.stackBackward(this.decoder, dec, dOut, w, s.cross && { ...s.cross, dEnc });
    if (s.enc && encoderTrains) this.stackBackward(this.encoder!, s.enc, dEnc, w);
  }

  /**
   * One stack in reverse from dOut [M,C] = d/d its final-norm output: every block (accumulating
   * parameter gradients and, with cross, d/d the encoder output into cross.dEnc), then the embedding
   * lookup and the position-bias table.
   */
  private stackBackward(
    stack: Stack,
    s: StackSaved,
    dOut: number,
    w: Work,
    cross?: CrossView & { dEnc: number },
  ): void {
    const c = this.config;
    const { arena, k } = this.rt;
    const [C, H] = [c.dModel, c.numHeads];
    const { M, T } = s;
    // final RMSNorm, then the blocks in reverse; g = d/d the residual stream
    // (configs have ≥ 1 layer per stack: t5ConfigFromJson enforces it)
    const g = arena.allocF32(M * C); // [M,C]
    k.zero_f32(g, M * C);
    const xL = s.acts[s.acts.length - 1].ff.xout; // [M,C] final RMSNorm input
    k.rmsnorm_backward_f32(g, this.dW(stack.final), s.rstd, dOut, xL, stack.final.w, M, C);
    const tableTrains = this.params.isTrainable(stack.table);
    const dBias = tableTrains ? arena.allocF32(H * T * T) : 0; // [H,T,T] summed over layers and batch
    if (dBias) k.zero_f32(dBias, H * T * T);
    for (let i = s.acts.length - 1; i >= 0; i--) {
      const blk = stack.blocks[i];
      const a = s.acts[i];
      this.ffBackward(blk.ff, a.ff, g, w, M);
      if (blk.cross && a.cross && cross) this.crossBackward(blk.cross, a.cross, g, w, s, cross);
      this.selfBackward(blk.self, a.self, g, w, s, dBias);
    }
    if (this.params.isTrainable(SHARED))
      k.embed_backward_f32(this.dshared, 0, 0, g, s.ids, 0, 0, M, C, c.vocabSize, 0, 0);
    if (dBias) this.scatterBias(stack.table, dBias, H * T * T, s.buckets);
  }

  /**
   * Backward of project(): g = d xout [M,C] (the residual's own gradient stays in g); dinp [M,K] =
   * d/d inp (overwritten); parameter gradients accumulate.
   */
  private projectBackward(
    l: Lin,
    ad: Adapter | undefined,
    a: AdapterActs | undefined,
    inp: number,
    g: number,
    dinp: number,
    w: Work,
    M: number,
  ): void {
    const { arena, k } = this.rt;
    const C = this.config.dModel;
    let dy = g;
    if (ad && a) {
      const r = ad.r;
      arena.f32(w.dz, M * C).set(arena.f32(g, M * C)); // dz = g (identity path) + the bottleneck's
      k.zero_f32(w.da, M * r);
      k.matmul_backward_f32(w.da, this.dW(ad.up), this.dW(ad.upB), g, a.act, ad.up.w, M, r, C);
      k.zero_f32(w.dpa, M * r);
      k.activation_backward_f32(w.dpa, w.da, a.pre, M * r, Epilogue.relu);
      k.matmul_backward_f32(w.dz, this.dW(ad.down), this.dW(ad.downB), w.dpa, a.z, ad.down.w, M, C, r);
      dy = w.dz;
    }
    k.zero_f32(dinp, M * l.K);
    k.matmul_backward_f32(dinp, this.dW(l), 0, dy, inp, l.w, M, l.K, C);
  }

  /** g [M,C]: d xout → d xin of a self-attention sublayer (+ the position-bias gradient into dBias). */
  private selfBackward(p: SelfAttn, a: SelfActs, g: number, w: Work, v: StackView, dBias: number): void {
    const c = this.config;
    const { k } = this.rt;
    const [C, H, D] = [c.dModel, c.numHeads, c.dKv];
    const I = H * D;
    const { B, T } = v;
    const M = B * T;
    this.projectBackward(p.o, p.ad, a.ad, a.ctx, g, w.dctx, w, M);
    k.zero_f32(w.dqkv, M * 3 * I);
    k.attention_backward_f32(
      w.dqkv,
      w.dqkv + I * 4,
      w.dqkv + 2 * I * 4,
      dBias,
      a.probs,
      w.scratch,
      a.qkv,
      a.qkv + I * 4,
      a.qkv + 2 * I * 4,
      w.dctx,
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
    k.zero_f32(w.dh, M * C);
    k.matmul_backward_f32(w.dh, this.dW(p.qkv), 0, w.dqkv, a.h, p.qkv.w, M, C, 3 * I);
    k.rmsnorm_backward_f32(g, this.dW(p.ln), a.rstd, w.dh, a.xin, p.ln.w, M, C);
  }

  /** g [Md,C]: d xout → d xin of a cross-attention sublayer; d/d the encoder output into cr.dEnc. */
  private crossBackward(
    p: CrossAttn,
    a: CrossActs,
    g: number,
    w: Work,
    v: StackView,
    cr: CrossView & { dEnc: number },
  ): void {
    const c = this.config;
    const { k } = this.rt;
    const [C, H, D] = [c.dModel, c.numHeads, c.dKv];
    const I = H * D;
    const { B, T: Td } = v;
    const { Te } = cr;
    const Md = B * Td;
    const M = B * Te;
    this.projectBackward(p.o, p.ad, a.ad, a.ctx, g, w.dctx, w, Md);
    k.zero_f32(w.dq, Md * I);
    k.zero_f32(w.dkv, M * 2 * I);
    k.attention_backward_f32(
      w.dq,
      w.dkv,
      w.dkv + I * 4,
      0,
      a.probs,
      w.scratch,
      a.q,
      a.kv,
      a.kv + I * 4,
      w.dctx,
      B,
      H,
      Td,
      Te,
      D,
      1,
      Td * I,
      I,
      Te * 2 * I,
      2 * I,
      Te * 2 * I,
      2 * I,
      Td * I,
      I,
    );
    k.zero_f32(w.dh, Md * C);
    k.matmul_backward_f32(w.dh, this.dW(p.q), 0, w.dq, a.h, p.q.w, Md, C, I);
    k.matmul_backward_f32(cr.dEnc, this.dW(p.kv), 0, w.dkv, cr.enc, p.kv.w, M, C, 2 * I);
    k.rmsnorm_backward_f32(g, this.dW(p.ln), a.rstd, w.dh, a.xin, p.ln.w, Md, C);
  }

  /** g [M,C]: d xout → d xin of a feed-forward sublayer. */
  private ffBackward(p: FeedForward, a: FfActs, g: number, w: Work, M: number): void {
    const { k } = this.rt;
    const { dModel: C, dFf: F, isGated } = this.config;
    this.projectBackward(p.wo, p.ad, a.ad, a.act, g, w.dact, w, M);
    const N = isGated ? 2 * F : F;
    k.zero_f32(w.dpre, M * N);
    if (isGated) k.gated_gelu_backward_f32(w.dpre, w.dpre + F * 4, w.dact, a.pre, a.pre + F * 4, M, F, 2 * F);
    else k.activation_backward_f32(w.dpre, w.dact, a.pre, M * F, this.ffEpilogue);
    k.zero_f32(w.dh, M * C);
    k.matmul_backward_f32(w.dh, this.dW(p.wi), 0, w.dpre, a.h, p.wi.w, M, C, N);
    k.rmsnorm_backward_f32(g, this.dW(p.ln), a.rstd, w.dh, a.xin, p.ln.w, M, C);
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
 * Rescales the cross-entropy gradient rows dlogits [n,V] (each scaled 1/n by the kernel) so that every
 * example with labels gets the same total weight: row r of example b = ⌊outRows[r] / Td⌋ is multiplied
 * by n / (examples · tokens of b), i.e. its gradient becomes that of (1/examples) Σ_b mean_t loss(b, t).
 */
export function weightRowsPerExample(
  dlogits: Float32Array,
  outRows: readonly number[],
  Td: number,
  V: number,
): void {
  const n = outRows.length;
  const tokens = new Map<number, number>();
  for (const r of outRows) {
    const b = Math.floor(r / Td);
    tokens.set(b, (tokens.get(b) ?? 0) + 1);
  }
  const examples = tokens.size;
  for (let i = 0; i < n; i++) {
    const f = Math.fround(n / (examples * tokens.get(Math.floor(outRows[i] / Td))!));
    const row = dlogits.subarray(i * V, (i + 1) * V);
    for (let j = 0; j < V; j++) row[j] *= f;
  }
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
    let out: Float32Array = new Float32Array(e.size);
    if (isAdapterTensor(name)) {
      out = initAdapterTensor(name, e.size, seed);
    } else if (name.endsWith("layer_norm.weight")) {
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
