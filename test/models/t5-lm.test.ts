// T5Model on the decoder-only and prefix-LM architectures (checkpoints written by T5Trainer): the
// inference forward equals the training forward (logits and loss, before and after an AdamW step);
// KV-cached steps equal the uncached decode() and greedy search equals an uncached greedy loop; beam
// search's scores equal the uncached log-probs of its sequences; seeded sampling is reproducible; the
// attention pattern over whole rows (decoder-only: nothing sees later positions; prefix LM: the input
// is fully visible, targets causal and invisible to the input); int8; a model trained to copy copies
// under generate(); generateText on a model folder with a tokenizer; clear checkpoint errors.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { type TensorInput, writeSafetensors } from "../../src/io/safetensors.ts";
import { loadT5PipelineDir } from "../../src/models/load-node.ts";
import { T5Model } from "../../src/models/t5.ts";
import { type T5Architecture, type T5Config, t5ConfigFromJson } from "../../src/models/t5-config.ts";
import { beamSearch, generate } from "../../src/models/t5-generate.ts";
import { TensorStore } from "../../src/models/tensors.ts";
import type { KernelRuntime } from "../../src/runtime/load.ts";
import { loadRuntime } from "../../src/runtime/node.ts";
import { generateText } from "../../src/tasks/text2text.ts";
import { type T5Batch, T5Trainer } from "../../src/train/t5-train.ts";
import { cosine, expectClose } from "../helpers/compare.ts";
import { fixturePath } from "../helpers/fixtures.ts";
import { normal, rng } from "../helpers/random.ts";

type LmArch = Exclude<T5Architecture, "encoder-decoder">;
const ARCHS: LmArch[] = ["decoder-only", "prefix-lm"];

let rt: KernelRuntime;
beforeAll(async () => {
  rt = await loadRuntime({ relaxed: false });
});

function configJson(arch: LmArch, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
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
    feed_forward_proj: "gated-gelu",
    tie_word_embeddings: false,
    ...extra,
  };
}

function storeOf(tensors: Record<string, TensorInput>): TensorStore {
  return TensorStore.fromBytes([{ bytes: writeSafetensors(tensors), name: "model.safetensors" }]);
}

/** A trainer with random weights (norms near 1, attention soft enough that every position matters). */
function randomTrainer(cfg: T5Config, seed: number): T5Trainer {
  const trainer = new T5Trainer(rt, cfg, { seed });
  trainer.params.entries().forEach((e, i) => {
    const norm = e.name.includes("layer_norm");
    const v = normal(e.size, seed * 100 + i, norm ? 0.3 : e.name.endsWith("shared.weight") ? 0.5 : 0.3);
    if (norm) for (let j = 0; j < v.length; j++) v[j] += 1;
    trainer.params.set(e.name, v);
  });
  trainer.repack();
  return trainer;
}

/** B 3, T 9 (inputs padded on the right, the left, and around), Tdec 6 (targets of 6, 4, 5 tokens). */
function lmBatch(V: number): T5Batch {
  const [B, T, Td] = [3, 9, 6];
  const r = rng(17);
  const mask = Int32Array.from(
    [
      [1, 1, 1, 1, 1, 1, 1, 0, 0],
      [0, 0, 0, 1, 1, 1, 1, 1, 1],
      [0, 1, 1, 0, 1, 1, 0, 0, 0],
    ].flat(),
  );
  const ids = Int32Array.from(mask, (m) => (m ? 2 + Math.floor(r() * (V - 2)) : 0));
  const targets = [6, 4, 5];
  const labels = Int32Array.from({ length: B * Td }, (_, i) =>
    i % Td < targets[Math.floor(i / Td)] ? 1 + Math.floor(r() * (V - 1)) : -100,
  );
  return { inputIds: ids, attentionMask: mask, labels, batch: B, seq: T, decoderSeq: Td };
}

const logSoftmax = (row: Float32Array) => {
  const mx = Math.max(...row);
  let s = 0;
  for (const v of row) s += Math.exp(v - mx);
  return Array.from(row, (v) => v - mx - Math.log(s));
};

