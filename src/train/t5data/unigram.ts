// SentencePiece Unigram vocabulary training, so a T5 can be pretrained from nothing. The algorithm of
// SentencePiece's unigram_model_trainer.cc (Kudo 2018), on words:
// 1. Text → words the way the T5 tokenizer built from the result sees them (spieceToTokenizerJson →
//    t5TokenizerFromJson): special tokens in the raw text (<pad> </s> <unk> <extra_id_N>) are boundaries;
//    runs of Unicode White_Space split words (remove_extra_whitespaces); each word gets a "▁" in front
//    unless it starts with one (add_dummy_prefix) and is split before every further "▁" (Metaspace).
//    No other normalization: the model's normalizer is "identity" (no NFKC, no precompiled charsmap), so
//    the tokenizer and the trainer see the same characters. Words are counted.
// 2. Required characters: the most frequent code points covering `characterCoverage` of all characters
//    (default 1: every character seen). They are always in the vocab; other characters become <unk>.
// 3. Seed pieces: every substring (≤ maxPieceLength code points) of every word, counted with the word's
//    frequency in a depth-limited suffix trie built one depth at a time (only substrings seen twice are
//    extended, which keeps it small on text without spaces); a substring is a candidate when it has ≥ 2 characters,
//    occurs ≥ 2 times, is a valid piece (SentencePiece's IsValidSentencePiece: "▁" only first, no mixing
//    of Unicode scripts, Inherited marks join the previous script, Hiragana/Katakana count as Han;
//    optionally digits alone) and is right-branching (not always followed by the same character, as the
//    internal nodes of SentencePiece's suffix array). Seeds = required characters (score: count) + the
//    best candidates by count × length (SentencePiece's seed score), up to `seedSize`; log-normalized.
// 4. EM: the E step runs forward–backward over each word's lattice of pieces (expected counts, weighted
//    by word frequency); the M step drops pieces expected < 0.5 times and sets score = digamma(count) −
//    digamma(total) (SentencePiece's Bayesian EM). `numSubIterations` E/M steps per round; then, until
//    the pieces are ≤ 1.1 × vocabSize, prune: each piece's loss is the drop in corpus likelihood when its
//    Viterbi occurrences are re-segmented by its best alternative segmentation; the lowest-loss pieces go,
//    keeping max(1.1 × vocabSize, shrinkingFactor × size) pieces. Required characters are never pruned;
//    one the M step would drop keeps the unknown-piece score (lowest score − 10), as SentencePiece gives
//    a character missing from its model.
// 5. Final vocab: <pad> (0), </s> (1), <unk> (2) as T5, then the required characters (one the last M
//    step dropped scores the lowest score + 0.0001·k, as FinalizeSentencePieces) and the best-scored
//    pieces up to `vocabSize` pieces in all, sorted by score (ties: code points), scores as float32.
//    Fewer pieces only when the corpus keeps fewer alive (SentencePiece stops with an error there).
//    The tokenizer appends `extraIds` sentinels: <extra_id_N> has id pieces + extraIds − 1 − N.
// Differences from SentencePiece: words rather than sentences feed the seed count (so seeds are weighted
// by word frequency, as split_by_whitespace training counts them afterwards); in the prune loss the new
// total is sum + freq × (pieces in this piece's alternative − 1) (SentencePiece's code takes the size
// of the whole alternatives table there, a slip); required characters stay in the model throughout; no
// sentence sampling, byte fallback, user-defined symbols or U+2047 rule. Deterministic for a given corpus
// (order included) and options. Pure, no Node imports.

import type { SentencePiece, SentencePieceModel } from "../../tokenizers/sentencepiece-proto.ts";
import { spieceToTokenizerJson, type T5TokenizerJson, t5TokenizerFromJson } from "../../tokenizers/t5.ts";
import type { Tokenizer } from "../../tokenizers/types.ts";

