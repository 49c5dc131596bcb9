// Our int8 checkpoint format in its two schemes (quantize.ts): which scheme each architecture gets, the
// "<name>_mult" block multipliers next to "<name>_scale", old per-row T5 checkpoints still loading, shape
// and range checks with clear errors, stacked int8 weights equal to their parts, and stale side tensors
// of a weight an overlay made f32 being rewritten rather than passed through.
import { beforeAll, describe, expect, it } from "vitest";
import { type TensorInput, writeSafetensors } from "../../src/io/safetensors.ts";
import { readConfig, readTensors } from "../../src/models/checkpoint-node.ts";
import { Linear } from "../../src/models/linear.ts";
import {
  dequantize,
  QBLOCK,
  quantizeCheckpoint,
  quantizeWeight,
  readQuantized,
} from "../../src/models/quantize.ts";
import { T5Model } from "../../src/models/t5.ts";
import { t5ConfigFromJson } from "../../src/models/t5-config.ts";
import { CheckpointError, TensorStore } from "../../src/models/tensors.ts";
import { Epilogue } from "../../src/runtime/kernels.ts";
import type { KernelRuntime } from "../../src/runtime/load.ts";
import { loadRuntime } from "../../src/runtime/node.ts";
import { cosine } from "../helpers/compare.ts";
import { fixturePath, readJsonFixture } from "../helpers/fixtures.ts";
import { normal } from "../helpers/random.ts";

let rt: KernelRuntime;
let t5: TensorStore;
beforeAll(async () => {
  rt = await loadRuntime({ relaxed: false });
  t5 = await readTensors(fixturePath("t5_tiny_relu"));
});

const storeOf = (tensors: Record<string, TensorInput>, metadata?: Record<string, string>) =>
  TensorStore.fromBytes([{ bytes: writeSafetensors(tensors, metadata), name: "model.safetensors" }]);

/** A written tensor's values. */
const values = (t: TensorInput) => Array.from(t.data as unknown as ArrayLike<number>);

/** The store's tensors as writable inputs (all of them, their own dtypes). */
function tensorsOf(store: TensorStore): Record<string, TensorInput> {
  const out: Record<string, TensorInput> = {};
  for (const n of store.names()) {
    const dtype = store.dtype(n);
    const data = dtype === "I8" ? store.int8(n) : store.float32(n);
    out[n] = { dtype: dtype === "I8" ? "I8" : "F32", shape: store.shape(n), data };
  }
  return out;
}

