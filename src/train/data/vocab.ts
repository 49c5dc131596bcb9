// WordPiece vocabulary training, so a BERT can be pretrained from nothing. The approach of Hugging Face
// tokenizers' WordPieceTrainer (a BpeTrainer with continuing_subword_prefix "##", whose vocab becomes the
// WordPiece vocab):
// 1. Text → words with the same BERT normalization and pre-tokenization our BertTokenizer applies
//    (src/tokenizers/bert.ts on @huggingface/tokenizers): special tokens in the text are boundaries; clean
//    text (drop controls, NUL, U+FFFD and unassigned code points; whitespace → space); CJK ideographs
//    isolated; optional lowercase and accent stripping (NFD, drop Mn; by default only when lowercasing);
//    split on whitespace and on each punctuation character. Words are counted.
// 2. Vocab starts as [PAD] [UNK] [CLS] [SEP] [MASK] (ids 0..4), then every character seen (sorted by code
//    point), then "##" + each of them (so any seen character tokenizes, first in a word or not).
//    Differences from HF: HF adds "##c" only for characters seen inside words, in hash order; no alphabet
//    limit by default (HF's BertWordPieceTokenizer uses 1000; see `limitAlphabet`).
// 3. Each word is a sequence of symbol ids (first character bare, the rest "##"-prefixed). Repeatedly the
//    most frequent adjacent pair (ties: smaller first id, then smaller second id, as HF) is merged into a
//    new token a + b-without-"##", left to right and non-overlapping within each word, until the vocab has
//    `vocabSize` tokens or no pair occurs `minFrequency` times. Pair counts are kept incrementally (integer
//    ids, per-pair lists of the words holding them, a lazy max-heap), never by rebuilding strings.
// The result is deterministic for a given corpus (order included) and options, and is a vocab.txt that
// loadTokenizerFromFiles({ vocabTxt, tokenizerConfig }) loads. Pure, no Node imports.

export const BERT_SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] as const;

const PREFIX = "##";

export interface BertPreTokenizerOptions {
  /** Lowercase (BertNormalizer `lowercase`, tokenizer_config `do_lower_case`). Default true. */
  lowercase?: boolean;
  /** Strip accents; null / absent: only when lowercasing (as BERT). */
  stripAccents?: boolean | null;
  /** Put spaces around CJK ideographs (`tokenize_chinese_chars`). Default true. */
  handleChineseChars?: boolean;
}

export interface WordPieceTrainerOptions extends BertPreTokenizerOptions {
  /** Target vocab size, special tokens included. Default 30000. The base vocab (specials and every
   * character, with and without "##") is always kept whole, so a tiny target can be exceeded. */
  vocabSize?: number;
  /** A pair must occur at least this often (counting word frequencies) to be merged. Default 2. */
  minFrequency?: number;
  /** Keep only the this many most frequent characters (ties: lower code point); others are dropped from
   * words, as HF does. Default: no limit. */
  limitAlphabet?: number;
}

export interface TrainedWordPiece {
  /** Tokens by id. */
  tokens: string[];
  /** vocab.txt text: one token per line, line number = id, final newline. */
  vocabTxt: string;
  /** tokenizer_config.json text matching the training normalization (do_lower_case, strip_accents, …). */
  tokenizerConfig: string;
  /** Distinct characters in the base vocab. */
  alphabetSize: number;
  /** Merges performed (a merge can yield a token already in the vocab). */
  merges: number;
  /** Distinct words counted / total words counted. */
  distinctWords: number;
  totalWords: number;
}

const PUNCT = "\\p{P}\\u0021-\\u002F\\u003A-\\u0040\\u005B-\\u0060\\u007B-\\u007E";
const CONTROL = /^(?:\p{Cc}|\p{Cf}|\p{Co}|\p{Cs})$/u;
const UNASSIGNED = /^\p{Cn}$/u;
const WHITESPACE = /^\s$/;
const MARK = /\p{Mn}/gu;

/** BERT's `_is_chinese_char` (CJK Unified Ideographs and extensions, compatibility ideographs). */
function isChineseChar(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * BERT normalization and pre-tokenization, per code point (memoized), matching BertTokenizer's (the
 * BertNormalizer of @huggingface/tokenizers applied one code point at a time, plus astral CJK and
 * unassigned code points) and BertPreTokenizer.
 */
