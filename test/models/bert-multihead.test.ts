// Multi-task BERT classification, one head per task (src/train/bert-train.ts option `heads`,
// src/models/bert.ts task selection): gradients of a two-head trainer against central finite differences
// (the other head's gradient exactly zero), a one-task multi-head trainer bit-identical to the single-head
// trainer over several AdamW steps, a head of a two-head trainer equal to a single-head trainer holding
// that head, accumulation over task groups, the inference model's logits per task equal to the trainer's
// (f32; int8 at load time and from an int8 checkpoint within cosine 0.999), and clear errors.
import { beforeAll, describe, expect, it } from "vitest";
import { type TensorInput, writeSafetensors } from "../../src/io/safetensors.ts";
import { BertModel } from "../../src/models/bert.ts";
import { type BertConfig, bertConfigFromJson } from "../../src/models/bert-config.ts";
import { readConfig, readTensors } from "../../src/models/checkpoint-node.ts";
import { quantizeCheckpoint } from "../../src/models/quantize.ts";
import { TensorStore } from "../../src/models/tensors.ts";
import type { KernelRuntime } from "../../src/runtime/load.ts";
import { loadRuntime } from "../../src/runtime/node.ts";
import { classify } from "../../src/tasks/classify.ts";
import { loadTokenizerDir } from "../../src/tokenizers/node.ts";
import { type BertBatch, BertTrainer } from "../../src/train/bert-train.ts";
import { ADAMW_DEFAULTS } from "../../src/train/params.ts";
import { cosine } from "../helpers/compare.ts";
import { fixturePath } from "../helpers/fixtures.ts";
import { normal, rng } from "../helpers/random.ts";

const HEADS = [
  { name: "topic", numLabels: 3 },
  { name: "sent", numLabels: 2 },
];

let rt: KernelRuntime;
let tinyRaw: Record<string, unknown>;
beforeAll(async () => {
  rt = await loadRuntime({ relaxed: false });
  tinyRaw = await readConfig(fixturePath("bert_tiny"));
});

/** C 20 (4 heads of 5), F 28, V 37, 2 layers, 3 segment types (odd shapes, as bert-grad.test.ts). */
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
    type_vocab_size: 3,
    hidden_act: "gelu",
    layer_norm_eps: 1e-12,
    pad_token_id: 0,
  });
}

function randomize(trainer: BertTrainer, seed: number): void {
  trainer.params.entries().forEach((e, i) => {
    const v = normal(e.size, seed + i, e.name.includes("LayerNorm") ? 0.3 : 0.4);
    if (e.name.includes("LayerNorm.weight")) for (let j = 0; j < v.length; j++) v[j] += 1;
    trainer.params.set(e.name, v);
  });
  trainer.repack();
}

function batchOf(B: number, T: number, V: number, labels: number[], task?: number, seed = 7): BertBatch {
  const r = rng(seed);
  const ids = Int32Array.from({ length: B * T }, () => 1 + Math.floor(r() * (V - 1)));
  const mask = new Int32Array(B * T).fill(1);
  for (let b = 0; b < B; b++)
    for (let t = T - (b % 3); t < T; t++) {
      mask[b * T + t] = 0;
      ids[b * T + t] = 0;
    }
  const types = Int32Array.from({ length: B * T }, (_, i) => (i % T) % 2);
  return {
    inputIds: ids,
    attentionMask: mask,
    tokenTypeIds: types,
    labels: Int32Array.from(labels),
    batch: B,
    seq: T,
    task,
  };
}

const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const same = (a: Float32Array, b: Float32Array) => bits(a).equals(bits(b));

function storeOf(tensors: Record<string, TensorInput>): TensorStore {
  return TensorStore.fromBytes([{ bytes: writeSafetensors(tensors), name: "model.safetensors" }]);
}

