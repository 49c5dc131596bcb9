// T5 tokenizer: exact goldens (ids, tokens, decoded with and without special tokens) from both
// tokenizer.json and a bare spiece.model, the spiece.model -> tokenizer.json synthesis compared field
// by field with what transformers saved, the hand-written protobuf parser (including corrupt and
// truncated files), Encoding fields and truncation, the places where we deliberately differ from
// @huggingface/tokenizers, and a seeded property test over random Unicode.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  PrecompiledCharsmap,
  parseSentencePieceModel,
  SentencePieceModelError,
} from "../../src/tokenizers/sentencepiece-proto.ts";
import {
  spieceToTokenizerJson,
  t5TokenizerFromJson,
  t5TokenizerFromSpiece,
} from "../../src/tokenizers/t5.ts";
import { TruncationError } from "../../src/tokenizers/truncation.ts";
import type { Encoding, Tokenizer } from "../../src/tokenizers/types.ts";
import { fixturePath, readJsonFixture } from "../helpers/fixtures.ts";
import { rng } from "../helpers/random.ts";

interface Golden {
  text: string;
  input_ids: number[];
  tokens: string[];
  decoded: string;
  decoded_keep_special: string;
}

const goldens = readJsonFixture<{ vocab_size: number; texts: Golden[] }>("tok/t5_goldens.json");
const jsonText = readFileSync(fixturePath("tok/t5/tokenizer.json"), "utf8");
const config = readJsonFixture<object>("tok/t5/tokenizer_config.json");
const spiece = new Uint8Array(readFileSync(fixturePath("tok/t5/spiece.model")));

const fromJson = t5TokenizerFromJson(jsonText, config);
const fromSpiece = t5TokenizerFromSpiece(spiece, config, "spiece.model");
const sources: [string, Tokenizer][] = [
  ["tokenizer.json", fromJson],
  ["spiece.model", fromSpiece],
];

function expectWellFormed(tok: Tokenizer, text: string, enc: Encoding): void {
  const n = enc.ids.length;
  for (const arr of [
    enc.tokens,
    enc.typeIds,
    enc.attentionMask,
    enc.offsets,
    enc.specialTokensMask,
    enc.sequenceIds,
  ]) {
    expect(arr.length).toBe(n);
  }
  for (let i = 0; i < n; i++) {
    const id = enc.ids[i];
    expect(Number.isInteger(id) && id >= 0 && id < tok.vocabSize).toBe(true);
    expect(tok.idToToken(id)).toBe(enc.tokens[i]);
    const [s, e] = enc.offsets[i];
    expect(s >= 0 && s <= e && e <= text.length).toBe(true);
  }
}

describe("T5 goldens", () => {
  it("covers the texts the fixture promises", () => {
    expect(goldens.texts.length).toBeGreaterThanOrEqual(16);
    expect(goldens.texts.some((g) => g.text === "")).toBe(true);
    expect(goldens.texts.some((g) => g.text.includes("<extra_id_0>"))).toBe(true);
  });

  for (const [name, tok] of sources) {
    describe(`from ${name}`, () => {
      it.each(goldens.texts.map((g) => [JSON.stringify(g.text).slice(0, 60), g] as const))(
        "%s",
        (_label, g) => {
          const enc = tok.encode(g.text);
          expect(enc.ids).toEqual(g.input_ids);
          expect(enc.tokens).toEqual(g.tokens);
          expect(tok.decode(g.input_ids, { skipSpecialTokens: true })).toBe(g.decoded);
          expect(tok.decode(g.input_ids)).toBe(g.decoded_keep_special);
          expect(tok.decode(enc.ids, { skipSpecialTokens: true })).toBe(g.decoded);
          expectWellFormed(tok, g.text, enc);
        },
      );

      it("has the T5 vocab, special ids and the 100 sentinels", () => {
        expect(tok.vocabSize).toBe(goldens.vocab_size);
        expect(tok.special).toEqual({ pad: 0, eos: 1, unk: 2 });
        for (let n = 0; n < 100; n++) {
          expect(tok.tokenToId(`<extra_id_${n}>`)).toBe(1099 - n);
          expect(tok.idToToken(1099 - n)).toBe(`<extra_id_${n}>`);
        }
        expect(tok.tokenToId("<extra_id_100>")).toBeUndefined();
        expect(tok.tokenToId("▁the")).toBe(5);
        expect(tok.idToToken(1100)).toBeUndefined();
        expect(tok.idToToken(-1)).toBeUndefined();
        expect(tok.idToToken(1.5)).toBeUndefined();
      });
    });
  }
});

