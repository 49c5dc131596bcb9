// Pretraining data for BERT: corpus reading, WordPiece vocab training, NSP pairs, BERT masking, batches.
// Pure, no Node imports (node.ts streams a corpus file).
export * from "./batch.ts";
export * from "./corpus.ts";
export * from "./masking.ts";
export * from "./nsp.ts";
export * from "./random.ts";
export * from "./vocab.ts";
