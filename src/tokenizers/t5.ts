// The T5 tokenizer (SentencePiece Unigram) from a tokenizer.json or from a bare spiece.model. A
// spiece.model is first turned into the tokenizer.json that transformers would save for it
// (Precompiled normalizer, WhitespaceSplit + Metaspace, Unigram, TemplateProcessing appending </s>,
// Metaspace decoder, 100 <extra_id_N> sentinels), so both sources build the same tokenizer.
// @huggingface/tokenizers builds the vocab and runs the Unigram model (trie + Viterbi lattice); the
// steps around it are done here because the library has no offsets, truncation or masks and
// approximates the precompiled charsmap with NFKC (see the notes at T5Tokenizer). Pure: no Node APIs.

import { Tokenizer as HFTokenizer } from "@huggingface/tokenizers";
import {
  PrecompiledCharsmap,
  parseSentencePieceModel,
  type SentencePieceModel,
  SentencePieceModelError,
} from "./sentencepiece-proto.ts";
import { truncatedLengths } from "./truncation.ts";
import type { EncodeOptions, Encoding, SpecialTokens, Tokenizer, Truncation } from "./types.ts";

// ---------------------------------------------------------------------------------------------
// tokenizer.json shapes

export interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

export type PrependScheme = "always" | "first" | "never";

export interface MetaspaceJson {
  type: "Metaspace";
  replacement: string;
  prepend_scheme: PrependScheme;
  split: boolean;
}

type TemplateItem =
  | { Sequence: { id: "A" | "B"; type_id: number } }
  | { SpecialToken: { id: string; type_id: number } };

export interface TemplateProcessingJson {
  type: "TemplateProcessing";
  single: TemplateItem[];
  pair: TemplateItem[];
  special_tokens: Record<string, { id: string; ids: number[]; tokens: string[] }>;
}

/** The tokenizer.json transformers saves for a T5 spiece.model (what spieceToTokenizerJson returns). */
export interface T5TokenizerJson {
  version: "1.0";
  truncation: null;
  padding: null;
  added_tokens: AddedTokenJson[];
  normalizer: { type: "Precompiled"; precompiled_charsmap: string } | null;
  pre_tokenizer:
    | { type: "Sequence"; pretokenizers: [{ type: "WhitespaceSplit" }, MetaspaceJson] }
    | MetaspaceJson;
  post_processor: TemplateProcessingJson;
  decoder: MetaspaceJson;
  model: { type: "Unigram"; unk_id: number; vocab: [string, number][]; byte_fallback: boolean };
}

type Json = Record<string, unknown>;

const META = "\u2581";

// ---------------------------------------------------------------------------------------------
// tokenizer_config.json

interface T5Config {
  bos?: string;
  eos: string;
  unk: string;
  pad: string;
  extraIds: number;
  additional: string[];
  cleanUp: boolean;
}

function tokenContent(x: unknown): string | undefined {
  if (typeof x === "string") return x;
  if (x && typeof x === "object" && typeof (x as Json).content === "string")
    return (x as Json).content as string;
  return undefined;
}

function readConfig(config: unknown): T5Config {
  let c: Json = {};
  if (typeof config === "string") {
    try {
      c = JSON.parse(config) as Json;
    } catch (err) {
      throw new Error(`T5 tokenizer: tokenizer_config is not valid JSON (${(err as Error).message})`);
    }
  } else if (config && typeof config === "object") c = config as Json;
  const extraIds = c.extra_ids ?? 100;
  if (typeof extraIds !== "number" || !Number.isInteger(extraIds) || extraIds < 0) {
    throw new Error(
      `T5 tokenizer: extra_ids must be a non-negative integer, got ${JSON.stringify(extraIds)}`,
    );
  }
  const additional: string[] = [];
  for (const key of ["additional_special_tokens", "extra_special_tokens"]) {
    const v = c[key];
    // A list in transformers v4 files; v5 may write extra_special_tokens as a {name: token} map.
    const list = Array.isArray(v) ? v : v && typeof v === "object" ? Object.values(v) : [];
    for (const t of list) {
      const s = tokenContent(t);
      if (s !== undefined && !additional.includes(s)) additional.push(s);
    }
  }
  return {
    bos: tokenContent(c.bos_token),
    eos: tokenContent(c.eos_token) ?? "</s>",
    unk: tokenContent(c.unk_token) ?? "<unk>",
    pad: tokenContent(c.pad_token) ?? "<pad>",
    extraIds,
    additional,
    cleanUp: c.clean_up_tokenization_spaces === true,
  };
}

// ---------------------------------------------------------------------------------------------
// spiece.model -> tokenizer.json

function bytesToBase64(bytes: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode.apply(null, Array.from(bytes.subarray(i, i + 0x8000)));
  }
  return btoa(bin);
}

function base64ToBytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * The tokenizer.json object transformers produces for a T5 SentencePiece model: vocab = pieces
 * (with scores) + `<extra_id_{extra_ids-1}>` … `<extra_id_0>`; control/unknown pieces and the
 * sentinels as special added tokens, user-defined pieces as plain added tokens; Precompiled
 * normalizer from the charsmap; WhitespaceSplit (remove_extra_whitespaces) + Metaspace with prepend
 * scheme "always" (add_dummy_prefix; "never" without it); `$A </s>` / `$A </s> $B </s>`.
 * `config` is tokenizer_config.json (extra_ids, eos/unk/pad tokens, additional special tokens).
 */
