// Writes a SentencePieceModel (src/tokenizers/sentencepiece-proto.ts) as a binary spiece.model
// (ModelProto), so a trained vocab can be saved next to a checkpoint and loaded by
// t5TokenizerFromSpiece, or by SentencePiece and transformers. Only the fields the reader knows are
// written (pieces, the tokenizer-relevant TrainerSpec fields, NormalizerSpec, denormalizer spec), with
// SentencePiece's field numbers; scores are float32. Pure, no Node imports.

import type {
  NormalizerSpec,
  SentencePieceModel,
  TrainerSpec,
} from "../../tokenizers/sentencepiece-proto.ts";

const PIECE_TYPE_IDS = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;
const MODEL_TYPE_IDS = { UNIGRAM: 1, BPE: 2, WORD: 3, CHAR: 4 } as const;

const VARINT = 0;
const LEN = 2;
const FIXED32 = 5;
const utf8 = new TextEncoder();

class Writer {
  private bytes: number[] = [];

  /** A varint; negative int32 values are sign-extended to 64 bits (10 bytes), as protobuf does. */
  varint(v: number): void {
    if (v < 0) {
      let lo = v >>> 0;
      let hi = 0xffffffff;
      for (let i = 0; i < 9; i++) {
        this.bytes.push((lo & 0x7f) | 0x80);
        lo = (lo >>> 7) | ((hi & 0x7f) << 25);
        hi >>>= 7;
      }
      this.bytes.push(1);
      return;
    }
    while (v >= 0x80) {
      this.bytes.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.bytes.push(v);
  }

  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  int(field: number, v: number): void {
    this.tag(field, VARINT);
    this.varint(v);
  }

  bool(field: number, v: boolean): void {
    this.int(field, v ? 1 : 0);
  }

  float(field: number, v: number): void {
    this.tag(field, FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.bytes.push(...b);
  }

  raw(field: number, data: Uint8Array | number[]): void {
    this.tag(field, LEN);
    this.varint(data.length);
    for (const x of data) this.bytes.push(x);
  }

  string(field: number, s: string): void {
    this.raw(field, utf8.encode(s));
  }

  message(field: number, write: (w: Writer) => void): void {
    const inner = new Writer();
    write(inner);
    this.raw(field, inner.bytes);
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

function writeTrainerSpec(w: Writer, t: TrainerSpec): void {
  w.int(3, MODEL_TYPE_IDS[t.modelType]);
  w.int(4, t.vocabSize);
  w.bool(24, t.treatWhitespaceAsSuffix);
  w.bool(25, t.splitDigits);
  w.bool(26, t.allowWhitespaceOnlyPieces);
  for (const s of t.controlSymbols) w.string(30, s);
  for (const s of t.userDefinedSymbols) w.string(31, s);
  w.bool(35, t.byteFallback);
  w.int(40, t.unkId);
  w.int(41, t.bosId);
  w.int(42, t.eosId);
  w.int(43, t.padId);
  w.string(44, t.unkSurface);
  w.string(45, t.unkPiece);
  w.string(46, t.bosPiece);
  w.string(47, t.eosPiece);
  w.string(48, t.padPiece);
}

function writeNormalizerSpec(w: Writer, n: NormalizerSpec): void {
  w.string(1, n.name);
  if (n.precompiledCharsmap.length > 0) w.raw(2, n.precompiledCharsmap);
  w.bool(3, n.addDummyPrefix);
  w.bool(4, n.removeExtraWhitespaces);
  w.bool(5, n.escapeWhitespaces);
  if (n.normalizationRuleTsv !== "") w.string(6, n.normalizationRuleTsv);
}

/** The bytes of a spiece.model holding `model` (parseSentencePieceModel reads it back). */
export function serializeSentencePieceModel(model: SentencePieceModel): Uint8Array {
  const w = new Writer();
  for (const p of model.pieces) {
    w.message(1, (m) => {
      m.string(1, p.piece);
      m.float(2, p.score);
      if (p.type !== "NORMAL") m.int(3, PIECE_TYPE_IDS[p.type]);
    });
  }
  w.message(2, (m) => writeTrainerSpec(m, model.trainerSpec));
  w.message(3, (m) => writeNormalizerSpec(m, model.normalizerSpec));
  const den = model.denormalizerSpec;
  if (den) w.message(5, (m) => writeNormalizerSpec(m, den));
  return w.finish();
}
