// BERT WordPiece tokenizers (src/tokenizers): exact equality with goldens made by transformers'
// BertTokenizer, from tokenizer.json and from a bare vocab.txt alike; truncation, padding, decoding,
// loading errors; and a seeded property test over random Unicode. Golden offsets are Python's (code
// points); ours are UTF-16 code units, converted with toCodePointOffsets before comparing.
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { normalizeAligned, originalSpan } from "../../src/tokenizers/align.ts";
import type { BertTokenizer } from "../../src/tokenizers/bert.ts";
import { loadTokenizerFromFiles } from "../../src/tokenizers/load.ts";
import { loadTokenizerDir } from "../../src/tokenizers/node.ts";
import { toCodePointOffsets, toUtf16Offsets } from "../../src/tokenizers/offsets.ts";
import { padBatch, padOptionsFor } from "../../src/tokenizers/padding.ts";
import { TruncationError, truncatedLengths } from "../../src/tokenizers/truncation.ts";
import type { Encoding, Tokenizer } from "../../src/tokenizers/types.ts";
import { bertTokenizerJsonFromVocab, parseVocabTxt } from "../../src/tokenizers/wordpiece.ts";
import { fixturePath, readJsonFixture } from "../helpers/fixtures.ts";
import { rng } from "../helpers/random.ts";

interface Goldens {
  texts: {
    text: string;
    input_ids: number[];
    tokens: string[];
    offsets: [number, number][];
    decoded: string;
  }[];
  pairs: {
    a: string;
    b: string;
    input_ids: number[];
    token_type_ids: number[];
    truncated16_input_ids: number[];
    truncated16_token_type_ids: number[];
  }[];
}

const goldens = readJsonFixture<Goldens>("tok/bert_goldens.json");
const readText = (rel: string) => readFileSync(fixturePath(rel), "utf8");
const tokenizerJson = readText("tok/bert/tokenizer.json");
const tokenizerConfig = readText("tok/bert/tokenizer_config.json");
const vocabTxt = readText("tok/bert/vocab.txt");

const fromJson = loadTokenizerFromFiles({ tokenizerJson, tokenizerConfig });
const fromVocab = loadTokenizerFromFiles({ vocabTxt, tokenizerConfig });
const variants: [string, Tokenizer][] = [
  ["tokenizer.json", fromJson],
  ["vocab.txt", fromVocab],
];

describe.each(variants)("BERT goldens from %s", (_name, tok) => {
  it.each(goldens.texts.map((g) => [JSON.stringify(g.text).slice(0, 40), g] as const))("text %s", (_, g) => {
    const enc = tok.encode(g.text);
    expect(enc.ids).toEqual(g.input_ids);
    expect(enc.tokens).toEqual(g.tokens);
    expect(toCodePointOffsets(g.text, enc.offsets)).toEqual(g.offsets);
    expect(enc.offsets).toEqual(toUtf16Offsets(g.text, g.offsets));
    expect(tok.decode(enc.ids, { skipSpecialTokens: true })).toBe(g.decoded);
    expect(enc.typeIds.every((t) => t === 0)).toBe(true);
    expect(enc.attentionMask.every((m) => m === 1)).toBe(true);
    const n = enc.ids.length;
    expect(enc.specialTokensMask).toEqual([1, ...Array(n - 2).fill(0), 1]);
    expect(enc.sequenceIds).toEqual([null, ...Array(n - 2).fill(0), null]);
  });

  it.each(goldens.pairs.map((g) => [g.a, g] as const))("pair %s", (_, g) => {
    const enc = tok.encode(g.a, g.b);
    expect(enc.ids).toEqual(g.input_ids);
    expect(enc.typeIds).toEqual(g.token_type_ids);
    const cut = tok.encode(g.a, g.b, { maxLength: 16 });
    expect(cut.ids).toEqual(g.truncated16_input_ids);
    expect(cut.typeIds).toEqual(g.truncated16_token_type_ids);
    expect(tok.encode(g.a, g.b, { maxLength: 16, truncation: "longest_first" }).ids).toEqual(cut.ids);
    // An empty second text is still a pair, as in transformers: [CLS] a [SEP] [SEP].
    const empty = tok.encode(g.a, "");
    expect(empty.ids.slice(-2)).toEqual([3, 3]);
    expect(empty.typeIds.at(-1)).toBe(1);
    // The texts' own tokens in each part, separated by the post-processor's [SEP]s.
    const firstSep = cut.tokens.indexOf("[SEP]");
    expect(cut.sequenceIds).toEqual([
      null,
      ...Array(firstSep - 1).fill(0),
      null,
      ...Array(cut.ids.length - firstSep - 2).fill(1),
      null,
    ]);
  });
});

