// Reads SentencePiece's binary formats without a protobuf library: the `spiece.model` ModelProto
// (pieces, trainer_spec, normalizer_spec; hand-written varint/length-delimited decoding, proto2
// defaults) and the `precompiled_charsmap` blob inside it (a Darts double-array trie plus a string
// pool), which the T5 tokenizer uses as its normalizer. Pure: no Node APIs, runs in Workers.

/** SentencePiece piece types (ModelProto.SentencePiece.Type). */
export type PieceType = "NORMAL" | "UNKNOWN" | "CONTROL" | "USER_DEFINED" | "UNUSED" | "BYTE";

/** Segmentation algorithms (TrainerSpec.ModelType). */
export type ModelType = "UNIGRAM" | "BPE" | "WORD" | "CHAR";

export interface SentencePiece {
  piece: string;
  score: number;
  type: PieceType;
}

/** The TrainerSpec fields a tokenizer needs; proto2 defaults apply to absent fields. */
export interface TrainerSpec {
  modelType: ModelType;
  vocabSize: number;
  unkId: number;
  bosId: number;
  eosId: number;
  padId: number;
  unkPiece: string;
  bosPiece: string;
  eosPiece: string;
  padPiece: string;
  unkSurface: string;
  byteFallback: boolean;
  splitDigits: boolean;
  treatWhitespaceAsSuffix: boolean;
  allowWhitespaceOnlyPieces: boolean;
  controlSymbols: string[];
  userDefinedSymbols: string[];
}

export interface NormalizerSpec {
  name: string;
  /** Empty when the model does no normalization (e.g. the "identity" rule). */
  precompiledCharsmap: Uint8Array;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
  normalizationRuleTsv: string;
}

export interface SentencePieceModel {
  pieces: SentencePiece[];
  trainerSpec: TrainerSpec;
  normalizerSpec: NormalizerSpec;
  /** Present only in models trained with a denormalization rule. */
  denormalizerSpec?: NormalizerSpec;
}

/** A spiece.model (or charsmap) that cannot be read; the message names the file when known. */
export class SentencePieceModelError extends Error {
  override name = "SentencePieceModelError";
}

const PIECE_TYPES: Record<number, PieceType> = {
  1: "NORMAL",
  2: "UNKNOWN",
  3: "CONTROL",
  4: "USER_DEFINED",
  5: "UNUSED",
  6: "BYTE",
};
const MODEL_TYPES: Record<number, ModelType> = { 1: "UNIGRAM", 2: "BPE", 3: "WORD", 4: "CHAR" };

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Thrown inside the reader; turned into a SentencePieceModelError naming the file. */
class ProtoError extends Error {}

/** Cursor over one protobuf message (a sub-range of the file's bytes). */
class Reader {
  pos: number;
  constructor(
    readonly bytes: Uint8Array,
    readonly view: DataView,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** Reads a varint as [low 32 bits, high 32 bits] (both unsigned). */
  varint64(what: string): [number, number] {
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ProtoError(`truncated varint (${what}) at byte ${this.pos}`);
      const b = this.bytes[this.pos++];
      if (i < 4) lo |= (b & 0x7f) << (7 * i);
      else if (i === 4) {
        lo |= (b & 0x0f) << 28;
        hi |= (b & 0x7f) >>> 4;
      } else hi |= (b & 0x7f) << (7 * i - 32);
      if ((b & 0x80) === 0) return [lo >>> 0, hi >>> 0];
    }
    throw new ProtoError(`varint longer than 10 bytes (${what}) at byte ${this.pos - 10}`);
  }

  /** A varint that must fit an unsigned 32-bit value (tags, lengths). */
  uint32(what: string): number {
    const [lo, hi] = this.varint64(what);
    if (hi !== 0) throw new ProtoError(`${what} out of range at byte ${this.pos}`);
    return lo;
  }

  /** int32 fields: negative values are sign-extended to 64 bits on the wire. */
  int32(what: string): number {
    return this.varint64(what)[0] | 0;
  }

  uint64(what: string): number {
    const [lo, hi] = this.varint64(what);
    return hi * 2 ** 32 + lo;
  }

