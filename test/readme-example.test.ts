// The README's embedding example (examples/gemm.mjs) runs against the built .wasm and prints the
// GEMM result it promises, so the README stays true.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const root = new URL("../", import.meta.url).pathname;

describe("README embedding example", () => {
  it("instantiates the .wasm and runs one GEMM", () => {
    const out = execFileSync(process.execPath, ["examples/gemm.mjs", "build/edgeformer.wasm"], {
      cwd: root,
    }).toString();
    expect(out.trim()).toBe("[ 1.5, 4, 4.5, 10 ]");
  });

  it("is the code the README shows", () => {
    const readme = readFileSync(new URL("README.md", `file://${root}`), "utf8");
    const example = readFileSync(new URL("examples/gemm.mjs", `file://${root}`), "utf8");
    const body = example.split("\n").filter((l) => !l.startsWith("//") && l.trim() !== "");
    for (const line of body) expect(readme, `README is missing: ${line}`).toContain(line);
  });
});
