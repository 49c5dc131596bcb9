// Text-to-text generation with a T5Model and its KV cache, following transformers' generate():
// greedy search, beam search (the vectorized _beam_search of transformers ≥ 4.50: top 2·num_beams
// continuations per input, a hypothesis' score = sum of log-probs / generated_length^length_penalty
// with the length counting the generated tokens including </s>, early_stopping true / false /
// "never", and finished sequences padded after </s> with `pad_token_id or eos_token_id`, as
// transformers does), and sampling with temperature, top-k and top-p from a seeded PRNG.
// Every output sequence starts with the decoder start token, as transformers returns them.
// Repetition controls (repetition_penalty, no_repeat_ngram_size: src/models/logits-process.ts) run as
// transformers' logits processors: on the raw logits before the sampling warpers in greedy search and
// sampling, on the log-softmax scores in beam search, over the decoder sequence (LM architectures: the
// prompt, then the decoder sequence).
// Decoder-only and prefix-LM T5Models go through the same calls: their encode() is the embedding
// lookup and createDecoderState() prefills the cache with the input (src/models/t5.ts).

import {
  applyRepetitionProcessors,
  promptHistories,
  type RepetitionOptions,
  type RepetitionSettings,
  repetitionActive,
  repetitionSettings,
} from "./logits-process.ts";
import type { T5DecoderState, T5Model } from "./t5.ts";

export interface GenerateOptions extends RepetitionOptions {
  /** Tokens to generate after the start token (default 20). */
  maxNewTokens?: number;
  /** Beam search when > 1 (default 1). */
  numBeams?: number;
  /** Exponent of the length in a finished hypothesis' score (default 1.0). */
  lengthPenalty?: number;
  /** Beam search stop rule (default false, as transformers). */
  earlyStopping?: boolean | "never";
  /** Sample instead of taking the argmax (not with numBeams > 1). */
  doSample?: boolean;
  /** Sampling temperature (> 0, default 1). */
  temperature?: number;
  /** Keep only the k most likely tokens when sampling (default 50, as transformers; 0 = off). */
  topK?: number;
  /** Nucleus sampling: keep the smallest set with probability ≥ topP (default 1 = off). */
  topP?: number;
  /** PRNG seed for sampling (default: random). */
  seed?: number;
  /** Defaults from the model config. */
  decoderStartTokenId?: number;
  eosTokenId?: number | number[];
  padTokenId?: number;
  /** Greedy and sampling: called after each step with the token chosen per input [B] (streaming). */
  onStep?: (tokens: Int32Array, step: number) => void;
}

export interface GenerateOutput {
  /** B sequences of equal length, each starting with the decoder start token. */
  sequences: number[][];
  /** Beam search: the score of each returned hypothesis (sum log-probs / length^length_penalty). */
  scores?: number[];
}

/** Encoder output to generate from: hidden [B,Te,C], mask [B,Te] (all ones when absent). */
export interface EncodedInput {
  hidden: Float32Array;
  mask?: Int32Array;
  /** [B,Te] the input ids; needed by the repetition options on LM architectures (the prompt counts). */
  inputIds?: Int32Array;
  batch: number;
  seq: number;
}

/** Encodes inputIds [B,T] and generates (greedy, beam search or sampling by the options). */
export function generate(
  model: T5Model,
  inputIds: Int32Array,
  attentionMask: Int32Array | undefined,
  B: number,
  T: number,
  opts: GenerateOptions = {},
): GenerateOutput {
  const enc = model.encode(inputIds, attentionMask, B, T);
  return generateFromEncoded(
    model,
    { hidden: enc.lastHiddenState, mask: attentionMask, inputIds, batch: B, seq: T },
    opts,
  );
}

