// Next-sentence pairs and pretraining examples as BERT's create_pretraining_data.py
// (create_instances_from_document, truncate_seq_pair): sentences of a document are accumulated into a
// chunk up to a target length (max_seq_length − 3, or with probability shortSeqProb a random length in
// [2, max]); A = the first k sentences (k random in [1, len − 1]); B = the rest of the chunk (label 0, "is
// next") or, with probability 0.5 and always for a one-sentence chunk, sentences from a random point of a
// random OTHER document up to the remaining length (label 1, "random"; the chunk's unused sentences are
// put back for the next chunk). The pair is cut to max_seq_length − 3 tokens by removing, one at a time,
// from the longer side (B on ties) at its front or back at random; then [CLS] A [SEP] B [SEP], segment
// ids 0 / 1, attention mask, padding to max_seq_length, and masking (masking.ts).
// Labels follow Hugging Face: next_sentence_label 0 = B follows A, 1 = B is random.
// Difference from the original: the other document is drawn uniformly among the others in one draw (the
// original tries 10 times and may keep the same document); a corpus of one document falls back to itself.
// Pure, no Node imports.
import type { Tokenizer } from "../../tokenizers/types.ts";
import type { Document } from "./corpus.ts";
import { IGNORE_INDEX, type MaskingOptions, maskTokens, type PretrainingVocab } from "./masking.ts";
import { type Rng, randInt, shuffleInPlace } from "./random.ts";

/** A document as token ids: its sentences, none empty. */
export type TokenizedDocument = number[][];

/** Tokenizes documents sentence by sentence (no special tokens), dropping empty sentences and documents. */
export function tokenizeDocuments(docs: Iterable<Document>, tokenizer: Tokenizer): TokenizedDocument[] {
  const out: TokenizedDocument[] = [];
  for (const doc of docs) {
    const sentences: number[][] = [];
    for (const s of doc) {
      const ids = tokenizer.encode(s, undefined, { addSpecialTokens: false }).ids;
      if (ids.length > 0) sentences.push(ids);
    }
    if (sentences.length > 0) out.push(sentences);
  }
  return out;
}

export interface SentencePair {
  tokensA: number[];
  tokensB: number[];
  /** B is from another document (next_sentence_label 1). */
  isRandomNext: boolean;
}

export interface PairOptions {
  /** Length of the encoded sequence, [CLS] and two [SEP] included. Default 128. */
  maxSeqLength?: number;
  /** Probability of a shorter target length for a document's chunks. Default 0.1. */
  shortSeqProb?: number;
}

/**
 * Cuts a pair in place to at most `maxNumTokens` tokens in total: one token at a time from the longer
 * side (B when equal), at its front or back with probability 1/2.
 */
export function truncateSeqPair(a: number[], b: number[], maxNumTokens: number, rng: Rng): void {
  while (a.length + b.length > maxNumTokens) {
    const t = a.length > b.length ? a : b;
    if (t.length === 0) throw new Error("truncateSeqPair: nothing left to cut");
    if (rng() < 0.5) t.shift();
    else t.pop();
  }
}

function append(dst: number[], src: readonly number[]): void {
  for (const x of src) dst.push(x);
}

