// T5ForConditionalGeneration against transformers 5.17 goldens (test/fixtures/t5_tiny_*): encoder and
// decoder hidden states, logits and loss teacher-forced (ReLU + tied, scaled head; gated-GELU);
// greedy and 4-beam ids; cached decoding = uncached; beam scores = sum log-probs / length^penalty;
// seeded sampling; int8 (logit cosine per row, same greedy ids, our int8 checkpoint); decoder-state
// memory; clear errors for bad configs, checkpoints and ids.
import { beforeAll, describe, expect, it } from "vitest";
import { generateWeights, type WeightsManifest } from "../../src/io/manifest-weights.ts";
import { type TensorInput, writeSafetensors } from "../../src/io/safetensors.ts";
import { readConfig, readTensors } from "../../src/models/checkpoint-node.ts";
import { Linear } from "../../src/models/linear.ts";
import {
  type QuantizedWeight,
  quantizeCheckpoint,
  quantizeWeight,
  requantizeRows,
} from "../../src/models/quantize.ts";
import { crossEntropy, shiftRight, T5Model } from "../../src/models/t5.ts";
import { type T5Config, t5ConfigFromJson } from "../../src/models/t5-config.ts";
import { generate, generateFromEncoded, mulberry32 } from "../../src/models/t5-generate.ts";
import { TensorStore } from "../../src/models/tensors.ts";
import type { KernelRuntime } from "../../src/runtime/load.ts";
import { loadRuntime } from "../../src/runtime/node.ts";
import { cosine, expectClose } from "../helpers/compare.ts";
import { fixturePath, readJsonFixture, readSafetensorsFixture } from "../helpers/fixtures.ts";

interface Seq2SeqInputs {
  input_ids: number[][];
  attention_mask: number[][];
  labels: number[][];
  decoder_input_ids: number[][];
  loss: number;
  greedy_max_new_tokens_12: number[][];
  beam4_max_new_tokens_12: number[][];
}

interface CopyInputs {
  input_ids: number[][];
  attention_mask: number[][];
  greedy_max_new_tokens_16: number[][];
  beam4_max_new_tokens_16: number[][];
}

interface Batch {
  ids: Int32Array;
  mask: Int32Array;
  B: number;
  T: number;
}

const batchOf = (j: { input_ids: number[][]; attention_mask: number[][] }): Batch => ({
  ids: Int32Array.from(j.input_ids.flat()),
  mask: Int32Array.from(j.attention_mask.flat()),
  B: j.input_ids.length,
  T: j.input_ids[0].length,
});

let rt: KernelRuntime;
const configs = new Map<string, T5Config>();
const stores = new Map<string, TensorStore>();
const models = new Map<string, T5Model>();

async function model(name: string, dtype: "f32" | "int8" = "f32"): Promise<T5Model> {
  const key = `${name}/${dtype}`;
  let m = models.get(key);
  if (!m) {
    m = new T5Model(rt, await config(name), await store(name), { dtype });
    models.set(key, m);
  }
  return m;
}

async function config(name: string): Promise<T5Config> {
  let c = configs.get(name);
  if (!c) {
    c = t5ConfigFromJson(await readConfig(fixturePath(name)));
    configs.set(name, c);
  }
  return c;
}

async function store(name: string): Promise<TensorStore> {
  let s = stores.get(name);
  if (!s) {
    s = await readTensors(fixturePath(name));
    stores.set(name, s);
  }
  return s;
}

beforeAll(async () => {
  rt = await loadRuntime({ relaxed: false });
});

function logSoftmax(row: Float32Array): Float64Array {
  let mx = Number.NEGATIVE_INFINITY;
  for (const v of row) mx = Math.max(mx, v);
  let s = 0;
  for (const v of row) s += Math.exp(v - mx);
  const lse = mx + Math.log(s);
  return Float64Array.from(row, (v) => v - lse);
}