describe("spiece.model -> tokenizer.json", () => {
  const fixture = JSON.parse(jsonText) as Record<string, unknown>;
  const synthesized = JSON.parse(
    JSON.stringify(spieceToTokenizerJson(parseSentencePieceModel(spiece), config)),
  );

  it.each(Object.keys(fixture))("matches transformers' %s", (key) => {
    expect(synthesized[key]).toEqual(fixture[key]);
  });

  it("has no fields transformers does not write", () => {
    expect(Object.keys(synthesized).sort()).toEqual(Object.keys(fixture).sort());
  });

  it("appends <extra_id_99> … <extra_id_0> to the 1000 pieces", () => {
    const vocab = synthesized.model.vocab as [string, number][];
    expect(vocab.length).toBe(1100);
    expect(vocab[1000]).toEqual(["<extra_id_99>", 0]);
    expect(vocab[1099]).toEqual(["<extra_id_0>", 0]);
  });

  it("honours extra_ids from tokenizer_config", () => {
    const json = spieceToTokenizerJson(parseSentencePieceModel(spiece), { extra_ids: 3 });
    expect(json.model.vocab.length).toBe(1003);
    expect(json.added_tokens.map((t) => t.content)).toEqual([
      "<pad>",
      "</s>",
      "<unk>",
      "<extra_id_2>",
      "<extra_id_1>",
      "<extra_id_0>",
    ]);
    const tok = t5TokenizerFromSpiece(spiece, { extra_ids: 0 });
    expect(tok.vocabSize).toBe(1000);
    expect(tok.encode("<extra_id_0>").tokens).not.toContain("<extra_id_0>");
  });
});

describe("SentencePiece ModelProto parser", () => {
  const model = parseSentencePieceModel(spiece, "spiece.model");

  it("reads pieces with scores and types", () => {
    expect(model.pieces.length).toBe(1000);
    expect(model.pieces.slice(0, 4)).toEqual([
      { piece: "<pad>", score: 0, type: "CONTROL" },
      { piece: "</s>", score: 0, type: "CONTROL" },
      { piece: "<unk>", score: 0, type: "UNKNOWN" },
      { piece: "s", score: Math.fround(-3.0512092113494873), type: "NORMAL" },
    ]);
  });

  it("reads trainer_spec, including negative int32 ids", () => {
    expect(model.trainerSpec).toMatchObject({
      modelType: "UNIGRAM",
      vocabSize: 1000,
      unkId: 2,
      eosId: 1,
      padId: 0,
      bosId: -1,
      byteFallback: false,
      unkPiece: "<unk>",
      eosPiece: "</s>",
    });
  });

  it("reads normalizer_spec and its precompiled charsmap", () => {
    const ns = model.normalizerSpec;
    expect(ns).toMatchObject({
      name: "nmt_nfkc",
      addDummyPrefix: true,
      removeExtraWhitespaces: true,
      escapeWhitespaces: true,
    });
    const cm = new PrecompiledCharsmap(ns.precompiledCharsmap);
    expect(cm.transform("\ufb01")).toBe("fi");
    expect(cm.transform("\u2122")).toBe("TM");
    expect(cm.transform("\u200b")).toBe(" ");
    expect(cm.transform("\u0001")).toBe("");
    expect(cm.transform("e\u0301")).toBe("\u00e9");
    expect(cm.transform("\u00e9")).toBeNull(); // already NFKC
    expect(cm.transform("\u0000")).toBeNull(); // a NUL byte ends the trie key, as in HF
    expect(cm.transform("\u200d")).toBeNull(); // the joiner is kept (the library makes it a space)
    expect(cm.transform("\ud800")).toBeNull(); // lone surrogates cannot be UTF-8: no rule
  });

  it("accepts an ArrayBuffer", () => {
    const copy = spiece.slice().buffer;
    expect(parseSentencePieceModel(copy).pieces.length).toBe(1000);
  });
});

