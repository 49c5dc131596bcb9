// Trainable parameters in four regions of wasm memory with one layout (llm.c's
// malloc_and_point_parameters): values, gradients, AdamW m and AdamW v. Each tensor sits at the same
// float offset in all four, so zero-grad, the gradient norm, clipping and the optimizer step are each
// one loop over contiguous memory. Tensors with weight decay come first and those without (biases,
// LayerNorm weights) after, so AdamW is one kernel call per group, like PyTorch's param groups. Within a
// group tensors keep the order given, with no padding: consecutive tensors of one group are one
// contiguous block (BERT places query/key/value so that their weights are the fused [3C,C] QKV matrix).
// A trainable mask (setTrainable) freezes tensors for gradual unfreezing and adapters: AdamW runs over
// maximal contiguous runs of trainable tensors only, so a frozen tensor's values, m and v never change
// (m and v stay zero: no optimizer state), and the gradient norm counts trainable gradients only. Like
// PyTorch, whose AdamW keeps a step count per parameter and skips parameters without a gradient, each
// tensor counts its own steps (a tensor unfrozen late starts its bias correction at step 1).

import type { TensorInput } from "../io/safetensors.ts";
import { CheckpointError, type TensorStore } from "../models/tensors.ts";
import type { KernelRuntime } from "../runtime/load.ts";

export interface ParamSpec {
  /** Hugging Face state_dict name. */
  name: string;
  shape: number[];
  /** AdamW weight decay applies (false for biases and LayerNorm weights). */
  decay: boolean;
}

export interface ParamEntry extends ParamSpec {
  /** Offset in floats from the start of every region. */
  offset: number;
  /** Number of floats (product of shape). */
  size: number;
}

export interface AdamWOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /**
   * Scale each tensor's lr by max(1e-3, RMS of the tensor) — Adafactor's scale_parameter, the setting
   * T5 was designed for: its N(0, 1) shared embedding and N(0, (d_model·d_kv)^-½) queries then move by
   * the same relative amount per step. Off (plain AdamW) when absent.
   */
  scaleByRms?: boolean;
}

/** Floor of the RMS scale (Adafactor's eps2). */
export const RMS_SCALE_FLOOR = 1e-3;

/** PyTorch's AdamW defaults (torch.optim.AdamW: lr 1e-3, betas (0.9, 0.999), eps 1e-8, decay 0.01). */
export const ADAMW_DEFAULTS: Readonly<AdamWOptions> = {
  lr: 1e-3,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0.01,
};

/** Hugging Face's usual rule: no weight decay on biases and LayerNorm weights. */
export function hasWeightDecay(name: string): boolean {
  return !(name.endsWith("bias") || name.includes("LayerNorm"));
}

export type Region = "params" | "grads" | "m" | "v";

export class ParamStore {
  /** Total floats per region. */
  readonly count: number;
  /** Floats [0, decayCount) take weight decay; [decayCount, count) do not. */
  readonly decayCount: number;
  /** Byte offsets of the four regions, each [count] f32. */
  readonly params: number;
  readonly grads: number;
  readonly m: number;
  readonly v: number;
  /** AdamW steps taken (adamwStep calls; each trainable tensor also counts its own, see tensorStep). */
  step = 0;
  private readonly byName = new Map<string, ParamEntry>();
  private readonly order: ParamEntry[] = [];
  private readonly indexOf = new Map<string, number>();
  /** Per entry (layout order): trainable, and the AdamW steps it took while trainable. */
  private readonly trainable: boolean[];
  private readonly steps: number[];
  private trainableFloats: number;

  /** Lays out `specs` and allocates the four regions (params, grads, m and v zeroed) in rt's arena. */
  constructor(
    readonly rt: KernelRuntime,
    specs: readonly ParamSpec[],
  ) {
    let offset = 0;
    const place = (s: ParamSpec) => {
      if (this.byName.has(s.name)) throw new RangeError(`ParamStore: duplicate parameter ${s.name}`);
      const size = s.shape.reduce((a, d) => a * d, 1);
      const e: ParamEntry = { name: s.name, shape: [...s.shape], decay: s.decay, offset, size };
      offset += size;
      this.byName.set(s.name, e);
      this.indexOf.set(s.name, this.order.length);
      this.order.push(e);
    };
    for (const s of specs) if (s.decay) place(s);
    this.decayCount = offset;
    for (const s of specs) if (!s.decay) place(s);
    this.count = offset;
    const { arena, k } = rt;
    this.params = arena.allocF32(this.count);
    this.grads = arena.allocF32(this.count);
    this.m = arena.allocF32(this.count);
    this.v = arena.allocF32(this.count);
    for (const r of [this.params, this.grads, this.m, this.v]) k.zero_f32(r, this.count);
    this.trainable = this.order.map(() => true);
    this.steps = this.order.map(() => 0);
    this.trainableFloats = this.count;
  }