export const T5_PAD = "<pad>";
export const T5_EOS = "</s>";
export const T5_UNK = "<unk>";
const META = "\u2581";
const META_CP = 0x2581;
/** Runs of non-White_Space (the T5 tokenizer's WhitespaceSplit uses Unicode White_Space). */
const WORDS = /[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/g;
/** SentencePiece's kUnkPenalty: a character missing from the model scores the lowest score − 10. */
const UNK_PENALTY = 10;
/** SentencePiece's kExpectedFrequencyThreshold. */
const MIN_EXPECTED = 0.5;

export interface UnigramTrainerOptions {
  /** Pieces in the SentencePiece model, <pad> </s> <unk> included (T5: 32000). The tokenizer adds
   * `extraIds` sentinels on top. Fewer pieces only when the corpus has fewer candidates. Default 32000. */
  vocabSize?: number;
  /** Sentinels <extra_id_0> … the tokenizer appends (T5: 100). Default 100. */
  extraIds?: number;
  /** Fraction of all characters (by count) the required characters must cover. Default 1 (all). */
  characterCoverage?: number;
  /** Longest piece, in code points. Default 16. */
  maxPieceLength?: number;
  /** Seed pieces (required characters included). Default 1_000_000 (SentencePiece's). */
  seedSize?: number;
  /** Fraction of the pieces kept by each prune. Default 0.75. */
  shrinkingFactor?: number;
  /** E/M steps between prunes. Default 2. */
  numSubIterations?: number;
  /** Pieces never mix Unicode scripts. Default true. */
  splitByUnicodeScript?: boolean;
  /** Digits 0-9 only as one-character pieces. Default false. */
  splitDigits?: boolean;
}

export interface UnigramRound {
  /** Pieces after the round's EM steps (before its prune). */
  pieces: number;
  /** Negative log-likelihood per word occurrence at the last E step. */
  objective: number;
}

export interface TrainedUnigram {
  /** The SentencePiece model (what spiece.model holds; serializeSentencePieceModel writes it). */
  model: SentencePieceModel;
  /** tokenizer_config.json for it (extra_ids, special tokens). */
  tokenizerConfig: T5TokenizerConfig;
  /** tokenizer.json: spieceToTokenizerJson(model, tokenizerConfig). */
  tokenizerJson: T5TokenizerJson;
  /** Distinct characters seen / kept as required characters. */
  alphabetSize: number;
  requiredChars: number;
  /** Distinct words / word occurrences counted. */
  distinctWords: number;
  totalWords: number;
  /** Seed pieces (required characters included). */
  seedPieces: number;
  /** One entry per EM round (the last one was not pruned). */
  rounds: UnigramRound[];
}

export interface T5TokenizerConfig {
  tokenizer_class: "T5Tokenizer";
  eos_token: string;
  unk_token: string;
  pad_token: string;
  extra_ids: number;
  additional_special_tokens: string[];
  model_max_length: number;
  clean_up_tokenization_spaces: boolean;
}

// ---------------------------------------------------------------------------------------------
// Unicode scripts (for SentencePiece's split_by_unicode_script).

const SCRIPT_NAMES = (
  "Latin Common Inherited Han Hiragana Katakana Hangul Cyrillic Greek Arabic Hebrew Devanagari Thai " +
  "Adlam Ahom Anatolian_Hieroglyphs Armenian Avestan Balinese Bamum Bassa_Vah Batak Bengali Bhaiksuki " +
  "Bopomofo Brahmi Braille Buginese Buhid Canadian_Aboriginal Carian Caucasian_Albanian Chakma Cham " +
  "Cherokee Chorasmian Coptic Cuneiform Cypriot Cypro_Minoan Deseret Dives_Akuru Dogra Duployan " +
  "Egyptian_Hieroglyphs Elbasan Elymaic Ethiopic Georgian Glagolitic Gothic Grantha Gujarati Gunjala_Gondi " +
  "Gurmukhi Hanifi_Rohingya Hanunoo Hatran Imperial_Aramaic Inscriptional_Pahlavi Inscriptional_Parthian " +
  "Javanese Kaithi Kannada Kawi Kayah_Li Kharoshthi Khitan_Small_Script Khmer Khojki Khudawadi Lao " +
  "Lepcha Limbu Linear_A Linear_B Lisu Lycian Lydian Mahajani Makasar Malayalam Mandaic Manichaean " +
  "Marchen Masaram_Gondi Medefaidrin Meetei_Mayek Mende_Kikakui Meroitic_Cursive Meroitic_Hieroglyphs " +
  "Miao Modi Mongolian Mro Multani Myanmar Nabataean Nag_Mundari Nandinagari New_Tai_Lue Newa Nko Nushu " +
  "Nyiakeng_Puachue_Hmong Ogham Ol_Chiki Old_Hungarian Old_Italic Old_North_Arabian Old_Permic Old_Persian " +
  "Old_Sogdian Old_South_Arabian Old_Turkic Old_Uyghur Oriya Osage Osmanya Pahawh_Hmong Palmyrene " +
  "Pau_Cin_Hau Phags_Pa Phoenician Psalter_Pahlavi Rejang Runic Samaritan Saurashtra Sharada Shavian " +
  "Siddham SignWriting Sinhala Sogdian Sora_Sompeng Soyombo Sundanese Syloti_Nagri Syriac Tagalog " +
  "Tagbanwa Tai_Le Tai_Tham Tai_Viet Takri Tamil Tangsa Tangut Telugu Thaana Tibetan Tifinagh Tirhuta " +
  "Toto Ugaritic Vai Vithkuqi Wancho Warang_Citi Yezidi Yi Zanabazar_Square"
).split(" ");
/** Script class "any" (the "▁"): never conflicts. */
const ANY_SCRIPT = -1;
/** Inherited (combining marks): takes the script of the character before. */
const INHERITED = -2;
let scriptTests: { index: number; re: RegExp }[] | undefined;

/** The script class of a code point: an index into SCRIPT_NAMES, ANY_SCRIPT or INHERITED. */
function scriptClass(cp: number): number {
  if (cp === META_CP) return ANY_SCRIPT;
  if (scriptTests === undefined) {
    scriptTests = [];
    for (let i = 0; i < SCRIPT_NAMES.length; i++) {
      try {
        scriptTests.push({ index: i, re: new RegExp(`^\\p{Script=${SCRIPT_NAMES[i]}}$`, "u") });
      } catch {
        // A script this engine's Unicode version does not know: its characters are "unknown".
      }
    }
  }
  const ch = String.fromCodePoint(cp);
  const han = SCRIPT_NAMES.indexOf("Han");
  if (cp === 0x30fc) return han; // KATAKANA-HIRAGANA PROLONGED SOUND MARK, as SentencePiece
  for (const { index, re } of scriptTests) {
    if (!re.test(ch)) continue;
    const name = SCRIPT_NAMES[index];
    if (name === "Inherited") return INHERITED;
    return name === "Hiragana" || name === "Katakana" ? han : index;
  }
  return SCRIPT_NAMES.length; // Unknown (unassigned, lone surrogates)
}

function isDigit(cp: number): boolean {
  return cp >= 0x30 && cp <= 0x39;
}

/** SentencePiece's Digamma (asymptotic series after shifting x ≥ 7). */
export function digamma(x: number): number {
  let result = 0;
  for (; x < 7; ++x) result -= 1 / x;
  x -= 1 / 2;
  const xx = 1 / x;
  const xx2 = xx * xx;
  const xx4 = xx2 * xx2;
  result +=
    Math.log(x) + (1 / 24) * xx2 - (7 / 960) * xx4 + (31 / 8064) * xx4 * xx2 - (127 / 30720) * xx4 * xx4;
  return result;
}

function logAdd(a: number, b: number): number {
  if (a === Number.NEGATIVE_INFINITY) return b;
  if (b === Number.NEGATIVE_INFINITY) return a;
  return a > b ? a + Math.log1p(Math.exp(b - a)) : b + Math.log1p(Math.exp(a - b));
}

function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    i += x > 0xffff ? 2 : 1;
  }
  return a.length - b.length;
}

