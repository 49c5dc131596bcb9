// T5Model with adapters in the checkpoint ({sublayer}.adapter.*), on all three architectures: inference
// equals the trainer's forward (logits and loss), cached decoding equals uncached, a fresh adapter leaves
// the base model's logits unchanged within 1e-6; int8 models keep f32 adapters (fresh adapters: the int8
// base's logits; trained: close to f32); an adapter overlaid on a base store (src/models/adapters.ts)
// equals the merged checkpoint; partial adapters are named.
import { beforeAll, describe, expect, it } from "vitest";
import { type TensorInput, writeSafetensors } from "../../src/io/safetensors.ts";
import { isAdapterTensor, overlayTensors } from "../../src/models/adapters.ts";
import { T5Model } from "../../src/models/t5.ts";
import { type T5Architecture, type T5Config, t5ConfigFromJson } from "../../src/models/t5-config.ts";
import { generate } from "../../src/models/t5-generate.ts";
import { TensorStore } from "../../src/models/tensors.ts";
import type { KernelRuntime } from "../../src/runtime/load.ts";
import { loadRuntime } from "../../src/runtime/node.ts";
import { type T5Batch, T5Trainer } from "../../src/train/t5-train.ts";
import { cosine, expectClose } from "../helpers/compare.ts";
import { normal, rng } from "../helpers/random.ts";

let rt: KernelRuntime;
beforeAll(async () => {
  rt = await loadRuntime({ relaxed: false });
});

const ARCHS: T5Architecture[] = ["encoder-decoder", "decoder-only", "prefix-lm"];
const V = 29;

function config(arch: T5Architecture): T5Config {
  return t5ConfigFromJson({
    model_type: "t5",
    edgeformer_architecture: arch,
    vocab_size: V,
    d_model: 16,
    d_kv: 4,
    d_ff: 24,
    num_layers: 2,
    num_heads: 4,
    relative_attention_num_buckets: 8,
    relative_attention_max_distance: 12,
    feed_forward_proj: "relu",
  });
}

function storeOf(tensors: Record<string, TensorInput>): TensorStore {
  return TensorStore.fromBytes([{ bytes: writeSafetensors(tensors), name: "model.safetensors" }]);
}

/** Random weights; adapters random too unless `freshAdapters` (then they stay the identity). */
function trainerWith(arch: T5Architecture, seed: number, freshAdapters = false): T5Trainer {
  const t = new T5Trainer(rt, config(arch), { adapters: { bottleneck: 4, seed }, seed });
  t.params.entries().forEach((e, i) => {
    if (freshAdapters && isAdapterTensor(e.name)) return;
    const norm = e.name.includes("layer_norm");
    const v = normal(e.size, seed * 1000 + i, norm ? 0.2 : e.name === "shared.weight" ? 0.5 : 0.25);
    if (norm) for (let j = 0; j < v.length; j++) v[j] += 1;
    t.params.set(e.name, v);
  });
  t.repack();
  return t;
}