describe("corrupt or truncated spiece.model", () => {
  const fails = (bytes: Uint8Array, name?: string): SentencePieceModelError => {
    try {
      t5TokenizerFromSpiece(bytes, config, name);
    } catch (err) {
      expect(err).toBeInstanceOf(SentencePieceModelError);
      return err as SentencePieceModelError;
    }
    throw new Error("expected the model to be rejected");
  };

  it("names the file and says what is wrong", () => {
    const err = fails(spiece.slice(0, 5000), "models/t5/spiece.model");
    expect(err.message).toContain('"models/t5/spiece.model"');
    expect(err.message).toMatch(/truncated/);
    expect(err.message).toMatch(/pieces\[\d+\]/);
  });

  it("does not invent a name when none is given", () => {
    expect(fails(spiece.slice(0, 5000)).message).toMatch(/^Cannot read SentencePiece model \(/);
  });

  it("rejects every truncation (sampled), including one at a message boundary", () => {
    const r = rng(11);
    const cuts = [0, 1, 2, 3, spiece.length - 1];
    for (let i = 0; i < 150; i++) cuts.push(Math.floor(r() * spiece.length));
    cuts.push(topLevelFieldOffset(spiece, 2)); // after the last piece, before trainer_spec
    cuts.push(topLevelFieldOffset(spiece, 3)); // after trainer_spec, before normalizer_spec
    for (const cut of cuts) {
      const err = fails(spiece.slice(0, cut), "spiece.model");
      expect(err.message).toContain('"spiece.model"');
    }
  });

  it("rejects garbage, JSON and empty input with a clear message", () => {
    expect(fails(new Uint8Array(0), "a.model").message).toMatch(/empty/);
    expect(fails(new TextEncoder().encode(jsonText.slice(0, 100)), "a.model").message).toMatch(/JSON/);
    const r = rng(5);
    for (let n = 0; n < 50; n++) {
      const junk = Uint8Array.from({ length: 1 + Math.floor(r() * 4000) }, () => Math.floor(r() * 256));
      if (junk[0] === 0x7b || junk[0] === 0x5b) junk[0] = 0x0a;
      expect(fails(junk, "junk.model").message).toContain('"junk.model"');
    }
  });

  it("either loads or throws SentencePieceModelError when bits are flipped", () => {
    const r = rng(21);
    for (let n = 0; n < 60; n++) {
      const b = spiece.slice();
      for (let k = 0; k < 3; k++) b[Math.floor(r() * b.length)] ^= 1 << Math.floor(r() * 8);
      try {
        const tok = t5TokenizerFromSpiece(b, config, "flipped.model");
        tok.encode("Hello, world! \u00e9\u200d\u{1f600}");
      } catch (err) {
        expect(err).toBeInstanceOf(SentencePieceModelError);
      }
    }
  });
});

// A tiny protobuf writer to build SentencePiece models with features the fixture lacks.
function varint(n: number): number[] {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
}
const key = (field: number, wire: number) => varint((field << 3) | wire);
const int = (field: number, v: number) => [...key(field, 0), ...varint(v)];
const bytesField = (field: number, payload: number[]) => [
  ...key(field, 2),
  ...varint(payload.length),
  ...payload,
];
const str = (field: number, s: string) => bytesField(field, [...new TextEncoder().encode(s)]);
const f32 = (field: number, x: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, x, true);
  return [...key(field, 5), ...b];
};
const TYPES = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

function buildModel(opts: {
  pieces: [string, number, keyof typeof TYPES][];
  modelType?: number;
  unkId?: number;
  addDummyPrefix?: boolean;
}): Uint8Array {
  const out: number[] = [];
  for (const [piece, score, type] of opts.pieces) {
    out.push(...bytesField(1, [...str(1, piece), ...f32(2, score), ...int(3, TYPES[type])]));
  }
  out.push(
    ...bytesField(2, [
      ...int(3, opts.modelType ?? 1),
      ...int(4, opts.pieces.length),
      ...int(40, opts.unkId ?? 2),
      ...int(41, -1),
      ...int(42, 1),
      ...int(43, 0),
      ...str(1, "ignored-input.txt"), // a training-only field the parser must skip
    ]),
  );
  out.push(...bytesField(3, [...str(1, "identity"), ...int(3, opts.addDummyPrefix === false ? 0 : 1)]));
  return Uint8Array.from(out);
}

const basePieces: [string, number, keyof typeof TYPES][] = [
  ["<pad>", 0, "CONTROL"],
  ["</s>", 0, "CONTROL"],
  ["<unk>", 0, "UNKNOWN"],
  ["<sep>", 0, "USER_DEFINED"],
  ["▁", -2, "NORMAL"],
  ["▁hello", -1, "NORMAL"],
  ["▁▁", -10, "NORMAL"],
  ...[..."abcdefghijklmnopqrstuvwxyz"].map((c): [string, number, "NORMAL"] => [c, -3, "NORMAL"]),
  ["<0x41>", 0, "BYTE"],
  ["unused", 0, "UNUSED"],
];

