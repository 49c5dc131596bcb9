// The int8 GEMMs' 4-row strips (assembly/quant.ts quantize_strips_i16: rows below M & ~3 quantized into
// strips [pairs][4 rows][2] i16, the M mod 4 tail left as rows) on every build: matmul_i8 and matmul_i8b
// against their scalar references over several row blocks, every tail length and odd K, with rows of
// very different scales (and a zero row) so that a row read from the wrong strip lane, a wrong per-row
// sum (XSUM) or a wrong scale shows; the kernels stay inside their scratch; a strip's rows computed on
// their own (M = 4) and a tail row on its own (M = 1, row layout) give the same bits as in the full call.
import { beforeAll, describe, expect, it } from "vitest";
import { Epilogue } from "../../src/runtime/kernels.ts";
import type { KernelRuntime } from "../../src/runtime/load.ts";
import { expectClose } from "../helpers/compare.ts";
import { type Build, loadBuilds, relaxedSupported } from "../helpers/kernels.ts";
import { normal } from "../helpers/random.ts";

let builds: Build[] = [];
beforeAll(async () => {
  builds = await loadBuilds();
});

const BUILDS = relaxedSupported() ? ["simd", "debug", "relaxed"] : ["simd", "debug"];

/** x [M,K] with row m scaled by 1 + 7·(m mod 5), one outlier per row and row 5 all zero. */
function activations(M: number, K: number): Float32Array {
  const x = normal(M * K, M * 31 + K);
  for (let m = 0; m < M; m++) {
    const s = 1 + 7 * (m % 5);
    for (let k = 0; k < K; k++) x[m * K + k] *= s;
    x[m * K + ((m * 13) % K)] *= 20;
  }
  if (M > 5) x.fill(0, 5 * K, 6 * K);
  return x;
}

/** Weights for both GEMMs: per-row int8 panels (matmul_i8) and block-multiplier panels (matmul_i8b). */
function weights(rt: KernelRuntime, N: number, K: number) {
  const { arena, k } = rt;
  const wv = normal(N * K, N + 5, 0.05);
  for (let i = 0; i < wv.length; i += 11) wv[i] *= 0.1; // uneven blocks, so multipliers vary
  const w = arena.put(wv);
  const wq = arena.alloc(N * K);
  const ws = arena.allocF32(N);
  k.quantize_weights_i8(wq, ws, w, N, K);
  const wp = arena.alloc(k.packed_size_i8(N, K));
  const sp = arena.allocF32(Math.ceil(N / 8) * 8);
  k.pack_weights_i8(wp, sp, wq, ws, N, K);
  const nb = Math.ceil(K / 8);
  const bq = arena.alloc(N * K);
  const units = arena.allocF32(N);
  const mults = arena.alloc(N * nb);
  k.quantize_weights_i8b(bq, units, mults, w, N, K);
  const bwp = arena.alloc(k.packed_size_i8(N, K));
  const bsp = arena.allocF32(Math.ceil(N / 8) * 8);
  k.pack_weights_i8b(bwp, bsp, bq, units, N, K);
  const mp = arena.alloc(k.packed_size_mults(N, K));
  k.pack_mults_i8b(mp, mults, N, K);
  return { wq, ws, wp, sp, bq, units, mults, bwp, bsp, mp };
}