export class BertPreTokenizer {
  readonly lowercase: boolean;
  readonly stripAccents: boolean;
  readonly handleChineseChars: boolean;
  readonly #bmp: (string | undefined)[] = new Array(0x10000);
  readonly #astral = new Map<number, string>();
  readonly #words = new RegExp(`[^\\s${PUNCT}]+|[${PUNCT}]`, "gu");
  readonly #specials: RegExp;

  constructor(options: BertPreTokenizerOptions = {}, specialTokens: readonly string[] = BERT_SPECIAL_TOKENS) {
    this.lowercase = options.lowercase ?? true;
    this.stripAccents = options.stripAccents ?? this.lowercase;
    this.handleChineseChars = options.handleChineseChars ?? true;
    this.#specials = new RegExp(specialTokens.map(escapeRegExp).join("|"), "g");
  }

  /** The normalized form of one code point. */
  normalizeChar(ch: string): string {
    const cp = ch.codePointAt(0)!;
    if (cp === 0 || cp === 0xfffd) return "";
    if (ch !== "\t" && ch !== "\n" && ch !== "\r" && CONTROL.test(ch)) return "";
    if (UNASSIGNED.test(ch)) return "";
    if (WHITESPACE.test(ch)) return " ";
    let s = ch;
    if (this.lowercase) s = s.toLowerCase();
    if (this.stripAccents) s = s.normalize("NFD").replace(MARK, "");
    return this.handleChineseChars && isChineseChar(cp) ? ` ${s} ` : s;
  }

  /** Normalizes text (no special-token handling). */
  normalize(text: string): string {
    let out = "";
    let run = 0; // start of the current run of characters that normalize to themselves
    const n = text.length;
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      let piece: string | undefined;
      let width = 1;
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
        const cp = ((c - 0xd800) << 10) + (text.charCodeAt(i + 1) - 0xdc00) + 0x10000;
        width = 2;
        piece = this.#astral.get(cp);
        if (piece === undefined) {
          piece = this.normalizeChar(text.slice(i, i + 2));
          this.#astral.set(cp, piece);
        }
      } else {
        piece = this.#bmp[c];
        if (piece === undefined) {
          piece = this.normalizeChar(text[i]);
          this.#bmp[c] = piece;
        }
      }
      if (width === 1 && piece.length === 1 && piece.charCodeAt(0) === c) continue;
      if (width === 2 && piece.length === 2 && piece === text.slice(i, i + 2)) {
        i++;
        continue;
      }
      if (run < i) out += text.slice(run, i);
      out += piece;
      i += width - 1;
      run = i + 1;
    }
    return run === 0 ? text : run < n ? out + text.slice(run) : out;
  }

  /** The words of a text, as the tokenizer's WordPiece model sees them. */
  words(text: string): string[] {
    const parts = text.includes("[") ? text.split(this.#specials) : [text];
    const out: string[] = [];
    for (const part of parts) {
      const m = this.normalize(part).match(this.#words);
      if (m) for (const w of m) out.push(w);
    }
    return out;
  }
}

/** A binary max-heap of (count, pair slot), best = higher count, then smaller (a, b). */
class PairHeap {
  readonly #count: number[] = [];
  readonly #slot: number[] = [];
  constructor(
    readonly pairA: number[],
    readonly pairB: number[],
  ) {}

  get size(): number {
    return this.#count.length;
  }

  #better(i: number, j: number): boolean {
    const ci = this.#count[i];
    const cj = this.#count[j];
    if (ci !== cj) return ci > cj;
    const si = this.#slot[i];
    const sj = this.#slot[j];
    const ai = this.pairA[si];
    const aj = this.pairA[sj];
    if (ai !== aj) return ai < aj;
    return this.pairB[si] < this.pairB[sj];
  }

  #swap(i: number, j: number): void {
    const c = this.#count[i];
    this.#count[i] = this.#count[j];
    this.#count[j] = c;
    const s = this.#slot[i];
    this.#slot[i] = this.#slot[j];
    this.#slot[j] = s;
  }

  push(count: number, slot: number): void {
    this.#count.push(count);
    this.#slot.push(slot);
    let i = this.#count.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#better(i, p)) break;
      this.#swap(i, p);
      i = p;
    }
  }

  /** Removes the best entry; returns its [count, slot]. */
  pop(): [number, number] {
    const top: [number, number] = [this.#count[0], this.#slot[0]];
    const last = this.#count.length - 1;
    this.#swap(0, last);
    this.#count.pop();
    this.#slot.pop();
    const n = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.#better(r, l) ? r : l;
      if (!this.#better(c, i)) break;
      this.#swap(c, i);
      i = c;
    }
    return top;
  }
}