export function generateFromEncoded(
  model: T5Model,
  enc: EncodedInput,
  opts: GenerateOptions = {},
): GenerateOutput {
  const numBeams = opts.numBeams ?? 1;
  if (!(Number.isInteger(numBeams) && numBeams >= 1))
    throw new RangeError(`generate: numBeams must be a positive integer, got ${numBeams}`);
  if (numBeams > 1) {
    if (opts.doSample)
      throw new RangeError("generate: beam sampling (doSample with numBeams > 1) is not supported");
    return beamSearch(model, enc, opts);
  }
  return opts.doSample ? sample(model, enc, opts) : greedySearch(model, enc, opts);
}

interface Settings {
  maxNew: number;
  start: number;
  eos: Set<number>;
  eosList: number[];
  pad: number;
  rep: RepetitionSettings;
  /** Per input: the tokens before the decoder sequence in the processors' history (LM: the prompt). */
  prompts: number[][];
}

function settings(model: T5Model, enc: EncodedInput, opts: GenerateOptions): Settings {
  const c = model.config;
  const maxNew = opts.maxNewTokens ?? 20;
  if (!(Number.isInteger(maxNew) && maxNew >= 1))
    throw new RangeError(`generate: maxNewTokens must be a positive integer, got ${maxNew}`);
  const eosList =
    opts.eosTokenId === undefined
      ? c.eosTokenIds
      : Array.isArray(opts.eosTokenId)
        ? opts.eosTokenId
        : [opts.eosTokenId];
  const start = opts.decoderStartTokenId ?? c.decoderStartTokenId;
  const pad = opts.padTokenId ?? c.padTokenId;
  for (const [name, id] of [
    ["decoderStartTokenId", start],
    ["padTokenId", pad],
    ...eosList.map((e) => ["eosTokenId", e] as const),
  ] as const) {
    if (!(Number.isInteger(id) && id >= 0 && id < c.vocabSize))
      throw new RangeError(`generate: ${name} ${id} is outside the vocabulary 0..${c.vocabSize - 1}`);
  }
  const rep = repetitionSettings(opts);
  const prompts = repetitionActive(rep)
    ? promptHistories(model.isLanguageModel, enc.inputIds, enc.mask, enc.batch, enc.seq)
    : [];
  return { maxNew, start, eos: new Set(eosList), eosList, pad, rep, prompts };
}

/** Greedy (pick) or sampling loop: one token per input per step until all end or maxNew. */
function tokenLoop(
  model: T5Model,
  enc: EncodedInput,
  opts: GenerateOptions,
  pick: ((logits: Float32Array, V: number) => number) | "argmax",
): GenerateOutput {
  const s = settings(model, enc, opts);
  const B = enc.batch;
  const V = model.config.vocabSize;
  const seqs = Array.from({ length: B }, () => [s.start]);
  const processed = repetitionActive(s.rep);
  const unfinished = new Array<boolean>(B).fill(true);
  const state = model.createDecoderState(enc.hidden, enc.mask, B, enc.seq, s.maxNew);
  try {
    // greedy without processors: the argmax of each row in wasm memory, no logits copied out
    const inWasm = pick === "argmax" && !processed;
    let cur: Int32Array = new Int32Array(B).fill(s.start);
    for (let step = 0; step < s.maxNew; step++) {
      let next: Int32Array; // [B]
      if (inWasm) next = model.stepArgmax(state, cur);
      else {
        const logits = model.step(state, cur); // [B,V]
        next = new Int32Array(B);
        for (let b = 0; b < B; b++) {
          if (!unfinished[b]) continue;
          let row = logits.subarray(b * V, (b + 1) * V); // [V]
          if (processed) {
            row = Float32Array.from(row);
            applyRepetitionProcessors(row, [...s.prompts[b], ...seqs[b]], s.rep);
          }
          next[b] = pick === "argmax" ? argmax(row) : pick(row, V);
        }
      }
      for (let b = 0; b < B; b++) {
        if (!unfinished[b]) next[b] = s.pad;
        seqs[b].push(next[b]);
        if (unfinished[b] && s.eos.has(next[b])) unfinished[b] = false;
      }
      opts.onStep?.(next, step);
      if (!unfinished.some(Boolean)) break;
      cur = next;
    }
  } finally {
    state.dispose();
  }
  return { sequences: seqs };
}

