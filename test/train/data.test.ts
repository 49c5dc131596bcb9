// Pretraining data (src/train/data): corpus parsing and streaming; WordPiece vocab training (a hand-checked
// merge sequence, determinism, specials and alphabet, target size, loading in our tokenizer and agreeing
// with its pre-tokenization); BERT masking and next-sentence pairs, checked exactly where the rule is exact
// and with seeded statistical tests (binomial bounds at 5 standard errors) where it is random; pair
// truncation; batches and the resumable epoch iterator.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { BertInput } from "../../src/models/bert.ts";
import { loadTokenizerFromFiles } from "../../src/tokenizers/load.ts";
import {
  BertPreTokenizer,
  batchesPerEpoch,
  collateBatch,
  createPairsFromDocument,
  createPretrainingExamples,
  DocumentReader,
  documentsFromLines,
  encodePair,
  epochBatches,
  epochPermutation,
  IGNORE_INDEX,
  linesFromChunks,
  maskTokens,
  mulberry32,
  numToPredict,
  type PretrainingExample,
  type PretrainingVocab,
  parseCorpus,
  pretrainingBatches,
  pretrainingVocab,
  pretrainingVocabFromTokens,
  type Rng,
  roundHalfEven,
  type TokenizedDocument,
  tokenizeDocuments,
  trainWordPiece,
  truncateSeqPair,
  WordPieceTrainer,
} from "../../src/train/data/index.ts";
import { readCorpusFile } from "../../src/train/data/node.ts";

const SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

/** Asserts `k` successes in `n` trials fit probability `p` within `sigmas` binomial standard errors. */
function expectBinomial(k: number, n: number, p: number, sigmas = 5): void {
  const sd = Math.sqrt(n * p * (1 - p));
  expect(n).toBeGreaterThan(0);
  expect(Math.abs(k - n * p), `${k}/${n} vs p = ${p} (sd ${sd.toFixed(1)})`).toBeLessThanOrEqual(sigmas * sd);
}

/** A seeded synthetic corpus: documents of sentences over a small Zipf-like language with accents, case,
 * digits, punctuation and CJK. */
function syntheticCorpus(seed: number, numDocs: number): string {
  const r = mulberry32(seed);
  const syllables = [
    "ka",
    "to",
    "mi",
    "ra",
    "né",
    "su",
    "lo",
    "pe",
    "Di",
    "ga",
    "bu",
    "zé",
    "qu",
    "ñu",
    "th",
  ];
  const types: string[] = [];
  for (let i = 0; i < 400; i++) {
    let w = "";
    for (let k = 1 + Math.floor(r() * 3); k > 0; k--) w += syllables[Math.floor(r() * syllables.length)];
    types.push(w);
  }
  const word = () => {
    const u = r();
    if (u < 0.02) return String(Math.floor(r() * 100));
    if (u < 0.04) return "中文字"[Math.floor(r() * 3)];
    return types[Math.floor(types.length * r() ** 3)];
  };
  const docs: string[] = [];
  for (let d = 0; d < numDocs; d++) {
    const sentences: string[] = [];
    for (let s = 2 + Math.floor(r() * 6); s > 0; s--) {
      const words: string[] = [];
      for (let w = 3 + Math.floor(r() * 10); w > 0; w--) words.push(word() + (r() < 0.1 ? "," : ""));
      words[0] = words[0][0].toUpperCase() + words[0].slice(1);
      sentences.push(`${words.join(" ")}${r() < 0.2 ? "?" : "."}`);
    }
    docs.push(sentences.join("\n"));
  }
  return docs.join("\n\n");
}

/** Groups WordPiece tokens back into words ("##" pieces continue the word before). */
function wordsOfTokens(tokens: string[]): string[] {
  const out: string[] = [];
  for (const t of tokens) {
    if (t.startsWith("##") && out.length > 0) out[out.length - 1] += t.slice(2);
    else out.push(t);
  }
  return out;
}

