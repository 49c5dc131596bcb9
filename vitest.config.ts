// vitest configuration: Node-side unit, kernel and model tests. On Node 20, relaxed SIMD sits behind
// a V8 flag: the test processes get it so the relaxed build is tested too (Node 22 ships it).
import { defineConfig } from "vitest/config";

const nodeMajor = Number(process.versions.node.split(".")[0]);
const execArgv = nodeMajor === 20 ? ["--experimental-wasm-relaxed-simd"] : [];

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    pool: "forks",
    execArgv,
  },
});
