// BERT training against PyTorch on the bert_tiny fixtures: pretraining losses (MLM + NSP) and the
// classification loss within 1e-5, every parameter's gradient within 1e-4 relative (L2 over the tensor),
// one AdamW step within 1e-6; then central finite differences on an odd-shaped random BERT, the
// training forward's logits against the inference model (before and after a step, so re-packing is
// covered), gradient accumulation, and the parameter store's one-region layout.
import { beforeAll, describe, expect, it } from "vitest";
import { type TensorInput, writeSafetensors } from "../../src/io/safetensors.ts";
import { BertModel } from "../../src/models/bert.ts";
import { type BertConfig, bertConfigFromJson } from "../../src/models/bert-config.ts";
import { readConfig, readTensors } from "../../src/models/checkpoint-node.ts";
import { TensorStore } from "../../src/models/tensors.ts";
import type { KernelRuntime } from "../../src/runtime/load.ts";
import { loadRuntime } from "../../src/runtime/node.ts";
import { type BertBatch, BertTrainer } from "../../src/train/bert-train.ts";
import { ParamStore } from "../../src/train/params.ts";
import { expectClose } from "../helpers/compare.ts";
import { fixturePath, readJsonFixture, readSafetensorsFixture } from "../helpers/fixtures.ts";
import { normal, rng } from "../helpers/random.ts";

const DIR = fixturePath("bert_tiny");

interface PretrainJson {
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids: number[][];
  mlm_labels: number[][];
  next_sentence_label: number[];
  loss: number;
  mlm_loss: number;
  nsp_loss: number;
  adamw: { lr: number; betas: [number, number]; eps: number; weight_decay: number; bias_correction: boolean };
}
interface ClassifyJson {
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids: number[][];
  labels: number[];
  loss: number;
}
const pre = readJsonFixture<PretrainJson>("bert_tiny/pretrain_inputs.json");
const cls = readJsonFixture<ClassifyJson>("bert_tiny/classify_inputs.json");

function pretrainBatch(j: PretrainJson): BertBatch {
  return {
    inputIds: Int32Array.from(j.input_ids.flat()),
    attentionMask: Int32Array.from(j.attention_mask.flat()),
    tokenTypeIds: Int32Array.from(j.token_type_ids.flat()),
    mlmLabels: Int32Array.from(j.mlm_labels.flat()),
    nextSentenceLabel: Int32Array.from(j.next_sentence_label),
    batch: j.input_ids.length,
    seq: j.input_ids[0].length,
  };
}

function classifyBatch(j: ClassifyJson): BertBatch {
  return {
    inputIds: Int32Array.from(j.input_ids.flat()),
    attentionMask: Int32Array.from(j.attention_mask.flat()),
    tokenTypeIds: Int32Array.from(j.token_type_ids.flat()),
    labels: Int32Array.from(j.labels),
    batch: j.input_ids.length,
    seq: j.input_ids[0].length,
  };
}

const l2 = (a: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
};
const l2diff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s);
};

/**
 * Every gradient against the reference: ‖g − ref‖ ≤ 1e-4·‖ref‖. The attention key bias adds q·b_k to
 * every score of a row, which softmax cancels: its gradient is exactly 0, and both sides are f32
 * rounding noise (~1e-8), so there it is checked to be tiny instead. Returns the worst relative error.
 */
function expectGrads(trainer: BertTrainer, refFile: string): number {
  const ref = readSafetensorsFixture(refFile);
  expect(trainer.params.names().sort()).toEqual(ref.names().sort());
  let worst = 0;
  for (const name of ref.names()) {
    const e = ref.float32(name);
    const g = trainer.params.gradient(name);
    expect(g.length, name).toBe(e.length);
    if (name.endsWith("attention.self.key.bias")) {
      expect(l2(e), name).toBeLessThan(1e-6);
      expect(l2(g), name).toBeLessThan(1e-6);
      continue;
    }
    const rel = l2diff(g, e) / l2(e);
    expect(rel, name).toBeLessThanOrEqual(1e-4);
    worst = Math.max(worst, rel);
  }
  return worst;
}