export function spieceToTokenizerJson(model: SentencePieceModel, config?: object): T5TokenizerJson {
  const cfg = readConfig(config);
  const { trainerSpec: ts, normalizerSpec: ns } = model;
  if (ts.modelType !== "UNIGRAM") {
    throw new Error(`T5 tokenizer: the SentencePiece model is ${ts.modelType}; T5 needs a UNIGRAM model`);
  }
  if (!ns.escapeWhitespaces || ts.treatWhitespaceAsSuffix) {
    throw new Error(
      "T5 tokenizer: SentencePiece models with escape_whitespaces=false or treat_whitespace_as_suffix=true are not supported",
    );
  }
  const vocab: [string, number][] = model.pieces.map((p) => [p.piece, p.score]);
  const index = new Map<string, number>();
  vocab.forEach(([p], i) => {
    if (!index.has(p)) index.set(p, i);
  });
  const added = new Map<number, AddedTokenJson>();
  const addToken = (id: number, content: string, special: boolean) => {
    const prev = added.get(id);
    if (prev) prev.special ||= special;
    else
      added.set(id, {
        id,
        content,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special,
      });
  };
  model.pieces.forEach((p, id) => {
    if (p.type === "CONTROL" || p.type === "UNKNOWN") addToken(id, p.piece, true);
    else if (p.type === "USER_DEFINED") addToken(id, p.piece, false);
  });
  for (let i = cfg.extraIds - 1; i >= 0; i--) {
    const s = `<extra_id_${i}>`;
    let id = index.get(s);
    if (id === undefined) {
      id = vocab.length;
      vocab.push([s, 0]);
      index.set(s, id);
    }
    addToken(id, s, true);
  }
  // Special tokens named in tokenizer_config: known ones become special; unknown ones get new ids
  // after the model's vocab, as transformers' add_special_tokens does.
  let next = vocab.length;
  for (const s of [cfg.pad, cfg.eos, cfg.unk, ...cfg.additional]) {
    const id = index.get(s) ?? [...added.values()].find((t) => t.content === s)?.id;
    if (id !== undefined) addToken(id, s, true);
    else addToken(next++, s, true);
  }
  const eosId = index.get(cfg.eos);
  if (eosId === undefined)
    throw new Error(`T5 tokenizer: the eos token ${JSON.stringify(cfg.eos)} is not a piece`);
  const metaspace: MetaspaceJson = {
    type: "Metaspace",
    replacement: META,
    prepend_scheme: ns.addDummyPrefix ? "always" : "never",
    split: true,
  };
  const eos = cfg.eos;
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [...added.values()].sort((a, b) => a.id - b.id),
    normalizer:
      ns.precompiledCharsmap.length > 0
        ? { type: "Precompiled", precompiled_charsmap: bytesToBase64(ns.precompiledCharsmap) }
        : null,
    pre_tokenizer: ns.removeExtraWhitespaces
      ? { type: "Sequence", pretokenizers: [{ type: "WhitespaceSplit" }, metaspace] }
      : metaspace,
    post_processor: {
      type: "TemplateProcessing",
      single: [{ Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: eos, type_id: 0 } }],
      pair: [
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: eos, type_id: 0 } },
        { Sequence: { id: "B", type_id: 0 } },
        { SpecialToken: { id: eos, type_id: 0 } },
      ],
      special_tokens: { [eos]: { id: eos, ids: [eosId], tokens: [eos] } },
    },
    decoder: { ...metaspace },
    // HF's T5 converter leaves byte_fallback off even when the model was trained with it.
    model: { type: "Unigram", unk_id: ts.unkId, vocab, byte_fallback: false },
  };
}

// ---------------------------------------------------------------------------------------------
// Aligned text: one entry per code point, each with the [start, end) UTF-16 range of the original
// text it came from, so normalization and pre-tokenization keep offsets.

interface Aligned {
  cps: string[];
  start: number[];
  end: number[];
}

function emptyAligned(): Aligned {
  return { cps: [], start: [], end: [] };
}

/** Code points of `s` (a lone surrogate is one entry), like Array.from. */
function codePoints(s: string): string[] {
  return Array.from(s);
}

function alignedSlice(text: string, from: number, to: number): Aligned {
  const a = emptyAligned();
  let i = from;
  while (i < to) {
    const c = text.charCodeAt(i);
    const w =
      c >= 0xd800 && c <= 0xdbff && i + 1 < to && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
    a.cps.push(text.slice(i, i + w));
    a.start.push(i);
    a.end.push(i + w);
    i += w;
  }
  return a;
}

function sub(a: Aligned, i: number, j: number): Aligned {
  return { cps: a.cps.slice(i, j), start: a.start.slice(i, j), end: a.end.slice(i, j) };
}

function spanOf(a: Aligned, i: number, j: number): [number, number] {
  let s = a.start[i];
  let e = a.end[i];
  for (let k = i + 1; k < j; k++) {
    if (a.start[k] < s) s = a.start[k];
    if (a.end[k] > e) e = a.end[k];
  }
  return [s, e];
}

function pushText(out: Aligned, text: string, s: number, e: number): void {
  for (const c of codePoints(text)) {
    out.cps.push(c);
    out.start.push(s);
    out.end.push(e);
  }
}

function pushUnit(out: Aligned, a: Aligned, k: number): void {
  out.cps.push(a.cps[k]);
  out.start.push(a.start[k]);
  out.end.push(a.end[k]);
}

/** Rust's char::is_whitespace (Unicode White_Space), which HF's WhitespaceSplit and Strip use. */
const WHITE_SPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/;

type Segmenter = { segment(s: string): Iterable<{ segment: string }> };
let graphemeSegmenter: Segmenter | null | undefined;

function getSegmenter(): Segmenter | null {
  if (graphemeSegmenter === undefined) {
    const Ctor = (Intl as unknown as { Segmenter?: new (l?: string, o?: object) => Segmenter }).Segmenter;
    graphemeSegmenter = Ctor ? new Ctor(undefined, { granularity: "grapheme" }) : null;
  }
  return graphemeSegmenter;
}

