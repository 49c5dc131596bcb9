// BERT tasks on the tiny fixture checkpoint with its real WordPiece tokenizer: each task's numbers are
// checked against an independent computation from the model's raw outputs (softmax of MLM logits,
// masked mean of hidden states, softmax of NSP logits, brute-force best QA span), plus bad-input errors.
import { beforeAll, describe, expect, it } from "vitest";
import { writeSafetensors } from "../../src/io/safetensors.ts";
import { BertModel } from "../../src/models/bert.ts";
import { bertConfigFromJson } from "../../src/models/bert-config.ts";
import { readConfig, readTensors } from "../../src/models/checkpoint-node.ts";
import { TensorStore } from "../../src/models/tensors.ts";
import { loadRuntime } from "../../src/runtime/node.ts";
import { classify } from "../../src/tasks/classify.ts";
import { embed } from "../../src/tasks/embeddings.ts";
import { fillMask } from "../../src/tasks/fill-mask.ts";
import { nextSentence } from "../../src/tasks/next-sentence.ts";
import { type BertPipeline, encodeBatch } from "../../src/tasks/pipeline.ts";
import { answerQuestion } from "../../src/tasks/question-answering.ts";
import { supportedTasks } from "../../src/tasks/registry.ts";
import { classifyTokens, type EntityGroup, type TokenEntity } from "../../src/tasks/token-classification.ts";
import { loadTokenizerDir } from "../../src/tokenizers/node.ts";
import type { Tokenizer } from "../../src/tokenizers/types.ts";
import { fixturePath } from "../helpers/fixtures.ts";
import { normal } from "../helpers/random.ts";

const DIR = fixturePath("bert_tiny");
let pre: BertPipeline;
let tokenizer: Tokenizer;
let store: TensorStore;

/** bert_tiny plus a head with random weights under `name` (for heads the fixture lacks). */
async function withHead(
  arch: string,
  head: string,
  rows: number,
  id2label?: Record<number, string>,
): Promise<BertPipeline> {
  const base = await readTensors(DIR);
  const tensors: Record<string, { dtype: "F32"; shape: number[]; data: Float32Array }> = {};
  for (const n of base.names())
    if (n.startsWith("bert.")) tensors[n] = { dtype: "F32", shape: base.shape(n), data: base.float32(n) };
  tensors[`${head}.weight`] = { dtype: "F32", shape: [rows, 64], data: normal(rows * 64, rows, 0.5) };
  tensors[`${head}.bias`] = { dtype: "F32", shape: [rows], data: normal(rows, rows + 1, 0.1) };
  const cfg = { ...(await readConfig(DIR)), architectures: [arch], ...(id2label ? { id2label } : {}) };
  const s = TensorStore.fromBytes([{ bytes: writeSafetensors(tensors), name: "model.safetensors" }]);
  return { tokenizer, model: new BertModel(pre.model.rt, bertConfigFromJson(cfg), s) };
}

beforeAll(async () => {
  const rt = await loadRuntime({ relaxed: false });
  tokenizer = await loadTokenizerDir(fixturePath("tok/bert"));
  store = await readTensors(DIR);
  pre = { tokenizer, model: new BertModel(rt, bertConfigFromJson(await readConfig(DIR)), store) };
});

describe("fill-mask", () => {
  it("scores are the softmax of the MLM logits at each mask; sequences fill one mask each", () => {
    const text = "the quick brown [MASK] jumps over the [MASK] dog.";
    const [res] = fillMask(pre, [text], { topK: 4 });
    expect(res).toHaveLength(2);
    const { encodings, input } = encodeBatch(pre, [text]);
    const logits = pre.model.forward(input, { mlm: "all" }).mlmLogits!;
    const V = 2000;
    const maskPositions = encodings[0].ids.flatMap((id, t) => (id === tokenizer.special.mask ? [t] : []));
    maskPositions.forEach((t, m) => {
      const row = Array.from(logits.subarray(t * V, (t + 1) * V));
      const max = Math.max(...row);
      const z = row.reduce((s, v) => s + Math.exp(v - max), 0);
      const order = row.map((v, i) => [v, i]).sort((a, b) => b[0] - a[0]);
      expect(res[m].map((c) => c.token)).toEqual(order.slice(0, 4).map((o) => o[1]));
      for (const c of res[m]) {
        expect(c.score).toBeCloseTo(Math.exp(row[c.token] - max) / z, 5);
        expect(c.token_str).toBe(tokenizer.decode([c.token]));
        expect(c.sequence).not.toContain("[MASK]");
      }
    });
    expect(res[0][0].sequence.startsWith("the quick brown")).toBe(true);
  });

  it("rejects a text without a mask and a bad top_k", () => {
    expect(() => fillMask(pre, ["no mask here"])).toThrow(/no mask token \(\[MASK\]\) in input 0/);
    expect(() => fillMask(pre, ["a [MASK]"], { topK: 0 })).toThrow(/top_k must be a positive integer/);
  });
});