function storeOf(tensors: Record<string, TensorInput>): TensorStore {
  return TensorStore.fromBytes([{ bytes: writeSafetensors(tensors), name: "model.safetensors" }]);
}

let rt: KernelRuntime;
let config: BertConfig;
let classifyConfig: BertConfig;
beforeAll(async () => {
  rt = await loadRuntime({ relaxed: false });
  config = bertConfigFromJson(await readConfig(DIR));
  classifyConfig = bertConfigFromJson({
    ...(await readConfig(DIR)),
    architectures: ["BertForSequenceClassification"],
    num_labels: 3,
  });
});

describe("BERT gradients against PyTorch (bert_tiny)", () => {
  it("BertForPreTraining: loss, mlm_loss, nsp_loss within 1e-5; every gradient within 1e-4", async () => {
    const trainer = new BertTrainer(rt, config, { weights: await readTensors(DIR) });
    const out = trainer.lossAndGrad(pretrainBatch(pre));
    expect(Math.abs(out.loss - pre.loss)).toBeLessThanOrEqual(1e-5);
    expect(Math.abs(out.mlmLoss! - pre.mlm_loss)).toBeLessThanOrEqual(1e-5);
    expect(Math.abs(out.nspLoss! - pre.nsp_loss)).toBeLessThanOrEqual(1e-5);
    const worst = expectGrads(trainer, "bert_tiny/pretrain_grads.safetensors");
    console.log(`pretraining: loss error ${Math.abs(out.loss - pre.loss)}, worst gradient error ${worst}`);
  });

  it("BertForSequenceClassification: loss within 1e-5; every gradient within 1e-4", async () => {
    const store = await readTensors(DIR, [fixturePath("bert_tiny/classifier_head.safetensors")]);
    const trainer = new BertTrainer(rt, classifyConfig, { weights: store });
    const out = trainer.lossAndGrad(classifyBatch(cls));
    expect(Math.abs(out.loss - cls.loss)).toBeLessThanOrEqual(1e-5);
    expect(out.classifyLoss).toBe(out.loss);
    const worst = expectGrads(trainer, "bert_tiny/classify_grads.safetensors");
    console.log(`classification: loss error ${Math.abs(out.loss - cls.loss)}, worst gradient error ${worst}`);
  });

  it("one AdamW step with the fixture's settings matches PyTorch within 1e-6", async () => {
    // The first AdamW step moves each weight by lr·g/(|g| + eps) (plus decay): where |g| is near eps
    // (1e-6) that is up to lr/eps = 1000× as sensitive as g itself, so gradients equal to f32 rounding
    // (a few 1e-9 apart) can land a few 1e-6 apart. The step is therefore checked at 1e-6 on PyTorch's
    // gradients written into the store's gradient region (layout, decay groups, settings, kernel), and
    // end to end from our own gradients with the bound that conditioning allows.
    const { adamw } = pre;
    expect(adamw.bias_correction).toBe(true);
    const o = {
      lr: adamw.lr,
      beta1: adamw.betas[0],
      beta2: adamw.betas[1],
      eps: adamw.eps,
      weightDecay: adamw.weight_decay,
    };
    const after = readSafetensorsFixture("bert_tiny/pretrain_after_adamw_step.safetensors");
    const refGrads = readSafetensorsFixture("bert_tiny/pretrain_grads.safetensors");
    const worstOf = (trainer: BertTrainer, atol: number) => {
      expect(trainer.params.names().sort()).toEqual(after.names().sort());
      let worst = 0;
      for (const name of after.names()) {
        const got = trainer.params.value(name);
        const e = after.float32(name);
        expectClose(got, e, atol, 0, name);
        for (let i = 0; i < e.length; i++) worst = Math.max(worst, Math.abs(got[i] - e[i]));
      }
      return worst;
    };

    const exact = new BertTrainer(rt, config, { weights: await readTensors(DIR) });
    for (const name of refGrads.names()) exact.params.set(name, refGrads.float32(name), "grads");
    exact.adamwStep(o);
    expect(exact.params.step).toBe(1);
    const worstRefGrads = worstOf(exact, 1e-6);

    const ours = new BertTrainer(rt, config, { weights: await readTensors(DIR) });
    ours.lossAndGrad(pretrainBatch(pre));
    ours.adamwStep(o);
    const worstOurs = worstOf(ours, 1e-5);
    // away from that regime (|g| ≥ 10·eps) the end-to-end step is within 1e-6 too
    let worstWellConditioned = 0;
    for (const name of after.names()) {
      const [got, e, g] = [ours.params.value(name), after.float32(name), refGrads.float32(name)];
      for (let i = 0; i < e.length; i++)
        if (Math.abs(g[i]) >= 10 * o.eps)
          worstWellConditioned = Math.max(worstWellConditioned, Math.abs(got[i] - e[i]));
    }
    expect(worstWellConditioned).toBeLessThanOrEqual(1e-6);
    console.log(
      `AdamW step: worst |Δ| ${worstRefGrads} from PyTorch's gradients; from ours ${worstOurs} (${worstWellConditioned} where |g| ≥ 10·eps)`,
    );
  });

  it("the training forward's logits equal the inference model's, before and after an AdamW step", async () => {
    const trainer = new BertTrainer(rt, config, { weights: await readTensors(DIR) });
    const batch = pretrainBatch(pre);
    for (let step = 0; step < 2; step++) {
      const out = trainer.lossAndGrad(batch, { logits: true });
      const model = new BertModel(rt, config, storeOf(trainer.exportWeights()));
      const ref = model.forward(batch, { mlm: [...out.mlmRows!], nsp: true });
      expectClose(out.mlmLogits!, ref.mlmLogits!, 1e-6, 0, `MLM logits, step ${step}`);
      expectClose(out.nspLogits!, ref.nspLogits!, 1e-6, 0, `NSP logits, step ${step}`);
      trainer.adamwStep({ lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-6, weightDecay: 0.01 });
    }
    const store = await readTensors(DIR, [fixturePath("bert_tiny/classifier_head.safetensors")]);
    const ct = new BertTrainer(rt, classifyConfig, { weights: store });
    const cb = classifyBatch(cls);
    const out = ct.evaluate(cb, { logits: true });
    const ref = new BertModel(rt, classifyConfig, store).forward(cb, { classify: true });
    expectClose(out.classifyLogits!, ref.classifyLogits!, 1e-6, 0, "classification logits");
    expectClose(
      out.classifyLogits!,
      readSafetensorsFixture("bert_tiny/classify_outputs.safetensors").float32("logits"),
      1e-4,
      0,
      "classification logits vs PyTorch",
    );
  });

  it("accumulating two half-weighted passes gives the same gradients as one pass", async () => {
    const trainer = new BertTrainer(rt, config, { weights: await readTensors(DIR) });
    const batch = pretrainBatch(pre);
    trainer.lossAndGrad(batch);
    const once = trainer.params.tensors("grads");
    trainer.lossAndGrad(batch, { lossScale: 0.5 });
    trainer.lossAndGrad(batch, { lossScale: 0.5, accumulate: true });
    for (const [name, t] of Object.entries(once))
      expectClose(trainer.params.gradient(name), t.data as Float32Array, 1e-7, 1e-5, name);
  });

  it("rejects labels the architecture has no head for, bad labels and shapes, with clear errors", async () => {
    const trainer = new BertTrainer(rt, config, { weights: await readTensors(DIR) });
    const b = pretrainBatch(pre);
    expect(() => trainer.lossAndGrad({ ...b, labels: new Int32Array(b.batch) })).toThrow(
      /labels given but BertForPreTraining has no classification head/,
    );
    expect(() => trainer.lossAndGrad({ ...b, mlmLabels: undefined, nextSentenceLabel: undefined })).toThrow(
      /no labels/,
    );
    const badMlm = b.mlmLabels!.slice();
    badMlm[3] = 2000;
    expect(() => trainer.lossAndGrad({ ...b, mlmLabels: badMlm })).toThrow(/mlm_labels has label 2000/);
    expect(() => trainer.lossAndGrad({ ...b, nextSentenceLabel: Int32Array.of(0, 1) })).toThrow(
      /next_sentence_label has 2 values, expected 3/,
    );
    const badIds = b.inputIds.slice();
    badIds[0] = 5000;
    expect(() => trainer.lossAndGrad({ ...b, inputIds: badIds })).toThrow(/outside the vocabulary/);
    // a failed step leaves the trainer usable
    expect(Math.abs(trainer.lossAndGrad(b).loss - pre.loss)).toBeLessThanOrEqual(1e-5);
  });
});

