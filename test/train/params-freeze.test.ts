// The parameter store's trainable mask (src/train/params.ts) and the optimizer state it saves
// (src/train/checkpoint.ts): frozen tensors keep their values bit for bit and have no AdamW state;
// trainable ones follow PyTorch's AdamW (checked against a float64 reference), each with its own step
// count, so a tensor unfrozen late starts its bias correction at 1; the gradient norm counts trainable
// gradients only; optimizer.safetensors holds only trainable tensors and loads back exactly.
import { beforeAll, describe, expect, it } from "vitest";
import { SafetensorsFile, writeSafetensors } from "../../src/io/safetensors.ts";
import type { KernelRuntime } from "../../src/runtime/load.ts";
import { loadRuntime } from "../../src/runtime/node.ts";
import { loadOptimizer, optimizerTensors } from "../../src/train/checkpoint.ts";
import { type AdamWOptions, hasWeightDecay, type ParamSpec, ParamStore } from "../../src/train/params.ts";
import { normal } from "../helpers/random.ts";

let rt: KernelRuntime;
beforeAll(async () => {
  rt = await loadRuntime();
});

// a store with interleaved decay / no-decay tensors, so runs of trainable tensors break in both groups
const SPECS: ParamSpec[] = [
  ["a.weight", [3, 4]],
  ["a.bias", [3]],
  ["b.weight", [5, 2]],
  ["b.LayerNorm.weight", [2]],
  ["c.weight", [4, 4]],
  ["c.bias", [4]],
  ["d.weight", [7]],
].map(([name, shape]) => ({
  name: name as string,
  shape: shape as number[],
  decay: hasWeightDecay(name as string),
}));
const OPT: AdamWOptions = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 };

function makeStore(): ParamStore {
  const p = new ParamStore(rt, SPECS);
  SPECS.forEach((s, i) => {
    p.set(s.name, normal(p.entry(s.name).size, 100 + i));
  });
  return p;
}

function setGrads(p: ParamStore, seed: number): void {
  p.entries().forEach((e, i) => {
    p.set(e.name, normal(e.size, seed * 31 + i), "grads");
  });
}

/** PyTorch AdamW on one tensor in float64: returns the new values, m, v. */
function adamwRef(
  x: Float32Array,
  g: Float32Array,
  m: Float64Array,
  v: Float64Array,
  step: number,
  wd: number,
  o: AdamWOptions,
): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    let p = x[i] * (1 - o.lr * wd);
    m[i] = o.beta1 * m[i] + (1 - o.beta1) * g[i];
    v[i] = o.beta2 * v[i] + (1 - o.beta2) * g[i] * g[i];
    const mh = m[i] / (1 - o.beta1 ** step);
    const vh = v[i] / (1 - o.beta2 ** step);
    p -= (o.lr * mh) / (Math.sqrt(vh) + o.eps);
    out[i] = p;
  }
  return out;
}

