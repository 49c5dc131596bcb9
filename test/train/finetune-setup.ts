// Shared by the fine-tuning tests: a base model folder (the tiny BERT fixture with its tokenizer) and a
// small synthetic classification task (the label says which of two marker words the text holds, among
// filler words), as JSONL and CSV, written to a temp folder.
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mulberry32 } from "../../src/train/data/index.ts";
import { fixturePath } from "../helpers/fixtures.ts";

const FILLER = [
  "force",
  "object",
  "follow",
  "english",
  "number",
  "cut",
  "lead",
  "control",
  "against",
  "around",
  "name",
  "book",
  "design",
  "land",
];
const MARKERS: [string, string][] = [
  ["money", "finance"],
  ["fruit", "food"],
];

/** `n` examples: filler words with one marker word somewhere; the label names the marker's class. */
export function syntheticExamples(n: number, seed: number): { text: string; label: string }[] {
  const r = mulberry32(seed);
  const out: { text: string; label: string }[] = [];
  for (let i = 0; i < n; i++) {
    const len = 3 + Math.floor(r() * 5);
    const words = Array.from({ length: len }, () => FILLER[Math.floor(r() * FILLER.length)]);
    const [marker, label] = MARKERS[Math.floor(r() * MARKERS.length)];
    words.splice(Math.floor(r() * (len + 1)), 0, marker);
    out.push({ text: words.join(" "), label });
  }
  return out;
}

export interface FinetuneSetup {
  dir: string;
  base: string;
  train: string;
  eval: string;
  trainCsv: string;
}

export function finetuneSetup(prefix = "edgeformer-finetune-"): FinetuneSetup {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const base = join(dir, "base");
  mkdirSync(base);
  for (const f of ["config.json", "model.safetensors"])
    copyFileSync(fixturePath(`bert_tiny/${f}`), join(base, f));
  for (const f of ["tokenizer.json", "tokenizer_config.json", "vocab.txt"])
    copyFileSync(fixturePath(`tok/bert/${f}`), join(base, f));
  const train = syntheticExamples(96, 1);
  const evalSet = syntheticExamples(40, 2);
  const jsonl = (xs: object[]) => xs.map((x) => `${JSON.stringify(x)}\n`).join("");
  writeFileSync(join(dir, "train.jsonl"), jsonl(train));
  writeFileSync(join(dir, "eval.jsonl"), jsonl(evalSet));
  writeFileSync(
    join(dir, "train.csv"),
    `label,text\r\n${train.map((e) => `${e.label},"${e.text.replace(/"/g, '""')}"`).join("\r\n")}\r\n`,
  );
  return {
    dir,
    base,
    train: join(dir, "train.jsonl"),
    eval: join(dir, "eval.jsonl"),
    trainCsv: join(dir, "train.csv"),
  };
}
