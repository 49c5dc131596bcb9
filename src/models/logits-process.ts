// The two repetition controls of transformers' generate(), as its logits processors:
// RepetitionPenaltyLogitsProcessor (repetition_penalty: every token id already in the sequence has its
// score divided by the penalty when ≥ 0, multiplied by it when < 0) and NoRepeatNGramLogitsProcessor
// (no_repeat_ngram_size n: a token that would complete an n-gram already in the sequence gets −∞).
// transformers runs them in that order, before the temperature / top-k / top-p warpers; on raw logits
// in greedy search and sampling, on log-softmax scores in beam search (t5-generate.ts calls them so).
// "The sequence" is what transformers passes as input_ids: for an encoder–decoder model the decoder
// sequence (decoder start token included), for a decoder-only model the prompt followed by what was
// generated (our LM architectures: the input tokens, the decoder start token, the generated tokens).

/** Repetition controls of GenerateOptions (off by default). */
export interface RepetitionOptions {
  /** Ban any n-gram of this size from occurring twice (0 = off, default). */
  noRepeatNgramSize?: number;
  /** Penalize tokens already in the sequence (1 = off, default; > 1 discourages repeats). */
  repetitionPenalty?: number;
}

export interface RepetitionSettings {
  noRepeatNgramSize: number;
  repetitionPenalty: number;
}

/** Validated settings (RangeError naming the option on NaN, negatives, non-integers, zero penalty). */
export function repetitionSettings(opts: RepetitionOptions): RepetitionSettings {
  const n = opts.noRepeatNgramSize ?? 0;
  const p = opts.repetitionPenalty ?? 1;
  if (!(Number.isInteger(n) && n >= 0))
    throw new RangeError(`generate: noRepeatNgramSize must be a non-negative integer (0 = off), got ${n}`);
  if (!(p > 0 && Number.isFinite(p)))
    throw new RangeError(`generate: repetitionPenalty must be a finite number > 0 (1 = off), got ${p}`);
  return { noRepeatNgramSize: n, repetitionPenalty: p };
}

/** Whether either processor changes anything. */
export function repetitionActive(s: RepetitionSettings): boolean {
  return s.noRepeatNgramSize > 0 || s.repetitionPenalty !== 1;
}

/**
 * RepetitionPenaltyLogitsProcessor on one row of scores [V], in place: each distinct id of `history`
 * gets score·p when its score is < 0, else score/p (each id once, however often it occurs).
 */
export function applyRepetitionPenalty(
  scores: Float32Array,
  history: ArrayLike<number>,
  penalty: number,
): void {
  const seen = new Set<number>();
  for (let i = 0; i < history.length; i++) {
    const id = history[i];
    if (seen.has(id) || id < 0 || id >= scores.length) continue;
    seen.add(id);
    const s = scores[id];
    scores[id] = s < 0 ? s * penalty : s / penalty;
  }
}

/**
 * The tokens NoRepeatNGramLogitsProcessor bans after `history` (length L): none when L + 1 < n;
 * else every token that followed an earlier occurrence of the last n − 1 tokens (n = 1: every token in
 * the history). Ascending, without duplicates.
 */
export function bannedNgramTokens(history: ArrayLike<number>, n: number): number[] {
  const L = history.length;
  if (n < 1 || L + 1 < n) return [];
  const start = L - (n - 1); // the last n − 1 tokens: history[start .. L)
  const banned = new Set<number>();
  for (let i = 0; i + n <= L; i++) {
    let match = true;
    for (let k = 0; k < n - 1 && match; k++) match = history[i + k] === history[start + k];
    if (match) banned.add(history[i + n - 1]);
  }
  return [...banned].sort((a, b) => a - b);
}

/** NoRepeatNGramLogitsProcessor on one row of scores [V], in place: banned tokens get −∞. */
export function applyNoRepeatNgram(scores: Float32Array, history: ArrayLike<number>, n: number): void {
  for (const id of bannedNgramTokens(history, n))
    if (id >= 0 && id < scores.length) scores[id] = Number.NEGATIVE_INFINITY;
}

/** Both processors in transformers' order (repetition penalty, then no-repeat n-gram), in place. */
export function applyRepetitionProcessors(
  scores: Float32Array,
  history: ArrayLike<number>,
  s: RepetitionSettings,
): void {
  if (s.repetitionPenalty !== 1) applyRepetitionPenalty(scores, history, s.repetitionPenalty);
  if (s.noRepeatNgramSize > 0) applyNoRepeatNgram(scores, history, s.noRepeatNgramSize);
}

/**
 * What precedes the decoder sequence in each row's history: nothing for an encoder–decoder model; for
 * the decoder-only and prefix-LM architectures the row's input tokens (attention_mask 1, in order:
 * the prompt the stack saw, without its batch padding). ids, mask [B,T] (mask all ones when absent).
 */
export function promptHistories(
  lm: boolean,
  ids: Int32Array | undefined,
  mask: Int32Array | undefined,
  B: number,
  T: number,
): number[][] {
  if (!lm) return Array.from({ length: B }, () => []);
  if (!ids || ids.length !== B * T)
    throw new RangeError(
      "generate: noRepeatNgramSize / repetitionPenalty on a decoder-only or prefix-LM model need the input ids [B,T] (EncodedInput.inputIds): transformers counts the prompt",
    );
  return Array.from({ length: B }, (_, b) => {
    const row: number[] = [];
    for (let t = 0; t < T; t++) if (mask?.[b * T + t] !== 0) row.push(ids[b * T + t]);
    return row;
  });
}
