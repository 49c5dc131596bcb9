// Node-side loading of a tokenizer from a checkpoint directory: tokenizer.json (+ tokenizer_config.json)
// when present, else vocab.txt, else spiece.model (each + tokenizer_config.json). See load.ts.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { loadTokenizerFromFiles } from "./load.ts";
import type { Tokenizer } from "./types.ts";

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** Loads the tokenizer of a checkpoint directory: tokenizer.json, else vocab.txt, else spiece.model. */
export async function loadTokenizerDir(dir: string): Promise<Tokenizer> {
  const [tokenizerJson, tokenizerConfig] = await Promise.all([
    readIfExists(join(dir, "tokenizer.json")),
    readIfExists(join(dir, "tokenizer_config.json")),
  ]);
  const vocabTxt = tokenizerJson === undefined ? await readIfExists(join(dir, "vocab.txt")) : undefined;
  let spieceModel: Uint8Array | undefined;
  if (tokenizerJson === undefined && vocabTxt === undefined) {
    spieceModel = await readFile(join(dir, "spiece.model")).catch(() => undefined);
    if (!spieceModel) throw new Error(`no tokenizer.json, vocab.txt or spiece.model in ${dir}`);
  }
  return loadTokenizerFromFiles({ tokenizerJson, tokenizerConfig, vocabTxt, spieceModel });
}