describe("T5 config", () => {
  it("normalizes v1.0 and v1.1 configs", async () => {
    const relu = await config("t5_tiny_relu");
    expect(relu).toMatchObject({
      dModel: 64,
      dKv: 16,
      dFf: 128,
      numLayers: 2,
      numDecoderLayers: 2,
      numHeads: 4,
      relativeAttentionNumBuckets: 32,
      relativeAttentionMaxDistance: 128,
      layerNormEpsilon: 1e-6,
      feedForwardProj: "relu",
      denseAct: "relu",
      isGated: false,
      tieWordEmbeddings: true,
      scaleDecoderOutputs: true,
      decoderStartTokenId: 0,
      eosTokenId: 1,
      padTokenId: 0,
      vocabSize: 1100,
    });
    const gated = await config("t5_tiny_gated");
    expect(gated).toMatchObject({ feedForwardProj: "gated-gelu", denseAct: "gelu_new", isGated: true });
    expect(gated.scaleDecoderOutputs).toBe(false);
    // gated-gelu spelled through dense_act_fn + is_gated_act; older configs scale when tied
    const legacy = t5ConfigFromJson({
      dense_act_fn: "gelu_new",
      is_gated_act: true,
      tie_word_embeddings: false,
    });
    expect(legacy).toMatchObject({ isGated: true, denseAct: "gelu_new", feedForwardProj: "gated-gelu" });
    expect(legacy.scaleDecoderOutputs).toBe(false);
    expect(t5ConfigFromJson({}).scaleDecoderOutputs).toBe(true);
    expect(t5ConfigFromJson({ num_layers: 3 }).numDecoderLayers).toBe(3);
    expect(t5ConfigFromJson({ eos_token_id: [1, 5] }).eosTokenIds).toEqual([1, 5]);
  });

  it("rejects bad configs with clear errors", () => {
    expect(() => t5ConfigFromJson({ model_type: "bert" })).toThrow(/model_type is "bert", expected "t5"/);
    expect(() => t5ConfigFromJson({ feed_forward_proj: "gated-silu" })).toThrow(
      /gated feed-forward needs the tanh GELU/,
    );
    expect(() => t5ConfigFromJson({ feed_forward_proj: "a-b-c" })).toThrow(/not of the form "gated-\{act\}"/);
    expect(() => t5ConfigFromJson({ feed_forward_proj: "swish" })).toThrow(
      /activation "swish" is not supported/,
    );
    expect(() => t5ConfigFromJson({ d_model: 0 })).toThrow(/"d_model" must be an integer ≥ 1/);
    expect(() => t5ConfigFromJson({ vocab_size: 10, eos_token_id: 12 })).toThrow(
      /"eos_token_id" 12 is outside/,
    );
    expect(() => t5ConfigFromJson([])).toThrow(/not a JSON object/);
  });
});

describe.each(["t5_tiny_relu", "t5_tiny_gated"])("%s (f32) against transformers", (name) => {
  it("hidden states, logits (1e-4) and loss (1e-5) teacher-forced", async () => {
    const m = await model(name);
    const j = readJsonFixture<Seq2SeqInputs>(`${name}/seq2seq_inputs.json`);
    const gold = readSafetensorsFixture(`${name}/seq2seq_outputs.safetensors`);
    const { ids, mask, B, T } = batchOf(j);
    const Td = j.labels[0].length;
    const out = m.forward(
      {
        inputIds: ids,
        attentionMask: mask,
        batch: B,
        seq: T,
        decoderInputIds: Int32Array.from(j.decoder_input_ids.flat()),
        labels: Int32Array.from(j.labels.flat()),
        decoderSeq: Td,
      },
      { hiddenStates: true },
    );
    expect(out.encoderHiddenStates).toHaveLength(3);
    expect(out.hiddenStates).toHaveLength(3);
    for (let i = 0; i < 3; i++) {
      expectClose(
        out.encoderHiddenStates![i],
        gold.float32(`encoder_hidden_states.${i}`),
        1e-4,
        0,
        `enc ${i}`,
      );
      expectClose(out.hiddenStates![i], gold.float32(`decoder_hidden_states.${i}`), 1e-4, 0, `dec ${i}`);
    }
    expectClose(out.encoderLastHiddenState, gold.float32("encoder_last_hidden_state"), 1e-4, 0, "enc last");
    expectClose(out.lastHiddenState, gold.float32("decoder_hidden_states.2"), 1e-4, 0, "dec last");
    expectClose(out.logits, gold.float32("logits"), 1e-4, 0, "logits");
    expect(Math.abs(out.loss! - j.loss)).toBeLessThanOrEqual(1e-5);
    // labels alone: decoder inputs are the labels shifted right (start token 0, -100 → pad)
    const viaLabels = m.forward({
      inputIds: ids,
      attentionMask: mask,
      batch: B,
      seq: T,
      labels: Int32Array.from(j.labels.flat()),
      decoderSeq: Td,
    });
    expect(Array.from(shiftRight(Int32Array.from(j.labels.flat()), B, Td, 0, 0))).toEqual(
      j.decoder_input_ids.flat(),
    );
    expect(viaLabels.loss).toBe(out.loss);
  });

  it("greedy and 4-beam generation (12 new tokens) equal transformers' ids", async () => {
    const m = await model(name);
    const j = readJsonFixture<Seq2SeqInputs>(`${name}/seq2seq_inputs.json`);
    const { ids, mask, B, T } = batchOf(j);
    expect(generate(m, ids, mask, B, T, { maxNewTokens: 12 }).sequences).toEqual(j.greedy_max_new_tokens_12);
    const beam = generate(m, ids, mask, B, T, {
      maxNewTokens: 12,
      numBeams: 4,
      earlyStopping: true,
      lengthPenalty: 1,
    });
    expect(beam.sequences).toEqual(j.beam4_max_new_tokens_12);
  });
});

