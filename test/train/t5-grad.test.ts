// T5 training against PyTorch on the t5_tiny fixtures (ReLU with the tied, scaled head; gated-GELU with
// the tied, unscaled head): the loss within 1e-5 and every parameter's gradient within 1e-4 relative (L2
// over the tensor); then central finite differences on odd-shaped random T5s (ReLU and gated-GELU, tied
// and untied heads; of an independent float64 forward, and of our f32 loss where it is smooth), the
// training forward's logits against T5Model's (before and after an AdamW step, so re-packing is
// covered), gradient accumulation, the embed_tokens copies of shared.weight, the position-bias scatter,
// the parameter layout, and a tiny copy task whose loss falls under AdamW.
//
// No T5 tensor's gradient is zero in theory (no biases, so nothing like BERT's attention key bias): every
// tensor is checked by relative error. Only single rows of the relative_attention_bias tables are exactly
// zero — the buckets no (query, key) pair of the batch reaches — and those are checked to be exactly 0.
import { beforeAll, describe, expect, it } from "vitest";
import { type TensorInput, writeSafetensors } from "../../src/io/safetensors.ts";
import { readConfig, readTensors } from "../../src/models/checkpoint-node.ts";
import { relativePositionBias, relativePositionBucket } from "../../src/models/relative-position.ts";
import { shiftRight, T5Model } from "../../src/models/t5.ts";
import { type T5Config, t5ConfigFromJson } from "../../src/models/t5-config.ts";
import { TensorStore } from "../../src/models/tensors.ts";
import type { KernelRuntime } from "../../src/runtime/load.ts";
import { loadRuntime } from "../../src/runtime/node.ts";
import {
  gatherPositionBias,
  positionBuckets,
  scatterPositionBiasGrad,
} from "../../src/train/t5-position-bias.ts";
import { type T5Batch, T5Trainer, t5HasWeightDecay } from "../../src/train/t5-train.ts";
import { expectClose } from "../helpers/compare.ts";
import { checkDirections, checkEntries, checkF32Direction } from "../helpers/finite-differences.ts";
import { fixturePath, readJsonFixture, readSafetensorsFixture } from "../helpers/fixtures.ts";
import { normal, rng } from "../helpers/random.ts";

interface Seq2SeqJson {
  input_ids: number[][];
  attention_mask: number[][];
  labels: number[][];
  decoder_input_ids: number[][];
  loss: number;
}

const FIXTURES = ["t5_tiny_relu", "t5_tiny_gated"] as const;
type Fixture = (typeof FIXTURES)[number];

