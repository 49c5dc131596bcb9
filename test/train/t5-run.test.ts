// T5 training runs in process (src/train/t5-run.ts): span-corruption pretraining of a tiny T5 (1+1
// layers, d_model 32) on a generated corpus with a SentencePiece vocab trained on the fly (the run folder
// then loads as an inference model and its logits match the trainer's), exact resume, NaN stop, settings
// checks, and multi-task training from a tasks.json with per-task held-out metrics; plus the data pieces
// (chunk packing, LM split, collation) and the evaluation metrics.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readTensors } from "../../src/models/checkpoint-node.ts";
import { loadT5PipelineDir } from "../../src/models/load-node.ts";
import { generateText } from "../../src/tasks/text2text.ts";
import { mulberry32 } from "../../src/train/data/index.ts";
import type { MetricsEntry } from "../../src/train/metrics.ts";
import { PretrainSettingsError, TrainingDivergedError } from "../../src/train/run-files.ts";
import { majorityTarget, normalizeAnswer, score, tokenF1 } from "../../src/train/t5-eval.ts";
import { lengthBuckets, type T5RunOptions, trainT5 } from "../../src/train/t5-run.ts";
import { T5Trainer } from "../../src/train/t5-train.ts";
import { collateT5, objectiveExample, packChunks } from "../../src/train/t5data/examples.ts";
import { tinySetup } from "./trainer-corpus.ts";

const setup = tinySetup();
afterAll(() => rmSync(setup.dir, { recursive: true, force: true }));
const config = join(setup.dir, "t5-config.json");
writeFileSync(
  config,
  JSON.stringify({ d_model: 32, d_kv: 8, d_ff: 64, num_layers: 1, num_decoder_layers: 1, num_heads: 4 }),
);
const base = (out: string, extra: Partial<T5RunOptions> = {}): T5RunOptions => ({
  mode: "pretrain",
  out: join(setup.dir, out),
  corpus: setup.corpus,
  config,
  vocabSize: 300,
  inputLength: 24,
  batch: 8,
  lr: 3e-3,
  warmup: 2,
  heldOut: 0.1,
  evalExamples: 16,
  progress: "none",
  ...extra,
});
const readMetrics = (out: string): MetricsEntry[] =>
  readFileSync(join(setup.dir, out, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));