// ---- finite differences on an odd-shaped random BERT ----

/** C 20 (4 heads of 5), F 28, V 37, 2 layers, 3 segment types; T 7 (not multiples of 4 or 8). */
function oddConfig(arch: string): BertConfig {
  return bertConfigFromJson({
    model_type: "bert",
    architectures: [arch],
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
    num_labels: 3,
  });
}

/** Random values everywhere (biases and LayerNorm parameters too), large enough for clear gradients. */
function randomize(trainer: BertTrainer, seed: number): void {
  trainer.params.entries().forEach((e, i) => {
    const v = normal(e.size, seed + i, e.name.includes("LayerNorm") ? 0.3 : 0.4);
    if (e.name.includes("LayerNorm.weight")) for (let j = 0; j < v.length; j++) v[j] += 1;
    trainer.params.set(e.name, v);
  });
  trainer.repack();
}

function oddBatch(B: number, T: number, V: number, withLabels: "pretrain" | "classify"): BertBatch {
  const r = rng(7);
  const ids = Int32Array.from({ length: B * T }, () => 1 + Math.floor(r() * (V - 1)));
  const mask = new Int32Array(B * T).fill(1);
  const lengths = [T, T - 2, T - 4];
  for (let b = 0; b < B; b++)
    for (let t = lengths[b % 3]; t < T; t++) {
      mask[b * T + t] = 0;
      ids[b * T + t] = 0; // padding id: its word-embedding row gets no gradient from the lookup
    }
  const types = Int32Array.from({ length: B * T }, (_, i) => (i % T) % 3);
  const batch: BertBatch = { inputIds: ids, attentionMask: mask, tokenTypeIds: types, batch: B, seq: T };
  if (withLabels === "pretrain") {
    batch.mlmLabels = Int32Array.from({ length: B * T }, (_, i) =>
      i % 3 === 1 && mask[i] ? Math.floor(r() * V) : -100,
    );
    batch.nextSentenceLabel = Int32Array.from({ length: B }, (_, b) => b % 2);
  } else {
    batch.labels = Int32Array.from({ length: B }, (_, b) => b % 3);
  }
  return batch;
}

