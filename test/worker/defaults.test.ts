// The embedded default models inside workerd, as `npm start` serves them: wrangler.toml's MODELS list
// (DEFAULT_MODELS, handed over by vitest.config.ts) over the files worker/bundle.ts embeds from models/.
// Checks what any checkpoint of these shapes must give — model list, status codes, result shapes, the
// four part-of-speech labels, 256-dimensional embeddings, non-empty generations — not trained answers
// (the behaviour tests of the trained models live with the models); and that the largest requests the
// limits allow keep the kernels' memory within Workers' 128 MB per isolate, all three models loaded.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { expectError, fetchWith, json, jsonRequest } from "./helpers.ts";

const vars = { MODELS: env.DEFAULT_MODELS };
const call = (path: string, body: unknown) => fetchWith(vars, jsonRequest(path, body));
const get = (path: string) => fetchWith(vars, new Request(`http://edgeformer.test${path}`));

const POS = ["adjective", "adverb", "noun", "verb"];

type Model = {
  id: string;
  tasks: string[];
  dtype: string;
  status: string;
  architecture?: string;
  description?: string;
};

describe("embedded default models (wrangler.toml MODELS)", () => {
  it("GET /v1/models lists bert-wordnet, bert-wordnet-pos and t5-wordnet, int8", async () => {
    expect(typeof env.DEFAULT_MODELS).toBe("string");
    const body = await json<{ data: Model[] }>(await get("/v1/models"));
    expect(body.data.map((m) => [m.id, m.tasks, m.dtype])).toEqual([
      ["bert-wordnet", ["fill-mask", "embeddings", "next-sentence"], "int8"],
      ["bert-wordnet-pos", ["classify"], "int8"],
      ["t5-wordnet", ["generate"], "int8"],
    ]);
    for (const m of body.data) expect(m.description?.length).toBeGreaterThan(20);
  });

  it("fill-mask: 5 candidates from the WordPiece vocabulary, best first", async () => {
    const text = "a dog is a kind of [MASK].";
    const r = await json<{ score: number; token: number; token_str: string; sequence: string }[]>(
      await call("/v1/fill-mask", { inputs: text }),
    );
    expect(r).toHaveLength(5);
    for (const [i, c] of r.entries()) {
      expect(c.token).toBeGreaterThanOrEqual(0);
      expect(c.token).toBeLessThan(8000);
      expect(c.token_str.trim().length).toBeGreaterThan(0);
      expect(c.score).toBeGreaterThan(0);
      expect(c.score).toBeLessThanOrEqual(1);
      if (i > 0) expect(c.score).toBeLessThanOrEqual(r[i - 1].score);
      // the tokenizer round-trips the text (vocab.txt embedded and read as text, not as [UNK]s)
      expect(c.sequence.startsWith("a dog is a kind of ")).toBe(true);
      expect(c.sequence).not.toContain("[MASK]");
    }
  });

  it("classify (bert-wordnet-pos, adapter by default): one of the four parts of speech", async () => {
    const glosses = ["a building where people live", "move fast by using one's feet"];
    const top = await json<{ label: string; score: number }[][]>(
      await call("/v1/classify", { inputs: glosses }),
    );
    expect(top).toHaveLength(2);
    for (const r of top) {
      expect(r).toHaveLength(1);
      expect(POS).toContain(r[0].label);
    }
    const all = await json<{ label: string; score: number }[]>(
      await call("/v1/classify", { inputs: glosses[0], model: "bert-wordnet-pos", top_k: 4 }),
    );
    expect(all.map((x) => x.label).sort()).toEqual(POS);
    expect(all.reduce((a, x) => a + x.score, 0)).toBeCloseTo(1, 5);
    expect(all[0].label).toBe(top[0][0].label);
    const info = await json<Model>(await get("/v1/models/bert-wordnet-pos"));
    expect(info).toMatchObject({ status: "loaded", architecture: "BertForSequenceClassification" });
  });

  it("embeddings: 256-dimensional vectors, finite, different for different texts", async () => {
    const r = await json<{ data: { embedding: number[] }[]; model: string }>(
      await call("/v1/embeddings", { input: ["a domestic dog", "a quantity of money"] }),
    );
    expect(r.model).toBe("bert-wordnet");
    expect(r.data.map((d) => d.embedding.length)).toEqual([256, 256]);
    for (const d of r.data) expect(d.embedding.every(Number.isFinite)).toBe(true);
    expect(r.data[0].embedding).not.toEqual(r.data[1].embedding);
  });

  it("next-sentence: a probability", async () => {
    const r = await json<{ score: number; is_next: boolean }>(
      await call("/v1/next-sentence", {
        inputs: { text: "a domestic animal that barks.", text_pair: "the dog barked all night." },
      }),
    );
    expect(r.score).toBeGreaterThanOrEqual(0);
    expect(r.score).toBeLessThanOrEqual(1);
    expect(r.is_next).toBe(r.score >= 0.5);
  });

  it("generate (t5-wordnet): text for each task prefix", async () => {
    const inputs = ["define: dog", "synonyms: car", "hypernym: oak", "pos: a building where people live"];
    const r = await json<{ generated_text: string }[]>(
      await call("/v1/generate", { inputs, max_new_tokens: 16 }),
    );
    expect(r).toHaveLength(inputs.length);
    for (const x of r) expect(x.generated_text.trim().length).toBeGreaterThan(0);
    const span = await json<{ generated_text: string }[]>(
      await call("/v1/generate", { inputs: "a dog is a <extra_id_0> animal.", model: "t5-wordnet" }),
    );
    expect(typeof span[0].generated_text).toBe("string");
  });

  it("the largest requests the limits allow keep the wasm memory under 64 MiB, all three loaded", async () => {
    // Workers give an isolate 128 MB: ~20 MiB of it are the bundled model files, up to ~20 MiB JS heap
    // and garbage; the wasm memory holds the weights of the three models (~32 MiB) and the activation
    // arena, which grows to the largest request and never shrinks.
    const unit = "a dog is a member of the genus canis that has been domesticated by man . ";
    /** The longest repetition of `unit` a route accepts (422 input_too_long above MAX_INPUT_TOKENS). */
    const longest = async (path: string, body: (text: string) => unknown) => {
      for (let n = 12; n > 0; n--) {
        const res = await call(path, body(unit.repeat(n)));
        if (res.status === 200) return unit.repeat(n);
        await expectError(res, 422, "input_too_long");
      }
      throw new Error(`no input fits ${path}`);
    };
    const bertText = await longest("/v1/fill-mask", (t) => ({ inputs: `${t}[MASK]`, top_k: 1 }));
    const t5Text = await longest("/v1/generate", (t) => ({ inputs: t, max_new_tokens: 1 }));
    const batch = (t: string) => Array.from({ length: 16 }, () => t);
    await json(await call("/v1/fill-mask", { inputs: batch(`${bertText}[MASK]`) }));
    await json(await call("/v1/embeddings", { input: batch(bertText) }));
    await json(await call("/v1/classify", { inputs: batch(bertText) }));
    await json(
      await call("/v1/next-sentence", { inputs: batch(bertText).map((t) => ({ text: t, text_pair: "a" })) }),
    );
    const gen = await json<{ generated_text: string }[]>(
      await call("/v1/generate", { inputs: batch(t5Text), max_new_tokens: 64, num_beams: 4 }),
    );
    expect(gen).toHaveLength(16);
    const health = await json<{ loaded: string[]; runtime: { wasm_memory_bytes: number } }>(
      await get("/healthz"),
    );
    expect(health.loaded).toEqual(["bert-wordnet", "bert-wordnet-pos", "t5-wordnet"]);
    expect(health.runtime.wasm_memory_bytes / 2 ** 20).toBeLessThan(64);
  });
});
