// Multi-task BERT fine-tuning (src/train/finetune-multitask.ts) on the tiny BERT and two synthetic tasks
// (topic: finance / food, 2 labels; kind: color / animal / element, 3 labels, with a prefix): tasks.json
// classification data ({text, label, text_pair} lines, prefixes, pairs); the step plan's and the
// driver's task frequencies within binomial bounds of the mixing rates (proportional with K, temperature,
// equal); loss going down and each task's held-out accuracy above its majority baseline; the output
// folder classifying with each head exactly as the trained trainer; frozen tensors bit-identical for
// unfreeze and adapters (and the adapter folder on the base classifying per task); heads a step did not
// draw left untouched; an interrupted run resumed bit for bit; a NaN stop; the CLI (finetune --tasks, classify
// --task); clear errors.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Flags, UsageError } from "../../src/cli/args.ts";
import { classifyCommand } from "../../src/cli/commands/bert-tasks.ts";
import { finetuneCommand } from "../../src/cli/commands/finetune.ts";
import { SafetensorsFile } from "../../src/io/safetensors.ts";
import { readAdapterConfig } from "../../src/models/adapters.ts";
import { loadModelDir } from "../../src/models/adapters-node.ts";
import { readTensors } from "../../src/models/checkpoint-node.ts";
import { loadBertPipelineDir } from "../../src/models/load-node.ts";
import type { KernelRuntime } from "../../src/runtime/load.ts";
import { loadRuntime } from "../../src/runtime/node.ts";
import { classify } from "../../src/tasks/classify.ts";
import { loadTokenizerDir } from "../../src/tokenizers/node.ts";
import type { BertTrainer } from "../../src/train/bert-train.ts";
import { readLatest } from "../../src/train/checkpoint.ts";
import { mulberry32 } from "../../src/train/data/index.ts";
import {
  finetuneMultitask,
  type MultitaskOptions,
  type MultitaskResult,
} from "../../src/train/finetune-multitask.ts";
import { planStep, prepareTasks } from "../../src/train/finetune-multitask-data.ts";
import { collateClassify, tokenizeClassify } from "../../src/train/finetune-tasks.ts";
import type { MetricsEntry } from "../../src/train/metrics.ts";
import { PretrainSettingsError, TrainingDivergedError } from "../../src/train/run-files.ts";
import {
  type MixingOptions,
  MixtureSampler,
  mixingRates,
  parseLabeledJsonlExamples,
  proportionalRates,
  temperatureRates,
} from "../../src/train/t5data/mixing.ts";
import { type FinetuneSetup, finetuneSetup, syntheticExamples } from "./finetune-setup.ts";

const FILLER = [
  "force",
  "object",
  "follow",
  "number",
  "cut",
  "lead",
  "control",
  "against",
  "name",
  "book",
  "land",
];
const KIND: [string, string][] = [
  ["red", "color"],
  ["blue", "color"],
  ["green", "color"],
  ["dog", "animal"],
  ["cat", "animal"],
  ["water", "element"],
  ["fire", "element"],
];

/** Filler words with one marker; the label is the marker's kind (3 labels). */
function kindExamples(n: number, seed: number): { text: string; label: string }[] {
  const r = mulberry32(seed);
  return Array.from({ length: n }, () => {
    const len = 3 + Math.floor(r() * 4);
    const words = Array.from({ length: len }, () => FILLER[Math.floor(r() * FILLER.length)]);
    const [marker, label] = KIND[Math.floor(r() * KIND.length)];
    words.splice(Math.floor(r() * (len + 1)), 0, marker);
    return { text: words.join(" "), label };
  });
}

const SIZES = { topic: 96, kind: 300 };
const topicEval = syntheticExamples(40, 2);
const kindEval = kindExamples(45, 12);

