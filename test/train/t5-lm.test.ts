// T5Trainer on the decoder-only and prefix-LM architectures (config "edgeformer_architecture"): the
// parameters (one stack of decoder blocks, FFN at layer.1, no encoder), gradients against central finite
// differences of an independent float64 forward that runs each row unpadded (test/train/t5-lm-reference.ts;
// inputs padded on the right, the left and in the middle), and of our own f32 loss for the smooth models;
// the attention pattern seen through the target logits (a target position never sees later targets;
// every target sees every input token); rows independent of the batch they are in; an empty input;
// exportWeights round trip; the loss falling on a tiny copy task for both architectures.
import { beforeAll, describe, expect, it } from "vitest";
import { type TensorInput, writeSafetensors } from "../../src/io/safetensors.ts";
import {
  ConfigError,
  type T5Architecture,
  type T5Config,
  t5ConfigFromJson,
} from "../../src/models/t5-config.ts";
import { TensorStore } from "../../src/models/tensors.ts";
import type { KernelRuntime } from "../../src/runtime/load.ts";
import { loadRuntime } from "../../src/runtime/node.ts";
import { type T5Batch, T5Trainer } from "../../src/train/t5-train.ts";
import { expectClose } from "../helpers/compare.ts";
import { checkDirections, checkEntries, checkF32Direction } from "../helpers/finite-differences.ts";
import { normal, rng } from "../helpers/random.ts";
import { type Params64, referenceLoss } from "./t5-lm-reference.ts";

let rt: KernelRuntime;
beforeAll(async () => {
  rt = await loadRuntime({ relaxed: false });
});

type LmArch = Exclude<T5Architecture, "encoder-decoder">;

/** C 12, 3 heads of d_kv 5, F 14, V 29, 3 blocks, 8 buckets up to distance 12 (log buckets at S 15). */
function lmConfig(arch: LmArch, ff: "relu" | "gated-gelu", tie: boolean): T5Config {
  return t5ConfigFromJson({
    model_type: "t5",
    edgeformer_architecture: arch,
    vocab_size: 29,
    d_model: 12,
    d_kv: 5,
    d_ff: 14,
    num_layers: 3,
    num_heads: 3,
    relative_attention_num_buckets: 8,
    relative_attention_max_distance: 12,
    feed_forward_proj: ff,
    tie_word_embeddings: tie,
    pad_token_id: 0,
    eos_token_id: 1,
    decoder_start_token_id: 0,
  });
}

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

/**
 * B 3, T 9: row 0 has 9 input tokens, row 1 has 6 padded on the left, row 2 has 4 with padding before,
 * between and after them. Tdec 6: targets of lengths 6 (one −100 inside), 4 and 5.
 */
function lmBatch(V: number, seed = 7): T5Batch {
  const [B, T, Td] = [3, 9, 6];
  const r = rng(seed);
  const masks = [
    [1, 1, 1, 1, 1, 1, 1, 1, 1],
    [0, 0, 0, 1, 1, 1, 1, 1, 1],
    [0, 1, 1, 0, 1, 1, 0, 0, 0],
  ];
  const mask = Int32Array.from(masks.flat());
  const ids = Int32Array.from(mask, (m) => (m ? 2 + Math.floor(r() * (V - 2)) : 0));
  const targets = [6, 4, 5];
  const labels = Int32Array.from({ length: B * Td }, (_, i) =>
    i % Td < targets[Math.floor(i / Td)] ? 1 + Math.floor(r() * (V - 1)) : -100,
  );
  labels[2] = -100;
  return { inputIds: ids, attentionMask: mask, labels, batch: B, seq: T, decoderSeq: Td };
}

function storeOf(tensors: Record<string, TensorInput>): TensorStore {
  return TensorStore.fromBytes([{ bytes: writeSafetensors(tensors), name: "model.safetensors" }]);
}

