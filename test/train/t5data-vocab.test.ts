// SentencePiece Unigram vocab training for T5 (src/train/t5data/unigram.ts) and spiece.model writing:
// determinism, <pad> </s> <unk> and the 100 sentinels at T5's ids, every character covered (no <unk> on
// the training text), the target size, valid pieces (▁ only first, no script mixing, length limit, digits
// alone when asked), the trained tokenizer through tokenizer.json and through spiece.model, decode(encode)
// round trips, and the writer on T5's own spiece.model.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseSentencePieceModel } from "../../src/tokenizers/sentencepiece-proto.ts";
import {
  spieceToTokenizerJson,
  t5TokenizerFromJson,
  t5TokenizerFromSpiece,
} from "../../src/tokenizers/t5.ts";
import { mulberry32 } from "../../src/train/data/random.ts";
import {
  digamma,
  serializeSentencePieceModel,
  type TrainedUnigram,
  t5TokenizerFromTrained,
  trainUnigram,
  UnigramTrainer,
} from "../../src/train/t5data/index.ts";
import { fixturePath } from "../helpers/fixtures.ts";

const META = "\u2581";

/** A seeded corpus over a Zipf-like made-up language: case, punctuation, digits, accents (composed and
 * combining), CJK, Cyrillic and an emoji (a surrogate pair). */
function syntheticLines(seed: number, numLines: number, ascii = false): string[] {
  const r = mulberry32(seed);
  const syllables = ["ka", "to", "mi", "ra", "su", "lo", "pe", "di", "ga", "bu", "qu", "th", "an", "er"];
  if (!ascii) syllables.push("né", "zé", "ñu", "e\u0301t");
  const types: string[] = [];
  for (let i = 0; i < 300; i++) {
    let w = "";
    for (let k = 1 + Math.floor(r() * 3); k > 0; k--) w += syllables[Math.floor(r() * syllables.length)];
    types.push(w);
  }
  const word = (): string => {
    const u = r();
    if (u < 0.03) return String(Math.floor(r() * 2000));
    if (!ascii && u < 0.05) return `${"中文字日本"[Math.floor(r() * 5)]}語`;
    if (!ascii && u < 0.06) return ["мир", "да", "нет"][Math.floor(r() * 3)];
    if (!ascii && u < 0.065) return "😀";
    return types[Math.floor(types.length * r() ** 3)];
  };
  const lines: string[] = [];
  for (let l = 0; l < numLines; l++) {
    const words: string[] = [];
    for (let w = 3 + Math.floor(r() * 12); w > 0; w--) words.push(word() + (r() < 0.1 ? "," : ""));
    words[0] = words[0][0].toUpperCase() + words[0].slice(1);
    if (r() < 0.1) words.push(`(${word()})`);
    lines.push(`${words.join(" ")}${r() < 0.2 ? "?" : "."}`);
  }
  return lines;
}

const LINES = syntheticLines(7, 3000);
const VOCAB = 400;
const trained = trainUnigram(LINES, { vocabSize: VOCAB });

function pieceStrings(t: TrainedUnigram): string[] {
  return t.model.pieces.map((p) => p.piece);
}

