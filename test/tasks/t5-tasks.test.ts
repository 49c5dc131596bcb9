// T5 text-to-text tasks on the copy-trained tiny model (t5_tiny_copy, shaped like T5 v1.1, trained to
// copy its input): generation through the tokenizer reproduces the model's copying behaviour, the task
// prefix reaches the model, and span filling puts each sentinel's generated span back in place.
import { beforeAll, describe, expect, it } from "vitest";
import { loadT5PipelineDir } from "../../src/models/load-node.ts";
import { generate } from "../../src/models/t5-generate.ts";
import { loadRuntime } from "../../src/runtime/node.ts";
import { fillSpans, generateText, type T5Pipeline } from "../../src/tasks/text2text.ts";
import { fixturePath, readJsonFixture } from "../helpers/fixtures.ts";

let p: T5Pipeline;
beforeAll(async () => {
  const runtime = await loadRuntime({ relaxed: false });
  p = await loadT5PipelineDir(fixturePath("t5_tiny_copy"), { tokenizerDir: fixturePath("tok/t5"), runtime });
});

describe("text-to-text generation", () => {
  it("equals generate() on the same token ids, decoded without special tokens", () => {
    const text = "the cat sat on the mat";
    const [res] = generateText(p, [text], { maxNewTokens: 16 });
    const enc = p.tokenizer.encode(text);
    const direct = generate(p.model, Int32Array.from(enc.ids), undefined, 1, enc.ids.length, {
      maxNewTokens: 16,
    });
    expect(res.sequence).toEqual(direct.sequences[0]);
    expect(res.generated_text).toBe(p.tokenizer.decode(direct.sequences[0], { skipSpecialTokens: true }));
    expect(res.generated_text).not.toContain("</s>");
  });

  it("reproduces the golden greedy ids of the copy fixture batch", () => {
    const j = readJsonFixture<{ input_ids: number[][]; greedy_max_new_tokens_16: number[][] }>(
      "t5_tiny_copy/generate_inputs.json",
    );
    // decode the golden inputs back to text and generate from text: same ids as the golden
    const texts = j.input_ids.map((ids) => p.tokenizer.decode(ids, { skipSpecialTokens: true }));
    const again = texts.map((t) => p.tokenizer.encode(t).ids);
    const roundTrip = again.every((ids, i) => ids.join() === j.input_ids[i].filter((x) => x !== 0).join());
    const out = generateText(p, texts, { maxNewTokens: 16 });
    if (roundTrip) expect(out.map((o) => o.sequence)).toEqual(j.greedy_max_new_tokens_16);
    expect(out).toHaveLength(j.input_ids.length);
  });

  it("prefixes reach the model and batches pad correctly", () => {
    const a = generateText(p, ["copy this"], { maxNewTokens: 8, prefix: "summarize: " })[0];
    const b = generateText(p, ["summarize: copy this"], { maxNewTokens: 8 })[0];
    expect(a.sequence).toEqual(b.sequence);
    const batched = generateText(p, ["copy this", "a longer input that needs more tokens here"], {
      maxNewTokens: 8,
    });
    const alone = generateText(p, ["copy this"], { maxNewTokens: 8 })[0].sequence;
    // in a batch, a sequence that finished early is padded after </s> (as transformers does)
    expect(batched[0].sequence.slice(0, alone.length)).toEqual(alone);
    expect(batched[0].sequence.slice(alone.length).every((id) => id === p.model.config.padTokenId)).toBe(
      true,
    );
    expect(() => generateText(p, [])).toThrow(/no input texts/);
  });

  it("span filling replaces each sentinel with its generated span", () => {
    const { text, spans } = fillSpans(p, "the cat <extra_id_0> on the <extra_id_1>", { maxNewTokens: 16 });
    expect(spans).toHaveLength(2);
    expect(text).not.toMatch(/<extra_id_/);
    expect(text.startsWith("the cat")).toBe(true);
    expect(() => fillSpans(p, "no sentinel")).toThrow(/no sentinel/);
  });
});