function fixtureBatch(name: Fixture, withDecoderIds = false): { batch: T5Batch; json: Seq2SeqJson } {
  const j = readJsonFixture<Seq2SeqJson>(`${name}/seq2seq_inputs.json`);
  const batch: T5Batch = {
    inputIds: Int32Array.from(j.input_ids.flat()),
    attentionMask: Int32Array.from(j.attention_mask.flat()),
    labels: Int32Array.from(j.labels.flat()),
    batch: j.input_ids.length,
    seq: j.input_ids[0].length,
    decoderSeq: j.labels[0].length,
  };
  if (withDecoderIds) batch.decoderInputIds = Int32Array.from(j.decoder_input_ids.flat());
  return { batch, json: j };
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

function storeOf(tensors: Record<string, TensorInput>): TensorStore {
  return TensorStore.fromBytes([{ bytes: writeSafetensors(tensors), name: "model.safetensors" }]);
}

let rt: KernelRuntime;
const configs = new Map<string, T5Config>();
async function fixtureTrainer(name: Fixture): Promise<T5Trainer> {
  let c = configs.get(name);
  if (!c) {
    c = t5ConfigFromJson(await readConfig(fixturePath(name)));
    configs.set(name, c);
  }
  return new T5Trainer(rt, c, { weights: await readTensors(fixturePath(name)) });
}

beforeAll(async () => {
  rt = await loadRuntime({ relaxed: false });
});

describe("T5 gradients against PyTorch (t5_tiny fixtures)", () => {
  it.each(FIXTURES)("%s: loss within 1e-5; every gradient within 1e-4", async (name) => {
    const trainer = await fixtureTrainer(name);
    expect(trainer.tied).toBe(true); // both fixtures tie the head; relu also scales the decoder output
    expect(trainer.scaled).toBe(name === "t5_tiny_relu");
    const { batch, json } = fixtureBatch(name);
    const out = trainer.lossAndGrad(batch);
    const lossError = Math.abs(out.loss - json.loss);
    expect(lossError).toBeLessThanOrEqual(1e-5);
    expect(out.tokens).toBe(json.labels.flat().filter((y) => y !== -100).length);

    const ref = readSafetensorsFixture(`${name}/seq2seq_grads.safetensors`);
    expect(trainer.params.names().sort()).toEqual(ref.names().sort());
    let worst = 0;
    let worstName = "";
    for (const n of ref.names()) {
      const e = ref.float32(n);
      const g = trainer.params.gradient(n);
      expect(g.length, n).toBe(e.length);
      expect(l2(e), n).toBeGreaterThan(0);
      const rel = l2diff(g, e) / l2(e);
      expect(rel, n).toBeLessThanOrEqual(1e-4);
      if (rel > worst) [worst, worstName] = [rel, n];
      if (n.endsWith("relative_attention_bias.weight")) {
        // rows of buckets no pair reaches: exactly 0 on both sides
        const H = trainer.config.numHeads;
        for (let b = 0; b < e.length / H; b++) {
          const row = [...e.subarray(b * H, (b + 1) * H)];
          if (row.every((v) => v === 0))
            expect([...g.subarray(b * H, (b + 1) * H)], `${n}[${b}]`).toEqual(row.map(() => 0));
        }
      }
    }

    // decoder_input_ids given (the fixture's: labels shifted right) = derived from the labels
    const withIds = await fixtureTrainer(name);
    const out2 = withIds.lossAndGrad(fixtureBatch(name, true).batch);
    expect(out2.loss).toBe(out.loss);
    expect([...withIds.params.gradient("shared.weight")]).toEqual([
      ...trainer.params.gradient("shared.weight"),
    ]);

    // ms per training step (lossAndGrad + AdamW + re-pack)
    const o = { lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };
    withIds.trainStep(batch, o);
    const steps = 10;
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) withIds.trainStep(batch, o);
    const ms = (performance.now() - t0) / steps;
    console.log(
      `${name}: loss error ${lossError}, worst gradient error ${worst} (${worstName}), ${ms.toFixed(2)} ms per training step`,
    );
  });

  it.each(FIXTURES)(
    "%s: the training forward's logits equal T5Model's, before and after an AdamW step",
    async (name) => {
      const trainer = await fixtureTrainer(name);
      const { batch } = fixtureBatch(name);
      const V = trainer.config.vocabSize;
      const torchLogits = readSafetensorsFixture(`${name}/seq2seq_outputs.safetensors`).float32("logits");
      for (let step = 0; step < 2; step++) {
        const out = trainer.lossAndGrad(batch, { logits: true });
        const model = new T5Model(rt, trainer.config, storeOf(trainer.exportWeights()));
        expect(model.tiedHead).toBe(true);
        const ref = model.forward(batch);
        expect(out.rows.length).toBe(out.tokens);
        const rows = (all: Float32Array) => {
          const r = new Float32Array(out.rows.length * V);
          out.rows.forEach((row, i) => {
            r.set(all.subarray(row * V, (row + 1) * V), i * V);
          });
          return r;
        };
        expectClose(out.logits!, rows(ref.logits), 1e-5, 1e-6, `logits vs T5Model, step ${step}`);
        expect(Math.abs(out.loss - ref.loss!)).toBeLessThanOrEqual(1e-5);
        if (step === 0) expectClose(out.logits!, rows(torchLogits), 1e-4, 0, "logits vs PyTorch");
        trainer.adamwStep({ lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-6, weightDecay: 0.01 });
      }
    },
  );

  it("accumulating two half-weighted passes gives the same gradients as one pass", async () => {
    const trainer = await fixtureTrainer("t5_tiny_gated");
    const { batch } = fixtureBatch("t5_tiny_gated");
    trainer.lossAndGrad(batch);
    const once = trainer.params.tensors("grads");
    trainer.lossAndGrad(batch, { lossScale: 0.5 });
    trainer.lossAndGrad(batch, { lossScale: 0.5, accumulate: true });
    for (const [name, t] of Object.entries(once))
      expectClose(trainer.params.gradient(name), t.data as Float32Array, 1e-6, 1e-5, name);
  });

  it("perExample: the gradient is the mean over examples of each example's own mean-token gradient", async () => {
    const trainer = await fixtureTrainer("t5_tiny_gated");
    const { batch } = fixtureBatch("t5_tiny_gated");
    const { batch: B, seq: T, decoderSeq: Td } = batch;
    // give the examples different numbers of labeled tokens, so token and example weighting differ
    const labels = batch.labels.slice();
    for (let b = 0; b < B; b++) for (let t = Td - b; t < Td; t++) labels[b * Td + t] = -100;
    const full: T5Batch = { ...batch, labels };
    const tokenMean = trainer.lossAndGrad(full);
    const tokenGrads = trainer.params.tensors("grads");
    const out = trainer.lossAndGrad(full, { perExample: true, lossScale: 0.5 });
    expect(out.loss).toBe(tokenMean.loss); // the reported loss stays per token
    const got = trainer.params.tensors("grads");
    // reference: each example alone (its own mean-token loss), accumulated with weight 0.5 / B
    for (let b = 0; b < B; b++) {
      const one: T5Batch = {
        inputIds: batch.inputIds.slice(b * T, (b + 1) * T),
        attentionMask: batch.attentionMask?.slice(b * T, (b + 1) * T),
        labels: labels.slice(b * Td, (b + 1) * Td),
        batch: 1,
        seq: T,
        decoderSeq: Td,
      };
      trainer.lossAndGrad(one, { lossScale: 0.5 / B, accumulate: b > 0 });
    }
    let differs = false;
    for (const [name, t] of Object.entries(got)) {
      expectClose(t.data as Float32Array, trainer.params.gradient(name), 1e-5, 1e-6, name);
      if (
        l2diff(t.data as Float32Array, tokenGrads[name].data as Float32Array) >
        1e-3 * l2(t.data as Float32Array)
      )
        differs = true;
    }
    expect(differs).toBe(true); // and it is not the token-weighted gradient
  });

  it("encoder/decoder.embed_tokens.weight: accepted as copies of shared.weight, or instead of it", async () => {
    const base = readSafetensorsFixture("t5_tiny_relu/model.safetensors");
    const tensors: Record<string, TensorInput> = {};
    for (const n of base.names())
      tensors[n] = { dtype: "F32", shape: base.info(n).shape, data: base.float32(n) };
    const config = t5ConfigFromJson(await readConfig(fixturePath("t5_tiny_relu")));
    const { batch } = fixtureBatch("t5_tiny_relu");
    const ref = await fixtureTrainer("t5_tiny_relu");
    ref.lossAndGrad(batch);
    const refGrad = ref.params.gradient("shared.weight");

    const copies = { ...tensors };
    copies["encoder.embed_tokens.weight"] = tensors["shared.weight"];
    copies["decoder.embed_tokens.weight"] = tensors["shared.weight"];
    const withCopies = new T5Trainer(rt, config, { weights: storeOf(copies) });
    expect(withCopies.embeddingCopies).toEqual([
      "encoder.embed_tokens.weight",
      "decoder.embed_tokens.weight",
    ]);
    expect(withCopies.params.has("encoder.embed_tokens.weight")).toBe(false); // one parameter
    withCopies.lossAndGrad(batch);
    expect([...withCopies.params.gradient("shared.weight")]).toEqual([...refGrad]);
    expect(Object.keys(withCopies.exportGradients())).not.toContain("encoder.embed_tokens.weight");
    const exported = withCopies.exportWeights();
    expect(Object.keys(exported).sort()).toEqual(Object.keys(copies).sort());
    expect(exported["decoder.embed_tokens.weight"].data).toEqual(exported["shared.weight"].data);

    const onlyCopy = { ...tensors };
    delete onlyCopy["shared.weight"];
    onlyCopy["encoder.embed_tokens.weight"] = tensors["shared.weight"];
    const fromCopy = new T5Trainer(rt, config, { weights: storeOf(onlyCopy) });
    fromCopy.lossAndGrad(batch);
    expect([...fromCopy.params.gradient("shared.weight")]).toEqual([...refGrad]);

    const bad = { ...tensors };
    bad["decoder.embed_tokens.weight"] = { dtype: "F32", shape: [10, 64], data: new Float32Array(640) };
    expect(() => new T5Trainer(rt, config, { weights: storeOf(bad) })).toThrow(
      /decoder\.embed_tokens\.weight is \[10,64\], expected \[1100,64\]/,
    );
    const missing = { ...tensors };
    delete missing["encoder.final_layer_norm.weight"];
    expect(() => new T5Trainer(rt, config, { weights: storeOf(missing) })).toThrow(
      /missing tensors: encoder\.final_layer_norm\.weight/,
    );
  });

  it("rejects bad labels, ids and shapes with clear errors; a failed step leaves the trainer usable", async () => {
    const trainer = await fixtureTrainer("t5_tiny_relu");
    const { batch: b, json } = fixtureBatch("t5_tiny_relu");
    const badLabels = b.labels.slice();
    badLabels[2] = 1100;
    expect(() => trainer.lossAndGrad({ ...b, labels: badLabels })).toThrow(/labels has label 1100 outside/);
    expect(() => trainer.lossAndGrad({ ...b, labels: b.labels.subarray(1) })).toThrow(
      /labels has 41 values, expected 3×14/,
    );
    expect(() => trainer.lossAndGrad({ ...b, decoderInputIds: new Int32Array(5) })).toThrow(
      /decoder_input_ids has 5 values, expected 3×14/,
    );
    const badIds = b.inputIds.slice();
    badIds[0] = 5000;
    expect(() => trainer.lossAndGrad({ ...b, inputIds: badIds })).toThrow(
      /T5 encoder: input_ids: 1 ids are outside the vocabulary/,
    );
    expect(() => trainer.lossAndGrad({ ...b, decoderSeq: 0 })).toThrow(/invalid input/);
    const none = trainer.lossAndGrad({ ...b, labels: new Int32Array(b.labels.length).fill(-100) });
    expect(none.loss).toBeNaN();
    expect(none.tokens).toBe(0);
    expect(trainer.params.gradNorm()).toBe(0);
    expect(Math.abs(trainer.lossAndGrad(b).loss - json.loss)).toBeLessThanOrEqual(1e-5);
  });
});