describe("tokenizer.json and vocab.txt agree", () => {
  it("the synthesized tokenizer.json is the one transformers wrote", () => {
    expect(bertTokenizerJsonFromVocab(vocabTxt, JSON.parse(tokenizerConfig))).toEqual(
      JSON.parse(tokenizerJson),
    );
  });

  it("same metadata", () => {
    for (const tok of [fromJson, fromVocab]) {
      expect(tok.vocabSize).toBe(2000);
      expect(tok.special).toEqual({ pad: 0, unk: 1, cls: 2, sep: 3, mask: 4 });
      expect(tok.tokenToId("[MASK]")).toBe(4);
      expect(tok.tokenToId("##ick")).toBe(492);
      expect(tok.tokenToId("not-a-token")).toBeUndefined();
      expect(tok.idToToken(100)).toBe("the");
      expect(tok.idToToken(-1)).toBeUndefined();
      expect(tok.idToToken(2000)).toBeUndefined();
      expect(tok.idToToken(1.5)).toBeUndefined();
    }
    expect((fromJson as BertTokenizer).modelMaxLength).toBeUndefined(); // 1e30 = "no limit"
  });
});

describe("offsets", () => {
  it("are UTF-16 code units: text.slice gives the span, astral characters included", () => {
    const text = "emoji 😀👍 and";
    const enc = fromJson.encode(text);
    const unk = enc.tokens.indexOf("[UNK]");
    expect(enc.offsets[unk]).toEqual([6, 10]);
    expect(text.slice(...enc.offsets[unk])).toBe("😀👍");
    expect(toCodePointOffsets(text, [enc.offsets[unk]])).toEqual([[6, 8]]);
  });

  it("point into the original text through removed and rewritten characters", () => {
    const text = "ÀÉ\u200bÎÕ x";
    const enc = fromJson.encode(text, undefined, { addSpecialTokens: false });
    expect(enc.tokens).toEqual(["a", "##e", "##io", "x"]);
    expect(enc.offsets.map((o) => text.slice(...o))).toEqual(["À", "É", "ÎÕ", "x"]);
  });

  it("keep working for normalizers that are not per-character (whole-string fallback)", () => {
    const input = "xab😀abyab";
    const same = normalizeAligned(
      input,
      (c) => c.toUpperCase(),
      (t) => t.toUpperCase(),
    );
    expect(same.text).toBe("XAB😀ABYAB");
    expect(originalSpan(same, 3, 5)).toEqual([3, 5]);
    const shorter = normalizeAligned(
      input,
      (c) => c,
      (t) => t.replace(/ab/g, "Z"),
    );
    expect(shorter.text).toBe("xZ😀ZyZ");
    for (let j = 0; j < shorter.text.length; j++) {
      expect(
        0 <= shorter.starts[j] && shorter.starts[j] <= shorter.ends[j] && shorter.ends[j] <= input.length,
      ).toBe(true);
      if (j > 0)
        expect(shorter.starts[j] >= shorter.starts[j - 1] && shorter.ends[j] >= shorter.ends[j - 1]).toBe(
          true,
        );
    }
    expect(originalSpan(shorter, 0, shorter.text.length)).toEqual([0, input.length]);
  });

  it("of the pair's tokens point into the pair text", () => {
    const a = "Hi there";
    const b = "🙂 bye";
    const enc = fromJson.encode(a, b);
    enc.tokens.forEach((_, i) => {
      const seq = enc.sequenceIds[i];
      if (seq === null) expect(enc.offsets[i]).toEqual([0, 0]);
      else expect((seq === 0 ? a : b).slice(...enc.offsets[i]).length).toBeGreaterThan(0);
    });
  });
});

