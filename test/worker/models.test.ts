// Model loading inside workerd: from R2 (same answers as from the bundle), one load for concurrent
// first requests, and 503 + Retry-After (not a crash) for a model that cannot load.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { FileReader } from "../../src/tasks/load.ts";
import { createApp } from "../../worker/app.ts";
import { BUNDLE } from "../../worker/bundle.ts";
import { workersPlatform } from "../../worker/index.ts";
import { bundleFile } from "../../worker/sources.ts";
import { BASE, expectError, fetchWith, json, jsonRequest } from "./helpers.ts";

const embedBody = { input: ["a cat sat on the mat.", "hello"] };

describe("R2 model source", () => {
  it("serves a model folder from the MODELS_BUCKET binding, same answers as the bundle", async () => {
    for (const path of Object.keys(BUNDLE)) {
      if (path.startsWith("bert_tiny/") || path.startsWith("tok/bert/"))
        await env.MODELS_BUCKET.put(`models/${path}`, (await bundleFile(BUNDLE, path))!);
    }
    const MODELS = JSON.stringify([
      {
        name: "bert-r2",
        tasks: ["embeddings", "fill-mask"],
        source: "r2:models/bert_tiny",
        tokenizer: "r2:models/tok/bert",
      },
    ]);
    const fromR2 = await json<{ data: { embedding: number[] }[]; model: string }>(
      await fetchWith({ MODELS }, jsonRequest("/v1/embeddings", embedBody)),
    );
    expect(fromR2.model).toBe("bert-r2");
    const fromBundle = await json<{ data: { embedding: number[] }[] }>(
      await fetchWith({}, jsonRequest("/v1/embeddings", { ...embedBody, model: "bert-tiny" })),
    );
    expect(fromR2.data).toEqual(fromBundle.data);
  });
});

describe("loading", () => {
  it("concurrent first requests trigger one load", async () => {
    let configReads = 0;
    const app = createApp({
      ...workersPlatform,
      reader(source, e) {
        const read = workersPlatform.reader(source, e);
        const counted: FileReader = (name) => {
          if (name === "config.json") configReads++;
          return read(name);
        };
        return counted;
      },
    });
    const vars = { ...env, LOG_LEVEL: "off" };
    const responses = await Promise.all(
      Array.from({ length: 6 }, () => app.fetch(jsonRequest("/v1/embeddings", embedBody), vars)),
    );
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(configReads).toBe(1);
    const models = await json<{ data: { id: string; status: string; weight_bytes?: number }[] }>(
      await app.fetch(new Request(`${BASE}/v1/models`), vars),
    );
    const m = models.data.find((d) => d.id === "bert-tiny")!;
    expect(m.status).toBe("loaded");
    expect(m.weight_bytes).toBeGreaterThan(900_000);
    const health = await json<{ loaded: string[]; runtime: { wasm_memory_bytes: number } }>(
      await app.fetch(new Request(`${BASE}/healthz`), vars),
    );
    expect(health.loaded).toEqual(["bert-tiny"]);
    expect(health.runtime.wasm_memory_bytes).toBeGreaterThan(m.weight_bytes!);
  });

  it("a model that cannot load → 503 with Retry-After, remembered until then; other models still serve", async () => {
    const MODELS = JSON.stringify([
      { name: "broken", tasks: ["embeddings"], source: "r2:nowhere/bert", tokenizer: "bundle:tok/bert" },
      { name: "bert-tiny", tasks: ["embeddings"], source: "bundle:bert_tiny", tokenizer: "bundle:tok/bert" },
    ]);
    const vars = { MODELS, RETRY_AFTER_SECONDS: "7" };
    const res = await fetchWith(vars, jsonRequest("/v1/embeddings", { input: "a", model: "broken" }));
    expect(res.headers.get("Retry-After")).toBe("7");
    expect(await expectError(res, 503, "model_unavailable")).toMatch(/config\.json: file not found/);
    const again = await fetchWith(vars, jsonRequest("/v1/embeddings", { input: "a", model: "broken" }));
    expect(Number(again.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
    await expectError(again, 503, "model_unavailable");
    const list = await json<{ data: { id: string; status: string; error?: string }[] }>(
      await fetchWith(vars, new Request(`${BASE}/v1/models`)),
    );
    expect(list.data[0]).toMatchObject({ id: "broken", status: "failed" });
    const ok = await fetchWith(vars, jsonRequest("/v1/embeddings", { input: "a", model: "bert-tiny" }));
    expect(ok.status).toBe(200);
  });

  it("a checkpoint that cannot serve its configured task → 503", async () => {
    const MODELS = JSON.stringify([
      {
        name: "no-classifier",
        tasks: ["classify"],
        source: "bundle:bert_tiny",
        tokenizer: "bundle:tok/bert",
      },
    ]);
    const res = await fetchWith({ MODELS }, jsonRequest("/v1/classify", { inputs: "a" }));
    expect(await expectError(res, 503, "model_unavailable")).toMatch(/classify/);
  });
});
