// Every route's happy path inside workerd, through the worker as wrangler.toml configures it, serving
// the tiny fixture models embedded in the bundle (MODELS = test/worker/fixture-models.json, set by
// vitest.config.ts; the default models have their own test, defaults.test.ts). Model outputs are
// compared with the tasks run directly on the same files, so the tests check the HTTP plumbing and
// shapes, not the numbers twice.
import { beforeAll, describe, expect, it } from "vitest";
import simd from "../../build/edgeformer.wasm";
import relaxedSimd from "../../build/edgeformer-relaxed.wasm";
import { createRuntime, type KernelRuntime } from "../../src/runtime/load.ts";
import { embed } from "../../src/tasks/embeddings.ts";
import { fillMask } from "../../src/tasks/fill-mask.ts";
import { type LoadedModel, loadModel } from "../../src/tasks/load.ts";
import { nextSentence } from "../../src/tasks/next-sentence.ts";
import { BUNDLE } from "../../worker/bundle.ts";
import { bundleReader } from "../../worker/sources.ts";
import { BASE, get, json, post } from "./helpers.ts";

type Candidate = { score: number; token: number; token_str: string; sequence: string };

let rt: KernelRuntime;
let bert: Extract<LoadedModel, { arch: "bert" }>;

beforeAll(async () => {
  rt = await createRuntime({ simd, relaxedSimd }); // as the worker does
  const m = await loadModel(rt, bundleReader(BUNDLE, "bert_tiny"), {
    readTokenizer: bundleReader(BUNDLE, "tok/bert"),
    warmUp: false,
  });
  if (m.arch !== "bert") throw new Error("expected BERT");
  bert = m;
});