describe.each(BUILDS)("%s build", (buildName) => {
  const rt = () => builds.find((b) => b.name === buildName)!.rt;

  it.each([
    [87, 3001, 9], // matmul_i8: row blocks of 40 (pairs 1501), 84 strip rows, a 3-row tail
    [45, 6001, 11], // blocks of 20 rows, a 1-row tail, odd K past the vector steps
    [22, 7, 17], // K < 8: strips written by the scalar path only; a 2-row tail
    [16, 130, 8], // no tail
    [3, 33, 12], // no strip at all (M < 4)
  ])("M=%i K=%i N=%i: matmul_i8 and matmul_i8b equal their references", (M, K, N) => {
    const { arena, k } = rt();
    const mark = arena.mark();
    const x = arena.put(activations(M, K));
    const b = arena.put(normal(N, 4, 0.1));
    const res = arena.put(normal(M * N, 6));
    const W = weights(rt(), N, K);
    const xqBytes = M * (K + 1) * 2; // what src/models/linear.ts allocates for matmul_i8
    const scratch = Math.max(k.scratch_size_i8b(M, K), xqBytes);
    const xq = arena.alloc(scratch + 64);
    const xs = arena.allocF32(M);
    const [y, yr, pre, prer] = [0, 0, 0, 0].map(() => arena.allocF32(M * N));
    for (const epi of [Epilogue.geluErf, Epilogue.residual]) {
      arena.i8(xq + xqBytes, 64).fill(0x5a); // guard: matmul_i8 stays inside M·(K+1)·2 bytes
      k.matmul_i8(y, pre, xq, xs, x, W.wp, W.sp, b, res, M, K, N, epi);
      expect(arena.i8(xq + xqBytes, 64).every((v) => v === 0x5a)).toBe(true);
      k.matmul_i8_ref(yr, prer, xq, xs, x, W.wq, W.ws, b, res, M, K, N, epi);
      // integer sums are exact and dequantized in the same order: bit-identical pre-activations
      expect(Array.from(arena.f32(pre, M * N)), `i8 preact ${epi}`).toEqual(
        Array.from(arena.f32(prer, M * N)),
      );
      expectClose(arena.f32(y, M * N), arena.f32(yr, M * N), 1e-6, 2e-6, `i8 y ${epi}`);

      const sb = k.scratch_size_i8b(M, K);
      arena.i8(xq + sb, 64).fill(0x5a);
      k.matmul_i8b(y, pre, xq, xs, x, W.bwp, W.bsp, W.mp, b, res, M, K, N, epi);
      expect(arena.i8(xq + sb, 64).every((v) => v === 0x5a)).toBe(true);
      k.matmul_i8b_ref(yr, prer, xq, xs, x, W.bq, W.units, W.mults, b, res, M, K, N, epi);
      expect(Array.from(arena.f32(pre, M * N)), `i8b preact ${epi}`).toEqual(
        Array.from(arena.f32(prer, M * N)),
      );
      expectClose(arena.f32(y, M * N), arena.f32(yr, M * N), 1e-6, 2e-6, `i8b y ${epi}`);
    }
    // the zero row stays exactly the bias
    if (M > 5) {
      k.matmul_i8(y, 0, xq, xs, x, W.wp, W.sp, b, 0, M, K, N, Epilogue.bias);
      expect(Array.from(arena.f32(y + 5 * N * 4, N))).toEqual(Array.from(arena.f32(b, N)));
    }
    arena.reset(mark);
  });

  it.each([
    [23, 1001, 10],
    [14, 9, 9],
  ])(
    "M=%i K=%i N=%i: a strip's rows alone and a tail row alone give the bits of the full call",
    (M, K, N) => {
      const { arena, k } = rt();
      const mark = arena.mark();
      const x = arena.put(activations(M, K));
      const W = weights(rt(), N, K);
      const xq = arena.alloc(k.scratch_size_i8b(M, K));
      const xs = arena.allocF32(M);
      const y = arena.allocF32(M * N);
      const part = arena.allocF32(4 * N);
      const runs: [string, (yp: number, xp: number, rows: number) => void][] = [
        [
          "matmul_i8",
          (yp, xp, rows) => k.matmul_i8(yp, 0, xq, xs, xp, W.wp, W.sp, 0, 0, rows, K, N, Epilogue.bias),
        ],
        [
          "matmul_i8b",
          (yp, xp, rows) =>
            k.matmul_i8b(yp, 0, xq, xs, xp, W.bwp, W.bsp, W.mp, 0, 0, rows, K, N, Epilogue.bias),
        ],
      ];
      for (const [name, run] of runs) {
        run(y, x, M);
        const full = new Uint32Array(arena.f32(y, M * N).slice().buffer);
        for (let m = 0; m < M; m += 4) {
          const rows = Math.min(4, M - m) === 4 ? 4 : 1; // strips as M = 4, tail rows one at a time
          for (let r = m; r < Math.min(M, m + 4); r += rows) {
            run(part, x + r * K * 4, rows);
            const got = Array.from(new Uint32Array(arena.f32(part, rows * N).slice().buffer));
            expect(got, `${name} rows ${r}..${r + rows - 1}`).toEqual(
              Array.from(full.subarray(r * N, (r + rows) * N)),
            );
          }
        }
      }
      arena.reset(mark);
    },
  );
});
