// Text-to-text generation (T5) for serving: request options checked as task input errors, the batch
// path through text2text's generateText (the model's generate(): greedy, beam search or sampling, tested
// against transformers) with finish reasons and token counts, and a token-by-token generator for
// streaming that steps the same decoder cache one token at a time with the same greedy / sampling
// rules (repetition_penalty and no_repeat_ngram_size included), so a caller can hand each token out (and
// yield to the event loop) as soon as it exists. Both give the same tokens for the same options and seed.
import {
  applyRepetitionProcessors,
  promptHistories,
  repetitionActive,
  repetitionSettings,
} from "../models/logits-process.ts";
import { applyTopK, applyTopP, argmax, drawFrom, mulberry32 } from "../models/t5-generate.ts";
import { padBatch } from "../tokenizers/padding.ts";
import { TaskInputError } from "./pipeline.ts";
import { generateText, type T5Pipeline } from "./text2text.ts";

export type { T5Pipeline };

export interface TextGenerationOptions {
  maxNewTokens?: number;
  numBeams?: number;
  doSample?: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
  /** Ban repeated n-grams of this size (0 = off). */
  noRepeatNgramSize?: number;
  /** Penalize tokens already in the sequence (1 = off). */
  repetitionPenalty?: number;
}

export type FinishReason = "eos_token" | "length";

export interface GeneratedText {
  generated_text: string;
  /** Tokens generated, </s> included. */
  generatedTokens: number;
  finishReason: FinishReason;
  /** Input tokens the encoder saw. */
  inputTokens: number;
}

export interface StreamedToken {
  id: number;
  /** Text this token adds to the output (empty for </s>). */
  text: string;
  special: boolean;
}

function checkOptions(
  o: TextGenerationOptions,
): Required<Omit<TextGenerationOptions, "seed">> & { seed: number } {
  const maxNewTokens = o.maxNewTokens ?? 20;
  const numBeams = o.numBeams ?? 1;
  const temperature = o.temperature ?? 1;
  const topK = o.topK ?? 50;
  const topP = o.topP ?? 1;
  if (!(Number.isInteger(maxNewTokens) && maxNewTokens >= 1))
    throw new TaskInputError(`max_new_tokens must be a positive integer, got ${maxNewTokens}`);
  if (!(Number.isInteger(numBeams) && numBeams >= 1))
    throw new TaskInputError(`num_beams must be a positive integer, got ${numBeams}`);
  if (o.doSample && numBeams > 1) throw new TaskInputError("do_sample cannot be combined with num_beams > 1");
  if (!(temperature > 0 && Number.isFinite(temperature)))
    throw new TaskInputError(`temperature must be a positive number, got ${temperature}`);
  if (!(Number.isInteger(topK) && topK >= 0))
    throw new TaskInputError(`top_k must be a non-negative integer, got ${topK}`);
  if (!(topP > 0 && topP <= 1)) throw new TaskInputError(`top_p must be in (0, 1], got ${topP}`);
  const noRepeatNgramSize = o.noRepeatNgramSize ?? 0;
  const repetitionPenalty = o.repetitionPenalty ?? 1;
  if (!(Number.isInteger(noRepeatNgramSize) && noRepeatNgramSize >= 0))
    throw new TaskInputError(
      `no_repeat_ngram_size must be a non-negative integer (0 = off), got ${noRepeatNgramSize}`,
    );
  if (!(repetitionPenalty > 0 && Number.isFinite(repetitionPenalty)))
    throw new TaskInputError(`repetition_penalty must be a number > 0 (1 = off), got ${repetitionPenalty}`);
  const seed = o.seed ?? Math.floor(Math.random() * 2 ** 32);
  return {
    maxNewTokens,
    numBeams,
    doSample: !!o.doSample,
    temperature,
    topK,
    topP,
    seed,
    noRepeatNgramSize,
    repetitionPenalty,
  };
}

function encodeTexts(p: T5Pipeline, texts: string[]) {
  if (texts.length === 0) throw new TaskInputError("no input texts");
  const maxLength = p.maxLength ?? 512; // as text2text's generateText
  const encoded = texts.map((t) =>
    p.tokenizer.encode(t, undefined, { maxLength, truncation: "longest_first" }),
  );
  const padId = p.model.config.padTokenId;
  const padded = padBatch(encoded, { padId, padToken: p.tokenizer.idToToken(padId) });
  const V = p.model.config.vocabSize;
  for (const [b, e] of encoded.entries()) {
    const bad = e.ids.find((id) => id >= V);
    if (bad !== undefined)
      throw new TaskInputError(
        `input ${b}: token ${JSON.stringify(p.tokenizer.idToToken(bad))} (id ${bad}) is outside this model's vocabulary (${V})`,
      );
  }
  const B = padded.length;
  const T = padded[0].ids.length;
  return {
    ids: Int32Array.from(padded.flatMap((e) => e.ids)),
    mask: Int32Array.from(padded.flatMap((e) => e.attentionMask)),
    B,
    T,
    lengths: encoded.map((e) => e.ids.length),
  };
}

