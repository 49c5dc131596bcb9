// Tests for the perf-manifest weight generator (src/io/manifest-weights.ts) against the manifest's own
// `check` values, and that generating bert-minilm-l6 yields exactly the manifest's names and shapes.
import { describe, expect, it } from "vitest";
import {
  fillParam,
  generateParam,
  generateWeights,
  shapeSize,
  type WeightsManifest,
} from "../../src/io/manifest-weights.ts";
import { readJsonFixture } from "../helpers/fixtures.ts";

const manifest = readJsonFixture<WeightsManifest>("perf/bert-minilm-l6/weights_manifest.json");

/** Plain restatement of the README formula with BigInt arithmetic, as an independent reference. */
function referenceValue(i: number, seed: number, offset: number, scale: number): number {
  const M = 0xffffffffn;
  let x = (BigInt(i) + BigInt(seed) * 0x9e3779b9n) & M;
  x ^= x >> 16n;
  x = (x * 0x85ebca6bn) & M;
  x ^= x >> 13n;
  x = (x * 0xc2b2ae35n) & M;
  x ^= x >> 16n;
  return Math.fround(offset + scale * (Number(x >> 8n) / 2 ** 23 - 1));
}

describe("manifest weight generator", () => {
  it("matches the manifest's check values exactly (as float32)", () => {
    const check = manifest.check!;
    const a = generateParam({ shape: [4], seed: 0, offset: 0, scale: 1 });
    expect(Array.from(a)).toEqual(check.seed0_first4_unit.map(Math.fround));
    const b = generateParam({ shape: [3], seed: 123456, offset: 0, scale: 1 });
    expect(Array.from(b)).toEqual(check.seed123456_first3_unit.map(Math.fround));
  });

  it("agrees with a BigInt restatement of the formula, including offset and scale", () => {
    for (const [seed, offset, scale] of [
      [7, 1, 0.1],
      [2 ** 31 + 5, 0, 0.05],
      [99, -0.25, 0.02],
    ]) {
      const got = generateParam({ shape: [3, 11], seed, offset, scale });
      for (let i = 0; i < got.length; i++) expect(got[i]).toBe(referenceValue(i, seed, offset, scale));
    }
  });

  it("fills chunks that agree with the whole parameter", () => {
    const p = { shape: [1000], seed: 42, offset: 0.5, scale: 0.3 };
    const whole = generateParam(p);
    const tail = fillParam(new Float32Array(300), p, 700);
    expect(tail).toEqual(whole.subarray(700));
  });

  it("generates all of bert-minilm-l6 with the manifest's names and shapes", () => {
    const weights = generateWeights(manifest);
    expect([...weights.keys()]).toEqual(manifest.params.map((p) => p.name));
    let total = 0;
    for (const p of manifest.params) {
      const t = weights.get(p.name)!;
      expect(t.shape, p.name).toEqual(p.shape);
      expect(t.data.length, p.name).toBe(shapeSize(p.shape));
      total += t.data.length;
      // values lie in [offset - scale, offset + scale) and the first one follows the formula
      expect(t.data[0], p.name).toBe(referenceValue(0, p.seed, p.offset, p.scale));
      let lo = Infinity;
      let hi = -Infinity;
      for (const v of t.data) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      expect(lo, p.name).toBeGreaterThanOrEqual(Math.fround(p.offset - p.scale));
      expect(hi, p.name).toBeLessThanOrEqual(Math.fround(p.offset + p.scale));
    }
    expect(total).toBe(22_713_216);
    expect(weights.get("embeddings.word_embeddings.weight")!.shape).toEqual([30522, 384]);
  });
});
