// `npm run train:defaults`: reproduces the embedded default models from nothing, one step after another,
// each an ordinary `edgeformer` command (printed before it runs) writing into runs/ (kept out of git):
// the WordNet corpus, BERT pretraining (two stages: 3,000 steps on 2 threads, then 1,500 more at a lower
// rate), the part-of-speech adapter on top of it, T5 span-corruption pretraining, T5 multi-task training
// with temperature mixing (all words, then the most common words), then int8 quantization into models/
// and the held-out T5 evaluation (models/t5-wordnet/eval.json). A step whose run folder already finished is resumed (a no-op), so an
// interrupted reproduction continues where it stopped. About 5 hours on the 2-core development machine.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const CLI = ["src/cli/edgeformer.mjs"];
const W = "data/wordnet";

function run(args: string[], opts: { capture?: boolean } = {}): string {
  process.stderr.write(`\n$ edgeformer ${args.join(" ")}\n`);
  const r = spawnSync(process.execPath, [...CLI, ...args], {
    stdio: opts.capture ? ["ignore", "pipe", "inherit"] : "inherit",
    encoding: "utf8",
  });
  if (r.status !== 0) {
    process.stderr.write(`train:defaults: step failed (exit ${r.status}): edgeformer ${args.join(" ")}\n`);
    process.exit(r.status ?? 1);
  }
  return r.stdout ?? "";
}

/** A training step: fresh, or --resume when its run folder already has a checkpoint. */
function train(out: string, args: string[]): void {
  run([
    ...args,
    "--out",
    out,
    "--progress",
    "lines",
    ...(existsSync(join(out, "latest")) ? ["--resume"] : []),
  ]);
}