describe("t5_tiny_copy (trained to copy: varied, input-dependent outputs)", () => {
  const j = () => readJsonFixture<CopyInputs>("t5_tiny_copy/generate_inputs.json");

  it("greedy and 4-beam (16 new tokens) on a padded batch equal transformers' ids", async () => {
    const m = await model("t5_tiny_copy");
    const { ids, mask, B, T } = batchOf(j());
    expect(generate(m, ids, mask, B, T, { maxNewTokens: 16 }).sequences).toEqual(
      j().greedy_max_new_tokens_16,
    );
    const beam = generate(m, ids, mask, B, T, { maxNewTokens: 16, numBeams: 4, earlyStopping: true });
    // after its first </s> a finished hypothesis is padded with `pad_token_id or eos_token_id` = 1
    expect(beam.sequences).toEqual(j().beam4_max_new_tokens_16);
  });

  it("cached decoding (step) equals uncached decoding (decode) at every position", async () => {
    const m = await model("t5_tiny_copy");
    const { ids, mask, B, T } = batchOf(j());
    const V = m.config.vocabSize;
    const enc = m.encode(ids, mask, B, T).lastHiddenState;
    const seqs = j().greedy_max_new_tokens_16;
    const Td = seqs[0].length - 1;
    const dec = Int32Array.from(seqs.flatMap((s) => s.slice(0, Td)));
    const full = m.decode(enc, mask, B, T, dec, Td).logits; // [B,Td,V]
    const state = m.createDecoderState(enc, mask, B, T, Td);
    try {
      let worst = 0;
      for (let t = 0; t < Td; t++) {
        const logits = m.step(
          state,
          Int32Array.from({ length: B }, (_, b) => dec[b * Td + t]),
        );
        for (let b = 0; b < B; b++) {
          const want = full.subarray((b * Td + t) * V, (b * Td + t + 1) * V);
          const got = logits.subarray(b * V, (b + 1) * V);
          for (let v = 0; v < V; v++) worst = Math.max(worst, Math.abs(got[v] - want[v]));
        }
      }
      expect(worst).toBeLessThan(1e-4);
      expect(() => m.step(state, new Int32Array(B))).toThrow(/state is full \(13 tokens\)/);
    } finally {
      state.dispose();
    }
  });

  it("reordered cache rows decode like the reordered sequences", async () => {
    const m = await model("t5_tiny_copy");
    const { ids, mask, B, T } = batchOf(j());
    const V = m.config.vocabSize;
    const enc = m.encode(ids, mask, B, T).lastHiddenState;
    const seqs = j().greedy_max_new_tokens_16.map((s) => s.slice(0, 6));
    const state = m.createDecoderState(enc, mask, B, T, 8);
    try {
      for (let t = 0; t < 5; t++)
        m.step(
          state,
          Int32Array.from(seqs, (s) => s[t]),
        );
      const perm = [2, 0, 3, 1];
      state.reorder(perm); // rows (and their encoder data) permuted
      const got = m.step(
        state,
        Int32Array.from(perm, (p) => seqs[p][5]),
      );
      const pEnc = new Float32Array(enc.length);
      const pMask = new Int32Array(mask.length);
      const C = m.config.dModel;
      perm.forEach((p, i) => {
        pEnc.set(enc.subarray(p * T * C, (p + 1) * T * C), i * T * C);
        pMask.set(mask.subarray(p * T, (p + 1) * T), i * T);
      });
      const full = m.decode(pEnc, pMask, B, T, Int32Array.from(perm.flatMap((p) => seqs[p])), 6).logits;
      for (let i = 0; i < B; i++) {
        const want = full.subarray((i * 6 + 5) * V, (i * 6 + 6) * V);
        expectClose(got.subarray(i * V, (i + 1) * V), want, 1e-4, 0, `row ${i}`);
      }
    } finally {
      state.dispose();
    }
  });

  it("beam scores are sum log-probs / generated_length^length_penalty (incl. </s>)", async () => {
    const m = await model("t5_tiny_copy");
    const { ids, mask, B, T } = batchOf(j());
    const V = m.config.vocabSize;
    const enc = m.encode(ids, mask, B, T).lastHiddenState;
    for (const opts of [
      { lengthPenalty: 1, earlyStopping: true },
      { lengthPenalty: 2, earlyStopping: false },
      { lengthPenalty: 0.5, earlyStopping: "never" as const },
    ]) {
      const out = generateFromEncoded(
        m,
        { hidden: enc, mask, batch: B, seq: T },
        { maxNewTokens: 16, numBeams: 3, ...opts },
      );
      out.sequences.forEach((seq, b) => {
        const end = seq.indexOf(1, 1);
        const len = end < 0 ? seq.length - 1 : end; // generated tokens including </s>
        const dec = Int32Array.from(seq.slice(0, len));
        const logits = m.decode(
          enc.subarray(b * T * 64, (b + 1) * T * 64),
          mask.subarray(b * T, (b + 1) * T),
          1,
          T,
          dec,
          len,
        ).logits;
        let sum = 0;
        for (let t = 0; t < len; t++) sum += logSoftmax(logits.subarray(t * V, (t + 1) * V))[seq[t + 1]];
        expect(out.scores![b]).toBeCloseTo(sum / len ** opts.lengthPenalty, 4);
      });
      // the copy model is confident: every setting still copies the input
      expect(out.sequences.map((s) => s.slice(1, s.indexOf(1, 1)))).toEqual(
        j().input_ids.map((r) => r.slice(0, r.indexOf(1))),
      );
    }
  });

  it("sampling is reproducible from a seed; top_k=1 and a tiny top_p are greedy", async () => {
    const m = await model("t5_tiny_copy");
    const { ids, mask, B, T } = batchOf(j());
    const greedy = j().greedy_max_new_tokens_16;
    const hot = { maxNewTokens: 16, doSample: true, temperature: 3, topK: 0 };
    const a = generate(m, ids, mask, B, T, { ...hot, seed: 7 }).sequences;
    expect(generate(m, ids, mask, B, T, { ...hot, seed: 7 }).sequences).toEqual(a);
    const seeds = [1, 2, 3].map((seed) =>
      JSON.stringify(generate(m, ids, mask, B, T, { ...hot, seed }).sequences),
    );
    expect(new Set([JSON.stringify(a), ...seeds]).size).toBeGreaterThan(1);
    for (const s of a) expect(s[0]).toBe(0);
    expect(
      generate(m, ids, mask, B, T, { maxNewTokens: 16, doSample: true, topK: 1, seed: 3 }).sequences,
    ).toEqual(greedy);
    expect(
      generate(m, ids, mask, B, T, { maxNewTokens: 16, doSample: true, topP: 1e-6, topK: 0, seed: 4 })
        .sequences,
    ).toEqual(greedy);
    const steps: number[][] = [];
    generate(m, ids, mask, B, T, { maxNewTokens: 16, onStep: (t) => steps.push(Array.from(t)) });
    expect(steps.map((s) => s[2])).toEqual(greedy[2].slice(1));
    const r = mulberry32(42);
    const xs = Array.from({ length: 1000 }, r);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
  });
});

