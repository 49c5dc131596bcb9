// vitest configuration, two projects:
// - "node": unit, kernel, model, task and CLI tests in Node (plus the playground in headless Chromium,
//   test/e2e). On Node 20, relaxed SIMD sits behind a V8 flag: the test processes get it so the relaxed
//   build is tested too (Node 22 ships it).
// - "workers": the HTTP API inside workerd (@cloudflare/vitest-pool-workers, configured from
//   wrangler.toml: the same bundle rules, vars and R2 binding as `npm start`), except that MODELS is the
//   list of tiny test fixtures (test/worker/fixture-models.json, also bundled); wrangler.toml's own
//   MODELS list (the embedded default models) is there as DEFAULT_MODELS for the tests of the defaults.
import { readFileSync } from "node:fs";
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { readWranglerVars } from "./worker/wrangler-vars.ts";

const nodeMajor = Number(process.versions.node.split(".")[0]);
const execArgv = nodeMajor === 20 ? ["--experimental-wasm-relaxed-simd"] : [];

const fixtureModels = readFileSync(new URL("./test/worker/fixture-models.json", import.meta.url), "utf8");
const defaultModels = readWranglerVars(
  readFileSync(new URL("./wrangler.toml", import.meta.url), "utf8"),
).MODELS;
if (!defaultModels) throw new Error("wrangler.toml has no MODELS in [vars]");

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "node",
          include: ["test/**/*.test.ts"],
          exclude: ["test/worker/**"],
          testTimeout: 60_000,
          pool: "forks",
          execArgv,
        },
      },
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: { LOG_LEVEL: "off", MODELS: fixtureModels, DEFAULT_MODELS: defaultModels },
            },
          }),
        ],
        test: {
          name: "workers",
          include: ["test/worker/**/*.test.ts"],
          testTimeout: 60_000,
        },
      },
    ],
  },
});