/** Greedy search: argmax per step (first index on ties, as torch.argmax). */
export function greedySearch(model: T5Model, enc: EncodedInput, opts: GenerateOptions = {}): GenerateOutput {
  return tokenLoop(model, enc, opts, "argmax");
}

/** Sampling: logits / temperature → top-k → top-p → softmax → one draw from a seeded PRNG. */
export function sample(model: T5Model, enc: EncodedInput, opts: GenerateOptions = {}): GenerateOutput {
  const temperature = opts.temperature ?? 1;
  const topK = opts.topK ?? 50;
  const topP = opts.topP ?? 1;
  if (!(temperature > 0 && Number.isFinite(temperature)))
    throw new RangeError(`generate: temperature must be a positive number, got ${temperature}`);
  if (!(Number.isInteger(topK) && topK >= 0))
    throw new RangeError(`generate: topK must be a non-negative integer, got ${topK}`);
  if (!(topP > 0 && topP <= 1)) throw new RangeError(`generate: topP must be in (0, 1], got ${topP}`);
  const rand = mulberry32(opts.seed ?? Math.floor(Math.random() * 2 ** 32));
  return tokenLoop(model, enc, opts, (row, V) => {
    const scores = new Float32Array(V);
    for (let v = 0; v < V; v++) scores[v] = row[v] / temperature;
    if (topK > 0 && topK < V) applyTopK(scores, topK);
    if (topP < 1) applyTopP(scores, topP);
    return drawFrom(scores, rand());
  });
}

// ---------------------------------------------------------------------------------------------
// Beam search

const NEG = -1e9;
const f32 = Math.fround;

interface Hypothesis {
  tokens: number[];
  score: number;
}

interface FinishedSlot extends Hypothesis {
  done: boolean;
  /** Generated tokens (after the start token), including </s>. */
  genLen: number;
}

interface Candidate {
  score: number;
  beam: number;
  token: number;
}

/**
 * Beam search as transformers' _beam_search: per step, the top 2·num_beams (more with several
 * </s> ids) continuations by accumulated log-prob; those that end (</s> or the length limit)
 * among the top num_beams enter the finished set with score / generated_length^length_penalty;
 * the best num_beams that do not end keep running. Stops when every input has num_beams finished
 * hypotheses and early_stopping is true, when the running beams cannot beat the worst finished one
 * (early_stopping false: at the current length; "never": at the longest length when the penalty is
 * positive), or at max length. Returns the best finished hypothesis per input. Scores are kept in
 * float32 arithmetic like transformers' tensors.
 */