if (!existsSync(join(W, "train", "tasks.json"))) {
  const r = spawnSync("npm", ["run", "corpus"], { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const common = [
  "--vocab-size",
  "8000",
  "--batch",
  "16",
  "--seq-len",
  "128",
  "--eval-every",
  "250",
  "--save-every",
  "250",
  "--dupe-factor",
  "5",
];
train("runs/bert-wordnet", [
  "pretrain",
  "bert",
  "--corpus",
  `${W}/train/pretrain.txt`,
  ...common,
  "--steps",
  "3000",
  "--threads",
  "2",
]);
train("runs/bert-wordnet-2", [
  "pretrain",
  "bert",
  "--corpus",
  `${W}/train/pretrain.txt`,
  "--init",
  "runs/bert-wordnet",
  ...common,
  "--steps",
  "1500",
  "--threads",
  "1",
  "--lr",
  "3e-4",
  "--warmup",
  "100",
]);
train("runs/bert-wordnet-pos", [
  "finetune",
  "--model",
  "runs/bert-wordnet-2",
  "--data",
  `${W}/train/pos_classify.jsonl`,
  "--eval-data",
  `${W}/heldout/pos_classify.jsonl`,
  "--strategy",
  "adapters",
  "--bottleneck",
  "64",
  "--steps",
  "600",
  "--batch",
  "32",
  "--seq-len",
  "64",
  "--lr",
  "1e-3",
  "--eval-every",
  "200",
  "--eval-examples",
  "2000",
]);
train("runs/t5-wordnet-pretrain", [
  "pretrain",
  "t5",
  "--corpus",
  `${W}/train/t5_pretrain.txt`,
  "--eval-corpus",
  `${W}/heldout/t5_pretrain.txt`,
  "--vocab-size",
  "8000",
  "--steps",
  "1400",
  "--batch",
  "32",
  "--input-length",
  "64",
  "--lr",
  "1e-3",
  "--warmup",
  "100",
  "--eval-every",
  "200",
  "--save-every",
  "100",
  "--stop-at",
  "1000",
]);
// T5 multi-task stages: the same optimizer settings (AdamW with Adafactor-style relative steps, every
// example weighted equally), data-parallel on 2 threads.
const multitask = [
  "--eval-tasks",
  `${W}/heldout/tasks.json`,
  "--mixing",
  "temperature",
  "--T",
  "2",
  "--steps",
  "4000",
  "--batch",
  "48",
  "--micro-batch",
  "12",
  "--lr",
  "1e-2",
  "--lr-scale",
  "rms",
  "--loss-weighting",
  "example",
  "--warmup",
  "100",
  "--eval-every",
  "250",
  "--save-every",
  "100",
  "--eval-examples",
  "100",
  "--threads",
  "2",
];
// Stage 2: every word of the five tasks.
train("runs/t5-wordnet", [
  "train",
  "--tasks",
  `${W}/train/tasks.json`,
  "--init",
  "runs/t5-wordnet-pretrain",
  ...multitask,
]);
// Stage 3: the same tasks with define / synonyms / hypernym cut to their 8,000 most common words
// (tasks-common.json; every task 20% of each batch), so those words are seen ~5 times each.
train("runs/t5-wordnet-common", [
  "train",
  "--tasks",
  `${W}/train/tasks-common.json`,
  "--init",
  "runs/t5-wordnet",
  ...multitask,
  "--K",
  "8000",
]);

run(["quantize", "runs/bert-wordnet-2", "models/bert-wordnet"]);
mkdirSync("models/bert-wordnet-pos", { recursive: true });
for (const f of ["adapter_config.json", "adapter.safetensors"])
  copyFileSync(join("runs/bert-wordnet-pos", f), join("models/bert-wordnet-pos", f));
run(["quantize", "runs/t5-wordnet-common", "models/t5-wordnet"]);
// Training curves and metrics next to each model (the model cards link them).
const curves: [string, string][] = [
  ["runs/bert-wordnet/curves.svg", "models/bert-wordnet/curves-stage1.svg"],
  ["runs/bert-wordnet/metrics.jsonl", "models/bert-wordnet/metrics-stage1.jsonl"],
  ["runs/bert-wordnet-2/curves.svg", "models/bert-wordnet/curves.svg"],
  ["runs/bert-wordnet-2/metrics.jsonl", "models/bert-wordnet/metrics.jsonl"],
  ["runs/bert-wordnet-pos/curves.svg", "models/bert-wordnet-pos/curves.svg"],
  ["runs/t5-wordnet-pretrain/curves.svg", "models/t5-wordnet/curves-pretrain.svg"],
  ["runs/t5-wordnet-pretrain/metrics.jsonl", "models/t5-wordnet/metrics-pretrain.jsonl"],
  ["runs/t5-wordnet/curves.svg", "models/t5-wordnet/curves-multitask.svg"],
  ["runs/t5-wordnet/metrics.jsonl", "models/t5-wordnet/metrics-multitask.jsonl"],
  ["runs/t5-wordnet-common/curves.svg", "models/t5-wordnet/curves.svg"],
  ["runs/t5-wordnet-common/metrics.jsonl", "models/t5-wordnet/metrics.jsonl"],
];
for (const [from, to] of curves) copyFileSync(from, to);
// Held-out T5 evaluation: plain greedy (eval.json), and greedy never repeating a 3-gram (eval-no-repeat.json)
for (const [file, extra] of [
  ["eval.json", []],
  ["eval-no-repeat.json", ["--no-repeat-ngram-size", "3"]],
] as const) {
  const evaluation = run(
    [
      "evaluate",
      "--model",
      "models/t5-wordnet",
      "--dtype",
      "int8",
      "--tasks",
      `${W}/heldout/tasks.json`,
      "--train-tasks",
      `${W}/train/tasks.json`,
      "--limit",
      "300",
      "--samples",
      "4",
      ...extra,
    ],
    { capture: true },
  );
  writeFileSync(join("models/t5-wordnet", file), evaluation);
}
process.stderr.write(
  "\ntrain:defaults: done — models/bert-wordnet, models/bert-wordnet-pos, models/t5-wordnet\n",
);