// Per-row logits cosine, int8 against f32, every row of each fixture batch: ≥ 0.999 (the issue's
// bound). T5 quantizes the token table and the encoder in the "block" scheme (row unit × multiplier per
// 8 columns), the decoder and the tied head with one scale per row (quantize.ts: t5Int8Scheme);
// measured gated 0.99952, relu 0.99970, copy 0.99990 (all "block": 0.99973, 0.99985, 0.99996; all per
// row: 0.99877, 0.99934, 0.99982: the random-weight fixtures, shared table std 1, are the harshest case).
const INT8_MIN_COSINE = 0.999;

describe("T5 int8", () => {
  it.each(["t5_tiny_relu", "t5_tiny_gated"])(
    "%s: logits cosine per row within its bound, same greedy and beam ids",
    async (name) => {
      const f32 = await model(name);
      const i8 = await model(name, "int8");
      const j = readJsonFixture<Seq2SeqInputs>(`${name}/seq2seq_inputs.json`);
      const { ids, mask, B, T } = batchOf(j);
      const Td = j.labels[0].length;
      const input = {
        inputIds: ids,
        attentionMask: mask,
        batch: B,
        seq: T,
        decoderInputIds: Int32Array.from(j.decoder_input_ids.flat()),
        decoderSeq: Td,
      };
      const a = f32.forward(input).logits;
      const b = i8.forward(input).logits;
      const V = f32.config.vocabSize;
      let minCos = 1;
      for (let r = 0; r < B * Td; r++)
        minCos = Math.min(minCos, cosine(a.subarray(r * V, (r + 1) * V), b.subarray(r * V, (r + 1) * V)));
      console.log(`${name} int8: min per-row logits cosine ${minCos.toFixed(6)}`);
      expect(minCos).toBeGreaterThanOrEqual(INT8_MIN_COSINE);
      expect(generate(i8, ids, mask, B, T, { maxNewTokens: 12 }).sequences).toEqual(
        j.greedy_max_new_tokens_12,
      );
      expect(
        generate(i8, ids, mask, B, T, { maxNewTokens: 12, numBeams: 4, earlyStopping: true }).sequences,
      ).toEqual(j.beam4_max_new_tokens_12);
      expect(i8.weightBytes).toBeLessThan(f32.weightBytes * 0.6);
    },
  );

  it("t5_tiny_copy: cosine ≥ 0.999, same greedy and beam ids; our int8 checkpoint = load-time quantization", async () => {
    const i8 = await model("t5_tiny_copy", "int8");
    const f32 = await model("t5_tiny_copy");
    const j = readJsonFixture<CopyInputs>("t5_tiny_copy/generate_inputs.json");
    const { ids, mask, B, T } = batchOf(j);
    const V = f32.config.vocabSize;
    const teacher = Int32Array.from(j.greedy_max_new_tokens_16.flatMap((s) => s.slice(0, 13)));
    const input = {
      inputIds: ids,
      attentionMask: mask,
      batch: B,
      seq: T,
      decoderInputIds: teacher,
      decoderSeq: 13,
    };
    const a = f32.forward(input).logits;
    const b = i8.forward(input).logits;
    let minCos = 1;
    for (let r = 0; r < B * 13; r++)
      minCos = Math.min(minCos, cosine(a.subarray(r * V, (r + 1) * V), b.subarray(r * V, (r + 1) * V)));
    console.log(`t5_tiny_copy int8: min per-row logits cosine ${minCos.toFixed(6)}`);
    expect(minCos).toBeGreaterThanOrEqual(INT8_MIN_COSINE);
    expect(generate(i8, ids, mask, B, T, { maxNewTokens: 16 }).sequences).toEqual(j.greedy_max_new_tokens_16);
    expect(
      generate(i8, ids, mask, B, T, { maxNewTokens: 16, numBeams: 4, earlyStopping: true }).sequences,
    ).toEqual(j.beam4_max_new_tokens_16);
    const { tensors, metadata } = quantizeCheckpoint(rt, await store("t5_tiny_copy"));
    const qstore = TensorStore.fromBytes([
      { bytes: writeSafetensors(tensors, metadata), name: "int8.safetensors" },
    ]);
    expect(qstore.dtype("shared.weight")).toBe("I8");
    expect(qstore.shape("shared.weight_mult")).toEqual([qstore.shape("shared.weight")[0], 8]); // block scheme
    expect(qstore.dtype("decoder.block.1.layer.1.EncDecAttention.k.weight")).toBe("I8");
    const fromCkpt = new T5Model(rt, await config("t5_tiny_copy"), qstore, { dtype: "int8" });
    const dec = Int32Array.from(j.greedy_max_new_tokens_16.flatMap((s) => s.slice(0, 10)));
    const enc = i8.encode(ids, mask, B, T).lastHiddenState;
    expect(Array.from(fromCkpt.encode(ids, mask, B, T).lastHiddenState)).toEqual(Array.from(enc));
    expect(Array.from(fromCkpt.decode(enc, mask, B, T, dec, 10).logits)).toEqual(
      Array.from(i8.decode(enc, mask, B, T, dec, 10).logits),
    );
  });
});