// ---- finite differences on odd-shaped random T5s ----
//
// ReLU makes finite differences of the f32 loss unreliable: with ~1500 ReLU units some pre-activation
// sits within the step of its kink, where the central difference averages the two one-sided slopes
// (errors of several % that do not shrink with h, while the f32 loss allows no smaller h). So the
// differences are taken on an independent float64 forward written out below (h = 1e-6: no kink is
// crossed — checked — and truncation and rounding are far below f32), whose loss must equal ours at θ;
// for the smooth gated-GELU models our own f32 loss is differentiated too.

/**
 * C 12, 3 heads of d_kv 5 (inner 15 ≠ C), F 14, V 29, 2 encoder and 3 decoder layers, 8 buckets with
 * max distance 12 (so log-spaced buckets are used at T 9); not multiples of 4 or 8.
 */
function oddConfig(ff: "relu" | "gated-gelu", tie: boolean): T5Config {
  return t5ConfigFromJson({
    model_type: "t5",
    vocab_size: 29,
    d_model: 12,
    d_kv: 5,
    d_ff: 14,
    num_layers: 2,
    num_decoder_layers: 3,
    num_heads: 3,
    relative_attention_num_buckets: 8,
    relative_attention_max_distance: 12,
    feed_forward_proj: ff,
    tie_word_embeddings: tie,
    layer_norm_epsilon: 1e-6,
    pad_token_id: 0,
    eos_token_id: 1,
    decoder_start_token_id: 0,
  });
}

