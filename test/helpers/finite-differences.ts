// Gradient checks by central finite differences, shared by the trainer gradient tests: against a float64
// reference loss L (of parameters by name), along random directions of the whole parameter vector and at
// single entries of every tensor; and against the trainer's own f32 loss along one direction (Richardson
// extrapolation over h = 4e-4 and 2e-4, for smooth models). Each asserts and returns its worst relative
// error. `g` is the trainer's gradient region [count], laid out as `params`.
import { expect } from "vitest";
import type { ParamStore } from "../../src/train/params.ts";
import { normal, rng } from "./random.ts";

export type Params64 = Map<string, Float64Array>;
type Loss64 = (p: Params64) => number;

/** (L(θ + hu) − L(θ − hu)) / 2h against g·u for `seeds.length` random directions u; relative error ≤ 1e-4. */
export function checkDirections(
  params: ParamStore,
  g: Float32Array,
  p64: Params64,
  L: Loss64,
  seeds: number[],
): number {
  let worst = 0;
  const h = 1e-6;
  seeds.forEach((seed, d) => {
    const u = Float64Array.from(normal(params.count, seed));
    let analytic = 0;
    for (let i = 0; i < g.length; i++) analytic += g[i] * u[i];
    const shifted = (sign: number) =>
      new Map([...p64].map(([n, v]) => [n, v.map((x, i) => x + sign * h * u[params.entry(n).offset + i])]));
    const numeric = (L(shifted(1)) - L(shifted(-1))) / (2 * h);
    const rel = Math.abs(numeric - analytic) / Math.abs(analytic);
    expect(rel, `direction ${d}: ${numeric} vs ${analytic}`).toBeLessThanOrEqual(1e-4);
    worst = Math.max(worst, rel);
  });
  return worst;
}

/**
 * `perTensor` entries of every tensor (preferring entries with a nonzero gradient: e.g. a
 * relative_attention_bias row of a bucket no pair reaches has none; after 100 draws a zero one is
 * checked too); |numeric − g| ≤ 1e-3·|g| + 1e-6.
 */
export function checkEntries(
  params: ParamStore,
  g: Float32Array,
  p64: Params64,
  L: Loss64,
  seed: number,
  perTensor = 4,
): number {
  const r = rng(seed);
  let worst = 0;
  for (const e of params.entries()) {
    const t = p64.get(e.name)!;
    for (let j = 0; j < perTensor; j++) {
      let idx = Math.floor(r() * e.size);
      for (let tries = 0; g[e.offset + idx] === 0 && tries < 100; tries++) idx = Math.floor(r() * e.size);
      const h = 1e-6;
      const keep = t[idx];
      t[idx] = keep + h;
      const plus = L(p64);
      t[idx] = keep - h;
      const minus = L(p64);
      t[idx] = keep;
      const numeric = (plus - minus) / (2 * h);
      const ga = g[e.offset + idx];
      expect(Math.abs(numeric - ga), `${e.name}[${idx}]: ${numeric} vs ${ga}`).toBeLessThanOrEqual(
        1e-3 * Math.abs(ga) + 1e-6,
      );
      if (ga !== 0) worst = Math.max(worst, Math.abs(numeric - ga) / Math.abs(ga));
    }
  }
  return worst;
}

/** The trainer's own f32 loss along one random direction (Richardson on h = 4e-4, 2e-4) against g·u, within 3e-3. */
export function checkF32Direction(
  params: ParamStore,
  g: Float32Array,
  lossWith: () => number,
  afterChange: () => void,
  seed: number,
): void {
  const view = () => params.rt.arena.f32(params.params, params.count);
  const theta = view().slice();
  const lossAt = (p: Float32Array) => {
    view().set(p);
    afterChange();
    return lossWith();
  };
  const u = normal(params.count, seed);
  const D = (h: number) =>
    (lossAt(theta.map((v, i) => v + h * u[i])) - lossAt(theta.map((v, i) => v - h * u[i]))) / (2 * h);
  const numeric = (4 * D(2e-4) - D(4e-4)) / 3;
  let analytic = 0;
  for (let i = 0; i < g.length; i++) analytic += g[i] * u[i];
  expect(Math.abs(numeric - analytic), `f32: ${numeric} vs ${analytic}`).toBeLessThanOrEqual(
    3e-3 * Math.abs(analytic),
  );
  lossAt(theta);
}
