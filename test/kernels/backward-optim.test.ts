// AdamW (assembly/optim.ts) against a float64 JavaScript transcription of torch.optim.AdamW over several
// steps (weight decay on and off, gradient scaling, odd lengths so the tail runs), against its `_ref`,
// and one real step on every bert_tiny parameter against PyTorch's own result; zero-grad and Σx².
import { beforeAll, describe, expect, it } from "vitest";
import { expectClose } from "../helpers/compare.ts";
import { readJsonFixture, readSafetensorsFixture } from "../helpers/fixtures.ts";
import { type Build, loadBuilds, relaxedSupported } from "../helpers/kernels.ts";
import { normal } from "../helpers/random.ts";

let builds: Build[] = [];
beforeAll(async () => {
  builds = await loadBuilds();
});
const BUILDS = relaxedSupported() ? ["simd", "debug", "relaxed"] : ["simd", "debug"];

interface AdamW {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  wd: number;
}

/** torch.optim.AdamW's update (amsgrad off, maximize off), in float64, in place. */
function adamwStep(
  p: Float64Array,
  m: Float64Array,
  v: Float64Array,
  grad: ArrayLike<number>,
  step: number,
  o: AdamW,
  gradScale = 1,
) {
  const bc1 = 1 - o.beta1 ** step;
  const bc2 = 1 - o.beta2 ** step;
  for (let i = 0; i < p.length; i++) {
    const g = grad[i] * gradScale;
    p[i] *= 1 - o.lr * o.wd;
    m[i] = o.beta1 * m[i] + (1 - o.beta1) * g;
    v[i] = o.beta2 * v[i] + (1 - o.beta2) * g * g;
    p[i] -= (o.lr * (m[i] / bc1)) / (Math.sqrt(v[i] / bc2) + o.eps);
  }
}

describe.each(BUILDS)("optimizer kernels, %s build", (buildName) => {
  const rt = () => builds.find((b) => b.name === buildName)!.rt;

  it.each([
    { n: 37, wd: 0.01, gradScale: 1 },
    { n: 37, wd: 0, gradScale: 1 },
    { n: 1, wd: 0.1, gradScale: 0.5 },
    { n: 1003, wd: 0.01, gradScale: 0.25 },
  ])(
    "AdamW n=$n wd=$wd gradScale=$gradScale follows PyTorch's formula over 5 steps",
    ({ n, wd, gradScale }) => {
      const { arena, k } = rt();
      const o: AdamW = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-6, wd };
      const mark = arena.mark();
      const p0 = normal(n, 1, 0.05);
      const [P, M, Vv] = [Float64Array.from(p0), new Float64Array(n), new Float64Array(n)];
      const kernels = [k.adamw_f32, k.adamw_f32_ref].map((kernel) => ({
        kernel,
        p: arena.put(p0),
        m: arena.put(new Float32Array(n)),
        v: arena.put(new Float32Array(n)),
      }));
      const grad = arena.allocF32(n);
      for (let step = 1; step <= 5; step++) {
        // gradients of mixed scales, including some far below eps
        const gv = normal(n, 100 + step, step === 3 ? 1e-8 : 0.02);
        arena.f32(grad, n).set(gv);
        adamwStep(P, M, Vv, gv, step, o, gradScale);
        for (const s of kernels) {
          s.kernel(s.p, s.m, s.v, grad, n, step, o.lr, o.beta1, o.beta2, o.eps, o.wd, gradScale);
          expectClose(arena.f32(s.p, n), P, 2e-8, 1e-6, `param step ${step}`);
          // m = β1·m + (1 − β1)·g cancels when g and m differ in sign: absolute floor at f32 precision of max|m|
          const maxAbs = (a: Float64Array) => a.reduce((x, y) => Math.max(x, Math.abs(y)), 0);
          expectClose(arena.f32(s.m, n), M, 1e-6 * maxAbs(M), 1e-5, `m step ${step}`);
          expectClose(arena.f32(s.v, n), Vv, 1e-6 * maxAbs(Vv), 1e-5, `v step ${step}`);
        }
      }
      arena.reset(mark);
    },
  );

  it("AdamW reproduces PyTorch's first step on every bert_tiny parameter (no decay on biases and LayerNorm)", () => {
    const { arena, k } = rt();
    const model = readSafetensorsFixture("bert_tiny/model.safetensors");
    const grads = readSafetensorsFixture("bert_tiny/pretrain_grads.safetensors");
    const after = readSafetensorsFixture("bert_tiny/pretrain_after_adamw_step.safetensors");
    const { adamw } = readJsonFixture<{
      adamw: { lr: number; betas: [number, number]; eps: number; weight_decay: number };
    }>("bert_tiny/pretrain_inputs.json");
    let worst = 0;
    for (const name of model.names()) {
      const mark = arena.mark();
      const pv = model.float32(name);
      const n = pv.length;
      const p = arena.put(pv);
      const m = arena.put(new Float32Array(n));
      const v = arena.put(new Float32Array(n));
      const grad = arena.put(grads.float32(name));
      const wd = name.endsWith("bias") || name.includes("LayerNorm") ? 0 : adamw.weight_decay;
      k.adamw_f32(p, m, v, grad, n, 1, adamw.lr, adamw.betas[0], adamw.betas[1], adamw.eps, wd, 1);
      const got = arena.f32(p, n);
      const expected = after.float32(name);
      expectClose(got, expected, 1e-7, 1e-6, name);
      for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(got[i] - expected[i]));
      arena.reset(mark);
    }
    expect(worst).toBeLessThan(1e-7);
  });

  it("zero_f32 clears exactly n floats; sumsq_f32 is Σx² in float64", () => {
    const { arena, k } = rt();
    const mark = arena.mark();
    for (const n of [1, 3, 1027, 5000]) {
      const xv = normal(n + 2, n);
      const x = arena.put(xv);
      const expected = xv.subarray(0, n).reduce((a, v) => a + v * v, 0);
      expect(Math.abs(k.sumsq_f32(x, n) - expected) / expected).toBeLessThan(1e-6);
      k.zero_f32(x, n);
      const got = arena.f32(x, n + 2);
      expect(got.subarray(0, n).every((v) => v === 0)).toBe(true);
      expect(got[n]).toBe(xv[n]);
    }
    arena.reset(mark);
  });
});