describe("T5 int8 tied head", () => {
  /** Logits the head `w` gives on the model's own final hidden states (scaled as the model does). */
  function headLogits(m: T5Model, w: QuantizedWeight, hidden: Float32Array): Float32Array {
    const { arena } = rt;
    const C = m.config.dModel;
    const V = m.config.vocabSize;
    const M = hidden.length / C;
    const mark = arena.mark();
    const head = Linear.fromInt8(rt, w.q, w.scales, undefined, V, C, w.mults);
    const s = Math.fround(C ** -0.5);
    const h = arena.put(m.config.scaleDecoderOutputs ? hidden.map((v) => v * s) : hidden);
    const y = arena.allocF32(M * V);
    head.forward(y, h, M);
    const out = arena.readF32(y, M * V);
    arena.reset(mark);
    return out;
  }

  it("is a per-row copy of the block table; all-block checkpoints keep their block head and bound", async () => {
    const name = "t5_tiny_gated";
    const cfg = await config(name);
    const f32store = await store(name);
    const V = cfg.vocabSize;
    const C = cfg.dModel;
    const j = readJsonFixture<Seq2SeqInputs>(`${name}/seq2seq_inputs.json`);
    const { ids, mask, B, T } = batchOf(j);
    const Td = j.decoder_input_ids[0].length;
    const dec = Int32Array.from(j.decoder_input_ids.flat());
    const table = quantizeWeight(rt, f32store.float32("shared.weight"), V, C, "block");
    const perRow = requantizeRows(rt, table, V, C);
    expect(perRow.mults).toBeUndefined();
    expect(Array.from(requantizeRows(rt, perRow, V, C).q)).toEqual(Array.from(perRow.q)); // row: as is

    const i8 = await model(name, "int8");
    const enc = i8.encode(ids, mask, B, T).lastHiddenState;
    const out = i8.decode(enc, mask, B, T, dec, Td);
    expect(Array.from(out.logits)).toEqual(Array.from(headLogits(i8, perRow, out.lastHiddenState)));

    // a checkpoint written when every T5 weight was block-scheme loads as it did: block decoder, block head
    const { tensors, metadata } = quantizeCheckpoint(rt, f32store, { scheme: "block" });
    const oldStore = TensorStore.fromBytes([
      { bytes: writeSafetensors(tensors, metadata), name: "old.safetensors" },
    ]);
    const f32 = await model(name);
    const ref = f32.decode(f32.encode(ids, mask, B, T).lastHiddenState, mask, B, T, dec, Td).logits;
    const mark = rt.arena.mark();
    const old = new T5Model(rt, cfg, oldStore, { dtype: "int8" });
    const oenc = old.encode(ids, mask, B, T).lastHiddenState;
    const oout = old.decode(oenc, mask, B, T, dec, Td);
    expect(Array.from(oout.logits)).toEqual(Array.from(headLogits(old, table, oout.lastHiddenState)));
    let minCos = 1;
    for (let r = 0; r < B * Td; r++)
      minCos = Math.min(
        minCos,
        cosine(ref.subarray(r * V, (r + 1) * V), oout.logits.subarray(r * V, (r + 1) * V)),
      );
    expect(minCos).toBeGreaterThanOrEqual(0.9995); // measured 0.99973
    expect(generate(old, ids, mask, B, T, { maxNewTokens: 12 }).sequences).toEqual(
      j.greedy_max_new_tokens_12,
    );
    expect(old.weightBytes).toBeGreaterThan(i8.weightBytes); // decoder and head multipliers
    rt.arena.reset(mark);
  });
});