describe("BERT gradients by finite differences (odd shapes, random weights)", () => {
  it.each(["BertForPreTraining", "BertForSequenceClassification"] as const)(
    "%s: directional derivatives over all parameters and single entries of every tensor kind",
    (arch) => {
      const cfg = oddConfig(arch);
      const trainer = new BertTrainer(rt, cfg, { seed: 3 });
      randomize(trainer, 100);
      const batch = oddBatch(3, 7, cfg.vocabSize, arch === "BertForPreTraining" ? "pretrain" : "classify");
      const { params } = trainer;
      trainer.lossAndGrad(batch);
      const g = new Float32Array(params.count);
      g.set(rt.arena.f32(params.grads, params.count));
      const theta = rt.arena.f32(params.params, params.count).slice();
      const lossAt = (p: Float32Array) => {
        rt.arena.f32(params.params, params.count).set(p);
        trainer.repack();
        return trainer.evaluate(batch).loss;
      };

      // directional derivatives along random directions u: D(h) = (L(θ + hu) − L(θ − hu)) / 2h ≈ g·u,
      // with Richardson's (4·D(h/2) − D(h)) / 3 to cancel the h² term (the loss is only f32)
      for (let d = 0; d < 3; d++) {
        const u = normal(params.count, 500 + d);
        const D = (h: number) =>
          (lossAt(theta.map((v, i) => v + h * u[i])) - lossAt(theta.map((v, i) => v - h * u[i]))) / (2 * h);
        const h = 4e-4;
        const numeric = (4 * D(h / 2) - D(h)) / 3;
        let analytic = 0;
        for (let i = 0; i < g.length; i++) analytic += g[i] * u[i];
        expect(Math.abs(numeric - analytic), `direction ${d}: ${numeric} vs ${analytic}`).toBeLessThanOrEqual(
          1e-3 * Math.abs(analytic),
        );
      }

      // single entries: two of every parameter tensor (central differences, h = 1e-2: f32 loss noise
      // ≈ 5e-5 in the quotient, truncation below that)
      const r = rng(11);
      let checked = 0;
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
          expect(Math.abs(numeric - g[at]), `${e.name}[${idx}]: ${numeric} vs ${g[at]}`).toBeLessThanOrEqual(
            5e-3 * Math.abs(g[at]) + 2e-4,
          );
          checked++;
        }
      }
      expect(checked).toBe(params.entries().length * 2);
      lossAt(theta);
    },
  );

  it("the padding token's word-embedding row gets only the tied decoder's gradient", () => {
    const cfg = oddConfig("BertForSequenceClassification");
    const trainer = new BertTrainer(rt, cfg, { seed: 5 });
    trainer.lossAndGrad(oddBatch(3, 7, cfg.vocabSize, "classify"));
    const g = trainer.params.gradient("bert.embeddings.word_embeddings.weight");
    expect(g.subarray(0, 20).every((v) => v === 0)).toBe(true);
    expect(l2(g.subarray(20))).toBeGreaterThan(0);
  });
});

