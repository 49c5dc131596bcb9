// Houlsby adapters in BERT (src/models/adapters.ts, bert.ts, src/train/bert-train.ts): the adapter
// format helpers (sublayers, config validation, base check, overlay); a fresh adapter leaves the
// inference outputs unchanged (f32 and int8); a trained-looking adapter changes them, and the training
// forward agrees with the inference model; gradients through adapters against finite differences; and
// frozen parameters: their gradients are skipped (zero) while the trainable ones are bit-identical to a
// full backward's.
import { beforeAll, describe, expect, it } from "vitest";
import { type TensorInput, writeSafetensors } from "../../src/io/safetensors.ts";
import {
  ADAPTER_FORMAT,
  adaptedConfig,
  adapterSublayers,
  checkAdapterBase,
  initAdapterTensor,
  isAdapterTensor,
  overlayTensors,
  readAdapterConfig,
} from "../../src/models/adapters.ts";
import { BertModel } from "../../src/models/bert.ts";
import { type BertConfig, bertConfigFromJson } from "../../src/models/bert-config.ts";
import { readConfig, readTensors } from "../../src/models/checkpoint-node.ts";
import { TensorStore } from "../../src/models/tensors.ts";
import type { KernelRuntime } from "../../src/runtime/load.ts";
import { loadRuntime } from "../../src/runtime/node.ts";
import { type BertBatch, BertTrainer } from "../../src/train/bert-train.ts";
import { fixturePath } from "../helpers/fixtures.ts";
import { normal, rng } from "../helpers/random.ts";

let rt: KernelRuntime;
let baseConfig: Record<string, unknown>;
let base: TensorStore;
beforeAll(async () => {
  rt = await loadRuntime();
  baseConfig = await readConfig(fixturePath("bert_tiny"));
  base = await readTensors(fixturePath("bert_tiny"));
});

const store = (tensors: Record<string, Float32Array>, shapes: Record<string, number[]>): TensorStore => {
  const input: Record<string, TensorInput> = {};
  for (const [n, data] of Object.entries(tensors)) input[n] = { dtype: "F32", shape: shapes[n], data };
  return TensorStore.fromBytes([{ bytes: writeSafetensors(input), name: "adapter.safetensors" }]);
};

/** Adapter tensors for every BERT sublayer: fresh (identity) or with random up-projections too. */
function adapterStore(cfg: BertConfig, r: number, randomUp: boolean): TensorStore {
  const C = cfg.hiddenSize;
  const t: Record<string, Float32Array> = {};
  const shapes: Record<string, number[]> = {};
  let seed = 1;
  for (const sub of adapterSublayers({ modelType: "bert", numLayers: cfg.numLayers })) {
    for (const [n, shape] of [
      [`${sub}.adapter.down.weight`, [r, C]],
      [`${sub}.adapter.down.bias`, [r]],
      [`${sub}.adapter.up.weight`, [C, r]],
      [`${sub}.adapter.up.bias`, [C]],
    ] as [string, number[]][]) {
      const size = shape.reduce((a, b) => a * b, 1);
      t[n] = randomUp
        ? normal(size, seed++, n.includes("down.weight") ? 0.3 : 0.1)
        : initAdapterTensor(n, size, 7);
      shapes[n] = shape;
    }
  }
  return store(t, shapes);
}

