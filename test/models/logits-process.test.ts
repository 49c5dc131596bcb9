// The repetition logits processors (src/models/logits-process.ts) on hand-built scores: transformers'
// RepetitionPenaltyLogitsProcessor (negative scores × p, others ÷ p, each id once) and
// NoRepeatNGramLogitsProcessor (n larger than the sequence, n = 1, the decoder start token counting),
// checked against a port of transformers' _get_ngrams dictionary on random sequences; option
// validation; the prompt histories of the LM architectures.
import { describe, expect, it } from "vitest";
import {
  applyNoRepeatNgram,
  applyRepetitionPenalty,
  applyRepetitionProcessors,
  bannedNgramTokens,
  promptHistories,
  repetitionActive,
  repetitionSettings,
} from "../../src/models/logits-process.ts";
import { rng } from "../helpers/random.ts";

/** transformers' _get_ngrams + _get_generated_ngrams, kept as a dictionary of (n−1)-gram → next tokens. */
function hfBanned(tokens: number[], n: number): number[] {
  const curLen = tokens.length;
  if (curLen + 1 < n) return [];
  const ngrams = new Map<string, number[]>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const key = tokens.slice(i, i + n - 1).join(",");
    ngrams.set(key, [...(ngrams.get(key) ?? []), tokens[i + n - 1]]);
  }
  const key = tokens.slice(curLen + 1 - n, curLen).join(",");
  return [...new Set(ngrams.get(key) ?? [])].sort((a, b) => a - b);
}

describe("RepetitionPenaltyLogitsProcessor", () => {
  it("divides non-negative scores and multiplies negative ones, each seen id once", () => {
    const scores = Float32Array.from([2, -3, 0.5, -1, 4, 0]);
    applyRepetitionPenalty(scores, [1, 3, 1, 4, 5, 1], 2);
    expect(Array.from(scores)).toEqual([2, -6, 0.5, -2, 2, 0]);
    const encourage = Float32Array.from([2, -3, 0.5, -1, 4]);
    applyRepetitionPenalty(encourage, [1, 3, 4], 0.5);
    expect(Array.from(encourage)).toEqual([2, -1.5, 0.5, -0.5, 8]);
  });

  it("rounds to float32 like the torch tensors", () => {
    const scores = Float32Array.from([0.1, -0.3]);
    applyRepetitionPenalty(scores, [0, 1], 1.3);
    expect(scores[0]).toBe(Math.fround(Math.fround(0.1) / 1.3));
    expect(scores[1]).toBe(Math.fround(Math.fround(-0.3) * 1.3));
  });
});

describe("NoRepeatNGramLogitsProcessor", () => {
  it("bans the tokens that followed the last n−1 tokens earlier", () => {
    expect(bannedNgramTokens([0, 5, 6, 5], 2)).toEqual([6]);
    expect(bannedNgramTokens([0, 5, 6, 5, 9, 5], 2)).toEqual([6, 9]);
    expect(bannedNgramTokens([0, 5, 6, 7, 5, 6], 3)).toEqual([7]);
    expect(bannedNgramTokens([0, 5, 6, 7, 5, 8], 3)).toEqual([]);
  });

  it("counts the decoder start token, as transformers' decoder input_ids", () => {
    expect(bannedNgramTokens([0, 7, 0], 2)).toEqual([7]);
  });

  it("n larger than the sequence bans nothing; n = 1 bans every token seen", () => {
    expect(bannedNgramTokens([0, 5], 4)).toEqual([]);
    expect(bannedNgramTokens([5, 6], 3)).toEqual([]); // L + 1 = n: the prefix is the whole sequence
    expect(bannedNgramTokens([], 1)).toEqual([]);
    expect(bannedNgramTokens([0, 9, 5, 5, 9], 1)).toEqual([0, 5, 9]);
    const scores = Float32Array.from([1, 2, 3, 4, 5, 6]);
    applyNoRepeatNgram(scores, [0, 5, 5], 1);
    expect(Array.from(scores)).toEqual([Number.NEGATIVE_INFINITY, 2, 3, 4, 5, Number.NEGATIVE_INFINITY]);
  });

  it("equals transformers' n-gram dictionary on random sequences", () => {
    const r = rng(7);
    let nonEmpty = 0;
    for (let trial = 0; trial < 400; trial++) {
      const n = 1 + Math.floor(r() * 4);
      const len = Math.floor(r() * 14);
      const tokens = Array.from({ length: len }, () => Math.floor(r() * 4));
      const want = hfBanned(tokens, n);
      expect(bannedNgramTokens(tokens, n), `${tokens} n=${n}`).toEqual(want);
      if (want.length) nonEmpty++;
    }
    expect(nonEmpty).toBeGreaterThan(100);
  });
});

describe("both processors", () => {
  it("penalty first, then the n-gram ban; off by default", () => {
    const s = repetitionSettings({ noRepeatNgramSize: 2, repetitionPenalty: 2 });
    const scores = Float32Array.from([-1, 3, 4, 1]);
    applyRepetitionProcessors(scores, [0, 2, 0], s);
    expect(Array.from(scores)).toEqual([-2, 3, Number.NEGATIVE_INFINITY, 1]);
    expect(repetitionActive(repetitionSettings({}))).toBe(false);
    expect(repetitionActive(repetitionSettings({ noRepeatNgramSize: 0, repetitionPenalty: 1 }))).toBe(false);
    expect(repetitionActive(repetitionSettings({ repetitionPenalty: 1.2 }))).toBe(true);
  });

  it("rejects NaN, negative, fractional and zero values with a RangeError naming the option", () => {
    for (const n of [Number.NaN, -1, 1.5])
      expect(() => repetitionSettings({ noRepeatNgramSize: n })).toThrow(
        /noRepeatNgramSize must be a non-negative integer/,
      );
    for (const p of [Number.NaN, 0, -1.2, Number.POSITIVE_INFINITY])
      expect(() => repetitionSettings({ repetitionPenalty: p })).toThrow(RangeError);
    expect(() => repetitionSettings({ repetitionPenalty: -1 })).toThrow(
      /repetitionPenalty must be a finite number > 0/,
    );
  });

  it("LM prompt histories: the input tokens without padding; none for encoder–decoder", () => {
    const ids = Int32Array.from([0, 0, 4, 5, 6, 7, 8, 0]); // [2,4]
    const mask = Int32Array.from([0, 0, 1, 1, 1, 1, 1, 0]);
    expect(promptHistories(true, ids, mask, 2, 4)).toEqual([
      [4, 5],
      [6, 7, 8],
    ]);
    expect(promptHistories(false, ids, mask, 2, 4)).toEqual([[], []]);
    expect(() => promptHistories(true, undefined, mask, 2, 4)).toThrow(/need the input ids/);
  });
});