describe("T5 LM architectures: config and parameters", () => {
  it("edgeformer_architecture is parsed, defaults to encoder-decoder, and bad values are named", () => {
    expect(lmConfig("decoder-only", "relu", true).architecture).toBe("decoder-only");
    expect(t5ConfigFromJson({ model_type: "t5" }).architecture).toBe("encoder-decoder");
    expect(() => t5ConfigFromJson({ model_type: "t5", edgeformer_architecture: "causal" })).toThrow(
      ConfigError,
    );
    expect(() => t5ConfigFromJson({ model_type: "t5", edgeformer_architecture: "causal" })).toThrow(
      /"edgeformer_architecture" must be one of "encoder-decoder", "decoder-only", "prefix-lm", got "causal"/,
    );
  });

  it.each(["decoder-only", "prefix-lm"] as const)("%s: one stack of decoder blocks, no encoder", (arch) => {
    const cfg = lmConfig(arch, "gated-gelu", false);
    const trainer = new T5Trainer(rt, cfg, { seed: 1 });
    expect(trainer.architecture).toBe(arch);
    const names = trainer.params.names();
    expect(names.some((n) => n.startsWith("encoder."))).toBe(false);
    expect(names.some((n) => n.includes("EncDecAttention"))).toBe(false);
    const expected = ["shared.weight", "decoder.final_layer_norm.weight", "lm_head.weight"];
    expected.push("decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight");
    for (let i = 0; i < 3; i++) {
      const b = `decoder.block.${i}.layer`;
      for (const n of ["q", "k", "v", "o"]) expected.push(`${b}.0.SelfAttention.${n}.weight`);
      expected.push(`${b}.0.layer_norm.weight`, `${b}.1.layer_norm.weight`);
      for (const n of ["wi_0", "wi_1", "wo"]) expected.push(`${b}.1.DenseReluDense.${n}.weight`);
    }
    expect([...names].sort()).toEqual(expected.sort());

    // exportWeights → a new trainer from them: same loss; a checkpoint missing a tensor is refused
    randomize(trainer, 40);
    const batch = lmBatch(cfg.vocabSize);
    const loss = trainer.evaluate(batch).loss;
    const weights = trainer.exportWeights();
    expect(new T5Trainer(rt, cfg, { weights: storeOf(weights) }).evaluate(batch).loss).toBe(loss);
    const missing = { ...weights };
    delete missing["decoder.block.2.layer.1.DenseReluDense.wo.weight"];
    expect(() => new T5Trainer(rt, cfg, { weights: storeOf(missing) })).toThrow(
      /missing tensors: decoder\.block\.2\.layer\.1\.DenseReluDense\.wo\.weight/,
    );
  });
});

describe("T5 LM gradients by finite differences (odd shapes, random weights)", () => {
  it.each([
    ["decoder-only", "relu", true],
    ["decoder-only", "gated-gelu", false],
    ["prefix-lm", "relu", false],
    ["prefix-lm", "gated-gelu", true],
  ] as const)(
    "%s, %s, tied head %s: loss = float64 loss; directional derivatives and four entries of every tensor",
    (arch, ff, tie) => {
      const cfg = lmConfig(arch, ff, tie);
      const trainer = new T5Trainer(rt, cfg, { seed: 3 });
      randomize(trainer, 700);
      const batch = lmBatch(cfg.vocabSize);
      const { params } = trainer;
      const out = trainer.lossAndGrad(batch);
      expect(out.tokens).toBe(14);
      const g = new Float32Array(params.count);
      g.set(rt.arena.f32(params.grads, params.count));

      const p64: Params64 = new Map(
        params.entries().map((e) => [e.name, Float64Array.from(params.value(e.name))]),
      );
      const L = (p: Params64) => referenceLoss(cfg, p, batch, tie);
      const lossError = Math.abs(L(p64) - out.loss);
      expect(lossError, `loss ${out.loss} vs float64 ${L(p64)}`).toBeLessThanOrEqual(1e-5 * out.loss);
      const stats = { minReluInput: Number.POSITIVE_INFINITY };
      referenceLoss(cfg, p64, batch, tie, stats);
      if (ff === "relu") expect(stats.minReluInput).toBeGreaterThan(1e-4); // no kink within 100 steps

      const worstDir = checkDirections(params, g, p64, L, [900, 901, 902]);
      const worstEntry = checkEntries(params, g, p64, L, 13);
      if (ff === "gated-gelu")
        checkF32Direction(
          params,
          g,
          () => trainer.evaluate(batch).loss,
          () => trainer.repack(),
          950,
        );
      console.log(
        `${arch} ${ff} tied ${tie}: loss vs float64 ${lossError}, worst directional ${worstDir}, worst entry ${worstEntry}`,
      );
    },
  );
});

