// BERT from a bare `vocab.txt` (older checkpoints without tokenizer.json): builds the tokenizer.json object
// that transformers/tokenizers would build for BertTokenizer from the same vocab and tokenizer_config.json
// (BertNormalizer, BertPreTokenizer, WordPiece with "##" and max 100 chars per word, TemplateProcessing
// "[CLS] $A [SEP]" / "[CLS] $A [SEP] $B:1 [SEP]:1", WordPiece decoder), so @huggingface/tokenizers can run
// it unchanged. Pure, no Node imports.
import {
  additionalSpecialTokens,
  configuredToken,
  SPECIAL_TOKEN_NAMES,
  type TokenizerConfig,
} from "./config.ts";

/** The subset of the tokenizer.json format this file writes (see huggingface/tokenizers). */
export interface WordPieceTokenizerJson {
  version: string;
  truncation: null;
  padding: null;
  added_tokens: {
    id: number;
    content: string;
    single_word: boolean;
    lstrip: boolean;
    rstrip: boolean;
    normalized: boolean;
    special: boolean;
  }[];
  normalizer: {
    type: "BertNormalizer";
    clean_text: boolean;
    handle_chinese_chars: boolean;
    strip_accents: boolean | null;
    lowercase: boolean;
  };
  pre_tokenizer: { type: "BertPreTokenizer" };
  post_processor: {
    type: "TemplateProcessing";
    single: TemplateItem[];
    pair: TemplateItem[];
    special_tokens: Record<string, { id: string; ids: number[]; tokens: string[] }>;
  };
  decoder: { type: "WordPiece"; prefix: string; cleanup: boolean };
  model: {
    type: "WordPiece";
    unk_token: string;
    continuing_subword_prefix: string;
    max_input_chars_per_word: number;
    vocab: Record<string, number>;
  };
}

type TemplateItem =
  | { SpecialToken: { id: string; type_id: number } }
  | { Sequence: { id: "A" | "B"; type_id: number } };

/**
 * Token → id from vocab.txt text: the id is the line number, as transformers' `load_vocab` reads it (only
 * the line terminator is stripped; a leading UTF-8 BOM is dropped; a repeated token keeps its last line).
 */
export function parseVocabTxt(text: string): Map<string, number> {
  const body = text.startsWith("\ufeff") ? text.slice(1) : text;
  const lines = body.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  const vocab = new Map<string, number>();
  lines.forEach((token, id) => {
    vocab.set(token, id);
  });
  return vocab;
}

const DEFAULT_TOKENS = { unk: "[UNK]", sep: "[SEP]", pad: "[PAD]", cls: "[CLS]", mask: "[MASK]" } as const;

/**
 * The tokenizer.json object of a BERT WordPiece tokenizer made from vocab.txt text and tokenizer_config.json
 * (do_lower_case, strip_accents, tokenize_chinese_chars, *_token, additional_special_tokens).
 * Throws on an empty vocab or one that lacks the unknown, [CLS] or [SEP] token.
 */
export function bertTokenizerJsonFromVocab(
  vocabTxt: string,
  config: TokenizerConfig = {},
): WordPieceTokenizerJson {
  const vocab = parseVocabTxt(vocabTxt);
  if (vocab.size === 0 || (vocab.size === 1 && vocab.has(""))) {
    throw new Error("vocab.txt is empty: expected one WordPiece token per line");
  }
  const token = (name: keyof typeof DEFAULT_TOKENS) => configuredToken(config, name) ?? DEFAULT_TOKENS[name];
  const unk = token("unk");
  const cls = token("cls");
  const sep = token("sep");
  for (const [role, t] of [
    ["unknown", unk],
    ["classifier", cls],
    ["separator", sep],
  ] as const) {
    if (!vocab.has(t)) {
      throw new Error(
        `vocab.txt has no ${role} token "${t}" (${vocab.size} tokens read); a BERT vocab needs ${unk}, ${cls} and ${sep}`,
      );
    }
  }

  // Special tokens become added tokens (matched in the raw text, never normalized), sorted by id.
  const specials = new Set<string>();
  for (const name of SPECIAL_TOKEN_NAMES) {
    const t =
      name in DEFAULT_TOKENS ? token(name as keyof typeof DEFAULT_TOKENS) : configuredToken(config, name);
    if (t !== undefined && vocab.has(t)) specials.add(t);
  }
  for (const t of additionalSpecialTokens(config)) if (vocab.has(t)) specials.add(t);
  const added_tokens = [...specials]
    .map((content) => ({
      id: vocab.get(content)!,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    }))
    .sort((a, b) => a.id - b.id);

  const lowercase = config.do_lower_case ?? true;
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens,
    normalizer: {
      type: "BertNormalizer",
      clean_text: true,
      handle_chinese_chars: config.tokenize_chinese_chars ?? true,
      strip_accents: config.strip_accents ?? null,
      lowercase,
    },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: {
      type: "TemplateProcessing",
      single: [
        { SpecialToken: { id: cls, type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: sep, type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: cls, type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: sep, type_id: 0 } },
        { Sequence: { id: "B", type_id: 1 } },
        { SpecialToken: { id: sep, type_id: 1 } },
      ],
      special_tokens: {
        [cls]: { id: cls, ids: [vocab.get(cls)!], tokens: [cls] },
        [sep]: { id: sep, ids: [vocab.get(sep)!], tokens: [sep] },
      },
    },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: {
      type: "WordPiece",
      unk_token: unk,
      continuing_subword_prefix: "##",
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab),
    },
  };
}