describe("BertTrainer with one head per task", () => {
  it("names and shapes: classifier.{task}.weight [L, C] and .bias [L], pooler shared, no classifier.weight", () => {
    const t = new BertTrainer(rt, oddConfig(), { heads: HEADS, seed: 1 });
    expect(t.headNames).toEqual(["topic", "sent"]);
    expect(t.headSizes).toEqual([3, 2]);
    expect(t.params.entry("classifier.topic.weight").shape).toEqual([3, 20]);
    expect(t.params.entry("classifier.topic.bias").shape).toEqual([3]);
    expect(t.params.entry("classifier.sent.weight").shape).toEqual([2, 20]);
    expect(t.params.has("classifier.weight")).toBe(false);
    expect(t.params.has("bert.pooler.dense.weight")).toBe(true);
    expect(t.headIndex("sent")).toBe(1);
    expect(() => t.headIndex("nope")).toThrow(/no classifier head for task "nope" \(heads: topic, sent\)/);
  });

  it("gradients match central finite differences; the other head's gradient is exactly zero", () => {
    const cfg = oddConfig();
    const trainer = new BertTrainer(rt, cfg, { heads: HEADS, seed: 3 });
    randomize(trainer, 200);
    const { params } = trainer;
    for (const task of [0, 1]) {
      const L = HEADS[task].numLabels;
      const batch = batchOf(4, 7, cfg.vocabSize, [0, 1, L - 1, 1], task, 9 + task);
      trainer.lossAndGrad(batch);
      const g = rt.arena.f32(params.grads, params.count).slice();
      const theta = rt.arena.f32(params.params, params.count).slice();
      const lossAt = (p: Float32Array) => {
        rt.arena.f32(params.params, params.count).set(p);
        trainer.repack();
        return trainer.evaluate(batch).loss;
      };
      const other = HEADS[1 - task].name;
      for (const w of ["weight", "bias"])
        expect(params.gradient(`classifier.${other}.${w}`).every((v) => v === 0)).toBe(true);
      // directional derivatives (Richardson-extrapolated central differences)
      for (let d = 0; d < 2; d++) {
        const u = normal(params.count, 700 + 10 * task + d);
        const D = (h: number) =>
          (lossAt(theta.map((v, i) => v + h * u[i])) - lossAt(theta.map((v, i) => v - h * u[i]))) / (2 * h);
        const numeric = (4 * D(2e-4) - D(4e-4)) / 3;
        let analytic = 0;
        for (let i = 0; i < g.length; i++) analytic += g[i] * u[i];
        expect(
          Math.abs(numeric - analytic),
          `task ${task} direction ${d}: ${numeric} vs ${analytic}`,
        ).toBeLessThanOrEqual(1e-3 * Math.abs(analytic));
      }
      // two entries of every tensor (the other head's: numerically zero too)
      const r = rng(13 + task);
      for (const e of params.entries()) {
        for (let j = 0; j < 2; j++) {
          let idx = Math.floor(r() * e.size);
          if (e.name.endsWith("word_embeddings.weight")) idx = (1 + Math.floor(r() * 10)) * e.shape[1] + j;
          const at = e.offset + idx;
          const h = 1e-2;
          const plus = theta.slice();
          plus[at] += h;
          const minus = theta.slice();
          minus[at] -= h;
          const numeric = (lossAt(plus) - lossAt(minus)) / (2 * h);
          expect(
            Math.abs(numeric - g[at]),
            `task ${task} ${e.name}[${idx}]: ${numeric} vs ${g[at]}`,
          ).toBeLessThanOrEqual(5e-3 * Math.abs(g[at]) + 2e-4);
        }
      }
      lossAt(theta);
    }
  });

  it("a one-task multi-head trainer is the single-head trainer, bit for bit, over AdamW steps", async () => {
    const weights = await readTensors(fixturePath("bert_tiny"));
    const cfg = bertConfigFromJson({
      ...tinyRaw,
      architectures: ["BertForSequenceClassification"],
      num_labels: 3,
    });
    const single = new BertTrainer(rt, cfg, { weights, initMissing: true, seed: 4 });
    const head = {
      "classifier.only.weight": {
        dtype: "F32" as const,
        shape: [3, 64],
        data: single.params.value("classifier.weight"),
      },
      "classifier.only.bias": { dtype: "F32" as const, shape: [3], data: normal(3, 5, 0.1) },
    };
    single.params.set("classifier.bias", head["classifier.only.bias"].data);
    single.repack();
    const multiStore = storeOf({
      ...Object.fromEntries(
        weights
          .names()
          .map((n) => [n, { dtype: "F32" as const, shape: weights.shape(n), data: weights.float32(n) }]),
      ),
      ...head,
    });
    const multi = new BertTrainer(rt, cfg, {
      heads: [{ name: "only", numLabels: 3 }],
      weights: multiStore,
      seed: 4,
    });
    // same layout: the head sits where the single classifier does
    expect(multi.params.entry("classifier.only.weight").offset).toBe(
      single.params.entry("classifier.weight").offset,
    );
    expect(multi.params.entry("classifier.only.bias").offset).toBe(
      single.params.entry("classifier.bias").offset,
    );
    const o = { ...ADAMW_DEFAULTS, lr: 3e-3 };
    for (let step = 0; step < 4; step++) {
      const b = batchOf(5, 9, 2000, [0, 1, 2, 1, 0], undefined, 30 + step);
      const a = single.trainStep(b, o, { maxGradNorm: 0.5 });
      const m = multi.trainStep({ ...b, task: 0 }, o, { maxGradNorm: 0.5 });
      expect(m.loss).toBe(a.loss);
      expect(m.gradNorm).toBe(a.gradNorm);
    }
    for (const n of single.params.names()) {
      const mn = n.startsWith("classifier.") ? n.replace("classifier.", "classifier.only.") : n;
      expect(same(multi.params.value(mn), single.params.value(n)), n).toBe(true);
      expect(same(multi.params.view(mn, "m").slice(), single.params.view(n, "m").slice()), `m ${n}`).toBe(
        true,
      );
    }
  });

  it("each head of a two-head trainer computes what a single-head trainer holding it computes", () => {
    const cfg = oddConfig();
    const multi = new BertTrainer(rt, cfg, { heads: HEADS, seed: 8 });
    randomize(multi, 300);
    const all = multi.exportWeights();
    for (const [task, h] of HEADS.entries()) {
      const single = new BertTrainer(
        rt,
        { ...cfg, numLabels: h.numLabels, id2label: [] },
        {
          weights: storeOf({
            ...Object.fromEntries(Object.entries(all).filter(([n]) => !n.startsWith("classifier."))),
            "classifier.weight": all[`classifier.${h.name}.weight`],
            "classifier.bias": all[`classifier.${h.name}.bias`],
          }),
        },
      );
      const b = batchOf(3, 8, cfg.vocabSize, [1, 0, h.numLabels - 1], undefined, 50 + task);
      const s = single.lossAndGrad(b, { logits: true });
      const m = multi.lossAndGrad({ ...b, task }, { logits: true });
      expect(m.loss).toBe(s.loss);
      expect(same(m.classifyLogits!, s.classifyLogits!)).toBe(true);
      for (const n of single.params.names()) {
        const mn = n.startsWith("classifier.") ? n.replace("classifier.", `classifier.${h.name}.`) : n;
        expect(same(multi.params.gradient(mn), single.params.gradient(n)), n).toBe(true);
      }
    }
  });

  it("accumulating over task groups sums their scaled gradients", () => {
    const cfg = oddConfig();
    const t = new BertTrainer(rt, cfg, { heads: HEADS, seed: 9 });
    randomize(t, 400);
    const b0 = batchOf(3, 7, cfg.vocabSize, [0, 2, 1], 0, 61);
    const b1 = batchOf(2, 7, cfg.vocabSize, [1, 0], 1, 62);
    t.lossAndGrad(b0, { lossScale: 3 / 5 });
    const g0 = t.params.tensors("grads");
    t.lossAndGrad(b1, { lossScale: 2 / 5 });
    const g1 = t.params.tensors("grads");
    t.lossAndGrad(b0, { lossScale: 3 / 5 });
    t.lossAndGrad(b1, { lossScale: 2 / 5, accumulate: true });
    for (const n of t.params.names()) {
      const a = t.params.gradient(n);
      const x = g0[n].data as Float32Array;
      const y = g1[n].data as Float32Array;
      for (let i = 0; i < a.length; i++) expect(a[i], n).toBeCloseTo(x[i] + y[i], 6);
    }
  });

  it("rejects bad heads and batches clearly", () => {
    const cfg = oddConfig();
    expect(() => new BertTrainer(rt, cfg, { heads: [] })).toThrow(/at least one task/);
    expect(() => new BertTrainer(rt, cfg, { heads: [{ name: "a.b", numLabels: 2 }] })).toThrow(
      /without dots/,
    );
    expect(
      () =>
        new BertTrainer(rt, cfg, {
          heads: [
            { name: "a", numLabels: 2 },
            { name: "a", numLabels: 3 },
          ],
        }),
    ).toThrow(/listed twice/);
    expect(() => new BertTrainer(rt, cfg, { heads: [{ name: "a", numLabels: 1 }] })).toThrow(/labels ≥ 2/);
    const t = new BertTrainer(rt, cfg, { heads: HEADS, seed: 1 });
    expect(() => t.evaluate(batchOf(2, 5, 37, [0, 1]))).toThrow(
      /labels need the task \(head index 0…1: topic, sent\), got undefined/,
    );
    expect(() => t.evaluate(batchOf(2, 5, 37, [0, 1], 2))).toThrow(/got 2/);
    expect(() => t.evaluate(batchOf(2, 5, 37, [0, 2], 1))).toThrow(/label 2 outside \[0, 2\)/);
    const single = new BertTrainer(rt, { ...cfg, numLabels: 2, id2label: ["a", "b"] }, { seed: 1 });
    expect(() => single.evaluate(batchOf(2, 5, 37, [0, 1], 0))).toThrow(/single classifier head/);
  });
});