/** Generates one output per text (greedy, beam search or sampling by the options). */
export function generateTexts(
  p: T5Pipeline,
  texts: string[],
  opts: TextGenerationOptions = {},
): GeneratedText[] {
  const o = checkOptions(opts);
  const enc = encodeTexts(p, texts); // checks the ids against the vocabulary, counts input tokens
  const eos = new Set(p.model.config.eosTokenIds);
  const out = generateText(p, texts, {
    maxNewTokens: o.maxNewTokens,
    numBeams: o.numBeams,
    doSample: o.doSample,
    temperature: o.temperature,
    topK: o.topK,
    topP: o.topP,
    seed: o.seed,
    noRepeatNgramSize: o.noRepeatNgramSize,
    repetitionPenalty: o.repetitionPenalty,
  });
  return out.map((r, b) => {
    const gen = r.sequence.slice(1);
    const end = gen.findIndex((id) => eos.has(id));
    return {
      generated_text: r.generated_text,
      generatedTokens: end < 0 ? gen.length : end + 1,
      finishReason: end < 0 ? "length" : "eos_token",
      inputTokens: enc.lengths[b],
    };
  });
}

/**
 * Generates for one text token by token (greedy, or sampling with temperature / top_k / top_p and a
 * seed; not beam search). Yields each token as it is chosen and returns the whole result. Stopping
 * the generator early (return()) frees the decoder cache.
 */
export function* streamTokens(
  p: T5Pipeline,
  text: string,
  opts: TextGenerationOptions = {},
): Generator<StreamedToken, GeneratedText, void> {
  const o = checkOptions(opts);
  if (o.numBeams > 1) throw new TaskInputError("streaming is not available with num_beams > 1");
  const { model, tokenizer } = p;
  const c = model.config;
  const V = c.vocabSize;
  const enc = encodeTexts(p, [text]);
  const hidden = model.encode(enc.ids, enc.mask, 1, enc.T).lastHiddenState;
  const eos = new Set(c.eosTokenIds);
  const rand = mulberry32(o.seed);
  const rep = repetitionSettings(o);
  const processed = repetitionActive(rep);
  // the processors' history: (LM architectures: the prompt,) the start token, the generated tokens
  const history = processed
    ? [...promptHistories(model.isLanguageModel, enc.ids, enc.mask, 1, enc.T)[0]]
    : [];
  const pick = (logits: Float32Array): number => {
    let row = logits; // [V]
    if (processed) {
      row = Float32Array.from(logits);
      applyRepetitionProcessors(row, history, rep);
    }
    if (!o.doSample) return argmax(row);
    const scores = new Float32Array(V);
    for (let v = 0; v < V; v++) scores[v] = row[v] / o.temperature;
    if (o.topK > 0 && o.topK < V) applyTopK(scores, o.topK);
    if (o.topP < 1) applyTopP(scores, o.topP);
    return drawFrom(scores, rand());
  };
  const state = model.createDecoderState(hidden, enc.mask, 1, enc.T, o.maxNewTokens);
  const ids: number[] = [];
  let emitted = "";
  let finishReason: FinishReason = "length";
  try {
    let cur = c.decoderStartTokenId;
    history.push(cur);
    for (let step = 0; step < o.maxNewTokens; step++) {
      // greedy without processors: the argmax in wasm memory (no 4·V-byte logits copy per token)
      const next =
        !o.doSample && !processed
          ? model.stepArgmax(state, new Int32Array([cur]))[0]
          : pick(model.step(state, new Int32Array([cur])));
      ids.push(next);
      history.push(next);
      const special = eos.has(next);
      let piece = "";
      if (!special) {
        const full = tokenizer.decode(ids, { skipSpecialTokens: true });
        if (full.startsWith(emitted)) {
          piece = full.slice(emitted.length);
          emitted = full;
        }
      }
      yield { id: next, text: piece, special };
      if (special) {
        finishReason = "eos_token";
        break;
      }
      cur = next;
    }
  } finally {
    state.dispose();
  }
  return {
    generated_text: tokenizer.decode(ids, { skipSpecialTokens: true }),
    generatedTokens: ids.length,
    finishReason,
    inputTokens: enc.lengths[0],
  };
}
