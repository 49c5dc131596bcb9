// Trainable parameters in four regions of wasm memory with one layout (llm.c's
// malloc_and_point_parameters): values, gradients, AdamW m and AdamW v. Each tensor sits at the same
// float offset in all four, so zero-grad, the gradient norm, clipping and the optimizer step are each
// one loop over contiguous memory. Tensors with weight decay come first and those without (biases,
// LayerNorm weights) after, so AdamW is one kernel call per group, like PyTorch's param groups. Within a
// group tensors keep the order given, with no padding: consecutive tensors of one group are one
// contiguous block (BERT places query/key/value so that their weights are the fused [3C,C] QKV matrix).

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
}

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
  /** AdamW steps taken (the bias-correction step of the next update is step + 1). */
  step = 0;
  private readonly byName = new Map<string, ParamEntry>();
  private readonly order: ParamEntry[] = [];

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

  /** Global L2 norm of the gradients (one Σg² over the region, in f64). */
  gradNorm(): number {
    return Math.sqrt(this.rt.k.sumsq_f32(this.grads, this.count));
  }

  /**
   * Global-norm clipping as torch.nn.utils.clip_grad_norm_: returns the norm before clipping and the
   * factor min(1, maxNorm / (norm + 1e-6)) to pass to adamwStep as gradScale (gradients stay unscaled).
   */
  clipScale(maxNorm: number): { norm: number; scale: number } {
    const norm = this.gradNorm();
    return { norm, scale: Math.min(1, maxNorm / (norm + 1e-6)) };
  }

  /** One AdamW step (bias-corrected, PyTorch's formula) over both groups; increments `step`. */
  adamwStep(o: AdamWOptions, gradScale = 1): void {
    const { k } = this.rt;
    this.step++;
    const groups: [number, number, number][] = [
      [0, this.decayCount, o.weightDecay],
      [this.decayCount, this.count - this.decayCount, 0],
    ];
    for (const [start, n, wd] of groups) {
      if (n === 0) continue;
      const b = start * 4;
      k.adamw_f32(
        this.params + b,
        this.m + b,
        this.v + b,
        this.grads + b,
        n,
        this.step,
        o.lr,
        o.beta1,
        o.beta2,
        o.eps,
        wd,
        gradScale,
      );
    }
  }
}