let setup: FinetuneSetup;
let rt: KernelRuntime;
let tasksPath: string;
let evalPath: string;
beforeAll(async () => {
  setup = finetuneSetup("edgeformer-multitask-");
  rt = await loadRuntime();
  const jsonl = (xs: object[]) => xs.map((x) => `${JSON.stringify(x)}\n`).join("");
  const d = join(setup.dir, "tasks");
  mkdirSync(d);
  writeFileSync(join(d, "kind.jsonl"), jsonl(kindExamples(SIZES.kind, 11)));
  writeFileSync(join(d, "kind-eval.jsonl"), jsonl(kindEval));
  tasksPath = join(d, "tasks.json");
  evalPath = join(d, "eval.json");
  // topic's files are the shared setup's (paths relative to tasks.json)
  writeFileSync(
    tasksPath,
    JSON.stringify({
      tasks: [
        { name: "topic", data: "../train.jsonl" },
        { name: "kind", data: "kind.jsonl", prefix: "kind:" },
      ],
    }),
  );
  writeFileSync(
    evalPath,
    JSON.stringify({
      tasks: [
        { name: "topic", data: "../eval.jsonl" },
        { name: "kind", data: "kind-eval.jsonl", prefix: "kind:" },
      ],
    }),
  );
});
afterAll(() => rmSync(setup.dir, { recursive: true, force: true }));

const opts = (out: string, extra: Partial<MultitaskOptions>): MultitaskOptions => ({
  out: join(setup.dir, out),
  model: setup.base,
  tasks: tasksPath,
  evalTasks: evalPath,
  strategy: "full",
  mixing: "proportional",
  steps: 60,
  batch: 16,
  seqLen: 16,
  evalEvery: 60,
  logEvery: 1,
  saveEvery: 0,
  progress: "none",
  runtime: rt,
  ...extra,
});

