// T5ForConditionalGeneration (Raffel et al.) from Hugging Face parameter names: a pre-norm encoder and
// decoder with RMSNorm (no bias, no mean), unscaled attention (scale 1) plus a relative-position bias
// computed once per forward from block 0's table and shared by every layer (bidirectional buckets in
// the encoder, causal in the decoder), ReLU or gated-GELU feed-forward, cross-attention under the
// encoder padding mask, and an LM head tied to `shared` (decoder output × d_model^-0.5 when
// scale_decoder_outputs) or a separate lm_head. f32 or int8 weights.
//
// The decoder-only and prefix-LM architectures (config "edgeformer_architecture") run through the same
// entry points: their one stack of decoder blocks (no cross-attention) is the "decoder", and their
// "encoder" is the embedding lookup: encode() returns the input's token embeddings, decode() runs the
// stack over [input ⊕ decoder inputs] (rows laid out as src/models/t5-lm.ts describes) and returns the
// decoder positions, and createDecoderState() runs the input through the stack once to fill the KV
// cache (prefill) — so generate(), generateText() and streaming work on them unchanged. Adapters
// ({sublayer}.adapter.*, src/models/adapters.ts) run after a sublayer's output projection when the
// checkpoint holds them (f32, also in int8 models).
//
// Three entry points: encode() (encoder hidden states), decode() (teacher-forced decoder: logits and
// hidden states, and forward() for both plus the loss), and incremental decoding with a KV cache:
// createDecoderState() + step(). Each reads as a list of kernel calls over arena buffers.
//
// Memory: weights are placed once, below everything else. Activations of one call live above the
// arena top and are released by reset(mark) when the call returns. A T5DecoderState's caches are
// long-lived: they are allocated when the state is created, above the arena top at that moment,
// and released by state.dispose(). Regions are released when they are on top of the arena, so states
// may be disposed in any order (memory comes back once those above it are disposed). Weights loaded
// after a state was created sit above it and pin its memory: load models first, then decode.

import type { Arena } from "../runtime/arena.ts";
import { Epilogue, MaskKind } from "../runtime/kernels.ts";
import type { KernelRuntime } from "../runtime/load.ts";
import { AdapterLayer, adapterBottleneck, adapterTensorShapes } from "./adapters.ts";
import { weightF32 } from "./bert.ts";
import { Linear, type WeightDType } from "./linear.ts";
import {
  isQuantSideTensor,
  type QuantizedWeight,
  quantizeWeight,
  readQuantized,
  requantizeRows,
  t5Int8Scheme,
} from "./quantize.ts";
import { relativePositionBias, relativePositionBucket } from "./relative-position.ts";
import { isT5LanguageModel, type T5Config } from "./t5-config.ts";
import { architectureMismatch, lmAttention, lmPrefix, t5Sublayers } from "./t5-lm.ts";
import { CheckpointError, checkTensors, type TensorStore } from "./tensors.ts";

export interface T5EncoderOutput {
  /** [B,T,C] after the final layer norm (LM architectures: the token embeddings). */
  lastHiddenState: Float32Array;
  /** encoder_hidden_states.0 … L: embeddings, the output of layers 0 … L−2, then lastHiddenState. */
  hiddenStates?: Float32Array[];
}

export interface T5DecoderOutput {
  /** [B,Tdec,V] */
  logits: Float32Array;
  /** [B,Tdec,C] after the final layer norm (before the d_model^-0.5 head scaling). */
  lastHiddenState: Float32Array;
  /**
   * decoder_hidden_states.0 … L, as for the encoder (the last is after the final layer norm). LM
   * architectures: over whole rows [B,P+Tdec,C] (P = the longest input, rows left-padded).
   */
  hiddenStates?: Float32Array[];
}

export interface T5Input {
  /** [B,T] encoder token ids. */
  inputIds: Int32Array;
  /** [B,T] 1 = token, 0 = padding; all ones when absent. */
  attentionMask?: Int32Array;
  batch: number;
  seq: number;
  /** [B,Tdec] decoder input ids; when absent, labels shifted right (decoder start token first). */
  decoderInputIds?: Int32Array;
  /** [B,Tdec] target ids, -100 = ignored in the loss. */
  labels?: Int32Array;
  /** Tdec (the row length of decoderInputIds / labels). */
  decoderSeq: number;
}

export interface T5Seq2SeqOutput extends T5DecoderOutput {
  encoderLastHiddenState: Float32Array;
  encoderHiddenStates?: Float32Array[];
  /** Mean cross-entropy over labels ≠ -100 (when labels were given). */
  loss?: number;
}

interface SelfAttention {
  qkv: Linear; // [3I, C]: q | k | v stacked (I = H·D)
  o: Linear; // [C, I]
  ad?: AdapterLayer;
}

interface CrossAttention {
  q: Linear; // [I, C]
  kv: Linear; // [2I, C]: k | v stacked, applied to the encoder output
  o: Linear; // [C, I]
  ad?: AdapterLayer;
}

interface FeedForward {
  wi: Linear; // [F, C], or [2F, C] = wi_0 | wi_1 when gated
  wo: Linear; // [C, F]
  ad?: AdapterLayer;
}

interface EncoderLayer {
  ln0: number; // [C]
  attn: SelfAttention;
  ln1: number; // [C]
  ff: FeedForward;
}

/** A decoder block; the LM architectures' blocks have no cross-attention. */
interface DecoderLayer {
  ln0: number; // [C]
  self: SelfAttention;
  cross?: { ln: number; attn: CrossAttention }; // ln [C]
  lnFf: number; // [C]
  ff: FeedForward;
}

/**
 * The decoder self-attention's mask: key padding [B,Tk] i32 (or 0), mask kind, prefix length.
 * `decode`: one query per row at the last cache position (step()): the one-query kernel with the
 * state's bias by key distance [H,S] and the key mask's row stride (keyMask [B,S] then).
 */
interface SelfMask {
  keyMask: number;
  maskKind: number;
  prefixLen: number;
  decode?: { bias: number; stride: number };
}

/** Encoder–decoder cross-attention inputs: layer l's encoder k | v [B,Te,2I], the mask [B,Te] i32. */
interface CrossSource {
  kv: (l: number) => number;
  mask: number;
  Te: number;
}

/** Where a decoder layer's self-attention keys and values are (a strided view, element (b,t,h,d)). */
interface KvView {
  k: number;
  v: number;
  sB: number;
  sT: number;
  Tk: number;
}

// ---------------------------------------------------------------------------------------------
// Long-lived arena regions (decoder states): released when on top of the arena.

interface Region {
  start: number;
  end: number;
  live: boolean;
}

const regions = new WeakMap<Arena, Region[]>();

function claimRegion(arena: Arena, start: number, end: number): Region {
  const region = { start, end, live: true };
  let stack = regions.get(arena);
  if (!stack) {
    stack = [];
    regions.set(arena, stack);
  }
  stack.push(region);
  return region;
}

function releaseRegion(arena: Arena, region: Region): void {
  region.live = false;
  const stack = regions.get(arena);
  if (!stack) return;
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    if (top.live || top.end !== arena.mark()) break;
    arena.reset(top.start);
    stack.pop();
  }
}