describe("service routes", () => {
  it("GET /healthz: ok, request id and Server-Timing with every phase", async () => {
    const res = await get("/healthz");
    const body = await json<{ status: string; platform: string; models: number }>(res);
    expect(body).toMatchObject({ status: "ok", platform: "workers", models: 4 });
    expect(res.headers.get("X-Request-Id")).toMatch(/^[\w-]{8,}$/);
    const timing = res.headers.get("Server-Timing")!;
    for (const phase of ["load", "tokenize", "model", "post", "total"])
      expect(timing).toMatch(new RegExp(`${phase};dur=`));
  });

  it("keeps the client's X-Request-Id", async () => {
    const res = await get("/healthz", { "X-Request-Id": "client-id-123" });
    expect(res.headers.get("X-Request-Id")).toBe("client-id-123");
  });

  it("GET /v1/models lists the configured models (OpenAI list shape)", async () => {
    const body = await json<{
      object: string;
      data: { id: string; object: string; tasks: string[]; dtype: string }[];
    }>(await get("/v1/models"));
    expect(body.object).toBe("list");
    expect(body.data.map((m) => m.id)).toEqual([
      "bert-tiny",
      "bert-tiny-int8",
      "bert-tiny-classifier",
      "t5-tiny-copy",
    ]);
    for (const m of body.data) expect(m.object).toBe("model");
    expect(body.data[1].dtype).toBe("int8");
    const one = await json<{ id: string; tasks: string[] }>(await get("/v1/models/t5-tiny-copy"));
    expect(one).toMatchObject({ id: "t5-tiny-copy", tasks: ["generate"] });
  });

  it("GET /openapi.json describes every route, with request schemas from the validators", async () => {
    type Schema = { $ref?: string; properties?: Record<string, unknown>; required?: string[] };
    type Op = { requestBody?: { content: Record<string, { schema: Schema }> } };
    const doc = await json<{
      openapi: string;
      paths: Record<string, Record<string, Op>>;
      components: { schemas: Record<string, Schema> };
    }>(await get("/openapi.json"));
    const deref = (s: Schema): Schema => (s.$ref ? doc.components.schemas[s.$ref.split("/").pop()!] : s);
    expect(doc.openapi).toBe("3.1.0");
    for (const p of [
      "/v1/embeddings",
      "/v1/fill-mask",
      "/v1/classify",
      "/v1/next-sentence",
      "/v1/generate",
    ]) {
      const schema = deref(doc.paths[p].post.requestBody!.content["application/json"].schema);
      expect(schema.required?.length, p).toBeGreaterThan(0);
    }
    const emb = deref(doc.paths["/v1/embeddings"].post.requestBody!.content["application/json"].schema);
    expect(Object.keys(emb.properties!)).toEqual(
      expect.arrayContaining(["input", "model", "encoding_format", "pooling", "normalize"]),
    );
    for (const p of ["/v1/models", "/v1/models/{model}", "/healthz", "/openapi.json", "/"])
      expect(doc.paths[p].get, p).toBeDefined();
    expect(JSON.stringify(doc)).not.toContain("#/$defs/");
  });

  it("GET / serves the playground page", async () => {
    const res = await get("/");
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain("edgeformer playground");
    expect(html).toContain("/v1/fill-mask");
  });

  it("answers CORS preflight requests", async () => {
    const res = await (await import("cloudflare:test")).SELF.fetch(`${BASE}/v1/embeddings`, {
      method: "OPTIONS",
      headers: {
        Origin: "https://example.com",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,authorization",
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(res.headers.get("Access-Control-Allow-Headers")?.toLowerCase()).toContain("authorization");
  });
});

describe("POST /v1/embeddings", () => {
  it("OpenAI shape; mean pooling, normalized by default, equal to the task's output", async () => {
    const input = ["a cat sat on the mat.", "a dog lay on the rug."];
    const body = await json<{
      object: string;
      data: { object: string; index: number; embedding: number[] }[];
      model: string;
      usage: { prompt_tokens: number; total_tokens: number };
    }>(await post("/v1/embeddings", { input, model: "bert-tiny" }));
    expect(body.object).toBe("list");
    expect(body.model).toBe("bert-tiny");
    expect(body.data.map((d) => [d.object, d.index])).toEqual([
      ["embedding", 0],
      ["embedding", 1],
    ]);
    const direct = embed(bert.pipeline, input, { pooling: "mean", normalize: true });
    body.data.forEach((d, i) => {
      expect(d.embedding).toHaveLength(64);
      expect(Math.hypot(...d.embedding)).toBeCloseTo(1, 5);
      expect(d.embedding).toEqual(Array.from(direct.embeddings[i]));
    });
    const tokens = direct.tokenCounts.reduce((a, b) => a + b, 0);
    expect(body.usage).toEqual({ prompt_tokens: tokens, total_tokens: tokens });
  });

  it("a single string, cls pooling, no normalization, base64 encoding (what OpenAI's clients request)", async () => {
    const req = { input: "hello world", pooling: "cls", normalize: false };
    const floats = await json<{ data: { embedding: number[] }[] }>(await post("/v1/embeddings", req));
    const b64 = await json<{ data: { embedding: string }[] }>(
      await post("/v1/embeddings", { ...req, encoding_format: "base64" }),
    );
    const bytes = Uint8Array.from(atob(b64.data[0].embedding), (ch) => ch.charCodeAt(0));
    expect(Array.from(new Float32Array(bytes.buffer))).toEqual(floats.data[0].embedding);
    const direct = embed(bert.pipeline, ["hello world"], { pooling: "cls" });
    expect(floats.data[0].embedding).toEqual(Array.from(direct.embeddings[0]));
  });
});

describe("POST /v1/fill-mask", () => {
  it("one mask: [{score, token, token_str, sequence}], top_k of them, as the task gives", async () => {
    const text = "the man went to the [MASK] to buy milk.";
    const res = await post("/v1/fill-mask", { inputs: text, top_k: 3 });
    expect(res.headers.get("Server-Timing")).toMatch(/model;dur=/);
    const body = await json<Candidate[]>(res);
    expect(body).toHaveLength(3);
    expect(body).toEqual(fillMask(bert.pipeline, [text], { topK: 3 })[0][0]);
    for (const c of body) expect(c.sequence).toContain(c.token_str);
    expect(body[0].score).toBeGreaterThanOrEqual(body[1].score);
  });

  it("several masks: one list per mask; a list of texts: one result per text", async () => {
    const two = await json<Candidate[][]>(
      await post("/v1/fill-mask", { inputs: "[MASK] went to the [MASK].", top_k: 2 }),
    );
    expect(two).toHaveLength(2);
    for (const l of two) expect(l).toHaveLength(2);
    const batch = await json<Candidate[][]>(
      await post("/v1/fill-mask", {
        inputs: ["a [MASK] sat.", "the [MASK] is blue."],
        model: "bert-tiny-int8",
      }),
    );
    expect(batch).toHaveLength(2);
    for (const l of batch) expect(l).toHaveLength(5);
  });
});

describe("POST /v1/classify and /v1/next-sentence", () => {
  it("classify: [{label, score}] with the configured labels", async () => {
    const one = await json<{ label: string; score: number }[]>(
      await post("/v1/classify", { inputs: "what a wonderful film.", top_k: 3 }),
    );
    expect(one.map((l) => l.label).sort()).toEqual(["negative", "neutral", "positive"]);
    expect(one.reduce((a, l) => a + l.score, 0)).toBeCloseTo(1, 5);
    const batch = await json<{ label: string; score: number }[][]>(
      await post("/v1/classify", {
        inputs: ["good", "bad"],
        text_pair: ["yes", "no"],
        model: "bert-tiny-classifier",
      }),
    );
    expect(batch).toHaveLength(2);
    for (const l of batch) expect(l).toHaveLength(1);
  });

  it("next-sentence: {score, is_next} per pair, as the task gives", async () => {
    const pair = { text: "the cat sat on the mat.", text_pair: "it was very happy." };
    const one = await json<{ score: number; is_next: boolean }>(
      await post("/v1/next-sentence", { inputs: pair }),
    );
    const direct = nextSentence(bert.pipeline, [[pair.text, pair.text_pair]])[0].isNextProbability;
    expect(one).toEqual({ score: direct, is_next: direct >= 0.5 });
    const many = await json<{ score: number; is_next: boolean }[]>(
      await post("/v1/next-sentence", { inputs: [pair, { text: "hello.", text_pair: "goodbye." }] }),
    );
    expect(many).toHaveLength(2);
    expect(many[0].score).toBeCloseTo(one.score, 5); // batched: other GEMM tiles, same value to f32 rounding
  });
});
