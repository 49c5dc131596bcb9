// SIMD kernels against their scalar `_ref` versions on odd sizes (not multiples of 4, 8 or 16), so
// every tail path runs, on every build of the module (simd, debug, relaxed where available).
import { beforeAll, describe, expect, it } from "vitest";
import { Epilogue, MaskKind } from "../../src/runtime/kernels.ts";
import { expectClose } from "../helpers/compare.ts";
import { type Build, loadBuilds, relaxedSupported } from "../helpers/kernels.ts";
import { normal, uniform } from "../helpers/random.ts";

let builds: Build[] = [];
beforeAll(async () => {
  builds = await loadBuilds();
});

const BUILDS = relaxedSupported() ? ["simd", "debug", "relaxed"] : ["simd", "debug"];
const EPILOGUES = Object.entries(Epilogue) as [string, number][];

describe.each(BUILDS)("%s build", (buildName) => {
  const rt = () => builds.find((b) => b.name === buildName)!.rt;

  it("runs the relaxed instruction set only in the relaxed build", () => {
    expect(rt().k.is_relaxed()).toBe(buildName === "relaxed" ? 1 : 0);
  });

  it.each([
    [1, 1, 1],
    [1, 37, 13],
    [3, 5, 7],
    [4, 8, 8],
    [5, 17, 9],
    [7, 33, 65],
    [13, 64, 31],
    [17, 3, 100],
    [130, 70, 21],
  ])("f32 GEMM M=%i K=%i N=%i equals the reference for every epilogue", (M, K, N) => {
    const { arena, k } = rt();
    const mark = arena.mark();
    const x = arena.put(normal(M * K, M * 1000 + K));
    const w = arena.put(normal(N * K, N * 7 + 1, 0.3));
    const b = arena.put(normal(N, 5, 0.5));
    const res = arena.put(normal(M * N, 9));
    const wp = arena.alloc(k.packed_size_f32(N, K));
    k.pack_weights_f32(wp, w, N, K);
    const [y, yr, pre, prer] = [0, 0, 0, 0].map(() => arena.allocF32(M * N));
    for (const [name, epi] of EPILOGUES) {
      k.matmul_f32(y, pre, x, wp, b, res, M, K, N, epi);
      k.matmul_f32_ref(yr, prer, x, w, b, res, M, K, N, epi);
      const tol = 2e-6 * Math.sqrt(K);
      expectClose(arena.f32(pre, M * N), arena.f32(prer, M * N), tol, 1e-5, `preact ${name}`);
      expectClose(arena.f32(y, M * N), arena.f32(yr, M * N), tol, 1e-5, `y ${name}`);
    }
    // no bias, no saved pre-activation
    k.matmul_f32(y, 0, x, wp, 0, 0, M, K, N, Epilogue.bias);
    k.matmul_f32_ref(yr, 0, x, w, 0, 0, M, K, N, Epilogue.bias);
    expectClose(arena.f32(y, M * N), arena.f32(yr, M * N), 2e-6 * Math.sqrt(K), 1e-5, "no bias");
    arena.reset(mark);
  });

  it("f32 GEMM may write its output over the residual (in-place residual add)", () => {
    const { arena, k } = rt();
    const [M, K, N] = [6, 19, 11];
    const mark = arena.mark();
    const x = arena.put(normal(M * K, 1));
    const w = arena.put(normal(N * K, 2));
    const r0 = normal(M * N, 3);
    const res = arena.put(r0);
    const expected = arena.allocF32(M * N);
    const wp = arena.alloc(k.packed_size_f32(N, K));
    k.pack_weights_f32(wp, w, N, K);
    k.matmul_f32_ref(expected, 0, x, w, 0, res, M, K, N, Epilogue.residual);
    k.matmul_f32(res, 0, x, wp, 0, res, M, K, N, Epilogue.residual);
    expectClose(arena.f32(res, M * N), arena.f32(expected, M * N), 1e-5, 1e-5, "in place");
    arena.reset(mark);
  });

  it.each([
    [1, 1, 1],
    [1, 37, 13],
    [3, 5, 7],
    [5, 17, 9],
    [7, 33, 65],
    [13, 64, 31],
    [130, 71, 21],
  ])("int8 GEMM M=%i K=%i N=%i equals the int8 reference", (M, K, N) => {
    const { arena, k } = rt();
    const mark = arena.mark();
    const x = arena.put(normal(M * K, M + K));
    const w = arena.put(normal(N * K, N + 3, 0.05));
    const b = arena.put(normal(N, 4, 0.1));
    const res = arena.put(normal(M * N, 6));
    const wq = arena.alloc(N * K);
    const ws = arena.allocF32(N);
    k.quantize_weights_i8(wq, ws, w, N, K);
    const wp = arena.alloc(k.packed_size_i8(N, K));
    const sp = arena.allocF32(Math.ceil(N / 8) * 8);
    k.pack_weights_i8(wp, sp, wq, ws, N, K);
    const xq = arena.alloc(M * (K + 1) * 2);
    const xs = arena.allocF32(M);
    const [y, yr, pre, prer] = [0, 0, 0, 0].map(() => arena.allocF32(M * N));
    for (const [name, epi] of EPILOGUES) {
      k.matmul_i8(y, pre, xq, xs, x, wp, sp, b, res, M, K, N, epi);
      k.matmul_i8_ref(yr, prer, xq, xs, x, wq, ws, b, res, M, K, N, epi);
      // integer products are exact and the dequantization runs in the same order: bit-identical
      expect(Array.from(arena.f32(pre, M * N)), `preact ${name}`).toEqual(Array.from(arena.f32(prer, M * N)));
      expectClose(arena.f32(y, M * N), arena.f32(yr, M * N), 1e-6, 2e-6, `y ${name}`);
    }
    arena.reset(mark);
  });

  it("quantizes weights symmetrically per row with the error-minimizing clip", () => {
    const { arena, k } = rt();
    const [N, K] = [9, 23];
    const mark = arena.mark();
    const wv = normal(N * K, 11, 0.2);
    wv.fill(0, 0, K); // an all-zero row
    wv[2 * K + 3] = 3; // an outlier: clipping it should win
    const w = arena.put(wv);
    const wq = arena.alloc(N * K);
    const ws = arena.allocF32(N);
    k.quantize_weights_i8(wq, ws, w, N, K);
    const q = arena.i8(wq, N * K).slice();
    const s = arena.f32(ws, N).slice();
    expect(s[0]).toBe(0);
    expect(Array.from(q.subarray(0, K))).toEqual(new Array(K).fill(0));
    const sqErr = (row: Float32Array, step: number) =>
      row.reduce((e, v) => e + (v - Math.max(-127, Math.min(127, Math.round(v / step))) * step) ** 2, 0);
    for (let n = 1; n < N; n++) {
      const row = wv.subarray(n * K, (n + 1) * K);
      const amax = Math.max(...row.map(Math.abs));
      expect(s[n]).toBeGreaterThanOrEqual((0.8 * amax) / 127 - 1e-9);
      expect(s[n]).toBeLessThanOrEqual(amax / 127 + 1e-9);
      const got = row.reduce((e, v, i) => e + (v - q[n * K + i] * s[n]) ** 2, 0);
      expect(got).toBeLessThanOrEqual(sqErr(row, amax / 127) * (1 + 1e-5));
      for (let i = 0; i < K; i++) expect(Math.abs(q[n * K + i])).toBeLessThanOrEqual(127);
    }
    expect(s[2]).toBeLessThan(3 / 127); // the outlier row was clipped
    arena.reset(mark);
  });

  it.each([
    { B: 2, H: 3, Tq: 5, Tk: 5, D: 7, kind: MaskKind.none, prefix: 0, pad: true, bias: false },
    { B: 1, H: 2, Tq: 9, Tk: 9, D: 13, kind: MaskKind.causal, prefix: 0, pad: false, bias: true },
    { B: 3, H: 2, Tq: 1, Tk: 11, D: 16, kind: MaskKind.causal, prefix: 0, pad: true, bias: true },
    { B: 2, H: 1, Tq: 3, Tk: 10, D: 5, kind: MaskKind.none, prefix: 0, pad: true, bias: false },
    { B: 2, H: 4, Tq: 13, Tk: 13, D: 64, kind: MaskKind.prefix, prefix: 4, pad: true, bias: true },
    { B: 1, H: 2, Tq: 6, Tk: 17, D: 9, kind: MaskKind.prefix, prefix: 2, pad: false, bias: false },
    // GEMM path's vector packing: K panels by 4×4 transposes (D % 4 = 0) with a partial last panel, V's
    // full 8-column panels plus a partial one (D % 8 ≠ 0)
    { B: 2, H: 3, Tq: 21, Tk: 21, D: 12, kind: MaskKind.none, prefix: 0, pad: true, bias: false },
  ])("attention $Tq×$Tk D=$D kind=$kind prefix=$prefix pad=$pad bias=$bias equals the reference", (c) => {
    const { arena, k } = rt();
    const { B, H, Tq, Tk, D } = c;
    const mark = arena.mark();
    // fused QKV-style rows for q (stride 3C) and a cache with spare capacity for k and v (Tk + 3 rows)
    const C = H * D;
    const cap = Tk + 3;
    const q = arena.put(normal(B * Tq * 3 * C, 1));
    const kk = arena.put(normal(B * cap * C, 2));
    const v = arena.put(normal(B * cap * C, 3));
    const bias = c.bias ? arena.put(normal(H * Tq * Tk, 4)) : 0;
    const km = new Int32Array(B * Tk).fill(1);
    if (c.pad) for (let b = 0; b < B; b++) for (let j = Tk - b; j < Tk; j++) km[b * Tk + j] = 0;
    const keyMask = arena.put(km);
    const [out, outr] = [arena.allocF32(B * Tq * C), arena.allocF32(B * Tq * C)];
    const [probs, probsr] = [arena.allocF32(B * H * Tq * Tk), arena.allocF32(B * H * Tq * Tk)];
    const scratch = arena.alloc(k.attention_scratch_size(Tq, Tk, D));
    const args = [
      q,
      kk,
      v,
      bias,
      keyMask,
      B,
      H,
      Tq,
      Tk,
      D,
      1 / Math.sqrt(D),
      c.kind,
      c.prefix,
      Tq * 3 * C,
      3 * C,
      cap * C,
      C,
      cap * C,
      C,
      Tq * C,
      C,
    ] as const;
    k.attention_f32(out, probs, scratch, ...args);
    k.attention_f32_ref(outr, probsr, 0, ...args);
    expectClose(arena.f32(out, B * Tq * C), arena.f32(outr, B * Tq * C), 2e-6, 1e-5, "out");
    expectClose(arena.f32(probs, B * H * Tq * Tk), arena.f32(probsr, B * H * Tq * Tk), 1e-6, 1e-5, "probs");
    // without saving probabilities (scratch row) the output is the same
    k.attention_f32(outr, 0, scratch, ...args);
    expectClose(arena.f32(outr, B * Tq * C), arena.f32(out, B * Tq * C), 0, 0, "scratch path");
    arena.reset(mark);
  });

  it("attention gives zeros for a query with no visible key", () => {
    const { arena, k } = rt();
    const mark = arena.mark();
    const [H, T, D] = [1, 6, 4];
    const q = arena.put(normal(T * D, 1));
    const kv = arena.put(normal(T * D, 2));
    const keyMask = arena.put(new Int32Array(T));
    const out = arena.allocF32(T * D);
    const probs = arena.allocF32(T * T);
    k.attention_f32(
      out,
      probs,
      arena.alloc(k.attention_scratch_size(T, T, D)),
      q,
      kv,
      kv,
      0,
      keyMask,
      1,
      H,
      T,
      T,
      D,
      1,
      MaskKind.none,
      0,
      T * D,
      D,
      T * D,
      D,
      T * D,
      D,
      T * D,
      D,
    );
    expect(Array.from(arena.f32(out, T * D))).toEqual(new Array(T * D).fill(0));
    expect(Array.from(arena.f32(probs, T * T))).toEqual(new Array(T * T).fill(0));
    arena.reset(mark);
  });

  it.each([1, 3, 63, 64, 65, 131])("LayerNorm and RMSNorm with C=%i equal the reference", (C) => {
    const { arena, k } = rt();
    const R = 5;
    const mark = arena.mark();
    const x = arena.put(normal(R * C, C, 3, 1.5));
    const w = arena.put(normal(C, C + 1));
    const b = arena.put(normal(C, C + 2));
    const [y, yr] = [arena.allocF32(R * C), arena.allocF32(R * C)];
    const [m, s, mr, sr] = [arena.allocF32(R), arena.allocF32(R), arena.allocF32(R), arena.allocF32(R)];
    k.layernorm_f32(y, m, s, x, w, b, R, C, 1e-12);
    k.layernorm_f32_ref(yr, mr, sr, x, w, b, R, C, 1e-12);
    expectClose(arena.f32(y, R * C), arena.f32(yr, R * C), 1e-5, 1e-5, "layernorm y");
    expectClose(arena.f32(m, R), arena.f32(mr, R), 1e-6, 1e-6, "layernorm mean");
    expectClose(arena.f32(s, R), arena.f32(sr, R), 0, 1e-5, "layernorm rstd");
    k.rmsnorm_f32(y, s, x, w, R, C, 1e-6);
    k.rmsnorm_f32_ref(yr, sr, x, w, R, C, 1e-6);
    expectClose(arena.f32(y, R * C), arena.f32(yr, R * C), 1e-5, 1e-5, "rmsnorm y");
    expectClose(arena.f32(s, R), arena.f32(sr, R), 0, 1e-5, "rmsnorm rstd");
    arena.reset(mark);
  });

  it.each(EPILOGUES.filter(([n]) => n !== "bias" && n !== "residual"))(
    "activation %s on odd lengths and extreme inputs (±300) equals the reference",
    (name, code) => {
      const { arena, k } = rt();
      const mark = arena.mark();
      const xv = Float32Array.from([
        ...uniform(37, 1, -8, 8),
        -300,
        300,
        -30,
        30,
        0,
        -0,
        1e-30,
        -1e-30,
        88,
        -88,
        90,
      ]);
      const x = arena.put(xv);
      const [y, yr] = [arena.allocF32(xv.length), arena.allocF32(xv.length)];
      k.activation_f32(y, x, xv.length, code);
      k.activation_f32_ref(yr, x, xv.length, code);
      const got = arena.f32(y, xv.length);
      for (const v of got) expect(Number.isFinite(v), name).toBe(true);
      expectClose(got, arena.f32(yr, xv.length), 1e-6, 2e-6, name);
      arena.reset(mark);
    },
  );

  it("gated-GELU over a fused [R, 2F] GEMM output equals the reference", () => {
    const { arena, k } = rt();
    const [R, F] = [3, 29];
    const mark = arena.mark();
    const h = arena.put(normal(R * 2 * F, 1, 2));
    const [y, yr] = [arena.allocF32(R * F), arena.allocF32(R * F)];
    k.gated_gelu_f32(y, h, h + F * 4, R, F, 2 * F);
    k.gated_gelu_f32_ref(yr, h, h + F * 4, R, F, 2 * F);
    expectClose(arena.f32(y, R * F), arena.f32(yr, R * F), 1e-6, 2e-6, "gated gelu");
    arena.reset(mark);
  });

  it.each([1, 7, 2000, 2001])("softmax over N=%i equals the reference and sums to 1", (N) => {
    const { arena, k } = rt();
    const R = 3;
    const mark = arena.mark();
    const x = arena.put(normal(R * N, N, 4));
    const [y, yr] = [arena.allocF32(R * N), arena.allocF32(R * N)];
    k.softmax_f32(y, x, R, N);
    k.softmax_f32_ref(yr, x, R, N);
    expectClose(arena.f32(y, R * N), arena.f32(yr, R * N), 1e-7, 1e-5, "softmax");
    for (let r = 0; r < R; r++) {
      const s = arena.f32(y + r * N * 4, N).reduce((a, b) => a + b, 0);
      expect(s).toBeCloseTo(1, 5);
    }
    arena.reset(mark);
  });

  it("residual add over an odd length", () => {
    const { arena, k } = rt();
    const n = 23;
    const mark = arena.mark();
    const av = normal(n, 1);
    const bv = normal(n, 2);
    const a = arena.put(av);
    const b = arena.put(bv);
    k.add_f32(a, a, b, n);
    expectClose(
      arena.f32(a, n),
      av.map((v, i) => Math.fround(v + bv[i])),
      0,
      0,
      "add",
    );
    arena.reset(mark);
  });

  it("embedding sums token, position and segment rows and counts out-of-range ids", () => {
    const { arena, k } = rt();
    const [V, P, S, C] = [11, 6, 2, 13];
    const mark = arena.mark();
    const tokv = normal(V * C, 1);
    const posv = normal(P * C, 2);
    const segv = normal(S * C, 3);
    const [tok, pos, seg] = [arena.put(tokv), arena.put(posv), arena.put(segv)];
    const idsv = [3, 10, 0, 11, -1, 5];
    const posIdsv = [0, 1, 2, 3, 4, 6];
    const segIdsv = [0, 0, 1, 1, 1, 0];
    const ids = arena.put(Int32Array.from(idsv));
    const posIds = arena.put(Int32Array.from(posIdsv));
    const segIds = arena.put(Int32Array.from(segIdsv));
    const T = idsv.length;
    const y = arena.allocF32(T * C);
    const bad = k.embed_f32(y, ids, posIds, segIds, tok, pos, seg, T, C, V, P, S);
    expect(bad).toBe(3); // id 11 ≥ V, id −1, position 6 ≥ P
    const got = arena.f32(y, T * C);
    for (let t = 0; t < T; t++)
      for (let c = 0; c < C; c++) {
        const ok = idsv[t] >= 0 && idsv[t] < V && posIdsv[t] < P;
        const e = ok
          ? Math.fround(
              Math.fround(tokv[idsv[t] * C + c] + posv[posIdsv[t] * C + c]) + segv[segIdsv[t] * C + c],
            )
          : 0;
        expect(got[t * C + c]).toBe(e);
      }
    // int8 token table: the same sums as an f32 table holding the dequantized rows
    const qv = Int8Array.from({ length: V * C }, (_, i) => ((i * 37) % 255) - 127);
    const sv = Float32Array.from({ length: V }, (_, v) => 0.01 + v * 0.003);
    const deq = Float32Array.from(qv, (q, i) => Math.fround(q * sv[Math.floor(i / C)]));
    const [tq, ts, td] = [arena.put(qv), arena.put(sv), arena.put(deq)];
    const y2 = arena.allocF32(T * C);
    expect(k.embed_q8_f32(y2, ids, posIds, segIds, tq, ts, pos, seg, T, C, V, P, S)).toBe(3);
    k.embed_f32(y, ids, posIds, segIds, td, pos, seg, T, C, V, P, S);
    expect(Array.from(arena.f32(y2, T * C))).toEqual(Array.from(arena.f32(y, T * C)));
    // token table only (T5)
    const bad2 = k.embed_f32(y, ids, 0, 0, tok, 0, 0, 3, C, V, 0, 0);
    expect(bad2).toBe(0);
    expect(Array.from(arena.f32(y, C))).toEqual(Array.from(tokv.subarray(3 * C, 4 * C)));
    arena.reset(mark);
  });
});