function batchOf(): T5Batch {
  const [B, T, Td] = [2, 6, 5];
  const r = rng(4);
  const mask = Int32Array.from([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);
  const ids = Int32Array.from(mask, (m) => (m ? 2 + Math.floor(r() * (V - 2)) : 0));
  const labels = Int32Array.from({ length: B * Td }, (_, i) =>
    i === 9 ? -100 : 1 + Math.floor(r() * (V - 1)),
  );
  return { inputIds: ids, attentionMask: mask, labels, batch: B, seq: T, decoderSeq: Td };
}

/** The logits of the labeled rows, in the trainer's row order. */
function rowsOf(all: Float32Array, rows: Int32Array): Float32Array {
  const out = new Float32Array(rows.length * V);
  rows.forEach((r, i) => {
    out.set(all.subarray(r * V, (r + 1) * V), i * V);
  });
  return out;
}

describe.each(ARCHS)("T5Model with adapters, %s", (arch) => {
  it("inference equals the trainer's forward; cached decoding equals uncached", () => {
    const trainer = trainerWith(arch, 1);
    const batch = batchOf();
    const out = trainer.evaluate(batch, { logits: true });
    const model = new T5Model(rt, trainer.config, storeOf(trainer.exportWeights()));
    expect(model.adapterBottleneck).toBe(4);
    const ref = model.forward(batch);
    expectClose(out.logits!, rowsOf(ref.logits, out.rows), 1e-5, 1e-5, "logits vs trainer");
    expect(Math.abs(out.loss - ref.loss!)).toBeLessThanOrEqual(1e-5);
    // the adapters matter: without them (same base) the logits differ
    const base = Object.fromEntries(
      Object.entries(trainer.exportWeights()).filter(([n]) => !isAdapterTensor(n)),
    );
    const plain = new T5Model(rt, trainer.config, storeOf(base)).forward(batch);
    expect(plain.logits.some((v, i) => Math.abs(v - ref.logits[i]) > 1e-3)).toBe(true);
    // cached steps = teacher-forced decode over the same tokens
    const { inputIds, attentionMask: mask, batch: B, seq: T } = batch;
    const enc = model.encode(inputIds, mask, B, T).lastHiddenState;
    const toks = [0, 5, 9, 3];
    const state = model.createDecoderState(enc, mask, B, T, toks.length);
    try {
      toks.forEach((tok, t) => {
        const cached = model.step(state, new Int32Array(B).fill(tok));
        const dec = Int32Array.from({ length: B * (t + 1) }, (_, i) => toks[i % (t + 1)]);
        const full = model.decode(enc, mask, B, T, dec, t + 1).logits;
        for (let b = 0; b < B; b++)
          expectClose(
            cached.subarray(b * V, (b + 1) * V),
            full.subarray((b * (t + 1) + t) * V, (b * (t + 1) + t + 1) * V),
            1e-5,
            1e-5,
            `step ${t}, row ${b}`,
          );
      });
    } finally {
      state.dispose();
    }
  });

  it("fresh adapters leave the logits unchanged (within 1e-6), also in an int8 model", () => {
    const trainer = trainerWith(arch, 2, true);
    const all = trainer.exportWeights();
    const base = Object.fromEntries(Object.entries(all).filter(([n]) => !isAdapterTensor(n)));
    const batch = batchOf();
    for (const dtype of ["f32", "int8"] as const) {
      const a = new T5Model(rt, trainer.config, storeOf(all), { dtype }).forward(batch).logits;
      const b = new T5Model(rt, trainer.config, storeOf(base), { dtype }).forward(batch).logits;
      expectClose(a, b, 1e-6, 0, `${dtype}: fresh adapters vs none`);
    }
  });

  it("int8 model with trained adapters: logits close to f32 (f32 adapter GEMMs); generation runs", () => {
    const trainer = trainerWith(arch, 3);
    const w = storeOf(trainer.exportWeights());
    const batch = batchOf();
    const f = new T5Model(rt, trainer.config, w).forward(batch).logits;
    const q8 = new T5Model(rt, trainer.config, w, { dtype: "int8" });
    const q = q8.forward(batch).logits;
    for (let r = 0; r < 10; r++)
      expect(
        cosine(f.subarray(r * V, (r + 1) * V), q.subarray(r * V, (r + 1) * V)),
        `row ${r}`,
      ).toBeGreaterThan(0.99);
    const g = generate(q8, batch.inputIds, batch.attentionMask, 2, 6, { maxNewTokens: 4, numBeams: 2 });
    expect(g.sequences.every((s) => s[0] === 0 && s.length >= 2)).toBe(true);
  });

  it("an adapter overlaid on its base equals the merged checkpoint; partial adapters are named", () => {
    const trainer = trainerWith(arch, 5);
    const all = trainer.exportWeights();
    const base: Record<string, TensorInput> = {};
    const adapter: Record<string, TensorInput> = {};
    for (const [n, t] of Object.entries(all)) (isAdapterTensor(n) ? adapter : base)[n] = t;
    const batch = batchOf();
    const merged = new T5Model(rt, trainer.config, storeOf(all)).forward(batch).logits;
    const overlaid = new T5Model(rt, trainer.config, overlayTensors(storeOf(base), storeOf(adapter))).forward(
      batch,
    ).logits;
    expect([...overlaid]).toEqual([...merged]);
    const victim = Object.keys(adapter).find((n) => n.endsWith(".adapter.down.bias"))!;
    const partial = { ...all };
    delete partial[victim];
    expect(() => new T5Model(rt, trainer.config, storeOf(partial))).toThrow(
      new RegExp(`missing tensors: ${victim.replaceAll(".", "\\.")}`),
    );
  });
});