describe.each(ARCHS)("T5Model, %s", (arch) => {
  const cfg = () => t5ConfigFromJson(configJson(arch));

  it("loads the trainer's checkpoint; forward logits and loss equal the training forward's, before and after an AdamW step", () => {
    const trainer = randomTrainer(cfg(), 1);
    const batch = lmBatch(29);
    const V = 29;
    for (let step = 0; step < 2; step++) {
      const out = trainer.lossAndGrad(batch, { logits: true });
      const model = new T5Model(rt, trainer.config, storeOf(trainer.exportWeights()));
      expect(model.isLanguageModel).toBe(true);
      expect(model.tiedHead).toBe(false);
      const ref = model.forward(batch);
      expect(ref.logits.length).toBe(3 * 6 * V);
      const rows = new Float32Array(out.rows.length * V);
      out.rows.forEach((r, i) => {
        rows.set(ref.logits.subarray(r * V, (r + 1) * V), i * V);
      });
      expectClose(out.logits!, rows, 1e-5, 1e-5, `logits, step ${step}`);
      expect(Math.abs(out.loss - ref.loss!)).toBeLessThanOrEqual(1e-5);
      trainer.adamwStep({ lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-6, weightDecay: 0.01 });
    }
  });

  it("cached steps equal the uncached decode(); greedy equals an uncached greedy loop", () => {
    const model = new T5Model(rt, cfg(), storeOf(randomTrainer(cfg(), 2).exportWeights()));
    const { inputIds, attentionMask: mask, batch: B, seq: T } = lmBatch(29);
    const V = 29;
    const emb = model.encode(inputIds, mask, B, T).lastHiddenState;
    expect(emb.length).toBe(B * T * 12);
    // feed a fixed token sequence step by step; each step's logits = decode() over the prefix, last position
    const n = 7;
    const toks = Int32Array.from({ length: B * n }, (_, i) => (i % n === 0 ? 0 : 2 + ((i * 5) % 27)));
    const state = model.createDecoderState(emb, mask, B, T, n);
    try {
      expect(state.length).toBe(7); // the longest input, prefilled
      for (let t = 0; t < n; t++) {
        const cached = model.step(
          state,
          Int32Array.from({ length: B }, (_, b) => toks[b * n + t]),
        );
        const dec = Int32Array.from(
          { length: B * (t + 1) },
          (_, i) => toks[Math.floor(i / (t + 1)) * n + (i % (t + 1))],
        );
        const full = model.decode(emb, mask, B, T, dec, t + 1).logits; // [B,t+1,V]
        const last = new Float32Array(B * V);
        for (let b = 0; b < B; b++)
          last.set(full.subarray((b * (t + 1) + t) * V, (b * (t + 1) + t + 1) * V), b * V);
        expectClose(cached, last, 1e-5, 1e-5, `step ${t}`);
      }
      expect(() => model.step(state, new Int32Array(B))).toThrow(/the state is full/);
    } finally {
      state.dispose();
    }
    // greedy through the cache = greedy by repeated uncached decode()
    const g = generate(model, inputIds, mask, B, T, { maxNewTokens: 8, eosTokenId: 28 });
    const seqs = Array.from({ length: B }, () => [0]);
    for (let t = 0; t < 8; t++) {
      const dec = Int32Array.from(seqs.flat());
      const logits = model.decode(emb, mask, B, T, dec, t + 1).logits;
      for (let b = 0; b < B; b++) {
        const row = logits.subarray((b * (t + 1) + t) * V, (b * (t + 1) + t + 1) * V);
        seqs[b].push(row.indexOf(Math.max(...row)));
      }
    }
    expect(g.sequences).toEqual(seqs);
    expect(new Set(seqs.flat()).size).toBeGreaterThan(3); // not a degenerate constant output
  });

  it("beam search: each returned score is its sequence's uncached log-probability / length; sampling is seeded", () => {
    const model = new T5Model(rt, cfg(), storeOf(randomTrainer(cfg(), 3).exportWeights()));
    const { inputIds, attentionMask: mask, batch: B, seq: T } = lmBatch(29);
    const V = 29;
    const emb = model.encode(inputIds, mask, B, T).lastHiddenState;
    const out = beamSearch(
      model,
      { hidden: emb, mask, batch: B, seq: T },
      { numBeams: 3, maxNewTokens: 6, eosTokenId: 28 },
    );
    out.sequences.forEach((seq, b) => {
      // the rows of input b alone, decoded without a cache
      const len = seq.findIndex((t, i) => i > 0 && t === 28);
      const gen = len < 0 ? seq.length : len + 1;
      const dec = Int32Array.from(seq.slice(0, gen));
      const rowMask = mask!.subarray(b * T, (b + 1) * T);
      const logits = model.decode(emb.subarray(b * T * 12, (b + 1) * T * 12), rowMask, 1, T, dec, gen).logits;
      let lp = 0;
      for (let t = 0; t + 1 < gen; t++) lp += logSoftmax(logits.subarray(t * V, (t + 1) * V))[seq[t + 1]];
      expect(Math.abs(out.scores![b] - lp / (gen - 1)), `input ${b}`).toBeLessThan(1e-4);
    });
    const s1 = generate(model, inputIds, mask, B, T, { doSample: true, seed: 5, maxNewTokens: 6 });
    const s2 = generate(model, inputIds, mask, B, T, { doSample: true, seed: 5, maxNewTokens: 6 });
    expect(s1.sequences).toEqual(s2.sequences);
  });

  it("attention pattern over whole rows", () => {
    const model = new T5Model(rt, cfg(), storeOf(randomTrainer(cfg(), 4).exportWeights()));
    const [T, Td, C] = [6, 5, 12];
    const ids = Int32Array.from([3, 4, 5, 6, 7, 8]);
    const dec = Int32Array.from([0, 9, 10, 11, 12]);
    /** Final hidden states [T+Td,C] of the row (input ⊕ decoder inputs), position by position. */
    const outputs = (i: Int32Array, d: Int32Array) => {
      const emb = model.encode(i, undefined, 1, T).lastHiddenState;
      const hs = model.decode(emb, undefined, 1, T, d, Td, { hiddenStates: true }).hiddenStates!;
      const last = hs[hs.length - 1];
      expect(last.length).toBe((T + Td) * C);
      return (pos: number) => last.subarray(pos * C, (pos + 1) * C);
    };
    const moved = (a: Float32Array, b: Float32Array) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));
    const base = outputs(ids, dec);
    // a target token changed: no input position moves, in either architecture
    const d2 = dec.slice();
    d2[3] = 20;
    const afterTarget = outputs(ids, d2);
    for (let p = 0; p < T + 3; p++) expect(moved(afterTarget(p), base(p)), `position ${p}`).toBe(0);
    for (let p = T + 3; p < T + Td; p++) expect(moved(afterTarget(p), base(p))).toBeGreaterThan(1e-5);
    // input token 4 changed: positions 0..3 move only in the prefix LM (they see forward in the prefix)
    const i2 = ids.slice();
    i2[4] = 21;
    const afterInput = outputs(i2, dec);
    for (let p = 0; p < 4; p++) {
      const d = moved(afterInput(p), base(p));
      if (arch === "prefix-lm") expect(d, `position ${p}`).toBeGreaterThan(1e-5);
      else expect(d, `position ${p}`).toBe(0);
    }
    for (let p = 4; p < T + Td; p++) expect(moved(afterInput(p), base(p))).toBeGreaterThan(1e-5);
  });

  it("int8 weights: logits close to f32 (cosine per row), generation runs", () => {
    const weights = randomTrainer(cfg(), 6).exportWeights();
    const f32 = new T5Model(rt, cfg(), storeOf(weights));
    const q = new T5Model(rt, cfg(), storeOf(weights), { dtype: "int8" });
    const batch = lmBatch(29);
    const a = f32.forward(batch).logits;
    const b = q.forward(batch).logits;
    for (let r = 0; r < 18; r++) {
      const c = cosine(a.subarray(r * 29, (r + 1) * 29), b.subarray(r * 29, (r + 1) * 29));
      expect(c, `row ${r}`).toBeGreaterThan(0.99);
    }
    const g = generate(q, batch.inputIds, batch.attentionMask, 3, 9, { maxNewTokens: 5 });
    expect(g.sequences.every((s) => s.length >= 2 && s[0] === 0)).toBe(true);
  });

  it("clear errors: an encoder–decoder checkpoint under an LM config, and the reverse", () => {
    const lmWeights = storeOf(randomTrainer(cfg(), 7).exportWeights());
    const encDec = t5ConfigFromJson({ ...configJson(arch), edgeformer_architecture: "encoder-decoder" });
    for (const make of [
      () => new T5Model(rt, encDec, lmWeights),
      () => new T5Trainer(rt, encDec, { weights: lmWeights }),
    ])
      expect(make).toThrow(
        /no encoder and its decoder blocks have no cross-attention .*set "edgeformer_architecture"/,
      );
    const encDecWeights = storeOf(new T5Trainer(rt, encDec, { seed: 1 }).exportWeights());
    for (const make of [
      () => new T5Model(rt, cfg(), encDecWeights),
      () => new T5Trainer(rt, cfg(), { weights: encDecWeights }),
    ])
      expect(make).toThrow(
        `the checkpoint holds encoder tensors (an encoder–decoder T5) but config.json says "edgeformer_architecture": "${arch}"`,
      );
    // a missing tensor is named
    const partial = randomTrainer(cfg(), 7).exportWeights();
    delete partial["decoder.block.1.layer.1.layer_norm.weight"];
    expect(() => new T5Model(rt, cfg(), storeOf(partial))).toThrow(
      new RegExp(
        `T5 ${arch} checkpoint: missing tensors: decoder\\.block\\.1\\.layer\\.1\\.layer_norm\\.weight`,
      ),
    );
  });
});

