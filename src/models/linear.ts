// A Linear layer (y = x·Wᵀ + b, Hugging Face layout W [N,K]) placed in the kernel module's memory:
// packed once at load time, f32 or int8. int8 weights have one scale per output row ("row" scheme,
// matmul_i8) or a row unit times a multiplier per 8 columns ("block" scheme, matmul_i8b); they come
// either from an f32 tensor (quantized here) or from our int8 checkpoint (see quantize.ts).

import { Epilogue } from "../runtime/kernels.ts";
import type { KernelRuntime } from "../runtime/load.ts";
import {
  checkMultRange,
  checkQuantized,
  dequantize,
  type Int8Scheme,
  QBLOCK,
  readQuantized,
  readQuantSides,
} from "./quantize.ts";
import type { TensorStore } from "./tensors.ts";

export type WeightDType = "f32" | "int8";

/**
 * The side tensors of an int8 weight `name` [N,K] of our format (readQuantSides: scales [N] and, in the
 * block scheme, multipliers [N, ceil(K/8)], shapes checked), with the multipliers checked against
 * 1…block_mult_max(K) as checkQuantized does. The weight itself stays in the store until it is copied
 * into staging.
 */
function int8Side(
  rt: KernelRuntime,
  store: TensorStore,
  name: string,
): { scales: Float32Array; mults?: Int8Array } {
  const [N, K] = store.shape(name);
  const sides = readQuantSides(store, name, N, K);
  if (sides.mults) checkMultRange(rt, sides.mults, K, name);
  return sides;
}

export class Linear {
  private constructor(
    private readonly rt: KernelRuntime,
    readonly N: number,
    readonly K: number,
    readonly dtype: WeightDType,
    private readonly wp: number, // packed weights
    private readonly sp: number, // packed scales / row units (int8) or 0
    private readonly mp: number, // packed block multipliers ("block" int8) or 0
    readonly bias: number, // [N] f32 or 0
  ) {}

  /** From f32 weights [N,K]; quantized to int8 (in `scheme`, default "row") when dtype is "int8". */
  static fromF32(
    rt: KernelRuntime,
    w: Float32Array,
    bias: Float32Array | undefined,
    N: number,
    K: number,
    dtype: WeightDType,
    scheme: Int8Scheme = "row",
  ): Linear {
    if (w.length !== N * K) throw new RangeError(`Linear: weight has ${w.length} values, expected ${N}×${K}`);
    return Linear.stageF32(rt, N, K, dtype, scheme, bias, (pw) => rt.arena.f32(pw, N * K).set(w));
  }

  /**
   * From int8 weights [N,K] with one f32 scale per row, or (mults [N, ceil(K/8)] given) row units and
   * block multipliers.
   */
  static fromInt8(
    rt: KernelRuntime,
    q: Int8Array,
    scales: Float32Array,
    bias: Float32Array | undefined,
    N: number,
    K: number,
    mults?: Int8Array,
  ): Linear {
    checkQuantized(rt, { q, scales, mults }, N, K, "Linear");
    const { arena } = rt;
    return Linear.stageInt8(rt, N, K, mults !== undefined, bias, (pq, ps, pm) => {
      arena.i8(pq, N * K).set(q);
      arena.f32(ps, N).set(scales);
      if (mults) arena.i8(pm, mults.length).set(mults);
    });
  }

  /**
   * The Linear whose weight is the tensor `weightName` [N,K]: f32 (quantized in `scheme` when dtype
   * is int8) or our int8 format (I8 + "_scale", + "_mult" in the block scheme).
   */
  static load(
    rt: KernelRuntime,
    store: TensorStore,
    weightName: string,
    dtype: WeightDType,
    opts: { bias?: Float32Array; scheme?: Int8Scheme } = {},
  ): Linear {
    return Linear.stacked(rt, store, [weightName], store.shape(weightName)[1], dtype, opts.scheme, {
      bias: opts.bias,
    });
  }