/** Random values everywhere, norms around 1, attention soft enough for a smooth loss. */
function randomize(trainer: T5Trainer, seed: number): void {
  trainer.params.entries().forEach((e, i) => {
    const norm = e.name.includes("layer_norm");
    const std = norm ? 0.3 : e.name === "shared.weight" || e.name === "lm_head.weight" ? 0.5 : 0.2;
    const v = normal(e.size, seed + i, std);
    if (norm) for (let j = 0; j < v.length; j++) v[j] += 1;
    trainer.params.set(e.name, v);
  });
  trainer.repack();
}

/** B 3, T 9 (lengths 9, 7, 5; padded with id 0), Tdec 6 (targets of lengths 6, 4, 5; −100 after). */
function oddBatch(V: number): T5Batch {
  const [B, T, Td] = [3, 9, 6];
  const r = rng(7);
  const ids = Int32Array.from({ length: B * T }, () => 2 + Math.floor(r() * (V - 2)));
  const mask = new Int32Array(B * T).fill(1);
  const lengths = [9, 7, 5];
  for (let b = 0; b < B; b++)
    for (let t = lengths[b]; t < T; t++) {
      mask[b * T + t] = 0;
      ids[b * T + t] = 0;
    }
  const targets = [6, 4, 5];
  const labels = Int32Array.from({ length: B * Td }, (_, i) =>
    i % Td < targets[Math.floor(i / Td)] ? Math.floor(r() * V) : -100,
  );
  return { inputIds: ids, attentionMask: mask, labels, batch: B, seq: T, decoderSeq: Td };
}