/** Counts words from text fed piece by piece (streaming), then trains a WordPiece vocab. */
export class WordPieceTrainer {
  readonly options: Required<Omit<WordPieceTrainerOptions, "limitAlphabet" | "stripAccents">> & {
    limitAlphabet: number | undefined;
    stripAccents: boolean | null;
  };
  readonly preTokenizer: BertPreTokenizer;
  readonly #counts = new Map<string, number>();
  #total = 0;

  constructor(options: WordPieceTrainerOptions = {}) {
    this.options = {
      vocabSize: options.vocabSize ?? 30000,
      minFrequency: options.minFrequency ?? 2,
      lowercase: options.lowercase ?? true,
      stripAccents: options.stripAccents ?? null,
      handleChineseChars: options.handleChineseChars ?? true,
      limitAlphabet: options.limitAlphabet,
    };
    this.preTokenizer = new BertPreTokenizer(this.options);
  }

  /** Counts the words of a text (a sentence, a line, a document…). */
  feed(text: string): this {
    const counts = this.#counts;
    for (const w of this.preTokenizer.words(text)) {
      counts.set(w, (counts.get(w) ?? 0) + 1);
      this.#total++;
    }
    return this;
  }

  /** Counts the words of many texts. */
  feedAll(texts: Iterable<string>): this {
    for (const t of texts) this.feed(t);
    return this;
  }

