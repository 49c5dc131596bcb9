// Data-parallel T5 steps (src/train/parallel-t5.ts on parallel-pool.ts): the shard plan (whole
// micro-batches balanced by padded tokens, or rows cut per thread; shares summing to 1), then 2 threads
// against 1 thread (and the whole step as one batch) on tiny models — gradients, step loss and correct
// predictions of a step, and weights after a few AdamW steps — for token and example weighting, with
// and without micro-batches, on the encoder–decoder and the prefix LM; adapters on a frozen base (the
// worker gets the trainable mask); the CLI (`pretrain t5 --threads 2`) stopping half-way, resumed on 1
// thread, against a 1-thread run; and a tasks run on 2 threads resuming bit for bit.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isAdapterTensor } from "../../src/models/adapters.ts";
import { type T5Config, t5ConfigFromJson } from "../../src/models/t5-config.ts";
import type { KernelRuntime } from "../../src/runtime/load.ts";
import { loadRuntime } from "../../src/runtime/node.ts";
import { mulberry32 } from "../../src/train/data/index.ts";
import type { MetricsEntry } from "../../src/train/metrics.ts";
import {
  balanceBatches,
  type LossWeighting,
  planT5Step,
  T5DataParallel,
} from "../../src/train/parallel-t5.ts";
import { lengthBuckets, trainT5 } from "../../src/train/t5-run.ts";
import { T5Trainer } from "../../src/train/t5-train.ts";
import { collateT5, type T5Example } from "../../src/train/t5data/index.ts";
import { runCli } from "../helpers/cli.ts";
import { tinySetup } from "./trainer-corpus.ts";

const V = 40;

function config(arch: "encoder-decoder" | "prefix-lm"): T5Config {
  return t5ConfigFromJson({
    model_type: "t5",
    edgeformer_architecture: arch,
    vocab_size: V,
    d_model: 16,
    d_kv: 4,
    d_ff: 24,
    num_layers: 2,
    num_decoder_layers: 1,
    num_heads: 4,
    relative_attention_num_buckets: 8,
    relative_attention_max_distance: 16,
    feed_forward_proj: "gated-gelu",
    tie_word_embeddings: true,
    pad_token_id: 0,
    eos_token_id: 1,
    decoder_start_token_id: 0,
  });
}

/** n examples of varied lengths (inputs 2–14, targets 1–9 tokens, one empty target). */
function examples(n: number, seed: number): T5Example[] {
  const r = mulberry32(seed);
  const ids = (k: number) => Array.from({ length: k }, () => 2 + Math.floor(r() * (V - 2)));
  return Array.from({ length: n }, (_, i) => ({
    inputs: [...ids(1 + Math.floor(r() * 13)), 1],
    targets: i === 3 ? [] : [...ids(Math.floor(r() * 9)), 1],
  }));
}

const f32 = (t: T5Trainer, region: "params" | "grads") =>
  t.rt.arena.f32(region === "params" ? t.params.params : t.params.grads, t.params.count).slice();

/** ‖a − b‖ / ‖a‖. */
function relDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i] - b[i]) ** 2;
    n += a[i] ** 2;
  }
  return Math.sqrt(d / n);
}

let rt: KernelRuntime;
const pools: T5DataParallel[] = [];
beforeAll(async () => {
  rt = await loadRuntime({ relaxed: false });
});
afterAll(async () => {
  for (const p of pools) await p.close();
});

/** Two trainers with the same weights: one on 1 thread, one on 2. */
async function pair(arch: "encoder-decoder" | "prefix-lm", adapters?: number) {
  const make = () =>
    new T5Trainer(rt, config(arch), { seed: 11, adapters: adapters ? { bottleneck: adapters } : undefined });
  const one = await T5DataParallel.create(make(), 1);
  const two = await T5DataParallel.create(make(), 2);
  pools.push(one, two);
  return { one, two };
}