type Params64 = Map<string, Float64Array>;

/**
 * T5ForConditionalGeneration's mean cross-entropy in float64, written from the model's definition
 * (transformers' modeling_t5) with plain loops: RMSNorm, unscaled attention with the relative-position
 * bias of block 0 (bidirectional / causal buckets) and masks, ReLU or gated tanh-GELU, the tied head's
 * d_model^-0.5 scaling.
 */
function referenceLoss(
  cfg: T5Config,
  p: Params64,
  batch: T5Batch,
  tied: boolean,
  stats: { minReluInput: number } = { minReluInput: Number.POSITIVE_INFINITY },
): number {
  const { dModel: C, numHeads: H, dKv: D, dFf: F, vocabSize: V, layerNormEpsilon: eps } = cfg;
  const [NB, MD] = [cfg.relativeAttentionNumBuckets, cfg.relativeAttentionMaxDistance];
  const I = H * D;
  const { batch: B, seq: T, decoderSeq: Td } = batch;
  const w = (n: string) => p.get(n)!;
  const embed = (ids: ArrayLike<number>) => {
    const out = new Float64Array(ids.length * C);
    for (let r = 0; r < ids.length; r++)
      out.set(w("shared.weight").subarray(ids[r] * C, (ids[r] + 1) * C), r * C);
    return out;
  };
  const rms = (x: Float64Array, name: string) => {
    const g = w(name);
    const y = new Float64Array(x.length);
    for (let r = 0; r < x.length / C; r++) {
      let ss = 0;
      for (let c = 0; c < C; c++) ss += x[r * C + c] ** 2;
      const s = 1 / Math.sqrt(ss / C + eps);
      for (let c = 0; c < C; c++) y[r * C + c] = x[r * C + c] * s * g[c];
    }
    return y;
  };
  const linear = (x: Float64Array, name: string, K: number) => {
    const W = w(name);
    const N = W.length / K;
    const rows = x.length / K;
    const y = new Float64Array(rows * N);
    for (let r = 0; r < rows; r++)
      for (let n = 0; n < N; n++) {
        let acc = 0;
        for (let k = 0; k < K; k++) acc += x[r * K + k] * W[n * K + k];
        y[r * N + n] = acc;
      }
    return y;
  };
  const addInto = (x: Float64Array, y: Float64Array) => {
    for (let i = 0; i < x.length; i++) x[i] += y[i];
  };
  const bias = (table: Float64Array, bidirectional: boolean) => (h: number, i: number, j: number) =>
    table[relativePositionBucket(j - i, bidirectional, NB, MD) * H + h];
  /** q [B·Tq, I], k and v [B·Tk, I] → [B·Tq, I] */
  const attention = (
    q: Float64Array,
    k: Float64Array,
    v: Float64Array,
    Tq: number,
    Tk: number,
    posBias: ((h: number, i: number, j: number) => number) | undefined,
    keyMask: Int32Array | undefined,
    causal: boolean,
  ) => {
    const out = new Float64Array(B * Tq * I);
    const s = new Float64Array(Tk);
    for (let b = 0; b < B; b++)
      for (let h = 0; h < H; h++)
        for (let i = 0; i < Tq; i++) {
          let mx = Number.NEGATIVE_INFINITY;
          for (let j = 0; j < Tk; j++) {
            if ((keyMask && keyMask[b * Tk + j] === 0) || (causal && j > i)) {
              s[j] = Number.NEGATIVE_INFINITY;
              continue;
            }
            let acc = posBias ? posBias(h, i, j) : 0;
            for (let d = 0; d < D; d++)
              acc += q[(b * Tq + i) * I + h * D + d] * k[(b * Tk + j) * I + h * D + d];
            s[j] = acc;
            mx = Math.max(mx, acc);
          }
          let sum = 0;
          for (let j = 0; j < Tk; j++) {
            s[j] = Math.exp(s[j] - mx);
            sum += s[j];
          }
          for (let j = 0; j < Tk; j++)
            for (let d = 0; d < D; d++)
              out[(b * Tq + i) * I + h * D + d] += (s[j] / sum) * v[(b * Tk + j) * I + h * D + d];
        }
    return out;
  };
  const geluTanh = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
  const feedForward = (h: Float64Array, p: string) => {
    let act: Float64Array;
    if (cfg.isGated) {
      const g = linear(h, `${p}.wi_0.weight`, C);
      const u = linear(h, `${p}.wi_1.weight`, C);
      act = g.map((x, i) => geluTanh(x) * u[i]);
    } else {
      act = linear(h, `${p}.wi.weight`, C).map((x) => {
        stats.minReluInput = Math.min(stats.minReluInput, Math.abs(x));
        return Math.max(x, 0);
      });
    }
    return linear(act, `${p}.wo.weight`, F);
  };

  const encBias = bias(w(`encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight`), true);
  const x = embed(batch.inputIds);
  for (let l = 0; l < cfg.numLayers; l++) {
    const b = `encoder.block.${l}.layer`;
    const h = rms(x, `${b}.0.layer_norm.weight`);
    const a = `${b}.0.SelfAttention`;
    const ctx = attention(
      linear(h, `${a}.q.weight`, C),
      linear(h, `${a}.k.weight`, C),
      linear(h, `${a}.v.weight`, C),
      T,
      T,
      encBias,
      batch.attentionMask,
      false,
    );
    addInto(x, linear(ctx, `${a}.o.weight`, I));
    addInto(x, feedForward(rms(x, `${b}.1.layer_norm.weight`), `${b}.1.DenseReluDense`));
  }
  const enc = rms(x, "encoder.final_layer_norm.weight");

  const decBias = bias(w(`decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight`), false);
  let y = embed(shiftRight(batch.labels, B, Td, cfg.decoderStartTokenId, cfg.padTokenId));
  for (let l = 0; l < cfg.numDecoderLayers; l++) {
    const b = `decoder.block.${l}.layer`;
    let h = rms(y, `${b}.0.layer_norm.weight`);
    const a = `${b}.0.SelfAttention`;
    let ctx = attention(
      linear(h, `${a}.q.weight`, C),
      linear(h, `${a}.k.weight`, C),
      linear(h, `${a}.v.weight`, C),
      Td,
      Td,
      decBias,
      undefined,
      true,
    );
    addInto(y, linear(ctx, `${a}.o.weight`, I));
    h = rms(y, `${b}.1.layer_norm.weight`);
    const x2 = `${b}.1.EncDecAttention`;
    ctx = attention(
      linear(h, `${x2}.q.weight`, C),
      linear(enc, `${x2}.k.weight`, C),
      linear(enc, `${x2}.v.weight`, C),
      Td,
      T,
      undefined,
      batch.attentionMask,
      false,
    );
    addInto(y, linear(ctx, `${x2}.o.weight`, I));
    addInto(y, feedForward(rms(y, `${b}.2.layer_norm.weight`), `${b}.2.DenseReluDense`));
  }
  y = rms(y, "decoder.final_layer_norm.weight");
  if (cfg.scaleDecoderOutputs) y = y.map((v) => v * C ** -0.5);
  const logits = linear(y, tied ? "shared.weight" : "lm_head.weight", C);
  let sum = 0;
  let n = 0;
  for (let r = 0; r < B * Td; r++) {
    const t = batch.labels[r];
    if (t === -100) continue;
    const row = logits.subarray(r * V, (r + 1) * V);
    const mx = Math.max(...row);
    let se = 0;
    for (const v of row) se += Math.exp(v - mx);
    sum += mx + Math.log(se) - row[t];
    n++;
  }
  return sum / n;
}