  /** Learns the vocab from the words counted so far. */
  train(): TrainedWordPiece {
    const { vocabSize, minFrequency, limitAlphabet } = this.options;
    const entries = [...this.#counts];

    // Alphabet: every character (code point), by frequency when limited, then sorted by code point.
    const charCount = new Map<string, number>();
    for (const [word, count] of entries) {
      for (const ch of word) charCount.set(ch, (charCount.get(ch) ?? 0) + count);
    }
    const cpOf = (s: string) => s.codePointAt(0)!;
    let alphabet = [...charCount.keys()];
    if (limitAlphabet !== undefined && alphabet.length > limitAlphabet) {
      alphabet.sort((x, y) => charCount.get(y)! - charCount.get(x)! || cpOf(x) - cpOf(y));
      alphabet = alphabet.slice(0, Math.max(0, limitAlphabet));
    }
    alphabet.sort((x, y) => cpOf(x) - cpOf(y));

    const tokens: string[] = [];
    const ids = new Map<string, number>();
    const add = (t: string): number => {
      let id = ids.get(t);
      if (id === undefined) {
        id = tokens.length;
        tokens.push(t);
        ids.set(t, id);
      }
      return id;
    };
    for (const t of BERT_SPECIAL_TOKENS) add(t);
    for (const ch of alphabet) add(ch);
    for (const ch of alphabet) add(PREFIX + ch);

    // Words as symbol ids (only those with at least one pair matter).
    const syms: Int32Array[] = [];
    const wcount: number[] = [];
    const scratch: number[] = [];
    for (const [word, count] of entries) {
      scratch.length = 0;
      let first = true;
      for (const ch of word) {
        const id = ids.get(first ? ch : PREFIX + ch);
        first = false;
        if (id !== undefined) scratch.push(id);
      }
      if (scratch.length < 2) continue;
      syms.push(Int32Array.from(scratch));
      wcount.push(count);
    }
    const lens = Int32Array.from(syms, (s) => s.length);

    // Pair table: slot per (a, b); counts weighted by word frequency; words where the pair was created.
    const pairA: number[] = [];
    const pairB: number[] = [];
    const pairCount: number[] = [];
    const pairWords: number[][] = [];
    const index: (Map<number, number> | undefined)[] = [];
    const slotOf = (a: number, b: number): number => {
      let m = index[a];
      if (m === undefined) {
        m = new Map();
        index[a] = m;
      }
      let s = m.get(b);
      if (s === undefined) {
        s = pairA.length;
        pairA.push(a);
        pairB.push(b);
        pairCount.push(0);
        pairWords.push([]);
        m.set(b, s);
      }
      return s;
    };
    for (let w = 0; w < syms.length; w++) {
      const s = syms[w];
      for (let i = 0; i + 1 < s.length; i++) {
        const slot = slotOf(s[i], s[i + 1]);
        pairCount[slot] += wcount[w];
        const list = pairWords[slot];
        if (list[list.length - 1] !== w) list.push(w);
      }
    }
    const heap = new PairHeap(pairA, pairB);
    for (let s = 0; s < pairCount.length; s++) if (pairCount[s] > 0) heap.push(pairCount[s], s);

    const touched: number[] = [];
    const touchedAt: number[] = [];
    const visited = new Int32Array(syms.length);
    let iter = 0;
    const inc = (a: number, b: number, c: number, w: number) => {
      const slot = slotOf(a, b);
      pairCount[slot] += c;
      const list = pairWords[slot];
      if (list[list.length - 1] !== w) list.push(w);
      if (touchedAt[slot] !== iter) {
        touchedAt[slot] = iter;
        touched.push(slot);
      }
    };
    const dec = (a: number, b: number, c: number) => {
      pairCount[index[a]!.get(b)!] -= c;
    };

    let merges = 0;
    const minCount = Math.max(1, minFrequency);
    while (tokens.length < vocabSize && heap.size > 0) {
      const [count, slot] = heap.pop();
      const actual = pairCount[slot];
      if (count !== actual) {
        if (actual > 0) heap.push(actual, slot);
        continue;
      }
      if (actual < minCount) break;
      const a = pairA[slot];
      const b = pairB[slot];
      const tb = tokens[b];
      const x = add(tokens[a] + (tb.startsWith(PREFIX) ? tb.slice(PREFIX.length) : tb));
      merges++;
      iter++;
      const list = pairWords[slot];
      pairWords[slot] = [];
      for (const w of list) {
        if (visited[w] === iter) continue;
        visited[w] = iter;
        // Merge every (a, b) of word w, left to right, updating the neighbouring pairs' counts.
        const s = syms[w];
        const n = lens[w];
        const c = wcount[w];
        let out = 0;
        let i = 0;
        while (i < n) {
          if (i + 1 < n && s[i] === a && s[i + 1] === b) {
            if (out > 0) {
              dec(s[out - 1], a, c);
              inc(s[out - 1], x, c, w);
            }
            dec(a, b, c);
            if (i + 2 < n) {
              dec(b, s[i + 2], c);
              inc(x, s[i + 2], c, w);
            }
            s[out++] = x;
            i += 2;
          } else {
            s[out++] = s[i++];
          }
        }
        lens[w] = out;
      }
      for (const t of touched) if (pairCount[t] > 0) heap.push(pairCount[t], t);
      touched.length = 0;
    }

    const { lowercase, stripAccents, handleChineseChars } = this.options;
    return {
      tokens,
      vocabTxt: `${tokens.join("\n")}\n`,
      tokenizerConfig: JSON.stringify({
        do_lower_case: lowercase,
        strip_accents: stripAccents,
        tokenize_chinese_chars: handleChineseChars,
        unk_token: "[UNK]",
        sep_token: "[SEP]",
        pad_token: "[PAD]",
        cls_token: "[CLS]",
        mask_token: "[MASK]",
        tokenizer_class: "BertTokenizer",
      }),
      alphabetSize: alphabet.length,
      merges,
      distinctWords: entries.length,
      totalWords: this.#total,
    };
  }
}

/** Trains a WordPiece vocab from texts (sentences, lines or documents' text). */
export function trainWordPiece(
  texts: Iterable<string>,
  options: WordPieceTrainerOptions = {},
): TrainedWordPiece {
  return new WordPieceTrainer(options).feedAll(texts).train();
}
