// Block-multiplier int8 kernels (w ≈ q·u[n]·m[n, k/8]) on every build: the GEMM against its scalar
// reference on odd sizes (bit-identical pre-activations: integer sums are exact), the worst-case sum
// that must not overflow int32, the quantizer's contract (multipliers in range, an error no larger than
// its first candidate, well under one scale per row), and the token gather against its reference.
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
const EPILOGUES = Object.entries(Epilogue) as [string, number][];

/** Quantizes w [N,K] with quantize_weights_i8b; returns pointers and host copies. */
function quantizeB(rt: KernelRuntime, w: number, N: number, K: number) {
  const { arena, k } = rt;
  const nb = Math.ceil(K / 8);
  const wq = arena.alloc(N * K);
  const units = arena.allocF32(N);
  const mults = arena.alloc(N * nb);
  k.quantize_weights_i8b(wq, units, mults, w, N, K);
  return {
    wq,
    units,
    mults,
    q: arena.i8(wq, N * K).slice(),
    u: arena.f32(units, N).slice(),
    m: arena.i8(mults, N * nb).slice(),
  };
}

/** Packs for matmul_i8b: weight panels with the units as scales, and the multipliers. */
function packB(rt: KernelRuntime, wq: number, units: number, mults: number, N: number, K: number) {
  const { arena, k } = rt;
  const wp = arena.alloc(k.packed_size_i8(N, K));
  const sp = arena.allocF32(Math.ceil(N / 8) * 8);
  k.pack_weights_i8b(wp, sp, wq, units, N, K);
  const mp = arena.alloc(k.packed_size_mults(N, K));
  k.pack_mults_i8b(mp, mults, N, K);
  return { wp, sp, mp };
}

const sqErr = (row: ArrayLike<number>, step: (i: number) => number) => {
  let e = 0;
  for (let i = 0; i < row.length; i++) {
    const s = step(i);
    const q = s > 0 ? Math.max(-127, Math.min(127, Math.round(row[i] / s))) : 0;
    e += (row[i] - q * s) ** 2;
  }
  return e;
};

describe("block_mult_max", () => {
  it("keeps K · 2047 · 127 · m within int32, at most 16", async () => {
    const { k } = (await loadBuilds())[0].rt;
    expect([1, 64, 516, 517, 1032, 2048, 4130, 4131, 8260, 20000].map((K) => k.block_mult_max(K))).toEqual([
      16, 16, 16, 15, 8, 4, 2, 1, 1, 1,
    ]);
    for (const K of [1, 7, 64, 300, 516, 517, 777, 1024, 3000, 8260])
      expect(K * 2047 * 127 * k.block_mult_max(K)).toBeLessThanOrEqual(2 ** 31 - 1);
  });
});

