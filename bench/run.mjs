// Launches a TypeScript benchmark (bench/<name>.ts) through tsx with the V8 flags it needs: on Node 20
// relaxed SIMD sits behind --experimental-wasm-relaxed-simd (Node 22 ships it), so the flag is added
// there and the relaxed build can be measured. Usage: node bench/run.mjs kernels [--json FILE]
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const [name, ...args] = process.argv.slice(2);
if (!name) {
  console.error("usage: node bench/run.mjs <kernels|models|...> [args]");
  process.exit(2);
}
const major = Number(process.versions.node.split(".")[0]);
const flags = major === 20 ? ["--experimental-wasm-relaxed-simd"] : [];
const script = fileURLToPath(new URL(`./${name}.ts`, import.meta.url));
const r = spawnSync(process.execPath, [...flags, "--import", "tsx", script, ...args], { stdio: "inherit" });
process.exit(r.status ?? 1);
