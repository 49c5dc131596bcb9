// `npm run serve`: the same app on Node (@hono/node-server), vars from wrangler.toml. With the fixture
// list (test/worker/fixture-models.json) the "bundle:" folders come from test/fixtures: answers equal
// the tasks run directly on the same folders, and the server-sent event stream arrives over a real
// socket and matches the non-streamed output. With wrangler.toml's own list, the embedded default
// models are read from models/ (bundle folders are looked up in models/, then test/fixtures/).
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadBertPipelineDir } from "../../src/models/load-node.ts";
import { fillMask } from "../../src/tasks/fill-mask.ts";
import { DEFAULT_LIMITS, readConfig } from "../../worker/config.ts";
import { ROOT } from "../../worker/dev.ts";
import {
  bundleFolder,
  DEFAULT_MODELS_DIRS,
  modelsDirs,
  nodeEnv,
  readWranglerVars,
  startNodeServer,
} from "../../worker/node.ts";
import { fixturePath } from "../helpers/fixtures.ts";

const FIXTURE_MODELS = readFileSync(join(ROOT, "test/worker/fixture-models.json"), "utf8");
const DEFAULT_NAMES = ["bert-wordnet", "bert-wordnet-pos", "t5-wordnet"];

const post = (url: string, body: unknown) =>
  fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });

describe("wrangler.toml", () => {
  it("[vars] hold every limit at its documented default and a valid models list", () => {
    const vars = readWranglerVars(readFileSync(new URL("../../wrangler.toml", import.meta.url), "utf8"));
    const config = readConfig(vars);
    expect(config.limits).toEqual(DEFAULT_LIMITS);
    expect(config.models.map((m) => m.name)).toEqual(DEFAULT_NAMES);
    for (const m of config.models) expect(m.dtype).toBe("int8"); // the shipped checkpoints are int8
    expect(config.models[1].adapter).toBe("bundle:bert-wordnet-pos");
    expect(vars.CORS_ORIGINS).toBe("*");
    expect(readConfig({ MODELS: FIXTURE_MODELS }).models.map((m) => m.name)).toEqual([
      "bert-tiny",
      "bert-tiny-int8",
      "bert-tiny-classifier",
      "t5-tiny-copy",
    ]);
  });

  it("environment variables override the vars", () => {
    expect(readConfig(nodeEnv({ MAX_BATCH: "3" })).limits.maxBatch).toBe(3);
  });
});

describe("bundle folders under Node", () => {
  it("MODELS_DIR: default models/ then test/fixtures/; a ':'-separated list otherwise", () => {
    expect(DEFAULT_MODELS_DIRS).toEqual([join(ROOT, "models"), join(ROOT, "test/fixtures")]);
    expect(modelsDirs(undefined)).toBe(DEFAULT_MODELS_DIRS);
    expect(modelsDirs("")).toBe(DEFAULT_MODELS_DIRS);
    expect(modelsDirs("/a:/b/c")).toEqual(["/a", "/b/c"]);
  });

  it("a folder is read from the first directory that has it", () => {
    expect(bundleFolder(DEFAULT_MODELS_DIRS, "bert-wordnet")).toBe(join(ROOT, "models/bert-wordnet"));
    expect(bundleFolder(DEFAULT_MODELS_DIRS, "tok/bert")).toBe(join(ROOT, "test/fixtures/tok/bert"));
    expect(bundleFolder(DEFAULT_MODELS_DIRS, "nowhere")).toBe(join(ROOT, "models/nowhere"));
    const fixturesFirst = [join(ROOT, "test/fixtures"), join(ROOT, "models")];
    expect(bundleFolder(fixturesFirst, "bert_tiny")).toBe(join(ROOT, "test/fixtures/bert_tiny"));
    expect(bundleFolder(fixturesFirst, "t5-wordnet")).toBe(join(ROOT, "models/t5-wordnet"));
  });
});

async function listen(env: ReturnType<typeof nodeEnv>) {
  const server = startNodeServer({ port: 0, env });
  await new Promise<void>((r) => server.once("listening", () => r()));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe("npm run serve (Node), fixture models", () => {
  let server: ReturnType<typeof startNodeServer>;
  let url: string;

  beforeAll(async () => {
    ({ server, url } = await listen(nodeEnv({ LOG_LEVEL: "off", MODELS: FIXTURE_MODELS })));
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

describe("npm run serve (Node), the default models", () => {
  let server: ReturnType<typeof startNodeServer>;
  let url: string;

  beforeAll(async () => {
    ({ server, url } = await listen(nodeEnv({ LOG_LEVEL: "off" })));
  });

  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("lists the defaults and serves them from models/", async () => {
    const models = (await (await fetch(`${url}/v1/models`)).json()) as { data: { id: string }[] };
    expect(models.data.map((m) => m.id)).toEqual(DEFAULT_NAMES);
    const text = "a dog is a kind of [MASK].";
    const res = await post(`${url}/v1/fill-mask`, { inputs: text });
    expect(res.status).toBe(200);
    const p = await loadBertPipelineDir(join(ROOT, "models/bert-wordnet"), { dtype: "int8" });
    expect(await res.json()).toEqual(fillMask(p, [text], { topK: 5 })[0][0]);

    const cls = (await (
      await post(`${url}/v1/classify`, { inputs: "a building where people live", top_k: 4 })
    ).json()) as { label: string }[];
    expect(cls.map((c) => c.label).sort()).toEqual(["adjective", "adverb", "noun", "verb"]);
    const gen = (await (await post(`${url}/v1/generate`, { inputs: "define: house" })).json()) as {
      generated_text: string;
    }[];
    expect(gen[0].generated_text.trim().length).toBeGreaterThan(0);
  });
});
