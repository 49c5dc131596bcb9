// /v1/generate's repetition fields inside workerd (the copy-trained T5 fixture, which copies repeating
// input): no_repeat_ngram_size and repetition_penalty are accepted (off by default: leaving them out
// or sending 0 / 1 gives the same answer), change a repeating copy, apply to the stream the same way,
// out-of-range values are 422 invalid_request naming the field, and both appear in /openapi.json.
import { describe, expect, it } from "vitest";
import { expectError, get, json, post } from "./helpers.ts";

const INPUT = "the cat the cat the cat the cat";

async function generated(body: Record<string, unknown>): Promise<string> {
  const [r] = await json<{ generated_text: string }[]>(
    await post("/v1/generate", { inputs: INPUT, max_new_tokens: 24, ...body }),
  );
  return r.generated_text;
}

/** The final generated_text of a stream read to the end. */
async function streamedText(body: Record<string, unknown>): Promise<string> {
  const res = await post("/v1/generate", { inputs: INPUT, max_new_tokens: 24, stream: true, ...body });
  expect(res.status).toBe(200);
  const text = await res.text();
  expect(text).not.toContain("event: error");
  const events = text
    .split("\n\n")
    .filter((b) => b.trim())
    .map((b) => JSON.parse(b.replace(/^data:\s*/m, "")) as { generated_text: string | null });
  return events.at(-1)!.generated_text!;
}

describe("POST /v1/generate: no_repeat_ngram_size, repetition_penalty", () => {
  it("off by default; the options change the repeating copy, in the batch and the stream alike", async () => {
    const plain = await generated({});
    expect(plain).toMatch(/the cat the cat/); // the copy model repeats the input
    expect(await generated({ no_repeat_ngram_size: 0, repetition_penalty: 1 })).toBe(plain);
    for (const opts of [
      { no_repeat_ngram_size: 2 },
      { repetition_penalty: 2.5 },
      { no_repeat_ngram_size: 3, repetition_penalty: 1.2, do_sample: true, seed: 4 },
    ]) {
      const text = await generated(opts);
      expect(text, JSON.stringify(opts)).not.toBe(plain);
      expect(await streamedText(opts)).toBe(text);
    }
    expect(await generated({ no_repeat_ngram_size: 2 })).not.toMatch(/the cat the cat/);
    // beam search takes them too
    expect(await generated({ no_repeat_ngram_size: 2, num_beams: 3 })).not.toMatch(/the cat the cat/);
    expect(await generated({ no_repeat_ngram_size: 10, repetition_penalty: 10 })).toEqual(expect.any(String));
  });

  it("out-of-range values → 422 invalid_request naming the field", async () => {
    for (const bad of [-1, 11, 2.5, "2", null]) {
      const msg = await expectError(
        await post("/v1/generate", { inputs: INPUT, no_repeat_ngram_size: bad }),
        422,
        "invalid_request",
      );
      expect(msg).toMatch(/^no_repeat_ngram_size: /);
    }
    for (const bad of [0, -1.5, 10.5, "1.2"]) {
      const msg = await expectError(
        await post("/v1/generate", { inputs: INPUT, repetition_penalty: bad }),
        422,
        "invalid_request",
      );
      expect(msg).toMatch(/^repetition_penalty: /);
    }
  });

  it("both fields are in the OpenAPI request schema with their bounds", async () => {
    type Schema = { $ref?: string; properties?: Record<string, Record<string, unknown>> };
    const doc = await json<{
      paths: Record<string, { post: { requestBody: { content: Record<string, { schema: Schema }> } } }>;
      components: { schemas: Record<string, Schema> };
    }>(await get("/openapi.json"));
    let schema = doc.paths["/v1/generate"].post.requestBody.content["application/json"].schema;
    if (schema.$ref) schema = doc.components.schemas[schema.$ref.split("/").pop()!];
    expect(schema.properties!.no_repeat_ngram_size).toMatchObject({
      type: "integer",
      minimum: 0,
      maximum: 10,
    });
    expect(schema.properties!.repetition_penalty).toMatchObject({
      type: "number",
      exclusiveMinimum: 0,
      maximum: 10,
    });
    expect(String(schema.properties!.repetition_penalty.description)).toMatch(/1 = off/);
  });
});