describe("truncation", () => {
  const [a, b] = [
    "Penguins are flightless birds.",
    "The stock market fell sharply today because of many reasons.",
  ];
  const full = fromJson.encode(a, b, { addSpecialTokens: false });
  const lenA = full.sequenceIds.filter((s) => s === 0).length;
  const lenB = full.sequenceIds.filter((s) => s === 1).length;
  const idsA = full.ids.slice(0, lenA);
  const idsB = full.ids.slice(lenA);

  it("only_second cuts only the second text, special tokens counted in maxLength", () => {
    const enc = fromJson.encode(a, b, { maxLength: 20, truncation: "only_second" });
    expect(enc.ids).toEqual([2, ...idsA, 3, ...idsB.slice(0, 20 - 3 - lenA), 3]);
    expect(enc.ids.length).toBe(20);
  });

  it("only_first cuts only the first text", () => {
    const enc = fromJson.encode(a, b, { maxLength: lenB + 3 + 2, truncation: "only_first" });
    expect(enc.ids).toEqual([2, ...idsA.slice(0, 2), 3, ...idsB, 3]);
    const single = fromJson.encode(a, undefined, { maxLength: 5, truncation: "only_first" });
    expect(single.ids).toEqual([2, ...idsA.slice(0, 3), 3]);
  });

  it("throws a clear TruncationError when the chosen text cannot be cut enough", () => {
    // transformers' fast tokenizers raise "Sequence to truncate too short to respect the provided max_length".
    const tooShort = () => fromJson.encode(a, b, { maxLength: 20, truncation: "only_first" });
    expect(tooShort).toThrow(TruncationError);
    expect(tooShort).toThrow(
      /only_first truncation to maxLength 20: the first text has \d+ tokens but \d+ must be removed/,
    );
    // Cutting the chosen text to nothing is refused too, as in transformers.
    expect(() => fromJson.encode(a, b, { maxLength: lenB + 3, truncation: "only_first" })).toThrow(
      TruncationError,
    );
    expect(() => fromJson.encode(a, b, { maxLength: lenA + 3, truncation: "only_second" })).toThrow(
      /only_second truncation to maxLength \d+: the second text has/,
    );
    expect(() => fromJson.encode(a, undefined, { maxLength: 5, truncation: "only_second" })).toThrow(
      /needs a second text/,
    );
    expect(() => fromJson.encode(a, b, { maxLength: 2 })).toThrow(/smaller than the 3 special tokens/);
    expect(() => fromJson.encode(a, b, { maxLength: -1 })).toThrow(RangeError);
  });

  it("does nothing (and never throws) when everything fits", () => {
    for (const truncation of ["longest_first", "only_first", "only_second"] as const) {
      expect(fromJson.encode(a, b, { maxLength: 1000, truncation }).ids).toEqual(fromJson.encode(a, b).ids);
    }
    expect(fromJson.encode(a, undefined, { maxLength: 1000, truncation: "only_second" }).ids.length).toBe(
      lenA + 2,
    );
  });

  it("longest_first: single texts and tokenizers' pair split", () => {
    expect(fromJson.encode(a, undefined, { maxLength: 4 }).ids).toEqual([2, ...idsA.slice(0, 2), 3]);
    expect(fromJson.encode(a, b, { maxLength: 3 }).ids).toEqual([2, 3, 3]);
    expect(fromJson.encode(a, b, { maxLength: 7, addSpecialTokens: false }).ids).toEqual([
      ...idsA.slice(0, 3),
      ...idsB.slice(0, 4),
    ]);
    expect(truncatedLengths(10, 14, 16, 3)).toEqual([6, 7]);
    expect(truncatedLengths(14, 10, 16, 3)).toEqual([7, 6]);
    expect(truncatedLengths(3, 14, 16, 3)).toEqual([3, 10]);
    expect(truncatedLengths(8, 8, 16, 3)).toEqual([6, 7]);
    expect(truncatedLengths(20, null, 16, 2)).toEqual([14, null]);
  });
});

describe("padding", () => {
  it("pads a batch of pairs: pad id, attention mask 0, type ids 0, special mask 1", () => {
    const batch = goldens.pairs.map((p) => fromVocab.encode(p.a, p.b));
    const padded = padBatch(batch, padOptionsFor(fromVocab));
    const longest = Math.max(...batch.map((e) => e.ids.length));
    padded.forEach((e, i) => {
      const n = batch[i].ids.length;
      expect(e.ids.length).toBe(longest);
      expect(e.ids).toEqual([...batch[i].ids, ...Array(longest - n).fill(0)]);
      expect(e.tokens.slice(n)).toEqual(Array(longest - n).fill("[PAD]"));
      expect(e.attentionMask).toEqual([...Array(n).fill(1), ...Array(longest - n).fill(0)]);
      expect(e.typeIds).toEqual([...goldens.pairs[i].token_type_ids, ...Array(longest - n).fill(0)]);
      expect(e.specialTokensMask.slice(n)).toEqual(Array(longest - n).fill(1));
      expect(e.sequenceIds.slice(n)).toEqual(Array(longest - n).fill(null));
      expect(e.offsets.slice(n)).toEqual(Array(longest - n).fill([0, 0]));
    });
    expect(batch[0].ids.length).toBeLessThan(longest); // the inputs are not modified
  });

  it("pads on the left and to a fixed length, leaving longer encodings alone", () => {
    const batch = [fromJson.encode("hello"), fromJson.encode("a much longer text than the first one")];
    const left = padBatch(batch, { padId: 0, side: "left", length: 10 });
    expect(left[0].ids).toEqual([0, 0, 0, 0, 0, ...batch[0].ids]);
    expect(left[0].attentionMask).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
    expect(left[1]).toEqual(batch[1]);
    expect(padBatch([], { padId: 0 })).toEqual([]);
    expect(() => padBatch(batch, { padId: 0, length: -1 })).toThrow(RangeError);
  });
});

