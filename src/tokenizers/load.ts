// Building a Tokenizer from a checkpoint's tokenizer files: tokenizer.json (preferred, with
// tokenizer_config.json when present; WordPiece → BERT, Unigram → T5) or, for older checkpoints, a bare
// vocab.txt (BERT) or spiece.model (T5), each with its config.
// Pure, no Node imports: Cloudflare Workers and browsers pass the file texts in themselves.
import { BertTokenizer } from "./bert.ts";
import { parseTokenizerConfig } from "./config.ts";
import { t5TokenizerFromJson, t5TokenizerFromSpiece } from "./t5.ts";
import type { Tokenizer } from "./types.ts";
import { bertTokenizerJsonFromVocab } from "./wordpiece.ts";

export interface TokenizerFiles {
  /** Text of tokenizer.json. */
  tokenizerJson?: string;
  /** Text of tokenizer_config.json. */
  tokenizerConfig?: string;
  /** Text of vocab.txt (used only without tokenizer.json). */
  vocabTxt?: string;
  /** Bytes of spiece.model (used only without tokenizer.json and vocab.txt). */
  spieceModel?: Uint8Array;
}

/**
 * A Tokenizer from file texts. tokenizer.json wins over vocab.txt, which wins over spiece.model;
 * tokenizer.json models other than WordPiece and Unigram throw. Throws clear errors on malformed files, an empty
 * vocab.txt or one without its unknown / [CLS] / [SEP] token.
 */
function rawConfig(text: string | undefined): object | undefined {
  return text === undefined ? undefined : (JSON.parse(text) as object);
}

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
    if (type === "WordPiece") return new BertTokenizer(json, config);
    if (type === "Unigram") return t5TokenizerFromJson(json, rawConfig(files.tokenizerConfig));
    throw new Error(`tokenizer.json model type ${String(type)} is not supported (WordPiece, Unigram)`);
  }
  if (files.vocabTxt !== undefined) {
    return new BertTokenizer(bertTokenizerJsonFromVocab(files.vocabTxt, config), config);
  }
  if (files.spieceModel !== undefined) {
    return t5TokenizerFromSpiece(files.spieceModel, rawConfig(files.tokenizerConfig), "spiece.model");
  }
  throw new Error("no tokenizer files: give tokenizer.json, vocab.txt or spiece.model");
}
