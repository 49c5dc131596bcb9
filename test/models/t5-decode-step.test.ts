// One-token decoding (T5Model.step / stepArgmax on the one-query attention kernel): past the exact
// relative-position buckets (40 steps > 16 exact distances, so the bias by distance reaches the
// logarithmic buckets) cached logits equal the uncached decode() on a padded batch, f32 and int8;
// stepArgmax gives the argmax of step()'s logits; greedy generation (wasm argmax) equals a greedy loop
// over step() logits.
import { beforeAll, describe, expect, it } from "vitest";
import { readConfig, readTensors } from "../../src/models/checkpoint-node.ts";
import { T5Model } from "../../src/models/t5.ts";
import { t5ConfigFromJson } from "../../src/models/t5-config.ts";
import { argmax, generateFromEncoded } from "../../src/models/t5-generate.ts";
import type { KernelRuntime } from "../../src/runtime/load.ts";
import { loadRuntime } from "../../src/runtime/node.ts";
import { fixturePath, readJsonFixture } from "../helpers/fixtures.ts";

let rt: KernelRuntime;
beforeAll(async () => {
  rt = await loadRuntime({ relaxed: false });
});

async function load(name: string, dtype: "f32" | "int8"): Promise<T5Model> {
  const dir = fixturePath(name);
  return new T5Model(rt, t5ConfigFromJson(await readConfig(dir)), await readTensors(dir), { dtype });
}

const inputs = () =>
  readJsonFixture<{ input_ids: number[][]; attention_mask: number[][] }>("t5_tiny_copy/generate_inputs.json");

describe.each([
  ["t5_tiny_copy", "f32"],
  ["t5_tiny_relu", "f32"],
  ["t5_tiny_copy", "int8"],
] as const)("%s %s", (name, dtype) => {
  it("40 cached steps equal decode() on a padded batch; stepArgmax = argmax(step)", async () => {
    const m = await load(name, dtype);
    const j = inputs();
    const B = j.input_ids.length;
    const T = j.input_ids[0].length;
    const ids = Int32Array.from(j.input_ids.flat());
    const mask = Int32Array.from(j.attention_mask.flat());
    expect(mask.includes(0)).toBe(true); // cross-attention key padding is exercised
    const V = m.config.vocabSize;
    const enc = m.encode(ids, mask, B, T).lastHiddenState;
    const Td = 40;
    const dec = Int32Array.from({ length: B * Td }, (_, i) => (i % Td === 0 ? 0 : (i * 37 + 11) % V));
    const full = m.decode(enc, mask, B, T, dec, Td).logits; // [B,Td,V]
    const a = m.createDecoderState(enc, mask, B, T, Td);
    const b = m.createDecoderState(enc, mask, B, T, Td);
    try {
      let worst = 0;
      for (let t = 0; t < Td; t++) {
        const tok = Int32Array.from({ length: B }, (_, r) => dec[r * Td + t]);
        const logits = m.step(a, tok); // [B,V]
        const picked = m.stepArgmax(b, tok); // [B]
        for (let r = 0; r < B; r++) {
          const got = logits.subarray(r * V, (r + 1) * V);
          const want = full.subarray((r * Td + t) * V, (r * Td + t + 1) * V);
          for (let v = 0; v < V; v++) worst = Math.max(worst, Math.abs(got[v] - want[v]));
          expect(picked[r]).toBe(argmax(got));
        }
      }
      // int8: a one-ulp difference in an activation row can move its int8 rounding (cached and uncached
      // rows are summed in different orders), so a few logits move by ~1e-2
      expect(worst).toBeLessThan(dtype === "f32" ? 1e-4 : 5e-2);
      expect(b.length).toBe(Td);
    } finally {
      b.dispose();
      a.dispose();
    }
  });
});

describe("greedy generation", () => {
  it("equals a greedy loop over step() logits, with padding after </s>", async () => {
    const m = await load("t5_tiny_copy", "f32");
    const j = inputs();
    const B = j.input_ids.length;
    const T = j.input_ids[0].length;
    const mask = Int32Array.from(j.attention_mask.flat());
    const hidden = m.encode(Int32Array.from(j.input_ids.flat()), mask, B, T).lastHiddenState;
    const N = 16;
    const got = generateFromEncoded(m, { hidden, mask, batch: B, seq: T }, { maxNewTokens: N }).sequences;
    const V = m.config.vocabSize;
    const want = Array.from({ length: B }, () => [0]);
    const done = new Array<boolean>(B).fill(false);
    const state = m.createDecoderState(hidden, mask, B, T, N);
    try {
      let cur = new Int32Array(B);
      for (let s = 0; s < N && !done.every(Boolean); s++) {
        const logits = m.step(state, cur);
        cur = Int32Array.from({ length: B }, (_, r) =>
          done[r] ? 0 : argmax(logits.subarray(r * V, (r + 1) * V)),
        );
        cur.forEach((t, r) => {
          want[r].push(t);
          if (t === 1) done[r] = true;
        });
      }
    } finally {
      state.dispose();
    }
    expect(got).toEqual(want);
    expect(got.some((s) => s.includes(1))).toBe(true);
  });
});
