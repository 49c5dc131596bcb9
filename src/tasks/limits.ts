// Request limits that need the tokenizer: the number of tokens each input becomes (special tokens
// included, before any truncation), checked against a per-input maximum so that an over-long input is
// refused with a clear error instead of being cut silently.
import type { Tokenizer } from "../tokenizers/types.ts";
import { TaskInputError } from "./pipeline.ts";

export class InputTooLongError extends TaskInputError {
  override name = "InputTooLongError";
  constructor(
    readonly index: number,
    readonly tokens: number,
    readonly limit: number,
  ) {
    super(`input ${index} is ${tokens} tokens long; the limit is ${limit} tokens per input`);
  }
}

/** Tokens per input (with its pair, when given), untruncated. */
export function countTokens(tokenizer: Tokenizer, texts: string[], pairs?: string[]): number[] {
  return texts.map((t, i) => tokenizer.encode(t, pairs?.[i]).ids.length);
}

/** Throws InputTooLongError for the first input longer than `limit` tokens; returns the counts. */
export function checkInputTokens(
  tokenizer: Tokenizer,
  texts: string[],
  limit: number,
  pairs?: string[],
): number[] {
  const counts = countTokens(tokenizer, texts, pairs);
  const i = counts.findIndex((n) => n > limit);
  if (i >= 0) throw new InputTooLongError(i, counts[i], limit);
  return counts;
}
