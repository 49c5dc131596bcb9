// T5 span corruption (src/train/t5data/span-corruption.ts): the counts of random_spans_noise_mask
// (float32 products, round half to even, clamps), the mask's structure for many lengths and seeds
// (alternating spans starting with kept tokens, exact noise count and span count, mean span length ≈ 3),
// uniformity of the random segmentation (binomial bounds at 5 standard errors), sentinels numbered in
// order, exact reconstruction of the original from inputs + targets, very short sequences, and
// random_spans_helper's 568 → 512 / 114.
import { describe, expect, it } from "vitest";
import { deriveSeed, mulberry32, roundHalfEven } from "../../src/train/data/random.ts";
import {
  applyNoiseMask,
  noiseCounts,
  randomSegmentation,
  randomSpansHelper,
  randomSpansNoiseMask,
  spanCorruption,
  uncorruptSpans,
} from "../../src/train/t5data/index.ts";

const VOCAB = 32100;
const EOS = 1;

function expectBinomial(k: number, n: number, p: number, sigmas = 5): void {
  const sd = Math.sqrt(n * p * (1 - p));
  expect(Math.abs(k - n * p), `${k}/${n} vs p = ${p} (sd ${sd.toFixed(1)})`).toBeLessThanOrEqual(sigmas * sd);
}

/** Runs of equal values: [value, length][]. */
function runs(mask: ArrayLike<number>): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < mask.length; i++) {
    if (i > 0 && mask[i] === mask[i - 1]) out[out.length - 1][1]++;
    else out.push([mask[i], 1]);
  }
  return out;
}

function tokensOf(n: number, seed: number): number[] {
  const r = mulberry32(seed);
  return Array.from({ length: n }, () => 3 + Math.floor(r() * 30000));
}

