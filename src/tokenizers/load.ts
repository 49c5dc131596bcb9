// Building a Tokenizer from the text of a checkpoint's tokenizer files: tokenizer.json (preferred, with
// tokenizer_config.json when present) or, for older BERT checkpoints, a bare vocab.txt (+ config).
// Pure, no Node imports: Cloudflare Workers and browsers pass the file texts in themselves.
import { BertTokenizer } from "./bert.ts";
import { parseTokenizerConfig } from "./config.ts";
import type { Tokenizer } from "./types.ts";
import { bertTokenizerJsonFromVocab } from "./wordpiece.ts";

export interface TokenizerFiles {
  /** Text of tokenizer.json. */
  tokenizerJson?: string;
  /** Text of tokenizer_config.json. */
  tokenizerConfig?: string;
  /** Text of vocab.txt (used only without tokenizer.json). */
  vocabTxt?: string;
}

/**
 * A Tokenizer from file texts. tokenizer.json wins over vocab.txt. Only WordPiece (BERT-family) models are
 * supported so far; other tokenizer.json models throw. Throws clear errors on malformed files, an empty
 * vocab.txt or one without its unknown / [CLS] / [SEP] token.
 */
export function loadTokenizerFromFiles(files: TokenizerFiles): Tokenizer {
  const config = parseTokenizerConfig(files.tokenizerConfig);
  if (files.tokenizerJson !== undefined) {
    let json: unknown;
    try {
      json = JSON.parse(files.tokenizerJson);
    } catch (err) {
      throw new Error(`tokenizer.json is not valid JSON: ${(err as Error).message}`);
    }
    if (json === null || typeof json !== "object" || Array.isArray(json)) {
      throw new Error("tokenizer.json must hold a JSON object");
    }
    const type = (json as { model?: { type?: unknown } }).model?.type;
    if (type !== "WordPiece") {
      throw new Error(`tokenizer.json model type ${String(type)} is not supported yet (only WordPiece)`);
    }
    return new BertTokenizer(json, config);
  }
  if (files.vocabTxt !== undefined) {
    return new BertTokenizer(bertTokenizerJsonFromVocab(files.vocabTxt, config), config);
  }
  throw new Error("no tokenizer files: give tokenizer.json or vocab.txt");
}