/** Steps of both (same examples, AdamW), checking each step's gradient, loss and correct predictions. */
async function compareSteps(
  one: T5DataParallel,
  two: T5DataParallel,
  microBatch: number,
  weighting: LossWeighting,
  seed: number,
) {
  // same starting weights
  two.trainer.rt.arena
    .f32(two.trainer.params.params, two.trainer.params.count)
    .set(f32(one.trainer, "params"));
  two.trainer.repack();
  two.paramsChanged();
  for (let s = 0; s < 3; s++) {
    const groups = lengthBuckets(examples(10, seed + s), microBatch);
    const opts = { pad: 0, logits: true, weighting };
    // reference: the whole step as one batch on one trainer
    const whole = collateT5(groups.flat());
    const ref = one.trainer.lossAndGrad(whole, { perExample: weighting === "example" });
    const refGrad = f32(one.trainer, "grads");
    const a = await one.lossAndGrad(groups, opts);
    expect(relDiff(refGrad, f32(one.trainer, "grads"))).toBeLessThan(1e-5);
    expect(Math.abs(a.loss - ref.loss) / ref.loss).toBeLessThan(1e-5);
    const b = await two.lossAndGrad(groups, opts);
    expect(relDiff(f32(one.trainer, "grads"), f32(two.trainer, "grads"))).toBeLessThan(1e-6);
    expect(Math.abs(a.loss - b.loss) / a.loss).toBeLessThan(1e-6);
    expect(b.tokens).toBe(a.tokens);
    expect(b.correct).toBe(a.correct);
    expect(b.paddedTokens).toBe(a.paddedTokens);
    for (const dp of [one, two]) {
      dp.trainer.adamwStep({ lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });
      dp.paramsChanged();
    }
  }
  expect(relDiff(f32(one.trainer, "params"), f32(two.trainer, "params"))).toBeLessThan(1e-6);
}

describe("shard plan", () => {
  it("balances whole micro-batches by padded tokens, or cuts rows; shares sum to 1", () => {
    expect(balanceBatches([10, 20, 30, 40], 2)).toEqual([
      [0, 3],
      [1, 2],
    ]);
    expect(balanceBatches([5, 5, 5], 1)).toEqual([[0, 1, 2]]);
    const ex = examples(10, 1);
    for (const weighting of ["token", "example"] as const) {
      // 4 micro-batches of ≤ 3 examples: whole ones per thread
      const whole = planT5Step(lengthBuckets(ex, 3), 2, 0, weighting);
      expect(whole.per.map((p) => p.length)).toEqual([2, 2]);
      // one batch of 10: rows 0–4 and 5–9
      const rows = planT5Step([ex], 2, 0, weighting);
      expect(rows.per.map((p) => p.map((j) => j.batch.batch))).toEqual([[5], [5]]);
      for (const plan of [whole, rows]) {
        const sum = plan.per.flat().reduce((a, j) => a + j.lossScale, 0);
        expect(sum).toBeCloseTo(1, 12);
        expect(plan.per.flat().every((j) => j.perExample === (weighting === "example"))).toBe(true);
      }
      // example weighting: the example with an empty target has no share
      if (weighting === "example") expect(rows.per[0][0].lossScale).toBeCloseTo(4 / 9, 12);
      else {
        const tokens = ex.reduce((a, e) => a + e.targets.length, 0);
        const first = ex.slice(0, 5).reduce((a, e) => a + e.targets.length, 0);
        expect(rows.per[0][0].lossScale).toBeCloseTo(first / tokens, 12);
      }
    }
  });
});

describe("2 threads = 1 thread", () => {
  it("encoder–decoder: token and example weighting, one batch (rows cut) and micro-batches (whole ones)", async () => {
    const { one, two } = await pair("encoder-decoder");
    for (const [micro, weighting, seed] of [
      [0, "token", 100],
      [3, "token", 200],
      [0, "example", 300],
      [4, "example", 400],
    ] as const)
      await compareSteps(one, two, micro, weighting, seed);
  }, 20_000);

  it("prefix LM: token weighting in micro-batches, example weighting in one batch", async () => {
    const { one, two } = await pair("prefix-lm");
    await compareSteps(one, two, 3, "token", 500);
    await compareSteps(one, two, 0, "example", 600);
  }, 20_000);

  it("adapters on a frozen base: the worker trains the same tensors (frozen gradients stay zero)", async () => {
    const { one, two } = await pair("encoder-decoder", 4);
    for (const dp of [one, two]) {
      dp.trainer.params.setTrainable(isAdapterTensor);
      dp.paramsChanged();
    }
    await compareSteps(one, two, 3, "example", 700);
    const g = two.trainer.params;
    const frozen = g.names().filter((n) => !isAdapterTensor(n));
    expect(frozen.every((n) => g.gradient(n).every((x) => x === 0))).toBe(true);
    expect(g.gradient(g.names().find(isAdapterTensor)!).some((x) => x !== 0)).toBe(true);
  }, 20_000);
});

