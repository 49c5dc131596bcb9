// vitest configuration, two projects:
// - "node": unit, kernel, model, task and CLI tests in Node (plus the playground in headless Chromium,
//   test/e2e). On Node 20, relaxed SIMD sits behind a V8 flag: the test processes get it so the relaxed
//   build is tested too (Node 22 ships it).
// - "workers": the HTTP API inside workerd (@cloudflare/vitest-pool-workers, configured from
//   wrangler.toml: the same bundle rules, vars and R2 binding as `npm start`).
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

const nodeMajor = Number(process.versions.node.split(".")[0]);
const execArgv = nodeMajor === 20 ? ["--experimental-wasm-relaxed-simd"] : [];

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
            miniflare: { bindings: { LOG_LEVEL: "off" } },
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