describe.each(BUILDS)("%s build", (buildName) => {
  const rt = () => builds.find((b) => b.name === buildName)!.rt;

  it.each([
    [1, 1, 1],
    [1, 37, 13],
    [3, 5, 7],
    [4, 8, 8],
    [5, 17, 9],
    [7, 33, 65],
    [13, 64, 31],
    [6, 20, 16],
    [130, 71, 21],
  ])("block int8 GEMM M=%i K=%i N=%i equals the reference for every epilogue", (M, K, N) => {
    const { arena, k } = rt();
    const mark = arena.mark();
    const x = arena.put(normal(M * K, M + K));
    const wv = normal(N * K, N + 5, 0.05);
    for (let i = 0; i < wv.length; i += 11) wv[i] *= 0.1; // uneven blocks, so multipliers vary
    const w = arena.put(wv);
    const b = arena.put(normal(N, 4, 0.1));
    const res = arena.put(normal(M * N, 6));
    const qb = quantizeB(rt(), w, N, K);
    const { wp, sp, mp } = packB(rt(), qb.wq, qb.units, qb.mults, N, K);
    const scratch = k.scratch_size_i8b(M, K);
    const xq = arena.alloc(scratch + 64);
    arena.i8(xq + scratch, 64).fill(0x5a); // guard: the kernel stays inside its scratch
    const xs = arena.allocF32(M);
    const [y, yr, pre, prer] = [0, 0, 0, 0].map(() => arena.allocF32(M * N));
    for (const [name, epi] of EPILOGUES) {
      k.matmul_i8b(y, pre, xq, xs, x, wp, sp, mp, b, res, M, K, N, epi);
      k.matmul_i8b_ref(yr, prer, xq, xs, x, qb.wq, qb.units, qb.mults, b, res, M, K, N, epi);
      expect(Array.from(arena.f32(pre, M * N)), `preact ${name}`).toEqual(Array.from(arena.f32(prer, M * N)));
      expectClose(arena.f32(y, M * N), arena.f32(yr, M * N), 1e-6, 2e-6, `y ${name}`);
    }
    // no bias, no saved pre-activation
    k.matmul_i8b(y, 0, xq, xs, x, wp, sp, mp, 0, 0, M, K, N, Epilogue.bias);
    k.matmul_i8b_ref(yr, 0, xq, xs, x, qb.wq, qb.units, qb.mults, 0, 0, M, K, N, Epilogue.bias);
    expect(Array.from(arena.f32(y, M * N))).toEqual(Array.from(arena.f32(yr, M * N)));
    expect(arena.i8(xq + scratch, 64).every((v) => v === 0x5a)).toBe(true);
    arena.reset(mark);
  });

  it.each([
    [516, 16],
    [1032, 8],
  ])("block int8 GEMM: the largest sum at K=%i (multiplier %i) does not overflow", (K, mmax) => {
    const { arena, k } = rt();
    expect(k.block_mult_max(K)).toBe(mmax);
    const mark = arena.mark();
    const [M, N] = [5, 9];
    const nb = Math.ceil(K / 8);
    const wq = arena.put(new Int8Array(N * K).fill(127).map((v, i) => (Math.floor(i / K) === 3 ? -v : v)));
    const units = arena.put(new Float32Array(N).fill(1));
    const mults = arena.put(new Int8Array(N * nb).fill(mmax));
    const { wp, sp, mp } = packB(rt(), wq, units, mults, N, K);
    const x = arena.put(new Float32Array(M * K).fill(1)); // quantized to 2047 everywhere
    const xq = arena.alloc(k.scratch_size_i8b(M, K));
    const xs = arena.allocF32(M);
    const [y, yr] = [arena.allocF32(M * N), arena.allocF32(M * N)];
    k.matmul_i8b(y, 0, xq, xs, x, wp, sp, mp, 0, 0, M, K, N, Epilogue.bias);
    k.matmul_i8b_ref(yr, 0, xq, xs, x, wq, units, mults, 0, 0, M, K, N, Epilogue.bias);
    const got = arena.f32(y, M * N);
    expect(Array.from(got)).toEqual(Array.from(arena.f32(yr, M * N)));
    const exact = K * 2047 * 127 * mmax * (1 / 2047);
    expect(got[0]).toBeCloseTo(exact, -1);
    expect(got[3]).toBeCloseTo(-exact, -1);
    arena.reset(mark);
  });

  it.each([
    [9, 23],
    [40, 64],
    [6, 1],
    [5, 1100],
  ])("quantize_weights_i8b N=%i K=%i: multipliers in range, error ≤ its first candidate", (N, K) => {
    const { arena, k } = rt();
    const mark = arena.mark();
    const wv = normal(N * K, N * 31 + K, 0.2);
    wv.fill(0, 0, K); // an all-zero row
    if (K > 8) wv.fill(0, K + 8, K + 16); // an all-zero block
    const qb = quantizeB(rt(), arena.put(wv), N, K);
    const nb = Math.ceil(K / 8);
    const mmax = k.block_mult_max(K);
    expect(qb.u[0]).toBe(0);
    expect(Array.from(qb.q.subarray(0, K))).toEqual(new Array(K).fill(0));
    for (const m of qb.m) {
      expect(m).toBeGreaterThanOrEqual(1);
      expect(m).toBeLessThanOrEqual(mmax);
    }
    for (let n = 1; n < N; n++) {
      const row = wv.subarray(n * K, (n + 1) * K);
      const amax = Math.max(...row.map(Math.abs));
      const step = (i: number) => qb.u[n] * qb.m[n * nb + Math.floor(i / 8)];
      let got = 0;
      for (let i = 0; i < K; i++) {
        expect(Math.abs(qb.q[n * K + i])).toBeLessThanOrEqual(127);
        got += (row[i] - qb.q[n * K + i] * step(i)) ** 2;
      }
      // the q stored are the rounding of w by the chosen step
      expect(got).toBeCloseTo(sqErr(row, step), 9);
      // first candidate: u = amax/(127·mmax), each block at its smallest unclipped multiplier
      const u0 = Math.fround(amax / (127 * mmax));
      const m0 = (b: number) => {
        const ba = Math.max(...row.subarray(b * 8, b * 8 + 8).map(Math.abs));
        return Math.min(mmax, Math.max(1, Math.ceil(ba / (127 * u0))));
      };
      expect(got).toBeLessThanOrEqual(
        sqErr(row, (i) => Math.fround(u0 * m0(Math.floor(i / 8)))) * (1 + 1e-4),
      );
    }
    arena.reset(mark);
  });

  it("quantize_weights_i8b: Gaussian rows of 64 lose ≥ 2× less than one scale per row", () => {
    const { arena, k } = rt();
    const mark = arena.mark();
    const [N, K] = [64, 64];
    const wv = normal(N * K, 99, 0.13);
    const w = arena.put(wv);
    const qb = quantizeB(rt(), w, N, K);
    const wq = arena.alloc(N * K);
    const ws = arena.allocF32(N);
    k.quantize_weights_i8(wq, ws, w, N, K);
    const q8 = arena.i8(wq, N * K);
    const s8 = arena.f32(ws, N);
    let eb = 0;
    let er = 0;
    for (let i = 0; i < N * K; i++) {
      const n = Math.floor(i / K);
      eb += (wv[i] - qb.q[i] * qb.u[n] * qb.m[n * (K / 8) + Math.floor((i % K) / 8)]) ** 2;
      er += (wv[i] - q8[i] * s8[n]) ** 2;
    }
    expect(eb).toBeLessThan(er / 2);
    arena.reset(mark);
  });

  it("embed_q8b_f32 equals its reference (odd width, bad ids, position and segment tables)", () => {
    const { arena, k } = rt();
    const mark = arena.mark();
    const [V, C, P, S] = [12, 19, 6, 2];
    const nb = Math.ceil(C / 8);
    const tq = arena.put(Int8Array.from({ length: V * C }, (_, i) => ((i * 37) % 255) - 127));
    const tu = arena.put(Float32Array.from({ length: V }, (_, v) => 0.001 + v * 0.0003));
    const tm = arena.put(Int8Array.from({ length: V * nb }, (_, i) => 1 + ((i * 5) % 16)));
    const pos = arena.put(normal(P * C, 2));
    const seg = arena.put(normal(S * C, 3));
    const ids = arena.put(Int32Array.from([3, 10, 0, 11, 12, -1, 5]));
    const posIds = arena.put(Int32Array.from([0, 1, 2, 3, 4, 5, 6]));
    const segIds = arena.put(Int32Array.from([0, 0, 1, 1, 1, 0, 0]));
    const T = 7;
    const [y, yr] = [arena.allocF32(T * C), arena.allocF32(T * C)];
    for (const [p, s] of [
      [posIds, segIds],
      [0, 0],
    ]) {
      const bad = k.embed_q8b_f32(y, ids, p, s, tq, tu, tm, pos, seg, T, C, V, P, S);
      const badRef = k.embed_q8b_f32_ref(yr, ids, p, s, tq, tu, tm, pos, seg, T, C, V, P, S);
      expect(bad).toBe(badRef);
      expect(bad).toBe(p ? 3 : 2); // id 12 ≥ V, id −1 (and position 6 ≥ P)
      expect(Array.from(arena.f32(y, T * C))).toEqual(Array.from(arena.f32(yr, T * C)));
    }
    // row 10's element 17 is q · (u · m) of block 2
    const q = arena.i8(tq, V * C)[10 * C + 17];
    const scale = Math.fround(arena.f32(tu, V)[10] * arena.i8(tm, V * nb)[10 * nb + 2]);
    expect(arena.f32(y, T * C)[1 * C + 17]).toBe(Math.fround(q * scale));
    arena.reset(mark);
  });
});