function batchOf(B: number, T: number, V: number, seed: number): BertBatch {
  const r = rng(seed);
  const ids = Int32Array.from({ length: B * T }, () => 1 + Math.floor(r() * (V - 1)));
  const mask = new Int32Array(B * T).fill(1);
  for (let t = T - 3; t < T; t++) {
    mask[t] = 0;
    ids[t] = 0;
  }
  return { inputIds: ids, attentionMask: mask, batch: B, seq: T };
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

describe("adapter format helpers", () => {
  it("lists the sublayers of BERT (2 per layer) and T5 (2 per encoder block, 3 per decoder block)", () => {
    expect(adapterSublayers({ modelType: "bert", numLayers: 2 })).toEqual([
      "bert.encoder.layer.0.attention.output",
      "bert.encoder.layer.0.output",
      "bert.encoder.layer.1.attention.output",
      "bert.encoder.layer.1.output",
    ]);
    const t5 = adapterSublayers({ modelType: "t5", numLayers: 1, numDecoderLayers: 2 });
    expect(t5).toEqual([
      "encoder.block.0.layer.0",
      "encoder.block.0.layer.1",
      "decoder.block.0.layer.0",
      "decoder.block.0.layer.1",
      "decoder.block.0.layer.2",
      "decoder.block.1.layer.0",
      "decoder.block.1.layer.1",
      "decoder.block.1.layer.2",
    ]);
    expect(isAdapterTensor("encoder.block.0.layer.1.adapter.up.bias")).toBe(true);
    expect(isAdapterTensor("bert.encoder.layer.0.output.dense.weight")).toBe(false);
  });

  it("initializes as the identity: up and biases zero, down N(0, 0.02²), seeded by (seed, name)", () => {
    const n = "bert.encoder.layer.0.output.adapter.down.weight";
    const d = initAdapterTensor(n, 4000, 3);
    const mean = d.reduce((a, b) => a + b, 0) / d.length;
    const std = Math.sqrt(d.reduce((a, b) => a + (b - mean) ** 2, 0) / d.length);
    expect(Math.abs(mean)).toBeLessThan(0.002);
    expect(std).toBeGreaterThan(0.018);
    expect(std).toBeLessThan(0.022);
    expect(initAdapterTensor(n, 4000, 3)).toEqual(d);
    expect(initAdapterTensor(n, 4000, 4)).not.toEqual(d);
    expect(initAdapterTensor(n.replace("layer.0", "layer.1"), 4000, 3)).not.toEqual(d);
    for (const t of ["up.weight", "up.bias", "down.bias"])
      expect(initAdapterTensor(n.replace("down.weight", t), 50, 3).every((x) => x === 0)).toBe(true);
  });

  const good = () => ({
    format: ADAPTER_FORMAT,
    version: 1,
    model_type: "bert",
    bottleneck: 8,
    base: {
      vocab_size: 2000,
      hidden_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      intermediate_size: 256,
    },
    task: "sequence-classification",
    architectures: ["BertForSequenceClassification"],
    id2label: { 0: "neg", 1: "pos" },
    label2id: { neg: 0, pos: 1 },
    trained: ["bert.encoder.layer.0.output.adapter.down.weight", "classifier.weight"],
  });

  it("validates adapter_config.json with clear messages", () => {
    expect(readAdapterConfig(good()).bottleneck).toBe(8);
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ format: "peft" }, /format is "peft", expected "edgeformer-adapter"/],
      [{ version: 2 }, /version 2 is not supported/],
      [{ model_type: "gpt2" }, /model_type must be "bert" or "t5"/],
      [{ bottleneck: 0 }, /bottleneck must be an integer ≥ 1/],
      [{ base: { hidden_size: 64 } }, /base\.vocab_size is missing/],
      [{ trained: [] }, /trained must be a non-empty list/],
      [{ trained: ["classifier.weight"] }, /lists no adapter tensors/],
      [{ id2label: { 0: 3 } }, /id2label must map/],
    ];
    for (const [patch, re] of bad) expect(() => readAdapterConfig({ ...good(), ...patch })).toThrow(re);
    expect(() => readAdapterConfig([])).toThrow(/adapter_config\.json: not a JSON object/);
  });

  it("checks the base model and builds the adapted config", () => {
    const cfg = readAdapterConfig(good());
    expect(() => checkAdapterBase(cfg, baseConfig)).not.toThrow();
    expect(() => checkAdapterBase(cfg, { ...baseConfig, hidden_size: 32 })).toThrow(
      /does not match the base model: hidden_size 64 \(base: 32\)/,
    );
    expect(() => checkAdapterBase(cfg, { ...baseConfig, model_type: "t5" })).toThrow(
      /trained on a bert model but the base model is "t5"/,
    );
    const merged = adaptedConfig(baseConfig, cfg);
    expect(merged.architectures).toEqual(["BertForSequenceClassification"]);
    expect(merged.num_labels).toBe(2);
    expect(bertConfigFromJson(merged).id2label).toEqual(["neg", "pos"]);
  });

  it("overlays adapter tensors on the base, replacing trained ones; mismatches are errors", () => {
    const ln = "bert.encoder.layer.0.output.LayerNorm.weight";
    const top = store(
      { [ln]: new Float32Array(64).fill(2), "classifier.weight": new Float32Array(128) },
      { [ln]: [64], "classifier.weight": [2, 64] },
    );
    const o = overlayTensors(base, top);
    expect(o.float32(ln)[0]).toBe(2);
    expect(o.float32("bert.encoder.layer.1.output.LayerNorm.weight")).toEqual(
      base.float32("bert.encoder.layer.1.output.LayerNorm.weight"),
    );
    expect(o.has("classifier.weight")).toBe(true);
    expect(o.names().length).toBe(base.names().length + 1);
    const wrong = store({ [ln]: new Float32Array(32) }, { [ln]: [32] });
    expect(() => overlayTensors(base, wrong)).toThrow(
      /LayerNorm\.weight is \[32\] but \[64\] in the base model/,
    );
    // a classification head may replace the base's head of another size (other labels)
    const head3 = overlayTensors(
      base,
      store({ "classifier.weight": new Float32Array(192) }, { "classifier.weight": [3, 64] }),
    );
    const head2 = overlayTensors(
      head3,
      store({ "classifier.weight": new Float32Array(128) }, { "classifier.weight": [2, 64] }),
    );
    expect(head2.shape("classifier.weight")).toEqual([2, 64]);
    const alien = store({ "foo.weight": new Float32Array(2) }, { "foo.weight": [2] });
    expect(() => overlayTensors(base, alien)).toThrow(/foo\.weight is not in the base model/);
  });
});

