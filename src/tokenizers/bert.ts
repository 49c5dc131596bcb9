// BertTokenizer: the project's Tokenizer contract for WordPiece tokenizer.json objects, on top of
// @huggingface/tokenizers. The library does the tokenizing: its added-token splitters, normalizer,
// pre-tokenizer, WordPiece model, post-processor and decoder are used as they are. What it lacks is done
// here: character offsets (see align.ts), pair boundaries, truncation (truncation.ts) and the mask /
// sequence-id fields. So its `encode` is not called: this file drives the same steps itself, one text at
// a time, keeping for each token where it came from. Differences from the library's `encode`, all towards
// Hugging Face's Rust tokenizers (which transformers' fast tokenizers use, and which made our goldens):
// - Normalization is per character (see align.ts): no final-sigma lowercasing, as in Rust.
// - BertNormalizer also isolates astral CJK ideographs (the library tests UTF-16 units, so it misses
//   U+20000..; BERT's list includes them) and drops unassigned code points (category Cn; BERT removes every
//   "C*" character, the library only Cc/Cf/Co/Cs).
// - An empty second text is still a pair ("[CLS] a [SEP] [SEP]"), as in transformers.
// - `remove_space` / `do_lowercase_and_remove_accent` (tokenizer_config.json of XLNet/XLM) are not applied.
// Offsets are UTF-16 code units of the original string (see offsets.ts), [0, 0] for post-processor tokens.
// Encoding never throws on any string; only impossible truncation requests do (TruncationError).
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { type AlignedText, normalizeAligned, originalSpan } from "./align.ts";
import { configuredToken, modelMaxLength, SPECIAL_TOKEN_NAMES, type TokenizerConfig } from "./config.ts";
import { truncatedLengths } from "./truncation.ts";
import type { EncodeOptions, Encoding, SpecialTokens, Tokenizer } from "./types.ts";

/** The parts of the library's Tokenizer instance used here (public fields, plus three private ones). */
interface LibAddedToken {
  id: number;
  content: string;
  lstrip: boolean;
  rstrip: boolean;
  special: boolean;
}
type LibNormalizer = ((text: string) => string) & { config: NormalizerConfig };
interface NormalizerConfig {
  type: string;
  normalizers?: NormalizerConfig[];
  clean_text?: boolean;
  handle_chinese_chars?: boolean;
  [key: string]: unknown;
}
interface LibInternals {
  normalizer: LibNormalizer | null;
  pre_tokenizer: ((text: string, options?: { section_index?: number }) => string[]) | null;
  model: ((words: string[]) => string[]) & {
    vocab: string[];
    tokens_to_ids: Map<string, number>;
    unk_token?: string;
    unk_token_id?: number;
    config: { type?: string; continuing_subword_prefix?: string };
  };
  post_processor:
    | ((
        a: unknown[],
        b: unknown[] | null,
        addSpecialTokens: boolean,
      ) => {
        tokens: unknown[];
        tokens_pair?: unknown[];
        token_type_ids?: number[];
      })
    | null;
  splitter_unnormalized: { split(text: string): string[] };
  splitter_normalized: { split(text: string): string[] };
  added_tokens_map: Map<string, LibAddedToken>;
}

/** One token of one text, before post-processing. `start`/`end`: UTF-16 offsets into that text. */
interface Piece {
  token: string;
  id: number;
  start: number;
  end: number;
}

/** Stands for token `index` of text `seq` while the library's post-processor places special tokens. */
class Slot {
  constructor(
    readonly seq: 0 | 1,
    readonly index: number,
  ) {}
}

const PER_CHAR_NORMALIZERS = new Set(["BertNormalizer", "Lowercase", "NFD", "NFKD", "StripAccents"]);
const UNASSIGNED = /^\p{Cn}$/u;
const BERT_DEFAULTS: Partial<Record<keyof SpecialTokens, string>> = {
  pad: "[PAD]",
  cls: "[CLS]",
  sep: "[SEP]",
  mask: "[MASK]",
};
const CACHE_LIMIT = 1 << 16;

