// Adapters served by the worker, inside workerd: a model lists adapter folders (MODELS[].adapters) and a
// request names one (field "adapter"); the bundled bert_tiny_adapter (a 2-label head trained with
// Houlsby adapters on marker words, see test/fixtures/bert_tiny_adapter) turns the plain bert-tiny into
// a classifier, changes its embeddings but serves fill-mask too, and leaves requests without the
// adapter untouched; unknown adapters, adapters on a model that does not fit them, and malformed names
// are clear errors; GET /v1/models lists the adapters. A model may load an adapter by default
// (MODELS[].adapter): requests naming none get it, a named adapter replaces it.
import { describe, expect, it } from "vitest";
import { expectError, fetchWith, json, jsonRequest } from "./helpers.ts";

const MODELS = JSON.stringify([
  {
    name: "bert-tiny",
    tasks: ["fill-mask", "embeddings"],
    source: "bundle:bert_tiny",
    tokenizer: "bundle:tok/bert",
    adapters: { markers: "bundle:bert_tiny_adapter", broken: "r2:nowhere/adapter" },
  },
  {
    name: "t5-tiny-copy",
    tasks: ["generate"],
    source: "bundle:t5_tiny_copy",
    tokenizer: "bundle:tok/t5",
    adapters: { wrong: "bundle:bert_tiny_adapter" },
  },
]);
const vars = { MODELS, RETRY_AFTER_SECONDS: "1" };
const call = (path: string, body: unknown) => fetchWith(vars, jsonRequest(path, body));

type Scores = { label: string; score: number }[][];