describe("BertModel with one head per task", () => {
  const tasksJson = {
    topic: { id2label: { 0: "sport", 1: "money", 2: "food" } },
    sent: { id2label: { 0: "neg", 1: "pos" } },
  };

  it("selects a head by task (default: the first), with that task's labels; logits equal the trainer's", async () => {
    const cfgJson = {
      ...tinyRaw,
      architectures: ["BertForSequenceClassification"],
      id2label: tasksJson.topic.id2label,
      edgeformer_tasks: tasksJson,
    };
    const cfg = bertConfigFromJson(cfgJson);
    expect(cfg.tasks).toEqual([
      { name: "topic", id2label: ["sport", "money", "food"], prefix: "" },
      { name: "sent", id2label: ["neg", "pos"], prefix: "" },
    ]);
    const trainer = new BertTrainer(rt, cfg, {
      heads: HEADS,
      weights: await readTensors(fixturePath("bert_tiny")),
      initMissing: true,
      seed: 11,
    });
    // move the heads and the pooler off their init so the check is not trivial
    for (const n of ["classifier.topic.bias", "classifier.sent.bias"])
      trainer.params.set(n, normal(trainer.params.entry(n).size, 12, 0.5));
    trainer.repack();
    const store = storeOf(trainer.exportWeights());
    const byDefault = new BertModel(rt, cfg, store);
    expect(byDefault.tasks).toEqual(["topic", "sent"]);
    expect(byDefault.task).toBe("topic");
    expect(byDefault.config.id2label).toEqual(["sport", "money", "food"]);
    const sent = new BertModel(rt, cfg, store, { task: "sent" });
    expect(sent.config.id2label).toEqual(["neg", "pos"]);
    expect(sent.config.numLabels).toBe(2);
    const b = batchOf(4, 10, 2000, [0, 1, 1, 0], undefined, 70);
    for (const [task, model] of [
      [0, byDefault],
      [1, sent],
    ] as const) {
      const ref = trainer.evaluate({ ...b, task }, { logits: true }).classifyLogits!;
      const got = model.forward(b, { classify: true }).classifyLogits!;
      expect(same(got, ref), `task ${task}`).toBe(true);
      // per call: the other model's selection runs the same head
      const other = task === 0 ? sent : byDefault;
      expect(same(other.forward(b, { classify: true, task: HEADS[task].name }).classifyLogits!, ref)).toBe(
        true,
      );
    }
    // the classification task: labels of the chosen head
    const tokenizer = await loadTokenizerDir(fixturePath("tok/bert"));
    const p = { model: byDefault, tokenizer };
    const [top] = classify(p, ["a text"], { topK: 3 });
    expect(top.map((x) => x.label).sort()).toEqual(["food", "money", "sport"]);
    const [s] = classify(p, ["a text"], { topK: 2, task: "sent" });
    expect(s.map((x) => x.label).sort()).toEqual(["neg", "pos"]);
    const [s2] = classify({ model: sent, tokenizer }, ["a text"], { topK: 2 });
    expect(s2).toEqual(s);
    // errors
    expect(() => new BertModel(rt, cfg, store, { task: "nope" })).toThrow(
      /no head for task "nope" \(tasks: topic, sent\)/,
    );
    expect(() => byDefault.forward(b, { classify: true, task: "nope" })).toThrow(/no head for task "nope"/);
    const missing = storeOf(
      Object.fromEntries(
        Object.entries(trainer.exportWeights()).filter(([n]) => !n.startsWith("classifier.sent.")),
      ),
    );
    expect(() => new BertModel(rt, cfg, missing)).toThrow(
      /missing tensors: classifier\.sent\.weight, classifier\.sent\.bias/,
    );
  });

  it("int8: each task head quantized at load time or in an int8 checkpoint, logits within cosine 0.999 of f32", async () => {
    const cfg = bertConfigFromJson({
      ...tinyRaw,
      architectures: ["BertForSequenceClassification"],
      edgeformer_tasks: tasksJson,
    });
    const trainer = new BertTrainer(rt, cfg, {
      heads: HEADS,
      weights: await readTensors(fixturePath("bert_tiny")),
      initMissing: true,
      seed: 21,
    });
    const store = storeOf(trainer.exportWeights());
    const { tensors } = quantizeCheckpoint(rt, store);
    expect(tensors["classifier.sent.weight"].dtype).toBe("I8");
    const q = storeOf(tensors);
    const b = batchOf(6, 12, 2000, [0, 1, 1, 0, 1, 0], undefined, 80);
    for (const task of ["topic", "sent"]) {
      const f32 = new BertModel(rt, cfg, store, { task }).forward(b, { classify: true }).classifyLogits!;
      const atLoad = new BertModel(rt, cfg, store, { task, dtype: "int8" });
      const fromFile = new BertModel(rt, cfg, q, { task, dtype: "int8" });
      const a = atLoad.forward(b, { classify: true }).classifyLogits!;
      expect(cosine(a, f32), task).toBeGreaterThan(0.999);
      expect(same(fromFile.forward(b, { classify: true }).classifyLogits!, a), task).toBe(true);
    }
  });

  it("without edgeformer_tasks the heads come from the weights (labels LABEL_i); single-head models refuse a task", async () => {
    const cfg = bertConfigFromJson({ ...tinyRaw, architectures: ["BertForSequenceClassification"] });
    const trainer = new BertTrainer(rt, cfg, {
      heads: HEADS,
      weights: await readTensors(fixturePath("bert_tiny")),
      initMissing: true,
      seed: 2,
    });
    const m = new BertModel(rt, cfg, storeOf(trainer.exportWeights()), { task: "sent" });
    expect(m.tasks).toEqual(["sent", "topic"]); // sorted by name without the config's list
    expect(new BertModel(rt, cfg, storeOf(trainer.exportWeights())).task).toBe("sent");
    expect(m.config.id2label).toEqual(["LABEL_0", "LABEL_1"]);
    expect(m.taskLabels("topic")).toEqual(["LABEL_0", "LABEL_1", "LABEL_2"]);
    const single = new BertTrainer(
      rt,
      { ...cfg, numLabels: 2, id2label: ["a", "b"] },
      {
        weights: await readTensors(fixturePath("bert_tiny")),
        initMissing: true,
      },
    );
    const cfg2 = bertConfigFromJson({
      ...tinyRaw,
      architectures: ["BertForSequenceClassification"],
      num_labels: 2,
    });
    expect(() => new BertModel(rt, cfg2, storeOf(single.exportWeights()), { task: "sent" })).toThrow(
      /no per-task classifier heads/,
    );
    expect(() =>
      bertConfigFromJson({ ...tinyRaw, edgeformer_tasks: { "a.b": { id2label: { 0: "x" } } } }),
    ).toThrow(/edgeformer_tasks has task name "a\.b"/);
  });
});
