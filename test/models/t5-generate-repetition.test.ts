// generate() with transformers' repetition controls on the copy-trained T5 fixture (t5_tiny_copy), fed
// inputs that repeat themselves: the copies repeat n-grams without the options and never with
// no_repeat_ngram_size, in greedy search (equal to an uncached loop applying transformers' processors to
// the raw logits), beam search with 4 beams (scores = sum of the *processed* log-softmax scores, as
// transformers' beam search processes log-probs) and seeded sampling. Defaults (0 / 1) keep the golden
// ids. Decoder-only LM: the prompt counts in the history. Bad values are RangeErrors.
import { beforeAll, describe, expect, it } from "vitest";
import { writeSafetensors } from "../../src/io/safetensors.ts";
import { readConfig, readTensors } from "../../src/models/checkpoint-node.ts";
import { applyRepetitionProcessors, repetitionSettings } from "../../src/models/logits-process.ts";
import { T5Model } from "../../src/models/t5.ts";
import { t5ConfigFromJson } from "../../src/models/t5-config.ts";
import { type GenerateOptions, generate, generateFromEncoded } from "../../src/models/t5-generate.ts";
import { TensorStore } from "../../src/models/tensors.ts";
import type { KernelRuntime } from "../../src/runtime/load.ts";
import { loadRuntime } from "../../src/runtime/node.ts";
import { T5Trainer } from "../../src/train/t5-train.ts";
import { fixturePath, readJsonFixture } from "../helpers/fixtures.ts";

let rt: KernelRuntime;
let m: T5Model;
const EOS = 1;

// inputs the copy model copies: a repeated bigram, a repeated trigram, one token repeated
const ROWS = [
  [111, 157, 111, 157, 111, 157, 111, 157, EOS],
  [26, 152, 112, 26, 152, 112, 26, 152, 112, EOS],
  [5, 5, 5, 5, 5, 5, EOS],
];
const T = 10;
const B = ROWS.length;
const ids = Int32Array.from(ROWS.flatMap((r) => [...r, ...new Array(T - r.length).fill(0)])); // [B,T]
const mask = Int32Array.from(ROWS.flatMap((r) => [...r.map(() => 1), ...new Array(T - r.length).fill(0)])); // [B,T]

beforeAll(async () => {
  rt = await loadRuntime({ relaxed: false });
  const dir = fixturePath("t5_tiny_copy");
  m = new T5Model(rt, t5ConfigFromJson(await readConfig(dir)), await readTensors(dir));
});

/** The sequence up to and including the first </s> after the start token. */
const untilEos = (seq: number[]) => {
  const end = seq.indexOf(EOS, 1);
  return end < 0 ? seq : seq.slice(0, end + 1);
};

/** The n-grams that occur more than once in seq. */
function repeatedNgrams(seq: number[], n: number): string[] {
  const seen = new Map<string, number>();
  for (let i = 0; i + n <= seq.length; i++) {
    const k = seq.slice(i, i + n).join(" ");
    seen.set(k, (seen.get(k) ?? 0) + 1);
  }
  return [...seen].filter(([, c]) => c > 1).map(([k]) => k);
}

function logSoftmax(row: Float32Array): Float32Array {
  let mx = Number.NEGATIVE_INFINITY;
  for (const v of row) mx = Math.max(mx, v);
  let s = 0;
  for (const v of row) s += Math.exp(v - mx);
  const lse = mx + Math.log(s);
  return Float32Array.from(row, (v) => v - lse);
}

/** Uncached greedy over decode(): raw logits → transformers' processors → argmax (first on ties). */
function referenceGreedy(b: number, maxNew: number, opts: GenerateOptions): number[] {
  const V = m.config.vocabSize;
  const C = m.config.dModel;
  const enc = m.encode(ids.subarray(b * T, (b + 1) * T), mask.subarray(b * T, (b + 1) * T), 1, T);
  const s = repetitionSettings(opts);
  const seq = [0];
  for (let step = 0; step < maxNew; step++) {
    const logits = m.decode(
      enc.lastHiddenState.subarray(0, T * C),
      mask.subarray(b * T, (b + 1) * T),
      1,
      T,
      Int32Array.from(seq),
      seq.length,
    ).logits;
    const row = Float32Array.from(logits.subarray((seq.length - 1) * V, seq.length * V));
    applyRepetitionProcessors(row, seq, s);
    let best = 0;
    for (let v = 1; v < V; v++) if (row[v] > row[best]) best = v;
    seq.push(best);
    if (best === EOS) break;
  }
  return seq;
}