describe("adapters on the worker", () => {
  it("a request naming an adapter gets the adapted classifier", async () => {
    const texts = [
      "money",
      "fruit",
      "book money land",
      "cut fruit design",
      "land design money cut",
      "follow fruit",
      "english number money",
      "around name fruit control",
    ];
    const want = texts.map((t) => (t.includes("money") ? "finance" : "food"));
    const r = await json<Scores>(
      await call("/v1/classify", { inputs: texts, model: "bert-tiny", adapter: "markers", top_k: 2 }),
    );
    expect(r.map((x) => x[0].label)).toEqual(want);
    for (const x of r) {
      expect(x.map((s) => s.label).sort()).toEqual(["finance", "food"]);
      expect(x[0].score).toBeGreaterThan(0.8);
      expect(x[0].score + x[1].score).toBeCloseTo(1, 6);
    }
    // without a model name: the first model that has the adapter
    const byAdapter = await json<Scores>(
      await call("/v1/classify", { inputs: texts, adapter: "markers", top_k: 2 }),
    );
    expect(byAdapter).toEqual(r);
  });

  it("changes the embeddings, keeps the base's MLM head, and leaves plain requests untouched", async () => {
    const body = { input: ["money cut land", "follow fruit"] };
    type Emb = { data: { embedding: number[] }[]; model: string };
    const [plain, adapted, reference] = await Promise.all([
      json<Emb>(await call("/v1/embeddings", { ...body, model: "bert-tiny" })),
      json<Emb>(await call("/v1/embeddings", { ...body, model: "bert-tiny", adapter: "markers" })),
      json<Emb>(await fetchWith({}, jsonRequest("/v1/embeddings", { ...body, model: "bert-tiny" }))),
    ]);
    expect(plain.data).toEqual(reference.data);
    expect(adapted.model).toBe("bert-tiny+markers");
    const diff = Math.max(
      ...adapted.data[0].embedding.map((v, i) => Math.abs(v - plain.data[0].embedding[i])),
    );
    expect(diff).toBeGreaterThan(1e-3);
    const fill = await json<{ token_str: string }[]>(
      await call("/v1/fill-mask", { inputs: "book [MASK] land", model: "bert-tiny", adapter: "markers" }),
    );
    expect(fill.length).toBe(5);
    // the plain model still does not classify
    await expectError(
      await call("/v1/classify", { inputs: "money", model: "bert-tiny" }),
      422,
      "unsupported_task",
    );
  });

  it("errors: unknown adapter 404, a model without it 404, an adapter that does not fit 503, bad names 422", async () => {
    expect(
      await expectError(
        await call("/v1/classify", { inputs: "money", model: "bert-tiny", adapter: "nope" }),
        404,
        "adapter_not_found",
      ),
    ).toMatch(/model bert-tiny has no adapter "nope" \(it has markers, broken\)/);
    expect(
      await expectError(
        await call("/v1/classify", { inputs: "money", adapter: "nope" }),
        404,
        "adapter_not_found",
      ),
    ).toMatch(/no configured model has an adapter "nope"/);
    expect(
      await expectError(
        await call("/v1/generate", { inputs: "copy", model: "t5-tiny-copy", adapter: "wrong" }),
        503,
        "model_unavailable",
      ),
    ).toMatch(
      /model t5-tiny-copy with adapter wrong is not available: adapter was trained on a bert model but the base model is "t5"/,
    );
    expect(
      await expectError(
        await call("/v1/embeddings", { input: "a", model: "bert-tiny", adapter: "broken" }),
        503,
        "model_unavailable",
      ),
    ).toMatch(/adapter adapter_config\.json: file not found/);
    await expectError(
      await call("/v1/classify", { inputs: "money", model: "bert-tiny", adapter: "../x" }),
      422,
      "invalid_request",
    );
    // a generation request to a BERT adapter: the adapted model is BERT
    await expectError(
      await call("/v1/generate", { inputs: "a", model: "bert-tiny", adapter: "markers" }),
      422,
      "unsupported_task",
    );
  });

  it("GET /v1/models lists each model's adapters; bad adapter config is a configuration error", async () => {
    const models = await json<{ data: { id: string; adapters?: string[] }[] }>(
      await fetchWith(vars, new Request("http://edgeformer.test/v1/models")),
    );
    expect(models.data.find((m) => m.id === "bert-tiny")!.adapters).toEqual(["markers", "broken"]);
    const bad = JSON.stringify([
      { name: "m", tasks: ["embeddings"], source: "bundle:bert_tiny", adapters: { a: "http://x" } },
    ]);
    expect(
      await expectError(
        await fetchWith({ MODELS: bad }, jsonRequest("/v1/embeddings", { input: "a" })),
        503,
        "misconfigured",
      ),
    ).toMatch(/MODELS\[0\.adapters\.a\]: adapter source must be/);
  });

  it("a default adapter (MODELS[].adapter) serves requests that name none; a named one replaces it", async () => {
    const withDefault = JSON.stringify([
      {
        name: "markers-by-default",
        tasks: ["classify", "embeddings"],
        source: "bundle:bert_tiny",
        tokenizer: "bundle:tok/bert",
        adapter: "bundle:bert_tiny_adapter",
        adapters: { broken: "r2:nowhere/adapter" },
      },
      {
        name: "missing-default",
        tasks: ["embeddings"],
        source: "bundle:bert_tiny",
        tokenizer: "bundle:tok/bert",
        adapter: "r2:nowhere/adapter",
      },
    ]);
    const dvars = { MODELS: withDefault, RETRY_AFTER_SECONDS: "1" };
    const texts = ["book money land", "cut fruit design"];
    const byDefault = await json<Scores>(
      await fetchWith(dvars, jsonRequest("/v1/classify", { inputs: texts, top_k: 2 })),
    );
    const named = await json<Scores>(
      await call("/v1/classify", { inputs: texts, model: "bert-tiny", adapter: "markers", top_k: 2 }),
    );
    expect(byDefault).toEqual(named);
    expect(byDefault.map((x) => x[0].label)).toEqual(["finance", "food"]);
    // the embeddings are the adapted model's, under the model's own name
    const emb = await json<{ data: { embedding: number[] }[]; model: string }>(
      await fetchWith(dvars, jsonRequest("/v1/embeddings", { input: texts })),
    );
    const adapted = await json<{ data: { embedding: number[] }[] }>(
      await call("/v1/embeddings", { input: texts, model: "bert-tiny", adapter: "markers" }),
    );
    expect(emb.model).toBe("markers-by-default");
    expect(emb.data).toEqual(adapted.data);
    // a named adapter is loaded instead of the default one (here: one that cannot load)
    expect(
      await expectError(
        await fetchWith(dvars, jsonRequest("/v1/classify", { inputs: "money", adapter: "broken" })),
        503,
        "model_unavailable",
      ),
    ).toMatch(/model markers-by-default with adapter broken is not available: adapter adapter_config\.json/);
    // a default adapter that cannot load makes the model unavailable
    expect(
      await expectError(
        await fetchWith(dvars, jsonRequest("/v1/embeddings", { input: "a", model: "missing-default" })),
        503,
        "model_unavailable",
      ),
    ).toMatch(/model missing-default is not available: adapter adapter_config\.json: file not found/);
    // without its default adapter, the base checkpoint does not classify
    const noDefault = JSON.stringify([
      { name: "plain", tasks: ["classify"], source: "bundle:bert_tiny", tokenizer: "bundle:tok/bert" },
    ]);
    expect(
      await expectError(
        await fetchWith({ MODELS: noDefault }, jsonRequest("/v1/classify", { inputs: "money" })),
        503,
        "model_unavailable",
      ),
    ).toMatch(/configured for classify but its checkpoint serves/);
    const bad = JSON.stringify([
      { name: "m", tasks: ["embeddings"], source: "bundle:bert_tiny", adapter: "bert_tiny_adapter" },
    ]);
    expect(
      await expectError(
        await fetchWith({ MODELS: bad }, jsonRequest("/v1/embeddings", { input: "a" })),
        503,
        "misconfigured",
      ),
    ).toMatch(/MODELS\[0\.adapter\]: adapter must be "bundle:<folder>"/);
  });
});