export function beamSearch(model: T5Model, enc: EncodedInput, opts: GenerateOptions = {}): GenerateOutput {
  const s = settings(model, enc, opts);
  const nb = opts.numBeams ?? 1;
  const lp = opts.lengthPenalty ?? 1;
  const es = opts.earlyStopping ?? false;
  if (!Number.isFinite(lp))
    throw new RangeError(`generate: lengthPenalty must be a finite number, got ${lp}`);
  const B = enc.batch;
  const V = model.config.vocabSize;
  const K = Math.max(2, 1 + s.eosList.length) * nb; // continuations kept per input and step
  const promptLen = 1;
  const maxLength = promptLen + s.maxNew;
  const running: Hypothesis[][] = Array.from({ length: B }, () =>
    Array.from({ length: nb }, (_, i) => ({ tokens: [s.start], score: i === 0 ? 0 : NEG })),
  );
  const finished: FinishedSlot[][] = Array.from({ length: B }, () =>
    Array.from({ length: nb }, () => ({ tokens: [s.start], score: NEG, done: false, genLen: 0 })),
  );
  const improvable = new Array<boolean>(B).fill(true); // is_early_stop_heuristic_unsatisfied
  const state: T5DecoderState = model.createDecoderState(enc.hidden, enc.mask, B, enc.seq, s.maxNew, {
    repeat: nb,
  });
  try {
    let curLen = promptLen;
    const tokens = new Int32Array(B * nb).fill(s.start); // [B·nb] last token of each running beam
    for (;;) {
      const logits = model.step(state, tokens); // [B·nb, V]
      const logProbs = logSoftmaxRows(logits, B * nb, V); // [B·nb, V]
      if (repetitionActive(s.rep))
        for (let b = 0; b < B; b++)
          running[b].forEach((h, j) => {
            const r = b * nb + j;
            applyRepetitionProcessors(
              logProbs.subarray(r * V, (r + 1) * V),
              [...s.prompts[b], ...h.tokens],
              s.rep,
            );
          });
      const src = new Int32Array(B * nb); // cache row of each next running beam
      let allHit = true;
      const genLen = curLen + 1 - promptLen;
      const lenDiv = f32(genLen ** lp);
      for (let b = 0; b < B; b++) {
        const beams = running[b];
        const top = topContinuations(logProbs, beams, b * nb, V, K);
        const hits = top.map((c) => s.eos.has(c.token) || curLen + 1 >= maxLength);
        if (!hits.every(Boolean)) allHit = false;
        const extend = (c: Candidate) => [...beams[c.beam].tokens, c.token];
        // e. next running beams: the best nb that did not end (ended ones sink by −1e9)
        const order = top
          .map((c, i) => ({ i, score: hits[i] ? f32(c.score + NEG) : c.score }))
          .sort((x, y) => y.score - x.score || x.i - y.i)
          .slice(0, nb);
        // f. finished set: merge the new ended hypotheses among the top nb
        const full = es === true && finished[b].every((f) => f.done);
        const merged: (FinishedSlot & { at: number })[] = finished[b].map((f, i) => ({ ...f, at: i }));
        top.forEach((c, i) => {
          const justDone = hits[i] && i < nb;
          let sc = f32(c.score / lenDiv);
          if (full) sc = f32(sc + NEG);
          if (!improvable[b]) sc = f32(sc + NEG);
          if (!justDone) sc = f32(sc + NEG);
          merged.push({ tokens: extend(c), score: sc, done: justDone, genLen, at: nb + i });
        });
        merged.sort((x, y) => y.score - x.score || x.at - y.at);
        finished[b] = merged.slice(0, nb).map(({ tokens: t, score, done, genLen: g }) => ({
          tokens: t,
          score,
          done,
          genLen: g,
        }));
        running[b] = order.map(({ i, score }) => ({ tokens: extend(top[i]), score }));
        order.forEach(({ i }, j) => {
          src[b * nb + j] = b * nb + top[i].beam;
          tokens[b * nb + j] = top[i].token;
        });
      }
      curLen++;
      // g. can the running beams still beat the worst finished hypothesis?
      for (let b = 0; b < B; b++) {
        const hypLen = es === "never" && lp > 0 ? maxLength - promptLen : curLen - promptLen;
        const best = f32(running[b][0].score / f32(hypLen ** lp));
        const worst = Math.min(...finished[b].map((f) => f.score));
        improvable[b] = improvable[b] && finished[b].some((f) => best > (f.done ? worst : NEG));
      }
      const allDone = finished.every((fs) => fs.every((f) => f.done));
      if (!improvable.some(Boolean) || (allDone && es === true) || allHit) break;
      state.reorder(src, { cross: false });
    }
  } finally {
    state.dispose();
  }
  const best = finished.map((fs) => fs[0]);
  const outLen = promptLen + Math.max(...best.map((h) => h.genLen));
  const fill = s.pad || s.eosList[0]; // transformers: `pad_token_id or eos_token_id[0]`
  return {
    sequences: best.map((h) => {
      const row = h.tokens.slice(0, outLen);
      while (row.length < outLen) row.push(fill);
      return row;
    }),
    scores: best.map((h) => h.score),
  };
}

