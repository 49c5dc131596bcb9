// Text-to-text generation with T5 (transformers' Text2TextGenerationPipeline shape:
// [{generated_text}]): an optional task prefix ("summarize: "), tokenization with </s>, encoder once,
// then greedy / beam / sampled decoding with the KV cache. Also span filling: a text with sentinels
// <extra_id_N> in, the same text with each sentinel replaced by the span the model generated for it.
import type { T5Model } from "../models/t5.ts";
import { type GenerateOptions, generate } from "../models/t5-generate.ts";
import { padBatch } from "../tokenizers/padding.ts";
import type { Tokenizer } from "../tokenizers/types.ts";
import { TaskInputError } from "./pipeline.ts";

export interface T5Pipeline {
  tokenizer: Tokenizer;
  model: T5Model;
  /** Longest input in tokens (default 512). */
  maxLength?: number;
}

export interface GenerationResult {
  generated_text: string;
  /** The generated ids, starting with the decoder start token. */
  sequence: number[];
}

/** Generates for each text; `prefix` is prepended to every input (the T5 task prefix). */
export function generateText(
  p: T5Pipeline,
  texts: string[],
  opts: GenerateOptions & { prefix?: string; skipSpecialTokens?: boolean } = {},
): GenerationResult[] {
  if (texts.length === 0) throw new TaskInputError("no input texts");
  const maxLength = p.maxLength ?? 512;
  const encoded = texts.map((t) => p.tokenizer.encode(`${opts.prefix ?? ""}${t}`, undefined, { maxLength }));
  const padId = p.tokenizer.special.pad ?? 0;
  const batch = padBatch(encoded, { padId, padToken: p.tokenizer.idToToken(padId) });
  const B = batch.length;
  const T = batch[0].ids.length;
  const out = generate(
    p.model,
    Int32Array.from(batch.flatMap((e) => e.ids)),
    Int32Array.from(batch.flatMap((e) => e.attentionMask)),
    B,
    T,
    opts,
  );
  return out.sequences.map((seq) => ({
    generated_text: p.tokenizer.decode(seq, { skipSpecialTokens: opts.skipSpecialTokens ?? true }),
    sequence: seq,
  }));
}

const SENTINEL = /<extra_id_(\d+)>/g;

/**
 * Fills the sentinel spans of `text`: the model's output "<extra_id_0> a <extra_id_1> b </s>" puts
 * "a" where <extra_id_0> was and "b" for <extra_id_1>; a sentinel the model gave no span for is removed.
 */
export function fillSpans(
  p: T5Pipeline,
  text: string,
  opts: GenerateOptions = {},
): { text: string; spans: string[] } {
  const sentinels = [...text.matchAll(SENTINEL)].map((m) => Number(m[1]));
  if (sentinels.length === 0) throw new TaskInputError("no sentinel (<extra_id_0>, …) in the text");
  const [res] = generateText(p, [text], { ...opts, skipSpecialTokens: false });
  const raw = res.generated_text;
  const spans = new Map<number, string>();
  const parts = raw.split(SENTINEL); // [before, id, span, id, span, …]
  for (let i = 1; i + 1 < parts.length; i += 2) {
    spans.set(Number(parts[i]), parts[i + 1].replace(/<\/s>|<pad>/g, "").trim());
  }
  const filled = text
    .replace(SENTINEL, (_m, id: string) => spans.get(Number(id)) ?? "")
    .replace(/\s+/g, " ")
    .trim();
  return { text: filled, spans: sentinels.map((id) => spans.get(id) ?? "") };
}