  bool(what: string): boolean {
    const [lo, hi] = this.varint64(what);
    return lo !== 0 || hi !== 0;
  }

  float(what: string): number {
    if (this.pos + 4 > this.end) throw new ProtoError(`truncated float (${what}) at byte ${this.pos}`);
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  /** Returns [start, end) of a length-delimited field's payload and skips it. */
  lengthDelimited(what: string): [number, number] {
    const at = this.pos;
    const len = this.uint32(`length of ${what}`);
    const start = this.pos;
    if (len > this.end - start) {
      throw new ProtoError(
        `truncated ${what} at byte ${at}: needs ${len} bytes, ${this.end - start} left in the enclosing message`,
      );
    }
    this.pos = start + len;
    return [start, start + len];
  }

  bytesField(what: string): Uint8Array {
    const [s, e] = this.lengthDelimited(what);
    return this.bytes.slice(s, e);
  }

  string(what: string): string {
    const [s, e] = this.lengthDelimited(what);
    try {
      return utf8.decode(this.bytes.subarray(s, e));
    } catch {
      throw new ProtoError(`${what} at byte ${s} is not valid UTF-8`);
    }
  }

  sub(what: string): Reader {
    const [s, e] = this.lengthDelimited(what);
    return new Reader(this.bytes, this.view, s, e);
  }

  /** Reads a field key; returns [field number, wire type]. */
  tag(context: string): [number, number] {
    const at = this.pos;
    const key = this.uint32(`field key in ${context}`);
    const field = key >>> 3;
    const wire = key & 7;
    if (field === 0) throw new ProtoError(`invalid field number 0 in ${context} at byte ${at}`);
    return [field, wire];
  }

  /** Skips a field this parser does not use. */
  skip(wire: number, field: number, context: string): void {
    const what = `field ${field} of ${context}`;
    switch (wire) {
      case WIRE_VARINT:
        this.varint64(what);
        return;
      case WIRE_FIXED64:
        this.advance(8, what);
        return;
      case WIRE_LEN:
        this.lengthDelimited(what);
        return;
      case WIRE_FIXED32:
        this.advance(4, what);
        return;
      default:
        throw new ProtoError(`unsupported wire type ${wire} for ${what} at byte ${this.pos}`);
    }
  }

  private advance(n: number, what: string): void {
    if (this.pos + n > this.end) throw new ProtoError(`truncated ${what} at byte ${this.pos}`);
    this.pos += n;
  }
}

function expectWire(actual: number, expected: number, what: string, r: Reader): void {
  if (actual !== expected) {
    throw new ProtoError(`${what} has wire type ${actual}, expected ${expected} (near byte ${r.pos})`);
  }
}

function parsePiece(r: Reader, index: number): SentencePiece {
  const ctx = `pieces[${index}]`;
  let piece: string | undefined;
  let score = 0;
  let type: PieceType = "NORMAL";
  while (!r.done) {
    const [field, wire] = r.tag(ctx);
    if (field === 1) {
      expectWire(wire, WIRE_LEN, `${ctx}.piece`, r);
      piece = r.string(`${ctx}.piece`);
    } else if (field === 2) {
      expectWire(wire, WIRE_FIXED32, `${ctx}.score`, r);
      score = r.float(`${ctx}.score`);
    } else if (field === 3) {
      expectWire(wire, WIRE_VARINT, `${ctx}.type`, r);
      const t = r.int32(`${ctx}.type`);
      const name = PIECE_TYPES[t];
      if (name === undefined) throw new ProtoError(`${ctx}.type has unknown value ${t}`);
      type = name;
    } else r.skip(wire, field, ctx);
  }
  if (piece === undefined) throw new ProtoError(`${ctx} has no piece string`);
  return { piece, score, type };
}

function defaultTrainerSpec(): TrainerSpec {
  return {
    modelType: "UNIGRAM",
    vocabSize: 8000,
    unkId: 0,
    bosId: 1,
    eosId: 2,
    padId: -1,
    unkPiece: "<unk>",
    bosPiece: "<s>",
    eosPiece: "</s>",
    padPiece: "<pad>",
    unkSurface: " \u2047 ",
    byteFallback: false,
    splitDigits: false,
    treatWhitespaceAsSuffix: false,
    allowWhitespaceOnlyPieces: false,
    controlSymbols: [],
    userDefinedSymbols: [],
  };
}

function parseTrainerSpec(r: Reader): TrainerSpec {
  const ctx = "trainer_spec";
  const t = defaultTrainerSpec();
  const int = (name: string, wire: number): number => {
    expectWire(wire, WIRE_VARINT, `${ctx}.${name}`, r);
    return r.int32(`${ctx}.${name}`);
  };
  const bool = (name: string, wire: number): boolean => {
    expectWire(wire, WIRE_VARINT, `${ctx}.${name}`, r);
    return r.bool(`${ctx}.${name}`);
  };
  const str = (name: string, wire: number): string => {
    expectWire(wire, WIRE_LEN, `${ctx}.${name}`, r);
    return r.string(`${ctx}.${name}`);
  };
  while (!r.done) {
    const [field, wire] = r.tag(ctx);
    switch (field) {
      case 3: {
        const v = int("model_type", wire);
        const name = MODEL_TYPES[v];
        if (name === undefined) throw new ProtoError(`${ctx}.model_type has unknown value ${v}`);
        t.modelType = name;
        break;
      }
      case 4:
        t.vocabSize = int("vocab_size", wire);
        break;
      case 24:
        t.treatWhitespaceAsSuffix = bool("treat_whitespace_as_suffix", wire);
        break;
      case 25:
        t.splitDigits = bool("split_digits", wire);
        break;
      case 26:
        t.allowWhitespaceOnlyPieces = bool("allow_whitespace_only_pieces", wire);
        break;
      case 30:
        t.controlSymbols.push(str("control_symbols", wire));
        break;
      case 31:
        t.userDefinedSymbols.push(str("user_defined_symbols", wire));
        break;
      case 35:
        t.byteFallback = bool("byte_fallback", wire);
        break;
      case 40:
        t.unkId = int("unk_id", wire);
        break;
      case 41:
        t.bosId = int("bos_id", wire);
        break;
      case 42:
        t.eosId = int("eos_id", wire);
        break;
      case 43:
        t.padId = int("pad_id", wire);
        break;
      case 44:
        t.unkSurface = str("unk_surface", wire);
        break;
      case 45:
        t.unkPiece = str("unk_piece", wire);
        break;
      case 46:
        t.bosPiece = str("bos_piece", wire);
        break;
      case 47:
        t.eosPiece = str("eos_piece", wire);
        break;
      case 48:
        t.padPiece = str("pad_piece", wire);
        break;
      default:
        // Training-only options (input files, sizes, thresholds…) are not needed to tokenize.
        r.skip(wire, field, ctx);
    }
  }
  return t;
}

function defaultNormalizerSpec(): NormalizerSpec {
  return {
    name: "",
    precompiledCharsmap: new Uint8Array(0),
    addDummyPrefix: true,
    removeExtraWhitespaces: true,
    escapeWhitespaces: true,
    normalizationRuleTsv: "",
  };
}

function parseNormalizerSpec(r: Reader, ctx: string): NormalizerSpec {
  const n = defaultNormalizerSpec();
  while (!r.done) {
    const [field, wire] = r.tag(ctx);
    switch (field) {
      case 1:
        expectWire(wire, WIRE_LEN, `${ctx}.name`, r);
        n.name = r.string(`${ctx}.name`);
        break;
      case 2:
        expectWire(wire, WIRE_LEN, `${ctx}.precompiled_charsmap`, r);
        n.precompiledCharsmap = r.bytesField(`${ctx}.precompiled_charsmap`);
        break;
      case 3:
        expectWire(wire, WIRE_VARINT, `${ctx}.add_dummy_prefix`, r);
        n.addDummyPrefix = r.bool(`${ctx}.add_dummy_prefix`);
        break;
      case 4:
        expectWire(wire, WIRE_VARINT, `${ctx}.remove_extra_whitespaces`, r);
        n.removeExtraWhitespaces = r.bool(`${ctx}.remove_extra_whitespaces`);
        break;
      case 5:
        expectWire(wire, WIRE_VARINT, `${ctx}.escape_whitespaces`, r);
        n.escapeWhitespaces = r.bool(`${ctx}.escape_whitespaces`);
        break;
      case 6:
        expectWire(wire, WIRE_LEN, `${ctx}.normalization_rule_tsv`, r);
        n.normalizationRuleTsv = r.string(`${ctx}.normalization_rule_tsv`);
        break;
      default:
        r.skip(wire, field, ctx);
    }
  }
  return n;
}

function describe(fileName: string | undefined): string {
  return fileName ? `SentencePiece model "${fileName}"` : "SentencePiece model";
}

/**
 * Parses a serialized SentencePiece ModelProto (`spiece.model`, `sentencepiece.bpe.model`, …).
 * Throws SentencePieceModelError, naming `fileName` when given, on truncated or corrupt input and on
 * a model without pieces or with an out-of-range unk id.
 */
export function parseSentencePieceModel(
  data: Uint8Array | ArrayBuffer,
  fileName?: string,
): SentencePieceModel {
  const where = describe(fileName);
  const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data;
  if (!(bytes instanceof Uint8Array)) {
    throw new SentencePieceModelError(`Cannot read ${where}: expected the file's bytes (a Uint8Array)`);
  }
  if (bytes.length === 0) throw new SentencePieceModelError(`Cannot read ${where}: the file is empty`);
  const first = bytes[0];
  if (first === 0x7b /* { */ || first === 0x5b /* [ */) {
    throw new SentencePieceModelError(
      `Cannot read ${where}: it looks like JSON (tokenizer.json?), not a binary SentencePiece model`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const r = new Reader(bytes, view, 0, bytes.length);
  const pieces: SentencePiece[] = [];
  let trainerSpec: TrainerSpec | undefined;
  let normalizerSpec: NormalizerSpec | undefined;
  let denormalizerSpec: NormalizerSpec | undefined;
  try {
    while (!r.done) {
      const [field, wire] = r.tag("ModelProto");
      if (field === 1) {
        expectWire(wire, WIRE_LEN, `pieces[${pieces.length}]`, r);
        pieces.push(parsePiece(r.sub(`pieces[${pieces.length}]`), pieces.length));
      } else if (field === 2) {
        expectWire(wire, WIRE_LEN, "trainer_spec", r);
        trainerSpec = parseTrainerSpec(r.sub("trainer_spec"));
      } else if (field === 3) {
        expectWire(wire, WIRE_LEN, "normalizer_spec", r);
        normalizerSpec = parseNormalizerSpec(r.sub("normalizer_spec"), "normalizer_spec");
      } else if (field === 5) {
        expectWire(wire, WIRE_LEN, "denormalizer_spec", r);
        denormalizerSpec = parseNormalizerSpec(r.sub("denormalizer_spec"), "denormalizer_spec");
      } else r.skip(wire, field, "ModelProto"); // 4 = self_test_data, extensions
    }
  } catch (err) {
    if (err instanceof ProtoError) {
      throw new SentencePieceModelError(`Cannot read ${where} (corrupt or truncated): ${err.message}`);
    }
    throw err;
  }
  if (pieces.length === 0) {
    throw new SentencePieceModelError(`Cannot read ${where}: it contains no pieces (corrupt or not a model)`);
  }
  // SentencePiece always writes both specs after the pieces: a file cut between two messages parses
  // cleanly up to the cut, and this is what tells it is incomplete.
  if (!trainerSpec || !normalizerSpec) {
    throw new SentencePieceModelError(
      `Cannot read ${where} (truncated?): it ends after ${pieces.length} pieces without ${
        trainerSpec ? "normalizer_spec" : "trainer_spec"
      }`,
    );
  }
  const unk = trainerSpec.unkId;
  if (unk < 0 || unk >= pieces.length || pieces[unk].type !== "UNKNOWN") {
    throw new SentencePieceModelError(
      `Invalid ${where}: trainer_spec.unk_id ${unk} is not an UNKNOWN piece of the ${pieces.length} pieces`,
    );
  }
  if (normalizerSpec.precompiledCharsmap.length > 0) {
    // Validate now so a damaged charsmap is reported as a damaged file, not at first use.
    try {
      new PrecompiledCharsmap(normalizerSpec.precompiledCharsmap);
    } catch (err) {
      throw new SentencePieceModelError(`Invalid ${where}: ${(err as Error).message}`);
    }
  }
  const model: SentencePieceModel = { pieces, trainerSpec, normalizerSpec };
  if (denormalizerSpec) model.denormalizerSpec = denormalizerSpec;
  return model;
}

/**
 * SentencePiece's compiled normalization rules: [u32 LE trie byte size][Darts double-array units]
 * [NUL-terminated replacement strings]. A trie key is the UTF-8 of a source sequence; its value is
 * the byte offset of the replacement in the string pool. Lookup follows HF tokenizers'
 * `spm_precompiled`: the *first* (shortest) prefix match of a chunk supplies its replacement.
 */
export class PrecompiledCharsmap {
  private readonly units: Uint32Array;
  private readonly pool: Uint8Array;
  private readonly cache = new Map<string, string | null>();

  constructor(blob: Uint8Array) {
    if (blob.length < 4) throw new SentencePieceModelError("precompiled_charsmap is shorter than its header");
    const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    const trieBytes = view.getUint32(0, true);
    if (trieBytes % 4 !== 0 || trieBytes === 0 || 4 + trieBytes > blob.length) {
      throw new SentencePieceModelError(
        `precompiled_charsmap is corrupt: trie size ${trieBytes} does not fit its ${blob.length} bytes`,
      );
    }
    const n = trieBytes / 4;
    this.units = new Uint32Array(n);
    for (let i = 0; i < n; i++) this.units[i] = view.getUint32(4 + 4 * i, true);
    this.pool = blob.slice(4 + trieBytes);
  }

  /** Replacement for `utf8` (the bytes of one grapheme or code point), or null when no rule applies. */
  private lookupBytes(key: ArrayLike<number>): string | null {
    const units = this.units;
    const n = units.length;
    let pos = 0;
    let unit = units[0];
    pos ^= offsetOf(unit);
    for (let i = 0; i < key.length; i++) {
      const c = key[i];
      if (c === 0) break;
      pos ^= c;
      if (pos >= n) return null;
      unit = units[pos];
      if (labelOf(unit) !== c) return null;
      pos ^= offsetOf(unit);
      if (pos >= n) return null;
      if (((unit >>> 8) & 1) === 1) {
        const start = units[pos] & 0x7fffffff;
        return this.poolString(start);
      }
    }
    return null;
  }

  private poolString(start: number): string | null {
    const pool = this.pool;
    if (start >= pool.length) return null;
    let end = start;
    while (end < pool.length && pool[end] !== 0) end++;
    try {
      return utf8.decode(pool.subarray(start, end));
    } catch {
      return null;
    }
  }

  /**
   * The replacement for a chunk of text (one grapheme cluster or one code point), or null when the
   * chunk has no rule. Chunks that cannot be UTF-8 encoded (lone surrogates) never match.
   */
  transform(chunk: string): string | null {
    const cached = this.cache.get(chunk);
    if (cached !== undefined) return cached;
    const bytes = encodeUtf8Strict(chunk);
    const out = bytes === null ? null : this.lookupBytes(bytes);
    if (this.cache.size < 65536) this.cache.set(chunk, out);
    return out;
  }
}

function offsetOf(unit: number): number {
  return (unit >>> 10) << ((unit & (1 << 9)) >>> 6);
}

function labelOf(unit: number): number {
  return unit & ((1 << 31) | 0xff);
}

/** UTF-8 bytes of `s`, or null if it holds a lone surrogate (which UTF-8 cannot represent). */
function encodeUtf8Strict(s: string): number[] | null {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    let cp = s.charCodeAt(i);
    if (cp >= 0xd800 && cp <= 0xdfff) {
      const next = s.charCodeAt(i + 1);
      if (cp > 0xdbff || !(next >= 0xdc00 && next <= 0xdfff)) return null;
      cp = 0x10000 + ((cp - 0xd800) << 10) + (next - 0xdc00);
      i++;
    }
    if (cp < 0x80) out.push(cp);
    else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 63));
    else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
    else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
  }
  return out;
}