describe("ParamStore trainable mask", () => {
  it("trains everything by default (trainableCount = count)", () => {
    const p = makeStore();
    expect(p.trainableCount).toBe(p.count);
    expect(p.trainableNames()).toEqual(p.names());
    expect(p.names().every((n) => p.isTrainable(n))).toBe(true);
  });

  it("frozen tensors stay bit-identical with zero m and v; trainable ones follow AdamW", () => {
    const p = makeStore();
    const frozen = new Set(["a.bias", "b.weight", "c.weight"]);
    p.setTrainable((n) => !frozen.has(n));
    expect(p.trainableCount).toBe(p.count - 3 - 10 - 16);
    expect(p.isTrainable("a.weight")).toBe(true);
    expect(p.isTrainable("b.weight")).toBe(false);
    expect(() => p.isTrainable("nope")).toThrow(/no parameter nope/);
    const before = new Map(p.names().map((n) => [n, p.value(n)]));
    const ref = new Map(
      p
        .names()
        .map((n) => [
          n,
          { x: p.value(n), m: new Float64Array(p.entry(n).size), v: new Float64Array(p.entry(n).size) },
        ]),
    );
    for (let step = 1; step <= 3; step++) {
      setGrads(p, step);
      for (const n of p.names()) {
        if (frozen.has(n)) continue;
        const r = ref.get(n)!;
        const wd = p.entry(n).decay ? OPT.weightDecay : 0;
        r.x = Float32Array.from(adamwRef(r.x, p.gradient(n), r.m, r.v, step, wd, OPT));
      }
      p.adamwStep(OPT);
    }
    for (const n of p.names()) {
      if (frozen.has(n)) {
        expect(Buffer.from(p.value(n).buffer)).toEqual(Buffer.from(before.get(n)!.buffer));
        expect(p.view(n, "m").every((x) => x === 0)).toBe(true);
        expect(p.view(n, "v").every((x) => x === 0)).toBe(true);
        expect(p.tensorStep(n)).toBe(0);
      } else {
        const got = p.value(n);
        const want = ref.get(n)!.x;
        for (let i = 0; i < got.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-6);
        expect(got.some((x, i) => x !== before.get(n)![i])).toBe(true);
        expect(p.tensorStep(n)).toBe(3);
      }
    }
    expect(p.step).toBe(3);
  });

  it("scaleByRms: each tensor's lr is lr · max(1e-3, RMS of the tensor before the step) (Adafactor's scale_parameter)", () => {
    const p = makeStore();
    // one tiny tensor, so the 1e-3 floor applies to it
    p.set(
      "d.weight",
      normal(7, 5).map((x) => x * 1e-5),
    );
    p.setTrainable((n) => n !== "b.weight");
    const ref = new Map(
      p
        .names()
        .map((n) => [
          n,
          { x: p.value(n), m: new Float64Array(p.entry(n).size), v: new Float64Array(p.entry(n).size) },
        ]),
    );
    const o: AdamWOptions = { ...OPT, scaleByRms: true };
    for (let step = 1; step <= 3; step++) {
      setGrads(p, step);
      for (const n of p.names()) {
        if (n === "b.weight") continue;
        const r = ref.get(n)!;
        const rms = Math.sqrt(r.x.reduce((a, x) => a + x * x, 0) / r.x.length);
        const scaled = { ...OPT, lr: OPT.lr * Math.max(1e-3, rms) };
        const wd = p.entry(n).decay ? OPT.weightDecay : 0;
        r.x = Float32Array.from(adamwRef(r.x, p.gradient(n), r.m, r.v, step, wd, scaled));
      }
      p.adamwStep(o);
    }
    for (const n of p.names()) {
      if (n === "b.weight") continue;
      const got = p.value(n);
      const want = ref.get(n)!.x;
      const rms = Math.sqrt(want.reduce((a, x) => a + x * x, 0) / want.length);
      for (let i = 0; i < got.length; i++)
        expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-6 * Math.max(rms, 1e-3));
    }
    // the floor: d.weight (RMS ~1e-5) moved by about 3 · lr · 1e-3 per element, not lr · 1e-5
    const moved = p.value("d.weight").map((x, i) => Math.abs(x - normal(7, 5)[i] * 1e-5));
    expect(Math.max(...moved)).toBeGreaterThan(1e-5);
    expect(Math.max(...moved)).toBeLessThan(3.01 * OPT.lr * 1e-3);
  });

  it("the gradient norm and clipping count trainable gradients only", () => {
    const p = makeStore();
    setGrads(p, 7);
    const all = Math.sqrt(p.names().reduce((s, n) => s + p.gradient(n).reduce((a, g) => a + g * g, 0), 0));
    expect(p.gradNorm()).toBeCloseTo(all, 4);
    p.setTrainable((n) => n.startsWith("c.") || n === "a.weight");
    const want = Math.sqrt(
      ["c.weight", "c.bias", "a.weight"].reduce(
        (s, n) => s + p.gradient(n).reduce((a, g) => a + g * g, 0),
        0,
      ),
    );
    expect(p.gradNorm()).toBeCloseTo(want, 4);
    // huge gradients on frozen tensors must not change anything
    p.set("b.weight", new Float32Array(10).fill(1e6), "grads");
    expect(p.gradNorm()).toBeCloseTo(want, 4);
    expect(p.clipScale(want / 2).scale).toBeCloseTo(0.5, 5);
  });

  it("a tensor unfrozen later starts its own bias correction at step 1 (as PyTorch's per-parameter state)", () => {
    const p = makeStore();
    const fresh = makeStore();
    p.setTrainable((n) => n !== "c.weight");
    for (let s = 1; s <= 4; s++) {
      setGrads(p, s);
      p.adamwStep(OPT);
    }
    p.setTrainable(() => true);
    expect(p.tensorStep("c.weight")).toBe(0);
    expect(p.tensorStep("a.weight")).toBe(4);
    setGrads(p, 9);
    setGrads(fresh, 9);
    p.adamwStep(OPT);
    fresh.adamwStep(OPT); // fresh's first step: the reference for c.weight's first step
    expect(Buffer.from(p.value("c.weight").buffer)).toEqual(Buffer.from(fresh.value("c.weight").buffer));
    expect(p.tensorStep("c.weight")).toBe(1);
    expect(p.tensorStep("a.weight")).toBe(5);
  });

  it("freezing a trained tensor drops its optimizer state", () => {
    const p = makeStore();
    setGrads(p, 1);
    p.adamwStep(OPT);
    expect(p.view("a.weight", "m").some((x) => x !== 0)).toBe(true);
    p.setTrainable((n) => n !== "a.weight");
    expect(p.view("a.weight", "m").every((x) => x === 0)).toBe(true);
    expect(p.view("a.weight", "v").every((x) => x === 0)).toBe(true);
    expect(p.tensorStep("a.weight")).toBe(0);
  });

  it("optimizer state files hold trainable tensors only and load back exactly", () => {
    const p = makeStore();
    p.setTrainable((n) => n !== "b.weight" && n !== "c.bias");
    for (let s = 1; s <= 2; s++) {
      setGrads(p, s);
      p.adamwStep(OPT);
    }
    p.setTrainable((n) => n !== "b.weight"); // c.bias unfrozen after 2 steps
    setGrads(p, 3);
    p.adamwStep(OPT);
    const tensors = optimizerTensors(p);
    expect(Object.keys(tensors).sort()).toEqual(
      [
        ...p.trainableNames().flatMap((n) => [`exp_avg.${n}`, `exp_avg_sq.${n}`]),
        "step",
        "step.c.bias",
      ].sort(),
    );
    const file = SafetensorsFile.parse(writeSafetensors(tensors), "optimizer.safetensors");
    expect(file.int64AsNumbers("step.c.bias")[0]).toBe(1);

    const q = makeStore();
    q.setTrainable((n) => n !== "b.weight");
    loadOptimizer(q, file);
    expect(q.step).toBe(3);
    for (const n of q.names()) {
      expect(q.tensorStep(n)).toBe(p.tensorStep(n));
      expect(q.view(n, "m")).toEqual(p.view(n, "m"));
      expect(q.view(n, "v")).toEqual(p.view(n, "v"));
    }
    // with a mask that trains a tensor the file has no state for: a clear error
    const r = makeStore();
    expect(() => loadOptimizer(r, file)).toThrow(/no optimizer state for 1 trainable tensors \(b\.weight\)/);
  });
});
