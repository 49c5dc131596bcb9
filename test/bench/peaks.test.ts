// The hardware-ceiling loops of bench/peaks/peaks.ts (timed by bench/peaks.ts) compute what their scalar
// formulas say, for several step / repetition counts, so each does the work its op count claims and none
// is dead code. Compiles the AssemblyScript in memory with the flags of `npm run bench:peaks`, both
// builds (the relaxed one only where this engine validates it).
import asc from "assemblyscript/asc";
import { beforeAll, describe, expect, it } from "vitest";
import { checkLoop, LOOPS, loadPeaks, type PeakBuild, type PeakExports } from "../../bench/peaks.ts";

const SOURCE_DIR = new URL("../../bench/peaks/", import.meta.url).pathname;

async function compile(features: string): Promise<Uint8Array<ArrayBuffer>> {
  let binary: Uint8Array | undefined;
  const { error, stderr } = await asc.main(
    [
      "peaks.ts",
      "--baseDir",
      SOURCE_DIR,
      "-O3",
      "--runtime",
      "stub",
      "--enable",
      features,
      "-o",
      "peaks.wasm",
    ],
    {
      writeFile: (name: string, contents: string | Uint8Array) => {
        if (name.endsWith(".wasm")) binary = contents as Uint8Array;
      },
    },
  );
  if (error || !binary) throw new Error(`asc failed: ${error?.message ?? "no output"}\n${stderr.toString()}`);
  return new Uint8Array(binary);
}

const builds = new Map<PeakBuild, PeakExports>();
beforeAll(async () => {
  builds.set("simd", await loadPeaks(await compile("simd")));
  const relaxed = await compile("simd,relaxed-simd");
  if (WebAssembly.validate(relaxed)) builds.set("relaxed", await loadPeaks(relaxed));
}, 60_000);

const nodeMajor = Number(process.versions.node.split(".")[0]);

describe.each(LOOPS.map((l) => [l.id, l] as const))("%s", (_id, loop) => {
  it.each(loop.builds)("%s build returns its scalar formula for n = 0, 1, 2, 5", (build) => {
    const ex = builds.get(build);
    if (!ex) {
      expect(build).toBe("relaxed"); // only the relaxed build may be missing (engine without relaxed SIMD)
      return;
    }
    for (const n of [0, 1, 2, 5]) {
      const result = checkLoop(loop, ex, n);
      if (loop.knownWrong?.engine === `Node ${nodeMajor}` && n > 0) {
        // Node 20's baseline tier (Liftoff, which runs these short calls) gets this instruction wrong:
        // accept the documented wrong value, not any value
        expect(result, `n = ${n}`).toMatch(/^(ok|wrong: )/);
      } else {
        expect(result, `n = ${n}`).toBe("ok");
      }
    }
  });
});

describe("the formulas distinguish step counts", () => {
  it.each(LOOPS.map((l) => [l.id, l] as const))("%s: n = 1, 2, 5 give different values", (_id, loop) => {
    const values = new Set([1, 2, 5].map((n) => loop.expected(n)));
    expect(values.size).toBe(3);
  });
});