describe("Unigram vocab training", () => {
  it("is deterministic", () => {
    const again = new UnigramTrainer({ vocabSize: VOCAB }).feedAll(LINES).train();
    expect(again.model).toEqual(trained.model);
    expect(again.rounds).toEqual(trained.rounds);
    // Feeding line by line or as one text gives the same words, so the same model.
    const joined = trainUnigram([LINES.join("\n")], { vocabSize: VOCAB });
    expect(joined.model).toEqual(trained.model);
  });

  it("puts <pad> </s> <unk> first, as T5, and hits the target size", () => {
    const { pieces, trainerSpec, normalizerSpec } = trained.model;
    expect(pieces.length).toBe(VOCAB);
    expect(pieces.slice(0, 3)).toEqual([
      { piece: "<pad>", score: 0, type: "CONTROL" },
      { piece: "</s>", score: 0, type: "CONTROL" },
      { piece: "<unk>", score: 0, type: "UNKNOWN" },
    ]);
    expect(pieces.slice(3).every((p) => p.type === "NORMAL")).toBe(true);
    expect(trainerSpec).toMatchObject({
      modelType: "UNIGRAM",
      vocabSize: VOCAB,
      padId: 0,
      eosId: 1,
      unkId: 2,
    });
    expect(trainerSpec.bosId).toBe(-1);
    expect(normalizerSpec).toMatchObject({
      name: "identity",
      addDummyPrefix: true,
      removeExtraWhitespaces: true,
      escapeWhitespaces: true,
    });
    expect(normalizerSpec.precompiledCharsmap.length).toBe(0);
    for (const size of [150, 250, 1000]) {
      expect(trainUnigram(LINES, { vocabSize: size }).model.pieces.length).toBe(size);
    }
    // The EM rounds shrink the pieces until at most 1.1 × vocabSize remain.
    const sizes = trained.rounds.map((r) => r.pieces);
    for (let i = 1; i < sizes.length; i++) expect(sizes[i]).toBeLessThan(sizes[i - 1]);
    expect(sizes[sizes.length - 1]).toBeLessThanOrEqual(Math.floor(VOCAB * 1.1));
    expect(sizes.slice(0, -1).every((s) => s > Math.floor(VOCAB * 1.1))).toBe(true);
  });

  it("keeps unique, valid pieces sorted by float32 score", () => {
    const pieces = trained.model.pieces.slice(3);
    expect(new Set(pieces.map((p) => p.piece)).size).toBe(pieces.length);
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i];
      expect(Math.fround(p.score)).toBe(p.score);
      expect(p.score).toBeLessThan(0);
      if (i > 0) expect(p.score).toBeLessThanOrEqual(pieces[i - 1].score);
      const cps = Array.from(p.piece);
      expect(cps.length).toBeLessThanOrEqual(16);
      expect(p.piece.indexOf(META, 1)).toBe(-1);
      const body = cps[0] === META ? p.piece.slice(1) : p.piece;
      // No piece mixes scripts (the accent's combining mark inherits the letter's script).
      const classes = [/\p{Script=Latin}/u, /\p{Script=Han}/u, /\p{Script=Cyrillic}/u, /\p{Script=Common}/u];
      const seen = classes.filter((re) => re.test(body));
      expect(seen.length, p.piece).toBeLessThanOrEqual(1);
    }
    const maxLen = trainUnigram(LINES, { vocabSize: 300, maxPieceLength: 3 });
    for (const p of maxLen.model.pieces.slice(3)) expect(Array.from(p.piece).length).toBeLessThanOrEqual(3);
    const digits = trainUnigram(LINES, { vocabSize: 300, splitDigits: true });
    for (const p of digits.model.pieces.slice(3)) {
      if (/[0-9]/.test(p.piece)) expect(p.piece).toMatch(/^[0-9]$/);
    }
    expect(digits.model.trainerSpec.splitDigits).toBe(true);
    // Without script splitting, pieces may cross scripts (e.g. a word and its comma).
    const mixed = trainUnigram(LINES, { vocabSize: 600, splitByUnicodeScript: false });
    expect(mixed.model.pieces.some((p) => /\p{L}[,.?]/u.test(p.piece))).toBe(true);
  });

  it("includes every character, so the training text has no <unk>", () => {
    const pieces = new Set(pieceStrings(trained));
    const chars = new Set<string>();
    for (const line of LINES) for (const ch of line) if (ch !== " ") chars.add(ch);
    expect(trained.alphabetSize).toBe(chars.size + 1); // + "▁"
    expect(trained.requiredChars).toBe(trained.alphabetSize);
    for (const ch of chars) expect(pieces.has(ch), ch).toBe(true);
    expect(pieces.has(META)).toBe(true);
    const tok = t5TokenizerFromTrained(trained);
    for (const line of LINES) expect(tok.encode(line).ids).not.toContain(2);
  });

  it("gives a T5 tokenizer with the sentinels at vocab size − 1 − N", () => {
    const tok = t5TokenizerFromTrained(trained);
    expect(tok.vocabSize).toBe(VOCAB + 100);
    expect(tok.special).toMatchObject({ pad: 0, eos: 1, unk: 2 });
    for (let n = 0; n < 100; n++) {
      expect(tok.tokenToId(`<extra_id_${n}>`)).toBe(tok.vocabSize - 1 - n);
      expect(tok.idToToken(tok.vocabSize - 1 - n)).toBe(`<extra_id_${n}>`);
    }
    expect(tok.tokenToId("<extra_id_100>")).toBeUndefined();
    expect(trained.tokenizerJson).toEqual(spieceToTokenizerJson(trained.model, trained.tokenizerConfig));
    expect(trained.tokenizerJson.normalizer).toBeNull();
    // Sentinels and </s> in text are special tokens, as in T5.
    const enc = tok.encode("Kato <extra_id_0> mira </s>", undefined, { addSpecialTokens: false });
    expect(enc.ids).toContain(tok.vocabSize - 1);
    expect(enc.ids[enc.ids.length - 1]).toBe(1);
    expect(tok.encode("kato").ids[tok.encode("kato").ids.length - 1]).toBe(1);
    const fewer = trainUnigram(LINES, { vocabSize: 200, extraIds: 10 });
    const tokFewer = t5TokenizerFromTrained(fewer);
    expect(tokFewer.vocabSize).toBe(210);
    expect(tokFewer.tokenToId("<extra_id_0>")).toBe(209);
    expect(tokFewer.tokenToId("<extra_id_9>")).toBe(200);
  });

  it("round-trips decode(encode(text)) for plain ASCII text", () => {
    // Every printable ASCII character occurs in the corpus (once per 100 lines).
    const printable = Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i)).join("");
    const ascii = syntheticLines(11, 1500, true).map((l, i) => (i % 100 === 0 ? `${l} ${printable}` : l));
    const t = trainUnigram(ascii, { vocabSize: 500 });
    const tok = t5TokenizerFromTrained(t);
    const r = mulberry32(5);
    const randomAscii = Array.from({ length: 200 }, () => {
      let s = "";
      for (let n = 1 + Math.floor(r() * 40); n > 0; n--) s += String.fromCharCode(33 + Math.floor(r() * 94));
      return s;
    });
    const texts = [
      ...ascii.slice(0, 200),
      ...syntheticLines(12, 100, true), // unseen text over the same characters
      "Hello, world! (42) is 'the' answer? {x: [1, 2]} a+b=c ~/path_to/file.txt #tag @user $5 & 100%",
      ...randomAscii.map((s, i) => `${s} ${randomAscii[(i + 1) % 200]}`),
    ];
    for (const text of texts) {
      const enc = tok.encode(text, undefined, { addSpecialTokens: false });
      expect(enc.ids).not.toContain(2);
      expect(tok.decode(enc.ids)).toBe(text);
      expect(tok.decode(tok.encode(text).ids, { skipSpecialTokens: true })).toBe(text);
    }
    // Extra whitespace is collapsed, as by T5's tokenizer.
    const enc = tok.encode("  Kato \t mira\n\n", undefined, { addSpecialTokens: false });
    expect(tok.decode(enc.ids)).toBe("Kato mira");
  });

  it("learns frequent words as single pieces", () => {
    const lines = Array.from({ length: 200 }, (_, i) => `the cat sat on the mat number ${i % 7}`);
    const t = trainUnigram(lines, { vocabSize: 40 });
    const tok = t5TokenizerFromTrained(t);
    expect(tok.encode("the cat sat on the mat", undefined, { addSpecialTokens: false }).tokens).toEqual([
      "▁the",
      "▁cat",
      "▁sat",
      "▁on",
      "▁the",
      "▁mat",
    ]);
  });

  it("splits words like the tokenizer's whitespace split, Metaspace and special tokens", () => {
    const t = new UnigramTrainer();
    expect(t.words("  a  b\tc\u3000d\n")).toEqual(["▁a", "▁b", "▁c", "▁d"]);
    expect(t.words("x▁y ▁z ▁ ▁▁w")).toEqual(["▁x", "▁y", "▁z", "▁", "▁", "▁w"]);
    expect(t.words("a</s>b<extra_id_12>c <pad>d<x>")).toEqual(["▁a", "▁b", "▁c", "▁d<x>"]);
    expect(t.words("")).toEqual([]);
    const counted = new UnigramTrainer({ vocabSize: 20 }).feed("a a b").feed("a");
    const r = counted.train();
    expect(r.distinctWords).toBe(2);
    expect(r.totalWords).toBe(4);
  });

  it("leaves rare characters out below full coverage, and refuses a vocab smaller than the alphabet", () => {
    const lines = [...Array.from({ length: 300 }, () => "abc abd abe"), "zq"];
    const t = trainUnigram(lines, { vocabSize: 30, characterCoverage: 0.99 });
    const pieces = new Set(pieceStrings(t));
    expect(pieces.has("z")).toBe(false);
    expect(pieces.has("q")).toBe(false);
    expect(t.requiredChars).toBe(t.alphabetSize - 2);
    const tok = t5TokenizerFromTrained(t);
    expect(tok.encode("zq", undefined, { addSpecialTokens: false }).ids).toContain(2);
    expect(() => trainUnigram(LINES, { vocabSize: 20 })).toThrow(
      /raise vocabSize or lower characterCoverage/,
    );
    expect(() => new UnigramTrainer({ shrinkingFactor: 1 })).toThrow(RangeError);
    expect(() => new UnigramTrainer({ characterCoverage: 0 })).toThrow(RangeError);
  });

  it("computes SentencePiece's digamma", () => {
    expect(digamma(1)).toBeCloseTo(-0.5772156649015329, 9);
    expect(digamma(0.5)).toBeCloseTo(-1.9635100260214235, 9);
    expect(digamma(10)).toBeCloseTo(2.251752589066721, 9);
    expect(digamma(1000)).toBeCloseTo(6.907255195648812, 9);
  });
});

describe("spiece.model writer", () => {
  it("writes a trained model that reads back equal and tokenizes the same", () => {
    const bytes = serializeSentencePieceModel(trained.model);
    const back = parseSentencePieceModel(bytes, "trained.model");
    expect(back).toEqual(trained.model);
    const fromSpiece = t5TokenizerFromSpiece(bytes, trained.tokenizerConfig, "trained.model");
    const fromJson = t5TokenizerFromJson(trained.tokenizerJson, trained.tokenizerConfig);
    expect(fromSpiece.vocabSize).toBe(fromJson.vocabSize);
    for (const line of LINES.slice(0, 100)) expect(fromSpiece.encode(line)).toEqual(fromJson.encode(line));
  });

  it("round-trips T5's own spiece.model", () => {
    const original = parseSentencePieceModel(
      new Uint8Array(readFileSync(fixturePath("tok/t5/spiece.model"))),
    );
    const bytes = serializeSentencePieceModel(original);
    expect(parseSentencePieceModel(bytes)).toEqual(original);
    expect(serializeSentencePieceModel(parseSentencePieceModel(bytes))).toEqual(bytes);
  });
});