describe("hand-built SentencePiece models", () => {
  it("parses all piece types and negative ids", () => {
    const m = parseSentencePieceModel(buildModel({ pieces: basePieces }));
    expect(m.pieces.map((p) => p.type)).toContain("BYTE");
    expect(m.pieces.map((p) => p.type)).toContain("UNUSED");
    expect(m.trainerSpec.bosId).toBe(-1);
    expect(m.normalizerSpec.precompiledCharsmap.length).toBe(0);
    expect(m.normalizerSpec.name).toBe("identity");
  });

  it("makes user-defined pieces added tokens that are not special", () => {
    const tok = t5TokenizerFromSpiece(buildModel({ pieces: basePieces }));
    const json = spieceToTokenizerJson(parseSentencePieceModel(buildModel({ pieces: basePieces })));
    expect(json.normalizer).toBeNull();
    expect(json.added_tokens.find((t) => t.content === "<sep>")).toMatchObject({ id: 3, special: false });
    const enc = tok.encode("hello<sep>world");
    expect(enc.tokens).toEqual(["▁hello", "<sep>", "▁", "w", "o", "r", "l", "d", "</s>"]);
    expect(enc.specialTokensMask).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect(tok.decode(enc.ids, { skipSpecialTokens: true })).toBe("hello<sep> world");
    expect(tok.vocabSize).toBe(basePieces.length + 100);
    expect(tok.tokenToId("<extra_id_0>")).toBe(basePieces.length + 99);
  });

  it("maps add_dummy_prefix=false to prepend_scheme never", () => {
    const bytes = buildModel({ pieces: basePieces, addDummyPrefix: false });
    const json = spieceToTokenizerJson(parseSentencePieceModel(bytes));
    expect(json.decoder.prepend_scheme).toBe("never");
    expect(t5TokenizerFromSpiece(bytes).encode("hello hello").tokens).toEqual([
      "h",
      "e",
      "l",
      "l",
      "o",
      "h",
      "e",
      "l",
      "l",
      "o",
      "</s>",
    ]);
  });

  it("refuses a BPE model with a clear error naming the file", () => {
    expect(() =>
      t5TokenizerFromSpiece(buildModel({ pieces: basePieces, modelType: 2 }), {}, "bpe.model"),
    ).toThrow(/BPE.*UNIGRAM.*bpe\.model/);
  });

  it("refuses an unk_id that is not the UNKNOWN piece", () => {
    expect(() => t5TokenizerFromSpiece(buildModel({ pieces: basePieces, unkId: 4 }), {}, "x.model")).toThrow(
      SentencePieceModelError,
    );
  });
});