describe("T5 gradients by finite differences (odd shapes, random weights)", () => {
  it.each([
    ["relu", true],
    ["relu", false],
    ["gated-gelu", true],
    ["gated-gelu", false],
  ] as const)("%s, tied head %s: directional derivatives and four entries of every tensor", (ff, tie) => {
    const cfg = oddConfig(ff, tie);
    const trainer = new T5Trainer(rt, cfg, { seed: 3 });
    expect(trainer.tied).toBe(tie);
    expect(trainer.scaled).toBe(tie); // configs without scale_decoder_outputs scale exactly when tied
    expect(trainer.params.has("lm_head.weight")).toBe(!tie);
    randomize(trainer, 300);
    const batch = oddBatch(cfg.vocabSize);
    const { params } = trainer;
    const ours = trainer.lossAndGrad(batch).loss;
    const g = new Float32Array(params.count);
    g.set(rt.arena.f32(params.grads, params.count));

    // the float64 forward is our forward: same loss at θ
    const p64: Params64 = new Map(
      params.entries().map((e) => [e.name, Float64Array.from(params.value(e.name))]),
    );
    const L = (p: Params64) => referenceLoss(cfg, p, batch, tie);
    expect(Math.abs(L(p64) - ours), `loss ${ours} vs float64 ${L(p64)}`).toBeLessThanOrEqual(1e-5 * ours);
    // the loss is differentiable at θ: no ReLU input within 1e-4 of its kink (100× the largest step the
    // differences below take; the seed is chosen for it), so f32 and f64 agree on every unit's side
    const stats = { minReluInput: Number.POSITIVE_INFINITY };
    referenceLoss(cfg, p64, batch, tie, stats);
    if (ff === "relu") expect(stats.minReluInput).toBeGreaterThan(1e-4);

    // directional derivatives along random directions u: (L(θ + hu) − L(θ − hu)) / 2h ≈ g·u; then four
    // single entries of every tensor; smooth models: our own f32 loss differentiated too
    const worstDir = checkDirections(params, g, p64, L, [500, 501, 502]);
    const worstEntry = checkEntries(params, g, p64, L, 11);
    if (ff === "gated-gelu")
      checkF32Direction(
        params,
        g,
        () => trainer.evaluate(batch).loss,
        () => trainer.repack(),
        600,
      );
    console.log(
      `${ff}, tied ${tie}: loss vs float64 ${Math.abs(L(p64) - ours)}, worst directional ${worstDir}, worst entry ${worstEntry}`,
    );
  });
});