const metrics = (out: string): MetricsEntry[] =>
  readFileSync(join(setup.dir, out, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
const trainEntries = (out: string) => metrics(out).filter((e) => e.type === "train");
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const same = (a: Float32Array, b: Float32Array) => bytes(a).equals(bytes(b));

/** Flags as the CLI parser gives them (repeated options as arrays). */
const cliFlags = (o: Record<string, unknown>) => o as Flags;

/** |k − np| ≤ 5·√(np(1−p)). */
function expectBinomial(k: number, n: number, p: number, what: string): void {
  const sd = Math.sqrt(n * p * (1 - p));
  expect(
    Math.abs(k - n * p),
    `${what}: ${k}/${n} vs p = ${p.toFixed(4)} (sd ${sd.toFixed(1)})`,
  ).toBeLessThanOrEqual(5 * sd);
}

/** The driver's per-task example counts (metrics) against the run's rates, and their sum = result.drawn. */
function expectDriverFrequencies(out: string, r: MultitaskResult, expected: number[]): void {
  const names = Object.keys(SIZES);
  const counts = names.map((t) => trainEntries(out).reduce((a, e) => a + (e[`examples_${t}`] as number), 0));
  const n = r.steps * 16;
  expect(counts.reduce((a, b) => a + b, 0)).toBe(n);
  names.forEach((t, i) => {
    expect(r.drawn[t]).toBe(counts[i]);
    expect(r.rates[t]).toBeCloseTo(expected[i], 12);
    expectBinomial(counts[i], n, expected[i], t);
  });
  console.log(
    `${out}: ${names.map((t, i) => `${t} ${counts[i]}/${n} = ${(counts[i] / n).toFixed(4)} (rate ${expected[i].toFixed(4)})`).join(", ")}`,
  );
}

describe("classification tasks.json data", () => {
  it("parses {text, label, text_pair} lines (numbers and booleans as labels), with cap and clear errors", () => {
    const text = `{"text": "a b", "label": 1}\n\n{"text": "c", "label": "pos", "text_pair": "d"}\n{"text": "e", "label": true}\n`;
    expect(parseLabeledJsonlExamples(text, "f.jsonl")).toEqual([
      { text: "a b", label: "1" },
      { text: "c", label: "pos", textPair: "d" },
      { text: "e", label: "true" },
    ]);
    expect(parseLabeledJsonlExamples(text, "f.jsonl", 2)).toHaveLength(2);
    expect(() => parseLabeledJsonlExamples(`{"text": "a", "label": " "}`, "f.jsonl")).toThrow(
      /f\.jsonl line 1: empty label/,
    );
    expect(() => parseLabeledJsonlExamples(`{"text": "a", "label": [1]}`, "f.jsonl")).toThrow(
      /line 1: expected \{"text": string, "label": string or number/,
    );
    expect(() => parseLabeledJsonlExamples(`{"text": "a"`, "f.jsonl")).toThrow(/line 1: not valid JSON/);
  });

  it("draw() picks what next() picks; prepared tasks carry the prefix, pairs and label indices", async () => {
    const text = Array.from({ length: 9 }, (_, i) => ({ input: `i${i}`, target: `t${i}` }));
    const tasks = [
      { name: "a", prefix: "p:", examples: text.slice(0, 4) },
      { name: "b", prefix: "", examples: text.slice(4) },
    ];
    const x = new MixtureSampler(tasks, { strategy: "equal", seed: 3 });
    const y = new MixtureSampler(tasks, { strategy: "equal", seed: 3 });
    for (let i = 0; i < 30; i++) {
      const d = x.draw();
      const n = y.next();
      expect([d.taskIndex, d.index]).toEqual([n.taskIndex, n.index]);
      expect(n.input).toBe(d.taskIndex === 0 ? `p: ${d.example.input}` : d.example.input);
      expect(d.example).toBe(tasks[d.taskIndex].examples[d.index]);
    }
    const tok = await loadTokenizerDir(setup.base);
    const [t] = prepareTasks(
      [
        {
          name: "nli",
          prefix: "nli:",
          examples: [
            { text: "red dog", textPair: "a cat", label: "no" },
            { text: "red", textPair: "red", label: "yes" },
            { text: "blue", textPair: "fire", label: "no" },
          ],
        },
      ],
      [],
      { tokenizer: tok, seqLen: 16, evalExamples: 10, evalSeed: 1 },
    );
    expect(t.labels).toEqual(["no", "yes"]);
    expect(t.majority).toBe("no");
    expect(t.train.map((e) => e.label)).toEqual([0, 1, 0]);
    const enc = tok.encode("nli: red dog", "a cat");
    expect(t.train[0].ids).toEqual(enc.ids);
    expect(t.train[0].typeIds).toEqual(enc.typeIds);
    expect(t.train[0].typeIds).toContain(1);
  });
});

describe("step plan: draws grouped by task follow the mixing rates", () => {
  const sizes = [120, 3000, 45, 800];
  const tasks = sizes.map((n, t) => ({
    name: `t${t}`,
    prefix: "",
    examples: Array.from({ length: n }, (_, i) => ({ t, i })),
  }));
  const cases: [string, MixingOptions, number[]][] = [
    ["proportional", { strategy: "proportional" }, proportionalRates(sizes)],
    ["proportional K=500", { strategy: "proportional", limit: 500 }, proportionalRates(sizes, 500)],
    ["temperature T=2", { strategy: "temperature", temperature: 2 }, temperatureRates(sizes, 2)],
    [
      "temperature T=4 K=300",
      { strategy: "temperature", temperature: 4, limit: 300 },
      temperatureRates(sizes, 4, 300),
    ],
    ["equal", { strategy: "equal" }, [0.25, 0.25, 0.25, 0.25]],
  ];
  it.each(cases)("%s", (_, mix, rates) => {
    expect(mixingRates(sizes, mix)).toEqual(rates);
    const sampler = new MixtureSampler(tasks, { ...mix, seed: 17 });
    const counts = sizes.map(() => 0);
    const steps = 1000;
    const B = 24;
    for (let s = 0; s < steps; s++) {
      const groups = planStep(sampler, B);
      // groups in task order, each one task's examples, B in all
      expect(groups.map((g) => g.task)).toEqual([...groups.map((g) => g.task)].sort((a, b) => a - b));
      expect(groups.reduce((a, g) => a + g.items.length, 0)).toBe(B);
      for (const g of groups) {
        expect(g.items.every((e) => e.t === g.task)).toBe(true);
        counts[g.task] += g.items.length;
      }
    }
    for (const [t, p] of rates.entries()) expectBinomial(counts[t], steps * B, p, `task ${t}`);
  });
});

describe("multi-task fine-tuning", () => {
  it("full, proportional K: rates followed, loss down, each task above its majority baseline; the output folder classifies with each head as the trainer", async () => {
    let trainer: BertTrainer | undefined;
    const r = await finetuneMultitask(
      opts("full", { lr: 1e-3, limit: 150, beforeStep: (_, t) => (trainer = t) }),
    );
    expectDriverFrequencies("full", r, [96 / 246, 150 / 246]);
    expect(r.labels).toEqual({ topic: ["finance", "food"], kind: ["animal", "color", "element"] });
    const losses = trainEntries("full").map((e) => e.loss);
    const [first, last] = [mean(losses.slice(0, 8)), mean(losses.slice(-8))];
    expect(last).toBeLessThan(first * 0.7);
    console.log(
      `full: train loss ${first.toFixed(4)} → ${last.toFixed(4)}; held-out ${Object.entries(r.eval!.tasks)
        .map(
          ([t, e]) =>
            `${t} ${(100 * e.accuracy).toFixed(1)}% (majority ${(100 * e.majority_accuracy).toFixed(1)}%)`,
        )
        .join(", ")}`,
    );
    const ev = r.eval!;
    for (const t of ["topic", "kind"]) {
      expect(ev.tasks[t].accuracy, t).toBeGreaterThan(ev.tasks[t].majority_accuracy + 0.15);
    }
    expect(ev.tasks.topic.examples).toBe(40);
    expect(ev.tasks.kind.examples).toBe(45);
    const evalEntry = metrics("full").find((e) => e.type === "eval")!;
    expect(evalEntry).toMatchObject({
      accuracy_topic: ev.tasks.topic.accuracy,
      majority_accuracy_kind: ev.tasks.kind.majority_accuracy,
      examples: 85,
    });
    const out = join(setup.dir, "full");
    expect(readFileSync(join(out, "curves.svg"), "utf8")).toContain("eval kind");
    const cfg = JSON.parse(readFileSync(join(out, "config.json"), "utf8"));
    expect(cfg.edgeformer_tasks).toEqual({
      topic: { id2label: { 0: "finance", 1: "food" }, label2id: { finance: 0, food: 1 } },
      kind: {
        id2label: { 0: "animal", 1: "color", 2: "element" },
        label2id: { animal: 0, color: 1, element: 2 },
        prefix: "kind:",
      },
    });
    expect(cfg.id2label).toEqual({ 0: "finance", 1: "food" });
    const file = SafetensorsFile.parse(readFileSync(join(out, "model.safetensors")), "model.safetensors");
    expect(file.info("classifier.kind.weight").shape).toEqual([3, 64]);
    expect(file.has("classifier.weight")).toBe(false);
    // inference from the folder, per head: accuracy = the run's, logits = the trained trainer's, bit for bit
    const p = await loadBertPipelineDir(out, { runtime: rt });
    expect(p.model.tasks).toEqual(["topic", "kind"]);
    const tok = await loadTokenizerDir(setup.base);
    for (const [task, evalSet, i, prefix] of [
      ["topic", topicEval, 0, ""],
      ["kind", kindEval, 1, "kind: "],
    ] as const) {
      const preds = classify(
        p,
        evalSet.map((e) => e.text),
        { task },
      ).map((x) => x[0].label);
      const acc = preds.filter((l, j) => l === evalSet[j].label).length / evalSet.length;
      expect(acc, task).toBeCloseTo(ev.tasks[task].accuracy, 12);
      // the texts as trained (with the task's prefix)
      const items = evalSet.slice(0, 6).map((e) => tokenizeClassify(tok, prefix + e.text, undefined, 0, 16));
      const batch = collateClassify(items, 0);
      const ref = trainer!.evaluate({ ...batch, task: i }, { logits: true }).classifyLogits!;
      expect(same(p.model.forward(batch, { classify: true, task }).classifyLogits!, ref), task).toBe(true);
      // classify puts the prefix back: its scores are the softmax of those logits
      const L = task === "kind" ? 3 : 2;
      const labels = p.model.taskLabels(task);
      const [scores] = classify(p, [evalSet[0].text], { task, topK: L });
      const row = Array.from(ref.subarray(0, L));
      const z = row.reduce((a, x) => a + Math.exp(x - Math.max(...row)), 0);
      for (const { label, score } of scores)
        expect(score).toBeCloseTo(Math.exp(row[labels.indexOf(label)] - Math.max(...row)) / z, 6);
    }
    // the CLI: classify --task NAME; several tasks and no --task is a usage error
    const json = JSON.parse(
      await classifyCommand(cliFlags({ model: out, text: ["red dog fire"], task: "kind", json: true })),
    );
    expect(json[0].map((x: { label: string }) => x.label).sort()).toEqual(["animal", "color", "element"]);
    await expect(classifyCommand(cliFlags({ model: out, text: ["x"] }))).rejects.toThrow(
      /one head per task: choose one with --task \(topic, kind\)/,
    );
    await expect(classifyCommand(cliFlags({ model: out, text: ["x"], task: "nope" }))).rejects.toThrow(
      UsageError,
    );
  });

  it("unfreeze, temperature T=2: frozen layers and embeddings bit-identical to the base; rates followed", async () => {
    const r = await finetuneMultitask(
      opts("unfreeze", {
        strategy: "unfreeze",
        unfreezeEvery: 1000,
        mixing: "temperature",
        temperature: 2,
        lr: 2e-3,
      }),
    );
    const w = [Math.sqrt(96), Math.sqrt(300)];
    expectDriverFrequencies("unfreeze", r, [w[0] / (w[0] + w[1]), w[1] / (w[0] + w[1])]);
    const losses = trainEntries("unfreeze").map((e) => e.loss);
    expect(mean(losses.slice(-8))).toBeLessThan(mean(losses.slice(0, 8)) * 0.85);
    const base = await readTensors(setup.base);
    const outT = await readTensors(join(setup.dir, "unfreeze"));
    let frozen = 0;
    for (const n of base.names()) {
      if (!outT.has(n)) continue;
      const isFrozen = n.startsWith("bert.embeddings.") || n.startsWith("bert.encoder.layer.0.");
      if (isFrozen) {
        expect(same(outT.float32(n), base.float32(n)), n).toBe(true);
        frozen++;
      } else if (n.startsWith("bert.encoder.layer.1."))
        expect(same(outT.float32(n), base.float32(n)), n).toBe(false);
    }
    expect(frozen).toBe(5 + 16);
  });

  it("adapters, equal mixing: only adapters, layer norms, pooler and heads train; the adapter folder on the base classifies per task", async () => {
    const r = await finetuneMultitask(
      opts("adapters", { strategy: "adapters", bottleneck: 8, mixing: "equal", lr: 3e-3 }),
    );
    expectDriverFrequencies("adapters", r, [0.5, 0.5]);
    expect(r.output).toBe("adapter");
    const out = join(setup.dir, "adapters");
    const cfg = readAdapterConfig(JSON.parse(readFileSync(join(out, "adapter_config.json"), "utf8")));
    for (const n of cfg.trained)
      expect(/\.adapter\.|LayerNorm|^classifier\.(topic|kind)\.|^bert\.pooler\./.test(n), n).toBe(true);
    expect(cfg.trained).toContain("classifier.kind.weight");
    expect(cfg.edgeformer_tasks?.kind.id2label).toEqual({ 0: "animal", 1: "color", 2: "element" });
    const base = await readTensors(setup.base);
    const ckpt = await readTensors(r.checkpoint);
    let checked = 0;
    for (const n of base.names())
      if (ckpt.has(n) && !cfg.trained.includes(n)) {
        expect(same(ckpt.float32(n), base.float32(n)), n).toBe(true);
        checked++;
      }
    expect(checked).toBeGreaterThan(20);
    const m = await loadModelDir(setup.base, { adapter: out, runtime: rt, maxLength: 16 });
    if (m.arch !== "bert") throw new Error("expected BERT");
    expect(m.pipeline.model.tasks).toEqual(["topic", "kind"]);
    for (const [task, evalSet] of [
      ["topic", topicEval],
      ["kind", kindEval],
    ] as const) {
      const acc =
        classify(
          m.pipeline,
          evalSet.map((e) => e.text),
          { task },
        ).filter((x, j) => x[0].label === evalSet[j].label).length / evalSet.length;
      expect(acc, task).toBeCloseTo(r.eval!.tasks[task].accuracy, 12);
    }
  });

  it("a head its step did not draw keeps its values and optimizer state", async () => {
    const snaps: { w: Float32Array; m: Float32Array; step: number }[][] = [];
    const names = ["classifier.topic.weight", "classifier.kind.weight"];
    await finetuneMultitask(
      opts("skip", {
        steps: 14,
        batch: 2,
        evalEvery: 0,
        beforeStep: (_, t) =>
          snaps.push(
            names.map((n) => ({
              w: t.params.value(n),
              m: t.params.view(n, "m").slice(),
              step: t.params.tensorStep(n),
            })),
          ),
      }),
    );
    const es = trainEntries("skip");
    let skipped = 0;
    let moved = 0;
    for (let s = 0; s + 1 < snaps.length; s++)
      ["topic", "kind"].forEach((t, i) => {
        const [a, b] = [snaps[s][i], snaps[s + 1][i]];
        if (es[s][`examples_${t}`] === 0) {
          expect(same(a.w, b.w) && same(a.m, b.m) && a.step === b.step, `${t} at step ${s + 1}`).toBe(true);
          skipped++;
        } else {
          expect(same(a.w, b.w), `${t} at step ${s + 1}`).toBe(false);
          expect(b.step).toBe(a.step + 1);
          moved++;
        }
      });
    expect(skipped).toBeGreaterThan(0);
    expect(moved).toBeGreaterThan(0);
  });

  it("an interrupted run resumed from its checkpoint ends bit-identical to an uninterrupted one", async () => {
    const o = { steps: 10, batch: 3, evalEvery: 5, mixing: "equal" as const };
    await finetuneMultitask(opts("straight", o));
    const crash = new Error("simulated crash");
    await expect(
      finetuneMultitask(
        opts("resumed", {
          ...o,
          saveEvery: 4,
          afterStep: (n) => {
            if (n === 6) throw crash;
          },
        }),
      ),
    ).rejects.toBe(crash);
    expect((await readLatest(join(setup.dir, "resumed")))!.step).toBe(4);
    await expect(finetuneMultitask(opts("resumed", o))).rejects.toThrow(/pass --resume/);
    await expect(
      finetuneMultitask(opts("resumed", { ...o, resume: true, mixing: "proportional" })),
    ).rejects.toThrow(/mixing "proportional" differs from the checkpoint's "equal"/);
    const r = await finetuneMultitask(opts("resumed", { ...o, resume: true }));
    expect(r.resumed_from).toBe(4);
    for (const f of ["model.safetensors", "checkpoint-10/optimizer.safetensors", "config.json"])
      expect(
        readFileSync(join(setup.dir, "resumed", f)).equals(readFileSync(join(setup.dir, "straight", f))),
        f,
      ).toBe(true);
    const strip = (es: MetricsEntry[]) => es.map(({ elapsed_s, tokens_per_s, ...e }) => e);
    expect(strip(metrics("resumed"))).toEqual(strip(metrics("straight")));
    // some step drew one task only (a head skipped), so the per-tensor step counts were saved and restored
    expect(trainEntries("straight").some((e) => e.examples_topic === 0 || e.examples_kind === 0)).toBe(true);
  });

  it("CLI: finetune --tasks --mixing --K trains and --resume alone continues the multi-task run", async () => {
    const out = join(setup.dir, "cli");
    const flags = {
      model: setup.base,
      tasks: tasksPath,
      out,
      strategy: "full",
      mixing: "proportional",
      K: "100",
      steps: "4",
      batch: "8",
      "seq-len": "16",
      "eval-every": "0",
      "save-every": "2",
      progress: "none",
    };
    const r = JSON.parse(await finetuneCommand(flags));
    expect(r.rates).toEqual({ topic: 96 / 196, kind: 100 / 196 });
    expect(r.steps).toBe(4);
    const again = JSON.parse(await finetuneCommand({ out, resume: true, steps: "6", progress: "none" }));
    expect(again.resumed_from).toBe(4);
    expect(again.steps).toBe(6);
    await expect(
      finetuneCommand({ out, resume: true, data: setup.train, strategy: "full", progress: "none" }),
    ).rejects.toThrow(/holds a multi-task run \(tasks\.json\): resume it with its --tasks/);
    await expect(
      finetuneCommand({ ...flags, out: join(setup.dir, "cli2"), data: setup.train }),
    ).rejects.toThrow(/--data does not apply to multi-task fine-tuning/);
    await expect(
      finetuneCommand({ ...flags, tasks: undefined, data: setup.train, out: join(setup.dir, "cli3") }),
    ).rejects.toThrow(/--mixing goes with --tasks/);
  });

  it("a NaN stops training with the last good checkpoint named", async () => {
    const run = finetuneMultitask(
      opts("nan", {
        steps: 8,
        batch: 4,
        saveEvery: 2,
        evalEvery: 0,
        beforeStep: (n, t) => {
          if (n === 4) t.params.view("bert.encoder.layer.1.output.LayerNorm.weight")[0] = Number.NaN;
        },
      }),
    );
    await expect(run).rejects.toThrow(TrainingDivergedError);
    await expect(run).rejects.toThrow(/loss is NaN at step 4.*last good checkpoint: .*checkpoint-2/);
    expect(readFileSync(join(setup.dir, "nan", "curves.svg"), "utf8")).toContain("<svg");
  });

  it("reports bad tasks and settings clearly", async () => {
    const bad = async (out: string, extra: Partial<MultitaskOptions>, re: RegExp) => {
      const p = finetuneMultitask(opts(out, extra));
      await expect(p).rejects.toThrow(PretrainSettingsError);
      await expect(p).rejects.toThrow(re);
    };
    const d = join(setup.dir, "tasks");
    const write = (name: string, tasks: object[]) => {
      writeFileSync(join(d, name), JSON.stringify({ tasks }));
      return join(d, name);
    };
    await bad("e1", { tasks: undefined }, /tasks file is required/);
    await bad(
      "e2",
      { evalTasks: write("e2.json", [{ name: "other", data: "kind-eval.jsonl" }]) },
      /held-out task "other" is not a training task/,
    );
    await bad(
      "e3",
      { tasks: write("e3.json", [{ name: "a.b", data: "kind.jsonl" }]), evalTasks: undefined },
      /no dots or spaces/,
    );
    await bad(
      "e4",
      { tasks: write("e4.json", [{ name: "x", data: "nope.jsonl" }]), evalTasks: undefined },
      /task "x": cannot read/,
    );
    writeFileSync(join(d, "bad.jsonl"), `{"text": "a", "label": "x"}\n{"input": "b", "target": "y"}\n`);
    await bad(
      "e5",
      { tasks: write("e5.json", [{ name: "x", data: "bad.jsonl" }]), evalTasks: undefined },
      /bad\.jsonl line 2: expected \{"text"/,
    );
    await bad("e6", { mixing: "random" as never }, /mixing must be one of proportional, temperature, equal/);
    await bad(
      "e7",
      {
        tasks: write("e7.json", [{ name: "x", data: "kind-eval.jsonl" }]),
        evalTasks: write("e7e.json", [{ name: "x", data: "../eval.jsonl" }]),
      },
      /held-out task x: 40 examples have labels its training data does not/,
    );
  });
});
