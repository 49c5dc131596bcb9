// The pretraining loop in process (src/train/pretrain.ts and its parts), on a tiny BERT (2 layers, hidden
// 32, sequence 32) and a generated corpus: the learning-rate schedule; the run folder (Hugging Face
// checkpoint layout with optimizer and trainer state, `latest` pointer, pruning, metrics.jsonl,
// curves.svg); the loss going down; a checkpoint loading in the inference path (loadBertDir, fill-mask)
// with the trainer's logits; gradient accumulation and 2-thread data parallelism matching one batch on
// one thread; settings checks on resume; clean-up of what an interrupted run leaves; the progress bar.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SafetensorsFile } from "../../src/io/safetensors.ts";
import { readTensors } from "../../src/models/checkpoint-node.ts";
import { loadBertPipelineDir } from "../../src/models/load-node.ts";
import { fillMask } from "../../src/tasks/fill-mask.ts";
import { BertTrainer } from "../../src/train/bert-train.ts";
import { cleanRunFolder, listCheckpoints, readLatest } from "../../src/train/checkpoint.ts";
import { downsample, type MetricsEntry, niceTicks, renderCurves } from "../../src/train/metrics.ts";
import { type PretrainOptions, PretrainSettingsError, pretrainBert } from "../../src/train/pretrain.ts";
import { Progress } from "../../src/train/progress.ts";
import { learningRate } from "../../src/train/schedule.ts";
import { tinySetup } from "./trainer-corpus.ts";

const setup = tinySetup();
afterAll(() => rmSync(setup.dir, { recursive: true, force: true }));
const base = (out: string, extra: Partial<PretrainOptions> = {}): PretrainOptions => ({
  out: join(setup.dir, out),
  corpus: setup.corpus,
  config: setup.config,
  vocabSize: 200,
  seqLen: 32,
  batch: 8,
  lr: 2e-3,
  heldOut: 0.1,
  progress: "none",
  ...extra,
});

