// T5Trainer with adapters (option `adapters`, or loaded from the weights) and frozen tensors, on all three
// architectures: a fresh adapter is the identity (logits within 1e-6 of the model without adapters);
// gradients of every tensor, adapters included, against central finite differences of the float64
// reference (test/train/t5-lm-reference.ts); frozen tensors get no gradient and stay bit-identical
// under AdamW while the trainable ones get exactly the gradients of a fully trainable run; checkpoint
// rules (adapters loaded with their bottleneck, a different bottleneck or partial adapters refused);
// adapters alone learn a small task on a frozen base.
import { beforeAll, describe, expect, it } from "vitest";
import { type TensorInput, writeSafetensors } from "../../src/io/safetensors.ts";
import { isAdapterTensor } from "../../src/models/adapters.ts";
import { type T5Architecture, type T5Config, t5ConfigFromJson } from "../../src/models/t5-config.ts";
import { TensorStore } from "../../src/models/tensors.ts";
import type { KernelRuntime } from "../../src/runtime/load.ts";
import { loadRuntime } from "../../src/runtime/node.ts";
import { type T5Batch, T5Trainer } from "../../src/train/t5-train.ts";
import { expectClose } from "../helpers/compare.ts";
import { checkDirections, checkEntries } from "../helpers/finite-differences.ts";
import { normal, rng } from "../helpers/random.ts";
import { type Params64, referenceLoss } from "./t5-lm-reference.ts";

let rt: KernelRuntime;
beforeAll(async () => {
  rt = await loadRuntime({ relaxed: false });
});

const ARCHS: T5Architecture[] = ["encoder-decoder", "decoder-only", "prefix-lm"];

/** C 12, 3 heads of d_kv 5, F 14, V 29, 2 encoder and 2 decoder layers, gated-GELU (smooth). */
function config(arch: T5Architecture, tie = false): T5Config {
  return t5ConfigFromJson({
    model_type: "t5",
    edgeformer_architecture: arch,
    vocab_size: 29,
    d_model: 12,
    d_kv: 5,
    d_ff: 14,
    num_layers: 2,
    num_heads: 3,
    relative_attention_num_buckets: 8,
    relative_attention_max_distance: 12,
    feed_forward_proj: "gated-gelu",
    tie_word_embeddings: tie,
  });
}

function storeOf(tensors: Record<string, TensorInput>): TensorStore {
  return TensorStore.fromBytes([{ bytes: writeSafetensors(tensors), name: "model.safetensors" }]);
}

/** Random values everywhere (adapters too when `adapters`), norms near 1. */
function randomize(trainer: T5Trainer, seed: number, adapters = true): void {
  trainer.params.entries().forEach((e, i) => {
    if (isAdapterTensor(e.name) && !adapters) return;
    const norm = e.name.includes("layer_norm");
    const std = norm ? 0.3 : e.name.endsWith("bias") ? 0.1 : e.name === "shared.weight" ? 0.5 : 0.25;
    const v = normal(e.size, seed + i, std);
    if (norm) for (let j = 0; j < v.length; j++) v[j] += 1;
    trainer.params.set(e.name, v);
  });
  trainer.repack();
}

/** B 3, T 7 right-padded (7, 5, 4 tokens), Tdec 5 (5, 3, 4 targets). */
function batchOf(V: number, seed = 3): T5Batch {
  const [B, T, Td] = [3, 7, 5];
  const r = rng(seed);
  const lengths = [7, 5, 4];
  const mask = Int32Array.from({ length: B * T }, (_, i) => (i % T < lengths[Math.floor(i / T)] ? 1 : 0));
  const ids = Int32Array.from(mask, (m) => (m ? 2 + Math.floor(r() * (V - 2)) : 0));
  const targets = [5, 3, 4];
  const labels = Int32Array.from({ length: B * Td }, (_, i) =>
    i % Td < targets[Math.floor(i / Td)] ? 1 + Math.floor(r() * (V - 1)) : -100,
  );
  return { inputIds: ids, attentionMask: mask, labels, batch: B, seq: T, decoderSeq: Td };
}

