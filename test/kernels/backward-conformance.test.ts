// Backward SIMD kernels against their scalar float64 `_ref` versions on odd sizes (not multiples of 4, 8
// or 16, and past the GEMM's cache-block sizes), so every tail and block path runs, on every build.
// Gradient buffers start from the same random values in both runs, which also checks that every
// kernel accumulates (+=) rather than overwrites.
import { beforeAll, describe, expect, it } from "vitest";
import type { Arena } from "../../src/runtime/arena.ts";
import { Epilogue, MaskKind } from "../../src/runtime/kernels.ts";
import { expectClose } from "../helpers/compare.ts";
import { type Build, loadBuilds, relaxedSupported } from "../helpers/kernels.ts";
import { normal, uniform } from "../helpers/random.ts";

let builds: Build[] = [];
beforeAll(async () => {
  builds = await loadBuilds();
});

const BUILDS = relaxedSupported() ? ["simd", "debug", "relaxed"] : ["simd", "debug"];

/** Two buffers holding the same random start values (for the SIMD and the reference run). */
function twin(arena: Arena, n: number, seed: number): [number, number] {
  const init = normal(n, seed, 0.1);
  return [arena.put(init), arena.put(init)];
}

describe.each(BUILDS)("backward conformance, %s build", (buildName) => {
  const rt = () => builds.find((b) => b.name === buildName)!.rt;

  it.each([
    [1, 1, 1],
    [3, 5, 7],
    [5, 17, 9],
    [7, 33, 65],
    [13, 64, 31],
    [130, 70, 21],
    [6, 11, 300], // dX reduction (N) spans two cache blocks
    [300, 9, 12], // dW reduction (M) spans two cache blocks
    [37, 13, 270], // dW rows (N) span several packed-A blocks
  ])("GEMM backward M=%i K=%i N=%i equals the reference", (M, K, N) => {
    const { arena, k } = rt();
    const mark = arena.mark();
    const x = arena.put(normal(M * K, M + K));
    const w = arena.put(normal(N * K, N + 1, 0.3));
    const dy = arena.put(normal(M * N, M + N + 2));
    const [dx, dxr] = twin(arena, M * K, 1);
    const [dw, dwr] = twin(arena, N * K, 2);
    const [db, dbr] = twin(arena, N, 3);
    k.matmul_backward_f32(dx, dw, db, dy, x, w, M, K, N);
    k.matmul_backward_f32_ref(dxr, dwr, dbr, dy, x, w, M, K, N);
    expectClose(arena.f32(dx, M * K), arena.f32(dxr, M * K), 2e-6 * Math.sqrt(N), 1e-5, "dx");
    expectClose(arena.f32(dw, N * K), arena.f32(dwr, N * K), 2e-6 * Math.sqrt(M), 1e-5, "dw");
    expectClose(arena.f32(db, N), arena.f32(dbr, N), 2e-6 * Math.sqrt(M), 1e-5, "db");
    // skipping outputs leaves them alone
    const before = arena.readF32(dx, M * K);
    k.matmul_backward_f32(0, dw, 0, dy, x, w, M, K, N);
    expect(Array.from(arena.f32(dx, M * K))).toEqual(Array.from(before));
    arena.reset(mark);
  });

  it.each([
    { B: 2, H: 3, Tq: 5, Tk: 5, D: 7, kind: MaskKind.none, prefix: 0, pad: true, bias: false },
    { B: 1, H: 2, Tq: 9, Tk: 9, D: 13, kind: MaskKind.causal, prefix: 0, pad: false, bias: true },
    { B: 3, H: 2, Tq: 1, Tk: 11, D: 16, kind: MaskKind.causal, prefix: 0, pad: true, bias: true },
    { B: 2, H: 1, Tq: 3, Tk: 10, D: 5, kind: MaskKind.none, prefix: 0, pad: true, bias: false },
    { B: 2, H: 4, Tq: 13, Tk: 13, D: 64, kind: MaskKind.prefix, prefix: 4, pad: true, bias: true },
    { B: 1, H: 2, Tq: 6, Tk: 17, D: 9, kind: MaskKind.prefix, prefix: 2, pad: false, bias: false },
    { B: 2, H: 2, Tq: 37, Tk: 29, D: 12, kind: MaskKind.none, prefix: 0, pad: true, bias: true },
  ])(
    "attention backward $Tq×$Tk D=$D kind=$kind prefix=$prefix pad=$pad bias=$bias equals the reference",
    (c) => {
      const { arena, k } = rt();
      const { B, H, Tq, Tk, D } = c;
      const mark = arena.mark();
      // fused QKV-style rows for q (stride 3C) and a cache with spare capacity for k and v (Tk + 3 rows);
      // the gradients use the same strides (dq inside a fused dQKV buffer)
      const C = H * D;
      const cap = Tk + 3;
      const q = arena.put(normal(B * Tq * 3 * C, 1));
      const kk = arena.put(normal(B * cap * C, 2));
      const v = arena.put(normal(B * cap * C, 3));
      const bias = c.bias ? arena.put(normal(H * Tq * Tk, 4)) : 0;
      const dout = arena.put(normal(B * Tq * C, 5));
      const km = new Int32Array(B * Tk).fill(1);
      if (c.pad) for (let b = 0; b < B; b++) for (let j = Tk - b; j < Tk; j++) km[b * Tk + j] = 0;
      if (c.pad && B > 2) km.fill(0, 2 * Tk, 3 * Tk); // batch row 2: no visible key at all
      const keyMask = arena.put(km);
      const out = arena.allocF32(B * Tq * C);
      const probs = arena.allocF32(B * H * Tq * Tk);
      const scale = 1 / Math.sqrt(D);
      const strides = [Tq * 3 * C, 3 * C, cap * C, C, cap * C, C, Tq * C, C] as const;
      k.attention_f32(
        out,
        probs,
        arena.alloc(k.attention_scratch_size(Tq, Tk, D)),
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
        scale,
        c.kind,
        c.prefix,
        ...strides,
      );
      const [dq, dqr] = twin(arena, B * Tq * 3 * C, 6);
      const [dk, dkr] = twin(arena, B * cap * C, 7);
      const [dv, dvr] = twin(arena, B * cap * C, 8);
      const [dbias, dbiasr] = twin(arena, H * Tq * Tk, 9);
      const scratch = arena.alloc(k.attention_backward_scratch_size(Tq, Tk, D));
      const dims = [B, H, Tq, Tk, D, scale, ...strides] as const;
      k.attention_backward_f32(dq, dk, dv, dbias, probs, scratch, q, kk, v, dout, ...dims);
      k.attention_backward_f32_ref(dqr, dkr, dvr, dbiasr, probs, scratch, q, kk, v, dout, ...dims);
      const tol = 2e-6 * Math.sqrt(Math.max(Tq, Tk, D));
      expectClose(arena.f32(dq, B * Tq * 3 * C), arena.f32(dqr, B * Tq * 3 * C), tol, 1e-5, "dq");
      expectClose(arena.f32(dk, B * cap * C), arena.f32(dkr, B * cap * C), tol, 1e-5, "dk");
      expectClose(arena.f32(dv, B * cap * C), arena.f32(dvr, B * cap * C), tol, 1e-5, "dv");
      expectClose(arena.f32(dbias, H * Tq * Tk), arena.f32(dbiasr, H * Tq * Tk), tol, 1e-5, "dbias");
      arena.reset(mark);
    },
  );

  it.each([1, 3, 63, 64, 65, 131])("LayerNorm and RMSNorm backward with C=%i equal the reference", (C) => {
    const { arena, k } = rt();
    const R = 5;
    const mark = arena.mark();
    const x = arena.put(normal(R * C, C, 3, 1.5));
    const w = arena.put(normal(C, C + 1));
    const b = arena.put(normal(C, C + 2));
    const dy = arena.put(normal(R * C, C + 3));
    const y = arena.allocF32(R * C);
    const [mean, rstd] = [arena.allocF32(R), arena.allocF32(R)];
    k.layernorm_f32(y, mean, rstd, x, w, b, R, C, 1e-12);
    const [dx, dxr] = twin(arena, R * C, 1);
    const [dw, dwr] = twin(arena, C, 2);
    const [db, dbr] = twin(arena, C, 3);
    k.layernorm_backward_f32(dx, dw, db, mean, rstd, dy, x, w, R, C);
    k.layernorm_backward_f32_ref(dxr, dwr, dbr, mean, rstd, dy, x, w, R, C);
    expectClose(arena.f32(dx, R * C), arena.f32(dxr, R * C), 1e-5, 1e-5, "layernorm dx");
    expectClose(arena.f32(dw, C), arena.f32(dwr, C), 1e-5, 1e-5, "layernorm dw");
    expectClose(arena.f32(db, C), arena.f32(dbr, C), 1e-5, 1e-5, "layernorm db");
    k.rmsnorm_f32(y, rstd, x, w, R, C, 1e-6);
    const [ex, exr] = twin(arena, R * C, 4);
    const [ew, ewr] = twin(arena, C, 5);
    k.rmsnorm_backward_f32(ex, ew, rstd, dy, x, w, R, C);
    k.rmsnorm_backward_f32_ref(exr, ewr, rstd, dy, x, w, R, C);
    expectClose(arena.f32(ex, R * C), arena.f32(exr, R * C), 1e-5, 1e-5, "rmsnorm dx");
    expectClose(arena.f32(ew, C), arena.f32(ewr, C), 1e-5, 1e-5, "rmsnorm dw");
    arena.reset(mark);
  });

  it.each(Object.entries(Epilogue))(
    "activation backward %s on odd lengths and extreme inputs (±300) equals the reference",
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
        1e20,
        -1e20,
      ]);
      const n = xv.length;
      const x = arena.put(xv);
      const dy = arena.put(normal(n, 2));
      const [dx, dxr] = twin(arena, n, 3);
      k.activation_backward_f32(dx, dy, x, n, code);
      k.activation_backward_f32_ref(dxr, dy, x, n, code);
      const got = arena.f32(dx, n);
      for (const v of got) expect(Number.isFinite(v), name).toBe(true);
      expectClose(got, arena.f32(dxr, n), 1e-6, 2e-6, name);
      arena.reset(mark);
    },
  );

  it.each([
    [3, 29, true],
    [4, 13, false],
    [1, 1, false],
  ] as const)("gated-GELU backward R=%i F=%i fused=%s equals the reference", (R, F, fused) => {
    const { arena, k } = rt();
    const mark = arena.mark();
    const stride = fused ? 2 * F : F;
    const hv = normal(R * 2 * F, 1, 2);
    hv[0] = -300;
    hv[1 % (R * 2 * F)] = 300;
    const h = arena.put(hv);
    const gate = h;
    const up = fused ? h + F * 4 : h + R * F * 4;
    const dy = arena.put(normal(R * F, 2));
    const [dh, dhr] = twin(arena, R * 2 * F, 3);
    const dUp = (base: number) => (fused ? base + F * 4 : base + R * F * 4);
    k.gated_gelu_backward_f32(dh, dUp(dh), dy, gate, up, R, F, stride);
    k.gated_gelu_backward_f32_ref(dhr, dUp(dhr), dy, gate, up, R, F, stride);
    const got = arena.f32(dh, R * 2 * F);
    for (const v of got) expect(Number.isFinite(v)).toBe(true);
    expectClose(got, arena.f32(dhr, R * 2 * F), 1e-6, 2e-6, "gated gelu");
    arena.reset(mark);
  });

  it("embedding backward equals the reference and sums repeated ids", () => {
    const { arena, k } = rt();
    const [V, P, S, C] = [11, 6, 2, 13];
    const mark = arena.mark();
    const idsv = [3, 10, 3, 11, -1, 5, 3];
    const posv = [0, 1, 2, 3, 4, 6, 5];
    const segv = [0, 0, 1, 1, 1, 0, 1];
    const T = idsv.length;
    const dy = arena.put(normal(T * C, 1));
    const ids = arena.put(Int32Array.from(idsv));
    const posIds = arena.put(Int32Array.from(posv));
    const segIds = arena.put(Int32Array.from(segv));
    const [dtok, dtokr] = twin(arena, V * C, 2);
    const [dpos, dposr] = twin(arena, P * C, 3);
    const [dseg, dsegr] = twin(arena, S * C, 4);
    // id 11 ≥ V, id −1, position 6 ≥ P
    expect(k.embed_backward_f32(dtok, dpos, dseg, dy, ids, posIds, segIds, T, C, V, P, S)).toBe(3);
    expect(k.embed_backward_f32_ref(dtokr, dposr, dsegr, dy, ids, posIds, segIds, T, C, V, P, S)).toBe(3);
    expectClose(arena.f32(dtok, V * C), arena.f32(dtokr, V * C), 1e-6, 1e-6, "dtok");
    expectClose(arena.f32(dpos, P * C), arena.f32(dposr, P * C), 1e-6, 1e-6, "dpos");
    expectClose(arena.f32(dseg, S * C), arena.f32(dsegr, S * C), 1e-6, 1e-6, "dseg");
    // token table only (T5)
    const [t5, t5r] = twin(arena, V * C, 5);
    expect(k.embed_backward_f32(t5, 0, 0, dy, ids, 0, 0, 3, C, V, 0, 0)).toBe(0);
    expect(k.embed_backward_f32_ref(t5r, 0, 0, dy, ids, 0, 0, 3, C, V, 0, 0)).toBe(0);
    expectClose(arena.f32(t5, V * C), arena.f32(t5r, V * C), 1e-6, 1e-6, "token table only");
    arena.reset(mark);
  });

  it.each([1, 7, 2000, 2001])("cross-entropy over V=%i equals the reference", (V) => {
    const { arena, k } = rt();
    const R = 5;
    const mark = arena.mark();
    const logits = arena.put(normal(R * V, V, 4));
    const labels = arena.put(Int32Array.from([0, -100, V - 1, V >> 1, -100]));
    const [loss, lossr] = [arena.allocF32(1), arena.allocF32(1)];
    const [dl, dlr] = twin(arena, R * V, 1);
    expect(k.cross_entropy_f32(dl, loss, logits, labels, R, V, 0.5)).toBe(3);
    expect(k.cross_entropy_f32_ref(dlr, lossr, logits, labels, R, V, 0.5)).toBe(3);
    expectClose(arena.f32(loss, 1), arena.f32(lossr, 1), 1e-6, 1e-6, "loss");
    expectClose(arena.f32(dl, R * V), arena.f32(dlr, R * V), 1e-7, 1e-5, "dlogits");
    // loss only
    k.cross_entropy_f32(0, loss, logits, labels, R, V, 1);
    expectClose(arena.f32(loss, 1), arena.f32(lossr, 1), 1e-6, 1e-6, "loss without dlogits");
    arena.reset(mark);
  });

  it("cross-entropy: all rows ignored gives count 0, NaN loss and no gradient; a bad label gives -1", () => {
    const { arena, k } = rt();
    const [R, V] = [3, 5];
    const mark = arena.mark();
    const logits = arena.put(normal(R * V, 1));
    const loss = arena.allocF32(1);
    const dl = arena.put(new Float32Array(R * V));
    const ignored = arena.put(Int32Array.from([-100, -100, -100]));
    expect(k.cross_entropy_f32(dl, loss, logits, ignored, R, V, 1)).toBe(0);
    expect(Number.isNaN(arena.f32(loss, 1)[0])).toBe(true);
    expect(arena.f32(dl, R * V).every((v) => v === 0)).toBe(true);
    for (const bad of [V, -1, -99]) {
      const labels = arena.put(Int32Array.from([0, bad, 1]));
      expect(k.cross_entropy_f32(dl, loss, logits, labels, R, V, 1)).toBe(-1);
      expect(k.cross_entropy_f32_ref(dl, loss, logits, labels, R, V, 1)).toBe(-1);
    }
    expect(arena.f32(dl, R * V).every((v) => v === 0)).toBe(true);
    arena.reset(mark);
  });
});