/**
 * Incremental-decoding state for `rows` sequences: self-attention K/V caches with room for `capacity`
 * tokens, cross-attention K/V computed once from the encoder output, and the encoder padding mask.
 * LM architectures: no cross-attention; the caches start with the input (`prefix` positions, left-padded,
 * filled when the state is created) and `selfMask` marks their padding.
 * Created by T5Model.createDecoderState(); its memory is held until dispose() (call it in a finally).
 */
export class T5DecoderState {
  /** Tokens fed so far (the position of the next one). */
  length = 0;
  private disposed = false;

  /** @internal */
  constructor(
    /** The T5Model that created the state (and the only one that may step it). */
    readonly owner: object,
    private readonly rt: KernelRuntime,
    private readonly region: Region,
    readonly rows: number,
    readonly capacity: number,
    readonly encoderLength: number,
    /** Inner attention width I = H·D. */
    readonly inner: number,
    /** Per decoder layer: [rows, capacity, 2I] f32, k | v per position. */
    readonly selfKv: number[],
    /** Per decoder layer: [rows, Te, 2I] f32, k | v per encoder position. */
    readonly crossKv: number[],
    /** [rows, Te] i32, 1 = attend. */
    readonly encoderMask: number,
    /** LM architectures: [rows, capacity] i32 key mask of the cache (0 = left padding of the input), else 0. */
    readonly selfMask = 0,
    /** LM architectures: cache positions holding the input (P); generated tokens start there. */
    readonly prefix = 0,
    /** [H, capacity] f32: decoder self-attention bias by key distance (query position − key position). */
    readonly selfBias = 0,
  ) {}

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** @internal */
  check(): void {
    if (this.disposed) throw new Error("T5DecoderState: used after dispose()");
  }

  /**
   * Reorders the rows: row i becomes the old row src[i] (beam search). Self-attention caches always;
   * cross-attention data too unless `cross` is false (beams of one input share it, so beam search
   * passes false when src stays within each input's beams).
   */
  reorder(src: ArrayLike<number>, opts: { cross?: boolean } = {}): void {
    this.check();
    const R = this.rows;
    if (src.length !== R)
      throw new RangeError(`T5DecoderState.reorder: ${src.length} rows given, state has ${R}`);
    for (let i = 0; i < R; i++) {
      const s = src[i];
      if (!(Number.isInteger(s) && s >= 0 && s < R))
        throw new RangeError(`T5DecoderState.reorder: row ${s} is outside 0..${R - 1}`);
    }
    const moved: number[] = [];
    for (let i = 0; i < R; i++) if (src[i] !== i) moved.push(i);
    if (moved.length === 0) return;
    const I2 = 2 * this.inner;
    const gather = (base: number, rowFloats: number, usedFloats: number) => {
      if (usedFloats === 0) return;
      const { arena } = this.rt;
      const mark = arena.mark();
      try {
        const bytes = usedFloats * 4;
        const tmp = arena.alloc(moved.length * bytes); // [moved, used] copies of the source rows
        const u8 = new Uint8Array(this.rt.memory.buffer);
        moved.forEach((i, n) => {
          const from = base + src[i] * rowFloats * 4;
          u8.copyWithin(tmp + n * bytes, from, from + bytes);
        });
        moved.forEach((i, n) => {
          u8.copyWithin(base + i * rowFloats * 4, tmp + n * bytes, tmp + (n + 1) * bytes);
        });
      } finally {
        arena.reset(mark);
      }
    };
    for (const p of this.selfKv) gather(p, this.capacity * I2, this.length * I2);
    if (this.selfMask) gather(this.selfMask, this.capacity, this.capacity);
    if (opts.cross ?? true) {
      for (const p of this.crossKv) gather(p, this.encoderLength * I2, this.encoderLength * I2);
      gather(this.encoderMask, this.encoderLength, this.encoderLength);
    }
  }

  /** Releases the caches (idempotent). Memory returns to the arena once no live region sits above it. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    releaseRegion(this.rt.arena, this.region);
  }
}

// ---------------------------------------------------------------------------------------------

/** Mean cross-entropy of logits [B·T, V] against labels [B·T] (-100 = ignored), in f64. */
export function crossEntropy(logits: Float32Array, labels: ArrayLike<number>, V: number): number {
  const rows = labels.length;
  if (logits.length !== rows * V)
    throw new RangeError(`crossEntropy: logits have ${logits.length} values, expected ${rows}×${V}`);
  let sum = 0;
  let n = 0;
  for (let r = 0; r < rows; r++) {
    const y = labels[r];
    if (y === -100) continue;
    if (!(Number.isInteger(y) && y >= 0 && y < V))
      throw new RangeError(`crossEntropy: label ${y} is outside the vocabulary (${V})`);
    const row = logits.subarray(r * V, (r + 1) * V);
    let mx = Number.NEGATIVE_INFINITY;
    for (let v = 0; v < V; v++) if (row[v] > mx) mx = row[v];
    let s = 0;
    for (let v = 0; v < V; v++) s += Math.exp(row[v] - mx);
    sum += mx + Math.log(s) - row[y];
    n++;
  }
  return n === 0 ? Number.NaN : sum / n;
}

/** transformers' _shift_right: decoder start token first, labels shifted by one, -100 → pad. */
export function shiftRight(
  labels: Int32Array,
  B: number,
  T: number,
  startId: number,
  padId: number,
): Int32Array {
  const out = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    out[b * T] = startId;
    for (let t = 1; t < T; t++) {
      const v = labels[b * T + t - 1];
      out[b * T + t] = v === -100 ? padId : v;
    }
  }
  return out;
}

export class T5Model {
  readonly dtype: WeightDType;
  /** Bytes of wasm memory the weights occupy. */
  readonly weightBytes: number;
  private readonly tok: number; // [V,C] f32, or int8 rows when tokScales is set
  private readonly tokScales: number; // [V] f32 row scales (or units) of an int8 token table, else 0
  private readonly tokMults: number; // [V, ceil(C/8)] i8 block multipliers of a "block" int8 table, else 0
  private readonly encRelBias: Float32Array; // [numBuckets, H] host copy (bias built per forward); LM: empty
  private readonly decRelBias: Float32Array; // [numBuckets, H]
  private readonly encLayers: EncoderLayer[] = [];
  private readonly encFinalLn: number; // [C]; LM: 0
  private readonly decLayers: DecoderLayer[] = [];
  private readonly decFinalLn: number; // [C]
  private readonly head: Linear; // [V, C]: lm_head or the shared table
  private readonly ffEpilogue: number;
  /** True when the LM head reads the shared embedding table (no lm_head.weight in the checkpoint). */
  readonly tiedHead: boolean;
  /** One stack over input ⊕ target (decoder-only or prefix LM): no encoder, no cross-attention. */
  readonly isLanguageModel: boolean;
  /** Bottleneck width of the checkpoint's adapters, when it has them. */
  readonly adapterBottleneck: number | undefined;