describe("parameter store", () => {
  it("one layout for values, gradients and moments: decayed tensors first, fused QKV adjacent", () => {
    const trainer = new BertTrainer(rt, oddConfig("BertForPreTraining"), { seed: 1 });
    const { params } = trainer;
    const entries = params.entries();
    let offset = 0;
    for (const e of entries) {
      expect(e.offset).toBe(offset);
      offset += e.size;
      expect(e.decay).toBe(!(e.name.endsWith("bias") || e.name.includes("LayerNorm")));
      expect(e.offset < params.decayCount).toBe(e.decay);
    }
    expect(offset).toBe(params.count);
    expect(params.has("cls.predictions.decoder.weight")).toBe(false); // tied to the word embeddings
    const s = "bert.encoder.layer.1.attention.self";
    for (const t of ["weight", "bias"]) {
      const q = params.entry(`${s}.query.${t}`);
      expect(params.entry(`${s}.key.${t}`).offset).toBe(q.offset + q.size);
      expect(params.entry(`${s}.value.${t}`).offset).toBe(q.offset + 2 * q.size);
    }
    for (const region of ["grads", "m", "v"] as const)
      expect(params.ptr(`${s}.key.weight`, region) - params[region]).toBe(
        params.ptr(`${s}.key.weight`) - params.params,
      );
  });

  it("gradient norm over the region; clipping scale as torch.nn.utils.clip_grad_norm_", () => {
    const trainer = new BertTrainer(rt, oddConfig("BertForPreTraining"), { seed: 2 });
    trainer.lossAndGrad(oddBatch(3, 7, 37, "pretrain"));
    const { params } = trainer;
    let ss = 0;
    for (const t of Object.values(params.tensors("grads"))) ss += l2(t.data as Float32Array) ** 2;
    expect(params.gradNorm()).toBeCloseTo(Math.sqrt(ss), 6);
    const { norm, scale } = params.clipScale(params.gradNorm() / 4);
    expect(scale).toBeCloseTo(0.25, 5);
    expect(params.clipScale(norm * 2).scale).toBe(1);
    params.zeroGrad();
    expect(params.gradNorm()).toBe(0);
  });

  it("loads by name, reports missing and mis-shaped tensors together, or returns the missing ones", () => {
    const specs = [
      { name: "a.weight", shape: [2, 3], decay: true },
      { name: "a.bias", shape: [2], decay: false },
    ];
    const ps = new ParamStore(rt, specs);
    const store = storeOf({
      "a.weight": { dtype: "F32", shape: [3, 2], data: new Float32Array(6) },
      unused: { dtype: "F32", shape: [1], data: new Float32Array(1) },
    });
    expect(() => ps.load(store)).toThrow(
      /missing tensors: a\.bias; mis-shaped tensors: a\.weight is \[3,2\]/,
    );
    const ok = storeOf({
      "a.weight": { dtype: "F32", shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) },
    });
    expect(ps.load(ok, { allowMissing: true })).toEqual(["a.bias"]);
    expect([...ps.value("a.weight")]).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
