// Shared by the trainer tests: a small generated corpus (documents of templated sentences, so masked
// tokens and next sentences are learnable) and a tiny BERT config, written to a temp folder.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mulberry32 } from "../../src/train/data/index.ts";

const SUBJECTS = ["the cat", "a dog", "my friend", "the teacher", "our neighbour", "the old man", "a bird"];
const VERBS = ["sees", "likes", "finds", "paints", "follows", "remembers", "carries"];
const OBJECTS = ["the red ball", "a small house", "the river", "an apple", "the green door", "a letter"];
const PLACES = ["in the park", "near the station", "at home", "by the sea", "on the hill", "after school"];

/** `docs` documents of 4–8 sentences each, seeded. */
export function corpusText(docs = 60, seed = 7): string {
  const r = mulberry32(seed);
  const pick = (xs: string[]) => xs[Math.floor(r() * xs.length)];
  const out: string[] = [];
  for (let d = 0; d < docs; d++) {
    const n = 4 + Math.floor(r() * 5);
    const subject = pick(SUBJECTS);
    for (let i = 0; i < n; i++) out.push(`${subject} ${pick(VERBS)} ${pick(OBJECTS)} ${pick(PLACES)}.`);
    out.push("");
  }
  return out.join("\n");
}

export const TINY_CONFIG = {
  architectures: ["BertForPreTraining"],
  model_type: "bert",
  hidden_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 64,
  max_position_embeddings: 64,
  type_vocab_size: 2,
  hidden_act: "gelu",
  layer_norm_eps: 1e-12,
};

/** A temp folder with corpus.txt and config.json (tiny BERT). */
export function tinySetup(prefix = "edgeformer-trainer-"): { dir: string; corpus: string; config: string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const corpus = join(dir, "corpus.txt");
  const config = join(dir, "config.json");
  writeFileSync(corpus, corpusText());
  writeFileSync(config, JSON.stringify(TINY_CONFIG));
  return { dir, corpus, config };
}