  /**
   * One Linear from weights [N_i, K] stacked along N (q|k|v, wi_0|wi_1, k|v), with an optional bias
   * [ΣN_i]. int8 rows of one scheme stay as they are (unless `dequantize` is set: then, and for mixed
   * parts, the f32 or dequantized rows are used, quantized in `scheme` when dtype is int8). Each part
   * is copied from the store straight into the staging area it is packed from.
   */
  static stacked(
    rt: KernelRuntime,
    store: TensorStore,
    names: string[],
    K: number,
    dtype: WeightDType,
    scheme: Int8Scheme = "row",
    opts: { bias?: Float32Array; dequantize?: boolean } = {},
  ): Linear {
    const { arena } = rt;
    const Ns = names.map((n) => store.shape(n)[0]);
    const N = Ns.reduce((a, b) => a + b, 0);
    names.forEach((n, i) => {
      const shape = store.shape(n);
      if (shape.length !== 2 || shape[1] !== K)
        throw new RangeError(`Linear: ${n} is [${shape.join(",")}], expected [${Ns[i]},${K}]`);
    });
    const parts = names.map((n) => (store.dtype(n) === "I8" ? int8Side(rt, store, n) : undefined));
    const blocks = parts.map((p) => p?.mults !== undefined);
    if (!opts.dequantize && parts.every((p) => p) && blocks.every((b) => b === blocks[0])) {
      const nb = Math.ceil(K / QBLOCK);
      return Linear.stageInt8(rt, N, K, blocks[0], opts.bias, (pq, ps, pm) => {
        let row = 0;
        parts.forEach((p, i) => {
          store.int8Into(names[i], arena.i8(pq + row * K, Ns[i] * K));
          arena.f32(ps + row * 4, Ns[i]).set(p!.scales);
          if (pm) arena.i8(pm + row * nb, Ns[i] * nb).set(p!.mults!);
          row += Ns[i];
        });
      });
    }
    return Linear.stageF32(rt, N, K, dtype, scheme, opts.bias, (pw) => {
      let row = 0;
      names.forEach((n, i) => {
        const dst = arena.f32(pw + row * K * 4, Ns[i] * K);
        if (parts[i]) dst.set(dequantize(readQuantized(store, n), Ns[i], K));
        else store.float32Into(n, dst);
        row += Ns[i];
      });
    });
  }

  /**
   * Places a Linear from f32 weights [N,K] that `fill` writes into a staging area at `pw`: packed
   * (f32), or quantized in `scheme` and packed (int8), straight into the final place; the staging
   * area (above it in the arena) is released afterwards.
   */
  private static stageF32(
    rt: KernelRuntime,
    N: number,
    K: number,
    dtype: WeightDType,
    scheme: Int8Scheme,
    bias: Float32Array | undefined,
    fill: (pw: number) => void,
  ): Linear {
    const { arena, k } = rt;
    if (dtype === "int8") {
      const block = scheme === "block";
      return Linear.stageInt8(rt, N, K, block, bias, (pq, ps, pm) => {
        const tmp = arena.mark();
        try {
          const pw = arena.allocF32(N * K); // [N,K] f32
          fill(pw);
          if (block) k.quantize_weights_i8b(pq, ps, pm, pw, N, K);
          else k.quantize_weights_i8(pq, ps, pw, N, K);
        } finally {
          arena.reset(tmp);
        }
      });
    }
    const wp = arena.alloc(k.packed_size_f32(N, K)); // [ceil(N/8)][K][8] f32
    const b = bias ? Linear.putBias(rt, bias, N) : 0;
    const tmp = arena.mark();
    try {
      const pw = arena.allocF32(N * K); // [N,K] f32 staging
      fill(pw);
      k.pack_weights_f32(wp, pw, N, K);
    } finally {
      arena.reset(tmp);
    }
    return new Linear(rt, N, K, "f32", wp, 0, 0, b);
  }

