// Padding a batch of encodings to one length, as transformers pads: pad id, attention mask 0, token type 0,
// special-tokens mask 1, offsets [0, 0], sequence id null. Encodings longer than a fixed `length` are left
// as they are (padding never truncates; use EncodeOptions.maxLength for that). Pure, no Node imports.
import type { Encoding, Tokenizer } from "./types.ts";

export interface PadOptions {
  padId: number;
  /** Token string shown in `tokens` for padding. Default "[PAD]" (BERT); see padOptionsFor. */
  padToken?: string;
  /** Target length, or "longest" (default) for the longest encoding in the batch. */
  length?: number | "longest";
  /** Where padding goes. Default "right". */
  side?: "right" | "left";
}

/** Returns new encodings, all of the same length (unless some exceed a fixed `length`). */
export function padBatch(encodings: Encoding[], opts: PadOptions): Encoding[] {
  const { padId, padToken = "[PAD]", length = "longest", side = "right" } = opts;
  if (length !== "longest" && (!Number.isInteger(length) || length < 0)) {
    throw new RangeError(`pad length must be a non-negative integer or "longest", got ${length}`);
  }
  const target = length === "longest" ? Math.max(0, ...encodings.map((e) => e.ids.length)) : length;
  return encodings.map((e) => {
    const n = Math.max(0, target - e.ids.length);
    const pad = <T>(values: T[], value: () => T): T[] => {
      const fill = Array.from({ length: n }, value);
      return side === "right" ? [...values, ...fill] : [...fill, ...values];
    };
    return {
      ids: pad(e.ids, () => padId),
      tokens: pad(e.tokens, () => padToken),
      typeIds: pad(e.typeIds, () => 0),
      attentionMask: pad(e.attentionMask, () => 0),
      offsets: pad(
        e.offsets.map(([s, t]): [number, number] => [s, t]),
        (): [number, number] => [0, 0],
      ),
      specialTokensMask: pad(e.specialTokensMask, () => 1),
      sequenceIds: pad<number | null>(e.sequenceIds, () => null),
    };
  });
}

/** `padId` and `padToken` of a tokenizer; throws if it has no pad token. */
export function padOptionsFor(tokenizer: Tokenizer): { padId: number; padToken: string } {
  const padId = tokenizer.special.pad;
  if (padId === undefined) throw new Error("this tokenizer has no pad token; pass padId to padBatch");
  return { padId, padToken: tokenizer.idToToken(padId) ?? "[PAD]" };
}
