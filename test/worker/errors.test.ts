// Bad input inside workerd: every case answers with its status and {"error": {"code", "message"}},
// never a 500.
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { BASE, expectError, fetchWith, get, jsonRequest, post } from "./helpers.ts";

describe("malformed requests", () => {
  it("malformed JSON → 400 invalid_json", async () => {
    await expectError(await post("/v1/embeddings", '{"input": "a cat",'), 400, "invalid_json");
    await expectError(await post("/v1/fill-mask", "not json at all"), 400, "invalid_json");
  });

  it("a body that is not declared JSON → 400 invalid_content_type", async () => {
    const res = await SELF.fetch(`${BASE}/v1/embeddings`, {
      method: "POST",
      headers: { "Content-Type": "text/plain" },
      body: JSON.stringify({ input: "a cat" }),
    });
    await expectError(res, 400, "invalid_content_type");
  });

  it("wrong types → 422 invalid_request naming the field", async () => {
    expect(await expectError(await post("/v1/embeddings", { input: 5 }), 422, "invalid_request")).toMatch(
      /input/,
    );
    expect(
      await expectError(
        await post("/v1/fill-mask", { inputs: "a [MASK].", top_k: "3" }),
        422,
        "invalid_request",
      ),
    ).toMatch(/top_k/);
    expect(
      await expectError(await post("/v1/embeddings", { input: "a", pooling: "max" }), 422, "invalid_request"),
    ).toMatch(/pooling/);
    await expectError(
      await post("/v1/generate", { inputs: "a", max_new_tokens: 2.5 }),
      422,
      "invalid_request",
    );
    await expectError(await post("/v1/next-sentence", { inputs: { text: "a" } }), 422, "invalid_request");
    await expectError(await post("/v1/embeddings", ["a cat"]), 422, "invalid_request");
    await expectError(await post("/v1/embeddings", null), 422, "invalid_request");
  });

  it("unknown fields → 422", async () => {
    expect(
      await expectError(await post("/v1/embeddings", { input: "a", dimensions: 8 }), 422, "invalid_request"),
    ).toMatch(/dimensions/);
  });

  it("missing or empty input → 422", async () => {
    await expectError(await post("/v1/embeddings", {}), 422, "invalid_request");
    await expectError(await post("/v1/embeddings", { input: "" }), 422, "invalid_request");
    await expectError(await post("/v1/embeddings", { input: [] }), 422, "invalid_request");
    await expectError(await post("/v1/fill-mask", { inputs: ["a [MASK].", ""] }), 422, "invalid_request");
    await expectError(await post("/v1/next-sentence", { inputs: [] }), 422, "invalid_request");
    await expectError(await post("/v1/generate", { inputs: "" }), 422, "invalid_request");
  });
});

describe("limits", () => {
  it("too many inputs (over MAX_BATCH = 16) → 422 too_many_inputs", async () => {
    const input = Array.from({ length: 17 }, (_, i) => `text ${i}`);
    await expectError(await post("/v1/embeddings", { input }), 422, "too_many_inputs");
    await expectError(
      await post("/v1/fill-mask", { inputs: input.map((t) => `${t} [MASK]`) }),
      422,
      "too_many_inputs",
    );
    const pairs = input.map((t) => ({ text: t, text_pair: t }));
    await expectError(await post("/v1/next-sentence", { inputs: pairs }), 422, "too_many_inputs");
    // the limit comes from the vars
    const ok = await fetchWith({ MAX_BATCH: "32" }, jsonRequest("/v1/embeddings", { input }));
    expect(ok.status).toBe(200);
  });

  it("over-long text (over MAX_INPUT_TOKENS = 128) → 422 input_too_long, not truncated", async () => {
    const long = "the cat sat on the mat and looked at the dog . ".repeat(15);
    expect(
      await expectError(await post("/v1/embeddings", { input: ["short", long] }), 422, "input_too_long"),
    ).toMatch(/input 1 is \d+ tokens long; the limit is 128/);
    await expectError(await post("/v1/fill-mask", { inputs: `${long} [MASK]` }), 422, "input_too_long");
    await expectError(await post("/v1/classify", { inputs: long }), 422, "input_too_long");
    await expectError(await post("/v1/generate", { inputs: long }), 422, "input_too_long");
  });

  it("oversized body (over MAX_BODY_BYTES = 65536) → 413 body_too_large", async () => {
    const big = "x".repeat(70_000);
    await expectError(await post("/v1/embeddings", { input: big }), 413, "body_too_large");
    // a streamed body without Content-Length is counted too
    const stream = new ReadableStream<Uint8Array>({
      start(ctrl) {
        const chunk = new TextEncoder().encode(`{"input": "${"y".repeat(40_000)}`);
        ctrl.enqueue(chunk);
        ctrl.enqueue(chunk);
        ctrl.close();
      },
    });
    const res = await fetchWith(
      {},
      new Request(`${BASE}/v1/embeddings`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: stream,
        // @ts-expect-error: duplex is required for stream bodies but missing from the DOM types
        duplex: "half",
      }),
    );
    await expectError(res, 413, "body_too_large");
  });

  it("max_new_tokens, num_beams and top_k over their caps → 422", async () => {
    await expectError(await post("/v1/generate", { inputs: "a", max_new_tokens: 65 }), 422, "invalid_input");
    await expectError(await post("/v1/generate", { inputs: "a", num_beams: 5 }), 422, "invalid_input");
    await expectError(await post("/v1/fill-mask", { inputs: "a [MASK].", top_k: 51 }), 422, "invalid_input");
  });

  it("task input errors → 422 invalid_input", async () => {
    expect(
      await expectError(await post("/v1/fill-mask", { inputs: "no mask here." }), 422, "invalid_input"),
    ).toMatch(/mask/);
    await expectError(await post("/v1/generate", { inputs: ["a", "b"], stream: true }), 422, "invalid_input");
    await expectError(
      await post("/v1/generate", { inputs: "a", stream: true, num_beams: 2 }),
      422,
      "invalid_input",
    );
    await expectError(
      await post("/v1/generate", { inputs: "a", do_sample: true, num_beams: 2 }),
      422,
      "invalid_input",
    );
    await expectError(
      await post("/v1/classify", { inputs: ["a", "b"], text_pair: ["c"] }),
      422,
      "invalid_request",
    );
  });
});

