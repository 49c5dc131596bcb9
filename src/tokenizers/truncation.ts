// Truncation lengths with Hugging Face semantics (tokenizers' `truncate_encodings`, which transformers'
// fast tokenizers use): `maxLength` counts the special tokens, so the budget for the texts' own tokens is
// maxLength minus the special tokens the post-processor adds; tokens are cut from the right.
// - longest_first: a single text keeps `budget` tokens; for a pair the shorter text is kept whole if the
//   longer one can take the rest, otherwise each gets half (the first floor(budget/2), the second the rest).
// - only_first / only_second: only that text is cut; when it cannot give up enough tokens and still keep
//   at least one (or only_second is asked without a pair), this throws TruncationError, as tokenizers
//   does ("Sequence to truncate too short" / "Second sequence not provided"). transformers' slow
//   tokenizers only log and return the input uncut; an exception is harder to miss.
import type { Truncation } from "./types.ts";

export class TruncationError extends Error {
  override name = "TruncationError";
}

/**
 * How many tokens of each text to keep. `lengthA`/`lengthB` are the texts' token counts (no special
 * tokens; `lengthB` null for a single text), `specialTokens` the number the post-processor adds.
 * Returns the kept lengths (unchanged when everything fits).
 */
export function truncatedLengths(
  lengthA: number,
  lengthB: number | null,
  maxLength: number,
  specialTokens: number,
  strategy: Truncation = "longest_first",
): [number, number | null] {
  if (!Number.isInteger(maxLength) || maxLength < 0) {
    throw new RangeError(`maxLength must be a non-negative integer, got ${maxLength}`);
  }
  const total = lengthA + (lengthB ?? 0);
  if (total + specialTokens <= maxLength) return [lengthA, lengthB];
  if (maxLength < specialTokens) {
    throw new TruncationError(
      `maxLength ${maxLength} is smaller than the ${specialTokens} special tokens added to every input`,
    );
  }
  const budget = maxLength - specialTokens;
  const toRemove = total - budget;
  switch (strategy) {
    case "longest_first": {
      if (lengthB === null) return [budget, null];
      let n1 = Math.min(lengthA, lengthB);
      let n2 = Math.max(lengthA, lengthB);
      n2 = n1 > budget ? n1 : Math.max(n1, budget - n1);
      if (n1 + n2 > budget) {
        n1 = Math.floor(budget / 2);
        n2 = n1 + (budget % 2);
      }
      // n1 belongs to the shorter text; on a tie the first text gets n1, like tokenizers.
      return lengthA > lengthB ? [n2, n1] : [n1, n2];
    }
    case "only_first": {
      if (lengthA <= toRemove) {
        throw new TruncationError(
          `only_first truncation to maxLength ${maxLength}: the first text has ${lengthA} tokens but ` +
            `${toRemove} must be removed (the other text and ${specialTokens} special tokens take the rest); ` +
            `use longest_first or a larger maxLength`,
        );
      }
      return [lengthA - toRemove, lengthB];
    }
    case "only_second": {
      if (lengthB === null) {
        throw new TruncationError(
          `only_second truncation to maxLength ${maxLength} needs a second text, but only one was given`,
        );
      }
      if (lengthB <= toRemove) {
        throw new TruncationError(
          `only_second truncation to maxLength ${maxLength}: the second text has ${lengthB} tokens but ` +
            `${toRemove} must be removed (the other text and ${specialTokens} special tokens take the rest); ` +
            `use longest_first or a larger maxLength`,
        );
      }
      return [lengthA, lengthB - toRemove];
    }
    default:
      throw new RangeError(`unknown truncation strategy: ${String(strategy)}`);
  }
}
