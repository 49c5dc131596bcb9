// `npm start`: `wrangler dev` on 127.0.0.1 (port PORT, default 8787), offline and without a login
// (no metrics, no Request.cf download), after building the kernels if build/ has none yet. Also used by
// the browser test and the serve benchmark (startDevServer) to run the real worker in workerd.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const WRANGLER = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");

/** Environment for wrangler: offline, no telemetry, no prompts. */
export function wranglerEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    WRANGLER_SEND_METRICS: "false",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    ...extra,
  };
}

export function ensureWasm(): void {
  if (
    existsSync(join(ROOT, "build", "edgeformer.wasm")) &&
    existsSync(join(ROOT, "build", "edgeformer-relaxed.wasm"))
  )
    return;
  const r = spawnSync("npm", ["run", "build:wasm"], {
    cwd: ROOT,
    stdio: "inherit",
    shell: process.platform === "win32",
  });
  if (r.status !== 0) throw new Error("npm run build:wasm failed");
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface DevServer {
  url: string;
  port: number;
  process: ChildProcess;
  /** Output so far (stdout + stderr), for error messages. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts `wrangler dev --ip 127.0.0.1 --port <port>` and resolves once /healthz answers. `vars` are
 * passed with --var (they override wrangler.toml's); `persistTo` keeps local R2 data there.
 */
export async function startDevServer(
  opts: {
    port: number;
    vars?: Record<string, string>;
    persistTo?: string;
    timeoutMs?: number;
    quiet?: boolean;
    /** DevTools port of the worker (default: a free port; wrangler's own default 9229 cannot be shared). */
    inspectorPort?: number;
  } = { port: 8787 },
): Promise<DevServer> {
  ensureWasm();
  const args = [
    WRANGLER,
    "dev",
    "--ip",
    "127.0.0.1",
    "--port",
    String(opts.port),
    "--show-interactive-dev-session=false",
    "--log-level",
    opts.quiet ? "warn" : "info",
  ];
  if (opts.persistTo) args.push("--persist-to", opts.persistTo);
  args.push("--inspector-port", String(opts.inspectorPort ?? (await freePort())));
  for (const [k, v] of Object.entries(opts.vars ?? {})) args.push("--var", `${k}:${v}`);
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: wranglerEnv(),
    stdio: ["ignore", "pipe", "pipe"],
    detached: process.platform !== "win32", // its own process group, so stop() ends workerd too
  });
  let out = "";
  child.stdout?.on("data", (d) => {
    out += d;
  });
  child.stderr?.on("data", (d) => {
    out += d;
  });
  const url = `http://127.0.0.1:${opts.port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    try {
      if (child.pid && process.platform !== "win32") process.kill(-child.pid, "SIGTERM");
      else child.kill("SIGTERM");
    } catch {
      // already gone
    }
    const timer = setTimeout(() => {
      try {
        if (child.pid && process.platform !== "win32") process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }, 5000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode}):\n${out}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev did not answer on ${url} in time:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, port: opts.port, process: child, output: () => out, stop };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  ensureWasm();
  const port = process.env.PORT ?? "8787";
  const child = spawn(
    process.execPath,
    [WRANGLER, "dev", "--ip", "127.0.0.1", "--port", port, ...process.argv.slice(2)],
    { cwd: ROOT, env: wranglerEnv(), stdio: "inherit" },
  );
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => child.kill(sig));
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}