/** A growable Int32Array. */
class IntBuf {
  data: Int32Array;
  length = 0;
  constructor(capacity = 1024) {
    this.data = new Int32Array(Math.max(16, capacity));
  }
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Int32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  toArray(): Int32Array {
    return this.data.slice(0, this.length);
  }
}

/** A growable Float64Array. */
class FloatBuf {
  data: Float64Array;
  length = 0;
  constructor(capacity = 1024) {
    this.data = new Float64Array(Math.max(16, capacity));
  }
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
}

/** Lattices in CSR form: for item i, matches off[i] … off[i+1]−1 as [from, to) code point ranges and a
 * piece id, sorted by `from` (then `to`). */
interface Lattices {
  off: Int32Array;
  from: Int32Array;
  to: Int32Array;
  piece: Int32Array;
}

function sentinelTokens(extraIds: number): string[] {
  return Array.from({ length: extraIds }, (_, i) => `<extra_id_${i}>`);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Counts words from text fed piece by piece (streaming), then trains a Unigram SentencePiece model. */
export class UnigramTrainer {
  readonly options: Required<UnigramTrainerOptions>;
  readonly #counts = new Map<string, number>();
  readonly #specials: RegExp;
  #total = 0;

  constructor(options: UnigramTrainerOptions = {}) {
    this.options = {
      vocabSize: options.vocabSize ?? 32000,
      extraIds: options.extraIds ?? 100,
      characterCoverage: options.characterCoverage ?? 1,
      maxPieceLength: options.maxPieceLength ?? 16,
      seedSize: options.seedSize ?? 1_000_000,
      shrinkingFactor: options.shrinkingFactor ?? 0.75,
      numSubIterations: options.numSubIterations ?? 2,
      splitByUnicodeScript: options.splitByUnicodeScript ?? true,
      splitDigits: options.splitDigits ?? false,
    };
    const o = this.options;
    const int = (name: keyof UnigramTrainerOptions, v: number, min: number) => {
      if (!Number.isInteger(v) || v < min)
        throw new RangeError(`Unigram trainer: ${name} must be an integer ≥ ${min}, got ${v}`);
    };
    int("vocabSize", o.vocabSize, 4);
    int("extraIds", o.extraIds, 0);
    int("maxPieceLength", o.maxPieceLength, 1);
    int("seedSize", o.seedSize, 1);
    int("numSubIterations", o.numSubIterations, 1);
    if (!(o.characterCoverage > 0 && o.characterCoverage <= 1))
      throw new RangeError(
        `Unigram trainer: characterCoverage must be in (0, 1], got ${o.characterCoverage}`,
      );
    if (!(o.shrinkingFactor > 0 && o.shrinkingFactor < 1))
      throw new RangeError(`Unigram trainer: shrinkingFactor must be in (0, 1), got ${o.shrinkingFactor}`);
    const specials = [T5_PAD, T5_EOS, T5_UNK, ...sentinelTokens(o.extraIds)];
    specials.sort((a, b) => b.length - a.length);
    this.#specials = new RegExp(specials.map(escapeRegExp).join("|"), "g");
  }

  /** The words of a text as the trained tokenizer's Unigram model will see them ("▁word", …). */
  words(text: string): string[] {
    const out: string[] = [];
    const sections = text.includes("<") ? text.split(this.#specials) : [text];
    for (const section of sections) {
      const m = section.match(WORDS);
      if (!m) continue;
      for (const w of m) {
        const word = w.startsWith(META) ? w : META + w;
        let from = 0;
        for (let i = word.indexOf(META, 1); i >= 0; i = word.indexOf(META, i + 1)) {
          out.push(word.slice(from, i));
          from = i;
        }
        out.push(from === 0 ? word : word.slice(from));
      }
    }
    return out;
  }

  /** Counts the words of a text (a sentence, a line, a document…). */
  feed(text: string): this {
    const counts = this.#counts;
    for (const w of this.words(text)) {
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

  /** Learns the model from the words counted so far. */
  train(): TrainedUnigram {
    const o = this.options;
    const entries = [...this.#counts];
    const numWords = entries.length;

    // Characters: dense ids in order of first appearance; words as id sequences (CSR).
    const charIdOf = new Map<number, number>();
    const charCps: number[] = [];
    const charCount: number[] = [];
    const wordOff = new Int32Array(numWords + 1);
    const wordFreq = new Float64Array(numWords);
    const text = new IntBuf(1 << 16);
    let maxWordLen = 0;
    for (let w = 0; w < numWords; w++) {
      const [word, count] = entries[w];
      wordFreq[w] = count;
      for (const ch of word) {
        const cp = ch.codePointAt(0)!;
        let id = charIdOf.get(cp);
        if (id === undefined) {
          id = charCps.length;
          charIdOf.set(cp, id);
          charCps.push(cp);
          charCount.push(0);
        }
        charCount[id] += count;
        text.push(id);
      }
      wordOff[w + 1] = text.length;
      maxWordLen = Math.max(maxWordLen, text.length - wordOff[w]);
    }
    const chars = text.data;
    const A = charCps.length;

    // Required characters: by count (ties: code point) until the coverage is reached, as SentencePiece.
    const byCount = Array.from({ length: A }, (_, i) => i).sort(
      (x, y) => charCount[y] - charCount[x] || charCps[x] - charCps[y],
    );
    let allChars = 0;
    for (const c of charCount) allChars += c;
    const required = new Uint8Array(A);
    const requiredList: number[] = [];
    let covered = 0;
    for (const c of byCount) {
      if (covered > allChars * o.characterCoverage) break;
      covered += charCount[c];
      required[c] = 1;
      requiredList.push(c);
    }
    const target = o.vocabSize - 3;
    if (requiredList.length > target) {
      throw new RangeError(
        `Unigram trainer: vocabSize ${o.vocabSize} leaves room for ${target} pieces but the corpus needs ` +
          `${requiredList.length} characters; raise vocabSize or lower characterCoverage`,
      );
    }
    const script = Int32Array.from(charCps, (cp) => (o.splitByUnicodeScript ? scriptClass(cp) : 0));
    const digit = Uint8Array.from(charCps, (cp) => (o.splitDigits && isDigit(cp) ? 1 : 0));
    const metaId = charIdOf.get(META_CP) ?? -1;

    // Depth-limited suffix trie of valid pieces, counts weighted by word frequency, built one depth at a
    // time: only substrings seen at least twice are extended (a candidate needs 2), which keeps the trie
    // small on text without spaces. One child map per depth (a Map holds at most 2^24 entries).
    const children: Map<number, number>[] = [];
    const parent = new IntBuf(1 << 16);
    const lastChar = new IntBuf(1 << 16);
    const depth = new IntBuf(1 << 16);
    const onlyChild = new IntBuf(1 << 16); // -1: none, -2: several
    const nodeCount = new FloatBuf(1 << 16);
    parent.push(-1);
    lastChar.push(-1);
    depth.push(0);
    onlyChild.push(-2);
    nodeCount.push(0);
    const maxLen = o.maxPieceLength;
    const numPositions = text.length;
    const at = new Int32Array(numPositions); // node of the substring starting here; -1: not extended
    const prevScript = new Int32Array(numPositions).fill(ANY_SCRIPT);
    const wordOf = new Int32Array(numPositions);
    for (let w = 0; w < numWords; w++) wordOf.fill(w, wordOff[w], wordOff[w + 1]);
    for (let d = 0; d < maxLen; d++) {
      const map = new Map<number, number>();
      children.push(map);
      let extended = 0;
      for (let s = 0; s < numPositions; s++) {
        const node = at[s];
        if (node < 0) continue;
        const w = wordOf[s];
        const j = s + d;
        if ((d > 0 && nodeCount.data[node] < 2) || j >= wordOff[w + 1]) {
          at[s] = -1;
          continue;
        }
        const c = chars[j];
        let valid = required[c] === 1;
        if (valid && d > 0) valid = c !== metaId && !digit[c] && !(d === 1 && digit[chars[s]]);
        if (valid && c !== metaId) {
          let sc = script[c];
          const ps = prevScript[s];
          if (sc === INHERITED) sc = ps;
          valid = sc === ANY_SCRIPT || ps === ANY_SCRIPT || sc === ps;
          prevScript[s] = sc;
        }
        if (!valid) {
          at[s] = -1;
          continue;
        }
        const key = node * A + c;
        let child = map.get(key);
        if (child === undefined) {
          child = parent.length;
          map.set(key, child);
          parent.push(node);
          lastChar.push(c);
          depth.push(d + 1);
          onlyChild.push(-1);
          nodeCount.push(0);
          const oc = onlyChild.data[node];
          onlyChild.data[node] = oc === -1 ? child : -2;
        }
        nodeCount.data[child] += wordFreq[w];
        at[s] = child;
        extended++;
      }
      if (extended === 0) break;
    }
    const numNodes = parent.length;
    const count = nodeCount.data;

    // Seeds: required characters, then the best right-branching substrings by count × length.
    const pieceNodes: number[] = [];
    const seedScore: number[] = [];
    for (const c of requiredList) {
      pieceNodes.push(children[0].get(c)!);
      seedScore.push(charCount[c]);
    }
    const numChars = requiredList.length;
    const candidates: number[] = [];
    for (let v = 1; v < numNodes; v++) {
      if (depth.data[v] < 2 || count[v] < 2) continue;
      const oc = onlyChild.data[v];
      if (oc >= 0 && count[oc] === count[v]) continue;
      candidates.push(v);
    }
    const candScore = (v: number) => count[v] * depth.data[v];
    if (candidates.length > o.seedSize - numChars) {
      candidates.sort((x, y) => candScore(y) - candScore(x) || x - y);
      candidates.length = Math.max(0, o.seedSize - numChars);
    }
    for (const v of candidates) {
      pieceNodes.push(v);
      seedScore.push(candScore(v));
    }
    const numPieces = pieceNodes.length;
    const UNK = numPieces; // pseudo piece for characters that are not required
    const pieceOf = new Int32Array(numNodes).fill(-1);
    for (let p = 0; p < numPieces; p++) pieceOf[pieceNodes[p]] = p;
    const scores = new Float64Array(numPieces + 1);
    {
      let sum = 0;
      for (const s of seedScore) sum += s;
      const logSum = Math.log(sum);
      for (let p = 0; p < numPieces; p++) scores[p] = Math.log(seedScore[p]) - logSum;
      let min = 0;
      for (let p = 0; p < numPieces; p++) min = Math.min(min, scores[p]);
      scores[UNK] = min - UNK_PENALTY;
    }
    const alive = new Uint8Array(numPieces + 1).fill(1);
    let aliveCount = numPieces;

    /** All seed-piece matches of a code point sequence (chars[from, to)), appended to the buffers. */
    const collect = (seq: Int32Array, from: number, to: number, mf: IntBuf, mt: IntBuf, mp: IntBuf) => {
      for (let s = from; s < to; s++) {
        let node = 0;
        if (!required[seq[s]]) {
          mf.push(s - from);
          mt.push(s - from + 1);
          mp.push(UNK);
          continue;
        }
        const stop = Math.min(to, s + children.length);
        for (let j = s; j < stop; j++) {
          const child = children[j - s].get(node * A + seq[j]);
          if (child === undefined) break;
          node = child;
          const p = pieceOf[node];
          if (p >= 0) {
            mf.push(s - from);
            mt.push(j + 1 - from);
            mp.push(p);
          }
        }
      }
    };
    const buildLattices = (
      n: number,
      seq: Int32Array,
      off: ArrayLike<number>,
      include: (i: number) => boolean = () => true,
    ): Lattices => {
      const mf = new IntBuf(1 << 16);
      const mt = new IntBuf(1 << 16);
      const mp = new IntBuf(1 << 16);
      const latOff = new Int32Array(n + 1);
      for (let i = 0; i < n; i++) {
        if (include(i)) collect(seq, off[i], off[i + 1], mf, mt, mp);
        latOff[i + 1] = mf.length;
      }
      return { off: latOff, from: mf.toArray(), to: mt.toArray(), piece: mp.toArray() };
    };
    /** Drops the matches of dead pieces (in place). */
    const compact = (lat: Lattices) => {
      let k = 0;
      let start = 0;
      for (let i = 0; i + 1 < lat.off.length; i++) {
        const end = lat.off[i + 1];
        for (let m = start; m < end; m++) {
          if (!alive[lat.piece[m]]) continue;
          lat.from[k] = lat.from[m];
          lat.to[k] = lat.to[m];
          lat.piece[k] = lat.piece[m];
          k++;
        }
        start = end;
        lat.off[i + 1] = k;
      }
    };
    const words = buildLattices(numWords, chars, wordOff);

    const alpha = new Float64Array(maxWordLen + 1);
    const beta = new Float64Array(maxWordLen + 1);
    const expected = new Float64Array(numPieces + 1);
    const NEG = Number.NEGATIVE_INFINITY;

    /** E step: expected piece counts; returns the negative log-likelihood per word occurrence. */
    const eStep = (): number => {
      expected.fill(0);
      let nll = 0;
      let occurrences = 0;
      const { off, from, to, piece } = words;
      for (let w = 0; w < numWords; w++) {
        const len = wordOff[w + 1] - wordOff[w];
        const ms = off[w];
        const me = off[w + 1];
        alpha.fill(NEG, 0, len + 1);
        alpha[0] = 0;
        for (let m = ms; m < me; m++) {
          const a = alpha[from[m]];
          if (a === NEG) continue;
          const t = to[m];
          alpha[t] = logAdd(alpha[t], a + scores[piece[m]]);
        }
        const z = alpha[len];
        const f = wordFreq[w];
        nll -= f * z;
        occurrences += f;
        beta.fill(NEG, 0, len + 1);
        beta[len] = 0;
        for (let m = me - 1; m >= ms; m--) {
          const b = beta[to[m]];
          if (b === NEG) continue;
          const fr = from[m];
          const sb = scores[piece[m]] + b;
          beta[fr] = logAdd(beta[fr], sb);
          const a = alpha[fr];
          if (a !== NEG) expected[piece[m]] += f * Math.exp(a + sb - z);
        }
      }
      return nll / occurrences;
    };

    /** M step: drops rarely expected pieces (not required characters), digamma scores. */
    const mStep = () => {
      let sum = 0;
      for (let p = numChars; p < numPieces; p++) {
        if (!alive[p]) continue;
        if (expected[p] < MIN_EXPECTED) {
          alive[p] = 0;
          aliveCount--;
        } else sum += expected[p];
      }
      for (let p = 0; p < numChars; p++) if (expected[p] >= MIN_EXPECTED) sum += expected[p];
      const logSum = digamma(sum);
      let min = 0;
      for (let p = 0; p < numPieces; p++) {
        if (!alive[p] || expected[p] < MIN_EXPECTED) continue;
        scores[p] = digamma(expected[p]) - logSum;
        min = Math.min(min, scores[p]);
      }
      for (let p = 0; p < numChars; p++) if (expected[p] < MIN_EXPECTED) scores[p] = min - UNK_PENALTY;
      scores[UNK] = min - UNK_PENALTY;
    };

    // Piece strings as char-id sequences (for their own lattices when pruning), built on first prune.
    let pieceLattices: Lattices | undefined;
    const pieceChars = () => {
      const off = new Int32Array(numPieces + 1);
      for (let p = 0; p < numPieces; p++) off[p + 1] = off[p] + depth.data[pieceNodes[p]];
      const seq = new Int32Array(off[numPieces]);
      for (let p = 0; p < numPieces; p++) {
        let v = pieceNodes[p];
        for (let k = off[p + 1] - 1; k >= off[p]; k--) {
          seq[k] = lastChar.data[v];
          v = parent.data[v];
        }
      }
      return { seq, off };
    };

    const best = new Float64Array(Math.max(maxWordLen, maxLen) + 1);
    const back = new Int32Array(Math.max(maxWordLen, maxLen) + 1);
    /** Viterbi over matches ms…me−1 of a sequence of `len` code points, skipping match `skip`; returns
     * the best score (best path in `back`), −∞ when there is none. */
    const viterbi = (lat: Lattices, ms: number, me: number, len: number, skip: number): number => {
      best.fill(NEG, 0, len + 1);
      best[0] = 0;
      const { from, to, piece } = lat;
      for (let m = ms; m < me; m++) {
        if (m === skip) continue;
        const a = best[from[m]];
        if (a === NEG) continue;
        const v = a + scores[piece[m]];
        const t = to[m];
        if (v > best[t]) {
          best[t] = v;
          back[t] = m;
        }
      }
      return best[len];
    };

    const prune = () => {
      if (!pieceLattices) {
        const { seq, off } = pieceChars();
        pieceLattices = buildLattices(numPieces, seq, off, (p) => alive[p] === 1);
      }
      compact(pieceLattices);
      const pl = pieceLattices;
      // Alternatives: the best segmentation of each piece without itself.
      const altOff = new Int32Array(numPieces + 1);
      const alt = new IntBuf(1 << 12);
      const keepAlways = new Uint8Array(numPieces);
      const splitBest = new Uint8Array(numPieces);
      for (let p = 0; p < numPieces; p++) {
        if (alive[p] && p >= numChars) {
          const ms = pl.off[p];
          const me = pl.off[p + 1];
          const len = depth.data[pieceNodes[p]];
          let self = -1;
          for (let m = ms; m < me; m++) if (pl.from[m] === 0 && pl.to[m] === len) self = m;
          const other = viterbi(pl, ms, me, len, self);
          if (other === NEG) keepAlways[p] = 1;
          else if (other > scores[p]) splitBest[p] = 1;
          else {
            const startAt = alt.length;
            for (let t = len; t > 0; t = pl.from[back[t]]) alt.push(pl.piece[back[t]]);
            alt.data.subarray(startAt, alt.length).reverse();
          }
        }
        altOff[p + 1] = alt.length;
      }
      // Viterbi frequencies over the corpus.
      const freq = new Float64Array(numPieces + 1);
      let vsum = 0;
      for (let w = 0; w < numWords; w++) {
        const len = wordOff[w + 1] - wordOff[w];
        if (viterbi(words, words.off[w], words.off[w + 1], len, -1) === NEG) continue;
        const f = wordFreq[w];
        vsum += f;
        for (let t = len; t > 0; t = words.from[back[t]]) freq[words.piece[back[t]]] += f;
      }
      let sum = 0;
      for (let p = 0; p < numPieces; p++) sum += freq[p];
      const logSum = Math.log(sum);
      const desired = Math.floor(o.vocabSize * 1.1);
      const prunedSize = Math.max(desired, Math.floor(o.shrinkingFactor * aliveCount));
      const keep: number[] = [];
      const cand: number[] = [];
      const loss = new Float64Array(numPieces);
      for (let p = 0; p < numPieces; p++) {
        if (!alive[p]) continue;
        if (p < numChars || keepAlways[p]) keep.push(p);
        else if (freq[p] === 0 || splitBest[p]) continue;
        else {
          const a0 = altOff[p];
          const a1 = altOff[p + 1];
          const logProb = Math.log(freq[p]) - logSum;
          const logSumAlt = Math.log(sum + freq[p] * (a1 - a0 - 1));
          let logProbAlt = 0;
          for (let k = a0; k < a1; k++) logProbAlt += Math.log(freq[alt.data[k]] + freq[p]) - logSumAlt;
          loss[p] = (freq[p] / vsum) * (logProb - logProbAlt);
          cand.push(p);
        }
      }
      cand.sort((x, y) => loss[y] - loss[x] || x - y);
      for (const p of cand) {
        if (keep.length >= prunedSize) break;
        keep.push(p);
      }
      alive.fill(0, 0, numPieces);
      for (const p of keep) alive[p] = 1;
      aliveCount = keep.length;
    };

    const rounds: UnigramRound[] = [];
    const desired = Math.floor(o.vocabSize * 1.1);
    for (;;) {
      let objective = 0;
      for (let iter = 0; iter < o.numSubIterations; iter++) {
        objective = eStep();
        mStep();
        compact(words);
      }
      rounds.push({ pieces: aliveCount, objective });
      if (aliveCount <= desired) break;
      const before = aliveCount;
      prune();
      compact(words);
      if (aliveCount >= before) break; // cannot happen (see prune), but never loop forever
    }

    // Final pieces: required characters, then the best-scored pieces, all sorted by score.
    const pieceString = (p: number): string => {
      const cps: number[] = [];
      for (let v = pieceNodes[p]; v > 0; v = parent.data[v]) cps.push(charCps[lastChar.data[v]]);
      return String.fromCodePoint(...cps.reverse());
    };
    let minScore = 0;
    for (let p = 0; p < numPieces; p++)
      if (alive[p] && (p >= numChars || expected[p] >= MIN_EXPECTED))
        minScore = Math.min(minScore, scores[p]);
    const chosen: { piece: string; score: number }[] = [];
    let penalty = 0;
    for (let p = 0; p < numChars; p++) {
      let score = scores[p];
      if (expected[p] < MIN_EXPECTED) {
        // SentencePiece's FinalizeSentencePieces: a required character missing from the model.
        score = minScore + penalty;
        penalty += 0.0001;
      }
      chosen.push({ piece: pieceString(p), score: Math.fround(score) });
    }
    const rest: { piece: string; score: number }[] = [];
    for (let p = numChars; p < numPieces; p++) {
      if (alive[p]) rest.push({ piece: pieceString(p), score: Math.fround(scores[p]) });
    }
    const byScore = (x: { piece: string; score: number }, y: { piece: string; score: number }) =>
      y.score - x.score || compareCodePoints(x.piece, y.piece);
    rest.sort(byScore);
    for (const r of rest) {
      if (chosen.length >= target) break;
      chosen.push(r);
    }
    chosen.sort(byScore);

    const pieces: SentencePiece[] = [
      { piece: T5_PAD, score: 0, type: "CONTROL" },
      { piece: T5_EOS, score: 0, type: "CONTROL" },
      { piece: T5_UNK, score: 0, type: "UNKNOWN" },
      ...chosen.map((c): SentencePiece => ({ piece: c.piece, score: c.score, type: "NORMAL" })),
    ];
    const model: SentencePieceModel = {
      pieces,
      trainerSpec: {
        modelType: "UNIGRAM",
        vocabSize: pieces.length,
        unkId: 2,
        bosId: -1,
        eosId: 1,
        padId: 0,
        unkPiece: T5_UNK,
        bosPiece: "<s>",
        eosPiece: T5_EOS,
        padPiece: T5_PAD,
        unkSurface: " \u2047 ",
        byteFallback: false,
        splitDigits: o.splitDigits,
        treatWhitespaceAsSuffix: false,
        allowWhitespaceOnlyPieces: false,
        controlSymbols: [],
        userDefinedSymbols: [],
      },
      normalizerSpec: {
        name: "identity",
        precompiledCharsmap: new Uint8Array(0),
        addDummyPrefix: true,
        removeExtraWhitespaces: true,
        escapeWhitespaces: true,
        normalizationRuleTsv: "",
      },
    };
    const tokenizerConfig = t5TokenizerConfig(o.extraIds);
    return {
      model,
      tokenizerConfig,
      tokenizerJson: spieceToTokenizerJson(model, tokenizerConfig),
      alphabetSize: A,
      requiredChars: numChars,
      distinctWords: numWords,
      totalWords: this.#total,
      seedPieces: numPieces,
      rounds,
    };
  }
}

/** tokenizer_config.json for a T5 SentencePiece model with `extraIds` sentinels. */
export function t5TokenizerConfig(extraIds = 100): T5TokenizerConfig {
  return {
    tokenizer_class: "T5Tokenizer",
    eos_token: T5_EOS,
    unk_token: T5_UNK,
    pad_token: T5_PAD,
    extra_ids: extraIds,
    additional_special_tokens: sentinelTokens(extraIds),
    model_max_length: 512,
    clean_up_tokenization_spaces: false,
  };
}

/** Trains a Unigram SentencePiece model for T5 from texts (lines, sentences or documents). */
export function trainUnigram(texts: Iterable<string>, options: UnigramTrainerOptions = {}): TrainedUnigram {
  return new UnigramTrainer(options).feedAll(texts).train();
}

/** The T5 tokenizer of a trained model (tokenizer.json path). */
export function t5TokenizerFromTrained(trained: TrainedUnigram): Tokenizer {
  return t5TokenizerFromJson(trained.tokenizerJson, trained.tokenizerConfig);
}
