// Normalization with alignment, for character offsets. @huggingface/tokenizers normalizes whole strings and
// keeps no link to the input; Hugging Face's Rust tokenizers (which made our goldens) track, for every
// normalized character, the original character it came from. We get the same by running the library's own
// normalizer one input code point at a time: each code unit of the result remembers the UTF-16 span of the
// code point that produced it (a removed character leaves nothing, an expanded one repeats its span).
// For normalizers that work character by character (BertNormalizer, Lowercase, NFD, NFKD, StripAccents and
// sequences of them) the concatenation is the normalized text itself, and matches Rust more closely than
// whole-string normalization does (Rust lowercases per character: no final-sigma rule). For the others the
// whole-string result is used, aligned position by position when the lengths agree, else proportionally
// (approximate offsets, still inside the text and monotone). Pure, no Node imports.

export interface AlignedText {
  /** The normalized text. */
  text: string;
  /** For each UTF-16 unit of `text`: start/end (UTF-16, exclusive end) of its source in the input. */
  starts: Int32Array;
  ends: Int32Array;
}

/** Calls `fn(char, start)` for each code point of `text`; a lone surrogate counts as one. */
export function forEachCodePoint(text: string, fn: (char: string, start: number) => void): void {
  for (let u = 0; u < text.length; ) {
    const c = text.charCodeAt(u);
    const pair =
      c >= 0xd800 && c <= 0xdbff && u + 1 < text.length && (text.charCodeAt(u + 1) & 0xfc00) === 0xdc00
        ? 2
        : 1;
    fn(text.slice(u, u + pair), u);
    u += pair;
  }
}

/**
 * Normalizes `input` with `perChar` applied to each code point. When `whole` is given (normalizers that are
 * not per-character) its result is the text and the per-character pieces only guide the alignment.
 */
export function normalizeAligned(
  input: string,
  perChar: (char: string) => string,
  whole?: (text: string) => string,
): AlignedText {
  const pieces: string[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  forEachCodePoint(input, (char, start) => {
    const piece = perChar(char);
    pieces.push(piece);
    for (let k = 0; k < piece.length; k++) {
      starts.push(start);
      ends.push(start + char.length);
    }
  });
  const joined = pieces.join("");
  if (whole === undefined) {
    return { text: joined, starts: Int32Array.from(starts), ends: Int32Array.from(ends) };
  }
  const text = whole(input);
  if (text.length === joined.length) {
    return { text, starts: Int32Array.from(starts), ends: Int32Array.from(ends) };
  }
  return { text, ...proportional(input, text.length) };
}

/** Spreads `n` normalized units evenly over `input`, never splitting a surrogate pair. */
function proportional(input: string, n: number): { starts: Int32Array; ends: Int32Array } {
  const starts = new Int32Array(n);
  const ends = new Int32Array(n);
  const L = input.length;
  const snapDown = (u: number) => (u > 0 && u < L && (input.charCodeAt(u) & 0xfc00) === 0xdc00 ? u - 1 : u);
  const snapUp = (u: number) => (u > 0 && u < L && (input.charCodeAt(u) & 0xfc00) === 0xdc00 ? u + 1 : u);
  for (let j = 0; j < n; j++) {
    const s = snapDown(Math.floor((j * L) / n));
    starts[j] = s;
    ends[j] = Math.max(s, snapUp(Math.floor(((j + 1) * L) / n)));
  }
  return { starts, ends };
}

/** Maps the normalized range [a, b) back to the input: [start, end) in UTF-16 units. */
export function originalSpan(aligned: AlignedText, a: number, b: number): [number, number] {
  const n = aligned.text.length;
  if (n === 0) return [0, 0];
  if (b <= a) {
    const at = a < n ? aligned.starts[a] : aligned.ends[n - 1];
    return [at, at];
  }
  return [aligned.starts[a], aligned.ends[b - 1]];
}
