// T5's span corruption pretraining objective (Raffel et al. 2020; `span_corruption` in the T5 codebase's
// t5/data/preprocessors.py), on token ids:
// - random_spans_noise_mask: for L tokens (L < 2 counted as 2, the mask then cut back to L),
//   num_noise_tokens = round(L · density) clamped to [1, L − 1], num_noise_spans =
//   max(1, round(num_noise_tokens / mean_span_length)); the noise and the non-noise tokens are each split
//   into num_noise_spans non-empty spans uniformly at random (_random_segmentation: shuffle the span
//   starts); spans alternate non-noise, noise, non-noise, …, so the sequence ends with noise. The
//   arithmetic is TF's: float32 products and quotients, round half to even.
// - noise_span_to_unique_sentinel: in the inputs each noise span becomes one sentinel, <extra_id_0>,
//   <extra_id_1>, … (id vocabSize − 1 − k); nonnoise_span_to_unique_sentinel: the targets are each
//   sentinel followed by the tokens its span dropped. EOS (when given) ends both, as T5's output features
//   append it. As the mask ends with a noise span, T5's targets end with dropped tokens, not a sentinel
//   (the "… <Z>" closing sentinel of the paper's figure appears only when the text ends with kept
//   tokens); `finalSentinel` appends one anyway.
// - random_spans_helper: the raw length whose corrupted inputs fit a given inputs length (568 → 512).
// The randomness is our seeded generator (random.ts), not TF's stateless ops: same distribution, other
// draws. Pure, no Node imports.

import { type Rng, roundHalfEven, shuffleInPlace } from "../data/random.ts";

export interface NoiseOptions {
  /** Fraction of tokens dropped. Default 0.15. */
  noiseDensity?: number;
  /** Mean length of a dropped span. Default 3. */
  meanNoiseSpanLength?: number;
}

export interface SpanCorruptionOptions extends NoiseOptions {
  /** The tokenizer's vocab size: sentinel k is vocabSize − 1 − k (T5's <extra_id_k>). */
  vocabSize: number;
  /** Sentinels available (T5: 100); more spans than this throws. Default 100. */
  extraIds?: number;
  /** Appended to the inputs and the targets when given (T5: </s> = 1). */
  eosId?: number;
  /** End the targets with the next sentinel before EOS, as the paper's figure. Default false (T5). */
  finalSentinel?: boolean;
}

export interface SpanCorruptionExample {
  inputs: number[];
  targets: number[];
  /** 1 where the token was dropped from the inputs. */
  noiseMask: Uint8Array;
}

export interface NoiseCounts {
  numNoiseTokens: number;
  numNonNoiseTokens: number;
  numNoiseSpans: number;
}

function checkNoise(noiseDensity: number, meanNoiseSpanLength: number): void {
  if (!(noiseDensity > 0 && noiseDensity < 1))
    throw new RangeError(`span corruption: noiseDensity must be in (0, 1), got ${noiseDensity}`);
  if (!(meanNoiseSpanLength >= 1 && Number.isFinite(meanNoiseSpanLength)))
    throw new RangeError(`span corruption: meanNoiseSpanLength must be ≥ 1, got ${meanNoiseSpanLength}`);
}

/** How random_spans_noise_mask splits a sequence of `length` tokens (lengths < 2 count as 2). */
export function noiseCounts(length: number, noiseDensity = 0.15, meanNoiseSpanLength = 3): NoiseCounts {
  if (!Number.isInteger(length) || length < 0)
    throw new RangeError(`span corruption: length must be a non-negative integer, got ${length}`);
  checkNoise(noiseDensity, meanNoiseSpanLength);
  const n = Math.max(length, 2);
  const f = Math.fround;
  let numNoiseTokens = roundHalfEven(f(f(n) * f(noiseDensity)));
  numNoiseTokens = Math.min(Math.max(numNoiseTokens, 1), n - 1);
  const numNoiseSpans = Math.max(1, roundHalfEven(f(f(numNoiseTokens) / f(meanNoiseSpanLength))));
  return { numNoiseTokens, numNonNoiseTokens: n - numNoiseTokens, numNoiseSpans };
}

/**
 * T5's _random_segmentation: `numItems` items cut into `numSegments` non-empty segments, every
 * segmentation equally likely. Returns the segment lengths (positive, summing to numItems).
 */
export function randomSegmentation(numItems: number, numSegments: number, rng: Rng): number[] {
  if (!(Number.isInteger(numSegments) && numSegments >= 1 && numSegments <= numItems))
    throw new RangeError(`span corruption: cannot cut ${numItems} items into ${numSegments} segments`);
  // first_in_segment for items 1…numItems−1: numSegments − 1 ones, shuffled.
  const starts = Array.from({ length: numItems - 1 }, (_, i) => (i < numSegments - 1 ? 1 : 0));
  shuffleInPlace(starts, rng);
  const lengths = [1];
  for (const s of starts) {
    if (s) lengths.push(1);
    else lengths[lengths.length - 1]++;
  }
  return lengths;
}

/** T5's random_spans_noise_mask: 1 for noise tokens. Draws the noise segmentation, then the non-noise. */
export function randomSpansNoiseMask(length: number, rng: Rng, options: NoiseOptions = {}): Uint8Array {
  const { numNoiseTokens, numNonNoiseTokens, numNoiseSpans } = noiseCounts(
    length,
    options.noiseDensity ?? 0.15,
    options.meanNoiseSpanLength ?? 3,
  );
  const noise = randomSegmentation(numNoiseTokens, numNoiseSpans, rng);
  const keep = randomSegmentation(numNonNoiseTokens, numNoiseSpans, rng);
  const mask = new Uint8Array(Math.max(length, 2));
  let pos = 0;
  for (let i = 0; i < numNoiseSpans; i++) {
    pos += keep[i];
    mask.fill(1, pos, pos + noise[i]);
    pos += noise[i];
  }
  return mask.subarray(0, length);
}

