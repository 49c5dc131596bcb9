// `npm run serve`: the same app on Node (@hono/node-server). Vars come from wrangler.toml's [vars]
// (so limits and the models list are the same as under wrangler), overridden by environment
// variables of the same names. Model sources: "bundle:<folder>" reads <folder> from the first of the
// models directories that has it — MODELS_DIR (a list separated by ":", ";" on Windows; default
// models/ then test/fixtures/ of the repository, the folders worker/bundle.ts embeds) — "dir:<path>"
// any local folder.
import { existsSync, readFileSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { delimiter, dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { serve } from "@hono/node-server";
import { loadRuntime } from "../src/runtime/node.ts";
import type { FileReader } from "../src/tasks/load.ts";
import { createApp } from "./app.ts";
import { type Bindings, ConfigurationError } from "./config.ts";
import type { Platform } from "./models.ts";
import { parseSource, r2Reader } from "./sources.ts";
import { readWranglerVars } from "./wrangler-vars.ts";

export { readWranglerVars };

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export function dirReader(dir: string): FileReader {
  return async (name) => {
    try {
      const b = await readFile(join(dir, name));
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  };
}

/** Where "bundle:" folders are looked up by default, in order (the folders worker/bundle.ts embeds). */
export const DEFAULT_MODELS_DIRS = [join(ROOT, "models"), join(ROOT, "test/fixtures")];

/** MODELS_DIR as a list of directories (path.delimiter-separated, relative to the working directory). */
export function modelsDirs(value: string | undefined): string[] {
  if (value === undefined || value.trim() === "") return DEFAULT_MODELS_DIRS;
  return value
    .split(delimiter)
    .filter((d) => d.trim() !== "")
    .map((d) => resolve(d));
}

const isDir = (path: string) => existsSync(path) && statSync(path).isDirectory();

/** The folder "bundle:<folder>" names: in the first of `dirs` that has it (else the first, for the error). */
export function bundleFolder(dirs: string[], folder: string): string {
  for (const d of dirs) if (isDir(join(d, folder))) return join(d, folder);
  return join(dirs[0], folder);
}

export function nodePlatform(modelsDir: string | string[] = DEFAULT_MODELS_DIRS): Platform {
  const dirs = typeof modelsDir === "string" ? [modelsDir] : modelsDir;
  if (dirs.length === 0) throw new ConfigurationError("no models directory given");
  return {
    name: "node",
    createRuntime: (relaxed) => loadRuntime({ relaxed }),
    reader(source, env) {
      const { kind, path } = parseSource(source);
      if (kind === "bundle") return dirReader(bundleFolder(dirs, path));
      if (kind === "dir") return dirReader(isAbsolute(path) ? path : resolve(path));
      if (kind === "r2") return r2Reader(env.MODELS_BUCKET, path);
      throw new ConfigurationError(`unknown model source ${source}`);
    },
  };
}

const BINDING_NAMES: (keyof Bindings)[] = [
  "MODELS",
  "MAX_BODY_BYTES",
  "MAX_BATCH",
  "MAX_INPUT_TOKENS",
  "MAX_NEW_TOKENS",
  "MAX_BEAMS",
  "MAX_TOP_K",
  "RETRY_AFTER_SECONDS",
  "CORS_ORIGINS",
  "API_KEY",
  "RELAXED_SIMD",
  "LOG_LEVEL",
];

/** wrangler.toml's vars overridden by process.env. */
export function nodeEnv(environ: NodeJS.ProcessEnv = process.env): Bindings {
  const vars = readWranglerVars(readFileSync(join(ROOT, "wrangler.toml"), "utf8"));
  const env: Record<string, string> = { ...vars };
  for (const k of BINDING_NAMES) {
    const v = environ[k];
    if (v !== undefined) env[k] = v;
  }
  return env as Bindings;
}

export function startNodeServer(
  opts: { port?: number; hostname?: string; env?: Bindings; modelsDir?: string | string[] } = {},
) {
  const env = opts.env ?? nodeEnv();
  const app = createApp(nodePlatform(opts.modelsDir ?? modelsDirs(process.env.MODELS_DIR)));
  return serve({
    fetch: (req) => app.fetch(req, env),
    port: opts.port ?? Number(process.env.PORT ?? 8787),
    hostname: opts.hostname ?? process.env.HOST ?? "127.0.0.1",
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const server = startNodeServer();
  server.on("listening", () => {
    const a = server.address();
    const where = typeof a === "object" && a ? `http://${a.address}:${a.port}` : String(a);
    console.log(JSON.stringify({ level: "info", msg: `edgeformer (node) listening on ${where}` }));
  });
  for (const sig of ["SIGINT", "SIGTERM"] as const)
    process.on(sig, () => server.close(() => process.exit(0)));
}