describe("generate: no_repeat_ngram_size and repetition_penalty (t5_tiny_copy)", () => {
  it("defaults (0 and 1) keep the golden greedy and beam ids", () => {
    const j = readJsonFixture<{
      input_ids: number[][];
      attention_mask: number[][];
      greedy_max_new_tokens_16: number[][];
      beam4_max_new_tokens_16: number[][];
    }>("t5_tiny_copy/generate_inputs.json");
    const gIds = Int32Array.from(j.input_ids.flat());
    const gMask = Int32Array.from(j.attention_mask.flat());
    const [gB, gT] = [j.input_ids.length, j.input_ids[0].length];
    const off = { noRepeatNgramSize: 0, repetitionPenalty: 1 };
    expect(generate(m, gIds, gMask, gB, gT, { maxNewTokens: 16, ...off }).sequences).toEqual(
      j.greedy_max_new_tokens_16,
    );
    expect(generate(m, gIds, gMask, gB, gT, { maxNewTokens: 16, numBeams: 4, ...off }).sequences).toEqual(
      j.beam4_max_new_tokens_16,
    );
  });

  it("greedy: the copies repeat n-grams; with no_repeat_ngram_size none repeats; equal to an uncached reference", () => {
    const plain = generate(m, ids, mask, B, T, { maxNewTokens: 16 }).sequences.map(untilEos);
    for (const seq of plain) expect(repeatedNgrams(seq, 2).length).toBeGreaterThan(0);
    expect(plain[0].slice(1)).toEqual(ROWS[0]); // the model copies: 111 157 repeats
    for (const n of [1, 2, 3]) {
      const out = generate(m, ids, mask, B, T, { maxNewTokens: 16, noRepeatNgramSize: n }).sequences;
      out.forEach((full, b) => {
        const seq = untilEos(full);
        expect(repeatedNgrams(seq, n), `n=${n} row ${b}: ${seq}`).toEqual([]);
        expect(seq).toEqual(referenceGreedy(b, 16, { noRepeatNgramSize: n }));
      });
    }
  });

  it("greedy: repetition_penalty equals the reference and breaks the copy loop", () => {
    for (const p of [1.5, 3, 0.8]) {
      const out = generate(m, ids, mask, B, T, { maxNewTokens: 16, repetitionPenalty: p }).sequences;
      out.forEach((full, b) => {
        expect(untilEos(full)).toEqual(referenceGreedy(b, 16, { repetitionPenalty: p }));
      });
      if (p === 3) expect(out.map((s) => repeatedNgrams(untilEos(s), 2))).toEqual([[], [], []]);
    }
    const both = { noRepeatNgramSize: 2, repetitionPenalty: 1.3 };
    const out = generate(m, ids, mask, B, T, { maxNewTokens: 16, ...both }).sequences;
    out.forEach((full, b) => {
      expect(untilEos(full)).toEqual(referenceGreedy(b, 16, both));
    });
  });

  it("beam search (4 beams): no repeated bigram; scores are sums of the processed log-softmax scores", () => {
    const plain = generate(m, ids, mask, B, T, { maxNewTokens: 16, numBeams: 4 }).sequences.map(untilEos);
    for (const seq of plain) expect(repeatedNgrams(seq, 2).length).toBeGreaterThan(0);
    const V = m.config.vocabSize;
    const C = m.config.dModel;
    const enc = m.encode(ids, mask, B, T).lastHiddenState;
    for (const opts of [{ noRepeatNgramSize: 2 }, { noRepeatNgramSize: 2, repetitionPenalty: 1.5 }]) {
      const out = generateFromEncoded(
        m,
        { hidden: enc, mask, inputIds: ids, batch: B, seq: T },
        { maxNewTokens: 16, numBeams: 4, ...opts },
      );
      const s = repetitionSettings(opts);
      out.sequences.forEach((full, b) => {
        const seq = untilEos(full);
        expect(repeatedNgrams(seq, 2), `${opts} row ${b}`).toEqual([]);
        const len = seq.length - 1; // generated tokens incl. </s>
        const logits = m.decode(
          enc.subarray(b * T * C, (b + 1) * T * C),
          mask.subarray(b * T, (b + 1) * T),
          1,
          T,
          Int32Array.from(seq.slice(0, len)),
          len,
        ).logits;
        let sum = 0;
        for (let t = 0; t < len; t++) {
          const lp = logSoftmax(logits.subarray(t * V, (t + 1) * V));
          applyRepetitionProcessors(lp, seq.slice(0, t + 1), s);
          sum += lp[seq[t + 1]];
        }
        expect(out.scores![b]).toBeCloseTo(sum / len, 4);
      });
    }
  });

  it("sampling with a seed: reproducible, and no repeated n-gram with the option", () => {
    const sampled = (o: GenerateOptions) =>
      generate(m, ids, mask, B, T, { maxNewTokens: 16, doSample: true, seed: 11, temperature: 0.9, ...o })
        .sequences;
    const plain = sampled({}).map(untilEos);
    for (const seq of plain) expect(repeatedNgrams(seq, 2).length).toBeGreaterThan(0);
    for (const n of [2, 3]) {
      const a = sampled({ noRepeatNgramSize: n, repetitionPenalty: 1.2 });
      expect(sampled({ noRepeatNgramSize: n, repetitionPenalty: 1.2 })).toEqual(a);
      for (const seq of a) expect(repeatedNgrams(untilEos(seq), n)).toEqual([]);
    }
  });

  it("bad values are RangeErrors naming the option", () => {
    expect(() => generate(m, ids, mask, B, T, { noRepeatNgramSize: -1 })).toThrow(/noRepeatNgramSize/);
    expect(() => generate(m, ids, mask, B, T, { noRepeatNgramSize: Number.NaN })).toThrow(RangeError);
    expect(() => generate(m, ids, mask, B, T, { repetitionPenalty: Number.NaN })).toThrow(
      /repetitionPenalty/,
    );
    expect(() => generate(m, ids, mask, B, T, { repetitionPenalty: 0, numBeams: 2 })).toThrow(RangeError);
    expect(() => generate(m, ids, mask, B, T, { repetitionPenalty: -2, doSample: true })).toThrow(RangeError);
  });
});