describe("T5 LM attention pattern, seen through the target logits", () => {
  it.each(["decoder-only", "prefix-lm"] as const)(
    "%s: a target never sees later targets; every target sees every input token; rows are independent",
    (arch) => {
      const cfg = lmConfig(arch, "gated-gelu", true);
      const V = cfg.vocabSize;
      const trainer = new T5Trainer(rt, cfg, { seed: 2 });
      randomize(trainer, 60);
      const base = lmBatch(V);
      const all = (b: T5Batch) => ({ ...b, labels: Int32Array.from(b.labels, () => 3) }); // every target labeled
      const ref = trainer.evaluate(all(base), { logits: true }).logits!; // [B·Td,V]
      const Td = base.decoderSeq;
      const rowsDiffer = (a: Float32Array, b: Float32Array, row: number) => {
        let d = 0;
        for (let v = 0; v < V; v++) d = Math.max(d, Math.abs(a[row * V + v] - b[row * V + v]));
        return d;
      };
      // label t of row 0 is the decoder input at t + 1: targets ≤ t keep their logits exactly
      const t = 2;
      const changed = base.labels.slice();
      changed[t] = 7;
      const after = trainer.evaluate(
        { ...all(base), decoderInputIds: shifted(changed, 3, Td) },
        { logits: true },
      ).logits!;
      const before = trainer.evaluate(
        { ...all(base), decoderInputIds: shifted(base.labels, 3, Td) },
        { logits: true },
      ).logits!;
      for (let s = 0; s <= t; s++) expect(rowsDiffer(after, before, s), `target ${s}`).toBe(0);
      for (let s = t + 1; s < Td; s++)
        expect(rowsDiffer(after, before, s), `target ${s}`).toBeGreaterThan(1e-4);
      // the last input token of row 1 (what the prefix ends with) and its first: every target moves
      for (const pos of [9 + 3, 9 + 8]) {
        const ids = base.inputIds.slice();
        ids[pos] = ids[pos] === 5 ? 6 : 5;
        const moved = trainer.evaluate({ ...all(base), inputIds: ids }, { logits: true }).logits!;
        for (let s = 0; s < Td; s++)
          expect(rowsDiffer(moved, ref, Td + s), `target ${s}`).toBeGreaterThan(1e-4);
        for (const row of [0, 2])
          for (let s = 0; s < Td; s++) expect(rowsDiffer(moved, ref, row * Td + s)).toBe(0);
      }
      // a row alone (its padding removed: a batch of one) gives the same logits as inside the batch
      const T = base.seq;
      const alone: T5Batch = {
        inputIds: base.inputIds.slice(2 * T + 1, 2 * T + 6).filter((_, i) => i !== 2),
        labels: Int32Array.from(base.labels.subarray(2 * Td, 3 * Td), () => 3),
        batch: 1,
        seq: 4,
        decoderSeq: Td,
      };
      const single = trainer.evaluate(alone, { logits: true }).logits!;
      expectClose(single, ref.subarray(2 * Td * V), 2e-6, 1e-5, "row 2 alone vs in the batch");
      // no input at all: an unconditional LM over the targets
      const empty = trainer.evaluate({ ...base, attentionMask: new Int32Array(base.inputIds.length) });
      expect(Number.isFinite(empty.loss)).toBe(true);
    },
  );
});

/** Decoder inputs of labels [B,Td]: start token 0, labels shifted right, −100 → 0. */
function shifted(labels: Int32Array, B: number, Td: number): Int32Array {
  const out = new Int32Array(B * Td);
  for (let b = 0; b < B; b++)
    for (let t = 1; t < Td; t++) out[b * Td + t] = Math.max(labels[b * Td + t - 1], 0);
  return out;
}

describe("T5 LM training", () => {
  it.each(["decoder-only", "prefix-lm"] as const)(
    "%s: the loss falls over 300 AdamW steps on a tiny copy task, well under not copying",
    (arch) => {
      const cfg = t5ConfigFromJson({
        model_type: "t5",
        edgeformer_architecture: arch,
        vocab_size: 16,
        d_model: 32,
        d_kv: 8,
        d_ff: 64,
        num_layers: 2,
        num_heads: 4,
        relative_attention_num_buckets: 32,
        relative_attention_max_distance: 16,
        feed_forward_proj: "gated-gelu",
      });
      const trainer = new T5Trainer(rt, cfg, { seed: 5 });
      const [B, T] = [8, 6];
      const r = rng(9);
      const batch = (): T5Batch => {
        const ids = Int32Array.from({ length: B * T }, (_, i) =>
          i % T === T - 1 ? 1 : 2 + Math.floor(r() * 14),
        );
        return { inputIds: ids, labels: ids.slice(), batch: B, seq: T, decoderSeq: T };
      };
      const held = batch();
      const o = { lr: 1e-2, beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0.01 };
      const before = trainer.evaluate(held).loss;
      const losses: number[] = [];
      for (let step = 0; step < 300; step++)
        losses.push(trainer.trainStep(batch(), o, { maxGradNorm: 1 }).loss);
      const after = trainer.evaluate(held).loss;
      console.log(
        `${arch} copy task: held-out loss ${before.toFixed(3)} → ${after.toFixed(3)}; train ${losses[0].toFixed(3)} → ${losses.at(-1)!.toFixed(3)}`,
      );
      expect(after).toBeLessThan(0.6 * before);
      expect(losses.at(-1)!).toBeLessThan(0.6 * losses[0]);
    },
  );
});
