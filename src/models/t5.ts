// T5ForConditionalGeneration (Raffel et al.) from Hugging Face parameter names: a pre-norm encoder and
// decoder with RMSNorm (no bias, no mean), unscaled attention (scale 1) plus a relative-position bias
// computed once per forward from block 0's table and shared by every layer (bidirectional buckets in
// the encoder, causal in the decoder), ReLU or gated-GELU feed-forward, cross-attention under the
// encoder padding mask, and an LM head tied to `shared` (decoder output × d_model^-0.5 when
// scale_decoder_outputs) or a separate lm_head. f32 or int8 weights.
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
import { loadLinear, weightF32 } from "./bert.ts";
import { Linear, type WeightDType } from "./linear.ts";
import { quantizeRows } from "./quantize.ts";
import { relativePositionBias } from "./relative-position.ts";
import type { T5Config } from "./t5-config.ts";
import { checkTensors, type TensorStore } from "./tensors.ts";

export interface T5EncoderOutput {
  /** [B,T,C] after the final layer norm. */
  lastHiddenState: Float32Array;
  /** encoder_hidden_states.0 … L: embeddings, the output of layers 0 … L−2, then lastHiddenState. */
  hiddenStates?: Float32Array[];
}

export interface T5DecoderOutput {
  /** [B,Tdec,V] */
  logits: Float32Array;
  /** [B,Tdec,C] after the final layer norm (before the d_model^-0.5 head scaling). */
  lastHiddenState: Float32Array;
  /** decoder_hidden_states.0 … L, as for the encoder (the last is after the final layer norm). */
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
}

interface CrossAttention {
  q: Linear; // [I, C]
  kv: Linear; // [2I, C]: k | v stacked, applied to the encoder output
  o: Linear; // [C, I]
}

interface FeedForward {
  wi: Linear; // [F, C], or [2F, C] = wi_0 | wi_1 when gated
  wo: Linear; // [C, F]
}

interface EncoderLayer {
  ln0: number; // [C]
  attn: SelfAttention;
  ln1: number; // [C]
  ff: FeedForward;
}

interface DecoderLayer {
  ln0: number; // [C]
  self: SelfAttention;
  ln1: number; // [C]
  cross: CrossAttention;
  ln2: number; // [C]
  ff: FeedForward;
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
  private readonly tokScales: number; // [V] f32 row scales of an int8 token table, else 0
  private readonly encRelBias: Float32Array; // [numBuckets, H] host copy (bias built per forward)
  private readonly decRelBias: Float32Array; // [numBuckets, H]
  private readonly encLayers: EncoderLayer[] = [];
  private readonly encFinalLn: number; // [C]
  private readonly decLayers: DecoderLayer[] = [];
  private readonly decFinalLn: number; // [C]
  private readonly head: Linear; // [V, C]: lm_head or the shared table
  private readonly ffEpilogue: number;
  /** True when the LM head reads the shared embedding table (no lm_head.weight in the checkpoint). */
  readonly tiedHead: boolean;

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

