// Pretraining corpus reader. Format (as BERT's create_pretraining_data.py): plain text, one sentence per
// line, documents separated by blank lines. Line endings \r\n, \r and \n are all accepted; each sentence is
// trimmed (a leading BOM too); whitespace-only lines count as blank; empty documents (runs of blank lines,
// blank lines at the start or end) are skipped. Streaming: `DocumentReader` takes one line at a time,
// `linesFromChunks` cuts arbitrary text chunks (e.g. a file stream) into lines. Pure, no Node imports
// (see node.ts for reading a file).

/** A document: its sentences, in order, none empty. */
export type Document = string[];

const LINE_BREAK = /\r\n|\r|\n/;
const FINAL_BREAK = /(?:\r\n|\r|\n)$/;

/** Collects sentences line by line and hands out each document when a blank line (or the end) closes it. */
export class DocumentReader {
  #current: string[] = [];

  /**
   * Adds one line; a final line break is its terminator, other breaks inside make it several lines.
   * Returns the documents it completed: usually none, one when the line is blank and closes a document.
   */
  push(line: string): Document[] {
    const out: Document[] = [];
    for (const part of line.replace(FINAL_BREAK, "").split(LINE_BREAK)) {
      const sentence = part.trim();
      if (sentence.length > 0) {
        this.#current.push(sentence);
      } else {
        const doc = this.flush();
        if (doc) out.push(doc);
      }
    }
    return out;
  }

  /** Ends the current document (at end of input); returns it unless it is empty. */
  flush(): Document | undefined {
    if (this.#current.length === 0) return undefined;
    const doc = this.#current;
    this.#current = [];
    return doc;
  }
}

/** All documents of a corpus text. */
export function parseCorpus(text: string): Document[] {
  const reader = new DocumentReader();
  const docs = reader.push(text);
  const last = reader.flush();
  if (last) docs.push(last);
  return docs;
}

/** Documents from lines (each may still end in its line break), lazily. */
export function* documentsFromLines(lines: Iterable<string>): Generator<Document> {
  const reader = new DocumentReader();
  for (const line of lines) yield* reader.push(line);
  const last = reader.flush();
  if (last) yield last;
}

/** Documents from an async stream of lines (e.g. node:readline), lazily. */
export async function* documentsFromLinesAsync(
  lines: AsyncIterable<string> | Iterable<string>,
): AsyncGenerator<Document> {
  const reader = new DocumentReader();
  for await (const line of lines) yield* reader.push(line);
  const last = reader.flush();
  if (last) yield last;
}

/**
 * Lines from text chunks cut anywhere (even between \r and \n, which stay one break). A final line without
 * a break is yielded too.
 */
export async function* linesFromChunks(
  chunks: AsyncIterable<string> | Iterable<string>,
): AsyncGenerator<string> {
  let rest = "";
  let pendingCr = false;
  for await (const chunk of chunks) {
    if (chunk.length === 0) continue;
    let text = pendingCr && chunk.startsWith("\n") ? chunk.slice(1) : chunk;
    pendingCr = false;
    text = rest + text;
    const parts = text.split(LINE_BREAK);
    rest = parts.pop()!;
    // A chunk ending in "\r" may be half of "\r\n": the split already ended the line; drop a leading "\n" next.
    if (rest === "" && text.endsWith("\r")) pendingCr = true;
    for (const p of parts) yield p;
  }
  if (rest.length > 0) yield rest;
}
