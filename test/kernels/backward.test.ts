// Backward kernels against the float64 PyTorch goldens (test/fixtures/kernels: attention dq/dk/dv for
// every mask, LayerNorm / RMSNorm, activation derivatives, cross-entropy) and against central finite
// differences of float64 JavaScript forwards on odd shapes (GEMM with each epilogue, attention with a
// bias and each mask, norms, activations, gated-GELU, embedding, cross-entropy), on every build.
import { beforeAll, describe, expect, it } from "vitest";
import type { Arena } from "../../src/runtime/arena.ts";
import { Epilogue, MaskKind } from "../../src/runtime/kernels.ts";
import { expectClose } from "../helpers/compare.ts";
import { readSafetensorsFixture } from "../helpers/fixtures.ts";
import { type Build, loadBuilds, relaxedSupported } from "../helpers/kernels.ts";
import { normal } from "../helpers/random.ts";

const g = readSafetensorsFixture("kernels/kernels.safetensors");
let builds: Build[] = [];
beforeAll(async () => {
  builds = await loadBuilds();
});
const BUILDS = relaxedSupported() ? ["simd", "debug", "relaxed"] : ["simd", "debug"];

/** A zero-filled f32 buffer (arena memory is reused, so gradient buffers must be cleared). */
function zeros(arena: Arena, n: number): number {
  return arena.put(new Float32Array(n));
}

// ---- float64 JavaScript forwards (the finite-difference oracles) ----

/** erf in float64 (series below 3, continued fraction above), as assembly/vecmath.ts erf64. */
function erf(x: number): number {
  const ax = Math.abs(x);
  let r: number;
  if (ax < 3) {
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 200; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    r = sum * 1.1283791670955126;
  } else {
    let f = ax;
    for (let k = 60; k >= 1; k--) f = ax + (k * 0.5) / f;
    r = 1 - Math.exp(-ax * ax) / (1.7724538509055159 * f);
  }
  return x < 0 ? -r : r;
}

const geluTanh = (x: number) => 0.5 * x * (1 + Math.tanh(0.7978845608028654 * (x + 0.044715 * x ** 3)));

function act(x: number, code: number): number {
  if (code === Epilogue.geluErf) return 0.5 * x * (1 + erf(x / Math.SQRT2));
  if (code === Epilogue.geluTanh) return geluTanh(x);
  if (code === Epilogue.relu) return Math.max(x, 0);
  if (code === Epilogue.tanh) return Math.tanh(x);
  return x;
}

type Vec = Float64Array;
const f64 = (a: ArrayLike<number>) => Float64Array.from(a);
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

/** Central differences of the scalar f with respect to every element of p (restored afterwards). */
function numericGrad(p: Vec, f: () => number, h = 1e-4): Float64Array {
  const out = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) {
    const v = p[i];
    p[i] = v + h;
    const fp = f();
    p[i] = v - h;
    const fm = f();
    p[i] = v;
    out[i] = (fp - fm) / (2 * h);
  }
  return out;
}

/** Largest |a − e| / (atol + |e|) seen, for the report; asserts it is ≤ 1. */
function expectGrad(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  atol: number,
  rtol: number,
  label: string,
) {
  expectClose(actual, expected, atol, rtol, label);
}

function gemm64(x: Vec, w: Vec, b: Vec, res: Vec | null, M: number, K: number, N: number, epi: number): Vec {
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let acc = b[n];
      for (let k = 0; k < K; k++) acc += x[m * K + k] * w[n * K + k];
      y[m * N + n] = epi === Epilogue.residual ? acc + res![m * N + n] : act(acc, epi);
    }
  return y;
}

interface AttnShape {
  B: number;
  H: number;
  Tq: number;
  Tk: number;
  D: number;
  kind: number;
  prefix: number;
}