describe("T5 pretraining run", () => {
  it("learns span corruption, writes a loadable model folder whose loss matches the trainer's", async () => {
    const r = await trainT5(base("span", { steps: 30, evalEvery: 15, saveEvery: 15, logEvery: 1 }));
    expect(r.vocab_size).toBeGreaterThan(100); // the tiny corpus has fewer pieces than asked for
    const m = readMetrics("span");
    const train = m.filter((e) => e.type === "train").map((e) => e.loss);
    const first = train.slice(0, 3).reduce((a, b) => a + b) / 3;
    const last = train.slice(-3).reduce((a, b) => a + b) / 3;
    expect(last).toBeLessThan(first * 0.7);
    const evals = m.filter((e) => e.type === "eval");
    expect(evals.map((e) => e.step)).toEqual([15, 30]);
    expect(evals[1].loss).toBeLessThan(evals[0].loss);
    expect(evals[1].token_accuracy as number).toBeGreaterThan(0.2);
    const dir = join(setup.dir, "span");
    for (const f of [
      "config.json",
      "model.safetensors",
      "spiece.model",
      "tokenizer.json",
      "tokenizer_config.json",
      "curves.svg",
    ])
      expect(readFileSync(join(dir, f)).length).toBeGreaterThan(0);
    expect(readFileSync(join(dir, "curves.svg"), "utf8")).toContain("T5 pretraining (span)");
    // the run folder is an inference model; the sentinels are the last ids
    const p = await loadT5PipelineDir(dir);
    expect(p.tokenizer.tokenToId("<extra_id_0>")).toBe(r.vocab_size - 1);
    const batch = collateT5([
      { inputs: [5, 6, 7, r.vocab_size - 1, 8, 1], targets: [r.vocab_size - 1, 9, 10, 1] },
      { inputs: [11, 12, 1], targets: [13, 1] },
    ]);
    const trainer = new T5Trainer(p.model.rt, p.model.config, { weights: await readTensors(dir) });
    const inference = p.model.forward(batch);
    expect(Math.abs(trainer.evaluate(batch).loss - inference.loss!)).toBeLessThan(1e-5);
    const [g] = generateText(p, ["the cat sees <extra_id_0> in the park."], { maxNewTokens: 8 });
    expect(g.sequence[0]).toBe(0);
    expect(g.sequence.length).toBeGreaterThan(1);
  }, 60_000);

  it("trains the decoder-only LM and the prefix LM on the lm / prefix-lm objectives", async () => {
    for (const objective of ["lm", "prefix-lm"] as const) {
      const out = `obj-${objective}`;
      await trainT5(base(out, { objective, steps: 24, evalEvery: 12, logEvery: 1 }));
      const cfg = JSON.parse(readFileSync(join(setup.dir, out, "config.json"), "utf8"));
      expect(cfg.edgeformer_architecture).toBe(objective === "lm" ? "decoder-only" : "prefix-lm");
      const w = await readTensors(join(setup.dir, out));
      expect(w.has("encoder.final_layer_norm.weight")).toBe(false);
      const evals = readMetrics(out).filter((e) => e.type === "eval");
      expect(evals[1].loss).toBeLessThan(evals[0].loss);
    }
  }, 60_000);

  it("resumes bit for bit", async () => {
    await trainT5(base("full", { steps: 8, saveEvery: 4, evalEvery: 0 }));
    const crash = new Error("simulated crash after step 4");
    await expect(
      trainT5(
        base("part", {
          steps: 8,
          saveEvery: 4,
          evalEvery: 0,
          afterStep: (s) => {
            if (s === 4) throw crash;
          },
        }),
      ),
    ).rejects.toBe(crash);
    await trainT5(base("part", { steps: 8, saveEvery: 4, evalEvery: 0, resume: true }));
    const a = await readTensors(join(setup.dir, "full"));
    const b = await readTensors(join(setup.dir, "part"));
    // --stop-at: the same schedule, cut short, then resumed to the end
    const cut = await trainT5(base("cut", { steps: 8, saveEvery: 0, evalEvery: 0, stopAt: 5 }));
    expect(cut.stopped_at).toBe(5);
    expect(cut.checkpoint).toContain("checkpoint-5");
    await trainT5(base("cut", { steps: 8, saveEvery: 0, evalEvery: 0, resume: true }));
    const c = await readTensors(join(setup.dir, "cut"));
    expect(Array.from(c.float32("shared.weight"))).toEqual(Array.from(a.float32("shared.weight")));
    for (const n of [
      "shared.weight",
      "encoder.block.0.layer.0.SelfAttention.q.weight",
      "decoder.final_layer_norm.weight",
    ])
      expect(Array.from(b.float32(n))).toEqual(Array.from(a.float32(n)));
    await expect(trainT5(base("part", { steps: 10, batch: 4, resume: true }))).rejects.toThrow(
      /batch 4 differs/,
    );
    await expect(trainT5(base("part", { steps: 10 }))).rejects.toThrow(/--resume/);
  }, 60_000);

  it("stops on a NaN with a clear error and rejects bad settings", async () => {
    await expect(
      trainT5(
        base("nan", {
          steps: 6,
          saveEvery: 2,
          evalEvery: 0,
          beforeStep: (s, t) => {
            if (s === 4) t.params.view("shared.weight")[0] = Number.NaN;
          },
        }),
      ),
    ).rejects.toThrow(TrainingDivergedError);
    await expect(trainT5(base("bad", { objective: "nope" as never }))).rejects.toThrow(PretrainSettingsError);
    await expect(trainT5(base("bad-lr-scale", { lrScale: "adafactor" as never }))).rejects.toThrow(
      /lrScale must be one of none, rms/,
    );
    await expect(trainT5(base("bad-weighting", { lossWeighting: "seq" as never }))).rejects.toThrow(
      /lossWeighting must be one of token, example/,
    );
    await expect(trainT5(base("bad2", { corpus: join(setup.dir, "missing.txt") }))).rejects.toThrow(
      /missing\.txt/,
    );
  }, 60_000);
});

