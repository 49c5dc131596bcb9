// A Linear layer (y = x·Wᵀ + b, Hugging Face layout W [N,K]) placed in the kernel module's memory:
// packed once at load time, f32 or int8. int8 weights have one scale per output row ("row" scheme,
// matmul_i8) or a row unit times a multiplier per 8 columns ("block" scheme, matmul_i8b); they come
// either from an f32 tensor (quantized here) or from our int8 checkpoint (see quantize.ts).

import { Epilogue } from "../runtime/kernels.ts";
import type { KernelRuntime } from "../runtime/load.ts";
import {
  checkQuantized,
  dequantize,
  type Int8Scheme,
  QBLOCK,
  quantizeWeight,
  readQuantized,
} from "./quantize.ts";
import type { TensorStore } from "./tensors.ts";

export type WeightDType = "f32" | "int8";

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
    const { arena, k } = rt;
    if (w.length !== N * K) throw new RangeError(`Linear: weight has ${w.length} values, expected ${N}×${K}`);
    if (dtype === "f32") {
      const tmp = arena.mark();
      const pw = arena.put(w);
      const packed = new Uint8Array(k.packed_size_f32(N, K));
      const wpTmp = arena.alloc(packed.length);
      k.pack_weights_f32(wpTmp, pw, N, K);
      packed.set(new Uint8Array(rt.memory.buffer, wpTmp, packed.length));
      arena.reset(tmp);
      return Linear.place(rt, N, K, "f32", packed, undefined, undefined, bias);
    }
    const { q, scales, mults } = quantizeWeight(rt, w, N, K, scheme);
    return Linear.fromInt8(rt, q, scales, bias, N, K, mults);
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
    const { arena, k } = rt;
    checkQuantized(rt, { q, scales, mults }, N, K, "Linear");
    const tmp = arena.mark();
    const pq = arena.put(q);
    const ps = arena.put(scales);
    const size = k.packed_size_i8(N, K);
    const wpTmp = arena.alloc(size);
    const spTmp = arena.allocF32(Math.ceil(N / 8) * 8);
    if (mults) k.pack_weights_i8b(wpTmp, spTmp, pq, ps, N, K);
    else k.pack_weights_i8(wpTmp, spTmp, pq, ps, N, K);
    const packed = new Uint8Array(rt.memory.buffer, wpTmp, size).slice();
    const packedScales = arena.f32(spTmp, Math.ceil(N / 8) * 8).slice();
    let packedMults: Uint8Array | undefined;
    if (mults) {
      const pm = arena.put(mults);
      const msize = k.packed_size_mults(N, K);
      const mpTmp = arena.alloc(msize);
      k.pack_mults_i8b(mpTmp, pm, N, K);
      packedMults = new Uint8Array(rt.memory.buffer, mpTmp, msize).slice();
    }
    arena.reset(tmp);
    return Linear.place(rt, N, K, "int8", packed, packedScales, packedMults, bias);
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
    const [N, K] = store.shape(weightName);
    if (store.dtype(weightName) === "I8") {
      const { q, scales, mults } = readQuantized(store, weightName);
      return Linear.fromInt8(rt, q, scales, opts.bias, N, K, mults);
    }
    return Linear.fromF32(rt, store.float32(weightName), opts.bias, N, K, dtype, opts.scheme);
  }

  /**
   * One Linear (no bias) from weights [N_i, K] stacked along N (q|k|v, wi_0|wi_1, k|v). int8 rows of
   * one scheme stay as they are; otherwise the f32 (or dequantized) rows are quantized in `scheme`.
   */
  static stacked(
    rt: KernelRuntime,
    store: TensorStore,
    names: string[],
    K: number,
    dtype: WeightDType,
    scheme: Int8Scheme = "row",
  ): Linear {
    const Ns = names.map((n) => store.shape(n)[0]);
    const N = Ns.reduce((a, b) => a + b, 0);
    const parts = names.map((n) => (store.dtype(n) === "I8" ? readQuantized(store, n) : undefined));
    const blocks = parts.map((p) => p?.mults !== undefined);
    if (parts.every((p) => p) && blocks.every((b) => b === blocks[0])) {
      const q = new Int8Array(N * K);
      const s = new Float32Array(N);
      const nb = Math.ceil(K / QBLOCK);
      const m = blocks[0] ? new Int8Array(N * nb) : undefined;
      let row = 0;
      parts.forEach((p, i) => {
        q.set(p!.q, row * K);
        s.set(p!.scales, row);
        if (m) m.set(p!.mults!, row * nb);
        row += Ns[i];
      });
      return Linear.fromInt8(rt, q, s, undefined, N, K, m);
    }
    const w = new Float32Array(N * K);
    let row = 0;
    names.forEach((n, i) => {
      const p = parts[i];
      w.set(p ? dequantize(p, Ns[i], K) : store.float32(n), row * K);
      row += Ns[i];
    });
    return Linear.fromF32(rt, w, undefined, N, K, dtype, scheme);
  }

  private static place(
    rt: KernelRuntime,
    N: number,
    K: number,
    dtype: WeightDType,
    packed: Uint8Array,
    packedScales: Float32Array | undefined,
    packedMults: Uint8Array | undefined,
    bias: Float32Array | undefined,
  ): Linear {
    const { arena } = rt;
    const wp = arena.put(packed);
    const sp = packedScales ? arena.put(packedScales) : 0;
    const mp = packedMults ? arena.put(packedMults) : 0;
    const b = bias ? arena.put(bias) : 0;
    return new Linear(rt, N, K, dtype, wp, sp, mp, b);
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
