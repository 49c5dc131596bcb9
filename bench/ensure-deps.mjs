// bench/ensure-deps.mjs — installs the bench package's own dependencies (onnxruntime-node,
// onnxruntime-web, @huggingface/transformers for the end-to-end comparison) on first use, so the root
// project's `npm ci` never pulls them in.
//
// `await ensureBenchDeps()` runs `npm ci --prefix bench` (or `npm install` when there is no
// bench/package-lock.json) if any of them is missing from bench/node_modules or not at the version
// pinned in bench/package.json. ONNXRUNTIME_NODE_INSTALL=skip is set because
// onnxruntime-node's postinstall would otherwise try to download CUDA binaries from a host we
// cannot reach; its CPU binaries ship inside the npm package. npm's output goes to stderr so a
// bench script's stdout stays clean.

import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const REQUIRED = ["onnxruntime-node", "onnxruntime-web", "@huggingface/transformers"];

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch {
    return null;
  }
}

/** Names of required packages that are missing or differ from the pinned version. */
function staleDeps() {
  const pins = readJson(join(BENCH_DIR, "package.json"))?.dependencies ?? {};
  return REQUIRED.filter((name) => {
    const installed = readJson(join(BENCH_DIR, "node_modules", name, "package.json"));
    return !installed || (pins[name] && /^\d/.test(pins[name]) && installed.version !== pins[name]);
  });
}

function run(cmd, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env,
      stdio: ["ignore", 2, 2], // npm's chatter to stderr
      shell: process.platform === "win32", // npm is npm.cmd there
    });
    child.on("error", reject);
    child.on("exit", (code, signal) =>
      code === 0
        ? resolve()
        : reject(new Error(`${cmd} ${args.join(" ")} failed (${signal ?? `exit ${code}`})`)),
    );
  });
}

/**
 * Make sure bench/node_modules has the REQUIRED packages (at the pinned versions).
 * No-op (and no process spawned) when they are already installed.
 * @returns {Promise<void>}
 */
export async function ensureBenchDeps() {
  const stale = staleDeps();
  if (stale.length === 0) return;
  const hasLock = existsSync(join(BENCH_DIR, "package-lock.json"));
  const args = [hasLock ? "ci" : "install", "--prefix", BENCH_DIR, "--no-audit", "--no-fund"];
  process.stderr.write(`[bench] installing ${stale.join(", ")}: npm ${args.join(" ")}\n`);
  await run("npm", args, { ...process.env, ONNXRUNTIME_NODE_INSTALL: "skip" });
  const still = staleDeps();
  if (still.length)
    throw new Error(
      `[bench] npm ${args[0]} finished but ${still.join(", ")} still missing in ${BENCH_DIR}/node_modules`,
    );
}