describe("BERT inference with adapters", () => {
  it.each(["f32", "int8"] as const)(
    "a fresh adapter leaves every output unchanged (%s, within 1e-6)",
    (dtype) => {
      const cfg = bertConfigFromJson(baseConfig);
      const plain = new BertModel(rt, cfg, base, { dtype });
      const adapted = new BertModel(rt, cfg, overlayTensors(base, adapterStore(cfg, 16, false)), { dtype });
      expect(adapted.adapterBottleneck).toBe(16);
      expect(plain.adapterBottleneck).toBeUndefined();
      const input = batchOf(2, 12, cfg.vocabSize, 3);
      const wants = { hiddenStates: true, mlm: "all" as const, nsp: true };
      const a = plain.forward(input, wants);
      const b = adapted.forward(input, wants);
      expect(maxAbsDiff(b.lastHiddenState, a.lastHiddenState)).toBeLessThanOrEqual(1e-6);
      expect(maxAbsDiff(b.mlmLogits!, a.mlmLogits!)).toBeLessThanOrEqual(1e-6);
      expect(maxAbsDiff(b.nspLogits!, a.nspLogits!)).toBeLessThanOrEqual(1e-6);
      expect(adapted.weightBytes).toBeGreaterThan(plain.weightBytes);
    },
  );

  it("a trained adapter changes the outputs, and the training forward computes the same logits", () => {
    const cfg = bertConfigFromJson({
      ...baseConfig,
      architectures: ["BertForSequenceClassification"],
      num_labels: 3,
    });
    const head = store(
      { "classifier.weight": normal(3 * 64, 5, 0.2), "classifier.bias": normal(3, 6, 0.1) },
      { "classifier.weight": [3, 64], "classifier.bias": [3] },
    );
    const withHead = overlayTensors(base, head);
    const weights = overlayTensors(withHead, adapterStore(cfg, 8, true));
    const model = new BertModel(rt, cfg, weights);
    const plain = new BertModel(rt, cfg, withHead);
    const input = batchOf(3, 10, cfg.vocabSize, 4);
    const got = model.forward(input, { classify: true }).classifyLogits!;
    expect(maxAbsDiff(got, plain.forward(input, { classify: true }).classifyLogits!)).toBeGreaterThan(1e-2);
    const trainer = new BertTrainer(rt, cfg, { weights, arch: "BertForSequenceClassification" });
    expect(trainer.adapterBottleneck).toBe(8);
    const out = trainer.evaluate({ ...input, labels: Int32Array.of(0, 1, 2) }, { logits: true });
    expect(maxAbsDiff(out.classifyLogits!, got)).toBeLessThanOrEqual(2e-5);
  });

  it("rejects adapters missing on some sublayers", () => {
    const cfg = bertConfigFromJson(baseConfig);
    const full = adapterStore(cfg, 4, false);
    const names = full.names().filter((n) => !n.startsWith("bert.encoder.layer.1.output.adapter"));
    const partial = store(
      Object.fromEntries(names.map((n) => [n, full.float32(n)])),
      Object.fromEntries(names.map((n) => [n, full.shape(n)])),
    );
    expect(() => new BertModel(rt, cfg, overlayTensors(base, partial))).toThrow(
      /missing tensors: bert\.encoder\.layer\.1\.output\.adapter\.down\.weight/,
    );
  });
});

// ---- training through adapters ----

/** C 20 (4 heads), F 28, V 37, 2 layers; odd sizes so no kernel path is a multiple of 4 or 8. */
function oddConfig(): BertConfig {
  return bertConfigFromJson({
    model_type: "bert",
    architectures: ["BertForSequenceClassification"],
    vocab_size: 37,
    hidden_size: 20,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    intermediate_size: 28,
    max_position_embeddings: 11,
    type_vocab_size: 2,
    hidden_act: "gelu",
    pad_token_id: 0,
    num_labels: 3,
  });
}