describe("Encoding fields", () => {
  const tok = fromSpiece;

  it("gives offsets into the text (UTF-16, the prepended ▁ on the first character, as in HF)", () => {
    const text = "The quick <extra_id_3> fox";
    const enc = tok.encode(text);
    const slices = enc.tokens.map((t, i) => [t, text.slice(...enc.offsets[i])]);
    expect(slices).toEqual([
      ["▁", "T"],
      ["The", "The"],
      ["▁qu", "qu"],
      ["ic", "ic"],
      ["k", "k"],
      ["<extra_id_3>", "<extra_id_3>"],
      ["▁f", "f"],
      ["o", "o"],
      ["x", "x"],
      ["</s>", ""],
    ]);
    expect(enc.offsets.at(-1)).toEqual([0, 0]);
    expect(enc.specialTokensMask).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect(enc.sequenceIds).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, null]);
    expect(enc.attentionMask.every((m) => m === 1)).toBe(true);
  });

  it("maps normalized characters back to the original span", () => {
    const text = "x \ufb01 \u{1f600}\u{1f600}";
    const enc = tok.encode(text, undefined, { addSpecialTokens: false });
    expect(enc.tokens).toEqual(["▁", "x", "▁f", "i", "▁", "<unk>"]);
    expect(enc.offsets).toEqual([
      [0, 1],
      [0, 1],
      [2, 3],
      [2, 3],
      [4, 6],
      [4, 8],
    ]);
  });

  it("encodes pairs as $A </s> $B </s> with T5's type ids (all 0)", () => {
    const enc = tok.encode("hello world", "the house");
    const a = tok.encode("hello world").tokens;
    const b = tok.encode("the house").tokens;
    expect(enc.tokens).toEqual([...a, ...b]);
    const eos = enc.ids.flatMap((id, i) => (id === 1 ? [i] : []));
    expect(eos).toEqual([enc.ids.indexOf(1), enc.ids.length - 1]);
    expect(enc.typeIds.every((t) => t === 0)).toBe(true);
    expect(enc.sequenceIds).toEqual(
      enc.ids.map((_, i) => (i === eos[0] || i === eos[1] ? null : i < eos[0] ? 0 : 1)),
    );
    expect(enc.specialTokensMask).toEqual(enc.ids.map((_, i) => (i === eos[0] || i === eos[1] ? 1 : 0)));
    expect(enc.offsets.slice(eos[0] + 1, eos[1]).map(([s, e]) => "the house".slice(s, e))).toEqual([
      "the",
      "house",
    ]);
  });

  it("without special tokens, the pair gets type id 1 (HF)", () => {
    const enc = tok.encode("hello", "world", { addSpecialTokens: false });
    expect(enc.ids).not.toContain(1);
    const first = tok.encode("hello", undefined, { addSpecialTokens: false }).ids.length;
    expect(enc.typeIds).toEqual(enc.ids.map((_, i) => (i < first ? 0 : 1)));
  });

  it("encodes an empty text as just </s>, and an empty pair too", () => {
    expect(tok.encode("").ids).toEqual([1]);
    expect(tok.encode("", "").ids).toEqual([1, 1]);
    expect(tok.encode("   \t\n").ids).toEqual([1]);
    expect(tok.encode("", undefined, { addSpecialTokens: false }).ids).toEqual([]);
  });
});

describe("truncation", () => {
  const tok = fromJson;
  const a = "The quick brown fox jumps over the lazy dog."; // 22 tokens
  const b = "translate English to German"; // 6 tokens
  const lenA = tok.encode(a, undefined, { addSpecialTokens: false }).ids.length;
  const lenB = tok.encode(b, undefined, { addSpecialTokens: false }).ids.length;

  it("keeps maxLength including </s>", () => {
    const enc = tok.encode(a, undefined, { maxLength: 8 });
    expect(enc.ids.length).toBe(8);
    expect(enc.ids.at(-1)).toBe(1);
    expect(enc.ids.slice(0, 7)).toEqual(tok.encode(a).ids.slice(0, 7));
    expect(tok.encode(a, undefined, { maxLength: 1 }).ids).toEqual([1]);
    expect(tok.encode(a, undefined, { maxLength: 100 }).ids).toEqual(tok.encode(a).ids);
  });

  it("longest_first cuts the longer sequence first, then both (HF's split)", () => {
    expect(lenA).toBeGreaterThan(lenB + 4);
    const count = (enc: Encoding, seq: number) => enc.sequenceIds.filter((s) => s === seq).length;
    let enc = tok.encode(a, b, { maxLength: lenB + 2 + 10 });
    expect([count(enc, 0), count(enc, 1)]).toEqual([10, lenB]);
    enc = tok.encode(a, b, { maxLength: 2 + 7 });
    expect([count(enc, 0), count(enc, 1)]).toEqual([4, 3]);
    expect(enc.ids.length).toBe(9);
  });

  it("only_first / only_second, and a clear error when impossible", () => {
    const count = (enc: Encoding, seq: number) => enc.sequenceIds.filter((s) => s === seq).length;
    const enc = tok.encode(a, b, { maxLength: lenB + 2 + 5, truncation: "only_first" });
    expect([count(enc, 0), count(enc, 1)]).toEqual([5, lenB]);
    const enc2 = tok.encode(b, a, { maxLength: lenB + 2 + 5, truncation: "only_second" });
    expect([count(enc2, 0), count(enc2, 1)]).toEqual([lenB, 5]);
    expect(() => tok.encode(a, b, { maxLength: 4, truncation: "only_second" })).toThrow(TruncationError);
    expect(() => tok.encode(a, b, { maxLength: 4, truncation: "only_second" })).toThrow(/only_second/);
    // HF keeps at least one token of the text it cuts.
    expect(() => tok.encode(a, b, { maxLength: lenB + 2, truncation: "only_first" })).toThrow(
      TruncationError,
    );
    expect(() => tok.encode(a, undefined, { maxLength: 4, truncation: "only_second" })).toThrow(
      /second text/,
    );
    expect(() => tok.encode(a, b, { maxLength: 1 })).toThrow(/special tokens/);
    expect(() => tok.encode(a, undefined, { maxLength: -1 })).toThrow(/maxLength/);
  });
});

