// Fine-tuning in process (src/train/finetune.ts) on the tiny BERT and a synthetic two-class task: for
// every strategy the loss goes down and the output is what the strategy promises — full: a model folder
// that loads for inference with the trainer's predictions; unfreeze: frozen layers and embeddings
// bit-identical to the base, trainable count growing stage by stage, optimizer state only for trained
// tensors; adapters: an adapter folder holding exactly the adapters, layer norms and head, which on top
// of the base reproduces the trained model. Also: a run interrupted after a checkpoint and resumed ends
// bit-identical to an uninterrupted one (unfreeze, across a stage change), a NaN stops with the last
// checkpoint named, and settings problems are clear errors.
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SafetensorsFile } from "../../src/io/safetensors.ts";
import { readAdapterConfig } from "../../src/models/adapters.ts";
import { loadModelDir } from "../../src/models/adapters-node.ts";
import { readTensors } from "../../src/models/checkpoint-node.ts";
import { loadBertPipelineDir } from "../../src/models/load-node.ts";
import type { KernelRuntime } from "../../src/runtime/load.ts";
import { loadRuntime } from "../../src/runtime/node.ts";
import { classify } from "../../src/tasks/classify.ts";
import { readLatest } from "../../src/train/checkpoint.ts";
import {
  type FinetuneOptions,
  finetune,
  PretrainSettingsError,
  TrainingDivergedError,
} from "../../src/train/finetune.ts";
import type { MetricsEntry } from "../../src/train/metrics.ts";
import { type FinetuneSetup, finetuneSetup, syntheticExamples } from "./finetune-setup.ts";

let setup: FinetuneSetup;
let rt: KernelRuntime;
beforeAll(async () => {
  setup = finetuneSetup();
  rt = await loadRuntime();
});
afterAll(() => rmSync(setup.dir, { recursive: true, force: true }));