// Grapheme clusters. Intl.Segmenter is exact but slow, and quadratic on long strings in V8, so it only
// sees short runs of code points that might join (UAX #29): marks and joiners (Extend, SpacingMark,
// ZWJ, and what follows them for GB9c/GB11), Prepend, CR LF, Hangul jamo, regional indicators.
// Everything else is a cluster of one, which is by far the common case.
const EXTEND_LIKE = /^[\p{M}\u0e33\u0eb3\uff9e\uff9f]$/u;

/** Extend, SpacingMark, ZWJ/ZWNJ, emoji modifier or tag: may join the code point before it. */
function isExtendLike(c: string): boolean {
  const cp = c.codePointAt(0)!;
  return (
    cp === 0x200c ||
    cp === 0x200d ||
    (cp >= 0x1f3fb && cp <= 0x1f3ff) ||
    (cp >= 0xe0020 && cp <= 0xe007f) ||
    EXTEND_LIKE.test(c)
  );
}
const PREPEND =
  /^[\u0600-\u0605\u06dd\u070f\u0890\u0891\u08e2\u0d4e\u{110bd}\u{110cd}\u{111c2}\u{111c3}\u{1193f}\u{11941}\u{11a3a}\u{11a84}-\u{11a89}\u{11d46}\u{11f02}]$/u;
const MAX_SEGMENTER_RUN = 512;

function isJamo(cp: number): boolean {
  return (cp >= 0x1100 && cp <= 0x11ff) || (cp >= 0xa960 && cp <= 0xa97f) || (cp >= 0xd7b0 && cp <= 0xd7ff);
}

function isHangul(cp: number): boolean {
  return isJamo(cp) || (cp >= 0xac00 && cp <= 0xd7a3);
}

/** False only where UAX #29 always breaks between code points `a` and `b`. */
function mayJoin(a: string, b: string): boolean {
  const ca = a.codePointAt(0)!;
  const cb = b.codePointAt(0)!;
  if (ca < 0x300 && cb < 0x300) return ca === 0x0d && cb === 0x0a;
  if (cb >= 0x300 && isExtendLike(b)) return true;
  if (ca >= 0x300 && (isExtendLike(a) || PREPEND.test(a))) return true;
  if (isHangul(ca) && isHangul(cb)) return isJamo(ca) || isJamo(cb);
  return ca >= 0x1f1e6 && ca <= 0x1f1ff && cb >= 0x1f1e6 && cb <= 0x1f1ff;
}

/** Extended grapheme clusters of `a` as [from, to) ranges of code point indices. */
function graphemes(a: Aligned): [number, number][] {
  const out: [number, number][] = [];
  const n = a.cps.length;
  let i = 0;
  while (i < n) {
    let j = i + 1;
    while (j < n && mayJoin(a.cps[j - 1], a.cps[j])) j++;
    if (j - i === 1) out.push([i, j]);
    else
      for (let k = i; k < j; k += MAX_SEGMENTER_RUN) splitRun(a, k, Math.min(j, k + MAX_SEGMENTER_RUN), out);
    i = j;
  }
  return out;
}

/** Clusters of the code points [i, j) of `a`, which may join each other. */
function splitRun(a: Aligned, i: number, j: number, out: [number, number][]): void {
  const seg = getSegmenter();
  if (seg) {
    let k = i;
    for (const { segment } of seg.segment(a.cps.slice(i, j).join(""))) {
      const from = k;
      let consumed = 0;
      while (consumed < segment.length && k < j) consumed += a.cps[k++].length;
      if (k > from) out.push([from, k]);
    }
    if (k < j) out.push([k, j]);
    return;
  }
  // Without Intl.Segmenter: a code point with the marks and joiners that follow it.
  let from = i;
  for (let k = i + 1; k <= j; k++) {
    const joined =
      k < j && (isExtendLike(a.cps[k]) || a.cps[k - 1] === "\u200d" || a.cps[k - 1] + a.cps[k] === "\r\n");
    if (!joined) {
      out.push([from, k]);
      from = k;
    }
  }
}

