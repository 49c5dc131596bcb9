// A Linear layer (y = x·Wᵀ + b, Hugging Face layout W [N,K]) placed in the kernel module's memory:
// packed once at load time, f32 or int8 (one scale per output row). int8 weights come either from an
// f32 tensor (quantized here) or from our int8 checkpoint (I8 tensor + F32 row scales).

import { Epilogue } from "../runtime/kernels.ts";
import type { KernelRuntime } from "../runtime/load.ts";

export type WeightDType = "f32" | "int8";

export class Linear {
  private constructor(
    private readonly rt: KernelRuntime,
    readonly N: number,
    readonly K: number,
    readonly dtype: WeightDType,
    private readonly wp: number, // packed weights
    private readonly sp: number, // packed scales (int8) or 0
    readonly bias: number, // [N] f32 or 0
  ) {}

  /** From f32 weights [N,K]; quantized to int8 when dtype is "int8". */
  static fromF32(
    rt: KernelRuntime,
    w: Float32Array,
    bias: Float32Array | undefined,
    N: number,
    K: number,
    dtype: WeightDType,
  ): Linear {
    const { arena, k } = rt;
    if (w.length !== N * K) throw new RangeError(`Linear: weight has ${w.length} values, expected ${N}×${K}`);
    const tmp = arena.mark();
    const pw = arena.put(w);
    if (dtype === "f32") {
      const packed = new Uint8Array(k.packed_size_f32(N, K));
      const wpTmp = arena.alloc(packed.length);
      k.pack_weights_f32(wpTmp, pw, N, K);
      packed.set(new Uint8Array(rt.memory.buffer, wpTmp, packed.length));
      arena.reset(tmp);
      return Linear.place(rt, N, K, "f32", packed, undefined, bias);
    }
    const wq = arena.alloc(N * K);
    const ws = arena.allocF32(N);
    k.quantize_weights_i8(wq, ws, pw, N, K);
    const q = arena.i8(wq, N * K).slice();
    const s = arena.f32(ws, N).slice();
    arena.reset(tmp);
    return Linear.fromInt8(rt, q, s, bias, N, K);
  }

  /** From int8 weights [N,K] with one f32 scale per row. */
  static fromInt8(
    rt: KernelRuntime,
    q: Int8Array,
    scales: Float32Array,
    bias: Float32Array | undefined,
    N: number,
    K: number,
  ): Linear {
    const { arena, k } = rt;
    if (q.length !== N * K || scales.length !== N)
      throw new RangeError(`Linear: int8 weight/scales do not match ${N}×${K}`);
    const tmp = arena.mark();
    const pq = arena.put(q);
    const ps = arena.put(scales);
    const size = k.packed_size_i8(N, K);
    const wpTmp = arena.alloc(size);
    const spTmp = arena.allocF32(Math.ceil(N / 8) * 8);
    k.pack_weights_i8(wpTmp, spTmp, pq, ps, N, K);
    const packed = new Uint8Array(rt.memory.buffer, wpTmp, size).slice();
    const packedScales = arena.f32(spTmp, Math.ceil(N / 8) * 8).slice();
    arena.reset(tmp);
    return Linear.place(rt, N, K, "int8", packed, packedScales, bias);
  }

  private static place(
    rt: KernelRuntime,
    N: number,
    K: number,
    dtype: WeightDType,
    packed: Uint8Array,
    packedScales: Float32Array | undefined,
    bias: Float32Array | undefined,
  ): Linear {
    const { arena } = rt;
    const wp = arena.put(packed);
    const sp = packedScales ? arena.put(packedScales) : 0;
    const b = bias ? arena.put(bias) : 0;
    return new Linear(rt, N, K, dtype, wp, sp, b);
  }

  /** Bytes this layer holds in wasm memory. */
  get bytes(): number {
    const w =
      this.dtype === "f32"
        ? this.rt.k.packed_size_f32(this.N, this.K)
        : this.rt.k.packed_size_i8(this.N, this.K) + Math.ceil(this.N / 8) * 32;
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
    const xq = arena.alloc(M * (this.K + 1) * 2);
    const xs = arena.allocF32(M);
    k.matmul_i8(y, preact, xq, xs, x, this.wp, this.sp, this.bias, residual, M, this.K, this.N, epilogue);
    arena.reset(mark);
  }
}
