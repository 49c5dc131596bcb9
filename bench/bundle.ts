// One JavaScript file of edgeformer's public API (src/index.ts plus the Node file loader fileSource /
// openTensors of `edgeformer/node`, bundled by esbuild, which tsx brings along) for the benchmarks'
// child processes (startup-child.mjs, e2e-child.mjs): they import it the way a deployed Node app
// imports its bundle, so their cold start does not include compiling TypeScript.
// Written to bench/.cache/edgeformer.bundle.mjs on every call (esbuild takes well under a second).
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PERF_CACHE_DIR } from "./ort-models.ts";

export const BUNDLE_PATH = join(PERF_CACHE_DIR, "edgeformer.bundle.mjs");

export async function bundleEdgeformer(): Promise<string> {
  let esbuild: typeof import("esbuild");
  try {
    esbuild = await import("esbuild");
  } catch (err) {
    throw new Error(`esbuild (a dependency of tsx) is not installed: run npm ci (${(err as Error).message})`);
  }
  mkdirSync(PERF_CACHE_DIR, { recursive: true });
  await esbuild.build({
    stdin: {
      contents: [
        'export * from "./src/index.ts";',
        'export { fileSource, openTensors } from "./src/models/checkpoint-node.ts";',
      ].join("\n"),
      resolveDir: fileURLToPath(new URL("..", import.meta.url)),
      sourcefile: "edgeformer-bench-entry.ts",
      loader: "ts",
    },
    bundle: true,
    format: "esm",
    platform: "node",
    target: "es2022",
    minify: true,
    outfile: BUNDLE_PATH,
    logLevel: "warning",
  });
  return BUNDLE_PATH;
}