describe("where we differ from @huggingface/tokenizers 0.2.0 (and follow HF tokenizers)", () => {
  const tok = fromSpiece;

  it("keeps U+200D ZERO WIDTH JOINER (the charsmap has no rule for it): one <unk> per emoji sequence", () => {
    expect(tok.encode("\u{1f468}\u200d\u{1f469}\u200d\u{1f467}").tokens).toEqual(["▁", "<unk>", "</s>"]);
  });

  it("splits words on U+0085 (Unicode White_Space) but not on U+FEFF handled by the charsmap", () => {
    expect(tok.encode("a\u0085b").tokens).toEqual(["▁a", "▁", "b", "</s>"]);
    expect(tok.encode("a\ufeffb").tokens).toEqual(["▁a", "▁", "b", "</s>"]);
  });

  it("normalizes short grapheme clusters by their first charsmap rule, as HF's Precompiled does", () => {
    expect(tok.encode("\ufb01\u0301").tokens).toEqual(["▁f", "i", "</s>"]);
    expect(tok.encode("e\u0301").tokens).toEqual(["▁", "<unk>", "</s>"]); // é, composed
  });

  it("fuses long runs of unknown characters in linear time", () => {
    const text = "\u4e2d".repeat(50_000);
    const t0 = performance.now();
    const enc = tok.encode(text);
    expect(enc.tokens).toEqual(["▁", "<unk>", "</s>"]);
    expect(enc.offsets[1]).toEqual([0, 50_000]);
    expect(performance.now() - t0).toBeLessThan(5_000);
  });

  it("decodes an empty list, drops ids outside the vocab and does not clean up spaces by default", () => {
    expect(tok.decode([])).toBe("");
    expect(tok.decode([5, 99999, -1, 1.5, 1], { skipSpecialTokens: true })).toBe("the");
    const ids = tok.encode("a . b").ids;
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe("a . b");
    const cleaning = t5TokenizerFromJson(jsonText, { ...config, clean_up_tokenization_spaces: true });
    expect(cleaning.decode(ids, { skipSpecialTokens: true })).toBe("a. b");
  });

  it("drops every ▁ of the first decoded token, as HF's Metaspace decoder", () => {
    expect(tok.decode([7, 7, 5])).toBe("  the"); // later ▁ are spaces
    const small = t5TokenizerFromSpiece(buildModel({ pieces: basePieces }));
    const ids = [small.tokenToId("▁▁")!, small.tokenToId("a")!];
    expect(small.decode(ids)).toBe("a"); // the library gives " a"
  });
});

describe("tokenizer.json input", () => {
  it("accepts a parsed object and a string alike", () => {
    const obj = t5TokenizerFromJson(JSON.parse(jsonText));
    expect(obj.encode("Hello, world!").ids).toEqual(fromJson.encode("Hello, world!").ids);
  });

  it("rejects broken or non-T5 files clearly", () => {
    expect(() => t5TokenizerFromJson("{not json")).toThrow(/not valid JSON/);
    expect(() => t5TokenizerFromJson({ model: { type: "BPE", vocab: {}, merges: [] } })).toThrow(/Unigram/);
    const json = JSON.parse(jsonText);
    json.pre_tokenizer = { type: "ByteLevel" };
    expect(() => t5TokenizerFromJson(json)).toThrow(/unsupported pre_tokenizer "ByteLevel"/);
  });

  it("reads older T5 files (Metaspace add_prefix_space, Strip/Replace normalizers)", () => {
    const json = JSON.parse(jsonText);
    json.pre_tokenizer = {
      type: "Sequence",
      pretokenizers: [
        { type: "WhitespaceSplit" },
        { type: "Metaspace", replacement: "▁", add_prefix_space: true },
      ],
    };
    json.decoder = { type: "Metaspace", replacement: "▁", add_prefix_space: true };
    json.normalizer = {
      type: "Sequence",
      normalizers: [
        json.normalizer,
        { type: "Strip", strip_left: false, strip_right: true },
        { type: "Replace", pattern: { Regex: " {2,}" }, content: "▁" },
      ],
    };
    const old = t5TokenizerFromJson(json, config);
    for (const g of goldens.texts) expect(old.encode(g.text).ids).toEqual(g.input_ids);
  });
});