describe.each(ARCHS)("T5 adapters, %s", (arch) => {
  it("adds four tensors per sublayer; a fresh adapter is the identity (logits within 1e-6)", () => {
    const cfg = config(arch);
    const base = new T5Trainer(rt, cfg, { seed: 1 });
    randomize(base, 10);
    const withAd = new T5Trainer(rt, cfg, {
      weights: storeOf(base.exportWeights()),
      adapters: { bottleneck: 3, seed: 9 },
    });
    expect(withAd.adapterBottleneck).toBe(3);
    const sublayers = arch === "encoder-decoder" ? 2 * 2 + 2 * 3 : 2 * 2;
    const names = withAd.params.names().filter(isAdapterTensor);
    expect(names.length).toBe(4 * sublayers);
    const first = arch === "encoder-decoder" ? "encoder.block.0.layer.0" : "decoder.block.0.layer.0";
    expect(withAd.params.entry(`${first}.adapter.down.weight`).shape).toEqual([3, 12]);
    expect(withAd.params.entry(`${first}.adapter.up.weight`).shape).toEqual([12, 3]);
    const down = withAd.params.value(`${first}.adapter.down.weight`);
    expect(Math.sqrt(down.reduce((s, v) => s + v * v, 0) / down.length)).toBeGreaterThan(0.005); // N(0, 0.02²)
    expect(Math.max(...withAd.params.value(`${first}.adapter.up.weight`).map(Math.abs))).toBe(0);
    const batch = batchOf(29);
    const a = base.evaluate(batch, { logits: true });
    const b = withAd.evaluate(batch, { logits: true });
    expectClose(b.logits!, a.logits!, 1e-6, 0, "fresh adapters vs none");
    // ... but they are in the graph: the up-projections get gradients
    withAd.lossAndGrad(batch);
    expect(Math.max(...withAd.params.gradient(`${first}.adapter.up.weight`).map(Math.abs))).toBeGreaterThan(
      0,
    );
  });

  it("every gradient, adapters included, against finite differences of the float64 reference", () => {
    const cfg = config(arch, arch === "decoder-only");
    const trainer = new T5Trainer(rt, cfg, { adapters: { bottleneck: 3 }, seed: 2 });
    randomize(trainer, 300);
    const batch = batchOf(cfg.vocabSize);
    const { params } = trainer;
    const out = trainer.lossAndGrad(batch);
    const g = new Float32Array(params.count);
    g.set(rt.arena.f32(params.grads, params.count));
    const p64: Params64 = new Map(
      params.entries().map((e) => [e.name, Float64Array.from(params.value(e.name))]),
    );
    const L = (p: Params64) => referenceLoss(cfg, p, batch, trainer.tied);
    expect(Math.abs(L(p64) - out.loss), `loss ${out.loss} vs ${L(p64)}`).toBeLessThanOrEqual(1e-5 * out.loss);
    const stats = { minReluInput: Number.POSITIVE_INFINITY };
    referenceLoss(cfg, p64, batch, trainer.tied, stats);
    expect(stats.minReluInput).toBeGreaterThan(1e-4); // the adapters' ReLUs are away from their kinks

    const worstDir = checkDirections(params, g, p64, L, [800, 801]);
    const worstEntry = checkEntries(params, g, p64, L, 21, 3);
    console.log(`${arch} with adapters: worst directional ${worstDir}, worst entry ${worstEntry}`);
  });

  it("frozen tensors: no gradient, bit-identical after AdamW; trainable ones get the full run's gradients", () => {
    const cfg = config(arch);
    const full = new T5Trainer(rt, cfg, { adapters: { bottleneck: 4 }, seed: 3 });
    randomize(full, 500);
    const weights = storeOf(full.exportWeights());
    const batch = batchOf(29, 8);
    full.lossAndGrad(batch);
    const frozen = new T5Trainer(rt, cfg, { weights });
    expect(frozen.adapterBottleneck).toBe(4); // loaded from the weights, no option needed
    const trains = (n: string) => isAdapterTensor(n) || n.includes("layer_norm") || n === "lm_head.weight";
    frozen.params.setTrainable(trains);
    const before = frozen.exportWeights();
    const out = frozen.lossAndGrad(batch);
    expect(out.loss).toBe(full.evaluate(batch).loss);
    for (const n of frozen.params.names()) {
      const gr = frozen.params.gradient(n);
      if (trains(n)) expect([...gr], n).toEqual([...full.params.gradient(n)]);
      else
        expect(
          gr.every((v) => v === 0),
          n,
        ).toBe(true);
    }
    frozen.adamwStep({ lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });
    const after = frozen.exportWeights();
    for (const n of frozen.params.names()) {
      const same = (after[n].data as Float32Array).every((v, i) => v === (before[n].data as Float32Array)[i]);
      expect(same, n).toBe(!trains(n));
    }
    if (arch === "encoder-decoder") {
      // only decoder tensors train: the encoder's backward is skipped, the decoder's gradients unchanged
      const dec = new T5Trainer(rt, cfg, { weights });
      dec.params.setTrainable((n) => n.startsWith("decoder."));
      dec.lossAndGrad(batch);
      for (const n of dec.params.names())
        if (n.startsWith("decoder."))
          expect([...dec.params.gradient(n)], n).toEqual([...full.params.gradient(n)]);
        else
          expect(
            dec.params.gradient(n).every((v) => v === 0),
            n,
          ).toBe(true);
    }
  });

  it("checkpoint rules: a different bottleneck and partial adapters are refused", () => {
    const cfg = config(arch);
    const t = new T5Trainer(rt, cfg, { adapters: { bottleneck: 2 }, seed: 4 });
    const w = t.exportWeights();
    expect(() => new T5Trainer(rt, cfg, { weights: storeOf(w), adapters: { bottleneck: 5 } })).toThrow(
      /its adapters have bottleneck 2, but 5 was asked for/,
    );
    const partial = { ...w };
    const victim = Object.keys(w).find((n) => n.endsWith("layer.1.adapter.up.bias"))!;
    delete partial[victim];
    expect(() => new T5Trainer(rt, cfg, { weights: storeOf(partial) })).toThrow(
      new RegExp(`missing tensors: ${victim.replaceAll(".", "\\.")}`),
    );
    expect(() => new T5Trainer(rt, cfg, { adapters: { bottleneck: 0 } })).toThrow(
      /bottleneck must be an integer ≥ 1/,
    );
  });
});

describe("T5 adapters training", () => {
  it("adapters (and norms) alone lower the loss of a frozen random base on a small fixed task", () => {
    const cfg = config("encoder-decoder");
    const trainer = new T5Trainer(rt, cfg, { adapters: { bottleneck: 8, seed: 1 }, seed: 6 });
    trainer.params.setTrainable((n) => isAdapterTensor(n) || n.includes("layer_norm"));
    const frozenShared = trainer.params.value("shared.weight");
    const batch = batchOf(29, 12);
    const o = { lr: 1e-2, beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0 };
    const before = trainer.evaluate(batch).loss;
    for (let s = 0; s < 60; s++) trainer.trainStep(batch, o, { maxGradNorm: 1 });
    const after = trainer.evaluate(batch).loss;
    console.log(`adapters only: loss ${before.toFixed(3)} → ${after.toFixed(3)}`);
    expect(after).toBeLessThan(0.5 * before);
    expect([...trainer.params.value("shared.weight")]).toEqual([...frozenShared]);
  });
});