describe("embeddings", () => {
  it("mean pooling averages real tokens only: padding a batch does not change a text's embedding", () => {
    const alone = embed(pre, ["a cat"]).embeddings[0];
    const batched = embed(pre, ["a cat", "a much longer sentence that forces padding of the first"]);
    expect(batched.tokenCounts[0]).toBe(4);
    for (let c = 0; c < 64; c++) expect(batched.embeddings[0][c]).toBeCloseTo(alone[c], 5);
  });

  it("mean pooling is the masked mean of the last hidden state; CLS is row 0; normalize gives unit length", () => {
    const { input } = encodeBatch(pre, ["hello world"]);
    const h = pre.model.forward(input).lastHiddenState;
    const T = input.seq;
    const mean = Array.from({ length: 64 }, (_, c) => {
      let s = 0;
      for (let t = 0; t < T; t++) s += h[t * 64 + c];
      return s / T;
    });
    const got = embed(pre, ["hello world"]).embeddings[0];
    for (const [c, v] of mean.entries()) expect(got[c]).toBeCloseTo(v, 5);
    const cls = embed(pre, ["hello world"], { pooling: "cls", normalize: true }).embeddings[0];
    const n = Math.hypot(...h.subarray(0, 64));
    for (let c = 0; c < 64; c++) expect(cls[c]).toBeCloseTo(h[c] / n, 5);
    expect(() => embed(pre, ["x"], { pooling: "max" as "mean" })).toThrow(/pooling must be/);
    expect(() => embed(pre, [])).toThrow(/no input texts/);
  });
});

describe("next-sentence and classification", () => {
  it("next-sentence probability is softmax(seq_relationship)[0]", () => {
    const [r] = nextSentence(pre, [["the cat sat.", "it was happy."]]);
    const { input } = encodeBatch(pre, ["the cat sat."], ["it was happy."]);
    const l = pre.model.forward(input, { nsp: true }).nspLogits!;
    expect(r.isNextProbability).toBeCloseTo(1 / (1 + Math.exp(l[1] - l[0])), 6);
  });

  it("classification returns labels from id2label sorted by softmax score", async () => {
    const p = await withHead("BertForSequenceClassification", "classifier", 3, {
      0: "neg",
      1: "neu",
      2: "pos",
    });
    // the pooler comes from the checkpoint
    const [all] = classify(p, ["great movie"], { topK: 3 });
    expect(all.map((x) => x.label).sort()).toEqual(["neg", "neu", "pos"]);
    expect(all.reduce((s, x) => s + x.score, 0)).toBeCloseTo(1, 6);
    expect(all[0].score).toBeGreaterThanOrEqual(all[1].score);
    expect(classify(p, ["great movie"])[0]).toEqual([all[0]]);
    expect(supportedTasks(p)).toContain("classify");
    expect(supportedTasks(pre)).toEqual(["fill-mask", "embeddings", "next-sentence"]);
  });
});

describe("token classification and question answering (heads with generated weights)", () => {
  it("aggregation none gives per-piece argmax labels; simple groups them consistently", async () => {
    const labels = { 0: "O", 1: "B-PER", 2: "I-PER", 3: "B-LOC", 4: "I-LOC" };
    const p = await withHead("BertForTokenClassification", "classifier", 5, labels);
    expect(supportedTasks(p)).toContain("token-classification");
    const text = "john smith lives in new york city";
    const none = classifyTokens(p, [text], { aggregation: "none", ignoreLabels: [] })[0] as TokenEntity[];
    const { encodings } = encodeBatch(p, [text]);
    expect(none.length).toBe(encodings[0].specialTokensMask.filter((s) => s === 0).length);
    for (const e of none) expect(text.slice(e.start, e.end).length).toBeGreaterThan(0);
    const simple = classifyTokens(p, [text], { aggregation: "simple", ignoreLabels: [] })[0] as EntityGroup[];
    // every group spans pieces whose labels share its tag, and groups cover all pieces in order
    let i = 0;
    for (const g of simple) {
      const first = none[i];
      expect(g.start).toBe(first.start);
      while (i < none.length && none[i].end <= g.end) {
        expect(none[i].entity.replace(/^[BI]-/, "")).toBe(g.entity_group);
        i++;
      }
    }
    expect(i).toBe(none.length);
    for (const agg of ["first", "average", "max"] as const) {
      const words = classifyTokens(p, [text], { aggregation: agg, ignoreLabels: [] })[0] as EntityGroup[];
      for (const g of words) expect(text.slice(g.start, g.end).trim()).toBe(text.slice(g.start, g.end));
    }
    expect(() => classifyTokens(p, [text], { aggregation: "bogus" as "none" })).toThrow(
      /aggregation must be/,
    );
  });

  it("question answering picks the brute-force best context span", async () => {
    const p = await withHead("BertForQuestionAnswering", "qa_outputs", 2);
    const question = "where does john live?";
    const context = "john smith lives in new york city with his dog.";
    const [best] = answerQuestion(p, question, context, { maxAnswerLength: 5 });
    const { encodings, input } = encodeBatch(p, [question], [context], { truncation: "only_second" });
    const out = p.model.forward(input, { qa: true });
    const e = encodings[0];
    const ok = e.sequenceIds.map((s) => s === 1);
    const sm = (l: Float32Array) => {
      const m = Math.max(...Array.from(l).filter((_, i) => ok[i]));
      const z = Array.from(l).reduce((s, v, i) => (ok[i] ? s + Math.exp(v - m) : s), 0);
      return Array.from(l, (v, i) => (ok[i] ? Math.exp(v - m) / z : 0));
    };
    const ps = sm(out.qaStartLogits!);
    const pe = sm(out.qaEndLogits!);
    let top = { score: -1, s: 0, t: 0 };
    for (let s = 0; s < ps.length; s++)
      for (let t = s; t < Math.min(ps.length, s + 5); t++)
        if (ok[s] && ok[t] && ps[s] * pe[t] > top.score) top = { score: ps[s] * pe[t], s, t };
    expect(best.score).toBeCloseTo(top.score, 6);
    expect(best.answer).toBe(context.slice(e.offsets[top.s][0], e.offsets[top.t][1]));
    expect(context.slice(best.start, best.end)).toBe(best.answer);
    expect(() => answerQuestion(p, " ", context)).toThrow(/non-empty/);
  });
});