/** Span corruption of one token sequence (without EOS): T5's inputs and targets. */
export function spanCorruption(
  tokens: readonly number[],
  rng: Rng,
  options: SpanCorruptionOptions,
): SpanCorruptionExample {
  const mask = randomSpansNoiseMask(tokens.length, rng, options);
  return applyNoiseMask(tokens, mask, options);
}

/** Inputs and targets for a given noise mask (noise_span_to_unique_sentinel and its complement). */
export function applyNoiseMask(
  tokens: readonly number[],
  noiseMask: Uint8Array,
  options: SpanCorruptionOptions,
): SpanCorruptionExample {
  const { vocabSize, eosId } = options;
  const extraIds = options.extraIds ?? 100;
  if (!Number.isInteger(vocabSize) || vocabSize < extraIds)
    throw new RangeError(`span corruption: vocabSize ${vocabSize} cannot hold ${extraIds} sentinels`);
  if (noiseMask.length !== tokens.length)
    throw new RangeError(`span corruption: mask length ${noiseMask.length} ≠ ${tokens.length} tokens`);
  const inputs: number[] = [];
  const targets: number[] = [];
  let inputSpans = 0;
  let targetSpans = 0;
  const sentinel = (k: number): number => {
    if (k >= extraIds)
      throw new RangeError(
        `span corruption: ${k + 1} spans need more than the ${extraIds} sentinels; shorten the sequence`,
      );
    return vocabSize - 1 - k;
  };
  for (let i = 0; i < tokens.length; i++) {
    const noise = noiseMask[i] === 1;
    const first = i === 0 || (noiseMask[i - 1] === 1) !== noise;
    if (noise) {
      if (first) inputs.push(sentinel(inputSpans++));
      targets.push(tokens[i]);
    } else {
      if (first) targets.push(sentinel(targetSpans++));
      inputs.push(tokens[i]);
    }
  }
  if (options.finalSentinel) targets.push(sentinel(targetSpans));
  if (eosId !== undefined) {
    inputs.push(eosId);
    targets.push(eosId);
  }
  return { inputs, targets, noiseMask };
}

/**
 * The original tokens of a span-corrupted example: each input sentinel replaced by the tokens that follow
 * the same sentinel in the targets. `eosId`, when given, is dropped from the ends first.
 */
export function uncorruptSpans(
  inputs: readonly number[],
  targets: readonly number[],
  options: { vocabSize: number; extraIds?: number; eosId?: number },
): number[] {
  const { vocabSize, eosId } = options;
  const extraIds = options.extraIds ?? 100;
  const strip = (xs: readonly number[]) =>
    eosId !== undefined && xs[xs.length - 1] === eosId ? xs.slice(0, -1) : xs;
  const sentinelIndex = (id: number) => {
    const k = vocabSize - 1 - id;
    return k >= 0 && k < extraIds ? k : -1;
  };
  const spans = new Map<number, number[]>();
  let current: number[] | undefined;
  for (const t of strip(targets)) {
    const k = sentinelIndex(t);
    if (k >= 0) {
      current = [];
      spans.set(k, current);
    } else if (current) current.push(t);
  }
  const out: number[] = [];
  for (const t of strip(inputs)) {
    const k = sentinelIndex(t);
    if (k < 0) out.push(t);
    else out.push(...(spans.get(k) ?? []));
  }
  return out;
}

/**
 * T5's random_spans_helper: the number of raw tokens to corrupt so the inputs (kept tokens, one
 * sentinel per span, EOS) have at most `inputsLength` tokens, and the resulting targets length (dropped
 * tokens, one sentinel per span, EOS). (512, 0.15, 3) → 568 tokens, 114 targets.
 */
export function randomSpansHelper(
  inputsLength: number,
  noiseDensity = 0.15,
  meanNoiseSpanLength = 3,
  extraTokensPerSpanInputs = 1,
  extraTokensPerSpanTargets = 1,
): { tokensLength: number; targetsLength: number } {
  checkNoise(noiseDensity, meanNoiseSpanLength);
  if (!Number.isInteger(inputsLength) || inputsLength < 2)
    throw new RangeError(`span corruption: inputsLength must be an integer ≥ 2, got ${inputsLength}`);
  // Python's round on doubles, as the helper runs outside TF.
  const lengths = (tokensLength: number): [number, number] => {
    const numNoise = roundHalfEven(tokensLength * noiseDensity);
    const numNonNoise = tokensLength - numNoise;
    const numSpans = roundHalfEven(numNoise / meanNoiseSpanLength);
    return [
      numNonNoise + numSpans * extraTokensPerSpanInputs + 1,
      numNoise + numSpans * extraTokensPerSpanTargets + 1,
    ];
  };
  let tokensLength = inputsLength - 1;
  while (lengths(tokensLength + 1)[0] <= inputsLength) tokensLength++;
  let targetsLength = lengths(tokensLength)[1];
  if (noiseDensity === 0.5 && targetsLength > inputsLength) {
    tokensLength--;
    targetsLength--;
  }
  return { tokensLength, targetsLength };
}