    // Expected tensors → shapes, then one check that reports every problem by name.
    const sharedName =
      !store.has("shared.weight") && store.has("encoder.embed_tokens.weight")
        ? "encoder.embed_tokens.weight"
        : "shared.weight";
    const exp = new Map<string, number[]>();
    const optional = new Set<string>();
    exp.set(sharedName, [V, C]);
    for (const dup of ["encoder.embed_tokens.weight", "decoder.embed_tokens.weight"]) {
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
    for (let i = 0; i < c.numLayers; i++) {
      const b = `encoder.block.${i}.layer`;
      attn(`${b}.0.SelfAttention`);
      if (i === 0) exp.set(`${b}.0.SelfAttention.relative_attention_bias.weight`, [NB, H]);
      exp.set(`${b}.0.layer_norm.weight`, [C]);
      ff(`${b}.1`);
    }
    exp.set("encoder.final_layer_norm.weight", [C]);
    for (let i = 0; i < c.numDecoderLayers; i++) {
      const b = `decoder.block.${i}.layer`;
      attn(`${b}.0.SelfAttention`);
      if (i === 0) exp.set(`${b}.0.SelfAttention.relative_attention_bias.weight`, [NB, H]);
      exp.set(`${b}.0.layer_norm.weight`, [C]);
      attn(`${b}.1.EncDecAttention`);
      exp.set(`${b}.1.layer_norm.weight`, [C]);
      ff(`${b}.2`);
    }
    exp.set("decoder.final_layer_norm.weight", [C]);
    exp.set("lm_head.weight", [V, C]);
    if (c.tieWordEmbeddings) optional.add("lm_head.weight");
    const isScaleOfExpected = (n: string) =>
      n.endsWith(".weight_scale") && exp.has(n.slice(0, -"_scale".length));
    // Old checkpoints (t5-small …) carry an unused cross-attention position table; transformers skips it.
    const isUnused = (n: string) =>
      /^decoder\.block\.0\.layer\.1\.EncDecAttention\.relative_attention_bias\.weight$/.test(n);
    checkTensors(store, exp, {
      optional,
      ignored: (n) => isScaleOfExpected(n) || isUnused(n),
      what: "T5 checkpoint",
    });

    const { arena } = rt;
    const start = arena.mark();
    // Token table: int8 rows (gathered by embed_q8_f32) for int8 models or int8 checkpoints.
    let sharedQ: { q: Int8Array; scales: Float32Array } | undefined;
    if (store.dtype(sharedName) === "I8") {
      sharedQ = { q: store.int8(sharedName), scales: store.float32(`${sharedName}_scale`) };
    } else if (dtype === "int8") {
      sharedQ = quantizeRows(rt, store.float32(sharedName), V, C);
    }
    if (sharedQ) {
      this.tok = arena.put(sharedQ.q);
      this.tokScales = arena.put(sharedQ.scales);
    } else {
      this.tok = arena.put(store.float32(sharedName));
      this.tokScales = 0;
    }
    const norm = (name: string) => arena.put(store.float32(name));
    const lin = (name: string) => loadLinear(rt, store, name, dtype, false);
    const stacked = (names: string[]) => stackedLinear(rt, store, names, C, dtype);
    const selfAttn = (p: string): SelfAttention => ({
      qkv: stacked([`${p}.q.weight`, `${p}.k.weight`, `${p}.v.weight`]),
      o: lin(`${p}.o`),
    });
    const feedForward = (p: string): FeedForward => ({
      wi: c.isGated ? stacked([`${p}.wi_0.weight`, `${p}.wi_1.weight`]) : lin(`${p}.wi`),
      wo: lin(`${p}.wo`),
    });
    for (let i = 0; i < c.numLayers; i++) {
      const b = `encoder.block.${i}.layer`;
      this.encLayers.push({
        ln0: norm(`${b}.0.layer_norm.weight`),
        attn: selfAttn(`${b}.0.SelfAttention`),
        ln1: norm(`${b}.1.layer_norm.weight`),
        ff: feedForward(`${b}.1.DenseReluDense`),
      });
    }
    this.encFinalLn = norm("encoder.final_layer_norm.weight");
    for (let i = 0; i < c.numDecoderLayers; i++) {
      const b = `decoder.block.${i}.layer`;
      const x = `${b}.1.EncDecAttention`;
      this.decLayers.push({
        ln0: norm(`${b}.0.layer_norm.weight`),
        self: selfAttn(`${b}.0.SelfAttention`),
        ln1: norm(`${b}.1.layer_norm.weight`),
        cross: { q: lin(`${x}.q`), kv: stacked([`${x}.k.weight`, `${x}.v.weight`]), o: lin(`${x}.o`) },
        ln2: norm(`${b}.2.layer_norm.weight`),
        ff: feedForward(`${b}.2.DenseReluDense`),
      });
    }
    this.decFinalLn = norm("decoder.final_layer_norm.weight");
    this.tiedHead = !store.has("lm_head.weight");
    if (!this.tiedHead) {
      this.head = lin("lm_head");
    } else if (sharedQ) {
      this.head = Linear.fromInt8(rt, sharedQ.q, sharedQ.scales, undefined, V, C);
    } else {
      this.head = Linear.fromF32(rt, store.float32(sharedName), undefined, V, C, dtype);
    }
    this.encRelBias = weightF32(
      store,
      "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
    );
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
   * Returns the final hidden states [B,T,C] (and every layer's when asked).
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
        layer.attn.o.forward(x, ctx, M, Epilogue.residual, x);
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
      const cross = (l: number) => {
        this.decLayers[l].cross.kv.forward(crossKv, enc, B * Te);
        return crossKv;
      };
      const { logits, last } = this.runDecoder(x, B, Tdec, bias, selfKv, cross, encMask, Te, hidden);
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
    const R = B * rep;
    const start = arena.mark();
    const selfKv: number[] = [];
    const crossKv: number[] = [];
    let maskPtr: number;
    try {
      for (let l = 0; l < L; l++) selfKv.push(arena.allocF32(R * maxSteps * 2 * I)); // [R,S,2I]
      for (let l = 0; l < L; l++) crossKv.push(arena.allocF32(R * Te * 2 * I)); // [R,Te,2I]
      maskPtr = arena.allocI32(R * Te); // [R,Te] i32
    } catch (err) {
      arena.reset(start); // out of memory: leave the arena as it was
      throw err;
    }
    const end = arena.mark();
    const region = claimRegion(arena, start, end);
    const state = new T5DecoderState(this, this.rt, region, R, maxSteps, Te, I, selfKv, crossKv, maskPtr);
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
        this.decLayers[l].cross.kv.forward(kv, enc, B * Te);
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

  /**
   * Feeds one token per row (tokenIds [rows]) at position state.length and returns the next-token
   * logits [rows, V]. Equal to decode() over the tokens fed so far, last position.
   */
  step(state: T5DecoderState, tokenIds: Int32Array): Float32Array {
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
      const bias = arena.put(
        relativePositionBias(
          this.decRelBias,
          H,
          1,
          t + 1,
          false,
          c.relativeAttentionNumBuckets,
          c.relativeAttentionMaxDistance,
          t,
        ),
      ); // [H,1,t+1]
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
      const cross = (l: number) => state.crossKv[l];
      const { logits } = this.runDecoder(
        x,
        R,
        1,
        bias,
        selfKv,
        cross,
        state.encoderMask,
        state.encoderLength,
      );
      state.length = t + 1;
      return logits;
    } finally {
      arena.reset(mark);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Shared pieces

  /**
   * Decoder layers over x [B,Tq,C] (queries at the end of Tk self keys), final norm, head.
   * selfKv(l, qkv) gives layer l's keys/values for its fresh qkv [B,Tq,3I]; cross(l) its encoder
   * k | v [B,Te,2I]. Returns logits [B,Tq,V] and the final hidden state [B,Tq,C] (copies).
   */
  private runDecoder(
    x: number,
    B: number,
    Tq: number,
    bias: number,
    selfKv: (l: number, qkv: number) => KvView,
    cross: (l: number) => number,
    encMask: number,
    Te: number,
    hidden?: Float32Array[],
  ): { logits: Float32Array; last: Float32Array } {
    const c = this.config;
    const { arena, k } = this.rt;
    const C = c.dModel;
    const I = c.numHeads * c.dKv;
    const V = c.vocabSize;
    const eps = c.layerNormEpsilon;
    const M = B * Tq;
    const h = arena.allocF32(M * C); // [B,Tq,C] normed input of a sublayer
    const qkv = arena.allocF32(M * 3 * I); // [B,Tq,3I]
    const q = arena.allocF32(M * I); // [B,Tq,I] cross-attention queries
    const ctx = arena.allocF32(M * I); // [B,Tq,I]
    const ffBufs = this.allocFeedForward(M);
    this.decLayers.forEach((layer, l) => {
      hidden?.push(arena.readF32(x, M * C));
      // self-attention: causal, relative-position bias
      k.rmsnorm_f32(h, 0, x, layer.ln0, M, C, eps);
      layer.self.qkv.forward(qkv, h, M);
      const kv = selfKv(l, qkv);
      this.attention(ctx, qkv, kv.k, kv.v, bias, 0, B, Tq, kv.Tk, MaskKind.causal, {
        qsB: Tq * 3 * I,
        qsT: 3 * I,
        ksB: kv.sB,
        ksT: kv.sT,
      });
      layer.self.o.forward(x, ctx, M, Epilogue.residual, x);
      // cross-attention: encoder padding mask, no position bias
      k.rmsnorm_f32(h, 0, x, layer.ln1, M, C, eps);
      layer.cross.q.forward(q, h, M);
      const ekv = cross(l);
      this.attention(ctx, q, ekv, ekv + I * 4, 0, encMask, B, Tq, Te, MaskKind.none, {
        qsB: Tq * I,
        qsT: I,
        ksB: Te * 2 * I,
        ksT: 2 * I,
      });
      layer.cross.o.forward(x, ctx, M, Epilogue.residual, x);
      // feed-forward
      k.rmsnorm_f32(h, 0, x, layer.ln2, M, C, eps);
      this.feedForward(layer.ff, x, h, M, ffBufs);
    });
    k.rmsnorm_f32(h, 0, x, this.decFinalLn, M, C, eps);
    const last = arena.readF32(h, M * C);
    hidden?.push(last);
    if (c.scaleDecoderOutputs) {
      const s = Math.fround(C ** -0.5);
      const hv = arena.f32(h, M * C);
      for (let i = 0; i < hv.length; i++) hv[i] *= s;
    }
    const logits = arena.allocF32(M * V); // [B,Tq,V]
    this.head.forward(logits, h, M);
    return { logits: arena.readF32(logits, M * V), last };
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
    s: { qsB: number; qsT: number; ksB: number; ksT: number },
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
      0,
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

  private allocFeedForward(M: number): { wi: number; act: number } {
    const { arena } = this.rt;
    const F = this.config.dFf;
    return {
      wi: this.config.isGated ? arena.allocF32(M * 2 * F) : 0, // [M,2F] wi_0 | wi_1 outputs
      act: arena.allocF32(M * F), // [M,F] activation
    };
  }

  /** x [M,C] += wo(act(wi(h))), or gated: wo(gelu_tanh(wi_0 h) · wi_1 h). */
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
    ff.wo.forward(x, bufs.act, M, Epilogue.residual, x);
  }

  /** y [n,C] = shared[ids]; throws naming the ids outside the vocabulary. */
  private embed(y: number, ids: number, n: number, what: string): void {
    const { arena, k } = this.rt;
    const C = this.config.dModel;
    const V = this.config.vocabSize;
    const bad = this.tokScales
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

/** One Linear from weights stacked along N (q|k|v, wi_0|wi_1, k|v): int8 rows stay int8. */
function stackedLinear(
  rt: KernelRuntime,
  store: TensorStore,
  names: string[],
  K: number,
  dtype: WeightDType,
): Linear {
  const Ns = names.map((n) => store.shape(n)[0]);
  const N = Ns.reduce((a, b) => a + b, 0);
  if (names.every((n) => store.dtype(n) === "I8")) {
    const q = new Int8Array(N * K);
    const s = new Float32Array(N);
    let row = 0;
    names.forEach((n, i) => {
      q.set(store.int8(n), row * K);
      s.set(store.float32(`${n}_scale`), row);
      row += Ns[i];
    });
    return Linear.fromInt8(rt, q, s, undefined, N, K);
  }
  const w = new Float32Array(N * K);
  let row = 0;
  names.forEach((n, i) => {
    w.set(weightF32(store, n), row * K);
    row += Ns[i];
  });
  return Linear.fromF32(rt, w, undefined, N, K, dtype);
}
