// Fine-tuning T5 (src/train/finetune.ts with T5Trainer) on the tiny copy-trained T5 and a synthetic
// text-to-text task (swap each word for its partner): the loss goes down for every strategy; the
// accuracy the run reports (exact match under teacher forcing) equals greedy generation's exact match
// from the written model folder; unfreeze keeps the shared embedding and the lower blocks bit-identical
// to the base in its first stage; the adapter folder (adapters + layer norms) loads on the base and
// generates as the trained model.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SafetensorsFile } from "../../src/io/safetensors.ts";
import { readAdapterConfig } from "../../src/models/adapters.ts";
import { loadModelDir } from "../../src/models/adapters-node.ts";
import { readTensors } from "../../src/models/checkpoint-node.ts";
import type { KernelRuntime } from "../../src/runtime/load.ts";
import { loadRuntime } from "../../src/runtime/node.ts";
import { generateText } from "../../src/tasks/text2text.ts";
import { mulberry32 } from "../../src/train/data/index.ts";
import { type FinetuneOptions, finetune } from "../../src/train/finetune.ts";
import type { MetricsEntry } from "../../src/train/metrics.ts";
import { fixturePath } from "../helpers/fixtures.ts";

const WORDS = ["cat", "dog", "house", "tree", "water", "fire", "blue", "green", "red", "small"];
const PARTNER = (i: number) => WORDS[i ^ 1];

function examples(n: number, seed: number): { input: string; target: string }[] {
  const r = mulberry32(seed);
  return Array.from({ length: n }, () => {
    const idx = Array.from({ length: 1 + Math.floor(r() * 3) }, () => Math.floor(r() * WORDS.length));
    return { input: `swap: ${idx.map((i) => WORDS[i]).join(" ")}`, target: idx.map(PARTNER).join(" ") };
  });
}

let dir: string;
let base: string;
let rt: KernelRuntime;
const evalSet = examples(40, 2);
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "edgeformer-finetune-t5-"));
  base = join(dir, "base");
  mkdirSync(base);
  for (const f of ["config.json", "model.safetensors"])
    copyFileSync(fixturePath(`t5_tiny_copy/${f}`), join(base, f));
  for (const f of ["spiece.model", "tokenizer.json", "tokenizer_config.json"])
    copyFileSync(fixturePath(`tok/t5/${f}`), join(base, f));
  const jsonl = (xs: object[]) => xs.map((x) => `${JSON.stringify(x)}\n`).join("");
  writeFileSync(join(dir, "train.jsonl"), jsonl(examples(200, 1)));
  writeFileSync(join(dir, "eval.jsonl"), jsonl(evalSet));
  rt = await loadRuntime();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const opts = (out: string, extra: Partial<FinetuneOptions>): FinetuneOptions => ({
  out: join(dir, out),
  model: base,
  data: join(dir, "train.jsonl"),
  evalData: join(dir, "eval.jsonl"),
  steps: 60,
  batch: 8,
  seqLen: 16,
  targetLen: 12,
  lr: 3e-3,
  evalEvery: 60,
  logEvery: 1,
  saveEvery: 0,
  progress: "none",
  runtime: rt,
  ...extra,
});

function lossEnds(out: string): [number, number] {
  const l = readFileSync(join(dir, out, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((x) => JSON.parse(x) as MetricsEntry)
    .filter((e) => e.type === "train")
    .map((e) => e.loss);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return [mean(l.slice(0, 10)), mean(l.slice(-10))];
}

/** Greedy generation's exact-match rate on the eval set (token ids, EOS included). */
async function greedyExactMatch(modelDir: string, adapter?: string): Promise<number> {
  const m = await loadModelDir(modelDir, { adapter, runtime: rt });
  if (m.arch !== "t5") throw new Error("expected T5");
  const tok = m.pipeline.tokenizer;
  const out = generateText(
    m.pipeline,
    evalSet.map((e) => e.input),
    { maxNewTokens: 12 },
  );
  let ok = 0;
  out.forEach((r, i) => {
    const want = tok.encode(evalSet[i].target).ids;
    const got = Array.from(r.sequence.slice(1, 1 + want.length));
    if (got.length === want.length && got.every((id, j) => id === want[j])) ok++;
  });
  return ok / evalSet.length;
}

const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe("finetune T5", () => {
  it("full: loss goes down; the reported accuracy is greedy generation's exact match", async () => {
    const r = await finetune(opts("full", { strategy: "full" }));
    const [first, last] = lossEnds("full");
    expect(last).toBeLessThan(first * 0.5);
    expect(r.model_type).toBe("t5");
    expect(r.eval!.accuracy).toBeGreaterThan(0.2);
    expect(await greedyExactMatch(join(dir, "full"))).toBeCloseTo(r.eval!.accuracy, 10);
  });

  it("unfreeze: the shared embedding and the lower blocks stay bit-identical in the first stage", async () => {
    await finetune(opts("unfreeze", { strategy: "unfreeze", unfreezeEvery: 1000 }));
    const [first, last] = lossEnds("unfreeze");
    expect(last).toBeLessThan(first * 0.8);
    const b = await readTensors(base);
    const out = SafetensorsFile.parse(
      readFileSync(join(dir, "unfreeze", "model.safetensors")),
      "model.safetensors",
    );
    let frozen = 0;
    for (const n of out.names()) {
      if (!b.has(n)) continue;
      const eq = bytes(out.float32(n)).equals(bytes(b.float32(n)));
      if (n === "shared.weight" || /^(encoder|decoder)\.block\.0\./.test(n)) {
        expect(eq, n).toBe(true);
        frozen++;
      } else if (/^(encoder|decoder)\.block\.1\./.test(n)) expect(eq, n).toBe(false);
    }
    expect(frozen).toBeGreaterThan(10);
  });

  it("adapters: adapters and layer norms train; the folder on the base generates as the trained model", async () => {
    const r = await finetune(
      opts("adapters", { strategy: "adapters", bottleneck: 16, lr: 1e-2, steps: 150, evalEvery: 150 }),
    );
    const [first, last] = lossEnds("adapters");
    expect(last).toBeLessThan(first * 0.5);
    const cfg = readAdapterConfig(
      JSON.parse(readFileSync(join(dir, "adapters", "adapter_config.json"), "utf8")),
    );
    expect(cfg.model_type).toBe("t5");
    // 4 encoder sublayers + 6 decoder sublayers, 4 tensors each; every layer norm (10 + 2 final)
    expect(cfg.trained.filter((n) => n.includes(".adapter.")).length).toBe(40);
    expect(cfg.trained.filter((n) => n.includes("layer_norm")).length).toBe(12);
    expect(cfg.trained.length).toBe(52); // tied head: no lm_head
    expect(r.eval!.accuracy).toBeGreaterThan(0.1);
    expect(await greedyExactMatch(base, join(dir, "adapters"))).toBeCloseTo(r.eval!.accuracy, 10);
  });
});