describe("noise counts", () => {
  it("follows random_spans_noise_mask's formulas", () => {
    for (let L = 0; L <= 2000; L++) {
      const n = Math.max(L, 2);
      const noise = Math.min(Math.max(roundHalfEven(Math.fround(n * Math.fround(0.15))), 1), n - 1);
      const spans = Math.max(1, roundHalfEven(noise / 3));
      expect(noiseCounts(L)).toEqual({
        numNoiseTokens: noise,
        numNonNoiseTokens: n - noise,
        numNoiseSpans: spans,
      });
    }
    expect(noiseCounts(568)).toEqual({ numNoiseTokens: 85, numNonNoiseTokens: 483, numNoiseSpans: 28 });
    expect(noiseCounts(512)).toEqual({ numNoiseTokens: 77, numNonNoiseTokens: 435, numNoiseSpans: 26 });
    // round(1.5) = 2 (half to even), one span; round(4.5) = 4.
    expect(noiseCounts(10)).toEqual({ numNoiseTokens: 2, numNonNoiseTokens: 8, numNoiseSpans: 1 });
    expect(noiseCounts(30)).toEqual({ numNoiseTokens: 4, numNonNoiseTokens: 26, numNoiseSpans: 1 });
    expect(noiseCounts(31)).toEqual({ numNoiseTokens: 5, numNonNoiseTokens: 26, numNoiseSpans: 2 });
    // Degenerate lengths: at least one noise and one kept token (of max(L, 2)).
    expect(noiseCounts(0)).toEqual({ numNoiseTokens: 1, numNonNoiseTokens: 1, numNoiseSpans: 1 });
    expect(noiseCounts(1)).toEqual({ numNoiseTokens: 1, numNonNoiseTokens: 1, numNoiseSpans: 1 });
    expect(noiseCounts(3)).toEqual({ numNoiseTokens: 1, numNonNoiseTokens: 2, numNoiseSpans: 1 });
    expect(noiseCounts(100, 0.5, 1)).toEqual({
      numNoiseTokens: 50,
      numNonNoiseTokens: 50,
      numNoiseSpans: 50,
    });
    expect(noiseCounts(6, 0.9)).toEqual({ numNoiseTokens: 5, numNonNoiseTokens: 1, numNoiseSpans: 2 });
    expect(() => noiseCounts(-1)).toThrow(RangeError);
    expect(() => noiseCounts(10, 0)).toThrow(RangeError);
    expect(() => noiseCounts(10, 0.15, 0.5)).toThrow(RangeError);
  });

  it("matches random_spans_helper: 568 raw tokens for 512 inputs, 114 targets", () => {
    expect(randomSpansHelper(512)).toEqual({ tokensLength: 568, targetsLength: 114 });
    // (For tiny lengths the helper, which has no clamps, and the mask disagree, as in T5.)
    for (let inputs = 32; inputs <= 1024; inputs += 7) {
      const { tokensLength, targetsLength } = randomSpansHelper(inputs);
      const lengths = (t: number) => {
        const noise = roundHalfEven(t * 0.15);
        const spans = roundHalfEven(noise / 3);
        return [t - noise + spans + 1, noise + spans + 1];
      };
      expect(lengths(tokensLength)[0]).toBeLessThanOrEqual(inputs);
      expect(lengths(tokensLength + 1)[0]).toBeGreaterThan(inputs);
      expect(targetsLength).toBe(lengths(tokensLength)[1]);
      // The corrupted example really has those lengths (the counts agree with the mask's).
      const ex = spanCorruption(tokensOf(tokensLength, inputs), mulberry32(inputs), {
        vocabSize: VOCAB,
        eosId: EOS,
      });
      // The helper rounds in double precision, the mask in float32 as TF: they differ where
      // tokensLength · 0.15 is a tie (190, 750: 28.5 and 112.5 round up in float32, 0.15f > 0.15).
      const c = noiseCounts(tokensLength);
      const tie = roundHalfEven(tokensLength * 0.15) !== c.numNoiseTokens;
      expect(tie).toBe(tokensLength === 190 || tokensLength === 750);
      expect(ex.inputs.length).toBeLessThanOrEqual(inputs);
      expect(ex.targets.length).toBe(c.numNoiseTokens + c.numNoiseSpans + 1);
      if (!tie) expect(ex.targets.length).toBe(targetsLength);
    }
    expect(noiseCounts(190).numNoiseTokens).toBe(29);
    // Checked against a Python port of the helper (with its noise_density == 0.5 adjustment).
    expect(randomSpansHelper(100, 0.5, 3)).toEqual({ tokensLength: 148, targetsLength: 100 });
    expect(randomSpansHelper(128)).toEqual({ tokensLength: 141, targetsLength: 29 });
    expect(randomSpansHelper(1024)).toEqual({ tokensLength: 1137, targetsLength: 229 });
  });
});

