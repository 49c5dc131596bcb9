// The package entry (src/index.ts) is enough for an app to run a model without Node-specific helpers:
// bytes in (as a Worker or browser would have them), a fill-mask answer out; and no module it reaches
// imports a Node built-in.
import { readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { describe, expect, it } from "vitest";
import * as edgeformer from "../src/index.ts";
import { WASM_URL } from "../src/runtime/node.ts";
import { fixturePath } from "./helpers/fixtures.ts";

describe("public API (src/index.ts)", () => {
  it("loads BERT from bytes and fills a mask", async () => {
    const rt = await edgeformer.createRuntime({ simd: readFileSync(WASM_URL) });
    const store = edgeformer.TensorStore.fromBytes([
      { bytes: readFileSync(fixturePath("bert_tiny/model.safetensors")), name: "model.safetensors" },
    ]);
    const config = edgeformer.bertConfigFromJson(
      JSON.parse(readFileSync(fixturePath("bert_tiny/config.json"), "utf8")),
    );
    const model = new edgeformer.BertModel(rt, config, store, { dtype: "int8" });
    const tokenizer = edgeformer.loadTokenizerFromFiles({
      tokenizerJson: readFileSync(fixturePath("tok/bert/tokenizer.json"), "utf8"),
    });
    const [[cands]] = edgeformer.fillMask({ model, tokenizer }, ["the [MASK] sat."], { topK: 2 });
    expect(cands).toHaveLength(2);
    expect(cands[0].score).toBeGreaterThanOrEqual(cands[1].score);
  });

  it("reaches no Node built-in module from the entry", () => {
    const root = new URL("../", import.meta.url).pathname;
    const seen = new Set<string>();
    const queue = [join(root, "src/index.ts")];
    while (queue.length) {
      const file = queue.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      const text = readFileSync(file, "utf8");
      expect(text, file).not.toMatch(/from "node:|require\("node:/);
      for (const m of text.matchAll(/from "(\.[^"]+\.ts)"/g))
        queue.push(normalize(join(dirname(file), m[1])));
    }
    expect(seen.size).toBeGreaterThan(20);
  });
});
