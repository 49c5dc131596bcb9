// The tokenizer contract every model and task uses, whatever built the tokenizer (tokenizer.json via
// @huggingface/tokenizers, a bare vocab.txt, or a bare spiece.model).

export type Truncation = "longest_first" | "only_first" | "only_second";

export interface EncodeOptions {
  /** Add the model's special tokens ([CLS] … [SEP] for BERT, </s> for T5). Default true. */
  addSpecialTokens?: boolean;
  /** Total length limit including special tokens; no limit when absent. */
  maxLength?: number;
  /** How to cut when maxLength is exceeded. Default "longest_first". */
  truncation?: Truncation;
}

export interface Encoding {
  ids: number[];
  tokens: string[];
  /** Segment ids: 0 for the first text (and its special tokens), 1 for the pair. */
  typeIds: number[];
  /** 1 for real tokens, 0 for padding. */
  attentionMask: number[];
  /** Character offsets [start, end) into the text the token came from; [0, 0] for special tokens. */
  offsets: [number, number][];
  /** 1 for special tokens added by the post-processor, else 0. */
  specialTokensMask: number[];
  /** Which text each token came from: 0, 1, or null for special tokens and padding. */
  sequenceIds: (number | null)[];
}

export interface SpecialTokens {
  pad?: number;
  unk?: number;
  cls?: number;
  sep?: number;
  mask?: number;
  eos?: number;
  bos?: number;
}

export interface Tokenizer {
  readonly vocabSize: number;
  readonly special: SpecialTokens;
  encode(text: string, pair?: string, options?: EncodeOptions): Encoding;
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
}