/** The (truncated) sentence pairs of one document. Documents must be non-empty with non-empty sentences. */
export function createPairsFromDocument(
  documents: readonly TokenizedDocument[],
  documentIndex: number,
  rng: Rng,
  options: PairOptions = {},
): SentencePair[] {
  const maxSeqLength = options.maxSeqLength ?? 128;
  const shortSeqProb = options.shortSeqProb ?? 0.1;
  const maxNumTokens = maxSeqLength - 3;
  if (maxNumTokens < 2) throw new RangeError(`maxSeqLength ${maxSeqLength} is too small (at least 5)`);
  const document = documents[documentIndex];
  let target = maxNumTokens;
  if (rng() < shortSeqProb) target = randInt(rng, 2, maxNumTokens);

  const pairs: SentencePair[] = [];
  let chunk: number[][] = [];
  let chunkLength = 0;
  let i = 0;
  while (i < document.length) {
    const segment = document[i];
    chunk.push(segment);
    chunkLength += segment.length;
    if (i === document.length - 1 || chunkLength >= target) {
      if (chunk.length > 0) {
        const aEnd = chunk.length >= 2 ? randInt(rng, 1, chunk.length - 1) : 1;
        const tokensA: number[] = [];
        for (let j = 0; j < aEnd; j++) append(tokensA, chunk[j]);
        const tokensB: number[] = [];
        let isRandomNext: boolean;
        if (chunk.length === 1 || rng() < 0.5) {
          isRandomNext = true;
          const targetB = target - tokensA.length;
          let r = documentIndex;
          if (documents.length > 1) {
            r = randInt(rng, 0, documents.length - 2);
            if (r >= documentIndex) r++;
          }
          const other = documents[r];
          const start = randInt(rng, 0, other.length - 1);
          for (let j = start; j < other.length; j++) {
            append(tokensB, other[j]);
            if (tokensB.length >= targetB) break;
          }
          i -= chunk.length - aEnd; // put the unused sentences back
        } else {
          isRandomNext = false;
          for (let j = aEnd; j < chunk.length; j++) append(tokensB, chunk[j]);
        }
        truncateSeqPair(tokensA, tokensB, maxNumTokens, rng);
        pairs.push({ tokensA, tokensB, isRandomNext });
      }
      chunk = [];
      chunkLength = 0;
    }
    i++;
  }
  return pairs;
}

/** One padded example, each array [maxSeqLength]. */
export interface PretrainingExample {
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
  attentionMask: Int32Array;
  /** Original id where the MLM loss applies, -100 elsewhere. */
  mlmLabels: Int32Array;
  /** 0: B follows A; 1: B is random. */
  nextSentenceLabel: number;
}

/** [CLS] A [SEP] B [SEP], padded to maxSeqLength; labels all -100 (no masking). */
export function encodePair(
  pair: SentencePair,
  vocab: PretrainingVocab,
  maxSeqLength: number,
): PretrainingExample {
  const { tokensA: a, tokensB: b } = pair;
  const len = a.length + b.length + 3;
  if (len > maxSeqLength) throw new RangeError(`pair of ${len} tokens exceeds maxSeqLength ${maxSeqLength}`);
  const inputIds = new Int32Array(maxSeqLength).fill(vocab.padId);
  const tokenTypeIds = new Int32Array(maxSeqLength);
  const attentionMask = new Int32Array(maxSeqLength);
  attentionMask.fill(1, 0, len);
  inputIds[0] = vocab.clsId;
  inputIds.set(a, 1);
  inputIds[a.length + 1] = vocab.sepId;
  inputIds.set(b, a.length + 2);
  inputIds[len - 1] = vocab.sepId;
  tokenTypeIds.fill(1, a.length + 2, len);
  return {
    inputIds,
    tokenTypeIds,
    attentionMask,
    mlmLabels: new Int32Array(maxSeqLength).fill(IGNORE_INDEX),
    nextSentenceLabel: pair.isRandomNext ? 1 : 0,
  };
}

export interface PretrainingDataOptions extends PairOptions, MaskingOptions {
  /** Passes over the documents, each with fresh pairs and masks (dupe_factor). Default 1. */
  dupeFactor?: number;
  /** Shuffle the examples at the end, as the original. Default true. */
  shuffle?: boolean;
}

/**
 * Masked, padded NSP examples from tokenized documents (create_training_instances after tokenizing): for
 * each pass and each document, its pairs, each encoded then masked. Empty documents and sentences are
 * dropped first.
 */
export function createPretrainingExamples(
  documents: readonly TokenizedDocument[],
  vocab: PretrainingVocab,
  rng: Rng,
  options: PretrainingDataOptions = {},
): PretrainingExample[] {
  const maxSeqLength = options.maxSeqLength ?? 128;
  const docs = documents.map((d) => d.filter((s) => s.length > 0)).filter((d) => d.length > 0);
  const out: PretrainingExample[] = [];
  for (let pass = 0; pass < (options.dupeFactor ?? 1); pass++) {
    for (let d = 0; d < docs.length; d++) {
      for (const pair of createPairsFromDocument(docs, d, rng, options)) {
        const ex = encodePair(pair, vocab, maxSeqLength);
        const masked = maskTokens(ex.inputIds, vocab, rng, options);
        ex.inputIds = masked.inputIds;
        ex.mlmLabels = masked.labels;
        out.push(ex);
      }
    }
  }
  if (options.shuffle ?? true) shuffleInPlace(out, rng);
  return out;
}