  /**
   * Sets which tensors train (by name). A tensor that stops training keeps its values and loses its
   * optimizer state (m, v and its step count reset to zero); one that starts training starts from zero
   * state. Default: every tensor trains.
   */
  setTrainable(pred: (name: string) => boolean): void {
    let floats = 0;
    this.order.forEach((e, i) => {
      const t = Boolean(pred(e.name));
      if (this.trainable[i] && !t) {
        this.view(e.name, "m").fill(0);
        this.view(e.name, "v").fill(0);
        this.steps[i] = 0;
      }
      this.trainable[i] = t;
      if (t) floats += e.size;
    });
    this.trainableFloats = floats;
  }

  private index(name: string): number {
    const i = this.indexOf.get(name);
    if (i === undefined) throw new RangeError(`ParamStore: no parameter ${name}`);
    return i;
  }

  isTrainable(name: string): boolean {
    return this.trainable[this.index(name)];
  }

  /** Floats of the trainable tensors. */
  get trainableCount(): number {
    return this.trainableFloats;
  }

  /** Names of the trainable tensors, in layout order. */
  trainableNames(): string[] {
    return this.order.filter((_, i) => this.trainable[i]).map((e) => e.name);
  }

  /** AdamW steps a tensor has taken (its bias-correction step of the next update is this + 1). */
  tensorStep(name: string): number {
    return this.steps[this.index(name)];
  }

  /** Sets a trainable tensor's step count (loading an optimizer state). */
  setTensorStep(name: string, step: number): void {
    const i = this.index(name);
    if (!this.trainable[i]) throw new RangeError(`ParamStore: ${name} is frozen (no optimizer state)`);
    if (!(Number.isInteger(step) && step >= 0))
      throw new RangeError(`ParamStore: step of ${name} must be an integer ≥ 0, got ${step}`);
    this.steps[i] = step;
  }

  /**
   * Maximal runs of consecutive trainable tensors within one weight-decay group: [first index, end
   * index) into the layout order. With `sameStep`, a run also breaks where the step counts differ.
   */
  private runs(sameStep: boolean): [number, number][] {
    const out: [number, number][] = [];
    let i = 0;
    const n = this.order.length;
    while (i < n) {
      if (!this.trainable[i]) {
        i++;
        continue;
      }
      let j = i + 1;
      while (
        j < n &&
        this.trainable[j] &&
        this.order[j].decay === this.order[i].decay &&
        (!sameStep || this.steps[j] === this.steps[i])
      )
        j++;
      out.push([i, j]);
      i = j;
    }
    return out;
  }

  /** Entries in layout order. */
  entries(): readonly ParamEntry[] {
    return this.order;
  }