/** Astral CJK ideographs in BERT's `_is_chinese_char` (the BMP ones the library handles itself). */
function isAstralChineseChar(cp: number): boolean {
  return (
    (cp >= 0x20000 && cp <= 0x2a6df) || (cp >= 0x2a700 && cp <= 0x2ceaf) || (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

function isPerCharNormalizer(config: NormalizerConfig): boolean {
  if (config.type === "Sequence") return (config.normalizers ?? []).every(isPerCharNormalizer);
  return PER_CHAR_NORMALIZERS.has(config.type);
}

/** Applies BertTokenizerFast's rule: explicit do_lower_case / strip_accents / tokenize_chinese_chars win. */
function withConfigOverrides(
  json: Record<string, unknown>,
  config: TokenizerConfig,
): Record<string, unknown> {
  const normalizer = json.normalizer as NormalizerConfig | null | undefined;
  if (normalizer?.type !== "BertNormalizer") return json;
  const patched: NormalizerConfig = { ...normalizer };
  if (typeof config.do_lower_case === "boolean") patched.lowercase = config.do_lower_case;
  if (config.strip_accents === null || typeof config.strip_accents === "boolean") {
    patched.strip_accents = config.strip_accents;
  }
  if (typeof config.tokenize_chinese_chars === "boolean") {
    patched.handle_chinese_chars = config.tokenize_chinese_chars;
  }
  return { ...json, normalizer: patched };
}

/** [start, end) of each piece of a splitter's output, which concatenates back to `text`. */
function sectionRanges(pieces: string[]): [number, number][] {
  let pos = 0;
  return pieces.map((p) => {
    const r: [number, number] = [pos, pos + p.length];
    pos += p.length;
    return r;
  });
}

/** The library's lstrip/rstrip handling: whitespace next to such an added token is dropped. */
function stripAroundAddedTokens(
  text: string,
  ranges: [number, number][],
  added: Map<string, LibAddedToken>,
): void {
  ranges.forEach(([s, e], i) => {
    const token = added.get(text.slice(s, e));
    if (!token) return;
    if (token.lstrip && i > 0) {
      const [ps, pe] = ranges[i - 1];
      ranges[i - 1] = [ps, ps + text.slice(ps, pe).trimEnd().length];
    }
    if (token.rstrip && i < ranges.length - 1) {
      const [ns, ne] = ranges[i + 1];
      ranges[i + 1] = [ne - text.slice(ns, ne).trimStart().length, ne];
    }
  });
}

export class BertTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly special: SpecialTokens;
  /** tokenizer_config.json's model_max_length when it is a real limit (not applied by default). */
  readonly modelMaxLength: number | undefined;
  /** The @huggingface/tokenizers instance underneath. */
  readonly lib: HfTokenizer;
  readonly #in: LibInternals;
  readonly #cleanUpSpaces: boolean;
  readonly #prefix: string;
  readonly #unkId: number;
  readonly #perChar: (char: string) => string;
  readonly #whole: ((text: string) => string) | undefined;
  readonly #numSpecial: [number, number];

  /**
   * @param tokenizerJson parsed tokenizer.json with a WordPiece model
   * @param config parsed tokenizer_config.json (special tokens, model_max_length,
   *   clean_up_tokenization_spaces, and do_lower_case / strip_accents / tokenize_chinese_chars, which
   *   override tokenizer.json's BertNormalizer when present, as in BertTokenizerFast)
   */
  constructor(tokenizerJson: object, config: TokenizerConfig = {}) {
    const json = withConfigOverrides(
      { added_tokens: [], ...(tokenizerJson as Record<string, unknown>) },
      config,
    );
    const model = json.model as { type?: string } | undefined;
    if (model?.type !== "WordPiece") {
      throw new Error(
        `BertTokenizer needs a WordPiece tokenizer.json, got model type ${String(model?.type)}`,
      );
    }
    try {
      this.lib = new HfTokenizer(json, config);
    } catch (err) {
      throw new Error(`invalid tokenizer.json: ${(err as Error).message}`);
    }
    const lib = this.lib as unknown as LibInternals;
    if (
      typeof lib.splitter_unnormalized?.split !== "function" ||
      typeof lib.splitter_normalized?.split !== "function" ||
      !(lib.added_tokens_map instanceof Map) ||
      typeof lib.model !== "function"
    ) {
      throw new Error("unsupported @huggingface/tokenizers version: expected 0.2.0 internals");
    }
    this.#in = lib;
    const unkId = lib.model.unk_token_id;
    if (unkId === undefined) {
      throw new Error(`tokenizer.json: the unknown token "${lib.model.unk_token}" is not in the vocab`);
    }
    this.#unkId = unkId;
    this.#prefix = lib.model.config.continuing_subword_prefix ?? "##";
    this.#cleanUpSpaces = config.clean_up_tokenization_spaces === true;
    this.vocabSize = lib.model.vocab.length;
    this.modelMaxLength = modelMaxLength(config);

    const special: SpecialTokens = {};
    for (const name of SPECIAL_TOKEN_NAMES) {
      const token =
        configuredToken(config, name) ?? (name === "unk" ? lib.model.unk_token : BERT_DEFAULTS[name]);
      const id = token === undefined ? undefined : this.tokenToId(token);
      if (id !== undefined) special[name] = id;
    }
    this.special = special;

    [this.#perChar, this.#whole] = this.#charNormalizer();
    const pp = lib.post_processor;
    this.#numSpecial = pp ? [pp([], null, true).tokens.length, pp([], [], true).tokens.length] : [0, 0];
  }

  encode(text: string, pair?: string, options: EncodeOptions = {}): Encoding {
    const addSpecialTokens = options.addSpecialTokens ?? true;
    const a = this.#encodeText(text);
    const b = pair === undefined || pair === null ? null : this.#encodeText(pair);
    if (options.maxLength !== undefined) {
      const specials = addSpecialTokens ? this.#numSpecial[b === null ? 0 : 1] : 0;
      const [keepA, keepB] = truncatedLengths(
        a.length,
        b?.length ?? null,
        options.maxLength,
        specials,
        options.truncation ?? "longest_first",
      );
      a.length = keepA;
      if (b !== null && keepB !== null) b.length = keepB;
    }
    return this.#assemble(a, b, addSpecialTokens);
  }

  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return "";
    return this.lib.decode([...ids], {
      skip_special_tokens: options.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces: this.#cleanUpSpaces,
    });
  }

  tokenToId(token: string): number | undefined {
    return this.#in.added_tokens_map.get(token)?.id ?? this.#in.model.tokens_to_ids.get(token);
  }

  idToToken(id: number): string | undefined {
    return Number.isInteger(id) && id >= 0 ? this.lib.id_to_token(id) : undefined;
  }

  /** Per-code-point normalizer (memoized) and, for non-per-character normalizers, the whole-text one. */
  #charNormalizer(): [(char: string) => string, ((text: string) => string) | undefined] {
    const normalizer = this.#in.normalizer;
    if (normalizer === null) return [(c) => c, undefined];
    const config = normalizer.config;
    const bert = config.type === "BertNormalizer" ? config : undefined;
    const memo = new Map<string, string>();
    const perChar = (char: string): string => {
      let out = memo.get(char);
      if (out !== undefined) return out;
      out = normalizer(char);
      if (bert?.clean_text && UNASSIGNED.test(char)) out = "";
      else if (bert?.handle_chinese_chars && char.length === 2 && isAstralChineseChar(char.codePointAt(0)!)) {
        out = ` ${out} `;
      }
      if (memo.size >= CACHE_LIMIT) memo.clear();
      memo.set(char, out);
      return out;
    };
    return [perChar, isPerCharNormalizer(config) ? undefined : (text) => normalizer(text)];
  }

  #idOf(token: string): number {
    return this.tokenToId(token) ?? this.#unkId;
  }

  /** The tokens of one text (no special tokens), with offsets into it. */
  #encodeText(text: string): Piece[] {
    const out: Piece[] = [];
    const added = this.#in.added_tokens_map;
    const ranges = sectionRanges(this.#in.splitter_unnormalized.split(text));
    stripAroundAddedTokens(text, ranges, added);
    ranges.forEach(([s, e], sectionIndex) => {
      if (e <= s) return;
      const section = text.slice(s, e);
      const token = added.get(section);
      if (token) out.push({ token: section, id: token.id, start: s, end: e });
      else this.#encodeSection(normalizeAligned(section, this.#perChar, this.#whole), s, sectionIndex, out);
    });
    return out;
  }

  /** Tokens of one normalized section; `base` is the section's start in the text. */
  #encodeSection(aligned: AlignedText, base: number, sectionIndex: number, out: Piece[]): void {
    const norm = aligned.text;
    if (norm.length === 0) return;
    const added = this.#in.added_tokens_map;
    const push = (token: string, id: number, a: number, b: number) => {
      const [start, end] = originalSpan(aligned, a, b);
      out.push({ token, id, start: base + start, end: base + end });
    };
    const ranges = sectionRanges(this.#in.splitter_normalized.split(norm));
    stripAroundAddedTokens(norm, ranges, added);
    for (const [s, e] of ranges) {
      if (e <= s) continue;
      const sub = norm.slice(s, e);
      const token = added.get(sub);
      if (token) {
        push(sub, token.id, s, e);
        continue;
      }
      const preTokenizer = this.#in.pre_tokenizer;
      const words = preTokenizer ? preTokenizer(sub, { section_index: sectionIndex }) : [sub];
      let cursor = 0;
      for (const word of words) {
        // Pre-tokens are substrings of `sub` in order (BertPreTokenizer); one that is not (a rewriting
        // pre-tokenizer) gets an empty span at the cursor rather than a wrong one.
        const found = sub.indexOf(word, cursor);
        const ws = found >= 0 ? found : cursor;
        const we = found >= 0 ? found + word.length : cursor;
        cursor = we;
        const pieces = this.#in.model([word]);
        const bare = pieces.map((p, k) =>
          k > 0 && p.startsWith(this.#prefix) ? p.slice(this.#prefix.length) : p,
        );
        if (bare.join("") === word) {
          let at = ws;
          pieces.forEach((p, k) => {
            push(p, this.#idOf(p), s + at, s + at + bare[k].length);
            at += bare[k].length;
          });
        } else {
          // [UNK] (or any piece that is not a slice of the word) covers the whole word, as in Rust.
          for (const p of pieces) push(p, this.#idOf(p), s + ws, s + we);
        }
      }
    }
  }

  /** Special tokens via the library's post-processor, then the Encoding fields. */
  #assemble(a: Piece[], b: Piece[] | null, addSpecialTokens: boolean): Encoding {
    const slotsA = a.map((_, i) => new Slot(0, i));
    const slotsB = b?.map((_, i) => new Slot(1, i)) ?? null;
    const pp = this.#in.post_processor;
    let items: unknown[];
    let types: number[] | undefined;
    if (pp) {
      const out = pp(slotsA, slotsB, addSpecialTokens);
      items = out.tokens_pair ? [...out.tokens, ...out.tokens_pair] : out.tokens;
      types = out.token_type_ids;
    } else {
      items = [...slotsA, ...(slotsB ?? [])];
    }
    const enc: Encoding = {
      ids: [],
      tokens: [],
      typeIds: [],
      attentionMask: [],
      offsets: [],
      specialTokensMask: [],
      sequenceIds: [],
    };
    items.forEach((item, k) => {
      if (item instanceof Slot) {
        const piece = (item.seq === 0 ? a : b!)[item.index];
        enc.ids.push(piece.id);
        enc.tokens.push(piece.token);
        enc.typeIds.push(types?.[k] ?? item.seq);
        enc.offsets.push([piece.start, piece.end]);
        enc.specialTokensMask.push(0);
        enc.sequenceIds.push(item.seq);
      } else {
        const token = String(item);
        enc.ids.push(this.#idOf(token));
        enc.tokens.push(token);
        enc.typeIds.push(types?.[k] ?? 0);
        enc.offsets.push([0, 0]);
        enc.specialTokensMask.push(1);
        enc.sequenceIds.push(null);
      }
      enc.attentionMask.push(1);
    });
    return enc;
  }
}
