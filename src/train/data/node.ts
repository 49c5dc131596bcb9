// Node helpers for the pretraining data: stream a corpus file (see corpus.ts for the format) document by
// document, without loading it whole.
import { createReadStream } from "node:fs";
import { type Document, documentsFromLinesAsync, linesFromChunks } from "./corpus.ts";

/** The documents of a UTF-8 corpus file, streamed. */
export async function* readCorpusFile(path: string): AsyncGenerator<Document> {
  const stream = createReadStream(path, { encoding: "utf8" }) as AsyncIterable<string>;
  yield* documentsFromLinesAsync(linesFromChunks(stream));
}

/** The sentences (non-blank lines, trimmed) of a UTF-8 text file, streamed: e.g. to feed a vocab trainer. */
export async function* readCorpusSentences(path: string): AsyncGenerator<string> {
  for await (const doc of readCorpusFile(path)) yield* doc;
}