  constructor(
    readonly rt: KernelRuntime,
    readonly config: T5Config,
    store: TensorStore,
    opts: { dtype?: WeightDType } = {},
  ) {
    const c = config;
    const dtype = opts.dtype ?? "f32";
    this.dtype = dtype;
    const C = c.dModel;
    const H = c.numHeads;
    const I = H * c.dKv;
    const F = c.dFf;
    const V = c.vocabSize;
    const NB = c.relativeAttentionNumBuckets;
    const lm = isT5LanguageModel(c);
    this.isLanguageModel = lm;

    // Expected tensors → shapes, then one check that reports every problem by name.
    const copies = lm
      ? ["decoder.embed_tokens.weight"]
      : ["encoder.embed_tokens.weight", "decoder.embed_tokens.weight"];
    const sharedName = !store.has("shared.weight") && store.has(copies[0]) ? copies[0] : "shared.weight";
    const exp = new Map<string, number[]>();
    const optional = new Set<string>();
    exp.set(sharedName, [V, C]);
    for (const dup of copies) {
      if (dup === sharedName) continue;
      exp.set(dup, [V, C]); // tied duplicates of shared.weight, accepted when saved
      optional.add(dup);
    }
    const attn = (p: string) => {
      for (const n of ["q", "k", "v"]) exp.set(`${p}.${n}.weight`, [I, C]);
      exp.set(`${p}.o.weight`, [C, I]);
    };
    const ff = (p: string) => {
      if (c.isGated) {
        exp.set(`${p}.DenseReluDense.wi_0.weight`, [F, C]);
        exp.set(`${p}.DenseReluDense.wi_1.weight`, [F, C]);
      } else {
        exp.set(`${p}.DenseReluDense.wi.weight`, [F, C]);
      }
      exp.set(`${p}.DenseReluDense.wo.weight`, [C, F]);
      exp.set(`${p}.layer_norm.weight`, [C]);
    };
    if (!lm) {
      for (let i = 0; i < c.numLayers; i++) {
        const b = `encoder.block.${i}.layer`;
        attn(`${b}.0.SelfAttention`);
        if (i === 0) exp.set(`${b}.0.SelfAttention.relative_attention_bias.weight`, [NB, H]);
        exp.set(`${b}.0.layer_norm.weight`, [C]);
        ff(`${b}.1`);
      }
      exp.set("encoder.final_layer_norm.weight", [C]);
    }
    for (let i = 0; i < c.numDecoderLayers; i++) {
      const b = `decoder.block.${i}.layer`;
      attn(`${b}.0.SelfAttention`);
      if (i === 0) exp.set(`${b}.0.SelfAttention.relative_attention_bias.weight`, [NB, H]);
      exp.set(`${b}.0.layer_norm.weight`, [C]);
      if (lm) {
        ff(`${b}.1`);
      } else {
        attn(`${b}.1.EncDecAttention`);
        exp.set(`${b}.1.layer_norm.weight`, [C]);
        ff(`${b}.2`);
      }
    }
    exp.set("decoder.final_layer_norm.weight", [C]);
    exp.set("lm_head.weight", [V, C]);
    if (c.tieWordEmbeddings) optional.add("lm_head.weight");
    // adapters: all sublayers or none (their bottleneck from the checkpoint)
    const R = adapterBottleneck(store);
    this.adapterBottleneck = R;
    if (R !== undefined)
      for (const sub of t5Sublayers(c))
        for (const [n, shape] of adapterTensorShapes(sub, C, R)) exp.set(n, shape);
    const isScaleOfExpected = (n: string) => isQuantSideTensor(n, (w) => exp.has(w));
    // Old checkpoints (t5-small …) carry an unused cross-attention position table; transformers skips it.
    const isUnused = (n: string) =>
      !lm && /^decoder\.block\.0\.layer\.1\.EncDecAttention\.relative_attention_bias\.weight$/.test(n);
    const mismatch = architectureMismatch(c, store.names());
    if (mismatch) throw new CheckpointError(`T5 checkpoint: ${mismatch}`);
    checkTensors(store, exp, {
      optional,
      ignored: (n) => isScaleOfExpected(n) || isUnused(n),
      what: lm ? `T5 ${c.architecture} checkpoint` : "T5 checkpoint",
    });

    const { arena } = rt;
    const start = arena.mark();
    // Token table: int8 rows (gathered by embed_q8_f32 / embed_q8b_f32) for int8 models or checkpoints,
    // in the block scheme when quantized here (t5Int8Scheme).
    let sharedQ: QuantizedWeight | undefined;
    if (store.dtype(sharedName) === "I8") {
      sharedQ = readQuantized(store, sharedName);
    } else if (dtype === "int8") {
      sharedQ = quantizeWeight(rt, store.float32(sharedName), V, C, "block");
    }
    if (sharedQ) {
      this.tok = arena.put(sharedQ.q);
      this.tokScales = arena.put(sharedQ.scales);
      this.tokMults = sharedQ.mults ? arena.put(sharedQ.mults) : 0;
    } else {
      this.tok = arena.put(store.float32(sharedName));
      this.tokScales = 0;
      this.tokMults = 0;
    }
    const norm = (name: string) => arena.put(store.float32(name));
    const lin = (name: string) =>
      Linear.load(rt, store, `${name}.weight`, dtype, { scheme: t5Int8Scheme(`${name}.weight`) });
    const stacked = (names: string[]) => Linear.stacked(rt, store, names, C, dtype, t5Int8Scheme(names[0]));
    const adapter = (sublayer: string) => AdapterLayer.load(rt, store, sublayer, C);
    const selfAttn = (sub: string): SelfAttention => {
      const p = `${sub}.SelfAttention`;
      return {
        qkv: stacked([`${p}.q.weight`, `${p}.k.weight`, `${p}.v.weight`]),
        o: lin(`${p}.o`),
        ad: adapter(sub),
      };
    };
    const feedForward = (sub: string): FeedForward => {
      const p = `${sub}.DenseReluDense`;
      return {
        wi: c.isGated ? stacked([`${p}.wi_0.weight`, `${p}.wi_1.weight`]) : lin(`${p}.wi`),
        wo: lin(`${p}.wo`),
        ad: adapter(sub),
      };
    };
    if (!lm) {
      for (let i = 0; i < c.numLayers; i++) {
        const b = `encoder.block.${i}.layer`;
        this.encLayers.push({
          ln0: norm(`${b}.0.layer_norm.weight`),
          attn: selfAttn(`${b}.0`),
          ln1: norm(`${b}.1.layer_norm.weight`),
          ff: feedForward(`${b}.1`),
        });
      }
    }
    this.encFinalLn = lm ? 0 : norm("encoder.final_layer_norm.weight");
    for (let i = 0; i < c.numDecoderLayers; i++) {
      const b = `decoder.block.${i}.layer`;
      if (lm) {
        this.decLayers.push({
          ln0: norm(`${b}.0.layer_norm.weight`),
          self: selfAttn(`${b}.0`),
          lnFf: norm(`${b}.1.layer_norm.weight`),
          ff: feedForward(`${b}.1`),
        });
        continue;
      }
      const x = `${b}.1.EncDecAttention`;
      this.decLayers.push({
        ln0: norm(`${b}.0.layer_norm.weight`),
        self: selfAttn(`${b}.0`),
        cross: {
          ln: norm(`${b}.1.layer_norm.weight`),
          attn: {
            q: lin(`${x}.q`),
            kv: stacked([`${x}.k.weight`, `${x}.v.weight`]),
            o: lin(`${x}.o`),
            ad: adapter(`${b}.1`),
          },
        },
        lnFf: norm(`${b}.2.layer_norm.weight`),
        ff: feedForward(`${b}.2`),
      });
    }
    this.decFinalLn = norm("decoder.final_layer_norm.weight");
    this.tiedHead = !store.has("lm_head.weight");
    if (!this.tiedHead) {
      this.head = lin("lm_head");
    } else if (sharedQ) {
      // the tied head runs once per generated token: a per-row copy of a block table (one pass over it
      // at load), except in checkpoints whose decoder is block-scheme too (written before the schemes
      // were mixed), which keep computing what they did
      const q0 = "decoder.block.0.layer.0.SelfAttention.q.weight";
      const oldBlock = store.dtype(q0) === "I8" && store.has(`${q0}_mult`);
      const h = oldBlock ? sharedQ : requantizeRows(rt, sharedQ, V, C);
      this.head = Linear.fromInt8(rt, h.q, h.scales, undefined, V, C, h.mults);
    } else {
      this.head = Linear.fromF32(rt, store.float32(sharedName), undefined, V, C, dtype);
    }
    this.encRelBias = lm
      ? new Float32Array(0)
      : weightF32(store, "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight");
    this.decRelBias = weightF32(
      store,
      "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
    );
    this.ffEpilogue =
      c.denseAct === "relu" ? Epilogue.relu : c.denseAct === "gelu" ? Epilogue.geluErf : Epilogue.geluTanh;
    this.weightBytes = arena.mark() - start;
  }

