// Batches for BERT pretraining: padded examples → flat row-major Int32Arrays [B·T] with `batch` = B and
// `seq` = T, field names as the model's BertInput (src/models/bert.ts: inputIds, attentionMask,
// tokenTypeIds, batch, seq) plus mlmLabels [B·T] (-100 = no loss) and nextSentenceLabel [B]; so a batch is
// itself a BertInput. An epoch iterator visits examples in a seeded order (a fresh permutation per epoch,
// from (seed, epoch) alone), so a run can resume at any (epoch, batch index) and see exactly the batches an
// uninterrupted run would. Pure, no Node imports.
import { IGNORE_INDEX } from "./masking.ts";
import type { PretrainingExample } from "./nsp.ts";
import { deriveSeed, mulberry32, shuffleInPlace } from "./random.ts";

export interface PretrainingBatch {
  /** [B·T] token ids. */
  inputIds: Int32Array;
  /** [B·T] 1 = real token, 0 = padding. */
  attentionMask: Int32Array;
  /** [B·T] segment ids. */
  tokenTypeIds: Int32Array;
  /** [B·T] MLM targets, -100 where no loss. */
  mlmLabels: Int32Array;
  /** [B] 0 = B follows A, 1 = random. */
  nextSentenceLabel: Int32Array;
  batch: number;
  seq: number;
}

export interface CollateOptions {
  /** T; default the longest example. Longer examples throw. */
  seqLength?: number;
  /** Id for padding past an example's end. Default 0 ([PAD] in BERT vocabs). */
  padId?: number;
}

/** Stacks examples into one batch, padding each row to T (pad id, mask 0, type 0, label -100). */
export function collateBatch(
  examples: readonly PretrainingExample[],
  options: CollateOptions = {},
): PretrainingBatch {
  const B = examples.length;
  if (B === 0) throw new RangeError("collateBatch: no examples");
  const T = options.seqLength ?? Math.max(...examples.map((e) => e.inputIds.length));
  const padId = options.padId ?? 0;
  const inputIds = new Int32Array(B * T).fill(padId);
  const attentionMask = new Int32Array(B * T);
  const tokenTypeIds = new Int32Array(B * T);
  const mlmLabels = new Int32Array(B * T).fill(IGNORE_INDEX);
  const nextSentenceLabel = new Int32Array(B);
  examples.forEach((e, b) => {
    const n = e.inputIds.length;
    if (n > T) throw new RangeError(`collateBatch: example ${b} has ${n} tokens, more than ${T}`);
    for (const [name, a] of [
      ["tokenTypeIds", e.tokenTypeIds],
      ["attentionMask", e.attentionMask],
      ["mlmLabels", e.mlmLabels],
    ] as const) {
      if (a.length !== n)
        throw new RangeError(`collateBatch: example ${b} ${name} has ${a.length} values, not ${n}`);
    }
    inputIds.set(e.inputIds, b * T);
    attentionMask.set(e.attentionMask, b * T);
    tokenTypeIds.set(e.tokenTypeIds, b * T);
    mlmLabels.set(e.mlmLabels, b * T);
    nextSentenceLabel[b] = e.nextSentenceLabel;
  });
  return { inputIds, attentionMask, tokenTypeIds, mlmLabels, nextSentenceLabel, batch: B, seq: T };
}

/** The order of `n` items in `epoch` for `seed`: a permutation depending only on (seed, epoch). */
export function epochPermutation(n: number, seed: number, epoch: number): Int32Array {
  const order = Array.from({ length: n }, (_, i) => i);
  shuffleInPlace(order, mulberry32(deriveSeed(seed, epoch)));
  return Int32Array.from(order);
}

/** Batches in one epoch: ⌈n / batchSize⌉, or ⌊n / batchSize⌋ when dropping the last partial batch. */
export function batchesPerEpoch(n: number, batchSize: number, dropLast = false): number {
  return dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
}

/** Where an iteration is: batch `index` of `epoch` (both from 0). */
export interface EpochPosition {
  epoch: number;
  index: number;
}

export interface EpochOptions {
  batchSize: number;
  seed: number;
  /** Where to start (resume); default { epoch: 0, index: 0 }. */
  start?: EpochPosition;
  /** Stop before this epoch; default: never stop. */
  epochs?: number;
  /** Skip the last partial batch of each epoch. Default false. */
  dropLast?: boolean;
}

export interface EpochBatch<T> extends EpochPosition {
  items: T[];
  /** The position to resume from after this batch. */
  next: EpochPosition;
}

/** Batches of items, epoch after epoch, each epoch in its own seeded order; resumable. */
export function* epochBatches<T>(items: readonly T[], options: EpochOptions): Generator<EpochBatch<T>> {
  const { batchSize, seed } = options;
  if (!(Number.isInteger(batchSize) && batchSize > 0)) throw new RangeError(`batchSize ${batchSize}`);
  const dropLast = options.dropLast ?? false;
  const perEpoch = batchesPerEpoch(items.length, batchSize, dropLast);
  if (perEpoch === 0) return;
  const end = options.epochs ?? Number.POSITIVE_INFINITY;
  let { epoch, index } = options.start ?? { epoch: 0, index: 0 };
  epoch += Math.floor(index / perEpoch);
  index %= perEpoch;
  while (epoch < end) {
    const order = epochPermutation(items.length, seed, epoch);
    for (; index < perEpoch; index++) {
      const from = index * batchSize;
      const to = Math.min(from + batchSize, items.length);
      const batch: T[] = [];
      for (let k = from; k < to; k++) batch.push(items[order[k]]);
      const next = index + 1 < perEpoch ? { epoch, index: index + 1 } : { epoch: epoch + 1, index: 0 };
      yield { epoch, index, items: batch, next };
    }
    epoch++;
    index = 0;
  }
}

export interface PretrainingBatchItem extends EpochPosition {
  batch: PretrainingBatch;
  next: EpochPosition;
}

/** epochBatches over examples, each batch collated. */
export function* pretrainingBatches(
  examples: readonly PretrainingExample[],
  options: EpochOptions & CollateOptions,
): Generator<PretrainingBatchItem> {
  for (const { epoch, index, items, next } of epochBatches(examples, options)) {
    yield { epoch, index, batch: collateBatch(items, options), next };
  }
}