// Full-size T5-small (v1.0: 512 wide, 6+6 layers, 8 heads, vocab 32128, tied and scaled head) with
// weights generated from its manifest, against transformers: encoder summaries and 20 greedy tokens
// (the smallest top-1 margin on the way is 0.036, so int8 must keep the ranking too).
describe("t5-small shape (generated weights) against transformers", () => {
  it("encoder summary and greedy ids, f32 and int8", async () => {
    const dir = "t5_small_generated";
    const manifest = readJsonFixture<WeightsManifest>(`${dir}/weights_manifest.json`);
    const gold = readJsonFixture<{
      input_ids: number[][];
      greedy_ids: number[][];
      encoder_last_hidden_state: { first8: number[]; sum: number; l2: number };
    }>(`${dir}/golden.json`);
    const tensors: Record<string, TensorInput> = {};
    for (const [name, g] of generateWeights(manifest))
      tensors[name] = { dtype: "F32", shape: g.shape, data: g.data };
    const big = TensorStore.fromBytes([{ bytes: writeSafetensors(tensors), name: "t5-small.safetensors" }]);
    const cfg = t5ConfigFromJson(readJsonFixture(`${dir}/config.json`));
    const ids = Int32Array.from(gold.input_ids.flat());
    const T = ids.length;
    const f32 = new T5Model(rt, cfg, big);
    const enc = f32.encode(ids, undefined, 1, T).lastHiddenState;
    expectClose(enc.subarray(0, 8), gold.encoder_last_hidden_state.first8, 1e-4, 0, "first8");
    let sum = 0;
    let l2 = 0;
    for (const v of enc) {
      sum += v;
      l2 += v * v;
    }
    expect(Math.abs(sum - gold.encoder_last_hidden_state.sum)).toBeLessThan(0.02);
    expect(Math.abs(Math.sqrt(l2) - gold.encoder_last_hidden_state.l2)).toBeLessThan(1e-3);
    expect(generate(f32, ids, undefined, 1, T, { maxNewTokens: 20 }).sequences).toEqual(gold.greedy_ids);
    const i8 = new T5Model(rt, cfg, big, { dtype: "int8" });
    expect(generate(i8, ids, undefined, 1, T, { maxNewTokens: 20 }).sequences).toEqual(gold.greedy_ids);
    console.log(
      `t5-small weights in wasm memory: f32 ${(f32.weightBytes / 2 ** 20).toFixed(1)} MiB, int8 ${(i8.weightBytes / 2 ** 20).toFixed(1)} MiB`,
    );
  }, 120_000);
});

