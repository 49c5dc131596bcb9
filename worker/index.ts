// Cloudflare Workers entry: the kernels arrive as compiled WebAssembly.Modules (Workers refuse to
// compile bytes at run time), model files from the bundle (worker/bundle.ts) or the MODELS_BUCKET R2
// binding.

import simd from "../build/edgeformer.wasm";
import relaxedSimd from "../build/edgeformer-relaxed.wasm";
import { createRuntime } from "../src/runtime/load.ts";
import { createApp } from "./app.ts";
import { BUNDLE } from "./bundle.ts";
import { ConfigurationError } from "./config.ts";
import type { Platform } from "./models.ts";
import { bundleReader, parseSource, r2Reader } from "./sources.ts";

export const workersPlatform: Platform = {
  name: "workers",
  createRuntime: (relaxed) => createRuntime({ simd, relaxedSimd, relaxed }),
  reader(source, env) {
    const { kind, path } = parseSource(source);
    if (kind === "bundle") return bundleReader(BUNDLE, path);
    if (kind === "r2") return r2Reader(env.MODELS_BUCKET, path);
    throw new ConfigurationError(
      `model source ${source}: dir: sources exist only under Node (npm run serve)`,
    );
  },
};

const app = createApp(workersPlatform);

export default app;