describe("int8 checkpoint schemes", () => {
  it("keeps adapter weights f32 (adapters run in f32 inside int8 models)", () => {
    const C = 8;
    const r = 4;
    const tensors: Record<string, TensorInput> = {
      "bert.encoder.layer.0.output.dense.weight": {
        dtype: "F32",
        shape: [C, C],
        data: new Float32Array(C * C).fill(0.5),
      },
      "bert.encoder.layer.0.output.adapter.down.weight": {
        dtype: "F32",
        shape: [r, C],
        data: new Float32Array(r * C).fill(0.1),
      },
      "bert.encoder.layer.0.output.adapter.up.weight": {
        dtype: "F32",
        shape: [C, r],
        data: new Float32Array(C * r),
      },
    };
    const q = quantizeCheckpoint(rt, storeOf(tensors)).tensors;
    expect(q["bert.encoder.layer.0.output.dense.weight"].dtype).toBe("I8");
    expect(q["bert.encoder.layer.0.output.adapter.down.weight"].dtype).toBe("F32");
    expect(q["bert.encoder.layer.0.output.adapter.up.weight"].dtype).toBe("F32");
    expect(q["bert.encoder.layer.0.output.adapter.down.weight_scale"]).toBeUndefined();
  });

  it("T5: block scheme (I8 multipliers per 8 columns) for the table and encoder, one scale per row for the decoder; BERT one scale per row", async () => {
    const { tensors, metadata } = quantizeCheckpoint(rt, t5);
    const q = storeOf(tensors, metadata);
    for (const n of [
      "decoder.block.1.layer.2.DenseReluDense.wo.weight",
      "decoder.block.0.layer.1.EncDecAttention.k.weight",
    ]) {
      expect(q.dtype(n)).toBe("I8");
      expect(q.has(`${n}_mult`)).toBe(false);
    }
    for (const n of [
      "shared.weight",
      "encoder.block.0.layer.0.SelfAttention.q.weight",
      "encoder.block.1.layer.1.DenseReluDense.wo.weight",
    ]) {
      const [N, K] = q.shape(n);
      expect(q.dtype(n)).toBe("I8");
      expect(q.shape(`${n}_scale`)).toEqual([N]);
      expect(q.dtype(`${n}_mult`)).toBe("I8");
      expect(q.shape(`${n}_mult`)).toEqual([N, Math.ceil(K / QBLOCK)]);
      const m = q.int8(`${n}_mult`);
      expect(Math.min(...m)).toBeGreaterThanOrEqual(1);
      expect(Math.max(...m)).toBeLessThanOrEqual(16);
      expect(new Set(m).size).toBeGreaterThan(3); // the blocks really get different steps
    }
    expect(q.dtype("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight")).toBe("F32");
    expect(metadata["edgeformer.quantization"]).toMatch(/multiplier/);
    // the explicit row scheme, and BERT by default, write no multipliers
    const rowNames = Object.keys(quantizeCheckpoint(rt, t5, { scheme: "row" }).tensors);
    expect(rowNames.filter((n) => n.endsWith("_mult"))).toEqual([]);
    const bert = quantizeCheckpoint(rt, await readTensors(fixturePath("bert_tiny")));
    expect(Object.keys(bert.tensors).filter((n) => n.endsWith("_mult"))).toEqual([]);
    expect(bert.metadata["edgeformer.quantization"]).toBe("symmetric per-row int8");
    // an int8 checkpoint passes through unchanged
    const again = quantizeCheckpoint(rt, q);
    expect(Object.keys(again.tensors).sort()).toEqual(Object.keys(tensors).sort());
    expect(values(again.tensors["shared.weight_mult"])).toEqual(Array.from(q.int8("shared.weight_mult")));
  });

  it("block weights dequantize to q·unit·multiplier, closer to f32 than one scale per row", () => {
    const name = "decoder.block.0.layer.0.SelfAttention.v.weight";
    const w = t5.float32(name);
    const [N, K] = t5.shape(name);
    const b = quantizeWeight(rt, w, N, K, "block");
    const r = quantizeWeight(rt, w, N, K, "row");
    const db = dequantize(b, N, K);
    const n = 5;
    const c = 21;
    expect(db[n * K + c]).toBe(
      Math.fround(b.q[n * K + c] * Math.fround(b.scales[n] * b.mults![n * (K / 8) + Math.floor(c / 8)])),
    );
    const err = (d: Float32Array) => d.reduce((e, v, i) => e + (v - w[i]) ** 2, 0);
    expect(err(db)).toBeLessThan(err(dequantize(r, N, K)) / 2);
  });

  it("an old per-row T5 int8 checkpoint still loads (per-row kernels) with logits cosine ≥ 0.998", async () => {
    const dir = fixturePath("t5_tiny_relu");
    const config = t5ConfigFromJson(await readConfig(dir));
    const j = readJsonFixture<{
      input_ids: number[][];
      attention_mask: number[][];
      decoder_input_ids: number[][];
    }>("t5_tiny_relu/seq2seq_inputs.json");
    const input = {
      inputIds: Int32Array.from(j.input_ids.flat()),
      attentionMask: Int32Array.from(j.attention_mask.flat()),
      batch: j.input_ids.length,
      seq: j.input_ids[0].length,
      decoderInputIds: Int32Array.from(j.decoder_input_ids.flat()),
      decoderSeq: j.decoder_input_ids[0].length,
    };
    const mark = rt.arena.mark();
    const f32 = new T5Model(rt, config, t5).forward(input).logits.slice();
    const { tensors, metadata } = quantizeCheckpoint(rt, t5, { scheme: "row" });
    const old = new T5Model(rt, config, storeOf(tensors, metadata), { dtype: "int8" });
    const got = old.forward(input).logits;
    const blockModel = new T5Model(rt, config, t5, { dtype: "int8" });
    const V = config.vocabSize;
    let minCos = 1;
    for (let r = 0; r < f32.length / V; r++)
      minCos = Math.min(minCos, cosine(f32.subarray(r * V, (r + 1) * V), got.subarray(r * V, (r + 1) * V)));
    expect(minCos).toBeGreaterThanOrEqual(0.998);
    expect(minCos).toBeLessThan(0.9995); // one scale per row: measurably coarser than the block scheme
    expect(old.weightBytes).toBeLessThan(blockModel.weightBytes); // no multipliers
    rt.arena.reset(mark);
  });

  it("rejects mis-shaped scales and multipliers, and multipliers that could overflow", () => {
    const name = "encoder.block.0.layer.0.SelfAttention.o.weight";
    const base = tensorsOf(storeOf(quantizeCheckpoint(rt, t5).tensors));
    const [N, K] = base[name].shape;
    const bad = (edit: (t: Record<string, TensorInput>) => void) => {
      const t = { ...base };
      edit(t);
      return storeOf(t);
    };
    expect(() =>
      readQuantized(
        bad((t) => delete t[`${name}_scale`]),
        name,
      ),
    ).toThrow(/_scale is missing/);
    const shortScale = bad((t) => {
      t[`${name}_scale`] = { dtype: "F32", shape: [N - 1], data: new Float32Array(N - 1) };
    });
    expect(() => readQuantized(shortScale, name)).toThrow(CheckpointError);
    expect(() => readQuantized(shortScale, name)).toThrow(/_scale is \[63\], expected \[64\]/);
    const wideMult = bad((t) => {
      t[`${name}_mult`] = { dtype: "I8", shape: [N, K / 4], data: new Int8Array((N * K) / 4).fill(1) };
    });
    expect(() => readQuantized(wideMult, name)).toThrow(/_mult is I8 \[64,16\], expected I8 \[64,8\]/);
    const big = new Int8Array(N * (K / 8)).fill(2);
    big[3 * 8 + 5] = 40;
    const overflow = bad((t) => {
      t[`${name}_mult`] = { dtype: "I8", shape: [N, K / 8], data: big };
    });
    const w = readQuantized(overflow, name);
    expect(() => Linear.fromInt8(rt, w.q, w.scales, undefined, N, K, w.mults)).toThrow(
      /block multiplier 40 \(row 3, block 5\) is outside 1…16 for K=64/,
    );
    const config = t5ConfigFromJson({
      d_model: 64,
      d_kv: 16,
      d_ff: 128,
      num_layers: 2,
      num_heads: 4,
      vocab_size: 1100,
    });
    expect(() => new T5Model(rt, config, overflow, { dtype: "int8" })).toThrow(/outside 1…16/);
    // a "_mult" of a tensor the model does not have is reported like any unexpected tensor
    const stray = bad((t) => {
      t["encoder.block.0.layer.0.SelfAttention.x.weight_mult"] = base[`${name}_mult`];
    });
    expect(() => new T5Model(rt, config, stray, { dtype: "int8" })).toThrow(
      /unexpected tensors: .*x\.weight_mult/,
    );
  });

  it("stacked int8 weights (block or row) compute exactly what their parts compute", () => {
    const p = "decoder.block.1.layer.0.SelfAttention";
    const names = [`${p}.q.weight`, `${p}.k.weight`, `${p}.v.weight`];
    const M = 5;
    const C = 64;
    for (const scheme of ["block", "row"] as const) {
      const q = storeOf(quantizeCheckpoint(rt, t5, { scheme }).tensors);
      const mark = rt.arena.mark();
      const x = rt.arena.put(normal(M * C, 7));
      const all = Linear.stacked(rt, q, names, C, "int8");
      expect(all.blockScaled).toBe(scheme === "block");
      const y = rt.arena.allocF32(M * 3 * C);
      all.forward(y, x, M, Epilogue.bias);
      const got = rt.arena.f32(y, M * 3 * C).slice();
      names.forEach((n, j) => {
        const one = Linear.load(rt, q, n, "int8");
        const yj = rt.arena.allocF32(M * C);
        one.forward(yj, x, M, Epilogue.bias);
        const part = rt.arena.f32(yj, M * C);
        for (let m = 0; m < M; m++)
          expect(Array.from(got.subarray(m * 3 * C + j * C, m * 3 * C + (j + 1) * C))).toEqual(
            Array.from(part.subarray(m * C, (m + 1) * C)),
          );
      });
      rt.arena.reset(mark);
    }
  });

  it("rewrites the scales and multipliers of a weight an overlay made f32 (stale ones are dropped)", () => {
    const name = "encoder.block.1.layer.1.DenseReluDense.wo.weight";
    const q = tensorsOf(storeOf(quantizeCheckpoint(rt, t5).tensors));
    const fresh = t5.float32(name).map((v) => v * 3);
    q[name] = { dtype: "F32", shape: t5.shape(name), data: fresh }; // replaced, old side tensors left behind
    const out = quantizeCheckpoint(rt, storeOf(q)).tensors;
    const [N, K] = t5.shape(name);
    const expected = quantizeWeight(rt, fresh, N, K, "block");
    expect(values(out[`${name}_mult`])).toEqual(Array.from(expected.mults!));
    expect(values(out[`${name}_scale`])).toEqual(Array.from(expected.scales));
    expect(values(out[name])).toEqual(Array.from(expected.q));
  });
});