const readMetrics = (out: string): MetricsEntry[] =>
  readFileSync(join(setup.dir, out, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
const trainLosses = (out: string) =>
  readMetrics(out)
    .filter((e) => e.type === "train")
    .map((e) => e.loss);

function maxRelDiff(a: number[], b: number[]): number {
  expect(a.length).toBe(b.length);
  return Math.max(...a.map((x, i) => Math.abs(x - b[i]) / Math.abs(x)));
}

describe("learning-rate schedule", () => {
  it("warms up linearly, then decays linearly or by cosine towards 0", () => {
    const s = { lr: 1, warmup: 4, total: 14, kind: "linear" as const };
    expect([0, 1, 2, 3].map((i) => learningRate(s, i))).toEqual([0.25, 0.5, 0.75, 1]);
    expect(learningRate(s, 4)).toBe(1);
    expect(learningRate(s, 9)).toBeCloseTo(0.5, 12);
    expect(learningRate(s, 13)).toBeCloseTo(0.1, 12);
    const c = { ...s, kind: "cosine" as const };
    expect(learningRate(c, 4)).toBe(1);
    expect(learningRate(c, 9)).toBeCloseTo(0.5, 12);
    expect(learningRate(c, 13)).toBeCloseTo(0.5 * (1 + Math.cos(Math.PI * 0.9)), 12);
    expect(learningRate({ ...s, warmup: 0 }, 0)).toBe(1);
  });
});

describe("curves.svg", () => {
  it("draws train and eval loss and accuracy; ticks are round; long series are averaged down", () => {
    expect(niceTicks(0, 100)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceTicks(3.93, 5.52)).toEqual([4, 4.5, 5, 5.5]);
    const pts: [number, number][] = Array.from({ length: 1000 }, (_, i) => [i, i % 2]);
    const d = downsample(pts, 100);
    expect(d).toHaveLength(100);
    expect(d[0]).toEqual([4.5, 0.5]);
    const entries: MetricsEntry[] = [
      { type: "train", step: 1, loss: 6, mlm_accuracy: 0.1, nsp_accuracy: 0.5 },
      { type: "train", step: 2, loss: 5, mlm_accuracy: 0.2, nsp_accuracy: 0.6 },
      { type: "eval", step: 2, loss: 5.5, mlm_accuracy: 0.15, nsp_accuracy: 0.55 },
    ];
    const svg = renderCurves(entries, "a <run>");
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("a &lt;run&gt;");
    expect(svg.match(/<polyline/g)).toHaveLength(6);
    expect(renderCurves([])).toContain("no data yet");
  });
});

describe("pretrainBert", () => {
  it("trains, evaluates and writes Hugging Face checkpoints, metrics and curves; the loss goes down", async () => {
    const r = await pretrainBert(
      base("run", { steps: 60, evalEvery: 20, saveEvery: 20, logEvery: 5, keep: 2 }),
    );
    const out = join(setup.dir, "run");
    expect(r.steps).toBe(60);
    expect(r.checkpoint).toBe(join(out, "checkpoint-60"));
    // the newest two checkpoints, `latest` naming the last
    expect((await listCheckpoints(out)).map((c) => c.step)).toEqual([40, 60]);
    expect(await readLatest(out)).toEqual({ step: 60, dir: join(out, "checkpoint-60") });
    const ck = join(out, "checkpoint-60");
    for (const f of [
      "config.json",
      "model.safetensors",
      "vocab.txt",
      "tokenizer_config.json",
      "optimizer.safetensors",
      "trainer_state.json",
    ])
      expect(existsSync(join(ck, f)), f).toBe(true);
    expect(readdirSync(out).filter((n) => n.startsWith("."))).toEqual([]); // no temp files left
    const config = JSON.parse(readFileSync(join(ck, "config.json"), "utf8"));
    expect(config).toMatchObject({
      architectures: ["BertForPreTraining"],
      model_type: "bert",
      hidden_size: 32,
      num_hidden_layers: 2,
      vocab_size: r.vocab_size,
    });
    const model = SafetensorsFile.parse(readFileSync(join(ck, "model.safetensors")), "model.safetensors");
    expect(model.names()).toContain("bert.encoder.layer.1.attention.self.query.weight");
    expect(model.names()).toContain("cls.predictions.transform.LayerNorm.weight");
    expect(model.names()).toContain("cls.seq_relationship.weight");
    expect(model.names()).not.toContain("cls.predictions.decoder.weight"); // tied, as HF saves it
    const opt = SafetensorsFile.parse(
      readFileSync(join(ck, "optimizer.safetensors")),
      "optimizer.safetensors",
    );
    expect(opt.int64AsNumbers("step")).toEqual([60]);
    expect(opt.names()).toContain("exp_avg.bert.embeddings.word_embeddings.weight");
    expect(opt.names()).toContain("exp_avg_sq.cls.predictions.bias");
    const state = JSON.parse(readFileSync(join(ck, "trainer_state.json"), "utf8"));
    expect(state).toMatchObject({ step: 60, total_steps: 60, schedule: { lr: 2e-3, warmup: 6, total: 60 } });
    expect(state.epoch * state.steps_per_epoch + state.index).toBe(60);
    expect(state.seeds.seed).toBe(42);
    // metrics: one line per logged step and per eval; curves drawn
    const m = readMetrics("run");
    expect(m.filter((e) => e.type === "train").map((e) => e.step)).toEqual([
      5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60,
    ]);
    expect(m.filter((e) => e.type === "eval").map((e) => e.step)).toEqual([20, 40, 60]);
    for (const e of m) {
      expect(Number.isFinite(e.loss)).toBe(true);
      expect(e.mlm_accuracy).toBeGreaterThanOrEqual(0);
      expect(e.nsp_accuracy).toBeLessThanOrEqual(1);
    }
    expect(readFileSync(join(out, "curves.svg"), "utf8")).toContain("<polyline");
    const losses = m.filter((e) => e.type === "train").map((e) => e.loss);
    expect(losses[losses.length - 1]).toBeLessThan(losses[0] - 1);
    const evals = m.filter((e) => e.type === "eval");
    expect(evals[2].loss).toBeLessThan(evals[0].loss);
    expect(r.eval?.examples).toBeGreaterThan(0);
  });

  it("a checkpoint loads in the inference path: fill-mask runs and the MLM logits are the trainer's", async () => {
    const ck = join(setup.dir, "run", "checkpoint-60");
    const p = await loadBertPipelineDir(ck);
    const [cands] = fillMask(p, ["the cat sees the red [MASK] in the park."], { topK: 3 })[0];
    expect(cands).toHaveLength(3);
    expect(cands[0].score).toBeGreaterThan(cands[2].score);
    expect(p.tokenizer.idToToken(cands[0].token)).toBe(cands[0].token_str);
    // same weights in the trainer: identical MLM / NSP logits on a batch with masked tokens
    const enc = p.tokenizer.encode("the dog likes [MASK] apple", "a bird finds the river", {});
    const T = enc.ids.length;
    const ids = Int32Array.from(enc.ids);
    const labels = new Int32Array(T).fill(-100);
    const maskAt = enc.ids.indexOf(p.tokenizer.special.mask!);
    labels[maskAt] = 7;
    const batch = {
      inputIds: ids,
      tokenTypeIds: Int32Array.from(enc.typeIds),
      attentionMask: new Int32Array(T).fill(1),
      batch: 1,
      seq: T,
    };
    const inf = p.model.forward(batch, { mlm: [maskAt], nsp: true });
    const tr = new BertTrainer(p.model.rt, p.model.config, { weights: await readTensors(ck) });
    const got = tr.evaluate(
      { ...batch, mlmLabels: labels, nextSentenceLabel: Int32Array.of(0) },
      { logits: true },
    );
    const worst = Math.max(...Array.from(inf.mlmLogits!, (x, i) => Math.abs(x - got.mlmLogits![i])));
    expect(worst).toBeLessThan(1e-4);
    expect(Math.abs(inf.nspLogits![0] - got.nspLogits![0])).toBeLessThan(1e-4);
    // the run folder itself is the final model
    const root = await loadBertPipelineDir(join(setup.dir, "run"));
    expect(fillMask(root, ["a dog [MASK] the river."])[0][0][0].token).toBe(
      fillMask(p, ["a dog [MASK] the river."])[0][0][0].token,
    );
  });

  it("gradient accumulation (2 × 4) matches one batch of 8; 2 threads match 1 thread", async () => {
    const common = { steps: 6, logEvery: 1, evalEvery: 0, saveEvery: 0, warmup: 2 };
    await pretrainBert(base("one", common));
    await pretrainBert(base("acc", { ...common, batch: 4, accumulate: 2 }));
    await pretrainBert(base("two", { ...common, threads: 2 }));
    await pretrainBert(base("two-acc", { ...common, batch: 4, accumulate: 2, threads: 2 }));
    const one = trainLosses("one");
    expect(one).toHaveLength(6);
    expect(maxRelDiff(one, trainLosses("acc"))).toBeLessThan(1e-5);
    expect(maxRelDiff(one, trainLosses("two"))).toBeLessThan(1e-5);
    expect(maxRelDiff(one, trainLosses("two-acc"))).toBeLessThan(1e-5);
    // the accuracies are counted over the whole batch as well
    const acc = (o: string) => readMetrics(o).map((e) => [e.mlm_accuracy, e.nsp_accuracy]);
    expect(acc("two")).toEqual(acc("one"));
  });

  it("refuses to overwrite a run without --resume, and to change data settings on resume", async () => {
    await expect(pretrainBert(base("run", { steps: 70 }))).rejects.toThrow(/--resume/);
    await expect(pretrainBert(base("run", { steps: 70, seqLen: 16, resume: true }))).rejects.toThrow(
      PretrainSettingsError,
    );
    await expect(pretrainBert(base("bad", { steps: 5, seqLen: 100 }))).rejects.toThrow(
      /max_position_embeddings/,
    );
    // resuming a finished run with more steps continues it
    const r = await pretrainBert(base("run", { steps: 64, resume: true, evalEvery: 0 }));
    expect(r.resumed_from).toBe(60);
    expect((await readLatest(join(setup.dir, "run")))?.step).toBe(64);
  });
});

describe("run folder clean-up", () => {
  it("removes temp folders and checkpoints newer than `latest` (renamed but not yet pointed to)", async () => {
    const out = join(setup.dir, "crashed");
    for (const d of ["checkpoint-5", "checkpoint-10", ".checkpoint-15.tmp-0123456789ab"])
      mkdirSync(join(out, d), { recursive: true });
    writeFileSync(join(out, ".metrics.jsonl.0123456789ab.tmp"), "x");
    writeFileSync(join(out, "latest"), "checkpoint-5\n");
    await cleanRunFolder(out, 5);
    expect(readdirSync(out).sort()).toEqual(["checkpoint-5", "latest"]);
  });
});

describe("progress", () => {
  it("draws a bar with step, loss, tokens/s and ETA on a terminal, plain lines otherwise", () => {
    const chunks: string[] = [];
    const tty = { isTTY: true, columns: 120, write: (s: string) => chunks.push(s) };
    const p = new Progress(100, 0, tty);
    p.update(50, 1.2345, 12345);
    p.line("eval at step 50");
    p.update(100, 1.1, 12000);
    p.done();
    const text = chunks.join("");
    expect(text).toContain("\r\x1b[K[");
    expect(text).toMatch(/\[#+\.*\] 50\/100 loss 1\.2345 12\.3k tok\/s ETA \S+/);
    expect(text).toContain("eval at step 50\n");
    expect(text.endsWith("\n")).toBe(true);
    const plain: string[] = [];
    const q = new Progress(100, 0, { write: (s: string) => plain.push(s) });
    q.update(50, 1, 1);
    q.line("step 50");
    expect(plain).toEqual(["step 50\n"]);
  });
});