describe("T5 multi-task run", () => {
  it("trains from tasks.json with temperature mixing and reports per-task held-out metrics", async () => {
    const dir = join(setup.dir, "tasks");
    mkdirSync(dir, { recursive: true });
    const words = [
      "cat",
      "dog",
      "bird",
      "house",
      "river",
      "apple",
      "door",
      "letter",
      "ball",
      "hill",
      "sea",
      "park",
    ];
    const line = (input: string, target: string) => `${JSON.stringify({ input, target })}\n`;
    writeFileSync(
      join(dir, "copy.jsonl"),
      words.flatMap((a) => words.map((b) => line(`${a} ${b}`, `${a} ${b}`))).join(""),
    );
    writeFileSync(
      join(dir, "first.jsonl"),
      words.flatMap((a) => words.map((b) => line(`${a} ${b}`, a))).join(""),
    );
    const tasks = (prefixCopy: string) =>
      JSON.stringify({
        tasks: [
          { name: "copy", data: "copy.jsonl", prefix: prefixCopy },
          { name: "first", data: "first.jsonl", prefix: "first: ", cap: 100 },
        ],
      });
    writeFileSync(join(dir, "tasks.json"), tasks("copy: "));
    writeFileSync(join(dir, "eval.json"), tasks("copy: "));
    const r = await trainT5({
      mode: "tasks",
      out: join(dir, "run"),
      tasks: join(dir, "tasks.json"),
      evalTasks: join(dir, "eval.json"),
      config,
      vocabSize: 200,
      mixing: "temperature",
      temperature: 2,
      steps: 40,
      batch: 16,
      lr: 5e-3,
      warmup: 4,
      evalEvery: 20,
      evalExamples: 32,
      progress: "none",
    });
    expect(r.train_examples).toEqual({ copy: 144, first: 100 });
    const evals = readMetrics(join("tasks", "run")).filter((e) => e.type === "eval");
    expect(evals).toHaveLength(2);
    for (const k of ["loss_copy", "loss_first", "token_accuracy_copy", "token_accuracy_first"])
      expect(typeof evals[1][k]).toBe("number");
    expect(evals[1].loss_first as number).toBeLessThan(evals[0].loss_first as number);
    expect(r.eval?.tasks?.first.examples).toBe(32);
  }, 60_000);

  it("takes its mixing from tasks.json unless a flag says otherwise", async () => {
    const dir = join(setup.dir, "file-mixing");
    mkdirSync(dir, { recursive: true });
    const line = (input: string, target: string) => `${JSON.stringify({ input, target })}\n`;
    const words = ["cat", "dog", "bird", "house", "river", "apple", "door", "ball"];
    writeFileSync(join(dir, "a.jsonl"), words.map((w) => line(`a: ${w}`, w)).join(""));
    writeFileSync(
      join(dir, "b.jsonl"),
      words.flatMap((w) => words.map((v) => line(`b: ${w} ${v}`, v))).join(""),
    );
    writeFileSync(
      join(dir, "tasks.json"),
      JSON.stringify({
        tasks: [
          { name: "a", data: "a.jsonl" },
          { name: "b", data: "b.jsonl" },
        ],
        mixing: { strategy: "proportional", limit: 16, temperature: 3 },
      }),
    );
    const run = (out: string, extra: Partial<T5RunOptions>) =>
      trainT5({
        mode: "tasks",
        out: join(dir, out),
        tasks: join(dir, "tasks.json"),
        config,
        vocabSize: 200,
        steps: 1,
        batch: 4,
        warmup: 0,
        progress: "none",
        ...extra,
      });
    const settingsOf = (out: string) =>
      JSON.parse(readFileSync(join(dir, out, "checkpoint-1", "trainer_state.json"), "utf8")).settings;
    await run("from-file", {});
    expect(settingsOf("from-file")).toMatchObject({ mixing: "proportional", limit: 16, temperature: 3 });
    await run("flags", { mixing: "equal", limit: 0 });
    expect(settingsOf("flags")).toMatchObject({ mixing: "equal", limit: 0, temperature: 3 });
  }, 60_000);
});

