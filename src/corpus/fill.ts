// Span-filling lines for the WordNet task files: a definition with whole-word spans replaced by T5
// sentinels (<extra_id_0>, <extra_id_1>, … in order) as the input, and the sentinels each followed by the
// words they hide as the target — T5's span-corruption format at word level, so the trained model's
// `fillSpans` works on ordinary text. About 15% of the words are hidden, in spans of 1–3 words, never two
// spans side by side; the choice depends only on the text and a seed (deterministic, no shared RNG).
import { mulberry32, type Rng } from "../train/data/random.ts";

/** mulberry32 seeded by an FNV-1a hash of the text and the seed. */
function rngFor(text: string, seed: number): Rng {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return mulberry32(h);
}

export interface FillLine {
  input: string;
  target: string;
}

/**
 * The span-filling line of a text, or undefined when it has fewer than 4 words. Spans: round(15% of the
 * words) hidden (at least 1), split into spans of 1–3 words at random non-adjacent positions.
 */
export function fillLine(text: string, seed = 1): FillLine | undefined {
  const words = text.split(/\s+/).filter(Boolean);
  if (words.length < 4) return undefined;
  const rng = rngFor(text, seed);
  let toHide = Math.max(1, Math.round(words.length * 0.15));
  const hidden = new Uint8Array(words.length);
  for (let tries = 0; toHide > 0 && tries < 50; tries++) {
    const len = Math.min(toHide, 1 + Math.floor(rng() * 3));
    const start = Math.floor(rng() * (words.length - len + 1));
    let free = true;
    for (let i = Math.max(0, start - 1); i < Math.min(words.length, start + len + 1); i++)
      if (hidden[i]) free = false;
    if (!free) continue;
    hidden.fill(1, start, start + len);
    toHide -= len;
  }
  const input: string[] = [];
  const target: string[] = [];
  let k = 0;
  for (let i = 0; i < words.length; i++) {
    if (!hidden[i]) {
      input.push(words[i]);
      continue;
    }
    if (i === 0 || !hidden[i - 1]) {
      input.push(`<extra_id_${k}>`);
      target.push(`<extra_id_${k}>`);
      k++;
    }
    target.push(words[i]);
  }
  return { input: input.join(" "), target: target.join(" ") };
}