describe("T5 position bias and parameter layout", () => {
  it("the gathered bias equals the inference model's; the scatter is its adjoint", () => {
    const [H, NB, MD] = [3, 8, 12];
    const table = normal(NB * H, 1);
    for (const [Tq, Tk, bidir] of [
      [9, 9, true],
      [6, 6, false],
    ] as const) {
      const buckets = positionBuckets(Tq, Tk, bidir, NB, MD);
      const bias = new Float32Array(H * Tq * Tk);
      gatherPositionBias(bias, table, buckets, H);
      expect([...bias]).toEqual([...relativePositionBias(table, H, Tq, Tk, bidir, NB, MD)]);
      // ⟨gather(t), d⟩ = ⟨t, scatter(d)⟩
      const dbias = normal(H * Tq * Tk, 2);
      const dtable = new Float32Array(NB * H);
      scatterPositionBiasGrad(dtable, dbias, buckets, H);
      let lhs = 0;
      for (let i = 0; i < bias.length; i++) lhs += bias[i] * dbias[i];
      let rhs = 0;
      for (let i = 0; i < table.length; i++) rhs += table[i] * dtable[i];
      expect(lhs).toBeCloseTo(rhs, 4);
    }
  });

  it("one layout: decayed tensors first, q|k|v, cross k|v and wi_0|wi_1 adjacent; no decay on norms and position tables", () => {
    expect(t5HasWeightDecay("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight")).toBe(
      false,
    );
    expect(t5HasWeightDecay("decoder.final_layer_norm.weight")).toBe(false);
    expect(t5HasWeightDecay("decoder.block.1.layer.2.layer_norm.weight")).toBe(false);
    expect(t5HasWeightDecay("shared.weight")).toBe(true);
    expect(t5HasWeightDecay("decoder.block.1.layer.1.EncDecAttention.k.weight")).toBe(true);
    const trainer = new T5Trainer(rt, oddConfig("gated-gelu", false), { seed: 1 });
    const { params } = trainer;
    let offset = 0;
    for (const e of params.entries()) {
      expect(e.offset).toBe(offset);
      offset += e.size;
      expect(e.decay).toBe(t5HasWeightDecay(e.name));
      expect(e.offset < params.decayCount).toBe(e.decay);
    }
    expect(offset).toBe(params.count);
    const adjacent = (names: string[]) => {
      for (let i = 1; i < names.length; i++) {
        const prev = params.entry(names[i - 1]);
        expect(params.entry(names[i]).offset, names[i]).toBe(prev.offset + prev.size);
      }
    };
    adjacent(["q", "k", "v"].map((n) => `decoder.block.2.layer.0.SelfAttention.${n}.weight`));
    adjacent(["k", "v"].map((n) => `decoder.block.2.layer.1.EncDecAttention.${n}.weight`));
    adjacent(["wi_0", "wi_1"].map((n) => `encoder.block.1.layer.1.DenseReluDense.${n}.weight`));
    expect(params.has("decoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight")).toBe(false);
    // random init follows Hugging Face's scales: norms 1, k ~ d_model^-½
    expect([...params.value("encoder.final_layer_norm.weight")].every((v) => v === 1)).toBe(true);
    const k = params.value("encoder.block.0.layer.0.SelfAttention.k.weight");
    expect(l2(k) / Math.sqrt(k.length)).toBeCloseTo(12 ** -0.5, 1);
  });
});