describe("T5 decoder state memory", () => {
  it("dispose() returns the caches to the arena, in any order; weights stay valid", async () => {
    const m = await model("t5_tiny_copy");
    const j = readJsonFixture<CopyInputs>("t5_tiny_copy/generate_inputs.json");
    const { ids, mask, B, T } = batchOf(j);
    const enc = m.encode(ids, mask, B, T).lastHiddenState;
    const before = rt.arena.mark();
    const s1 = m.createDecoderState(enc, mask, B, T, 16);
    const s2 = m.createDecoderState(enc, mask, B, T, 16, { repeat: 4 });
    expect(s2.rows).toBe(16);
    expect(rt.arena.mark()).toBeGreaterThan(before);
    s1.dispose(); // below s2: held until s2 goes
    expect(() => m.step(s1, new Int32Array(B))).toThrow(/used after dispose/);
    expect(rt.arena.mark()).toBeGreaterThan(before);
    s2.dispose();
    s2.dispose(); // idempotent
    expect(rt.arena.mark()).toBe(before);
    // weights loaded after a state pin its memory instead of being overwritten
    const s3 = m.createDecoderState(enc, mask, B, T, 4);
    const late = new T5Model(rt, await config("t5_tiny_copy"), await store("t5_tiny_copy"));
    const afterLoad = rt.arena.mark();
    s3.dispose();
    expect(rt.arena.mark()).toBe(afterLoad);
    expect(generate(late, ids, mask, B, T, { maxNewTokens: 16 }).sequences).toEqual(
      j.greedy_max_new_tokens_16,
    );
    expect(generate(m, ids, mask, B, T, { maxNewTokens: 16 }).sequences).toEqual(j.greedy_max_new_tokens_16);
  });
});