describe("models, routes, methods", () => {
  it("unknown model → 404 model_not_found", async () => {
    await expectError(await post("/v1/embeddings", { input: "a", model: "gpt-9" }), 404, "model_not_found");
    await expectError(await get("/v1/models/gpt-9"), 404, "model_not_found");
  });

  it("a model that does not serve the task → 422 unsupported_task", async () => {
    await expectError(
      await post("/v1/generate", { inputs: "a", model: "bert-tiny" }),
      422,
      "unsupported_task",
    );
    await expectError(
      await post("/v1/embeddings", { input: "a", model: "t5-tiny-copy" }),
      422,
      "unsupported_task",
    );
  });

  it("unknown route → 404 not_found", async () => {
    await expectError(await get("/v2/embeddings"), 404, "not_found");
    await expectError(await post("/v1/nothing", {}), 404, "not_found");
  });

  it("wrong method → 405 with Allow", async () => {
    const res = await get("/v1/embeddings");
    expect(res.headers.get("Allow")).toContain("POST");
    await expectError(res, 405, "method_not_allowed");
    const del = await SELF.fetch(`${BASE}/v1/models`, { method: "DELETE" });
    expect(del.headers.get("Allow")).toContain("GET");
    await expectError(del, 405, "method_not_allowed");
    await expectError(await post("/healthz", {}), 405, "method_not_allowed");
  });

  it("errors carry the request id and Server-Timing too", async () => {
    const res = await post("/v1/embeddings", "{");
    expect(res.headers.get("X-Request-Id")).toBeTruthy();
    expect(res.headers.get("Server-Timing")).toMatch(/total;dur=/);
  });
});

describe("bearer auth (API_KEY set)", () => {
  const vars = { API_KEY: "s3cret-key" };
  const body = { input: "a cat" };

  it("missing key → 401 with WWW-Authenticate", async () => {
    const res = await fetchWith(vars, jsonRequest("/v1/embeddings", body));
    expect(res.headers.get("WWW-Authenticate")).toMatch(/^Bearer/);
    await expectError(res, 401, "unauthorized");
    await expectError(await fetchWith(vars, new Request(`${BASE}/v1/models`)), 401, "unauthorized");
  });

  it("wrong key or scheme → 401", async () => {
    await expectError(
      await fetchWith(vars, jsonRequest("/v1/embeddings", body, { Authorization: "Bearer nope" })),
      401,
      "unauthorized",
    );
    await expectError(
      await fetchWith(vars, jsonRequest("/v1/embeddings", body, { Authorization: "Basic czNjcmV0LWtleQ==" })),
      401,
      "unauthorized",
    );
  });

  it("right key → 200; health, OpenAPI and the playground stay public", async () => {
    const ok = await fetchWith(
      vars,
      jsonRequest("/v1/embeddings", body, { Authorization: "Bearer s3cret-key" }),
    );
    expect(ok.status).toBe(200);
    for (const p of ["/healthz", "/openapi.json", "/"]) {
      expect((await fetchWith(vars, new Request(`${BASE}${p}`))).status, p).toBe(200);
    }
  });
});

describe("configuration errors", () => {
  it("an invalid MODELS var → 503 misconfigured, not a crash", async () => {
    await expectError(
      await fetchWith({ MODELS: "[{" }, new Request(`${BASE}/v1/models`)),
      503,
      "misconfigured",
    );
    await expectError(
      await fetchWith(
        { MODELS: JSON.stringify([{ name: "x", tasks: ["dance"], source: "bundle:x" }]) },
        new Request(`${BASE}/v1/models`),
      ),
      503,
      "misconfigured",
    );
    await expectError(
      await fetchWith({ MAX_BATCH: "lots" }, new Request(`${BASE}/healthz`)),
      503,
      "misconfigured",
    );
  });
});