describe("T5 length buckets", () => {
  it("micro-batches sorted by length give the step's loss and nearly the same weights as one batch", async () => {
    const one = await trainT5(base("mb-one", { steps: 3, saveEvery: 0, evalEvery: 0, logEvery: 1 }));
    const mb = await trainT5(
      base("mb-four", { steps: 3, saveEvery: 0, evalEvery: 0, logEvery: 1, microBatch: 3 }),
    );
    expect(Math.abs(mb.loss! - one.loss!)).toBeLessThan(1e-4 * one.loss!);
    const a = (await readTensors(join(setup.dir, "mb-one"))).float32("shared.weight");
    const b = (await readTensors(join(setup.dir, "mb-four"))).float32("shared.weight");
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
    expect(worst).toBeLessThan(1e-4);
    const ex = (n: number) => ({ inputs: Array(n).fill(5), targets: [1] });
    expect(lengthBuckets([ex(5), ex(1), ex(3), ex(2)], 2).map((g) => g.map((e) => e.inputs.length))).toEqual([
      [1, 2],
      [3, 5],
    ]);
  }, 60_000);
});

describe("T5 example pieces", () => {
  it("packs documents into chunks, splits for LM, collates with padding", () => {
    expect(
      packChunks(
        [
          [1, 2, 3],
          [4, 5],
          [6, 7, 8, 9],
        ],
        4,
      ),
    ).toEqual([
      [1, 2, 3, 4],
      [5, 6, 7, 8],
    ]);
    expect(packChunks([[1, 2, 3]], 4)).toEqual([[1, 2, 3]]);
    const rng = mulberry32(3);
    for (let i = 0; i < 20; i++) {
      const chunk = [10, 11, 12, 13, 14, 15];
      const ex = objectiveExample(chunk, rng, { objective: "prefix-lm", vocabSize: 100, eosId: 1 });
      expect([...ex.inputs.slice(0, -1), ...ex.targets.slice(0, -1)]).toEqual(chunk);
      expect(ex.inputs.length).toBeGreaterThanOrEqual(2);
      expect(ex.targets.length).toBeGreaterThanOrEqual(2);
    }
    const b = collateT5([
      { inputs: [5, 6, 1], targets: [7, 1] },
      { inputs: [8, 1], targets: [9, 9, 9, 1] },
    ]);
    expect([b.batch, b.seq, b.decoderSeq]).toEqual([2, 3, 4]);
    expect(Array.from(b.inputIds)).toEqual([5, 6, 1, 8, 1, 0]);
    expect(Array.from(b.attentionMask!)).toEqual([1, 1, 1, 1, 1, 0]);
    expect(Array.from(b.labels)).toEqual([7, 1, -100, -100, 9, 9, 9, 1]);
  });

  it("scores answers by exact match and token F1", () => {
    expect(normalizeAnswer("  The <extra_id_0> Cat, sat! ")).toBe("the cat sat");
    expect(tokenF1("a b c", "a b d")).toBeCloseTo(2 / 3, 12);
    expect(tokenF1("x", "a b")).toBe(0);
    expect(score(["Noun", "verb"], ["noun", "noun"])).toEqual({ exact_match: 0.5, token_f1: 0.5 });
    expect(majorityTarget(["a", "b", "b", "c"])).toBe("b");
  });
});