describe("decoding", () => {
  const text = "[MASK] is a special token";
  it("keeps or skips special tokens", () => {
    const ids = fromJson.encode(text).ids;
    expect(fromJson.decode(ids)).toBe("[CLS] [MASK] is a special token [SEP]");
    expect(fromJson.decode(ids, { skipSpecialTokens: true })).toBe("is a special token");
    expect(fromVocab.decode(ids, { skipSpecialTokens: false })).toBe("[CLS] [MASK] is a special token [SEP]");
    expect(fromJson.decode([])).toBe("");
    expect(fromJson.decode([2, 3], { skipSpecialTokens: true })).toBe("");
  });

  it("joins word pieces and applies the WordPiece decoder's per-token cleanup only", () => {
    const ids = fromJson.encode("Hello, world! It's", undefined, { addSpecialTokens: false }).ids;
    expect(fromJson.decode(ids)).toBe("hello, world! it ' s");
  });

  it("honours clean_up_tokenization_spaces from tokenizer_config.json", () => {
    const tok = loadTokenizerFromFiles({
      vocabTxt,
      tokenizerConfig: '{"clean_up_tokenization_spaces": true}',
    });
    expect(tok.decode(tok.encode("It's", undefined, { addSpecialTokens: false }).ids)).toBe("it's");
  });
});

describe("unknown characters", () => {
  it("map to [UNK] with the whole word's offsets", () => {
    const text = `x — 中 😀 ${"a".repeat(101)}`;
    const enc = fromVocab.encode(text, undefined, { addSpecialTokens: false });
    expect(enc.tokens).toEqual(["x", "[UNK]", "[UNK]", "[UNK]", "[UNK]"]);
    expect(enc.ids).toEqual([fromVocab.tokenToId("x"), 1, 1, 1, 1]);
    expect(enc.offsets.map((o) => text.slice(...o))).toEqual(["x", "—", "中", "😀", "a".repeat(101)]);
  });

  it("astral CJK ideographs are isolated like BMP ones (as in BERT, unlike the library's own encode)", () => {
    const enc = fromJson.encode("𠀀abc", undefined, { addSpecialTokens: false });
    expect(enc.tokens).toEqual(["[UNK]", "ab", "##c"]);
    expect(enc.offsets).toEqual([
      [0, 2],
      [2, 4],
      [4, 5],
    ]);
  });

  it("unassigned code points and lone surrogates are removed like other C* characters", () => {
    const enc = fromJson.encode("a\u0378b\ud800c", undefined, { addSpecialTokens: false });
    expect(enc.tokens).toEqual(fromJson.encode("abc", undefined, { addSpecialTokens: false }).tokens);
    expect(enc.offsets.at(-1)![1]).toBe(5);
  });
});