describe("T5 training", () => {
  it("the loss falls over a few AdamW steps on a tiny copy task", () => {
    const cfg = t5ConfigFromJson({
      model_type: "t5",
      vocab_size: 16,
      d_model: 32,
      d_kv: 8,
      d_ff: 64,
      num_layers: 1,
      num_decoder_layers: 1,
      num_heads: 4,
      relative_attention_num_buckets: 8,
      relative_attention_max_distance: 16,
      feed_forward_proj: "gated-gelu",
    });
    const trainer = new T5Trainer(rt, cfg, { seed: 5 }); // Hugging Face's init, tied and scaled head
    const [B, T] = [8, 6];
    const r = rng(9);
    const batch = (): T5Batch => {
      // T − 1 random tokens then </s> (1); the target is the input
      const ids = Int32Array.from({ length: B * T }, (_, i) =>
        i % T === T - 1 ? 1 : 2 + Math.floor(r() * 14),
      );
      return { inputIds: ids, labels: ids.slice(), batch: B, seq: T, decoderSeq: T };
    };
    const held = batch();
    const o = { lr: 1e-2, beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0.01 };
    const before = trainer.evaluate(held).loss;
    const losses: number[] = [];
    for (let step = 0; step < 40; step++) losses.push(trainer.trainStep(batch(), o, { maxGradNorm: 1 }).loss);
    const after = trainer.evaluate(held).loss;
    console.log(
      `copy task: held-out loss ${before.toFixed(3)} → ${after.toFixed(3)}; train ${losses[0].toFixed(3)} → ${losses.at(-1)!.toFixed(3)}`,
    );
    expect(after).toBeLessThan(0.6 * before);
    expect(losses.at(-1)!).toBeLessThan(0.6 * losses[0]);
    expect(trainer.params.step).toBe(40);
  });
});