function randomTrainer(r: number): BertTrainer {
  const trainer = new BertTrainer(rt, oddConfig(), { seed: 3, adapters: { bottleneck: r } });
  trainer.params.entries().forEach((e, i) => {
    const v = normal(e.size, 100 + i, e.name.includes("LayerNorm") ? 0.3 : 0.4);
    if (e.name.includes("LayerNorm.weight")) for (let j = 0; j < v.length; j++) v[j] += 1;
    trainer.params.set(e.name, v);
  });
  trainer.repack();
  return trainer;
}

const classifyBatch = (): BertBatch => ({ ...batchOf(3, 7, 37, 9), labels: Int32Array.of(0, 2, 1) });

describe("BERT training with adapters", () => {
  it("adds adapters of the asked width as the identity (same loss as without them)", () => {
    const cfg = oddConfig();
    const plain = new BertTrainer(rt, cfg, { seed: 3 });
    const adapted = new BertTrainer(rt, cfg, { seed: 3, adapters: { bottleneck: 5 } });
    const names = adapted.params.names().filter(isAdapterTensor);
    expect(names.length).toBe(2 * 2 * 4);
    expect(adapted.params.entry("bert.encoder.layer.1.output.adapter.down.weight").shape).toEqual([5, 20]);
    const b = classifyBatch();
    expect(adapted.evaluate(b).loss).toBeCloseTo(plain.evaluate(b).loss, 6);
    expect(() => new BertTrainer(rt, cfg, { adapters: { bottleneck: 0 } })).toThrow(
      /bottleneck must be an integer/,
    );
  });

  it("gradients through adapters match central finite differences", () => {
    const trainer = randomTrainer(3);
    const { params } = trainer;
    const batch = classifyBatch();
    trainer.lossAndGrad(batch);
    const g = rt.arena.f32(params.grads, params.count).slice();
    const theta = rt.arena.f32(params.params, params.count).slice();
    const lossAt = (p: Float32Array) => {
      rt.arena.f32(params.params, params.count).set(p);
      trainer.repack();
      return trainer.evaluate(batch).loss;
    };
    // a directional derivative over all parameters (Richardson-extrapolated central differences)
    const u = normal(params.count, 77);
    const D = (h: number) =>
      (lossAt(theta.map((v, i) => v + h * u[i])) - lossAt(theta.map((v, i) => v - h * u[i]))) / (2 * h);
    const numericDir = (4 * D(2e-4) - D(4e-4)) / 3;
    let analytic = 0;
    for (let i = 0; i < g.length; i++) analytic += g[i] * u[i];
    expect(Math.abs(numericDir - analytic)).toBeLessThanOrEqual(1e-3 * Math.abs(analytic));
    // three entries of every adapter tensor, and of the projections and LayerNorms around them
    const r = rng(5);
    let checked = 0;
    for (const e of params.entries()) {
      if (!(isAdapterTensor(e.name) || /output\.(dense|LayerNorm)/.test(e.name))) continue;
      for (let j = 0; j < 3; j++) {
        const at = e.offset + Math.floor(r() * e.size);
        const h = 1e-2;
        const plus = theta.slice();
        plus[at] += h;
        const minus = theta.slice();
        minus[at] -= h;
        const numeric = (lossAt(plus) - lossAt(minus)) / (2 * h);
        expect(Math.abs(numeric - g[at]), `${e.name}: ${numeric} vs ${g[at]}`).toBeLessThanOrEqual(
          5e-3 * Math.abs(g[at]) + 2e-4,
        );
        checked++;
      }
    }
    expect(checked).toBe(3 * (16 + 2 * 8));
    lossAt(theta);
  });

  it.each([
    [
      "adapters, LayerNorms and head",
      (n: string) => isAdapterTensor(n) || n.includes("LayerNorm") || n.startsWith("classifier"),
    ],
    [
      "top layer and head",
      (n: string) => n.includes("layer.1.") || n.startsWith("classifier") || n.includes("pooler"),
    ],
  ])(
    "frozen parameters (%s): no gradient; trainable ones bit-identical to the full backward's",
    (_, pred) => {
      const trainer = randomTrainer(4);
      const { params } = trainer;
      const batch = classifyBatch();
      trainer.lossAndGrad(batch);
      const full = new Map(params.names().map((n) => [n, params.gradient(n)]));
      params.setTrainable(pred);
      const lossFrozen = trainer.lossAndGrad(batch).loss;
      let trainable = 0;
      for (const n of params.names()) {
        const g = params.gradient(n);
        if (params.isTrainable(n)) {
          trainable++;
          expect(Buffer.from(g.buffer), n).toEqual(Buffer.from(full.get(n)!.buffer));
        } else
          expect(
            g.every((x) => x === 0),
            n,
          ).toBe(true);
      }
      expect(trainable).toBeGreaterThan(4);
      expect(lossFrozen).toBe(trainer.evaluate(batch).loss);
    },
  );
});