function utf8Length(s: string): number {
  let n = 0;
  for (const c of s) {
    const cp = c.codePointAt(0)!;
    n += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// Normalizers (the tokenizer.json kinds T5-family files use), offset-preserving.

type Normalize = (a: Aligned) => Aligned;

class UnsupportedError extends Error {}

function unsupported(what: string): never {
  throw new UnsupportedError(`T5 tokenizer: unsupported ${what} in tokenizer.json`);
}

/** HF tokenizers' Precompiled: per grapheme (< 6 UTF-8 bytes) first, else per code point. */
function precompiledNormalizer(charsmap: PrecompiledCharsmap): Normalize {
  return (a) => {
    const out = emptyAligned();
    for (const [i, j] of graphemes(a)) {
      if (j - i > 1) {
        const g = a.cps.slice(i, j).join("");
        if (utf8Length(g) < 6) {
          const norm = charsmap.transform(g);
          if (norm !== null) {
            const [s, e] = spanOf(a, i, j);
            pushText(out, norm, s, e);
            continue;
          }
        }
      }
      for (let k = i; k < j; k++) {
        const norm = charsmap.transform(a.cps[k]);
        if (norm === null) pushUnit(out, a, k);
        else pushText(out, norm, a.start[k], a.end[k]);
      }
    }
    return out;
  };
}

function unicodeNormalizer(form: "NFC" | "NFD" | "NFKC" | "NFKD"): Normalize {
  return (a) => {
    const out = emptyAligned();
    for (const [i, j] of graphemes(a)) {
      const g = a.cps.slice(i, j).join("");
      const norm = g.normalize(form);
      if (norm === g) for (let k = i; k < j; k++) pushUnit(out, a, k);
      else {
        const [s, e] = spanOf(a, i, j);
        pushText(out, norm, s, e);
      }
    }
    return out;
  };
}

function replaceNormalizer(pattern: RegExp, content: string): Normalize {
  return (a) => {
    const text = a.cps.join("");
    // UTF-16 position -> code point index.
    const at: number[] = [];
    for (let k = 0; k < a.cps.length; k++) for (let u = 0; u < a.cps[k].length; u++) at.push(k);
    at.push(a.cps.length);
    const out = emptyAligned();
    let k = 0;
    pattern.lastIndex = 0;
    for (const m of text.matchAll(pattern)) {
      if (m[0].length === 0) continue;
      const i = at[m.index];
      const j = at[m.index + m[0].length];
      if (i < k) continue;
      while (k < i) pushUnit(out, a, k++);
      const [s, e] = spanOf(a, i, j);
      pushText(out, content, s, e);
      k = j;
    }
    while (k < a.cps.length) pushUnit(out, a, k++);
    return out;
  };
}

function buildNormalizer(cfg: unknown): Normalize | null {
  if (cfg === null || cfg === undefined) return null;
  const c = cfg as Json;
  switch (c.type) {
    case "Precompiled": {
      const b64 = c.precompiled_charsmap;
      if (b64 === null || b64 === undefined || b64 === "") return null;
      if (typeof b64 !== "string")
        unsupported("Precompiled normalizer without a base64 precompiled_charsmap");
      let bytes: Uint8Array;
      try {
        bytes = base64ToBytes(b64);
      } catch {
        throw new Error(
          "T5 tokenizer: the Precompiled normalizer's precompiled_charsmap is not valid base64",
        );
      }
      let charsmap: PrecompiledCharsmap;
      try {
        charsmap = new PrecompiledCharsmap(bytes);
      } catch (err) {
        throw new Error(`T5 tokenizer: tokenizer.json's ${(err as Error).message}`);
      }
      return precompiledNormalizer(charsmap);
    }
    case "Sequence": {
      const steps = ((c.normalizers as unknown[]) ?? []).map(buildNormalizer).filter((n) => n !== null);
      return (a) => steps.reduce((acc, step) => step(acc), a);
    }
    case "Strip": {
      const left = c.strip_left !== false;
      const right = c.strip_right !== false;
      return (a) => {
        let i = 0;
        let j = a.cps.length;
        if (left) while (i < j && WHITE_SPACE.test(a.cps[i])) i++;
        if (right) while (j > i && WHITE_SPACE.test(a.cps[j - 1])) j--;
        return sub(a, i, j);
      };
    }
    case "Replace": {
      const p = (c.pattern ?? {}) as Json;
      const content = typeof c.content === "string" ? c.content : "";
      let re: RegExp;
      if (typeof p.String === "string")
        re = new RegExp(p.String.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "gu");
      else if (typeof p.Regex === "string") {
        try {
          re = new RegExp(p.Regex, "gu");
        } catch {
          unsupported(`Replace regex ${JSON.stringify(p.Regex)}`);
        }
      } else unsupported("Replace normalizer pattern");
      return replaceNormalizer(re, content);
    }
    case "NFC":
    case "NFD":
    case "NFKC":
    case "NFKD":
      return unicodeNormalizer(c.type);
    case "Lowercase":
      return (a) => {
        const out = emptyAligned();
        for (let k = 0; k < a.cps.length; k++) pushText(out, a.cps[k].toLowerCase(), a.start[k], a.end[k]);
        return out;
      };
    case "Prepend": {
      const prefix = typeof c.prepend === "string" ? c.prepend : "";
      return (a) => {
        if (a.cps.length === 0 || prefix === "") return a;
        const out = emptyAligned();
        pushText(out, prefix, a.start[0], a.end[0]);
        for (let k = 0; k < a.cps.length; k++) pushUnit(out, a, k);
        return out;
      };
    }
    default:
      unsupported(`normalizer ${JSON.stringify(c.type)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Pre-tokenizers: WhitespaceSplit and Metaspace (with its split and prepend scheme).

type PreTokenize = (words: Aligned[]) => Aligned[];

function whitespaceSplit(words: Aligned[]): Aligned[] {
  const out: Aligned[] = [];
  for (const w of words) {
    let from = -1;
    for (let k = 0; k <= w.cps.length; k++) {
      const ws = k === w.cps.length || WHITE_SPACE.test(w.cps[k]);
      if (ws) {
        if (from >= 0) out.push(sub(w, from, k));
        from = -1;
      } else if (from < 0) from = k;
    }
  }
  return out;
}

function readPrependScheme(c: Json): PrependScheme {
  const scheme = c.prepend_scheme;
  if (scheme === "always" || scheme === "first" || scheme === "never") return scheme;
  if (scheme !== undefined && scheme !== null)
    unsupported(`Metaspace prepend_scheme ${JSON.stringify(scheme)}`);
  return c.add_prefix_space === false ? "never" : "always"; // files written before prepend_scheme
}

function readReplacement(c: Json): string {
  const r = c.replacement ?? META;
  if (typeof r !== "string" || codePoints(r).length !== 1)
    unsupported(`Metaspace replacement ${JSON.stringify(r)}`);
  return r;
}

/** HF's Metaspace: ' ' -> replacement, prepend it per the scheme (aligned to the first character, as
 * HF does), then split before each replacement (MergedWithNext). */
function metaspace(c: Json): PreTokenize {
  const rep = readReplacement(c);
  const scheme = readPrependScheme(c);
  const split = c.split !== false;
  return (words) => {
    const out: Aligned[] = [];
    for (const w of words) {
      if (w.cps.length === 0) continue;
      const m = emptyAligned();
      const prepend =
        w.cps[0] !== rep &&
        w.cps[0] !== " " &&
        (scheme === "always" || (scheme === "first" && w.start[0] === 0));
      if (prepend) pushText(m, rep, w.start[0], w.end[0]);
      for (let k = 0; k < w.cps.length; k++) {
        if (w.cps[k] === " ") pushText(m, rep, w.start[k], w.end[k]);
        else pushUnit(m, w, k);
      }
      if (!split) {
        out.push(m);
        continue;
      }
      let from = 0;
      for (let k = 1; k <= m.cps.length; k++) {
        if (k === m.cps.length || m.cps[k] === rep) {
          out.push(sub(m, from, k));
          from = k;
        }
      }
    }
    return out;
  };
}

function buildPreTokenizer(cfg: unknown): PreTokenize[] {
  if (cfg === null || cfg === undefined) return [];
  const c = cfg as Json;
  switch (c.type) {
    case "Sequence":
      return ((c.pretokenizers as unknown[]) ?? []).flatMap(buildPreTokenizer);
    case "WhitespaceSplit":
      return [whitespaceSplit];
    case "Metaspace":
      return [metaspace(c)];
    default:
      unsupported(`pre_tokenizer ${JSON.stringify(c.type)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Added tokens (sentinels, </s>, …): found in the raw text by leftmost-longest match, like HF.

interface AddedToken {
  id: number;
  content: string;
  special: boolean;
  singleWord: boolean;
  lstrip: boolean;
  rstrip: boolean;
}

interface TrieNode {
  next: Map<number, TrieNode>;
  token?: AddedToken;
}

const WORD_CHAR = /[\p{L}\p{N}_]/u;

class AddedMatcher {
  private readonly root: TrieNode = { next: new Map() };
  readonly empty: boolean;

  constructor(tokens: { key: string; token: AddedToken }[]) {
    for (const { key, token } of tokens) {
      if (key === "") continue;
      let node = this.root;
      for (let i = 0; i < key.length; i++) {
        const c = key.charCodeAt(i);
        let n = node.next.get(c);
        if (!n) {
          n = { next: new Map() };
          node.next.set(c, n);
        }
        node = n;
      }
      node.token ??= token;
    }
    this.empty = this.root.next.size === 0;
  }

  /** Non-overlapping matches in `s` as [start, end, token], UTF-16 positions. */
  find(s: string): [number, number, AddedToken][] {
    const out: [number, number, AddedToken][] = [];
    if (this.empty) return out;
    let consumed = 0;
    let i = 0;
    while (i < s.length) {
      let node: TrieNode | undefined = this.root;
      let best: AddedToken | undefined;
      let bestEnd = i;
      for (let j = i; j < s.length; j++) {
        node = node.next.get(s.charCodeAt(j));
        if (!node) break;
        if (node.token) {
          best = node.token;
          bestEnd = j + 1;
        }
      }
      if (!best) {
        i++;
        continue;
      }
      let start = i;
      let end = bestEnd;
      if (best.singleWord) {
        const before = start > 0 && WORD_CHAR.test(s[start - 1]);
        const after = end < s.length && WORD_CHAR.test(s[end]);
        if (before || after) {
          i++;
          continue;
        }
      }
      if (best.lstrip) while (start > consumed && WHITE_SPACE.test(s[start - 1])) start--;
      if (best.rstrip) while (end < s.length && WHITE_SPACE.test(s[end])) end++;
      out.push([start, end, best]);
      consumed = end;
      i = end;
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// The tokenizer

type Post =
  | { kind: "seq"; seq: 0 | 1; typeId: number }
  | { kind: "special"; ids: number[]; tokens: string[]; typeId: number };

interface Piece {
  ids: number[];
  tokens: string[];
  offsets: [number, number][];
}

/** The part of @huggingface/tokenizers' Unigram model used here (its types do not export the class). */
interface UnigramLattice {
  tokenize(word: string): string[];
}

const TRUNCATIONS: readonly Truncation[] = ["longest_first", "only_first", "only_second"];

function cut(p: Piece, n: number): void {
  p.ids.length = n;
  p.tokens.length = n;
  p.offsets.length = n;
}

function cleanUpTokenization(text: string): string {
  return text
    .replaceAll(" .", ".")
    .replaceAll(" ?", "?")
    .replaceAll(" !", "!")
    .replaceAll(" ,", ",")
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}

/**
 * A T5 (Unigram) tokenizer following HF tokenizers (Rust), which made the goldens. Where
 * @huggingface/tokenizers 0.2.0 differs, this class does the step itself:
 * - Precompiled: the library ignores the charsmap and approximates it with NFKC plus hand-made
 *   rules (it turns U+200D ZERO WIDTH JOINER into a space, splitting emoji ZWJ sequences; it works
 *   per string, not per grapheme as HF does); here the charsmap trie is read and applied.
 * - WhitespaceSplit: the library splits on JS `\s` (includes U+FEFF, misses U+0085); HF uses
 *   Unicode White_Space.
 * - Metaspace: the library ignores `split`; its decoder drops only the first leading space where HF
 *   drops every `▁` of the first token.
 * - Unigram: the library's fuse_unk re-hashes the growing fused string (quadratic: 16k unknown
 *   characters in a row took ~0.7 s); unknown pieces are fused here in linear time. Its
 *   byte_fallback is ignored; done here on unknown pieces.
 * - encode has no offsets, truncation, special-token mask or sequence ids; decode throws on an
 *   empty id list, maps unknown ids to <unk> (HF skips them) and cleans up spaces by default (HF
 *   and transformers v5 do not).
 * Offsets are UTF-16 [start, end) into the text (so text.slice works); a `▁` added in front of a
 * word takes the span of the word's first character, as in HF.
 */
class T5Tokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly special: SpecialTokens;
  private readonly hf: HFTokenizer;
  private readonly unigram: UnigramLattice;
  private readonly unkToken: string;
  private readonly normalize: Normalize | null;
  private readonly preTokenizers: PreTokenize[];
  private readonly rawMatcher: AddedMatcher;
  private readonly normMatcher: AddedMatcher;
  private readonly specialIds = new Set<number>();
  private readonly single: Post[] | null;
  private readonly pair: Post[] | null;
  private readonly unkId: number;
  private readonly byteFallback: boolean;
  private readonly decodeTokens: (tokens: string[]) => string;
  private readonly cleanUp: boolean;
  private readonly cache = new Map<string, string[]>();

  constructor(json: Json, config: unknown) {
    const cfg = readConfig(config);
    const model = json.model as Json | undefined;
    if (!model || typeof model !== "object") throw new Error("T5 tokenizer: tokenizer.json has no model");
    const type = model.type ?? (Array.isArray(model.vocab) ? "Unigram" : undefined);
    if (type !== "Unigram") {
      throw new Error(`T5 tokenizer: tokenizer.json has a ${String(type)} model; T5 uses a Unigram model`);
    }
    const vocab = model.vocab;
    if (!Array.isArray(vocab) || vocab.length === 0)
      throw new Error("T5 tokenizer: the Unigram vocab is empty");
    if (typeof model.unk_id !== "number" || model.unk_id < 0 || model.unk_id >= vocab.length) {
      throw new Error(
        `T5 tokenizer: the Unigram model's unk_id ${String(model.unk_id)} is not a vocab index`,
      );
    }
    this.unkId = model.unk_id;
    this.byteFallback = model.byte_fallback === true;
    this.normalize = buildNormalizer(json.normalizer);
    this.preTokenizers = buildPreTokenizer(json.pre_tokenizer);

    const addedJson = Array.isArray(json.added_tokens) ? (json.added_tokens as Json[]) : [];
    // The library builds the vocab (with added tokens), the Unigram lattice and non-Metaspace
    // decoders; normalization, pre-tokenization and post-processing are done here.
    const decoderCfg = (json.decoder ?? null) as Json | null;
    this.hf = new HFTokenizer(
      {
        model,
        added_tokens: addedJson,
        normalizer: null,
        pre_tokenizer: null,
        post_processor: null,
        decoder: decoderCfg && decoderCfg.type !== "Metaspace" ? decoderCfg : null,
      },
      { eos_token: cfg.eos },
    );
    const hfModel = this.hf.model;
    if (!hfModel) throw new Error("T5 tokenizer: @huggingface/tokenizers built no model");
    // The library's Unigram.tokenize: the Viterbi pieces of one word, before unknowns are fused.
    const lattice = hfModel as unknown as Partial<UnigramLattice>;
    if (typeof lattice.tokenize !== "function") {
      throw new Error("T5 tokenizer: @huggingface/tokenizers built no Unigram model");
    }
    this.unigram = lattice as UnigramLattice;
    this.unkToken = this.hf.id_to_token(this.unkId) ?? "<unk>";

    const raw: { key: string; token: AddedToken }[] = [];
    const norm: { key: string; token: AddedToken }[] = [];
    let maxId = vocab.length - 1;
    for (const t of addedJson) {
      if (typeof t.id !== "number" || typeof t.content !== "string") continue;
      const token: AddedToken = {
        id: t.id,
        content: t.content,
        special: t.special === true,
        singleWord: t.single_word === true,
        lstrip: t.lstrip === true,
        rstrip: t.rstrip === true,
      };
      if (token.special) this.specialIds.add(token.id);
      maxId = Math.max(maxId, token.id);
      const normalized = t.normalized ?? !token.special;
      if (normalized && this.normalize) {
        norm.push({ key: this.normalize(alignedSlice(t.content, 0, t.content.length)).cps.join(""), token });
      } else raw.push({ key: t.content, token });
    }
    this.rawMatcher = new AddedMatcher(raw);
    this.normMatcher = new AddedMatcher(norm);
    this.vocabSize = maxId + 1;

    [this.single, this.pair] = this.readPostProcessor(json.post_processor);

    const dec = decoderCfg;
    if (dec && dec.type === "Metaspace") {
      const rep = readReplacement(dec);
      const dropFirst = readPrependScheme(dec) !== "never";
      this.decodeTokens = (tokens) => {
        let s = "";
        for (let i = 0; i < tokens.length; i++)
          s += tokens[i].replaceAll(rep, i === 0 && dropFirst ? "" : " ");
        return s;
      };
    } else if (this.hf.decoder) {
      const d = this.hf.decoder;
      this.decodeTokens = (tokens) => d(tokens);
    } else this.decodeTokens = (tokens) => tokens.join(" ");
    this.cleanUp = cfg.cleanUp;

    const special: SpecialTokens = {};
    const pad = this.tokenToId(cfg.pad);
    const eos = this.tokenToId(cfg.eos);
    const unk = this.idToToken(this.unkId) === cfg.unk ? this.unkId : (this.tokenToId(cfg.unk) ?? this.unkId);
    if (pad !== undefined) special.pad = pad;
    special.unk = unk;
    if (eos !== undefined) special.eos = eos;
    const bos = cfg.bos === undefined ? undefined : this.tokenToId(cfg.bos);
    if (bos !== undefined) special.bos = bos;
    this.special = Object.freeze(special);
  }

  private readPostProcessor(cfg: unknown): [Post[] | null, Post[] | null] {
    if (cfg === null || cfg === undefined) return [null, null];
    const c = cfg as Json;
    if (c.type !== "TemplateProcessing") unsupported(`post_processor ${JSON.stringify(c.type)}`);
    const specials = (c.special_tokens ?? {}) as Record<string, Json>;
    const read = (items: unknown): Post[] => {
      if (!Array.isArray(items)) unsupported("TemplateProcessing template");
      return items.map((item: Json): Post => {
        if (item.Sequence) {
          const s = item.Sequence as Json;
          return { kind: "seq", seq: s.id === "B" ? 1 : 0, typeId: Number(s.type_id ?? 0) };
        }
        const t = item.SpecialToken as Json | undefined;
        if (!t || typeof t.id !== "string") unsupported("TemplateProcessing item");
        const sp = specials[t.id];
        let ids = Array.isArray(sp?.ids) ? (sp.ids as number[]) : undefined;
        let tokens = Array.isArray(sp?.tokens) ? (sp.tokens as string[]) : undefined;
        if (!ids || !tokens) {
          const id = this.tokenToId(t.id);
          if (id === undefined) {
            throw new Error(`T5 tokenizer: template token ${JSON.stringify(t.id)} is not in the vocab`);
          }
          ids = [id];
          tokens = [t.id];
        }
        return { kind: "special", ids, tokens, typeId: Number(t.type_id ?? 0) };
      });
    };
    return [read(c.single), read(c.pair)];
  }

  tokenToId(token: string): number | undefined {
    return this.hf.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    if (!Number.isInteger(id) || id < 0) return undefined;
    return this.hf.id_to_token(id);
  }

  /** ids, tokens and offsets of one text, before post-processing. */
  private encodeText(text: string): Piece {
    const out: Piece = { ids: [], tokens: [], offsets: [] };
    let pos = 0;
    const pushAdded = (t: AddedToken, s: number, e: number) => {
      out.ids.push(t.id);
      out.tokens.push(t.content);
      out.offsets.push([s, e]);
    };
    for (const [s, e, token] of this.rawMatcher.find(text)) {
      if (s > pos) this.encodeSection(alignedSlice(text, pos, s), out, pushAdded);
      pushAdded(token, s, e);
      pos = e;
    }
    if (pos < text.length) this.encodeSection(alignedSlice(text, pos, text.length), out, pushAdded);
    return out;
  }

  private encodeSection(
    a: Aligned,
    out: Piece,
    pushAdded: (t: AddedToken, s: number, e: number) => void,
  ): void {
    const n = this.normalize ? this.normalize(a) : a;
    if (n.cps.length === 0) return;
    if (this.normMatcher.empty) {
      this.encodeWords(n, out);
      return;
    }
    const joined = n.cps.join("");
    const at: number[] = [];
    for (let k = 0; k < n.cps.length; k++) for (let u = 0; u < n.cps[k].length; u++) at.push(k);
    at.push(n.cps.length);
    let k = 0;
    for (const [s, e, token] of this.normMatcher.find(joined)) {
      const i = at[s];
      const j = at[e];
      if (i > k) this.encodeWords(sub(n, k, i), out);
      const [os, oe] = spanOf(n, i, j);
      pushAdded(token, os, oe);
      k = j;
    }
    if (k < n.cps.length) this.encodeWords(sub(n, k, n.cps.length), out);
  }

  private encodeWords(section: Aligned, out: Piece): void {
    let words = [section];
    for (const pre of this.preTokenizers) words = pre(words);
    for (const w of words) if (w.cps.length > 0) this.encodeWord(w, out);
  }

  /** Raw pieces of one word from the library's Unigram lattice (unknown characters not yet fused). */
  private modelPieces(word: string): string[] {
    let pieces = this.cache.get(word);
    if (!pieces) {
      pieces = this.unigram.tokenize(word);
      if (word.length <= 256) {
        if (this.cache.size >= 20000) this.cache.clear();
        this.cache.set(word, pieces);
      }
    }
    return pieces;
  }

  private encodeWord(w: Aligned, out: Piece): void {
    const pieces = this.modelPieces(w.cps.join(""));
    let k = 0;
    // A run of unknown pieces [unkFrom, k) is fused into one <unk> (HF's fuse_unk), done here in
    // linear time: the library's fuse_unk re-hashes the growing string and is quadratic.
    let unkFrom = -1;
    let unkText = "";
    const flushUnk = () => {
      if (unkFrom < 0) return;
      const span = spanOf(w, unkFrom, k);
      if (!(this.byteFallback && this.pushBytes(unkText, span, out))) {
        out.ids.push(this.unkId);
        out.tokens.push(this.unkToken);
        out.offsets.push(span);
      }
      unkFrom = -1;
      unkText = "";
    };
    for (const piece of pieces) {
      // Map the piece back to code points by UTF-16 length (robust to surrogate halves that met).
      const from = k;
      let len = 0;
      while (len < piece.length && k < w.cps.length) len += w.cps[k++].length;
      if (k === from) continue;
      const id = this.tokenToId(piece);
      if (id === undefined || id === this.unkId) {
        if (unkFrom < 0) unkFrom = from;
        unkText += piece;
        continue;
      }
      const end = k;
      k = from;
      flushUnk();
      k = end;
      out.ids.push(id);
      out.tokens.push(piece);
      out.offsets.push(spanOf(w, from, k));
    }
    if (k < w.cps.length) {
      // The model returned fewer characters than it was given: never expected, but keep them as unk.
      if (unkFrom < 0) unkFrom = k;
      unkText += w.cps.slice(k).join("");
      k = w.cps.length;
    }
    flushUnk();
  }

  private pushBytes(piece: string, span: [number, number], out: Piece): boolean {
    if (/[\ud800-\udfff]/u.test(piece)) return false;
    const bytes = new TextEncoder().encode(piece);
    const ids: number[] = [];
    const toks: string[] = [];
    for (const b of bytes) {
      const tok = `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;
      const id = this.tokenToId(tok);
      if (id === undefined) return false;
      ids.push(id);
      toks.push(tok);
    }
    for (let i = 0; i < ids.length; i++) {
      out.ids.push(ids[i]);
      out.tokens.push(toks[i]);
      out.offsets.push([span[0], span[1]]);
    }
    return true;
  }

  encode(text: string, pair?: string, options: EncodeOptions = {}): Encoding {
    if (typeof text !== "string") throw new TypeError("T5 tokenizer: encode expects a string");
    if (pair !== undefined && pair !== null && typeof pair !== "string") {
      throw new TypeError("T5 tokenizer: the pair must be a string");
    }
    const hasPair = typeof pair === "string";
    const addSpecial = options.addSpecialTokens ?? true;
    const truncation = options.truncation ?? "longest_first";
    if (!TRUNCATIONS.includes(truncation)) {
      throw new RangeError(`T5 tokenizer: unknown truncation ${JSON.stringify(truncation)}`);
    }
    const maxLength = options.maxLength;
    if (maxLength !== undefined && (!Number.isInteger(maxLength) || maxLength < 0)) {
      throw new RangeError(
        `T5 tokenizer: maxLength must be a non-negative integer, got ${String(maxLength)}`,
      );
    }
    const seqs: Piece[] = [this.encodeText(text)];
    if (hasPair) seqs.push(this.encodeText(pair));
    const template = addSpecial ? (hasPair ? this.pair : this.single) : null;

    if (maxLength !== undefined) {
      let added = 0;
      for (const item of template ?? []) if (item.kind === "special") added += item.ids.length;
      // Shared with the BERT tokenizer: HF semantics, TruncationError when impossible.
      const [keepA, keepB] = truncatedLengths(
        seqs[0].ids.length,
        hasPair ? seqs[1].ids.length : null,
        maxLength,
        added,
        truncation,
      );
      cut(seqs[0], keepA);
      if (keepB !== null) cut(seqs[1], keepB);
    }

    const enc: Encoding = {
      ids: [],
      tokens: [],
      typeIds: [],
      attentionMask: [],
      offsets: [],
      specialTokensMask: [],
      sequenceIds: [],
    };
    const pushSeq = (seq: 0 | 1, typeId: number) => {
      const p = seqs[seq];
      if (!p) return;
      for (let i = 0; i < p.ids.length; i++) {
        enc.ids.push(p.ids[i]);
        enc.tokens.push(p.tokens[i]);
        enc.typeIds.push(typeId);
        enc.attentionMask.push(1);
        enc.offsets.push(p.offsets[i]);
        enc.specialTokensMask.push(0);
        enc.sequenceIds.push(seq);
      }
    };
    if (template) {
      for (const item of template) {
        if (item.kind === "seq") pushSeq(item.seq, item.typeId);
        else {
          for (let i = 0; i < item.ids.length; i++) {
            enc.ids.push(item.ids[i]);
            enc.tokens.push(item.tokens[i]);
            enc.typeIds.push(item.typeId);
            enc.attentionMask.push(1);
            enc.offsets.push([0, 0]);
            enc.specialTokensMask.push(1);
            enc.sequenceIds.push(null);
          }
        }
      }
    } else {
      pushSeq(0, 0);
      pushSeq(1, 1);
    }
    return enc;
  }

  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    const skip = options.skipSpecialTokens === true;
    const tokens: string[] = [];
    for (const id of ids) {
      const tok = this.idToToken(id);
      if (tok === undefined) continue; // as HF: ids outside the vocab are dropped
      if (skip && this.specialIds.has(id)) continue;
      tokens.push(tok);
    }
    const text = this.decodeTokens(tokens);
    return this.cleanUp ? cleanUpTokenization(text) : text;
  }
}

// ---------------------------------------------------------------------------------------------
// Entry points

/**
 * The T5 tokenizer from a tokenizer.json (text or parsed object) and optionally its
 * tokenizer_config.json (object). Throws a clear error for a non-Unigram model or for pipeline
 * components T5 files do not use.
 */
export function t5TokenizerFromJson(json: string | object, config?: object): Tokenizer {
  let obj: unknown = json;
  if (typeof json === "string") {
    try {
      obj = JSON.parse(json);
    } catch (err) {
      throw new Error(`T5 tokenizer: tokenizer.json is not valid JSON (${(err as Error).message})`);
    }
  }
  if (!obj || typeof obj !== "object" || Array.isArray(obj)) {
    throw new Error("T5 tokenizer: tokenizer.json must be a JSON object");
  }
  return new T5Tokenizer(obj as Json, config);
}

/**
 * The T5 tokenizer from the bytes of a bare spiece.model (SentencePiece ModelProto) and optionally
 * tokenizer_config.json (object). `fileName` only names the file in errors: a corrupt or truncated
 * model throws SentencePieceModelError saying which file and where.
 */
export function t5TokenizerFromSpiece(bytes: Uint8Array, config?: object, fileName?: string): Tokenizer {
  const model = parseSentencePieceModel(bytes, fileName);
  let json: T5TokenizerJson;
  try {
    json = spieceToTokenizerJson(model, config);
  } catch (err) {
    if (fileName && err instanceof Error && !(err instanceof SentencePieceModelError)) {
      err.message = `${err.message} (in ${fileName})`;
    }
    throw err;
  }
  return new T5Tokenizer(json as unknown as Json, config);
}

export { SentencePieceModelError } from "./sentencepiece-proto.ts";
