// Masked-LM targets exactly as BERT's create_pretraining_data.py (create_masked_lm_predictions): candidate
// positions are the non-special tokens (with whole-word masking, a "##" piece joins the word before it);
// candidates are shuffled; round(n · maskProb) positions are chosen (Python's round: halves to even; at
// least 1, at most maxPredictions; n = number of non-special tokens), whole words skipped when they would
// not fit; each chosen position becomes [MASK] with probability 0.8, else stays unchanged with 0.5, else a
// random token. Labels: the original id at chosen positions, -100 elsewhere (PyTorch's ignore index).
// Differences from the original, on purpose: n counts non-special tokens (the original counts [CLS]/[SEP]
// too); random tokens are drawn uniformly from the non-special ids (the original draws from the whole
// vocab); all special tokens ([PAD], [UNK], …) are never candidates (the original excludes [CLS]/[SEP]);
// a "##" piece joins the previous word only when it directly follows it (not across [SEP]).
// The random stream is consumed in the original's order (shuffle, then per chosen position one or two
// draws, plus one for the random token). Pure, no Node imports.
import type { Tokenizer } from "../../tokenizers/types.ts";
import { type Rng, randInt, roundHalfEven, shuffleInPlace } from "./random.ts";

export const IGNORE_INDEX = -100;

/** What masking and pair building need to know about a vocab. */
export interface PretrainingVocab {
  size: number;
  padId: number;
  clsId: number;
  sepId: number;
  maskId: number;
  /** 1 for special ids: never masked, never drawn as random replacements. */
  special: Uint8Array;
  /** 1 for ids of "##" continuation pieces (whole-word masking). */
  continuation: Uint8Array;
  /** The non-special ids, from which random replacements are drawn uniformly. */
  replacementIds: Int32Array;
}

/** A PretrainingVocab from tokens by id; `specialTokens` must include [PAD] [CLS] [SEP] [MASK]. */
export function pretrainingVocabFromTokens(
  tokens: readonly string[],
  specialTokens: readonly string[] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
): PretrainingVocab {
  const ids = new Map<string, number>();
  tokens.forEach((t, i) => {
    ids.set(t, i);
  });
  const need = (t: string) => {
    const id = ids.get(t);
    if (id === undefined) throw new Error(`vocab has no ${t} token`);
    return id;
  };
  const special = new Uint8Array(tokens.length);
  for (const t of specialTokens) {
    const id = ids.get(t);
    if (id !== undefined) special[id] = 1;
  }
  return build(tokens.length, need("[PAD]"), need("[CLS]"), need("[SEP]"), need("[MASK]"), special, (i) =>
    tokens[i].startsWith("##"),
  );
}

/** A PretrainingVocab from a loaded tokenizer: its special tokens (tokenizer.special) are the specials. */
export function pretrainingVocab(tokenizer: Tokenizer): PretrainingVocab {
  const s = tokenizer.special;
  const need = (name: "pad" | "cls" | "sep" | "mask") => {
    const id = s[name];
    if (id === undefined) throw new Error(`tokenizer has no ${name} token`);
    return id;
  };
  const size = tokenizer.vocabSize;
  const special = new Uint8Array(size);
  for (const id of Object.values(s)) if (id !== undefined && id >= 0 && id < size) special[id] = 1;
  return build(size, need("pad"), need("cls"), need("sep"), need("mask"), special, (i) =>
    (tokenizer.idToToken(i) ?? "").startsWith("##"),
  );
}

function build(
  size: number,
  padId: number,
  clsId: number,
  sepId: number,
  maskId: number,
  special: Uint8Array,
  isContinuation: (id: number) => boolean,
): PretrainingVocab {
  for (const id of [padId, clsId, sepId, maskId]) special[id] = 1;
  const continuation = new Uint8Array(size);
  const replacement: number[] = [];
  for (let i = 0; i < size; i++) {
    if (isContinuation(i)) continuation[i] = 1;
    if (!special[i]) replacement.push(i);
  }
  if (replacement.length === 0) throw new Error("vocab has no non-special tokens");
  return {
    size,
    padId,
    clsId,
    sepId,
    maskId,
    special,
    continuation,
    replacementIds: Int32Array.from(replacement),
  };
}

export interface MaskingOptions {
  /** Fraction of non-special tokens to predict. Default 0.15. */
  maskProb?: number;
  /** Cap on predictions per sequence (max_predictions_per_seq). Default 20. */
  maxPredictions?: number;
  /** Choose whole words ("##" pieces belong to the word before). Default false. */
  wholeWord?: boolean;
}

export interface MaskedTokens {
  /** The input with chosen positions replaced. */
  inputIds: Int32Array;
  /** Original id at chosen positions, -100 elsewhere. */
  labels: Int32Array;
  /** Chosen positions, ascending. */
  positions: number[];
}

/** How many positions BERT predicts for `n` candidate tokens. */
export function numToPredict(n: number, maskProb = 0.15, maxPredictions = 20): number {
  return Math.min(maxPredictions, Math.max(1, roundHalfEven(n * maskProb)));
}

/** BERT masking of one sequence (special tokens, padding included, are left alone). */
export function maskTokens(
  ids: ArrayLike<number>,
  vocab: PretrainingVocab,
  rng: Rng,
  options: MaskingOptions = {},
): MaskedTokens {
  const maskProb = options.maskProb ?? 0.15;
  const maxPredictions = options.maxPredictions ?? 20;
  const wholeWord = options.wholeWord ?? false;
  const n = ids.length;
  const groups: number[][] = [];
  let candidates = 0;
  for (let i = 0; i < n; i++) {
    const id = ids[i];
    if (vocab.special[id]) continue;
    candidates++;
    const last = groups[groups.length - 1];
    if (wholeWord && last !== undefined && vocab.continuation[id] && last[last.length - 1] === i - 1)
      last.push(i);
    else groups.push([i]);
  }
  shuffleInPlace(groups, rng);
  const target = numToPredict(candidates, maskProb, maxPredictions);
  const inputIds = Int32Array.from(ids);
  const labels = new Int32Array(n).fill(IGNORE_INDEX);
  const positions: number[] = [];
  for (const group of groups) {
    if (positions.length >= target) break;
    if (positions.length + group.length > target) continue;
    for (const i of group) {
      if (rng() < 0.8) inputIds[i] = vocab.maskId;
      else if (rng() >= 0.5)
        inputIds[i] = vocab.replacementIds[randInt(rng, 0, vocab.replacementIds.length - 1)];
      labels[i] = ids[i];
      positions.push(i);
    }
  }
  positions.sort((x, y) => x - y);
  return { inputIds, labels, positions };
}