/** Top K of score(beam) + logProb(beam, token) over the nb beams of one input, best first. */
function topContinuations(
  logProbs: Float32Array,
  beams: Hypothesis[],
  row0: number,
  V: number,
  K: number,
): Candidate[] {
  const top: Candidate[] = [];
  let floor = Number.NEGATIVE_INFINITY; // score of the K-th best so far
  beams.forEach((h, beam) => {
    const lp = logProbs.subarray((row0 + beam) * V, (row0 + beam + 1) * V);
    for (let v = 0; v < V; v++) {
      const sc = f32(h.score + lp[v]);
      if (top.length === K && !(sc > floor)) continue;
      let at = top.length;
      while (at > 0 && top[at - 1].score < sc) at--;
      top.splice(at, 0, { score: sc, beam, token: v });
      if (top.length > K) top.pop();
      if (top.length === K) floor = top[K - 1].score;
    }
  });
  return top;
}

function logSoftmaxRows(logits: Float32Array, R: number, V: number): Float32Array {
  const out = new Float32Array(R * V);
  for (let r = 0; r < R; r++) {
    const row = logits.subarray(r * V, (r + 1) * V);
    let mx = Number.NEGATIVE_INFINITY;
    for (let v = 0; v < V; v++) if (row[v] > mx) mx = row[v];
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(row[v] - mx);
    const lse = mx + Math.log(sum);
    for (let v = 0; v < V; v++) out[r * V + v] = row[v] - lse;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Sampling helpers (transformers' TopK / TopP logits warpers)

export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let v = 1; v < row.length; v++) if (row[v] > row[best]) best = v;
  return best;
}

/** Sets scores below the k-th largest to −∞ (ties with it are kept, as transformers). */
export function applyTopK(scores: Float32Array, k: number): void {
  const kth = Float32Array.from(scores)
    .sort()
    .at(scores.length - k)!;
  for (let v = 0; v < scores.length; v++) if (scores[v] < kth) scores[v] = Number.NEGATIVE_INFINITY;
}

/**
 * Nucleus filter as transformers' TopPLogitsWarper: sort ascending, drop the tokens whose
 * cumulative probability is ≤ 1 − topP, always keep the most likely one.
 */
export function applyTopP(scores: Float32Array, topP: number): void {
  const V = scores.length;
  const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => scores[a] - scores[b] || a - b);
  const probs = softmax(scores);
  let cum = 0;
  for (let n = 0; n < V - 1; n++) {
    cum += probs[order[n]];
    if (cum <= 1 - topP) scores[order[n]] = Number.NEGATIVE_INFINITY;
    else break;
  }
}

function softmax(scores: Float32Array): Float64Array {
  let mx = Number.NEGATIVE_INFINITY;
  for (const s of scores) if (s > mx) mx = s;
  const p = new Float64Array(scores.length);
  let sum = 0;
  for (let v = 0; v < scores.length; v++) {
    p[v] = scores[v] === Number.NEGATIVE_INFINITY ? 0 : Math.exp(scores[v] - mx);
    sum += p[v];
  }
  for (let v = 0; v < p.length; v++) p[v] /= sum;
  return p;
}

/** Index drawn from softmax(scores) with u ∈ [0,1). */
export function drawFrom(scores: Float32Array, u: number): number {
  const p = softmax(scores);
  const r = u * p.reduce((a, b) => a + b, 0);
  let cum = 0;
  let last = 0;
  for (let v = 0; v < p.length; v++) {
    if (p[v] === 0) continue;
    cum += p[v];
    last = v;
    if (cum > r) return v;
  }
  return last;
}

/** Seeded PRNG (mulberry32): uniform floats in [0,1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