describe("random segmentation", () => {
  it("cuts into positive segments that add up", () => {
    const r = mulberry32(3);
    for (let n = 1; n <= 40; n++) {
      for (let k = 1; k <= n; k++) {
        const seg = randomSegmentation(n, k, r);
        expect(seg.length).toBe(k);
        expect(seg.every((x) => x >= 1)).toBe(true);
        expect(seg.reduce((a, b) => a + b, 0)).toBe(n);
      }
    }
    expect(() => randomSegmentation(3, 4, r)).toThrow(RangeError);
    expect(() => randomSegmentation(3, 0, r)).toThrow(RangeError);
  });

  it("makes every segmentation equally likely", () => {
    // 7 items in 3 segments: C(6, 2) = 15 segmentations.
    const r = mulberry32(11);
    const counts = new Map<string, number>();
    const N = 15000;
    for (let i = 0; i < N; i++) {
      const key = randomSegmentation(7, 3, r).join(",");
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(counts.size).toBe(15);
    for (const c of counts.values()) expectBinomial(c, N, 1 / 15);
  });
});

describe("random_spans_noise_mask", () => {
  it("alternates kept and noise spans, starting with kept tokens, with exact counts", () => {
    let noiseTotal = 0;
    let tokenTotal = 0;
    let spanTotal = 0;
    for (let L = 2; L <= 600; L += 3) {
      const { numNoiseTokens, numNoiseSpans } = noiseCounts(L);
      for (let s = 0; s < 10; s++) {
        const mask = randomSpansNoiseMask(L, mulberry32(deriveSeed(L, s)));
        expect(mask.length).toBe(L);
        const rs = runs(mask);
        expect(rs.length).toBe(2 * numNoiseSpans);
        rs.forEach(([v], i) => {
          expect(v).toBe(i % 2);
        });
        const noise = rs.filter(([v]) => v === 1).map(([, n]) => n);
        expect(noise.reduce((a, b) => a + b, 0)).toBe(numNoiseTokens);
        noiseTotal += numNoiseTokens;
        tokenTotal += L;
        spanTotal += noise.length;
      }
      if (L >= 4) expect(Math.abs(numNoiseTokens / L - 0.15)).toBeLessThanOrEqual(0.5 / L + 1e-6);
      expect(numNoiseSpans).toBe(Math.max(1, roundHalfEven(numNoiseTokens / 3)));
    }
    expect(noiseTotal / tokenTotal).toBeCloseTo(0.15, 3);
    expect(noiseTotal / spanTotal).toBeGreaterThan(2.9);
    expect(noiseTotal / spanTotal).toBeLessThan(3.2);
  });

  it("has span lengths averaging 3, distributed as a uniform segmentation", () => {
    // L = 568: 85 noise tokens in 28 spans; a span's length is 1 + Beta-binomial, P(len = 1) =
    // C(83, 26) / C(84, 27) = 27 / 84.
    const L = 568;
    let spans = 0;
    let ones = 0;
    let total = 0;
    const firstKept: number[] = [];
    for (let s = 0; s < 400; s++) {
      const mask = randomSpansNoiseMask(L, mulberry32(deriveSeed(99, s)));
      const rs = runs(mask);
      for (const [v, n] of rs) {
        if (v !== 1) continue;
        spans++;
        total += n;
        if (n === 1) ones++;
      }
      firstKept.push(rs[0][1]);
    }
    expect(total / spans).toBeCloseTo(85 / 28, 10);
    expectBinomial(ones, spans, 27 / 84);
    // The first kept span: 483 tokens in 28 spans, P(len = 1) = 27 / 482.
    expectBinomial(firstKept.filter((n) => n === 1).length, firstKept.length, 27 / 482);
  });

  it("handles very short sequences as T5 does", () => {
    const r = mulberry32(1);
    expect([...randomSpansNoiseMask(0, r)]).toEqual([]);
    expect([...randomSpansNoiseMask(1, r)]).toEqual([0]);
    expect([...randomSpansNoiseMask(2, r)]).toEqual([0, 1]);
    expect([...randomSpansNoiseMask(3, r)]).toEqual([0, 0, 1]);
    // Up to 30 tokens there is one noise span, always at the end (as in T5).
    expect([...randomSpansNoiseMask(10, r)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
    expect(runs(randomSpansNoiseMask(30, r))).toEqual([
      [0, 26],
      [1, 4],
    ]);
  });

  it("is reproducible from the seed", () => {
    const a = randomSpansNoiseMask(200, mulberry32(42));
    expect(randomSpansNoiseMask(200, mulberry32(42))).toEqual(a);
    expect(randomSpansNoiseMask(200, mulberry32(43))).not.toEqual(a);
  });
});

describe("span corruption", () => {
  it("replaces each noise span by the next sentinel; the targets list each sentinel and its tokens", () => {
    const tokens = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19];
    const mask = Uint8Array.from([0, 0, 1, 1, 0, 0, 0, 1, 0, 1]);
    const s = (k: number) => VOCAB - 1 - k;
    expect(applyNoiseMask(tokens, mask, { vocabSize: VOCAB, eosId: EOS })).toEqual({
      inputs: [10, 11, s(0), 14, 15, 16, s(1), 18, s(2), EOS],
      targets: [s(0), 12, 13, s(1), 17, s(2), 19, EOS],
      noiseMask: mask,
    });
    expect(
      applyNoiseMask(tokens, mask, { vocabSize: VOCAB, eosId: EOS, finalSentinel: true }).targets,
    ).toEqual([s(0), 12, 13, s(1), 17, s(2), 19, s(3), EOS]);
    expect(applyNoiseMask(tokens, mask, { vocabSize: VOCAB }).inputs).toEqual([
      10,
      11,
      s(0),
      14,
      15,
      16,
      s(1),
      18,
      s(2),
    ]);
  });

  it("reconstructs the original exactly from inputs and targets, over many lengths and seeds", () => {
    for (let L = 0; L <= 700; L += L < 40 ? 1 : 23) {
      for (let seed = 0; seed < 10; seed++) {
        const tokens = tokensOf(L, deriveSeed(L, seed, 1));
        for (const finalSentinel of [false, true]) {
          const ex = spanCorruption(tokens, mulberry32(deriveSeed(L, seed)), {
            vocabSize: VOCAB,
            eosId: EOS,
            finalSentinel,
          });
          expect(uncorruptSpans(ex.inputs, ex.targets, { vocabSize: VOCAB, eosId: EOS })).toEqual(tokens);
          // Replacing the sentinels by hand gives the same.
          const spans = new Map<number, number[]>();
          let cur: number[] = [];
          for (const t of ex.targets.slice(0, -1)) {
            if (t >= VOCAB - 100) {
              cur = [];
              spans.set(t, cur);
            } else cur.push(t);
          }
          expect(ex.inputs.slice(0, -1).flatMap((t) => (t >= VOCAB - 100 ? spans.get(t)! : [t]))).toEqual(
            tokens,
          );
          // Sentinels appear in order 0, 1, 2, … in both.
          const sentIn = ex.inputs.filter((t) => t >= VOCAB - 100).map((t) => VOCAB - 1 - t);
          const sentOut = ex.targets.filter((t) => t >= VOCAB - 100).map((t) => VOCAB - 1 - t);
          expect(sentIn).toEqual(sentIn.map((_, i) => i));
          expect(sentOut).toEqual(sentOut.map((_, i) => i));
          if (L >= 2) {
            const { numNoiseTokens, numNoiseSpans } = noiseCounts(L);
            expect(sentIn.length).toBe(numNoiseSpans);
            expect(sentOut.length).toBe(numNoiseSpans + (finalSentinel ? 1 : 0));
            expect(ex.inputs.length).toBe(L - numNoiseTokens + numNoiseSpans + 1);
            expect(ex.targets.length).toBe(numNoiseTokens + sentOut.length + 1);
            expect(ex.targets[ex.targets.length - 2] >= VOCAB - 100).toBe(finalSentinel);
          }
          expect(ex.inputs[ex.inputs.length - 1]).toBe(EOS);
          expect(ex.targets[ex.targets.length - 1]).toBe(EOS);
          if (L >= 1) expect(ex.targets[0]).toBe(VOCAB - 1);
        }
      }
    }
  });

  it("handles very short sequences", () => {
    const s0 = VOCAB - 1;
    const opts = { vocabSize: VOCAB, eosId: EOS };
    expect(spanCorruption([], mulberry32(1), opts)).toMatchObject({ inputs: [EOS], targets: [EOS] });
    // One token: nothing is dropped; the target is the sentinel standing for the kept span.
    expect(spanCorruption([7], mulberry32(1), opts)).toMatchObject({ inputs: [7, EOS], targets: [s0, EOS] });
    expect(spanCorruption([7, 8], mulberry32(1), opts)).toMatchObject({
      inputs: [7, s0, EOS],
      targets: [s0, 8, EOS],
    });
    expect(spanCorruption([7, 8, 9], mulberry32(1), opts)).toMatchObject({
      inputs: [7, 8, s0, EOS],
      targets: [s0, 9, EOS],
    });
  });

  it("refuses more spans than sentinels", () => {
    // 2000 tokens: 300 noise tokens in 100 spans fit; 2100: 105 spans do not.
    expect(() => spanCorruption(tokensOf(2000, 1), mulberry32(1), { vocabSize: VOCAB })).not.toThrow();
    expect(() => spanCorruption(tokensOf(2100, 1), mulberry32(1), { vocabSize: VOCAB })).toThrow(/sentinels/);
    expect(() => spanCorruption(tokensOf(100, 1), mulberry32(1), { vocabSize: VOCAB, extraIds: 3 })).toThrow(
      /sentinels/,
    );
    expect(() => applyNoiseMask([1, 2], Uint8Array.from([0]), { vocabSize: VOCAB })).toThrow(RangeError);
  });
});
