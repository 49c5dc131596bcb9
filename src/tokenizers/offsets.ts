// Offset conventions. Every `Encoding.offsets` in this project is in UTF-16 code units of the original
// JS string, so `text.slice(start, end)` is the token's span (an astral character such as 😀 is 2 units;
// a lone surrogate is 1). Hugging Face's Python/Rust tokenizers report Unicode code points instead; these
// helpers convert between the two, e.g. to compare with goldens made in Python. Pure, no Node imports.

/** For each UTF-16 index 0..text.length, how many code points start before it. */
function codePointIndex(text: string): Int32Array {
  const index = new Int32Array(text.length + 1);
  let cp = 0;
  for (let u = 0; u < text.length; u++) {
    index[u] = cp;
    if (!isLowSurrogateAfterHigh(text, u)) cp++;
  }
  index[text.length] = cp;
  return index;
}

function isLowSurrogateAfterHigh(text: string, u: number): boolean {
  if (u === 0) return false;
  const c = text.charCodeAt(u);
  const p = text.charCodeAt(u - 1);
  return c >= 0xdc00 && c <= 0xdfff && p >= 0xd800 && p <= 0xdbff;
}

/** UTF-16 code-unit offsets (this project's convention) to Unicode code-point offsets (Python's). */
export function toCodePointOffsets(
  text: string,
  offsets: readonly (readonly [number, number])[],
): [number, number][] {
  const index = codePointIndex(text);
  const at = (u: number) => index[Math.max(0, Math.min(text.length, u))];
  return offsets.map(([s, e]) => [at(s), at(e)]);
}

/** Unicode code-point offsets (Python's) to UTF-16 code-unit offsets (this project's convention). */
export function toUtf16Offsets(
  text: string,
  offsets: readonly (readonly [number, number])[],
): [number, number][] {
  const starts: number[] = [];
  for (let u = 0; u < text.length; u++) if (!isLowSurrogateAfterHigh(text, u)) starts.push(u);
  starts.push(text.length);
  const at = (cp: number) => starts[Math.max(0, Math.min(starts.length - 1, cp))];
  return offsets.map(([s, e]) => [at(s), at(e)]);
}