describe("T5 LM generation end to end", () => {
  it.each(ARCHS)("%s trained to copy (T5Trainer, 300 steps) copies under generate()", (arch) => {
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
    const o = { lr: 1e-2, beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0.01 };
    for (let step = 0; step < 300; step++) trainer.trainStep(batch(), o, { maxGradNorm: 1 });
    const model = new T5Model(rt, cfg, storeOf(trainer.exportWeights()));
    const held = batch();
    const g = generate(model, held.inputIds, undefined, B, T, { maxNewTokens: T + 2 });
    let right = 0;
    g.sequences.forEach((s, b) => {
      const want = [...held.inputIds.subarray(b * T, (b + 1) * T)];
      if (s.slice(1, T + 1).join() === want.join()) right++;
    });
    console.log(`${arch}: ${right}/${B} held-out sequences copied exactly`);
    expect(right).toBeGreaterThanOrEqual(7);
    // beam search gives the copy too
    const beam = generate(model, held.inputIds, undefined, B, T, { maxNewTokens: T + 2, numBeams: 3 });
    expect(
      beam.sequences.filter((s, b) => s.slice(1, T + 1).join() === g.sequences[b].slice(1, T + 1).join())
        .length,
    ).toBeGreaterThanOrEqual(right - 1);
  });

  it("generateText on a decoder-only model folder with the T5 tokenizer equals generate() on its ids", async () => {
    const cfgJson = configJson("decoder-only", { vocab_size: 1100, d_model: 16, d_kv: 4, num_heads: 4 });
    const trainer = new T5Trainer(rt, t5ConfigFromJson(cfgJson), { seed: 8 });
    const dir = mkdtempSync(join(tmpdir(), "edgeformer-t5-lm-"));
    writeFileSync(join(dir, "config.json"), JSON.stringify(cfgJson));
    writeFileSync(join(dir, "model.safetensors"), writeSafetensors(trainer.exportWeights()));
    const p = await loadT5PipelineDir(dir, { tokenizerDir: fixturePath("tok/t5"), runtime: rt });
    expect(p.model.isLanguageModel).toBe(true);
    const texts = ["the cat sat on the mat", "a dog"];
    const res = generateText(p, texts, { maxNewTokens: 6 });
    texts.forEach((text, i) => {
      const enc = p.tokenizer.encode(text);
      const direct = generate(p.model, Int32Array.from(enc.ids), undefined, 1, enc.ids.length, {
        maxNewTokens: 6,
      });
      expect(res[i].sequence.slice(0, direct.sequences[0].length)).toEqual(direct.sequences[0]);
    });
  });
});