describe("vocab.txt and config handling", () => {
  it("reads ids from line numbers (CRLF, BOM, empty lines)", () => {
    const vocab = parseVocabTxt("\ufeff[PAD]\r\n[UNK]\r\n\r\nfoo\n");
    expect([...vocab]).toEqual([
      ["[PAD]", 0],
      ["[UNK]", 1],
      ["", 2],
      ["foo", 3],
    ]);
  });

  it("rejects an empty vocab.txt or one without [UNK] / [CLS] / [SEP]", () => {
    expect(() => loadTokenizerFromFiles({ vocabTxt: "" })).toThrow(/vocab.txt is empty/);
    expect(() => loadTokenizerFromFiles({ vocabTxt: "\n" })).toThrow(/vocab.txt is empty/);
    expect(() => loadTokenizerFromFiles({ vocabTxt: "[PAD]\n[CLS]\n[SEP]\nhello\n" })).toThrow(
      /vocab.txt has no unknown token "\[UNK\]"/,
    );
    expect(() => loadTokenizerFromFiles({ vocabTxt: "[UNK]\nhello\n" })).toThrow(
      /no classifier token "\[CLS\]"/,
    );
    // A configured unk token must be there too.
    expect(() => loadTokenizerFromFiles({ vocabTxt, tokenizerConfig: '{"unk_token": "<unk>"}' })).toThrow(
      /no unknown token "<unk>"/,
    );
  });

  it("follows do_lower_case, special-token objects and model_max_length", () => {
    const cased = loadTokenizerFromFiles({
      vocabTxt,
      tokenizerConfig: JSON.stringify({
        do_lower_case: false,
        model_max_length: 512,
        unk_token: { content: "[UNK]", __type: "AddedToken" },
      }),
    }) as BertTokenizer;
    expect(cased.encode("The house").tokens).toEqual(["[CLS]", "[UNK]", "house", "[SEP]"]);
    expect(cased.modelMaxLength).toBe(512);
    expect(cased.special.unk).toBe(1);
    // Without a config: BERT defaults (lowercase, [UNK]/[CLS]/[SEP]/[PAD]/[MASK]).
    const plain = loadTokenizerFromFiles({ vocabTxt });
    expect(plain.encode("The house").tokens).toEqual(["[CLS]", "the", "house", "[SEP]"]);
    // An explicit do_lower_case in tokenizer_config.json overrides tokenizer.json (BertTokenizerFast).
    const jsonCased = loadTokenizerFromFiles({ tokenizerJson, tokenizerConfig: '{"do_lower_case": false}' });
    expect(jsonCased.encode("The house").tokens).toEqual(["[CLS]", "[UNK]", "house", "[SEP]"]);
  });

  it("rejects bad or unsupported files clearly", () => {
    expect(() => loadTokenizerFromFiles({})).toThrow(/give tokenizer.json, vocab.txt or spiece.model/);
    expect(() => loadTokenizerFromFiles({ tokenizerJson: "{" })).toThrow(/tokenizer.json is not valid JSON/);
    expect(() => loadTokenizerFromFiles({ vocabTxt, tokenizerConfig: "[]" })).toThrow(
      /must hold a JSON object/,
    );
    const bpe = JSON.stringify({ model: { type: "BPE", vocab: {} } });
    expect(() => loadTokenizerFromFiles({ tokenizerJson: bpe })).toThrow(/model type BPE is not supported/);
  });
});

describe("loadTokenizerDir", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  const tempDir = async (files: Record<string, string>) => {
    const dir = await mkdtemp(join(tmpdir(), "edgeformer-tok-"));
    dirs.push(dir);
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    return dir;
  };

  it("prefers tokenizer.json and falls back to vocab.txt", async () => {
    const fixtureDir = fixturePath("tok/bert");
    const both = await loadTokenizerDir(fixtureDir);
    expect(both.encode(goldens.texts[0].text).ids).toEqual(goldens.texts[0].input_ids);
    const broken = await tempDir({ "tokenizer.json": tokenizerJson, "vocab.txt": "" });
    expect((await loadTokenizerDir(broken)).vocabSize).toBe(2000); // vocab.txt not even read
    const onlyVocab = await tempDir({ "vocab.txt": vocabTxt, "tokenizer_config.json": tokenizerConfig });
    const tok = await loadTokenizerDir(onlyVocab);
    for (const g of goldens.texts) expect(tok.encode(g.text).ids).toEqual(g.input_ids);
  });

  it("says which files are missing", async () => {
    const empty = await tempDir({ "config.json": "{}" });
    await expect(loadTokenizerDir(empty)).rejects.toThrow(/no tokenizer.json, vocab.txt or spiece.model in/);
  });
});

// ---- property test ---------------------------------------------------------------------------------