/** Dense [B,T,H,D] attention in float64 with bias [H,Tq,Tk] (or null) and keyMask [B,Tk]. */
function attention64(
  q: Vec,
  k: Vec,
  v: Vec,
  bias: Vec | null,
  keyMask: Int32Array,
  s: AttnShape,
  scale: number,
): Vec {
  const { B, H, Tq, Tk, D, kind, prefix } = s;
  const out = new Float64Array(B * Tq * H * D);
  const sc = new Float64Array(Tk);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let i = 0; i < Tq; i++) {
        const iAbs = i + Tk - Tq;
        let mx = Number.NEGATIVE_INFINITY;
        for (let j = 0; j < Tk; j++) {
          let vis = keyMask[b * Tk + j] !== 0;
          if (kind === MaskKind.causal) vis &&= j <= iAbs;
          if (kind === MaskKind.prefix) vis &&= j < prefix || j <= iAbs;
          if (!vis) {
            sc[j] = Number.NEGATIVE_INFINITY;
            continue;
          }
          let d = 0;
          for (let e = 0; e < D; e++)
            d += q[((b * Tq + i) * H + h) * D + e] * k[((b * Tk + j) * H + h) * D + e];
          sc[j] = d * scale + (bias ? bias[(h * Tq + i) * Tk + j] : 0);
          mx = Math.max(mx, sc[j]);
        }
        if (mx === Number.NEGATIVE_INFINITY) continue;
        let sum = 0;
        for (let j = 0; j < Tk; j++) {
          sc[j] = sc[j] === Number.NEGATIVE_INFINITY ? 0 : Math.exp(sc[j] - mx);
          sum += sc[j];
        }
        for (let j = 0; j < Tk; j++)
          for (let e = 0; e < D; e++)
            out[((b * Tq + i) * H + h) * D + e] += (sc[j] / sum) * v[((b * Tk + j) * H + h) * D + e];
      }
  return out;
}

function layernorm64(x: Vec, w: Vec, b: Vec | null, R: number, C: number, eps: number, rms: boolean): Vec {
  const y = new Float64Array(R * C);
  for (let r = 0; r < R; r++) {
    const row = x.subarray(r * C, (r + 1) * C);
    const mu = rms ? 0 : row.reduce((a, v) => a + v, 0) / C;
    const vr = row.reduce((a, v) => a + (v - mu) ** 2, 0) / C;
    const rs = 1 / Math.sqrt(vr + eps);
    for (let c = 0; c < C; c++) y[r * C + c] = (row[c] - mu) * rs * w[c] + (b ? b[c] : 0);
  }
  return y;
}

function xent64(logits: Vec, labels: Int32Array, R: number, V: number): number {
  let total = 0;
  let count = 0;
  for (let r = 0; r < R; r++) {
    if (labels[r] === -100) continue;
    const row = logits.subarray(r * V, (r + 1) * V);
    const mx = Math.max(...row);
    const lse = Math.log(row.reduce((a, v) => a + Math.exp(v - mx), 0)) + mx;
    total += lse - row[labels[r]];
    count++;
  }
  return total / count;
}

/** [B,H,T,D] → [B,T,H,D] */
function bhtdToBthd(x: Float32Array, B: number, H: number, T: number, D: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let t = 0; t < T; t++)
        for (let d = 0; d < D; d++) out[((b * T + t) * H + h) * D + d] = x[((b * H + h) * T + t) * D + d];
  return out;
}

const GOLDEN_MASKS = [
  { name: "none", kind: MaskKind.none, prefix: 0 },
  { name: "padding", kind: MaskKind.none, prefix: 0 },
  { name: "causal", kind: MaskKind.causal, prefix: 0 },
  { name: "prefix3", kind: MaskKind.prefix, prefix: 3 },
] as const;

const ACTS = [
  ["gelu_erf", Epilogue.geluErf],
  ["gelu_tanh", Epilogue.geluTanh],
  ["relu", Epilogue.relu],
  ["tanh", Epilogue.tanh],
] as const;

