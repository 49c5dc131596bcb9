// Behaviour of the shipped default models (models/bert-wordnet, models/bert-wordnet-pos,
// models/t5-wordnet), loaded as the worker loads them (int8 checkpoints, the POS adapter on top of the
// BERT): things only a trained model does, measured on held-out WordNet items
// (test/fixtures/wordnet/heldout_sample.json: words no training file used) against trivial baselines
// computed on the same items, so a broken, untrained or swapped checkpoint fails CI. (The T5 answers
// pos: well above the majority class; its definitions and hypernyms of held-out words are closer to
// their own targets than to other words' and than the most common training answer; its synonyms are not
// yet better than copying the word, so they are not tested for quality.)
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { loadModelDir } from "../../src/models/adapters-node.ts";
import { classify } from "../../src/tasks/classify.ts";
import { fillMask } from "../../src/tasks/fill-mask.ts";
import { nextSentence } from "../../src/tasks/next-sentence.ts";
import type { BertPipeline } from "../../src/tasks/pipeline.ts";
import { generateText, type T5Pipeline } from "../../src/tasks/text2text.ts";
import { majorityTarget, tokenF1 } from "../../src/train/t5-eval.ts";

/** The most common target of each word task in the training files (the majority baseline's answer). */
const TRAIN_MAJORITY = { define: "a radioactive transuranic element", hypernym: "writer" };

interface Sample {
  fill_mask: { text: string; answers: string[] }[];
  next_sentence: { text: string; next: string; random: string }[];
  pos_classify: { text: string; label: string }[];
  pos: { input: string; target: string }[];
  define: { input: string; target: string }[];
  hypernym: { input: string; target: string }[];
  fill: { input: string; target: string }[];
}
const S = JSON.parse(
  readFileSync(new URL("../fixtures/wordnet/heldout_sample.json", import.meta.url), "utf8"),
) as Sample;
const dir = (name: string) => new URL(`../../models/${name}`, import.meta.url).pathname;
/** What the tests measured, printed once (the model cards quote these). */
const measured: Record<string, number> = {};

let bert: BertPipeline;
let pos: BertPipeline;
let t5: T5Pipeline;
beforeAll(async () => {
  const b = await loadModelDir(dir("bert-wordnet"));
  const p = await loadModelDir(dir("bert-wordnet"), { adapter: dir("bert-wordnet-pos") });
  const t = await loadModelDir(dir("t5-wordnet"));
  if (b.arch !== "bert" || p.arch !== "bert" || t.arch !== "t5") throw new Error("unexpected model types");
  bert = b.pipeline;
  pos = p.pipeline;
  t5 = t.pipeline;
});

const generate = (inputs: string[]) => {
  const out: string[] = [];
  for (let i = 0; i < inputs.length; i += 16)
    out.push(...generateText(t5, inputs.slice(i, i + 16), { maxNewTokens: 32 }).map((r) => r.generated_text));
  return out;
};

describe("bert-wordnet (shipped int8)", () => {
  it("fills masked words of held-out glosses and sentences more often than the most common word would", () => {
    // Every third word (a whole word of the vocabulary) masked, one at a time.
    const texts = [...S.pos_classify.map((e) => e.text), ...S.next_sentence.flatMap((s) => [s.text, s.next])];
    const probes: string[] = [];
    const answers: string[] = [];
    for (const t of texts) {
      const words = t.split(" ");
      for (let i = 0; i < words.length; i += 3) {
        const w = words[i].toLowerCase();
        if (!/^[a-z]+$/.test(w) || bert.tokenizer.tokenToId(w) === undefined) continue;
        probes.push([...words.slice(0, i), "[MASK]", ...words.slice(i + 1)].join(" "));
        answers.push(w);
      }
    }
    const res = fillMask(bert, probes, { topK: 5 });
    let top1 = 0;
    let top5 = 0;
    res.forEach((cands, i) => {
      const words = cands[0].map((c) => c.token_str.trim());
      if (words[0] === answers[i]) top1++;
      if (words.includes(answers[i])) top5++;
    });
    const common = majorityTarget(answers);
    const baseline = answers.filter((a) => a === common).length;
    Object.assign(measured, {
      mlm_probes: probes.length,
      mlm_top1: top1,
      mlm_top5: top5,
      mlm_baseline: baseline,
    });
    expect(probes.length).toBeGreaterThan(300);
    expect(top1).toBeGreaterThanOrEqual(1.3 * baseline);
    expect(top5 / probes.length).toBeGreaterThanOrEqual(0.2);
  });

  it("gives a document's real next sentence a higher mean probability than a random one", () => {
    const real = nextSentence(
      bert,
      S.next_sentence.map((s) => [s.text, s.next]),
    );
    const rand = nextSentence(
      bert,
      S.next_sentence.map((s) => [s.text, s.random]),
    );
    const mean = (xs: { isNextProbability: number }[]) =>
      xs.reduce((a, r) => a + r.isNextProbability, 0) / xs.length;
    Object.assign(measured, { nsp_real: mean(real), nsp_random: mean(rand) });
    expect(mean(real)).toBeGreaterThan(mean(rand) + 0.05);
  });
});