  names(): string[] {
    return this.order.map((e) => e.name);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  entry(name: string): ParamEntry {
    const e = this.byName.get(name);
    if (!e) throw new RangeError(`ParamStore: no parameter ${name}`);
    return e;
  }

  /** Byte offset of a tensor in one region (default: the values). */
  ptr(name: string, region: Region = "params"): number {
    return this[region] + this.entry(name).offset * 4;
  }

  /** Byte offset of a tensor's gradient. */
  gradPtr(name: string): number {
    return this.ptr(name, "grads");
  }

  /** A live view of a tensor in one region (invalid after the wasm memory grows). */
  view(name: string, region: Region = "params"): Float32Array {
    const e = this.entry(name);
    return this.rt.arena.f32(this[region] + e.offset * 4, e.size);
  }

  /** A copy of a tensor's values. */
  value(name: string): Float32Array {
    return this.view(name).slice();
  }

  /** A copy of a tensor's gradient. */
  gradient(name: string): Float32Array {
    return this.view(name, "grads").slice();
  }

  set(name: string, data: ArrayLike<number>, region: Region = "params"): void {
    const e = this.entry(name);
    if (data.length !== e.size)
      throw new RangeError(`ParamStore: ${name} has ${e.size} values, got ${data.length}`);
    this.view(name, region).set(data);
  }

  /**
   * Copies every parameter from a checkpoint, by name (`source(name)` maps a parameter to its checkpoint
   * name; identity by default). Tensors the store has but no parameter uses are ignored. Shapes must
   * match; missing tensors are an error unless `allowMissing`, and then their names are returned (the
   * caller initializes them). All problems are reported together, by name.
   */
  load(
    store: TensorStore,
    opts: { source?: (name: string) => string; allowMissing?: boolean } = {},
  ): string[] {
    const source = opts.source ?? ((n: string) => n);
    const missing: string[] = [];
    const misshaped: string[] = [];
    for (const e of this.order) {
      const src = source(e.name);
      if (!store.has(src)) {
        missing.push(e.name);
        continue;
      }
      const shape = store.shape(src);
      if (shape.length !== e.shape.length || shape.some((d, i) => d !== e.shape[i])) {
        misshaped.push(`${src} is [${shape.join(",")}], expected [${e.shape.join(",")}]`);
        continue;
      }
      this.set(e.name, store.float32(src));
    }
    const list = (xs: string[]) =>
      xs.length > 8 ? `${xs.slice(0, 8).join(", ")}, … (${xs.length} in all)` : xs.join(", ");
    const problems = [
      missing.length && !opts.allowMissing ? `missing tensors: ${list(missing.map(source))}` : "",
      misshaped.length ? `mis-shaped tensors: ${list(misshaped)}` : "",
    ].filter(Boolean);
    if (problems.length) throw new CheckpointError(`training checkpoint: ${problems.join("; ")}`);
    return missing;
  }

  /** Every tensor of one region (copies) under its name, ready for writeSafetensors. */
  tensors(region: Region = "params"): Record<string, TensorInput> {
    const out: Record<string, TensorInput> = {};
    for (const e of this.order) {
      out[e.name] = { dtype: "F32", shape: [...e.shape], data: this.view(e.name, region).slice() };
    }
    return out;
  }

  /** Zero-grad: one kernel call over the whole gradient region. */
  zeroGrad(): void {
    this.rt.k.zero_f32(this.grads, this.count);
  }

  /** Global L2 norm of the trainable tensors' gradients (Σg² in f64; one call when all train). */
  gradNorm(): number {
    const { k } = this.rt;
    if (this.trainableFloats === this.count) return Math.sqrt(k.sumsq_f32(this.grads, this.count));
    let s = 0;
    for (const [a, b] of this.runs(false)) {
      const start = this.order[a].offset;
      const end = this.order[b - 1].offset + this.order[b - 1].size;
      s += k.sumsq_f32(this.grads + start * 4, end - start);
    }
    return Math.sqrt(s);
  }

  /**
   * Global-norm clipping as torch.nn.utils.clip_grad_norm_: returns the norm before clipping and the
   * factor min(1, maxNorm / (norm + 1e-6)) to pass to adamwStep as gradScale (gradients stay unscaled).
   */
  clipScale(maxNorm: number): { norm: number; scale: number } {
    const norm = this.gradNorm();
    return { norm, scale: Math.min(1, maxNorm / (norm + 1e-6)) };
  }

  /**
   * One AdamW step (bias-corrected, PyTorch's formula) over the trainable tensors: one kernel call per
   * maximal run of trainable tensors with the same decay and step count (one per group when all train).
   * Increments `step` and the step count of every trainable tensor.
   */
  adamwStep(o: AdamWOptions, gradScale = 1): void {
    const { k } = this.rt;
    this.step++;
    this.order.forEach((_, i) => {
      if (this.trainable[i]) this.steps[i]++;
    });
    const call = (a: number, b: number, lr: number) => {
      const first = this.order[a];
      const start = first.offset;
      const n = this.order[b - 1].offset + this.order[b - 1].size - start;
      const o4 = start * 4;
      k.adamw_f32(
        this.params + o4,
        this.m + o4,
        this.v + o4,
        this.grads + o4,
        n,
        this.steps[a],
        lr,
        o.beta1,
        o.beta2,
        o.eps,
        first.decay ? o.weightDecay : 0,
        gradScale,
      );
    };
    if (o.scaleByRms) {
      // one call per tensor, each with lr · max(floor, RMS(tensor before the step))
      this.order.forEach((e, i) => {
        if (!this.trainable[i]) return;
        const rms = Math.sqrt(k.sumsq_f32(this.params + e.offset * 4, e.size) / e.size);
        call(i, i + 1, o.lr * Math.max(RMS_SCALE_FLOOR, rms));
      });
      return;
    }
    for (const [a, b] of this.runs(true)) call(a, b, o.lr);
  }
}