describe.each(BUILDS)("backward kernels, %s build", (buildName) => {
  const rt = () => builds.find((b) => b.name === buildName)!.rt;

  // ---- goldens ----

  it.each(GOLDEN_MASKS)("attention dq, dk, dv golden, mask $name, scaled and unscaled", (mask) => {
    const { arena, k } = rt();
    const [B, H, T, D] = g.info("attn.q").shape;
    const C = H * D;
    const golden = g.float32(`attn.mask.${mask.name}`);
    const keyMask = new Int32Array(B * T).fill(1);
    if (mask.name === "padding")
      for (let b = 0; b < B; b++)
        for (let j = 0; j < T; j++) {
          let any = 0;
          for (let i = 0; i < T; i++) any |= golden[(b * T + i) * T + j] ? 1 : 0;
          keyMask[b * T + j] = any;
        }
    for (const scaling of ["scaled", "unscaled"] as const) {
      const mark = arena.mark();
      const q = arena.put(bhtdToBthd(g.float32("attn.q"), B, H, T, D));
      const kk = arena.put(bhtdToBthd(g.float32("attn.k"), B, H, T, D));
      const v = arena.put(bhtdToBthd(g.float32("attn.v"), B, H, T, D));
      const dout = arena.put(bhtdToBthd(g.float32("attn.dout"), B, H, T, D));
      const km = arena.put(keyMask);
      const out = arena.allocF32(B * T * C);
      const probs = arena.allocF32(B * H * T * T);
      const scale = scaling === "scaled" ? 1 / Math.sqrt(D) : 1;
      const st = [T * C, C, T * C, C, T * C, C, T * C, C] as const;
      k.attention_f32(
        out,
        probs,
        arena.alloc(k.attention_scratch_size(T, T, D)),
        q,
        kk,
        v,
        0,
        km,
        B,
        H,
        T,
        T,
        D,
        scale,
        mask.kind,
        mask.prefix,
        ...st,
      );
      const [dq, dk, dv] = [0, 0, 0].map(() => zeros(arena, B * T * C));
      const scratch = arena.alloc(k.attention_backward_scratch_size(T, T, D));
      k.attention_backward_f32(dq, dk, dv, 0, probs, scratch, q, kk, v, dout, B, H, T, T, D, scale, ...st);
      for (const [name, ptr] of [
        ["dq", dq],
        ["dk", dk],
        ["dv", dv],
      ] as const) {
        const expected = bhtdToBthd(g.float32(`attn.${mask.name}.${scaling}.${name}`), B, H, T, D);
        expectClose(arena.f32(ptr, B * T * C), expected, 1e-6, 1e-5, `${mask.name} ${scaling} ${name}`);
      }
      arena.reset(mark);
    }
  });

  it("LayerNorm and RMSNorm backward goldens", () => {
    const { arena, k } = rt();
    const [R, C] = g.info("norm.x").shape;
    const mark = arena.mark();
    const x = arena.put(g.float32("norm.x"));
    const w = arena.put(g.float32("norm.w"));
    const b = arena.put(g.float32("norm.b"));
    const dy = arena.put(g.float32("norm.dy"));
    const y = arena.allocF32(R * C);
    const [mean, rstd] = [arena.allocF32(R), arena.allocF32(R)];
    const [dx, dw, db] = [zeros(arena, R * C), zeros(arena, C), zeros(arena, C)];
    k.layernorm_f32(y, mean, rstd, x, w, b, R, C, 1e-12);
    k.layernorm_backward_f32(dx, dw, db, mean, rstd, dy, x, w, R, C);
    expectClose(arena.f32(dx, R * C), g.float32("layernorm.dx"), 1e-6, 1e-5, "layernorm dx");
    expectClose(arena.f32(dw, C), g.float32("layernorm.dw"), 1e-6, 1e-5, "layernorm dw");
    expectClose(arena.f32(db, C), g.float32("layernorm.db"), 1e-6, 1e-5, "layernorm db");
    k.zero_f32(dx, R * C);
    k.zero_f32(dw, C);
    k.rmsnorm_f32(y, rstd, x, w, R, C, 1e-6);
    k.rmsnorm_backward_f32(dx, dw, rstd, dy, x, w, R, C);
    expectClose(arena.f32(dx, R * C), g.float32("rmsnorm.dx"), 1e-6, 1e-5, "rmsnorm dx");
    expectClose(arena.f32(dw, C), g.float32("rmsnorm.dw"), 1e-6, 1e-5, "rmsnorm dw");
    arena.reset(mark);
  });

  it.each(ACTS)("activation derivative golden %s on -6..6", (name, code) => {
    const { arena, k } = rt();
    const xs = g.float32("act.x");
    const n = xs.length;
    const mark = arena.mark();
    const x = arena.put(xs);
    const ones = arena.put(new Float32Array(n).fill(1));
    const dx = zeros(arena, n);
    k.activation_backward_f32(dx, ones, x, n, code);
    expectClose(arena.f32(dx, n), g.float32(`act.${name}.dy_dx`), 2e-7, 1e-5, name);
    k.zero_f32(dx, n);
    k.activation_backward_f32_ref(dx, ones, x, n, code);
    expectClose(arena.f32(dx, n), g.float32(`act.${name}.dy_dx`), 1e-9, 1e-6, `${name} ref`);
    arena.reset(mark);
  });

  it("cross-entropy golden (ignore index -100): loss, count and dlogits", () => {
    const { arena, k } = rt();
    const [R, V] = g.info("xent.logits").shape;
    const labelsv = Int32Array.from(g.float32("xent.labels"));
    const mark = arena.mark();
    const logits = arena.put(g.float32("xent.logits"));
    const labels = arena.put(labelsv);
    const loss = arena.allocF32(1);
    const dl = zeros(arena, R * V);
    for (const kernel of [k.cross_entropy_f32, k.cross_entropy_f32_ref]) {
      k.zero_f32(dl, R * V);
      const count = kernel(dl, loss, logits, labels, R, V, 1);
      expect(count).toBe(labelsv.filter((l) => l !== -100).length);
      expectClose(arena.f32(loss, 1), g.float32("xent.loss"), 0, 1e-6, "loss");
      expectClose(arena.f32(dl, R * V), g.float32("xent.dlogits"), 1e-8, 1e-5, "dlogits");
    }
    arena.reset(mark);
  });

  // ---- finite differences ----

  it.each(Object.entries(Epilogue))(
    "GEMM backward with epilogue %s matches finite differences",
    (epiName, epi) => {
      const { arena, k } = rt();
      const [M, K, N] = [5, 7, 9];
      const mark = arena.mark();
      const xv = normal(M * K, 11);
      const wv = normal(N * K, 12, 0.5);
      const bv = normal(N, 13, 0.5);
      const rv = normal(M * N, 14);
      const dyv = normal(M * N, 15);
      const [x, w, b, res, dY] = [xv, wv, bv, rv, dyv].map((a) => arena.put(a));
      const wp = arena.alloc(k.packed_size_f32(N, K));
      k.pack_weights_f32(wp, w, N, K);
      const [y, pre] = [arena.allocF32(M * N), arena.allocF32(M * N)];
      const dpre = zeros(arena, M * N);
      k.matmul_f32(y, pre, x, wp, b, res, M, K, N, epi);
      k.activation_backward_f32(dpre, dY, pre, M * N, epi);
      const [dx, dw, db] = [zeros(arena, M * K), zeros(arena, N * K), zeros(arena, N)];
      k.matmul_backward_f32(dx, dw, db, dpre, x, w, M, K, N);
      const [X, W, Bv, Rv] = [f64(xv), f64(wv), f64(bv), f64(rv)];
      const L = () => dot(dyv, gemm64(X, W, Bv, Rv, M, K, N, epi));
      expectGrad(arena.f32(dx, M * K), numericGrad(X, L), 2e-5, 1e-4, `${epiName} dx`);
      expectGrad(arena.f32(dw, N * K), numericGrad(W, L), 2e-5, 1e-4, `${epiName} dw`);
      expectGrad(arena.f32(db, N), numericGrad(Bv, L), 2e-5, 1e-4, `${epiName} db`);
      arena.reset(mark);
    },
  );

  it.each([
    { B: 2, H: 2, Tq: 5, Tk: 5, D: 3, kind: MaskKind.none, prefix: 0, pad: true },
    { B: 2, H: 2, Tq: 5, Tk: 5, D: 3, kind: MaskKind.causal, prefix: 0, pad: false },
    { B: 2, H: 2, Tq: 3, Tk: 6, D: 5, kind: MaskKind.causal, prefix: 0, pad: true },
    { B: 1, H: 3, Tq: 6, Tk: 6, D: 3, kind: MaskKind.prefix, prefix: 2, pad: true },
    { B: 2, H: 1, Tq: 4, Tk: 7, D: 5, kind: MaskKind.none, prefix: 0, pad: false },
  ])("attention backward with bias, $Tq×$Tk D=$D kind=$kind pad=$pad, matches finite differences", (s) => {
    const { arena, k } = rt();
    const { B, H, Tq, Tk, D } = s;
    const C = H * D;
    const mark = arena.mark();
    const qv = normal(B * Tq * C, 21);
    const kv = normal(B * Tk * C, 22);
    const vv = normal(B * Tk * C, 23);
    const biasv = normal(H * Tq * Tk, 24);
    const dov = normal(B * Tq * C, 25);
    const km = new Int32Array(B * Tk).fill(1);
    if (s.pad) for (let b = 0; b < B; b++) for (let j = Tk - 1 - b; j < Tk; j++) km[b * Tk + j] = 0;
    const [q, kk, v, bias, dout] = [qv, kv, vv, biasv, dov].map((a) => arena.put(a));
    const keyMask = arena.put(km);
    const scale = 0.7;
    const out = arena.allocF32(B * Tq * C);
    const probs = arena.allocF32(B * H * Tq * Tk);
    const st = [Tq * C, C, Tk * C, C, Tk * C, C, Tq * C, C] as const;
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
      s.kind,
      s.prefix,
      ...st,
    );
    const [dq, dk, dv] = [zeros(arena, B * Tq * C), zeros(arena, B * Tk * C), zeros(arena, B * Tk * C)];
    const dbias = zeros(arena, H * Tq * Tk);
    const scratch = arena.alloc(k.attention_backward_scratch_size(Tq, Tk, D));
    k.attention_backward_f32(
      dq,
      dk,
      dv,
      dbias,
      probs,
      scratch,
      q,
      kk,
      v,
      dout,
      B,
      H,
      Tq,
      Tk,
      D,
      scale,
      ...st,
    );
    const [Q, Kt, Vt, Bi] = [f64(qv), f64(kv), f64(vv), f64(biasv)];
    const L = () => dot(dov, attention64(Q, Kt, Vt, Bi, km, s, scale));
    expectGrad(arena.f32(dq, B * Tq * C), numericGrad(Q, L), 2e-5, 1e-4, "dq");
    expectGrad(arena.f32(dk, B * Tk * C), numericGrad(Kt, L), 2e-5, 1e-4, "dk");
    expectGrad(arena.f32(dv, B * Tk * C), numericGrad(Vt, L), 2e-5, 1e-4, "dv");
    expectGrad(arena.f32(dbias, H * Tq * Tk), numericGrad(Bi, L), 2e-5, 1e-4, "dbias");
    arena.reset(mark);
  });

  it.each([
    [3, 13],
    [2, 1],
    [4, 66],
  ])("LayerNorm and RMSNorm backward R=%i C=%i match finite differences", (R, C) => {
    const { arena, k } = rt();
    const mark = arena.mark();
    const xv = normal(R * C, 31, 2, 0.5);
    const wv = normal(C, 32, 1, 1);
    const bv = normal(C, 33);
    const dyv = normal(R * C, 34);
    const [x, w, b, dY] = [xv, wv, bv, dyv].map((a) => arena.put(a));
    const y = arena.allocF32(R * C);
    const [mean, rstd] = [arena.allocF32(R), arena.allocF32(R)];
    const [dx, dw, db] = [zeros(arena, R * C), zeros(arena, C), zeros(arena, C)];
    const [X, W, Bv] = [f64(xv), f64(wv), f64(bv)];
    // C = 1: LayerNorm's output is b whatever x (all gradients to x and w vanish); eps keeps it finite
    const eps = 1e-5;
    k.layernorm_f32(y, mean, rstd, x, w, b, R, C, eps);
    k.layernorm_backward_f32(dx, dw, db, mean, rstd, dY, x, w, R, C);
    let L = () => dot(dyv, layernorm64(X, W, Bv, R, C, eps, false));
    expectGrad(arena.f32(dx, R * C), numericGrad(X, L), 2e-5, 1e-4, "layernorm dx");
    expectGrad(arena.f32(dw, C), numericGrad(W, L), 2e-5, 1e-4, "layernorm dw");
    expectGrad(arena.f32(db, C), numericGrad(Bv, L), 2e-5, 1e-4, "layernorm db");
    for (const [p, n] of [
      [dx, R * C],
      [dw, C],
    ] as const)
      k.zero_f32(p, n);
    k.rmsnorm_f32(y, rstd, x, w, R, C, eps);
    k.rmsnorm_backward_f32(dx, dw, rstd, dY, x, w, R, C);
    L = () => dot(dyv, layernorm64(X, W, null, R, C, eps, true));
    expectGrad(arena.f32(dx, R * C), numericGrad(X, L), 2e-5, 1e-4, "rmsnorm dx");
    expectGrad(arena.f32(dw, C), numericGrad(W, L), 2e-5, 1e-4, "rmsnorm dw");
    arena.reset(mark);
  });

  it.each(ACTS)("activation %s backward matches finite differences", (name, code) => {
    const { arena, k } = rt();
    const n = 23;
    const mark = arena.mark();
    const xv = normal(n, 41, 2.5);
    const dyv = normal(n, 42);
    const [x, dY] = [arena.put(xv), arena.put(dyv)];
    const dx = zeros(arena, n);
    k.activation_backward_f32(dx, dY, x, n, code);
    const X = f64(xv);
    const L = () => X.reduce((a, v, i) => a + dyv[i] * act(v, code), 0);
    expectGrad(arena.f32(dx, n), numericGrad(X, L, 1e-6), 1e-6, 1e-5, name);
    arena.reset(mark);
  });

  it("gated-GELU backward over a fused [R, 2F] input matches finite differences", () => {
    const { arena, k } = rt();
    const [R, F] = [3, 7];
    const mark = arena.mark();
    const hv = normal(R * 2 * F, 51, 2);
    const dyv = normal(R * F, 52);
    const [h, dY] = [arena.put(hv), arena.put(dyv)];
    const dh = zeros(arena, R * 2 * F);
    k.gated_gelu_backward_f32(dh, dh + F * 4, dY, h, h + F * 4, R, F, 2 * F);
    const Hv = f64(hv);
    const L = () => {
      let s = 0;
      for (let r = 0; r < R; r++)
        for (let f = 0; f < F; f++) s += dyv[r * F + f] * geluTanh(Hv[r * 2 * F + f]) * Hv[r * 2 * F + F + f];
      return s;
    };
    expectGrad(arena.f32(dh, R * 2 * F), numericGrad(Hv, L), 1e-5, 1e-4, "gated gelu");
    arena.reset(mark);
  });

  it("embedding backward (repeated and out-of-range ids) matches finite differences", () => {
    const { arena, k } = rt();
    const [V, P, S, C] = [7, 6, 2, 5];
    const idsv = Int32Array.from([3, 6, 3, 0, 9, 3]); // 9 ≥ V: its row passes nothing
    const posv = Int32Array.from([0, 1, 2, 3, 4, 5]);
    const segv = Int32Array.from([0, 0, 1, 1, 0, 1]);
    const T = idsv.length;
    const mark = arena.mark();
    const dyv = normal(T * C, 61);
    const [ids, posIds, segIds, dY] = [idsv, posv, segv, dyv].map((a) => arena.put(a));
    const [dtok, dpos, dseg] = [zeros(arena, V * C), zeros(arena, P * C), zeros(arena, S * C)];
    expect(k.embed_backward_f32(dtok, dpos, dseg, dY, ids, posIds, segIds, T, C, V, P, S)).toBe(1);
    const [tok, pos, seg] = [normal(V * C, 62), normal(P * C, 63), normal(S * C, 64)].map(f64);
    const L = () => {
      let s = 0;
      for (let t = 0; t < T; t++) {
        if (idsv[t] >= V) continue;
        for (let c = 0; c < C; c++)
          s += dyv[t * C + c] * (tok[idsv[t] * C + c] + pos[posv[t] * C + c] + seg[segv[t] * C + c]);
      }
      return s;
    };
    expectGrad(arena.f32(dtok, V * C), numericGrad(tok, L), 1e-6, 1e-5, "dtok");
    expectGrad(arena.f32(dpos, P * C), numericGrad(pos, L), 1e-6, 1e-5, "dpos");
    expectGrad(arena.f32(dseg, S * C), numericGrad(seg, L), 1e-6, 1e-5, "dseg");
    arena.reset(mark);
  });

  it("cross-entropy dlogits (with ignored rows and a loss weight) match finite differences", () => {
    const { arena, k } = rt();
    const [R, V] = [5, 11];
    const labelsv = Int32Array.from([3, -100, 10, 0, -100]);
    const mark = arena.mark();
    const lv = normal(R * V, 71, 3);
    const [logits, labels] = [arena.put(lv), arena.put(labelsv)];
    const loss = arena.allocF32(1);
    const dl = zeros(arena, R * V);
    const weight = 0.75;
    expect(k.cross_entropy_f32(dl, loss, logits, labels, R, V, weight)).toBe(3);
    const Lg = f64(lv);
    expect(arena.f32(loss, 1)[0]).toBeCloseTo(xent64(Lg, labelsv, R, V), 6);
    const fd = numericGrad(Lg, () => weight * xent64(Lg, labelsv, R, V));
    expectGrad(arena.f32(dl, R * V), fd, 1e-6, 1e-5, "dlogits");
    arena.reset(mark);
  });

  it("backward kernels accumulate: a second call doubles the gradients", () => {
    const { arena, k } = rt();
    const [M, K, N] = [6, 10, 9];
    const mark = arena.mark();
    const [x, w, dY] = [normal(M * K, 1), normal(N * K, 2), normal(M * N, 3)].map((a) => arena.put(a));
    const [dx, dw, db] = [zeros(arena, M * K), zeros(arena, N * K), zeros(arena, N)];
    k.matmul_backward_f32(dx, dw, db, dY, x, w, M, K, N);
    const once = [arena.readF32(dx, M * K), arena.readF32(dw, N * K), arena.readF32(db, N)];
    k.matmul_backward_f32(dx, dw, db, dY, x, w, M, K, N);
    const twice = [arena.readF32(dx, M * K), arena.readF32(dw, N * K), arena.readF32(db, N)];
    for (let i = 0; i < 3; i++)
      expectClose(
        twice[i],
        once[i].map((v) => 2 * v),
        1e-6,
        1e-6,
        `grad ${i}`,
      );
    k.zero_f32(dw, N * K);
    expect(arena.f32(dw, N * K).every((v) => v === 0)).toBe(true);
    arena.reset(mark);
  });
});