describe("CLI", () => {
  const setup = tinySetup();
  afterAll(() => rmSync(setup.dir, { recursive: true, force: true }));
  const cfg = join(setup.dir, "t5-config.json");
  writeFileSync(
    cfg,
    JSON.stringify({ d_model: 16, d_kv: 4, d_ff: 32, num_layers: 1, num_decoder_layers: 1, num_heads: 4 }),
  );
  const common = { corpus: setup.corpus, config: cfg, vocabSize: 200, inputLength: 16, batch: 8 };
  const metrics = (out: string): MetricsEntry[] =>
    readFileSync(join(setup.dir, out, "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l))
      .filter((e) => e.type === "train");

  it("pretrain t5 --threads 2, stopped at step 2 and resumed on 1 thread, matches a 1-thread run", async () => {
    const flags = [
      "--steps",
      "4",
      "--log-every",
      "1",
      "--eval-every",
      "0",
      "--save-every",
      "2",
      "--micro-batch",
      "3",
    ];
    const ref = await trainT5({
      mode: "pretrain",
      out: join(setup.dir, "one"),
      ...common,
      steps: 4,
      logEvery: 1,
      evalEvery: 0,
      saveEvery: 2,
      microBatch: 3,
      progress: "none",
    });
    const r = await runCli([
      "pretrain",
      "t5",
      "--corpus",
      setup.corpus,
      "--config",
      cfg,
      "--vocab-size",
      "200",
      "--input-length",
      "16",
      "--batch",
      "8",
      "--out",
      join(setup.dir, "two"),
      "--threads",
      "2",
      "--stop-at",
      "2",
      "--progress",
      "lines",
      ...flags,
    ]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain("threads: 2");
    expect(JSON.parse(r.out).stopped_at).toBe(2);
    const resumed = await trainT5({
      mode: "pretrain",
      out: join(setup.dir, "two"),
      resume: true,
      threads: 1,
      progress: "none",
    });
    expect(resumed.resumed_from).toBe(2);
    const a = metrics("one");
    const b = metrics("two");
    expect(b.map((e) => Object.keys(e).sort())).toEqual(a.map((e) => Object.keys(e).sort()));
    for (let i = 0; i < 4; i++) {
      expect(Math.abs(b[i].loss - a[i].loss) / a[i].loss).toBeLessThan(1e-5);
      expect(b[i].token_accuracy).toBe(a[i].token_accuracy);
    }
    expect(Math.abs((resumed.loss! - ref.loss!) / ref.loss!)).toBeLessThan(1e-5);
  }, 20_000);

  it("resumes bit for bit on 2 threads (tasks mode, example weighting, micro-batches)", async () => {
    const tasks = join(setup.dir, "tasks.json");
    const lines = readFileSync(setup.corpus, "utf8").split("\n").filter(Boolean).slice(0, 60);
    // targets of 1 to 5 words: example weighting differs from token weighting
    const rows = lines.map((l, i) => ({
      input: l,
      target: l
        .split(" ")
        .slice(0, 1 + (i % 5))
        .join(" "),
    }));
    writeFileSync(join(setup.dir, "a.jsonl"), rows.map((r) => JSON.stringify(r)).join("\n"));
    writeFileSync(tasks, JSON.stringify({ tasks: [{ name: "a", data: "a.jsonl", prefix: "a: " }] }));
    const opts = (out: string) => ({
      mode: "tasks" as const,
      out: join(setup.dir, out),
      tasks,
      config: cfg,
      vocabSize: 200,
      batch: 8,
      microBatch: 3,
      lossWeighting: "example" as const,
      steps: 4,
      logEvery: 1,
      evalEvery: 0,
      saveEvery: 2,
      threads: 2,
      progress: "none" as const,
    });
    await trainT5(opts("whole"));
    await trainT5({ ...opts("cut"), stopAt: 2 });
    await trainT5({ ...opts("cut"), resume: true });
    expect(metrics("cut")).toEqual(
      metrics("whole").map((e, i) => ({
        ...e,
        elapsed_s: metrics("cut")[i].elapsed_s,
        tokens_per_s: metrics("cut")[i].tokens_per_s,
      })),
    );
  }, 20_000);

  it("refuses --threads 0", async () => {
    await expect(
      trainT5({
        mode: "pretrain",
        out: join(setup.dir, "zero"),
        ...common,
        steps: 1,
        threads: 0,
        progress: "none",
      }),
    ).rejects.toThrow(/threads must be an integer ≥ 1/);
  });
});