describe("T5 errors", () => {
  async function tensors(name: string): Promise<Record<string, TensorInput>> {
    const s = await store(name);
    const out: Record<string, TensorInput> = {};
    for (const n of s.names()) out[n] = { dtype: "F32", shape: s.shape(n), data: s.float32(n) };
    return out;
  }
  const storeOf = (t: Record<string, TensorInput>) =>
    TensorStore.fromBytes([{ bytes: writeSafetensors(t), name: "bad.safetensors" }]);

  it("names missing, mis-shaped and unexpected tensors; accepts tied duplicates and the old cross table", async () => {
    const cfg = await config("t5_tiny_gated");
    const t = await tensors("t5_tiny_gated");
    const missing = { ...t };
    delete missing["decoder.block.1.layer.1.EncDecAttention.v.weight"];
    delete missing["encoder.final_layer_norm.weight"];
    expect(() => new T5Model(rt, cfg, storeOf(missing))).toThrow(
      /T5 checkpoint: missing tensors: encoder\.final_layer_norm\.weight, decoder\.block\.1\.layer\.1\.EncDecAttention\.v\.weight$/,
    );
    const bad = { ...t };
    bad["encoder.block.1.layer.1.DenseReluDense.wi_0.weight"] = {
      dtype: "F32",
      shape: [64, 128],
      data: new Float32Array(64 * 128),
    };
    bad["encoder.block.0.layer.1.DenseReluDense.wi.weight"] = {
      dtype: "F32",
      shape: [128, 64],
      data: new Float32Array(128 * 64),
    };
    expect(() => new T5Model(rt, cfg, storeOf(bad))).toThrow(
      /mis-shaped tensors: encoder\.block\.1\.layer\.1\.DenseReluDense\.wi_0\.weight is \[64,128\], expected \[128,64\].*unexpected tensors: encoder\.block\.0\.layer\.1\.DenseReluDense\.wi\.weight/,
    );
    // a relu config on gated weights: wi expected, wi_0/wi_1 unexpected
    const reluCfg = await config("t5_tiny_relu");
    expect(() => new T5Model(rt, reluCfg, storeOf(t))).toThrow(
      /missing tensors: .*DenseReluDense\.wi\.weight/,
    );
    const dup = { ...t };
    for (const n of ["encoder.embed_tokens.weight", "decoder.embed_tokens.weight"])
      dup[n] = t["shared.weight"];
    dup["decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight"] = {
      dtype: "F32",
      shape: [32, 4],
      data: new Float32Array(128),
    };
    expect(() => new T5Model(rt, cfg, storeOf(dup))).not.toThrow();
    // an untied config needs lm_head.weight
    expect(() => new T5Model(rt, { ...cfg, tieWordEmbeddings: false }, storeOf(t))).toThrow(
      /missing tensors: lm_head\.weight/,
    );
  });

  it("a separate lm_head.weight is used when present", async () => {
    const cfg = await config("t5_tiny_gated");
    const t = await tensors("t5_tiny_gated");
    const head = Float32Array.from(t["shared.weight"].data as Float32Array, (v) => v * 2);
    const m = new T5Model(
      rt,
      { ...cfg, tieWordEmbeddings: false },
      storeOf({ ...t, "lm_head.weight": { dtype: "F32", shape: [1100, 64], data: head } }),
    );
    expect(m.tiedHead).toBe(false);
    const ref = await model("t5_tiny_gated");
    expect(ref.tiedHead).toBe(true);
    const ids = Int32Array.from([5, 6, 7, 1]);
    const enc = ref.encode(ids, undefined, 1, 4).lastHiddenState;
    const dec = Int32Array.from([0, 5]);
    const a = ref.decode(enc, undefined, 1, 4, dec, 2).logits;
    const b = m.decode(enc, undefined, 1, 4, dec, 2).logits;
    expectClose(
      b,
      Float32Array.from(a, (v) => v * 2),
      1e-4,
      1e-5,
      "lm_head = 2·shared",
    );
  });

  it("rejects bad ids and shapes", async () => {
    const m = await model("t5_tiny_relu");
    expect(() => m.encode(Int32Array.from([5, 1100, 1]), undefined, 1, 3)).toThrow(
      /T5 encoder: input_ids: 1 ids are outside the vocabulary 0\.\.1099 \(e\.g\. 1100\)/,
    );
    expect(() => m.encode(Int32Array.from([5, 1]), undefined, 1, 3)).toThrow(
      /input_ids has 2 values, expected 1×3/,
    );
    expect(() => m.encode(Int32Array.from([5, 1]), Int32Array.from([1]), 1, 2)).toThrow(
      /attention_mask has 1 values/,
    );
    const enc = m.encode(Int32Array.from([5, 1]), undefined, 1, 2).lastHiddenState;
    expect(() => m.decode(enc, undefined, 1, 2, Int32Array.from([0, -100]), 2)).toThrow(
      /decoder_input_ids: 1 ids are outside the vocabulary/,
    );
    expect(() => m.decode(enc, undefined, 1, 3, Int32Array.from([0]), 1)).toThrow(
      /encoder hidden states have 128 values/,
    );
    const state = m.createDecoderState(enc, undefined, 1, 2, 4);
    try {
      expect(() => m.step(state, Int32Array.from([-1]))).toThrow(
        /token ids: 1 ids are outside the vocabulary/,
      );
      expect(() => m.step(state, Int32Array.from([0, 0]))).toThrow(/2 token ids given, state has 1 rows/);
      const other = await model("t5_tiny_gated");
      expect(() => other.step(state, Int32Array.from([0]))).toThrow(/state was created by another model/);
    } finally {
      state.dispose();
    }
    expect(() => generate(m, Int32Array.from([5, 1]), undefined, 1, 2, { maxNewTokens: 0 })).toThrow(
      /maxNewTokens/,
    );
    expect(() =>
      generate(m, Int32Array.from([5, 1]), undefined, 1, 2, { numBeams: 2, doSample: true }),
    ).toThrow(/beam sampling/);
    expect(() =>
      generate(m, Int32Array.from([5, 1]), undefined, 1, 2, { doSample: true, temperature: 0 }),
    ).toThrow(/temperature/);
    expect(() => crossEntropy(new Float32Array(4), [7], 4)).toThrow(/label 7 is outside the vocabulary/);
  });
});
