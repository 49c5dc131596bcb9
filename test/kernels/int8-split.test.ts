// matmul_i8's split panels (two columns per i16 lane, low byte offset by 128; assembly/quant.ts
// pack_weights_i8) at the edges of the arithmetic: full-range weights (±127) and activations (±qmax) over
// long rows, where the lane sums wrap int32 and only the final column sums fit, must still equal the
// scalar reference bit for bit; more rows than one block of row sums (1024); padded columns.
import { beforeAll, describe, expect, it } from "vitest";
import { Epilogue } from "../../src/runtime/kernels.ts";
import type { KernelRuntime } from "../../src/runtime/load.ts";
import { loadRuntime } from "../../src/runtime/node.ts";
import { normal } from "../helpers/random.ts";

let rt: KernelRuntime;
beforeAll(async () => {
  rt = await loadRuntime({ relaxed: false });
});

/** matmul_i8 (packed) and matmul_i8_ref on the same int8 weights wq [N,K]: both outputs [M,N]. */
function both(x: Float32Array, wq: Int8Array, M: number, K: number, N: number): [Float32Array, Float32Array] {
  const { arena, k } = rt;
  const mark = arena.mark();
  const px = arena.put(x);
  const pq = arena.put(wq);
  const ps = arena.put(Float32Array.from({ length: N }, (_, n) => 0.01 * (1 + (n % 5))));
  const wp = arena.alloc(k.packed_size_i8(N, K));
  const sp = arena.allocF32(Math.ceil(N / 8) * 8);
  k.pack_weights_i8(wp, sp, pq, ps, N, K);
  const xq = arena.alloc(M * (K + 1) * 2);
  const xs = arena.allocF32(M);
  const y = arena.allocF32(M * N);
  const yr = arena.allocF32(M * N);
  k.matmul_i8(y, 0, xq, xs, px, wp, sp, 0, 0, M, K, N, Epilogue.bias);
  k.matmul_i8_ref(yr, 0, xq, xs, px, pq, ps, 0, 0, M, K, N, Epilogue.bias);
  const out: [Float32Array, Float32Array] = [arena.readF32(y, M * N), arena.readF32(yr, M * N)];
  arena.reset(mark);
  return out;
}

describe("int8 GEMM split panels", () => {
  it.each([
    [1, 2048, 13],
    [5, 4099, 21],
    [4, 511, 8],
  ])("full-range weights and activations, M=%i K=%i N=%i: equal to the reference", (M, K, N) => {
    // weights: ±127 (the low column of a lane at −127 → byte 1, the high at ±127), columns of one sign
    // or alternating; activations: ±1 with one larger entry so most quantize to ±qmax … near it
    const wq = new Int8Array(N * K);
    for (let n = 0; n < N; n++)
      for (let c = 0; c < K; c++) wq[n * K + c] = n % 3 === 0 ? 127 : n % 3 === 1 ? -127 : c % 2 ? 127 : -127;
    const x = new Float32Array(M * K);
    for (let m = 0; m < M; m++) for (let c = 0; c < K; c++) x[m * K + c] = (m + c) % 4 === 0 ? -1 : 1;
    const [y, yr] = both(x, wq, M, K, N);
    expect(Array.from(y)).toEqual(Array.from(yr));
    // the sums are far from zero: a wrong offset correction would not hide
    expect(Math.max(...y.map(Math.abs))).toBeGreaterThan(100);
  });

  it("more rows than one block of row sums (1030 × K=6 × N=11), random weights", () => {
    const M = 1030;
    const K = 6;
    const N = 11;
    const wq = Int8Array.from(normal(N * K, 3, 60), (v) => Math.max(-127, Math.min(127, Math.round(v))));
    const [y, yr] = both(normal(M * K, 4), wq, M, K, N);
    expect(Array.from(y)).toEqual(Array.from(yr));
  });
});