describe("bert-wordnet-pos (POS adapter on the shipped BERT)", () => {
  it("tells the part of speech of held-out glosses well above the majority class", () => {
    const res = classify(
      pos,
      S.pos_classify.map((e) => e.text),
    );
    const right = res.filter((r, i) => r[0].label === S.pos_classify[i].label).length;
    const majority = majorityTarget(S.pos_classify.map((e) => e.label));
    const base = S.pos_classify.filter((e) => e.label === majority).length;
    Object.assign(measured, {
      pos_adapter_right: right,
      pos_adapter_majority: base,
      pos_adapter_n: res.length,
    });
    expect(right).toBeGreaterThanOrEqual(base + 0.6 * (res.length - base));
  });
});

describe("t5-wordnet (shipped int8)", () => {
  it("answers pos: with a part of speech that varies with the gloss", () => {
    const out = generate(S.pos.map((e) => e.input)).map((o) => o.trim());
    const labels = ["noun", "verb", "adjective", "adverb"];
    const valid = out.filter((o) => labels.includes(o)).length;
    const right = out.filter((o, i) => o === S.pos[i].target).length;
    Object.assign(measured, { t5_pos_valid: valid, t5_pos_right: right, t5_pos_n: out.length });
    // Trained: the task prefix selects the output vocabulary (an untrained or swapped model answers
    // anything) and the gloss moves the answer (a constant answer gets one class only).
    expect(valid / out.length).toBeGreaterThanOrEqual(0.95);
    expect(new Set(out.filter((o) => labels.includes(o))).size).toBeGreaterThanOrEqual(2);
    // and it is right well above always answering the sample's most common class
    const majority = majorityTarget(S.pos.map((e) => e.target));
    const base = S.pos.filter((e) => e.target === majority).length;
    Object.assign(measured, { t5_pos_majority: base });
    expect(right).toBeGreaterThanOrEqual(base + 0.35 * (out.length - base));
  });

  it("defines held-out words and names their hypernyms closer to their own targets than to others'", () => {
    // Token F1 of each greedy answer against its own target, against the targets of five other items
    // (an answer that ignores the word scores the same on both) and the F1 of always giving the most
    // common training answer.
    for (const task of ["define", "hypernym"] as const) {
      const items = S[task];
      const out = generate(items.map((e) => e.input));
      const n = items.length;
      let own = 0;
      let other = 0;
      let majority = 0;
      out.forEach((o, i) => {
        own += tokenF1(o, items[i].target) / n;
        for (let j = 1; j <= 5; j++) other += tokenF1(o, items[(i + 7 * j) % n].target) / (5 * n);
        majority += tokenF1(TRAIN_MAJORITY[task], items[i].target) / n;
      });
      Object.assign(measured, {
        [`t5_${task}_f1_own`]: own,
        [`t5_${task}_f1_other`]: other,
        [`t5_${task}_f1_majority`]: majority,
        [`t5_${task}_distinct`]: new Set(out).size,
      });
      expect(own, task).toBeGreaterThan(1.1 * other);
      expect(own, task).toBeGreaterThan(majority + 0.02);
      expect(new Set(out).size, task).toBeGreaterThanOrEqual(8);
    }
  });

  it("puts more probability on the right target when given its own input than another input", () => {
    // Teacher-forced loss of each held-out target after its own input vs after the next example's input.
    const lossOf = (input: string, target: string) => {
      const a = t5.tokenizer.encode(input).ids;
      const t = t5.tokenizer.encode(target).ids;
      return t5.model.forward({
        inputIds: Int32Array.from(a),
        attentionMask: new Int32Array(a.length).fill(1),
        batch: 1,
        seq: a.length,
        labels: Int32Array.from(t),
        decoderSeq: t.length,
      }).loss!;
    };
    const items = [...S.pos.slice(0, 40), ...S.fill.slice(0, 40)];
    let own = 0;
    let other = 0;
    items.forEach((e, i) => {
      own += lossOf(e.input, e.target);
      other += lossOf(items[(i + 1) % items.length].input, e.target);
    });
    Object.assign(measured, { t5_loss_own: own / items.length, t5_loss_other: other / items.length });
    console.log("default-models measured:", JSON.stringify(measured));
    expect(own).toBeLessThan(0.75 * other);
  });
});
