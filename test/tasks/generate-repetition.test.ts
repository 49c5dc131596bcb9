// The serving helpers of src/tasks/generate.ts with no_repeat_ngram_size and repetition_penalty on the
// copy-trained T5 (t5_tiny_copy): the token stream gives the same tokens as the batch path (greedy and
// seeded sampling), the options change a repeating copy, and bad values are task input errors.
import { beforeAll, describe, expect, it } from "vitest";
import { loadT5PipelineDir } from "../../src/models/load-node.ts";
import { generateTexts, streamTokens, type T5Pipeline } from "../../src/tasks/generate.ts";
import { TaskInputError } from "../../src/tasks/pipeline.ts";
import { generateText } from "../../src/tasks/text2text.ts";
import { fixturePath } from "../helpers/fixtures.ts";

let p: T5Pipeline;
const TEXT = "a b a b a b a b a b";

beforeAll(async () => {
  p = await loadT5PipelineDir(fixturePath("t5_tiny_copy"), { tokenizerDir: fixturePath("tok/t5") });
});

function streamed(opts: Parameters<typeof streamTokens>[2]) {
  const gen = streamTokens(p, TEXT, opts);
  const ids: number[] = [];
  for (;;) {
    const s = gen.next();
    if (s.done) return { ids, result: s.value };
    ids.push(s.value.id);
  }
}

/** Whether some n-gram occurs twice in seq. */
function repeats(seq: number[], n: number): boolean {
  const seen = new Set<string>();
  for (let i = 0; i + n <= seq.length; i++) {
    const k = seq.slice(i, i + n).join(",");
    if (seen.has(k)) return true;
    seen.add(k);
  }
  return false;
}

describe("generate task helpers: repetition options", () => {
  it("stream = batch for greedy and seeded sampling; the copy repeats without the option, not with it", () => {
    const plain = generateText(p, [TEXT], { maxNewTokens: 24 })[0].sequence;
    expect(repeats(plain, 2)).toBe(true);
    for (const opts of [
      { maxNewTokens: 24, noRepeatNgramSize: 2 },
      { maxNewTokens: 24, repetitionPenalty: 2.5 },
      { maxNewTokens: 24, doSample: true, seed: 9, noRepeatNgramSize: 3, repetitionPenalty: 1.2 },
    ]) {
      const { ids, result } = streamed(opts);
      const [batch] = generateTexts(p, [TEXT], opts);
      const [viaText2text] = generateText(p, [TEXT], opts);
      expect(result.generated_text).toBe(batch.generated_text);
      expect([0, ...ids]).toEqual(viaText2text.sequence.slice(0, ids.length + 1));
      expect(ids).not.toEqual(plain.slice(1, ids.length + 1));
      if (opts.noRepeatNgramSize) expect(repeats([0, ...ids], opts.noRepeatNgramSize)).toBe(false);
    }
  });

  it("bad values are task input errors with the API's names", () => {
    expect(() => generateTexts(p, [TEXT], { noRepeatNgramSize: -1 })).toThrow(TaskInputError);
    expect(() => generateTexts(p, [TEXT], { noRepeatNgramSize: 2.5 })).toThrow(/no_repeat_ngram_size/);
    expect(() => streamTokens(p, TEXT, { repetitionPenalty: 0 }).next()).toThrow(/repetition_penalty/);
    expect(() => generateTexts(p, [TEXT], { repetitionPenalty: Number.NaN })).toThrow(TaskInputError);
  });
});
