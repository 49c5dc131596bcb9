// T5 pretraining and multi-task data: SentencePiece Unigram vocab training (and spiece.model writing),
// span corruption, multi-task mixing. Pure, no Node imports (node.ts reads tasks.json and its files).

export * from "./examples.ts";
export * from "./mixing.ts";
export * from "./span-corruption.ts";
export * from "./spiece-writer.ts";
export * from "./unigram.ts";