  // -------------------------------------------------------------------------------------------
  // Encoder

  /**
   * Encoder forward. inputIds, attentionMask: [B,T] (mask all ones when absent).
   * Returns the final hidden states [B,T,C] (and every layer's when asked). LM architectures have no
   * encoder: the token embeddings [B,T,C] (what decode() and createDecoderState() run the stack over).
   */
  encode(
    inputIds: Int32Array,
    attentionMask: Int32Array | undefined,
    B: number,
    T: number,
    opts: { hiddenStates?: boolean } = {},
  ): T5EncoderOutput {
    const c = this.config;
    const { arena, k } = this.rt;
    const C = c.dModel;
    const H = c.numHeads;
    const D = c.dKv;
    const I = H * D;
    const M = B * T;
    checkBatch("T5 encoder", B, T, [
      ["input_ids", inputIds],
      ["attention_mask", attentionMask],
    ]);
    const out: T5EncoderOutput = { lastHiddenState: new Float32Array(0) };
    const mark = arena.mark();
    try {
      if (this.isLanguageModel) {
        const x = arena.allocF32(M * C); // [B,T,C]
        this.embed(x, arena.put(inputIds), M, "T5 LM: input_ids");
        out.lastHiddenState = arena.readF32(x, M * C);
        if (opts.hiddenStates) out.hiddenStates = [out.lastHiddenState];
        return out;
      }
      const ids = arena.put(inputIds); // [B,T] i32
      const keyMask = arena.put(attentionMask ?? new Int32Array(M).fill(1)); // [B,T] i32
      const x = arena.allocF32(M * C); // [B,T,C] residual stream
      this.embed(x, ids, M, "T5 encoder: input_ids");
      const bias = arena.put(
        relativePositionBias(
          this.encRelBias,
          H,
          T,
          T,
          true,
          c.relativeAttentionNumBuckets,
          c.relativeAttentionMaxDistance,
        ),
      ); // [H,T,T]
      const h = arena.allocF32(M * C); // [B,T,C] normed input of a sublayer
      const qkv = arena.allocF32(M * 3 * I); // [B,T,3I] q | k | v per row
      const ctx = arena.allocF32(M * I); // [B,T,I] attention output before o
      const ffBufs = this.allocFeedForward(M);
      const hidden: Float32Array[] | undefined = opts.hiddenStates ? [] : undefined;
      for (const layer of this.encLayers) {
        hidden?.push(arena.readF32(x, M * C));
        k.rmsnorm_f32(h, 0, x, layer.ln0, M, C, c.layerNormEpsilon);
        layer.attn.qkv.forward(qkv, h, M);
        this.attention(ctx, qkv, qkv + I * 4, qkv + 2 * I * 4, bias, keyMask, B, T, T, MaskKind.none, {
          qsB: T * 3 * I,
          qsT: 3 * I,
          ksB: T * 3 * I,
          ksT: 3 * I,
        });
        this.project(layer.attn.o, layer.attn.ad, x, ctx, M);
        k.rmsnorm_f32(h, 0, x, layer.ln1, M, C, c.layerNormEpsilon);
        this.feedForward(layer.ff, x, h, M, ffBufs);
      }
      k.rmsnorm_f32(x, 0, x, this.encFinalLn, M, C, c.layerNormEpsilon);
      out.lastHiddenState = arena.readF32(x, M * C);
      if (hidden) {
        hidden.push(out.lastHiddenState);
        out.hiddenStates = hidden;
      }
      return out;
    } finally {
      arena.reset(mark);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Decoder, teacher-forced

  /**
   * Teacher-forced decoder over decoderInputIds [B,Tdec] attending to encoderHidden [B,Te,C] under
   * encoderMask [B,Te] (all ones when absent). Returns logits [B,Tdec,V] and hidden states.
   * LM architectures: encoderHidden is encode()'s token embeddings; the stack runs over each row's
   * input tokens (mask 1) ⊕ the decoder inputs, and the decoder positions are returned.
   */
  decode(
    encoderHidden: Float32Array,
    encoderMask: Int32Array | undefined,
    B: number,
    Te: number,
    decoderInputIds: Int32Array,
    Tdec: number,
    opts: { hiddenStates?: boolean } = {},
  ): T5DecoderOutput {
    const c = this.config;
    const { arena } = this.rt;
    const C = c.dModel;
    const H = c.numHeads;
    const I = H * c.dKv;
    checkBatch("T5 encoder output", B, Te, [["attention_mask", encoderMask]]);
    if (encoderHidden.length !== B * Te * C)
      throw new RangeError(
        `T5 decoder: encoder hidden states have ${encoderHidden.length} values, expected ${B}×${Te}×${C}`,
      );
    checkBatch("T5 decoder", B, Tdec, [["decoder_input_ids", decoderInputIds]]);
    if (this.isLanguageModel)
      return this.decodeLM(encoderHidden, encoderMask, B, Te, decoderInputIds, Tdec, opts);
    const M = B * Tdec;
    const mark = arena.mark();
    try {
      const ids = arena.put(decoderInputIds); // [B,Tdec] i32
      const enc = arena.put(encoderHidden); // [B,Te,C]
      const encMask = arena.put(encoderMask ?? new Int32Array(B * Te).fill(1)); // [B,Te] i32
      const x = arena.allocF32(M * C); // [B,Tdec,C] residual stream
      this.embed(x, ids, M, "T5 decoder: decoder_input_ids");
      const bias = arena.put(
        relativePositionBias(
          this.decRelBias,
          H,
          Tdec,
          Tdec,
          false,
          c.relativeAttentionNumBuckets,
          c.relativeAttentionMaxDistance,
        ),
      ); // [H,Tdec,Tdec]
      const crossKv = arena.allocF32(B * Te * 2 * I); // [B,Te,2I] k | v of the current layer
      const hidden: Float32Array[] | undefined = opts.hiddenStates ? [] : undefined;
      const selfKv = (_l: number, qkv: number): KvView => ({
        k: qkv + I * 4,
        v: qkv + 2 * I * 4,
        sB: Tdec * 3 * I,
        sT: 3 * I,
        Tk: Tdec,
      });
      const cross: CrossSource = {
        kv: (l: number) => {
          this.decLayers[l].cross!.attn.kv.forward(crossKv, enc, B * Te);
          return crossKv;
        },
        mask: encMask,
        Te,
      };
      const self: SelfMask = { keyMask: 0, maskKind: MaskKind.causal, prefixLen: 0 };
      const { logits, last } = this.runDecoder(x, B, Tdec, bias, selfKv, self, cross, 0, hidden);
      const out: T5DecoderOutput = { logits, lastHiddenState: last };
      if (hidden) out.hiddenStates = hidden;
      return out;
    } finally {
      arena.reset(mark);
    }
  }

  /**
   * LM rows [B,S] (S = P + Tdec): the input embeddings [B,Te,C] left-aligned into the first P positions
   * (zeros at the padding), then the decoder inputs' embeddings. Returns the residual stream [B,S,C]
   * and the key mask [B,S] (arena pointers) and P.
   */
  private lmRows(
    embeddings: Float32Array,
    mask: Int32Array | undefined,
    B: number,
    Te: number,
    decoderInputIds: Int32Array | undefined,
    Tdec: number,
  ): { x: number; keyMask: number; P: number; S: number } {
    const { arena } = this.rt;
    const C = this.config.dModel;
    const { P, src } = lmPrefix(mask, B, Te);
    const S = P + Tdec;
    let dec: Float32Array | undefined; // [B,Tdec,C]
    if (decoderInputIds && Tdec > 0) {
      const mark = arena.mark();
      const d = arena.allocF32(B * Tdec * C);
      this.embed(d, arena.put(decoderInputIds), B * Tdec, "T5 LM: decoder_input_ids");
      dec = arena.readF32(d, B * Tdec * C);
      arena.reset(mark);
    }
    const rows = new Float32Array(B * S * C); // [B,S,C]
    const keyMask = new Int32Array(B * S).fill(1); // [B,S]
    for (let b = 0; b < B; b++) {
      for (let p = 0; p < P; p++) {
        const s = src[b * P + p];
        if (s < 0) keyMask[b * S + p] = 0;
        else rows.set(embeddings.subarray(s * C, (s + 1) * C), (b * S + p) * C);
      }
      if (dec) rows.set(dec.subarray(b * Tdec * C, (b + 1) * Tdec * C), (b * S + P) * C);
    }
    return { x: arena.put(rows), keyMask: arena.put(keyMask), P, S };
  }

  /** decode() of the LM architectures: the stack over input ⊕ decoder inputs, decoder positions out. */
  private decodeLM(
    embeddings: Float32Array,
    mask: Int32Array | undefined,
    B: number,
    Te: number,
    decoderInputIds: Int32Array,
    Tdec: number,
    opts: { hiddenStates?: boolean },
  ): T5DecoderOutput {
    const c = this.config;
    const { arena } = this.rt;
    const H = c.numHeads;
    const I = H * c.dKv;
    const mark = arena.mark();
    try {
      const { x, keyMask, P, S } = this.lmRows(embeddings, mask, B, Te, decoderInputIds, Tdec);
      const pattern = lmAttention(c, P);
      const bias = arena.put(
        relativePositionBias(
          this.decRelBias,
          H,
          S,
          S,
          pattern.bidirectional,
          c.relativeAttentionNumBuckets,
          c.relativeAttentionMaxDistance,
        ),
      ); // [H,S,S]
      const selfKv = (_l: number, qkv: number): KvView => ({
        k: qkv + I * 4,
        v: qkv + 2 * I * 4,
        sB: S * 3 * I,
        sT: 3 * I,
        Tk: S,
      });
      const hidden: Float32Array[] | undefined = opts.hiddenStates ? [] : undefined;
      const self: SelfMask = { keyMask, maskKind: pattern.maskKind, prefixLen: pattern.prefixLen };
      const { logits, last } = this.runDecoder(x, B, S, bias, selfKv, self, undefined, P, hidden);
      const out: T5DecoderOutput = { logits, lastHiddenState: last };
      if (hidden) out.hiddenStates = hidden;
      return out;
    } finally {
      arena.reset(mark);
    }
  }

  /** Encoder + teacher-forced decoder (+ loss when labels are given), as transformers' forward(). */
  forward(input: T5Input, opts: { hiddenStates?: boolean } = {}): T5Seq2SeqOutput {
    const c = this.config;
    const { batch: B, seq: T, decoderSeq: Td } = input;
    let dec = input.decoderInputIds;
    if (!dec) {
      if (!input.labels) throw new RangeError("T5: give decoderInputIds or labels");
      checkBatch("T5 decoder", B, Td, [["labels", input.labels]]);
      dec = shiftRight(input.labels, B, Td, c.decoderStartTokenId, c.padTokenId);
    }
    const enc = this.encode(input.inputIds, input.attentionMask, B, T, opts);
    const d = this.decode(enc.lastHiddenState, input.attentionMask, B, T, dec, Td, opts);
    const out: T5Seq2SeqOutput = {
      ...d,
      encoderLastHiddenState: enc.lastHiddenState,
      encoderHiddenStates: enc.hiddenStates,
    };
    if (input.labels) {
      checkBatch("T5 decoder", B, Td, [["labels", input.labels]]);
      out.loss = crossEntropy(d.logits, input.labels, c.vocabSize);
    }
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // Incremental decoding

  /**
   * A decoding state for B inputs (each repeated `repeat` times, e.g. once per beam: rows are
   * b·repeat + r) with room for `maxSteps` tokens. Cross-attention K/V are computed here, once.
   * LM architectures: encoderHidden is encode()'s token embeddings; the input runs through the stack
   * here (prefill), filling the caches' first P positions, and step() continues after it.
   * The caller owns the state and must dispose() it.
   */
  createDecoderState(
    encoderHidden: Float32Array,
    encoderMask: Int32Array | undefined,
    B: number,
    Te: number,
    maxSteps: number,
    opts: { repeat?: number } = {},
  ): T5DecoderState {
    const c = this.config;
    const { arena } = this.rt;
    const C = c.dModel;
    const I = c.numHeads * c.dKv;
    const L = c.numDecoderLayers;
    const rep = opts.repeat ?? 1;
    checkBatch("T5 encoder output", B, Te, [["attention_mask", encoderMask]]);
    if (encoderHidden.length !== B * Te * C)
      throw new RangeError(
        `T5 decoder: encoder hidden states have ${encoderHidden.length} values, expected ${B}×${Te}×${C}`,
      );
    if (!(Number.isInteger(maxSteps) && maxSteps > 0))
      throw new RangeError(`T5 decoder: maxSteps must be a positive integer, got ${maxSteps}`);
    if (!(Number.isInteger(rep) && rep > 0))
      throw new RangeError(`T5 decoder: repeat must be a positive integer, got ${rep}`);
    if (this.isLanguageModel) return this.createPrefixState(encoderHidden, encoderMask, B, Te, maxSteps, rep);
    const R = B * rep;
    const start = arena.mark();
    const selfKv: number[] = [];
    const crossKv: number[] = [];
    let maskPtr: number;
    let biasPtr: number;
    try {
      for (let l = 0; l < L; l++) selfKv.push(arena.allocF32(R * maxSteps * 2 * I)); // [R,S,2I]
      for (let l = 0; l < L; l++) crossKv.push(arena.allocF32(R * Te * 2 * I)); // [R,Te,2I]
      maskPtr = arena.allocI32(R * Te); // [R,Te] i32
      biasPtr = arena.put(this.distanceBias(maxSteps, false)); // [H,S]
    } catch (err) {
      arena.reset(start); // out of memory: leave the arena as it was
      throw err;
    }
    const end = arena.mark();
    const region = claimRegion(arena, start, end);
    const state = new T5DecoderState(
      this,
      this.rt,
      region,
      R,
      maxSteps,
      Te,
      I,
      selfKv,
      crossKv,
      maskPtr,
      0,
      0,
      biasPtr,
    );
    try {
      const mask = encoderMask ?? new Int32Array(B * Te).fill(1);
      const m = arena.i32(maskPtr, R * Te);
      for (let b = 0; b < B; b++) {
        for (let r = 0; r < rep; r++) m.set(mask.subarray(b * Te, (b + 1) * Te), (b * rep + r) * Te);
      }
      const enc = arena.put(encoderHidden); // [B,Te,C] temporary
      const kv = arena.allocF32(B * Te * 2 * I); // [B,Te,2I] temporary
      const rowBytes = Te * 2 * I * 4;
      for (let l = 0; l < L; l++) {
        this.decLayers[l].cross!.attn.kv.forward(kv, enc, B * Te);
        const u8 = new Uint8Array(this.rt.memory.buffer);
        for (let b = 0; b < B; b++) {
          for (let r = 0; r < rep; r++) {
            u8.copyWithin(crossKv[l] + (b * rep + r) * rowBytes, kv + b * rowBytes, kv + (b + 1) * rowBytes);
          }
        }
      }
    } catch (err) {
      arena.reset(end);
      state.dispose();
      throw err;
    }
    arena.reset(end);
    return state;
  }

  /** createDecoderState() of the LM architectures: caches [R, P + maxSteps, 2I], prefilled with the input. */
  private createPrefixState(
    embeddings: Float32Array,
    mask: Int32Array | undefined,
    B: number,
    Te: number,
    maxSteps: number,
    rep: number,
  ): T5DecoderState {
    const c = this.config;
    const { arena } = this.rt;
    const H = c.numHeads;
    const I = H * c.dKv;
    const L = c.numDecoderLayers;
    const R = B * rep;
    const { P, src } = lmPrefix(mask, B, Te);
    const S = P + maxSteps; // cache capacity
    const start = arena.mark();
    const selfKv: number[] = [];
    let maskPtr: number;
    let biasPtr: number;
    try {
      for (let l = 0; l < L; l++) selfKv.push(arena.allocF32(R * S * 2 * I)); // [R,S,2I]
      maskPtr = arena.allocI32(R * S); // [R,S] i32
      biasPtr = arena.put(this.distanceBias(S, c.architecture === "prefix-lm")); // [H,S]
    } catch (err) {
      arena.reset(start);
      throw err;
    }
    const end = arena.mark();
    const region = claimRegion(arena, start, end);
    const state = new T5DecoderState(this, this.rt, region, R, S, 0, I, selfKv, [], 0, maskPtr, P, biasPtr);
    try {
      const m = arena.i32(maskPtr, R * S);
      m.fill(1);
      for (let b = 0; b < B; b++)
        for (let r = 0; r < rep; r++)
          for (let p = 0; p < P; p++) if (src[b * P + p] < 0) m[(b * rep + r) * S + p] = 0;
      if (P > 0) {
        // prefill: the input positions through the stack; each layer's k | v into every repeat's cache
        const { x, keyMask } = this.lmRows(embeddings, mask, B, Te, undefined, 0);
        const pattern = lmAttention(c, P);
        const bias = arena.put(
          relativePositionBias(
            this.decRelBias,
            H,
            P,
            P,
            pattern.bidirectional,
            c.relativeAttentionNumBuckets,
            c.relativeAttentionMaxDistance,
          ),
        ); // [H,P,P]
        const selfView = (l: number, qkv: number): KvView => {
          const u8 = new Uint8Array(this.rt.memory.buffer);
          const bytes = 2 * I * 4;
          for (let b = 0; b < B; b++)
            for (let p = 0; p < P; p++) {
              const from = qkv + ((b * P + p) * 3 * I + I) * 4;
              for (let r = 0; r < rep; r++)
                u8.copyWithin(selfKv[l] + ((b * rep + r) * S + p) * bytes, from, from + bytes);
            }
          return { k: qkv + I * 4, v: qkv + 2 * I * 4, sB: P * 3 * I, sT: 3 * I, Tk: P };
        };
        const self: SelfMask = { keyMask, maskKind: pattern.maskKind, prefixLen: pattern.prefixLen };
        this.runDecoder(x, B, P, bias, selfView, self, undefined, P);
      }
    } catch (err) {
      arena.reset(end);
      state.dispose();
      throw err;
    }
    arena.reset(end);
    state.length = P;
    return state;
  }

  /**
   * Feeds one token per row (tokenIds [rows]) at position state.length and returns the next-token
   * logits [rows, V]. Equal to decode() over the tokens fed so far, last position.
   */
  step(state: T5DecoderState, tokenIds: Int32Array): Float32Array {
    return this.advance(state, tokenIds, false).logits;
  }

  /**
   * step() for greedy search: the next token of each row [rows] (the first index of the largest logit,
   * as argmax() in t5-generate.ts), found in wasm memory without copying the [rows, V] logits out.
   */
  stepArgmax(state: T5DecoderState, tokenIds: Int32Array): Int32Array {
    return this.advance(state, tokenIds, true).ids!;
  }

  private advance(
    state: T5DecoderState,
    tokenIds: Int32Array,
    pick: boolean,
  ): { logits: Float32Array; ids?: Int32Array } {
    state.check();
    const c = this.config;
    const { arena } = this.rt;
    const H = c.numHeads;
    const I = H * c.dKv;
    const R = state.rows;
    const t = state.length;
    if (state.owner !== this) throw new RangeError("T5 decoder: this state was created by another model");
    if (tokenIds.length !== R)
      throw new RangeError(`T5 decoder: ${tokenIds.length} token ids given, state has ${R} rows`);
    if (t >= state.capacity)
      throw new RangeError(
        `T5 decoder: the state is full (${state.capacity} tokens); create it with more maxSteps`,
      );
    const S = state.capacity;
    const mark = arena.mark();
    try {
      const ids = arena.put(tokenIds); // [R] i32
      const x = arena.allocF32(R * c.dModel); // [R,C] residual stream of the new position
      this.embed(x, ids, R, "T5 decoder: token ids");
      const selfKv = (l: number, qkv: number): KvView => {
        // append this position's k | v (contiguous in each qkv row) to the cache: [R,S,2I] at t
        const cache = state.selfKv[l];
        const u8 = new Uint8Array(this.rt.memory.buffer);
        const bytes = 2 * I * 4;
        for (let r = 0; r < R; r++) {
          const from = qkv + (r * 3 * I + I) * 4;
          u8.copyWithin(cache + (r * S + t) * bytes, from, from + bytes);
        }
        return { k: cache, v: cache + I * 4, sB: S * 2 * I, sT: 2 * I, Tk: t + 1 };
      };
      // the query is the last position (nothing to hide causally); LM caches: key mask [R,S] (left padding 0)
      const self: SelfMask = {
        keyMask: state.selfMask,
        maskKind: MaskKind.causal,
        prefixLen: 0,
        decode: { bias: state.selfBias, stride: S },
      };
      const cross: CrossSource | undefined = this.isLanguageModel
        ? undefined
        : { kv: (l: number) => state.crossKv[l], mask: state.encoderMask, Te: state.encoderLength };
      const out = this.runDecoder(x, R, 1, 0, selfKv, self, cross, 0, undefined, pick);
      state.length = t + 1;
      return out;
    } finally {
      arena.reset(mark);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Shared pieces

  /**
   * Decoder layers over x [B,Tq,C] (queries at the end of Tk self keys), final norm, head.
   * selfKv(l, qkv) gives layer l's keys/values for its fresh qkv [B,Tq,3I]; `self` the self-attention
   * mask (key padding [B,Tk] or 0, causal / prefix); cross (encoder–decoder) layer l's encoder
   * k | v [B,Te,2I] and the encoder mask. The head runs on positions ≥ headFrom of each row (Tq: no
   * head). Returns logits [B,Tq−headFrom,V] and the final hidden state [B,Tq−headFrom,C] (copies);
   * `hidden` gets every layer's input and the final hidden state over whole rows. `pick` (headFrom 0):
   * ids [B·Tq], the argmax of each logits row, instead of the logits (returned empty).
   */
  private runDecoder(
    x: number,
    B: number,
    Tq: number,
    bias: number,
    selfKv: (l: number, qkv: number) => KvView,
    self: SelfMask,
    cross: CrossSource | undefined,
    headFrom = 0,
    hidden?: Float32Array[],
    pick = false,
  ): { logits: Float32Array; last: Float32Array; ids?: Int32Array } {
    const c = this.config;
    const { arena, k } = this.rt;
    const C = c.dModel;
    const I = c.numHeads * c.dKv;
    const eps = c.layerNormEpsilon;
    const M = B * Tq;
    const h = arena.allocF32(M * C); // [B,Tq,C] normed input of a sublayer
    const qkv = arena.allocF32(M * 3 * I); // [B,Tq,3I]
    const q = cross ? arena.allocF32(M * I) : 0; // [B,Tq,I] cross-attention queries
    const ctx = arena.allocF32(M * I); // [B,Tq,I]
    const ffBufs = this.allocFeedForward(M);
    this.decLayers.forEach((layer, l) => {
      hidden?.push(arena.readF32(x, M * C));
      // self-attention: causal (or prefix-LM), relative-position bias
      k.rmsnorm_f32(h, 0, x, layer.ln0, M, C, eps);
      layer.self.qkv.forward(qkv, h, M);
      const kv = selfKv(l, qkv);
      if (self.decode)
        this.attentionDecode(ctx, qkv, kv.k, kv.v, B, kv.Tk, 3 * I, kv.sB, kv.sT, {
          bias: self.decode.bias,
          biasStride: self.decode.stride,
          mask: self.keyMask,
          maskStride: self.decode.stride,
        });
      else
        this.attention(ctx, qkv, kv.k, kv.v, bias, self.keyMask, B, Tq, kv.Tk, self.maskKind, {
          qsB: Tq * 3 * I,
          qsT: 3 * I,
          ksB: kv.sB,
          ksT: kv.sT,
          prefixLen: self.prefixLen,
        });
      this.project(layer.self.o, layer.self.ad, x, ctx, M);
      // cross-attention: encoder padding mask, no position bias
      if (layer.cross && cross) {
        k.rmsnorm_f32(h, 0, x, layer.cross.ln, M, C, eps);
        layer.cross.attn.q.forward(q, h, M);
        const ekv = cross.kv(l);
        if (Tq === 1)
          this.attentionDecode(ctx, q, ekv, ekv + I * 4, B, cross.Te, I, cross.Te * 2 * I, 2 * I, {
            mask: cross.mask,
            maskStride: cross.Te,
          });
        else
          this.attention(ctx, q, ekv, ekv + I * 4, 0, cross.mask, B, Tq, cross.Te, MaskKind.none, {
            qsB: Tq * I,
            qsT: I,
            ksB: cross.Te * 2 * I,
            ksT: 2 * I,
          });
        this.project(layer.cross.attn.o, layer.cross.attn.ad, x, ctx, M);
      }
      // feed-forward
      k.rmsnorm_f32(h, 0, x, layer.lnFf, M, C, eps);
      this.feedForward(layer.ff, x, h, M, ffBufs);
    });
    k.rmsnorm_f32(h, 0, x, this.decFinalLn, M, C, eps);
    const Tout = Tq - headFrom;
    const Mout = B * Tout;
    if (headFrom === 0) {
      const last = arena.readF32(h, M * C);
      hidden?.push(last);
      if (pick) return { logits: new Float32Array(0), last, ids: this.headArgmax(h, M) };
      return { logits: this.lmHead(h, M), last };
    }
    if (hidden) hidden.push(arena.readF32(h, M * C));
    if (Mout === 0) return { logits: new Float32Array(0), last: new Float32Array(0) };
    // rows b·Tq + headFrom … b·Tq + Tq − 1 of h, gathered into [B,Tout,C]
    const hv = arena.f32(h, M * C);
    const rows = new Float32Array(Mout * C);
    for (let b = 0; b < B; b++)
      rows.set(hv.subarray((b * Tq + headFrom) * C, (b + 1) * Tq * C), b * Tout * C);
    const hr = arena.put(rows); // [B,Tout,C]
    return { logits: this.lmHead(hr, Mout), last: rows };
  }

  /** Logits [M,V] (a copy) of final hidden states h [M,C] (scaled in place by d_model^-0.5 when configured). */
  private lmHead(h: number, M: number): Float32Array {
    const V = this.config.vocabSize;
    return this.rt.arena.readF32(this.headLogits(h, M), M * V);
  }

  /** The argmax [M] of each logits row of final hidden states h [M,C], computed in wasm memory. */
  private headArgmax(h: number, M: number): Int32Array {
    const { arena, k } = this.rt;
    const logits = this.headLogits(h, M); // [M,V]
    const ids = arena.allocI32(M); // [M]
    k.argmax_rows_f32(ids, logits, M, this.config.vocabSize);
    return arena.i32(ids, M).slice();
  }

  /** Logits [M,V] in the arena of final hidden states h [M,C] (scaled in place when configured). */
  private headLogits(h: number, M: number): number {
    const c = this.config;
    const { arena } = this.rt;
    const C = c.dModel;
    if (c.scaleDecoderOutputs) {
      const s = Math.fround(C ** -0.5);
      const hv = arena.f32(h, M * C);
      for (let i = 0; i < hv.length; i++) hv[i] *= s;
    }
    const logits = arena.allocF32(M * c.vocabSize); // [M,V]
    this.head.forward(logits, h, M);
    return logits;
  }

  /** x [M,C] += adapter(inp·Wᵀ) (no adapter: one GEMM with the residual fused). */
  private project(l: Linear, ad: AdapterLayer | undefined, x: number, inp: number, M: number): void {
    if (!ad) {
      l.forward(x, inp, M, Epilogue.residual, x);
      return;
    }
    const { arena, k } = this.rt;
    const C = this.config.dModel;
    const mark = arena.mark();
    const z = arena.allocF32(M * C); // [M,C]
    l.forward(z, inp, M);
    ad.apply(z, M);
    k.add_f32(x, x, z, M * C);
    arena.reset(mark);
  }

  /** out [B,Tq,I] = attention over H heads of size D (scale 1, as T5), strided q/k/v. */
  private attention(
    out: number,
    q: number,
    kp: number,
    vp: number,
    bias: number,
    keyMask: number,
    B: number,
    Tq: number,
    Tk: number,
    maskKind: number,
    s: { qsB: number; qsT: number; ksB: number; ksT: number; prefixLen?: number },
  ): void {
    const { arena, k } = this.rt;
    const H = this.config.numHeads;
    const D = this.config.dKv;
    const I = H * D;
    const mark = arena.mark();
    const scratch = arena.alloc(k.attention_scratch_size(Tq, Tk, D)); // packed K/V panels, scores
    k.attention_f32(
      out,
      0,
      scratch,
      q,
      kp,
      vp,
      bias,
      keyMask,
      B,
      H,
      Tq,
      Tk,
      D,
      1,
      maskKind,
      s.prefixLen ?? 0,
      s.qsB,
      s.qsT,
      s.ksB,
      s.ksT,
      s.ksB,
      s.ksT,
      Tq * I,
      I,
    );
    arena.reset(mark);
  }

  /**
   * out [B,I] = one query per row (q row b at b·qsB) against Tk keys / values (element (b,j,h,d) at
   * b·ksB + j·ksT + h·D + d), scale 1; bias by key distance [H, biasStride] and key mask [B, maskStride]
   * i32 optional.
   */
  private attentionDecode(
    out: number,
    q: number,
    kp: number,
    vp: number,
    B: number,
    Tk: number,
    qsB: number,
    ksB: number,
    ksT: number,
    o: { bias?: number; biasStride?: number; mask?: number; maskStride?: number },
  ): void {
    const { arena, k } = this.rt;
    const H = this.config.numHeads;
    const D = this.config.dKv;
    const mark = arena.mark();
    const scratch = arena.alloc(k.attention_decode_scratch_size(H, Tk)); // scores [H,Tk], bias and mask rows
    k.attention_decode_f32(
      out,
      scratch,
      q,
      kp,
      vp,
      o.bias ?? 0,
      o.mask ?? 0,
      B,
      H,
      Tk,
      D,
      1,
      qsB,
      ksB,
      ksT,
      ksB,
      ksT,
      H * D,
      o.biasStride ?? 0,
      o.maskStride ?? 0,
    );
    arena.reset(mark);
  }

  /**
   * [H, S] self-attention bias of the decoder by key distance n = query position − key position
   * (T5's relative position −n), for one-query decoding against a cache of S positions.
   */
  private distanceBias(S: number, bidirectional: boolean): Float32Array {
    const c = this.config;
    const H = c.numHeads;
    const out = new Float32Array(H * S); // [H,S]
    for (let n = 0; n < S; n++) {
      const bucket = relativePositionBucket(
        -n,
        bidirectional,
        c.relativeAttentionNumBuckets,
        c.relativeAttentionMaxDistance,
      );
      for (let h = 0; h < H; h++) out[h * S + n] = this.decRelBias[bucket * H + h];
    }
    return out;
  }

  private allocFeedForward(M: number): { wi: number; act: number } {
    const { arena } = this.rt;
    const F = this.config.dFf;
    return {
      wi: this.config.isGated ? arena.allocF32(M * 2 * F) : 0, // [M,2F] wi_0 | wi_1 outputs
      act: arena.allocF32(M * F), // [M,F] activation
    };
  }

  /** x [M,C] += wo(act(wi(h))), or gated: wo(gelu_tanh(wi_0 h) · wi_1 h) (then the adapter, if any). */
  private feedForward(
    ff: FeedForward,
    x: number,
    h: number,
    M: number,
    bufs: { wi: number; act: number },
  ): void {
    const F = this.config.dFf;
    if (this.config.isGated) {
      ff.wi.forward(bufs.wi, h, M);
      this.rt.k.gated_gelu_f32(bufs.act, bufs.wi, bufs.wi + F * 4, M, F, 2 * F);
    } else {
      ff.wi.forward(bufs.act, h, M, this.ffEpilogue);
    }
    this.project(ff.wo, ff.ad, x, bufs.act, M);
  }

  /** y [n,C] = shared[ids]; throws naming the ids outside the vocabulary. */
  private embed(y: number, ids: number, n: number, what: string): void {
    const { arena, k } = this.rt;
    const C = this.config.dModel;
    const V = this.config.vocabSize;
    const bad = this.tokMults
      ? k.embed_q8b_f32(y, ids, 0, 0, this.tok, this.tokScales, this.tokMults, 0, 0, n, C, V, 0, 0)
      : this.tokScales
        ? k.embed_q8_f32(y, ids, 0, 0, this.tok, this.tokScales, 0, 0, n, C, V, 0, 0)
        : k.embed_f32(y, ids, 0, 0, this.tok, 0, 0, n, C, V, 0, 0);
    if (bad > 0) {
      const all = arena.i32(ids, n);
      const list = [...new Set(all.filter((v) => v < 0 || v >= V))].slice(0, 5);
      throw new RangeError(
        `${what}: ${bad} ids are outside the vocabulary 0..${V - 1} (e.g. ${list.join(", ")})`,
      );
    }
  }
}

function checkBatch(
  what: string,
  B: number,
  T: number,
  arrays: [string, ArrayLike<number> | undefined][],
): void {
  if (!(Number.isInteger(B) && Number.isInteger(T) && B > 0 && T > 0))
    throw new RangeError(`${what}: empty or invalid input (batch ${B}, sequence ${T})`);
  for (const [name, a] of arrays) {
    if (a && a.length !== B * T)
      throw new RangeError(`${what}: ${name} has ${a.length} values, expected ${B}×${T}`);
  }
}
