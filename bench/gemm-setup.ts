// One of our GEMMs ready to time, for the kernel benchmarks (bench/kernels.ts, bench/peaks.ts): puts X, W
// and b in the arena, packs W as the models do (f32 panels, or per-row int8 + panels), and returns the
// call Y = X·Wᵀ + b plus Y's address. The caller times `run` and frees with arena.reset(mark).
import type { KernelRuntime } from "../src/runtime/load.ts";

export interface OurGemm {
  run: () => void;
  /** Y [M,N] f32 */
  y: number;
  /** The arena mark before the setup (arena.reset(mark) frees everything). */
  mark: number;
}

export function ourGemm(
  rt: KernelRuntime,
  dtype: "f32" | "int8",
  M: number,
  K: number,
  N: number,
  x: Float32Array, // [M,K]
  w: Float32Array, // [N,K]
  b: Float32Array, // [N]
): OurGemm {
  const { arena, k } = rt;
  const mark = arena.mark();
  const px = arena.put(x);
  const pw = arena.put(w);
  const pb = arena.put(b);
  const y = arena.allocF32(M * N); // [M,N]
  if (dtype === "f32") {
    const wp = arena.alloc(k.packed_size_f32(N, K));
    k.pack_weights_f32(wp, pw, N, K);
    return { run: () => k.matmul_f32(y, 0, px, wp, pb, 0, M, K, N, 0), y, mark };
  }
  const wq = arena.alloc(N * K); // [N,K] i8
  const ws = arena.allocF32(N);
  k.quantize_weights_i8(wq, ws, pw, N, K);
  const wp = arena.alloc(k.packed_size_i8(N, K));
  const sp = arena.allocF32(Math.ceil(N / 8) * 8);
  k.pack_weights_i8(wp, sp, wq, ws, N, K);
  const xq = arena.alloc(M * (K + 1) * 2); // [M,K2] i16
  const xs = arena.allocF32(M);
  return { run: () => k.matmul_i8(y, 0, xq, xs, px, wp, sp, pb, 0, M, K, N, 0), y, mark };
}