describe("property: random Unicode never throws", () => {
  const r = rng(20240611);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const gens: (() => string)[] = [
    () => String.fromCharCode(0x20 + Math.floor(r() * 95)), // printable ASCII
    () => String.fromCodePoint(0x300 + Math.floor(r() * 0x70)), // combining marks
    () => String.fromCodePoint(Math.floor(r() * 0x20)), // C0 controls
    () => String.fromCodePoint(0x7f + Math.floor(r() * 0x21)), // DEL, C1 controls
    () => String.fromCharCode(0xd800 + Math.floor(r() * 0x800)), // lone surrogates
    () => String.fromCodePoint(0x10000 + Math.floor(r() * 0xfffff)), // astral planes
    () => String.fromCodePoint(0x1f300 + Math.floor(r() * 0x300)), // emoji
    () => String.fromCodePoint(Math.floor(r() * 0xd800)), // BMP
    () => String.fromCodePoint(0xac00 + Math.floor(r() * 0x2ba4)), // Hangul
    () =>
      pick([" ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u200b", "\u200d", "\ufeff", "\u0085", "\u2581"]),
    () => pick(["<extra_id_", ">", "</s>", "<pad>", "<unk>", `<extra_id_${Math.floor(r() * 120)}>`]),
    () =>
      pick(["e\u0301", "\ufb01", "\uff5e", "\u{1f1eb}\u{1f1f7}", "\u{1f44d}\u{1f3fd}", "\u0915\u094d\u0937"]),
  ];
  const randomText = (maxLen: number) => {
    let s = "";
    const len = Math.floor(r() * maxLen);
    for (let i = 0; i < len; i++) s += gens[Math.floor(r() * gens.length)]();
    return s;
  };

  it("encodes and decodes 3000 random strings from both sources identically and well-formed", () => {
    for (let n = 0; n < 3000; n++) {
      const text = randomText(n % 10 === 0 ? 200 : 30);
      const pair = n % 4 === 0 ? randomText(20) : undefined;
      const options = n % 3 === 0 ? { maxLength: 2 + Math.floor(r() * 40) } : {};
      const a = fromJson.encode(text, pair, options);
      const b = fromSpiece.encode(text, pair, options);
      expect(b).toEqual(a);
      if (pair === undefined) {
        expectWellFormed(fromJson, text, a);
        expect(a.ids.at(-1)).toBe(1);
      }
      if (options.maxLength !== undefined) expect(a.ids.length).toBeLessThanOrEqual(options.maxLength);
      expect(typeof fromJson.decode(a.ids)).toBe("string");
      expect(fromJson.decode(a.ids, { skipSpecialTokens: true })).toBe(
        fromSpiece.decode(b.ids, { skipSpecialTokens: true }),
      );
    }
  });

  it("round-trips words the vocab covers", () => {
    const chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:!?'\"()-/";
    for (let n = 0; n < 1000; n++) {
      let text = "";
      const len = Math.floor(r() * 60);
      for (let i = 0; i < len; i++) text += r() < 0.2 ? pick([" ", "  ", "\t", "\n"]) : pick([...chars]);
      const words = text.split(/\s+/).filter(Boolean).join(" ");
      expect(fromJson.decode(fromJson.encode(text).ids, { skipSpecialTokens: true })).toBe(words);
    }
  });
});

describe("Workers-safe sources", () => {
  it("import nothing from Node", () => {
    for (const file of ["t5.ts", "sentencepiece-proto.ts"]) {
      const src = readFileSync(new URL(`../../src/tokenizers/${file}`, import.meta.url), "utf8");
      expect(src).not.toMatch(/from\s+["']node:|require\(|\bBuffer\b|process\./);
    }
  });
});

/** Byte offset of the first top-level field `field` of a ModelProto (walks the length prefixes). */
function topLevelFieldOffset(bytes: Uint8Array, field: number): number {
  let pos = 0;
  const readVarint = () => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[pos++];
      v += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if ((b & 0x80) === 0) return v;
    }
  };
  while (pos < bytes.length) {
    const start = pos;
    const k = readVarint();
    if (k >>> 3 === field) return start;
    const len = readVarint();
    pos += len;
  }
  throw new Error(`field ${field} not found`);
}