  /**
   * Places an int8 Linear whose q [N,K], scales [N] and (block scheme) multipliers [N, ceil(K/8)]
   * `fill` writes into staging areas; they are packed straight into the final place.
   */
  private static stageInt8(
    rt: KernelRuntime,
    N: number,
    K: number,
    block: boolean,
    bias: Float32Array | undefined,
    fill: (pq: number, ps: number, pm: number) => void,
  ): Linear {
    const { arena, k } = rt;
    const wp = arena.alloc(k.packed_size_i8(N, K)); // split (row) or plain (block) panels
    const sp = arena.allocF32(Math.ceil(N / 8) * 8); // [ceil(N/8)·8] scales / row units
    const mp = block ? arena.alloc(k.packed_size_mults(N, K)) : 0;
    const b = bias ? Linear.putBias(rt, bias, N) : 0;
    const tmp = arena.mark();
    try {
      const nb = Math.ceil(K / QBLOCK);
      const pq = arena.alloc(N * K); // [N,K] i8 staging
      const ps = arena.allocF32(N); // [N]
      const pm = block ? arena.alloc(N * nb) : 0; // [N, nb] i8
      fill(pq, ps, pm);
      if (block) {
        k.pack_weights_i8b(wp, sp, pq, ps, N, K);
        k.pack_mults_i8b(mp, pm, N, K);
      } else k.pack_weights_i8(wp, sp, pq, ps, N, K);
    } finally {
      arena.reset(tmp);
    }
    return new Linear(rt, N, K, "int8", wp, sp, mp, b);
  }

  private static putBias(rt: KernelRuntime, bias: Float32Array, N: number): number {
    if (bias.length !== N) throw new RangeError(`Linear: bias has ${bias.length} values, expected ${N}`);
    return rt.arena.put(bias);
  }

  /**
   * Upper bounds, for reserving memory before loading: the bytes a Linear [N,K] (with bias) takes in the
   * arena, and the staging area its loading uses, from a stored I8 weight or a float one.
   */
  static loadBounds(
    rt: KernelRuntime,
    N: number,
    K: number,
    stored: "I8" | "float",
    dtype: WeightDType,
  ): { bytes: number; staging: number } {
    const { k } = rt;
    const align = 4 * 64; // weights, scales, multipliers, bias: each aligned to 64
    const bias = N * 4;
    if (stored === "I8" && dtype === "int8") {
      const bytes = k.packed_size_i8(N, K) + Math.ceil(N / 8) * 32 + k.packed_size_mults(N, K);
      return { bytes: bytes + bias + align, staging: N * K + N * 4 + N * Math.ceil(K / QBLOCK) + align };
    }
    if (dtype === "int8") {
      const bytes = k.packed_size_i8(N, K) + Math.ceil(N / 8) * 32 + k.packed_size_mults(N, K);
      return { bytes: bytes + bias + align, staging: N * K * 5 + N * (4 + Math.ceil(K / QBLOCK)) + align };
    }
    return { bytes: k.packed_size_f32(N, K) + bias + align, staging: N * K * 4 + align };
  }

  /** True for int8 weights in the block scheme. */
  get blockScaled(): boolean {
    return this.mp !== 0;
  }

  /** Bytes this layer holds in wasm memory. */
  get bytes(): number {
    const { k } = this.rt;
    let w: number;
    if (this.dtype === "f32") w = k.packed_size_f32(this.N, this.K);
    else {
      w = k.packed_size_i8(this.N, this.K) + Math.ceil(this.N / 8) * 32;
      if (this.mp) w += k.packed_size_mults(this.N, this.K);
    }
    return w + (this.bias ? this.N * 4 : 0);
  }

  /**
   * y[M,N] = epilogue(x[M,K]·Wᵀ + b). Scratch for int8 activation quantization comes from the arena
   * (released with the caller's forward pass).
   */
  forward(y: number, x: number, M: number, epilogue: number = Epilogue.bias, residual = 0, preact = 0): void {
    const { k, arena } = this.rt;
    if (this.dtype === "f32") {
      k.matmul_f32(y, preact, x, this.wp, this.bias, residual, M, this.K, this.N, epilogue);
      return;
    }
    const mark = arena.mark();
    const xs = arena.allocF32(M);
    if (this.mp) {
      const scratch = arena.alloc(k.scratch_size_i8b(M, this.K));
      k.matmul_i8b(
        y,
        preact,
        scratch,
        xs,
        x,
        this.wp,
        this.sp,
        this.mp,
        this.bias,
        residual,
        M,
        this.K,
        this.N,
        epilogue,
      );
    } else {
      const xq = arena.alloc(M * (this.K + 1) * 2);
      k.matmul_i8(y, preact, xq, xs, x, this.wp, this.sp, this.bias, residual, M, this.K, this.N, epilogue);
    }
    arena.reset(mark);
  }
}
