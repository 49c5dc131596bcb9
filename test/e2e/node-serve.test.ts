// `npm run serve`: the same app on Node (@hono/node-server), vars from wrangler.toml, "bundle:" model
// folders read from test/fixtures. Answers equal the tasks run directly on the same folders; the
// server-sent event stream arrives over a real socket and matches the non-streamed output.
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadBertPipelineDir } from "../../src/models/load-node.ts";
import { fillMask } from "../../src/tasks/fill-mask.ts";
import { DEFAULT_LIMITS, readConfig } from "../../worker/config.ts";
import { nodeEnv, readWranglerVars, startNodeServer } from "../../worker/node.ts";
import { fixturePath } from "../helpers/fixtures.ts";

const post = (url: string, body: unknown) =>
  fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });

describe("wrangler.toml", () => {
  it("[vars] hold every limit at its documented default and a valid models list", () => {
    const vars = readWranglerVars(readFileSync(new URL("../../wrangler.toml", import.meta.url), "utf8"));
    const config = readConfig(vars);
    expect(config.limits).toEqual(DEFAULT_LIMITS);
    expect(config.models.map((m) => m.name)).toEqual([
      "bert-tiny",
      "bert-tiny-int8",
      "bert-tiny-classifier",
      "t5-tiny-copy",
    ]);
    expect(vars.CORS_ORIGINS).toBe("*");
  });

  it("environment variables override the vars", () => {
    expect(readConfig(nodeEnv({ MAX_BATCH: "3" })).limits.maxBatch).toBe(3);
  });
});

describe("npm run serve (Node)", () => {
  let server: ReturnType<typeof startNodeServer>;
  let url: string;

  beforeAll(async () => {
    server = startNodeServer({ port: 0, env: nodeEnv({ LOG_LEVEL: "off" }) });
    await new Promise<void>((r) => server.once("listening", () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("serves health, models and fill-mask equal to the task on the same folder", async () => {
    const health = (await (await fetch(`${url}/healthz`)).json()) as { platform: string; models: number };
    expect(health).toMatchObject({ platform: "node", models: 4 });
    const text = "the man went to the [MASK] to buy milk.";
    const res = await post(`${url}/v1/fill-mask`, { inputs: text, top_k: 4 });
    expect(res.status).toBe(200);
    expect(res.headers.get("Server-Timing")).toMatch(/tokenize;dur=[\d.]+, model;dur=[\d.]+, post;dur=/);
    const p = await loadBertPipelineDir(fixturePath("bert_tiny"), { tokenizerDir: fixturePath("tok/bert") });
    expect(await res.json()).toEqual(fillMask(p, [text], { topK: 4 })[0][0]);
  });

  it("streams /v1/generate over a socket, one event per token, equal to the plain answer", async () => {
    const req = { inputs: "the cat is on the mat.", max_new_tokens: 20 };
    const [plain] = (await (await post(`${url}/v1/generate`, req)).json()) as { generated_text: string }[];
    const res = await post(`${url}/v1/generate`, { ...req, stream: true });
    expect(res.headers.get("Content-Type")).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let buf = "";
    let chunks = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      chunks++;
      buf += dec.decode(value, { stream: true });
    }
    const events = buf
      .split("\n\n")
      .filter((b) => b.startsWith("data:"))
      .map((b) => JSON.parse(b.slice(5)) as { token: { text: string }; generated_text: string | null });
    expect(chunks).toBeGreaterThan(1); // tokens left the server one by one
    expect(events.map((e) => e.token.text).join("")).toBe(plain.generated_text);
    expect(events.at(-1)!.generated_text).toBe(plain.generated_text);
  });

  it("bad input is a 4xx with the error shape", async () => {
    const res = await post(`${url}/v1/embeddings`, { input: [] });
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ error: { code: "invalid_request" } });
  });
});
