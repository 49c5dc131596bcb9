// `npm run serve`: the same app on Node (@hono/node-server). Vars come from wrangler.toml's [vars]
// (so limits and the models list are the same as under wrangler), overridden by environment
// variables of the same names. Model sources: "bundle:<folder>" reads MODELS_DIR/<folder> (default
// test/fixtures, where the bundled files come from), "dir:<path>" any local folder.
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { serve } from "@hono/node-server";
import { loadRuntime } from "../src/runtime/node.ts";
import type { FileReader } from "../src/tasks/load.ts";
import { createApp } from "./app.ts";
import { type Bindings, ConfigurationError } from "./config.ts";
import type { Platform } from "./models.ts";
import { parseSource, r2Reader } from "./sources.ts";

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

export function nodePlatform(modelsDir: string): Platform {
  return {
    name: "node",
    createRuntime: (relaxed) => loadRuntime({ relaxed }),
    reader(source, env) {
      const { kind, path } = parseSource(source);
      if (kind === "bundle") return dirReader(join(modelsDir, path));
      if (kind === "dir") return dirReader(isAbsolute(path) ? path : resolve(path));
      if (kind === "r2") return r2Reader(env.MODELS_BUCKET, path);
      throw new ConfigurationError(`unknown model source ${source}`);
    },
  };
}

/**
 * The [vars] table of a wrangler.toml: `KEY = "basic string"` and `KEY = '''multi-line literal'''`
 * (the forms our wrangler.toml uses), comments ignored.
 */
export function readWranglerVars(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  let inVars = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const section = /^\s*\[+([^\]]+)\]+\s*(#.*)?$/.exec(line);
    if (section) {
      inVars = section[1].trim() === "vars";
      continue;
    }
    if (!inVars) continue;
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    const [, key, rest] = m;
    if (rest.startsWith("'''")) {
      let body = rest.slice(3);
      while (!body.includes("'''") && i + 1 < lines.length) body += `\n${lines[++i]}`;
      vars[key] = body.slice(0, body.indexOf("'''")).replace(/^\n/, "");
    } else if (rest.startsWith('"')) {
      const s = /^"((?:[^"\\]|\\.)*)"/.exec(rest);
      if (s) vars[key] = JSON.parse(`"${s[1]}"`) as string;
    } else if (rest.startsWith("'")) {
      const s = /^'([^']*)'/.exec(rest);
      if (s) vars[key] = s[1];
    }
  }
  return vars;
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
  opts: { port?: number; hostname?: string; env?: Bindings; modelsDir?: string } = {},
) {
  const env = opts.env ?? nodeEnv();
  const app = createApp(
    nodePlatform(opts.modelsDir ?? process.env.MODELS_DIR ?? join(ROOT, "test/fixtures")),
  );
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
