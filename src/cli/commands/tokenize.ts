// `edgeformer tokenize --model DIR [--tokenizer DIR] --text T [--pair P] [--max-length N]
// [--truncation longest_first|only_first|only_second]` → ids, type ids, mask, tokens and offsets as JSON.

import { loadTokenizerDir } from "../../tokenizers/node.ts";
import type { Truncation } from "../../tokenizers/types.ts";
import { dir, type Flags, int, oneOf, str } from "../args.ts";

export async function tokenizeCommand(flags: Flags): Promise<string> {
  const model = dir(flags, "model");
  const tokenizerDir = flags.tokenizer ? dir(flags, "tokenizer") : model;
  const text = str(flags, "text", true)!;
  const pair = str(flags, "pair");
  const maxLength = int(flags, "max-length", undefined, 1);
  const truncation = oneOf<Truncation>(
    flags,
    "truncation",
    ["longest_first", "only_first", "only_second"],
    "longest_first",
  );
  const tokenizer = await loadTokenizerDir(tokenizerDir);
  const e = tokenizer.encode(text, pair, { maxLength, truncation });
  return JSON.stringify({
    input_ids: e.ids,
    token_type_ids: e.typeIds,
    attention_mask: e.attentionMask,
    tokens: e.tokens,
    offsets: e.offsets,
  });
}