const opts = (out: string, extra: Partial<FinetuneOptions>): FinetuneOptions => ({
  out: join(setup.dir, out),
  model: setup.base,
  data: setup.train,
  evalData: setup.eval,
  strategy: "full",
  steps: 40,
  batch: 8,
  seqLen: 16,
  evalEvery: 40,
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
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** Mean train loss of the first and of the last 8 steps. */
function lossEnds(out: string): [number, number] {
  const l = metrics(out)
    .filter((e) => e.type === "train")
    .map((e) => e.loss);
  return [mean(l.slice(0, 8)), mean(l.slice(-8))];
}
const tensorsOf = (path: string) => SafetensorsFile.parse(readFileSync(path), path);
const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const same = (a: Float32Array, b: Float32Array) => bytes(a).equals(bytes(b));

describe("finetune: strategies", () => {
  it("full: loss goes down; the output folder classifies as the trainer evaluated it", async () => {
    const r = await finetune(opts("full", { lr: 1e-3 }));
    const [first, last] = lossEnds("full");
    expect(last).toBeLessThan(first * 0.7);
    expect(r.output).toBe("model");
    expect(r.trainable_parameters).toBe(r.parameters);
    expect(r.labels).toEqual(["finance", "food"]);
    expect(r.eval!.accuracy).toBeGreaterThan(r.eval!.majority_accuracy);
    const out = join(setup.dir, "full");
    for (const f of [
      "config.json",
      "model.safetensors",
      "vocab.txt",
      "tokenizer.json",
      "tokenizer_config.json",
    ])
      expect(existsSync(join(out, f)), f).toBe(true);
    const cfg = JSON.parse(readFileSync(join(out, "config.json"), "utf8"));
    expect(cfg.architectures).toEqual(["BertForSequenceClassification"]);
    expect(cfg.id2label).toEqual({ 0: "finance", 1: "food" });
    // inference from the folder: accuracy on the eval set equals the run's
    const p = await loadBertPipelineDir(out, { runtime: rt });
    const evalSet = syntheticExamples(40, 2);
    const preds = classify(
      p,
      evalSet.map((e) => e.text),
    ).map((x) => x[0].label);
    expect(preds.filter((l, i) => l === evalSet[i].label).length / 40).toBeCloseTo(r.eval!.accuracy, 10);
    const svg = readFileSync(join(out, "curves.svg"), "utf8");
    expect(svg).toContain("accuracy");
  });

  it("unfreeze: top layer and head first; lower layers and embeddings stay bit-identical until unfrozen", async () => {
    const r = await finetune(opts("unfreeze", { strategy: "unfreeze", unfreezeEvery: 1000, lr: 2e-3 }));
    const [first, last] = lossEnds("unfreeze");
    expect(last).toBeLessThan(first * 0.8);
    const base = await readTensors(setup.base);
    const outT = tensorsOf(join(setup.dir, "unfreeze", "model.safetensors"));
    let frozen = 0;
    let moved = 0;
    for (const n of outT.names()) {
      if (!base.has(n)) continue;
      const isFrozen = n.startsWith("bert.embeddings.") || n.startsWith("bert.encoder.layer.0.");
      const eq = same(outT.float32(n), base.float32(n));
      if (isFrozen) {
        expect(eq, n).toBe(true);
        frozen++;
      } else if (!eq) moved++;
    }
    expect(frozen).toBe(5 + 16);
    expect(moved).toBeGreaterThan(10);
    // optimizer state only for the trainable tensors
    const opt = tensorsOf(join(r.checkpoint, "optimizer.safetensors"));
    expect(opt.has("exp_avg.bert.encoder.layer.1.output.dense.weight")).toBe(true);
    expect(opt.has("exp_avg.bert.encoder.layer.0.output.dense.weight")).toBe(false);
    expect(opt.has("exp_avg.bert.embeddings.word_embeddings.weight")).toBe(false);
  });

  it("unfreeze: one more block every N steps, then the embeddings", async () => {
    await finetune(
      opts("unfreeze-stages", { strategy: "unfreeze", unfreezeEvery: 4, steps: 14, evalEvery: 0 }),
    );
    const counts = metrics("unfreeze-stages")
      .filter((e) => e.type === "train")
      .map((e) => e.trainable as number);
    // stages at steps 1-4, 5-8, 9-12, 13-14: layer 1 + head, + layer 0, + embeddings (2 layers)
    expect(counts[0]).toBe(counts[3]);
    expect(counts[4]).toBeGreaterThan(counts[3]);
    expect(counts[8]).toBeGreaterThan(counts[7]);
    expect(counts[12]).toBe(counts[8]);
    expect(counts[13]).toBe(counts[8]);
    expect(counts[8] - counts[4]).toBe(2000 * 64 + 128 * 64 + 2 * 64 + 2 * 64); // the embeddings
  });

  it("adapters: only adapters, layer norms and head train; the adapter folder on the base reproduces the model", async () => {
    const r = await finetune(
      opts("adapters", { strategy: "adapters", bottleneck: 8, lr: 3e-3, data: setup.trainCsv }),
    );
    const [first, last] = lossEnds("adapters");
    expect(last).toBeLessThan(first * 0.8);
    expect(r.output).toBe("adapter");
    const out = join(setup.dir, "adapters");
    expect(existsSync(join(out, "model.safetensors"))).toBe(false);
    const cfg = readAdapterConfig(JSON.parse(readFileSync(join(out, "adapter_config.json"), "utf8")));
    expect(cfg.bottleneck).toBe(8);
    expect(cfg.base).toEqual({
      vocab_size: 2000,
      hidden_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      intermediate_size: 256,
    });
    expect(cfg.id2label).toEqual({ 0: "finance", 1: "food" });
    const file = tensorsOf(join(out, "adapter.safetensors"));
    expect(file.names().sort()).toEqual([...cfg.trained].sort());
    for (const n of cfg.trained)
      expect(/\.adapter\.|LayerNorm|^classifier\.|^bert\.pooler\./.test(n), n).toBe(true);
    expect(cfg.trained.filter((n) => n.includes(".adapter.")).length).toBe(2 * 2 * 4);
    expect(r.trainable_parameters).toBe(
      file.names().reduce((a, n) => a + file.info(n).shape.reduce((x, y) => x * y, 1), 0),
    );
    // every other tensor of the trained model is the base's, bit for bit (checkpoint = the whole model)
    const base = await readTensors(setup.base);
    const ckpt = await readTensors(r.checkpoint);
    for (const n of base.names())
      if (ckpt.has(n) && !cfg.trained.includes(n))
        expect(same(ckpt.float32(n), base.float32(n)), n).toBe(true);
    // base + adapter = the trained model: same predictions as the run's evaluation (Node loader)
    const m = await loadModelDir(setup.base, { adapter: out, runtime: rt, maxLength: 16 });
    expect(m.arch).toBe("bert");
    expect(m.adapter!.config.bottleneck).toBe(8);
    if (m.arch !== "bert") throw new Error("expected BERT");
    expect(m.pipeline.model.config.id2label).toEqual(["finance", "food"]);
    const evalSet = syntheticExamples(40, 2);
    const acc = classify(
      m.pipeline,
      evalSet.map((e) => e.text),
    ).filter((x, i) => x[0].label === evalSet[i].label).length;
    expect(acc / 40).toBeCloseTo(r.eval!.accuracy, 10);
    // the adapter on a base it does not fit
    const other = join(setup.dir, "other-base");
    mkdirSync(other, { recursive: true });
    for (const f of ["model.safetensors", "tokenizer.json", "tokenizer_config.json"])
      copyFileSync(join(setup.base, f), join(other, f));
    const baseCfg = JSON.parse(readFileSync(join(setup.base, "config.json"), "utf8"));
    writeFileSync(join(other, "config.json"), JSON.stringify({ ...baseCfg, intermediate_size: 128 }));
    await expect(loadModelDir(other, { adapter: out, runtime: rt })).rejects.toThrow(
      /adapter does not match the base model: intermediate_size 256 \(base: 128\)/,
    );
  });
});

describe("finetune: resume, divergence, settings", () => {
  it("an interrupted unfreeze run resumed from its checkpoint ends bit-identical to an uninterrupted one", async () => {
    const o = { strategy: "unfreeze" as const, unfreezeEvery: 3, steps: 10, evalEvery: 5 };
    await finetune(opts("straight", o));
    const crash = new Error("simulated crash");
    await expect(
      finetune(
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
    await expect(finetune(opts("resumed", o))).rejects.toThrow(/pass --resume/);
    const r = await finetune(opts("resumed", { ...o, resume: true }));
    expect(r.resumed_from).toBe(4);
    for (const f of ["model.safetensors", "checkpoint-10/optimizer.safetensors"])
      expect(
        readFileSync(join(setup.dir, "resumed", f)).equals(readFileSync(join(setup.dir, "straight", f))),
        f,
      ).toBe(true);
    const strip = (es: MetricsEntry[]) => es.map(({ elapsed_s, tokens_per_s, ...e }) => e);
    expect(strip(metrics("resumed"))).toEqual(strip(metrics("straight")));
    await expect(finetune(opts("resumed", { ...o, resume: true, batch: 4 }))).rejects.toThrow(
      /batch 4 differs from the checkpoint's 8/,
    );
  });

  it("a NaN stops training with the last good checkpoint named", async () => {
    const run = finetune(
      opts("nan", {
        strategy: "adapters",
        bottleneck: 4,
        saveEvery: 2,
        beforeStep: (n, trainer) => {
          if (n === 4) {
            trainer.params.view("bert.encoder.layer.1.output.LayerNorm.weight")[0] = Number.NaN;
          }
        },
      }),
    );
    await expect(run).rejects.toThrow(TrainingDivergedError);
    await expect(run).rejects.toThrow(/loss is NaN at step 4.*last good checkpoint: .*checkpoint-2/);
  });

  it("--epochs sets the step count from the batches per epoch", async () => {
    const r = await finetune(opts("epochs", { steps: undefined, epochs: 1.5, evalEvery: 0 }));
    expect(r.steps).toBe(18); // 96 examples / batch 8 = 12 steps per epoch
    const state = JSON.parse(readFileSync(join(r.checkpoint, "trainer_state.json"), "utf8"));
    expect(state).toMatchObject({
      step: 18,
      epoch: 1,
      index: 6,
      settings: { epochs: 1.5, steps: 18, warmup: 2 },
    });
  });

  it("reports bad settings and data clearly", async () => {
    const bad = async (out: string, extra: Partial<FinetuneOptions>, re: RegExp) => {
      const p = finetune(opts(out, extra));
      await expect(p).rejects.toThrow(PretrainSettingsError);
      await expect(p).rejects.toThrow(re);
    };
    await bad("b1", { strategy: undefined }, /strategy is required/);
    await bad("b2", { data: join(setup.dir, "nope.jsonl") }, /data .*nope\.jsonl: ENOENT/);
    await bad("b3", { labels: ["finance", "other"] }, /labels not in the label list .*: food/);
    await bad("b4", { steps: 5, epochs: 1 }, /either steps or epochs/);
    await bad("b5", { model: setup.dir }, /base model config .*config\.json: ENOENT/);
  });
});