const PIECES: ((r: () => number) => string)[] = [
  (r) => String.fromCharCode(0x20 + Math.floor(r() * 95)), // printable ASCII
  (r) => "abcdefghijklmnopqrstuvwxyz THE".charAt(Math.floor(r() * 30)),
  (r) =>
    ["\t", "\n", "\r", "\0", "\x0b", "\x85", "\u00a0", "\u200b", "\u2028", "\ufeff", "\ufffd"][
      Math.floor(r() * 11)
    ],
  (r) => String.fromCodePoint(0xc0 + Math.floor(r() * 0x180)), // Latin-1 / Latin Extended
  (r) => String.fromCodePoint(0x300 + Math.floor(r() * 0x70)), // combining marks
  (r) => String.fromCodePoint(0x370 + Math.floor(r() * 0x90)), // Greek (final sigma, unassigned holes)
  (r) => String.fromCodePoint(0x4e00 + Math.floor(r() * 0x5200)), // CJK
  (r) => String.fromCodePoint(0x20000 + Math.floor(r() * 0xa6e0)), // astral CJK
  (r) => String.fromCodePoint(0x1f300 + Math.floor(r() * 0x700)), // emoji
  (r) => String.fromCodePoint(0x10000 + Math.floor(r() * 0x100000)), // any astral plane
  (r) => String.fromCharCode(0xd800 + Math.floor(r() * 0x800)), // lone surrogate
  (r) => String.fromCharCode(Math.floor(r() * 0x10000)), // any BMP unit
  (r) => ["[MASK]", "[SEP]", "[CLS]", "[UNK]", "[PAD]", "##"][Math.floor(r() * 6)],
];

/** Around max_input_chars_per_word (100); rare, as the library's WordPiece is slow on long words. */
const longRun = (r: () => number) => "a".repeat(90 + Math.floor(r() * 20));

function randomText(r: () => number): string {
  const n = Math.floor(r() * r() * 40);
  let s = "";
  for (let i = 0; i < n; i++) s += r() < 0.01 ? longRun(r) : PIECES[Math.floor(r() * PIECES.length)](r);
  return s;
}

function checkEncoding(enc: Encoding, texts: string[], vocabSize: number): void {
  const n = enc.ids.length;
  for (const field of [
    enc.tokens,
    enc.typeIds,
    enc.attentionMask,
    enc.offsets,
    enc.specialTokensMask,
    enc.sequenceIds,
  ]) {
    expect(field.length).toBe(n);
  }
  const last = [
    [0, 0],
    [0, 0],
  ];
  for (let i = 0; i < n; i++) {
    expect(Number.isInteger(enc.ids[i]) && enc.ids[i] >= 0 && enc.ids[i] < vocabSize).toBe(true);
    const seq = enc.sequenceIds[i];
    const [s, e] = enc.offsets[i];
    if (seq === null) {
      expect([s, e]).toEqual([0, 0]);
      continue;
    }
    const text = texts[seq];
    expect(0 <= s && s <= e && e <= text.length).toBe(true);
    // Never inside a surrogate pair.
    for (const u of [s, e]) {
      const isPairTail =
        u > 0 &&
        u < text.length &&
        (text.charCodeAt(u) & 0xfc00) === 0xdc00 &&
        (text.charCodeAt(u - 1) & 0xfc00) === 0xd800;
      expect(isPairTail).toBe(false);
    }
    // Monotone within each text.
    expect(s >= last[seq][0] && e >= last[seq][1]).toBe(true);
    last[seq] = [s, e];
  }
}

/** Characters where we deliberately follow Rust tokenizers rather than the library's whole-string encode. */
const DIVERGENT =
  /[\u03a3\p{Cn}\u{20000}-\u{2a6df}\u{2a700}-\u{2ceaf}\u{2f800}-\u{2fa1f}\u{1d165}-\u{1d172}]/u;

describe("random Unicode (seeded property test)", () => {
  it("never throws; offsets stay inside the text, on code point boundaries, monotone", () => {
    const r = rng(20240611);
    const tok = fromJson as BertTokenizer;
    let compared = 0;
    for (let k = 0; k < 3000; k++) {
      const a = randomText(r);
      const b = randomText(r);
      const single = tok.encode(a);
      checkEncoding(single, [a], tok.vocabSize);
      checkEncoding(tok.encode(a, b), [a, b], tok.vocabSize);
      const maxLength = 3 + Math.floor(r() * 20);
      const cut = tok.encode(a, b, { maxLength });
      checkEncoding(cut, [a, b], tok.vocabSize);
      expect(cut.ids.length).toBeLessThanOrEqual(maxLength);
      expect(() => tok.decode(single.ids)).not.toThrow();
      // Same tokens as the library's own encode wherever we do not deliberately differ.
      if (!DIVERGENT.test(a)) {
        expect(single.tokens).toEqual(tok.lib.encode(a).tokens);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(1000);
  });

  it("vocab.txt and tokenizer.json give identical encodings", () => {
    const r = rng(7);
    for (let k = 0; k < 500; k++) {
      const a = randomText(r);
      const b = randomText(r);
      expect(fromVocab.encode(a, b)).toEqual(fromJson.encode(a, b));
    }
  });
});