describe("generate: repetition controls on a decoder-only LM count the prompt", () => {
  it("no_repeat_ngram_size 1 never emits a prompt token, the start token or a token twice", () => {
    const cfg = t5ConfigFromJson({
      model_type: "t5",
      edgeformer_architecture: "decoder-only",
      vocab_size: 40,
      d_model: 16,
      d_kv: 4,
      d_ff: 24,
      num_layers: 2,
      num_heads: 2,
      feed_forward_proj: "relu",
      tie_word_embeddings: false,
    });
    const trainer = new T5Trainer(rt, cfg, { seed: 5 });
    const lm = new T5Model(
      rt,
      trainer.config,
      TensorStore.fromBytes([
        { bytes: writeSafetensors(trainer.exportWeights()), name: "model.safetensors" },
      ]),
    );
    const pIds = Int32Array.from([7, 8, 9, 10, 11, 0, 0, 12, 13, 14, 15, 16]); // [2,6]
    const pMask = Int32Array.from([1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1]); // row 1 left-padded
    const out = generate(lm, pIds, pMask, 2, 6, { maxNewTokens: 12, noRepeatNgramSize: 1, eosTokenId: 39 });
    const prompts = [
      [7, 8, 9, 10, 11],
      [12, 13, 14, 15, 16],
    ];
    out.sequences.forEach((full, b) => {
      const g = full.slice(1);
      const gen = g.includes(39) ? g.slice(0, g.indexOf(39) + 1) : g; // up to </s> (id 39 here)
      expect(gen.length).toBeGreaterThan(3);
      for (const t of gen) {
        expect(prompts[b]).not.toContain(t);
        expect(t).not.toBe(0);
      }
      expect(new Set(gen).size).toBe(gen.length);
    });
    // generateFromEncoded must be given the prompt ids to count them
    const enc = lm.encode(pIds, pMask, 2, 6).lastHiddenState;
    expect(() =>
      generateFromEncoded(lm, { hidden: enc, mask: pMask, batch: 2, seq: 6 }, { noRepeatNgramSize: 2 }),
    ).toThrow(/need the input ids/);
  });
});
