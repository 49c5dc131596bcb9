// The local, offline model folders of the end-to-end benchmark (text in → pooled embedding out):
// - a generated 30522-entry WordPiece vocabulary (BERT's layout: [PAD] 0, [unused*], [UNK] 100, [CLS] 101,
//   [SEP] 102, [MASK] 103; then the test fixture's trained pieces, then every 2- and 3-letter word and
//   "##" piece until 30522), written as vocab.txt, tokenizer.json (built from it by our
//   bertTokenizerJsonFromVocab, the same file both engines read) and tokenizer_config.json;
// - for @huggingface/transformers: bench/.cache/e2e/hf/minilm-l6-perf/ with config.json, the tokenizer
//   files and onnx/model.onnx + onnx/model_quantized.onnx (links to the MiniLM-L6 perf graphs and their
//   data files in bench/.cache/bert-minilm-l6/, see ort-models.ts preparePerfModel);
// - for ours: the tokenizer files added to bench/.cache/ours/bert-minilm-l6/{f32,int8}/ (perf-weights.ts).
// And the benchmark's texts: eight English sentences of different lengths.
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { bertTokenizerJsonFromVocab } from "../src/tokenizers/wordpiece.ts";
import { type DType, PERF_CACHE_DIR, preparePerfModel } from "./ort-models.ts";
import { oursCheckpointDir, perfFile } from "./perf-weights.ts";

export const E2E_MODEL = "bert-minilm-l6";
export const HF_MODEL_ID = "minilm-l6-perf";
export const VOCAB_SIZE = 30522;
const FIXTURE_VOCAB = fileURLToPath(new URL("../test/fixtures/tok/bert/vocab.txt", import.meta.url));

/** Batch 1 uses the first; batch 8 all of them (padded to the longest). */
export const E2E_TEXTS = [
  "The quick brown fox jumps over the lazy dog near the river bank.",
  "Edge inference keeps latency low because the model runs close to the user.",
  "A small embedding model turns each sentence into a vector, and similar sentences end up close together.",
  "Rain is expected tomorrow.",
  "She opened the old book, read the first page twice, and then decided that the story was worth finishing before dinner.",
  "Tokenizers split words into pieces; rare words become several pieces while common ones stay whole.",
  "The committee will review all applications submitted before the end of the month and announce the results in early spring, after the holidays.",
  "Where is the nearest train station?",
];

export const TOKENIZER_CONFIG = {
  tokenizer_class: "BertTokenizer",
  do_lower_case: true,
  strip_accents: null,
  tokenize_chinese_chars: true,
  model_max_length: 512,
  unk_token: "[UNK]",
  sep_token: "[SEP]",
  pad_token: "[PAD]",
  cls_token: "[CLS]",
  mask_token: "[MASK]",
};

/** The 30522 tokens, id = index. Deterministic. */
export function benchVocab(): string[] {
  const specials = new Map<number, string>([
    [0, "[PAD]"],
    [100, "[UNK]"],
    [101, "[CLS]"],
    [102, "[SEP]"],
    [103, "[MASK]"],
  ]);
  const tokens: string[] = [];
  let unused = 0;
  for (let id = 0; id < 104; id++) tokens.push(specials.get(id) ?? `[unused${unused++}]`);
  const seen = new Set(tokens);
  const add = (t: string) => {
    if (tokens.length < VOCAB_SIZE && !seen.has(t)) {
      seen.add(t);
      tokens.push(t);
    }
  };
  for (const t of readFileSync(FIXTURE_VOCAB, "utf8").split("\n"))
    if (t && !/^\[(PAD|UNK|CLS|SEP|MASK)\]$/.test(t)) add(t);
  const letters = "abcdefghijklmnopqrstuvwxyz";
  for (const a of letters) add(`##${a}`);
  for (const a of letters) for (const b of letters) add(`${a}${b}`);
  for (const a of letters) for (const b of letters) add(`##${a}${b}`);
  for (const a of letters) for (const b of letters) for (const c of letters) add(`${a}${b}${c}`);
  for (const a of letters) for (const b of letters) for (const c of letters) add(`##${a}${b}${c}`);
  if (tokens.length !== VOCAB_SIZE)
    throw new Error(`generated ${tokens.length} tokens, expected ${VOCAB_SIZE}`);
  return tokens;
}

export interface TokenizerFiles {
  "vocab.txt": string;
  "tokenizer.json": string;
  "tokenizer_config.json": string;
}

export function tokenizerFiles(): TokenizerFiles {
  const vocabTxt = `${benchVocab().join("\n")}\n`;
  return {
    "vocab.txt": vocabTxt,
    "tokenizer.json": JSON.stringify(bertTokenizerJsonFromVocab(vocabTxt, TOKENIZER_CONFIG)),
    "tokenizer_config.json": JSON.stringify(TOKENIZER_CONFIG, null, 2),
  };
}

function writeFiles(dir: string, files: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
}

function link(target: string, path: string): void {
  rmSync(path, { force: true });
  symlinkSync(target, path);
}

export interface E2eFolders {
  /** env.localModelPath for transformers.js; the model id is HF_MODEL_ID */
  hfRoot: string;
  /** our model folders (config.json, model.safetensors, tokenizer files) */
  ours: Record<DType, string>;
  /** the data file each onnx graph names (for onnxruntime-web's externalData), keyed by transformers.js dtype */
  hfExternalData: Record<"fp32" | "q8", { path: string; file: string }>;
}

/** Writes (or refreshes) the folders; weights and onnx data files are generated once and cached. */
export async function prepareE2eFolders(): Promise<E2eFolders> {
  const tok = tokenizerFiles() as unknown as Record<string, string>;
  const prepared = await preparePerfModel(E2E_MODEL);
  const hfRoot = join(PERF_CACHE_DIR, "e2e", "hf");
  const hfDir = join(hfRoot, HF_MODEL_ID);
  writeFiles(hfDir, { ...tok, "config.json": readFileSync(perfFile(E2E_MODEL, "config.json"), "utf8") });
  const onnxDir = join(hfDir, "onnx");
  mkdirSync(onnxDir, { recursive: true });
  const f32 = prepared.graphs.model.f32;
  const int8 = prepared.graphs.model.int8;
  link(f32.graph, join(onnxDir, "model.onnx"));
  link(f32.data, join(onnxDir, f32.dataFile));
  link(int8.graph, join(onnxDir, "model_quantized.onnx"));
  link(int8.data, join(onnxDir, int8.dataFile));
  const ours = {
    f32: await oursCheckpointDir(E2E_MODEL, "f32"),
    int8: await oursCheckpointDir(E2E_MODEL, "int8"),
  };
  for (const dir of Object.values(ours)) writeFiles(dir, tok);
  for (const d of [hfDir, ...Object.values(ours)])
    if (!existsSync(join(d, "config.json"))) throw new Error(`${d}: config.json missing`);
  return {
    hfRoot,
    ours,
    hfExternalData: {
      fp32: { path: f32.dataFile, file: `onnx/${f32.dataFile}` },
      q8: { path: int8.dataFile, file: `onnx/${int8.dataFile}` },
    },
  };
}