describe("corpus reader", () => {
  it("splits documents on blank lines, normalizes line endings and skips empty documents", () => {
    const text = "\ufeff\n\n  First one.  \r\nSecond one.\r\n \t \r\n\r\nThird\rFourth\n\n\n\nFifth.\n\n";
    expect(parseCorpus(text)).toEqual([["First one.", "Second one."], ["Third", "Fourth"], ["Fifth."]]);
    expect(parseCorpus("")).toEqual([]);
    expect(parseCorpus("\n \n\r\n\t\n")).toEqual([]);
    expect(parseCorpus("no final newline")).toEqual([["no final newline"]]);
  });

  it("reads line by line, handing out each document when a blank line closes it", () => {
    const reader = new DocumentReader();
    expect(reader.push("a")).toEqual([]);
    expect(reader.push("b\r")).toEqual([]);
    expect(reader.push("   ")).toEqual([["a", "b"]]);
    expect(reader.push("")).toEqual([]);
    expect(reader.push("c\n\nd")).toEqual([["c"]]);
    expect(reader.flush()).toEqual(["d"]);
    expect(reader.flush()).toBeUndefined();
    // A line keeping its terminator is still one line; a bare terminator is a blank line.
    expect(reader.push("x\r\n")).toEqual([]);
    expect(reader.push("y\n")).toEqual([]);
    expect(reader.push("\r\n")).toEqual([["x", "y"]]);
    expect([...documentsFromLines(["x", "", "", "y", "z"])]).toEqual([["x"], ["y", "z"]]);
  });

  it("streams text chunks cut anywhere (also between \\r and \\n) to the same documents", async () => {
    const endings = ["\r\n", "\r", "\n"];
    const text = `${syntheticCorpus(1, 30)
      .split("\n\n")
      .map((doc, d) => doc.split("\n").join(endings[d % 3]) + endings[(d + 1) % 3].repeat(2))
      .join("")}`;
    const expected = parseCorpus(text);
    expect(expected).toHaveLength(30);
    const r = mulberry32(7);
    for (let trial = 0; trial < 20; trial++) {
      const chunks: string[] = [];
      for (let at = 0; at < text.length; ) {
        const len = Math.floor(r() * 40);
        chunks.push(text.slice(at, at + len));
        at += len;
      }
      const lines: string[] = [];
      for await (const line of linesFromChunks(chunks)) lines.push(line);
      expect(lines.some((l) => l.includes("\r") || l.includes("\n"))).toBe(false);
      expect([...documentsFromLines(lines)]).toEqual(expected);
    }
    // "\r" then "\n" in separate chunks is one break, not an extra blank line.
    const lines: string[] = [];
    for await (const line of linesFromChunks(["a\r", "\nb\r", "", "\n\r\n", "c"])) lines.push(line);
    expect(lines).toEqual(["a", "b", "", "c"]);
  });

  it("streams a corpus file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "edgeformer-corpus-"));
    try {
      const text = syntheticCorpus(2, 200);
      const path = join(dir, "corpus.txt");
      await writeFile(path, text.replace(/\n/g, "\r\n"));
      const docs = [];
      for await (const doc of readCorpusFile(path)) docs.push(doc);
      expect(docs).toEqual(parseCorpus(text));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("WordPiece vocab training", () => {
  // hug ×10, pug ×5, pun ×12, bun ×4, hugs ×5 (the Hugging Face course's corpus), merges worked out by
  // hand: (##u,##g) 20, (##u,##n) 16, (h,##ug) 15, (p,##un) 12, then a tie at 5 between (p,##ug) and
  // (hug,##s) that the smaller first id wins (p is in the alphabet), then (hug,##s) 5, (b,##un) 4.
  const handCorpus = [
    ...Array(10).fill("hug"),
    ...Array(5).fill("pug"),
    ...Array(12).fill("pun"),
    ...Array(4).fill("bun"),
    ...Array(5).fill("hugs"),
  ];
  const base = [...SPECIALS, ..."bghnpsu", ..."bghnpsu".split("").map((c) => `##${c}`)];

  it("learns merges in BPE order with ## continuation pieces", () => {
    const all = trainWordPiece(handCorpus, { vocabSize: 100, minFrequency: 1 });
    expect(all.tokens).toEqual([...base, "##ug", "##un", "hug", "pun", "pug", "hugs", "bun"]);
    expect(all.merges).toBe(7);
    expect(all.vocabTxt).toBe(`${all.tokens.join("\n")}\n`);
    // The target size stops it; so does the minimum frequency.
    expect(trainWordPiece(handCorpus, { vocabSize: base.length + 3 }).tokens).toEqual([
      ...base,
      "##ug",
      "##un",
      "hug",
    ]);
    expect(trainWordPiece(handCorpus, { vocabSize: 100, minFrequency: 5 }).tokens.slice(base.length)).toEqual(
      ["##ug", "##un", "hug", "pun", "pug", "hugs"],
    );
    // A target below the base vocab keeps the whole base (every character must stay encodable).
    expect(trainWordPiece(handCorpus, { vocabSize: 3 }).tokens).toEqual(base);
  });

  /** Reference trainer: recounts every pair and rebuilds every word at each step (slow, obviously BPE). */
  function naiveWordPiece(words: Map<string, number>, vocabSize: number, minFrequency: number): string[] {
    const chars = [...new Set([...words.keys()].flatMap((w) => [...w]))].sort();
    const tokens = [...SPECIALS, ...chars, ...chars.map((c) => `##${c}`)];
    const id = new Map(tokens.map((t, i) => [t, i]));
    const segs = [...words].map(([w, c]) => ({ s: [...w].map((ch, i) => (i > 0 ? `##${ch}` : ch)), c }));
    while (tokens.length < vocabSize) {
      const counts = new Map<string, { a: string; b: string; n: number }>();
      for (const { s, c } of segs) {
        for (let i = 0; i + 1 < s.length; i++) {
          const key = `${s[i]} ${s[i + 1]}`;
          const e = counts.get(key) ?? { a: s[i], b: s[i + 1], n: 0 };
          e.n += c;
          counts.set(key, e);
        }
      }
      let best: { a: string; b: string; n: number } | undefined;
      for (const e of counts.values()) {
        const better =
          best === undefined ||
          e.n > best.n ||
          (e.n === best.n &&
            (id.get(e.a)! < id.get(best.a)! || (e.a === best.a && id.get(e.b)! < id.get(best.b)!)));
        if (better) best = e;
      }
      if (best === undefined || best.n < Math.max(1, minFrequency)) break;
      const merged = best.a + best.b.replace(/^##/, "");
      if (!id.has(merged)) {
        id.set(merged, tokens.length);
        tokens.push(merged);
      }
      for (const seg of segs) {
        const out: string[] = [];
        for (let i = 0; i < seg.s.length; i++) {
          if (i + 1 < seg.s.length && seg.s[i] === best.a && seg.s[i + 1] === best.b) {
            out.push(merged);
            i++;
          } else out.push(seg.s[i]);
        }
        seg.s = out;
      }
    }
    return tokens;
  }

  it("matches a from-scratch reference on random corpora (repeats, overlapping pairs, ties)", () => {
    const r = mulberry32(12);
    for (let trial = 0; trial < 30; trial++) {
      const alphabet = "abcdefgh".slice(0, 2 + (trial % 6));
      const texts: string[] = [];
      for (let line = 0; line < 40; line++) {
        const words: string[] = [];
        for (let k = 1 + Math.floor(r() * 8); k > 0; k--) {
          let w = "";
          for (let n = 1 + Math.floor(r() * 10); n > 0; n--) w += alphabet[Math.floor(r() * alphabet.length)];
          words.push(w);
        }
        texts.push(words.join(" "));
      }
      const counts = new Map<string, number>();
      for (const w of texts.flatMap((t) => t.split(" "))) counts.set(w, (counts.get(w) ?? 0) + 1);
      const minFrequency = 1 + (trial % 3);
      const vocabSize = trial % 2 === 0 ? 10000 : 60;
      const got = trainWordPiece(texts, { vocabSize, minFrequency }).tokens;
      expect(got).toEqual(naiveWordPiece(counts, vocabSize, minFrequency));
    }
  });

  const corpus = syntheticCorpus(3, 400);
  const sentences = parseCorpus(corpus).flat();

  it("is deterministic, starts with the specials and holds every character with and without ##", () => {
    const a = trainWordPiece(sentences, { vocabSize: 400 });
    const b = new WordPieceTrainer({ vocabSize: 400 }).feedAll(sentences).train();
    expect(b.vocabTxt).toBe(a.vocabTxt);
    expect(a.tokens.slice(0, 5)).toEqual(SPECIALS);
    expect(new Set(a.tokens).size).toBe(a.tokens.length);
    expect(a.tokens.every((t) => t.length > 0 && !/\s/.test(t))).toBe(true);
    const pre = new BertPreTokenizer();
    const chars = new Set(sentences.flatMap((s) => pre.words(s)).flatMap((w) => [...w]));
    expect(a.alphabetSize).toBe(chars.size);
    for (const c of chars) {
      expect(a.tokens).toContain(c);
      expect(a.tokens).toContain(`##${c}`);
    }
    // Lowercased and accents stripped by default: no upper case or accented letters anywhere.
    expect(a.tokens.slice(5).some((t) => /[A-ZÀ-ÿ]/.test(t))).toBe(false);
    // Exactly the target size when the corpus allows it; the most frequent words become single tokens.
    expect(a.tokens).toHaveLength(400);
    const counts = new Map<string, number>();
    for (const w of sentences.flatMap((s) => pre.words(s))) counts.set(w, (counts.get(w) ?? 0) + 1);
    const top = [...counts].sort((x, y) => y[1] - x[1]).slice(0, 20);
    for (const [w] of top) expect(a.tokens).toContain(w);
    // Training stops at the target: a smaller target gives a prefix.
    expect(trainWordPiece(sentences, { vocabSize: 200 }).tokens).toEqual(a.tokens.slice(0, 200));
    // Without enough frequent pairs the vocab stays below the target.
    const capped = trainWordPiece(sentences, { vocabSize: 100000 });
    expect(capped.tokens.length).toBeLessThan(100000);
    expect(capped.tokens.length).toBeGreaterThan(400);
    expect(capped.tokens.slice(0, 400)).toEqual(a.tokens);
  });

  it("loads in our tokenizer, which encodes the corpus without [UNK] and the same words", () => {
    const trained = trainWordPiece(sentences, { vocabSize: 400 });
    const tok = loadTokenizerFromFiles({
      vocabTxt: trained.vocabTxt,
      tokenizerConfig: trained.tokenizerConfig,
    });
    expect(tok.vocabSize).toBe(400);
    expect(tok.special).toMatchObject({ pad: 0, unk: 1, cls: 2, sep: 3, mask: 4 });
    const pre = new BertPreTokenizer();
    let pieces = 0;
    for (const s of sentences) {
      const enc = tok.encode(s, undefined, { addSpecialTokens: false });
      expect(enc.ids).not.toContain(1);
      expect(wordsOfTokens(enc.tokens)).toEqual(pre.words(s));
      pieces += enc.ids.length;
    }
    // Merges compress: far fewer pieces than characters.
    const chars = sentences.reduce((n, s) => n + pre.words(s).join("").length, 0);
    expect(pieces).toBeLessThan(chars / 2);
    // Unseen words of seen characters still encode; an unseen character is [UNK].
    expect(tok.encode("zzqqthth", undefined, { addSpecialTokens: false }).ids).not.toContain(1);
    expect(tok.encode("ka ж", undefined, { addSpecialTokens: false }).tokens).toContain("[UNK]");
  });

  it("agrees with the tokenizer's normalization on tricky Unicode (seeded property test)", () => {
    const pool = [
      ..."aZ09 .,;!?'\"-_#[]()",
      ..."ÀéÎõüñßİıΣσςЖж",
      "e\u0301",
      "\u0307",
      ..."中文字한국어かな",
      "\u{20000}",
      "\u{2A700}",
      "😀",
      "\u{1F1EB}",
      "\u00a0",
      "\u3000",
      "\u200b",
      "\u200d",
      "\t",
      "\u0000",
      "\ufffd",
      "\u0378",
      "\u00ad",
      "ﬁ",
      "Ⅻ",
      "！",
      "「",
      "\ud800",
      "[MASK]",
      "[SEP]",
    ];
    const r = mulberry32(11);
    const texts: string[] = [];
    for (let i = 0; i < 400; i++) {
      let s = "";
      for (let k = Math.floor(r() * 25); k > 0; k--) s += pool[Math.floor(r() * pool.length)];
      texts.push(s);
    }
    for (const options of [
      {},
      { lowercase: false },
      { lowercase: false, stripAccents: true },
      { stripAccents: false },
    ]) {
      const trained = trainWordPiece(texts, { vocabSize: 2000, ...options });
      const tok = loadTokenizerFromFiles({
        vocabTxt: trained.vocabTxt,
        tokenizerConfig: trained.tokenizerConfig,
      });
      const pre = new BertPreTokenizer(options);
      for (const s of texts) {
        const enc = tok.encode(s, undefined, { addSpecialTokens: false });
        const specials = enc.tokens.filter((t) => t === "[MASK]" || t === "[SEP]");
        expect(specials).toHaveLength((s.match(/\[MASK\]|\[SEP\]/g) ?? []).length);
        const normal = enc.tokens.filter((t) => t !== "[MASK]" && t !== "[SEP]");
        expect(normal, JSON.stringify({ s, options })).not.toContain("[UNK]");
        expect(wordsOfTokens(normal), JSON.stringify({ s, options })).toEqual(pre.words(s));
      }
    }
  });

  it("applies the case, accent and CJK options and the alphabet limit", () => {
    const text = ["Café Café CAFÉ café", "日本語 日本語 日本語", "Straße straße"];
    const cased = trainWordPiece(text, { lowercase: false, vocabSize: 200 });
    expect(cased.tokens).toEqual(expect.arrayContaining(["C", "A", "É", "é", "Café"]));
    expect(JSON.parse(cased.tokenizerConfig)).toMatchObject({ do_lower_case: false, strip_accents: null });
    const lower = trainWordPiece(text, { vocabSize: 200 });
    expect(lower.tokens).toContain("cafe");
    expect(lower.tokens).not.toContain("é");
    const accents = trainWordPiece(text, { stripAccents: false, vocabSize: 200 });
    expect(accents.tokens).toContain("café");
    // CJK ideographs are words of their own: never merged.
    expect(lower.tokens.filter((t) => /[日本語]/.test(t)).sort()).toEqual(
      ["##日", "##本", "##語", "日", "本", "語"].sort(),
    );
    const noCjk = trainWordPiece(text, { handleChineseChars: false, vocabSize: 200 });
    expect(noCjk.tokens).toContain("日本語");
    // Literal special tokens in the text are boundaries, not words.
    expect(new BertPreTokenizer().words("a[MASK]b [CLS]")).toEqual(["a", "b"]);
    // limitAlphabet keeps the most frequent characters; the rest are dropped from words.
    const limited = trainWordPiece(["aaaa bbb cc d"], { limitAlphabet: 2, minFrequency: 1 });
    expect(limited.alphabetSize).toBe(2);
    expect(limited.tokens.slice(5, 9)).toEqual(["a", "b", "##a", "##b"]);
  });
});

/** Tokens for masking tests: the five specials, then words and "##" pieces. */
function maskVocab(size: number): { tokens: string[]; vocab: PretrainingVocab } {
  const tokens = [...SPECIALS];
  for (let i = 0; tokens.length < size; i++) tokens.push(i % 3 === 2 ? `##p${i}` : `w${i}`);
  return { tokens, vocab: pretrainingVocabFromTokens(tokens) };
}

/** [CLS] x… [SEP] y… [SEP] [PAD]… with random non-special ids. */
function randomSequence(r: Rng, vocab: PretrainingVocab, lenA: number, lenB: number, pad: number): number[] {
  const word = () => vocab.replacementIds[Math.floor(r() * vocab.replacementIds.length)];
  return [
    vocab.clsId,
    ...Array.from({ length: lenA }, word),
    vocab.sepId,
    ...Array.from({ length: lenB }, word),
    vocab.sepId,
    ...Array(pad).fill(vocab.padId),
  ];
}

describe("BERT masking", () => {
  it("predicts round(n · 0.15) positions, Python rounding, at least 1, capped", () => {
    expect([0.5, 1.5, 2.5, 4.5, 7.5, 2.4, 2.6].map(roundHalfEven)).toEqual([0, 2, 2, 4, 8, 2, 3]);
    expect([1, 3, 10, 30, 50, 70, 90, 125, 130, 500].map((n) => numToPredict(n))).toEqual([
      1, 1, 2, 4, 8, 10, 14, 19, 20, 20,
    ]);
    expect(numToPredict(500, 0.15, 76)).toBe(75);
  });

  it("chooses exactly that many non-special positions; labels hold the originals, -100 elsewhere", () => {
    const { vocab } = maskVocab(1000);
    const r = mulberry32(21);
    for (let trial = 0; trial < 500; trial++) {
      const ids = randomSequence(r, vocab, Math.floor(r() * 60), Math.floor(r() * 60), Math.floor(r() * 10));
      // Sprinkle [UNK] (special: never chosen).
      for (let i = 1; i < ids.length; i++) if (r() < 0.03 && !vocab.special[ids[i]]) ids[i] = 1;
      const candidates = ids.filter((id) => !vocab.special[id]).length;
      const out = maskTokens(ids, vocab, r, { maxPredictions: 12 });
      expect(out.positions).toHaveLength(candidates === 0 ? 0 : numToPredict(candidates, 0.15, 12));
      expect(out.positions).toEqual([...out.positions].sort((a, b) => a - b));
      for (let i = 0; i < ids.length; i++) {
        const chosen = out.positions.includes(i);
        expect(out.labels[i]).toBe(chosen ? ids[i] : IGNORE_INDEX);
        if (chosen) expect(vocab.special[ids[i]]).toBe(0);
        else expect(out.inputIds[i]).toBe(ids[i]);
      }
    }
  });

  it("chooses positions uniformly and replaces 80% [MASK] / 10% random / 10% unchanged", () => {
    const { vocab } = maskVocab(25); // 20 non-special tokens: random replacements countable per id
    const r = mulberry32(22);
    const N = 4000;
    const chosenAt = new Array(100).fill(0);
    let chosen = 0;
    let masked = 0;
    let same = 0;
    const randomHits = new Array(vocab.size).fill(0);
    for (let trial = 0; trial < N; trial++) {
      const ids = randomSequence(r, vocab, 50, 50, 6);
      const out = maskTokens(ids, vocab, r, { maxPredictions: 100 });
      expect(out.positions).toHaveLength(15);
      for (const i of out.positions) {
        chosenAt[i - (i > 51 ? 2 : 1)]++;
        chosen++;
        if (out.inputIds[i] === vocab.maskId) masked++;
        else if (out.inputIds[i] === ids[i]) same++;
        else randomHits[out.inputIds[i]]++;
      }
    }
    // Each of the 100 candidate positions is chosen with probability 15/100.
    for (const k of chosenAt) expectBinomial(k, N, 0.15);
    expectBinomial(masked, chosen, 0.8);
    // Unchanged: the 10% kept, plus random draws that hit the original (1 in 20).
    const R = vocab.replacementIds.length;
    expectBinomial(same, chosen, 0.1 + 0.1 / R);
    const random = chosen - masked - same;
    expectBinomial(random, chosen, 0.1 * (1 - 1 / R));
    // Random replacements are never special and uniform over the non-special ids.
    const total = randomHits.reduce((a, b) => a + b, 0);
    for (let id = 0; id < vocab.size; id++) {
      if (vocab.special[id]) expect(randomHits[id]).toBe(0);
      else expectBinomial(randomHits[id], total, 1 / R);
    }
  });

  it("respects max_predictions_per_seq", () => {
    const { vocab } = maskVocab(500);
    const r = mulberry32(23);
    for (let trial = 0; trial < 50; trial++) {
      const ids = randomSequence(r, vocab, 250, 250, 0);
      expect(maskTokens(ids, vocab, r).positions).toHaveLength(20);
      expect(maskTokens(ids, vocab, r, { maxPredictions: 7 }).positions).toHaveLength(7);
    }
  });

  it("whole-word masking takes all pieces of a word or none", () => {
    const { tokens, vocab } = maskVocab(300);
    const ids = tokens.map((_, i) => i);
    const starts = ids.filter((i) => !vocab.special[i] && !vocab.continuation[i]);
    const pieces = ids.filter((i) => vocab.continuation[i]);
    const r = mulberry32(24);
    let multiPieceMasked = 0;
    let chosenWords = 0;
    let totalWords = 0;
    let predicted = 0;
    let budget = 0;
    for (let trial = 0; trial < 2000; trial++) {
      // Words of 1–4 pieces; word index per position (-1 for specials). B may start with a "##" piece
      // (truncated from the front): it is a word of its own, not part of A's last word.
      const ids: number[] = [vocab.clsId];
      const wordOf: number[] = [-1];
      let w = 0;
      for (const side of [0, 1]) {
        if (side === 1 && r() < 0.5) {
          ids.push(pieces[Math.floor(r() * pieces.length)]);
          wordOf.push(w++);
        }
        for (let k = 3 + Math.floor(r() * 20); k > 0; k--, w++) {
          ids.push(starts[Math.floor(r() * starts.length)]);
          wordOf.push(w);
          for (let p = Math.floor(r() * 4); p > 0; p--) {
            ids.push(pieces[Math.floor(r() * pieces.length)]);
            wordOf.push(w);
          }
        }
        ids.push(vocab.sepId);
        wordOf.push(-1);
      }
      const candidates = ids.filter((id) => !vocab.special[id]).length;
      const out = maskTokens(ids, vocab, r, { wholeWord: true });
      expect(out.positions.length).toBeLessThanOrEqual(numToPredict(candidates));
      predicted += out.positions.length;
      budget += numToPredict(candidates);
      expect(out.positions.length).toBeGreaterThan(0);
      const hit = new Map<number, number>();
      for (const i of out.positions) {
        expect(wordOf[i]).toBeGreaterThanOrEqual(0);
        hit.set(wordOf[i], (hit.get(wordOf[i]) ?? 0) + 1);
      }
      for (const [word, n] of hit) {
        const size = wordOf.filter((x) => x === word).length;
        expect(n).toBe(size);
        if (size > 1) multiPieceMasked++;
      }
      chosenWords += hit.size;
      totalWords += w;
    }
    expect(multiPieceMasked).toBeGreaterThan(1000);
    // Skipping words that would overshoot rarely leaves the budget unfilled (1-piece words fill it).
    expect(predicted / budget).toBeGreaterThan(0.97);
    expect(chosenWords / totalWords).toBeGreaterThan(0.05);
  });

  it("is reproducible from the seed and builds its vocab from a tokenizer", () => {
    const trained = trainWordPiece(parseCorpus(syntheticCorpus(4, 50)).flat(), { vocabSize: 300 });
    const tok = loadTokenizerFromFiles({
      vocabTxt: trained.vocabTxt,
      tokenizerConfig: trained.tokenizerConfig,
    });
    const vocab = pretrainingVocab(tok);
    expect(vocab).toEqual(pretrainingVocabFromTokens(trained.tokens));
    expect([vocab.padId, vocab.clsId, vocab.sepId, vocab.maskId]).toEqual([0, 2, 3, 4]);
    expect([...vocab.special.slice(0, 6)]).toEqual([1, 1, 1, 1, 1, 0]);
    expect(vocab.replacementIds.length).toBe(295);
    const ids = randomSequence(mulberry32(5), vocab, 40, 40, 0);
    const a = maskTokens(ids, vocab, mulberry32(9), { wholeWord: true });
    const b = maskTokens(ids, vocab, mulberry32(9), { wholeWord: true });
    expect(b).toEqual(a);
    expect(maskTokens(ids, vocab, mulberry32(10)).positions).not.toEqual(a.positions);
  });
});

/**
 * Documents of one-token sentences whose token is a global sentence number (from 10), so every pair can be
 * traced back to its documents and sentences, and no pair ever needs truncating.
 */
function traceableDocuments(r: Rng, count: number, minLen: number, maxLen: number) {
  const docs: TokenizedDocument[] = [];
  const where = new Map<number, [number, number]>();
  let next = 10;
  for (let d = 0; d < count; d++) {
    const doc: number[][] = [];
    for (let s = minLen + Math.floor(r() * (maxLen - minLen + 1)); s > 0; s--) {
      where.set(next, [d, doc.length]);
      doc.push([next++]);
    }
    docs.push(doc);
  }
  /** The document of a run of tokens, checking they are consecutive sentences of one document. */
  const docOf = (tokens: number[]): number => {
    const d = where.get(tokens[0])![0];
    const ok = tokens.every((t, k) => t === tokens[0] + k && where.get(t)![0] === d);
    if (!ok) expect.fail(`not consecutive sentences of one document: ${tokens.join(" ")}`);
    return d;
  };
  return { docs, where, docOf };
}

describe("next-sentence pairs", () => {
  it("pairs real continuations (0) and random other documents (1) half and half", () => {
    const r = mulberry32(31);
    const { docs, where, docOf } = traceableDocuments(r, 2000, 5, 60);
    let free = 0;
    let freeRandom = 0;
    let forced = 0;
    for (let d = 0; d < docs.length; d++) {
      const pairs = createPairsFromDocument(docs, d, r, { maxSeqLength: 19, shortSeqProb: 0 });
      const used = new Array(docs[d].length).fill(0);
      for (const p of pairs) {
        expect(p.tokensA.length).toBeGreaterThanOrEqual(1);
        expect(p.tokensB.length).toBeGreaterThanOrEqual(1);
        expect(p.tokensA.length + p.tokensB.length).toBeLessThanOrEqual(16);
        expect(docOf(p.tokensA)).toBe(d);
        for (const t of p.tokensA) used[where.get(t)![1]]++;
        const dB = docOf(p.tokensB);
        if (p.isRandomNext) {
          expect(dB).not.toBe(d);
        } else {
          expect(dB).toBe(d);
          expect(p.tokensB[0]).toBe(p.tokensA[p.tokensA.length - 1] + 1);
          for (const t of p.tokensB) used[where.get(t)![1]]++;
        }
        // A one-sentence chunk (only possible here at the document's end) always gets a random B.
        const endsDoc = where.get(p.tokensA[p.tokensA.length - 1])![1] === docs[d].length - 1;
        if (endsDoc) {
          expect(p.isRandomNext).toBe(true);
          forced++;
        } else {
          free++;
          if (p.isRandomNext) freeRandom++;
        }
      }
      // Unused sentences of a random-B chunk are put back: each sentence is used exactly once.
      expect(used).toEqual(new Array(docs[d].length).fill(1));
    }
    expect(forced).toBeGreaterThan(0);
    expect(free).toBeGreaterThan(3000);
    expectBinomial(freeRandom, free, 0.5);
  });

  it("fills chunks to max_seq_length − 3, shorter targets with probability short_seq_prob", () => {
    const r = mulberry32(32);
    const { docs } = traceableDocuments(r, 3000, 40, 50);
    const firstRealLengths = (shortSeqProb: number) => {
      const lengths: number[] = [];
      for (let d = 0; d < docs.length; d++) {
        const first = createPairsFromDocument(docs, d, r, { maxSeqLength: 35, shortSeqProb })[0];
        if (!first.isRandomNext) lengths.push(first.tokensA.length + first.tokensB.length);
      }
      return lengths;
    };
    const full = firstRealLengths(0);
    expect(full.length).toBeGreaterThan(1000);
    expect(new Set(full)).toEqual(new Set([32]));
    const mixed = firstRealLengths(0.1);
    expect(Math.min(...mixed)).toBeGreaterThanOrEqual(2);
    // The short target is uniform on [2, 32]: it equals 32 one time in 31.
    expectBinomial(mixed.filter((n) => n < 32).length, mixed.length, 0.1 * (30 / 31));
  });

  it("truncates the longer side, front or back at random, to the maximum length", () => {
    const r = mulberry32(33);
    let removals = 0;
    let fronts = 0;
    for (let trial = 0; trial < 2000; trial++) {
      const la = 1 + Math.floor(r() * 80);
      const lb = 1 + Math.floor(r() * 80);
      const max = 2 + Math.floor(r() * 100);
      const a0 = Array.from({ length: la }, (_, i) => 1000 + i);
      const b0 = Array.from({ length: lb }, (_, i) => 5000 + i);
      const a = [...a0];
      const b = [...b0];
      truncateSeqPair(a, b, max, r);
      let ea = la;
      let eb = lb;
      while (ea + eb > max) {
        if (ea > eb) ea--;
        else eb--;
      }
      expect([a.length, b.length]).toEqual([ea, eb]);
      for (const [cut, orig] of [
        [a, a0],
        [b, b0],
      ]) {
        if (cut.length === 0) continue;
        const from = orig.indexOf(cut[0]);
        expect(cut).toEqual(orig.slice(from, from + cut.length));
        removals += orig.length - cut.length;
        fronts += from;
      }
    }
    expect(removals).toBeGreaterThan(10000);
    expectBinomial(fronts, removals, 0.5);
  });

  it("keeps pairs of long sentences within max_seq_length − 3, both sides non-empty", () => {
    const r = mulberry32(34);
    const docs: TokenizedDocument[] = Array.from({ length: 50 }, () =>
      Array.from({ length: 1 + Math.floor(r() * 8) }, () =>
        Array.from({ length: 1 + Math.floor(r() * 90) }, () => 10 + Math.floor(r() * 90)),
      ),
    );
    let truncated = 0;
    for (let d = 0; d < docs.length; d++) {
      for (const p of createPairsFromDocument(docs, d, r, { maxSeqLength: 64 })) {
        expect(p.tokensA.length).toBeGreaterThanOrEqual(1);
        expect(p.tokensB.length).toBeGreaterThanOrEqual(1);
        expect(p.tokensA.length + p.tokensB.length).toBeLessThanOrEqual(61);
        if (p.tokensA.length + p.tokensB.length === 61) truncated++;
      }
    }
    expect(truncated).toBeGreaterThan(10);
  });

  it("encodes [CLS] A [SEP] B [SEP] with segment ids, attention mask and padding", () => {
    const { vocab } = maskVocab(50);
    const ex = encodePair({ tokensA: [10, 11], tokensB: [20, 21, 22], isRandomNext: true }, vocab, 12);
    expect([...ex.inputIds]).toEqual([2, 10, 11, 3, 20, 21, 22, 3, 0, 0, 0, 0]);
    expect([...ex.tokenTypeIds]).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0]);
    expect([...ex.attentionMask]).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0]);
    expect([...ex.mlmLabels]).toEqual(new Array(12).fill(-100));
    expect(ex.nextSentenceLabel).toBe(1);
    expect(() => encodePair({ tokensA: [10], tokensB: [11], isRandomNext: false }, vocab, 4)).toThrow(
      RangeError,
    );
  });
});

describe("pretraining examples and batches", () => {
  const text = syntheticCorpus(5, 120);
  const trained = trainWordPiece(parseCorpus(text).flat(), { vocabSize: 500 });
  const tok = loadTokenizerFromFiles({
    vocabTxt: trained.vocabTxt,
    tokenizerConfig: trained.tokenizerConfig,
  });
  const vocab = pretrainingVocab(tok);
  const docs = tokenizeDocuments(parseCorpus(text), tok);
  const T = 48;

  it("tokenizes documents, dropping empty sentences and documents", () => {
    expect(docs).toHaveLength(120);
    const few = tokenizeDocuments([["\u0000\u200b", "Ka to."], ["\u0000"], ["Mi."]], tok);
    expect(few).toHaveLength(2);
    expect(few[0]).toEqual([tok.encode("Ka to.", undefined, { addSpecialTokens: false }).ids]);
  });

  it("makes padded, masked NSP examples reproducibly", () => {
    const examples = createPretrainingExamples(docs, vocab, mulberry32(41), {
      maxSeqLength: T,
      dupeFactor: 2,
    });
    expect(
      createPretrainingExamples(docs, vocab, mulberry32(41), { maxSeqLength: T, dupeFactor: 2 }),
    ).toEqual(examples);
    const once = createPretrainingExamples(docs, vocab, mulberry32(41), { maxSeqLength: T });
    expect(examples.length).toBeGreaterThan(1.5 * once.length);
    let random = 0;
    for (const ex of examples) {
      for (const a of [ex.inputIds, ex.tokenTypeIds, ex.attentionMask, ex.mlmLabels])
        expect(a).toHaveLength(T);
      const len = ex.attentionMask.reduce((s, x) => s + x, 0);
      expect([...ex.attentionMask]).toEqual([...Array(len).fill(1), ...Array(T - len).fill(0)]);
      expect(ex.inputIds[0]).toBe(vocab.clsId);
      expect(ex.inputIds[len - 1]).toBe(vocab.sepId);
      expect([...ex.inputIds.subarray(len)].every((id) => id === vocab.padId)).toBe(true);
      const sep = ex.tokenTypeIds.indexOf(1) - 1;
      expect(ex.inputIds[sep]).toBe(vocab.sepId);
      expect([...ex.tokenTypeIds.subarray(sep + 1, len)].every((t) => t === 1)).toBe(true);
      // No [UNK] in this corpus: every real token but the three specials is a candidate.
      const labelled = [...ex.mlmLabels].flatMap((l, i) => (l === IGNORE_INDEX ? [] : [i]));
      expect(labelled).toHaveLength(numToPredict(len - 3));
      for (const i of labelled) {
        expect(i).toBeLessThan(len);
        expect(vocab.special[ex.mlmLabels[i]]).toBe(0);
        expect(i === 0 || i === sep || i === len - 1).toBe(false);
      }
      random += ex.nextSentenceLabel;
    }
    expect(random).toBeGreaterThan(0);
    expect(random).toBeLessThan(examples.length);
  });

  it("collates examples into [B·T] arrays a BertInput accepts, padding short rows", () => {
    const examples = createPretrainingExamples(docs, vocab, mulberry32(42), { maxSeqLength: T }).slice(0, 3);
    const short: PretrainingExample = {
      inputIds: Int32Array.of(2, 9, 3, 8, 3),
      tokenTypeIds: Int32Array.of(0, 0, 0, 1, 1),
      attentionMask: Int32Array.of(1, 1, 1, 1, 1),
      mlmLabels: Int32Array.of(-100, 7, -100, -100, -100),
      nextSentenceLabel: 1,
    };
    const batch = collateBatch([...examples, short]);
    const input: BertInput = batch;
    expect([input.batch, input.seq]).toEqual([4, T]);
    for (const a of [batch.inputIds, batch.attentionMask, batch.tokenTypeIds, batch.mlmLabels]) {
      expect(a).toBeInstanceOf(Int32Array);
      expect(a).toHaveLength(4 * T);
    }
    examples.forEach((ex, b) => {
      expect(batch.inputIds.subarray(b * T, (b + 1) * T)).toEqual(ex.inputIds);
      expect(batch.mlmLabels.subarray(b * T, (b + 1) * T)).toEqual(ex.mlmLabels);
      expect(batch.tokenTypeIds.subarray(b * T, (b + 1) * T)).toEqual(ex.tokenTypeIds);
      expect(batch.attentionMask.subarray(b * T, (b + 1) * T)).toEqual(ex.attentionMask);
    });
    const row = (a: Int32Array) => [...a.subarray(3 * T, 4 * T)];
    expect(row(batch.inputIds)).toEqual([2, 9, 3, 8, 3, ...Array(T - 5).fill(0)]);
    expect(row(batch.attentionMask)).toEqual([1, 1, 1, 1, 1, ...Array(T - 5).fill(0)]);
    expect(row(batch.tokenTypeIds)).toEqual([0, 0, 0, 1, 1, ...Array(T - 5).fill(0)]);
    expect(row(batch.mlmLabels)).toEqual([-100, 7, ...Array(T - 2).fill(-100)]);
    expect([...batch.nextSentenceLabel]).toEqual([...examples.map((e) => e.nextSentenceLabel), 1]);
    expect(collateBatch([short], { padId: 0 }).seq).toBe(5);
    expect(() => collateBatch(examples, { seqLength: T - 1 })).toThrow(RangeError);
    expect(() => collateBatch([])).toThrow(RangeError);
  });

  it("iterates epochs in seeded orders and resumes at any (epoch, index)", () => {
    const items = Array.from({ length: 23 }, (_, i) => i);
    const run = [...epochBatches(items, { batchSize: 5, seed: 7, epochs: 3 })];
    expect(run).toHaveLength(3 * batchesPerEpoch(23, 5));
    for (let e = 0; e < 3; e++) {
      const epoch = run.filter((b) => b.epoch === e);
      expect(epoch.map((b) => b.index)).toEqual([0, 1, 2, 3, 4]);
      expect(epoch.map((b) => b.items.length)).toEqual([5, 5, 5, 5, 3]);
      const seen = epoch.flatMap((b) => b.items);
      expect([...seen].sort((a, b) => a - b)).toEqual(items);
      expect(seen).toEqual([...epochPermutation(23, 7, e)]);
    }
    expect(run[0].items).not.toEqual(run[5].items);
    expect([...epochPermutation(23, 8, 0)]).not.toEqual([...epochPermutation(23, 7, 0)]);
    run.slice(0, -1).forEach((b, k) => {
      expect(b.next).toEqual({ epoch: run[k + 1].epoch, index: run[k + 1].index });
    });
    // Resuming from any position gives exactly the rest of the uninterrupted run.
    for (let k = 0; k < run.length; k++) {
      const resumed = [...epochBatches(items, { batchSize: 5, seed: 7, epochs: 3, start: run[k] })];
      expect(resumed).toEqual(run.slice(k));
    }
    // An index past the epoch's end carries into the next epoch; dropLast skips the partial batch.
    expect([
      ...epochBatches(items, { batchSize: 5, seed: 7, epochs: 3, start: { epoch: 0, index: 7 } }),
    ]).toEqual(run.slice(7));
    const dropped = [...epochBatches(items, { batchSize: 5, seed: 7, epochs: 2, dropLast: true })];
    expect(dropped.map((b) => b.items.length)).toEqual(new Array(8).fill(5));
  });

  it("yields collated pretraining batches", () => {
    const examples = createPretrainingExamples(docs, vocab, mulberry32(43), { maxSeqLength: T });
    const batches = [...pretrainingBatches(examples, { batchSize: 8, seed: 1, epochs: 1 })];
    expect(batches).toHaveLength(Math.ceil(examples.length / 8));
    expect(batches.map((b) => b.batch.batch).reduce((a, b) => a + b, 0)).toBe(examples.length);
    for (const { batch } of batches) {
      expect(batch.seq).toBe(T);
      expect(batch.inputIds).toHaveLength(batch.batch * T);
      expect(batch.nextSentenceLabel).toHaveLength(batch.batch);
    }
  });
});
