// How the arena grows wasm memory: reserve() grows once so the allocations it covers need no growth;
// alloc() grows a little ahead of need (a quarter of the memory, at most 16 MiB), so a run of
// allocations does not grow (and make V8 count new external memory) once per allocation; a
// reservation that cannot be met is no error, an allocation that cannot is.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Arena } from "../../src/runtime/arena.ts";
import { createRuntime } from "../../src/runtime/load.ts";
import { WASM_URL } from "../../src/runtime/node.ts";

const MiB = 2 ** 20;

/** A fresh arena whose memory counts its (successful) grows. */
async function countingArena(): Promise<{ arena: Arena; grows: () => number }> {
  const { k } = await createRuntime({ simd: readFileSync(WASM_URL), relaxed: false });
  const memory = k.memory;
  const grow = memory.grow.bind(memory);
  let n = 0;
  memory.grow = (pages: number) => {
    const old = grow(pages); // throws when it cannot grow (not counted)
    n++;
    return old;
  };
  return { arena: new Arena(memory, k.heap_base()), grows: () => n };
}

describe("arena growth", () => {
  it("reserve grows once, exactly, and the allocations it covers grow nothing", async () => {
    const { arena, grows } = await countingArena();
    const before = arena.memory.buffer.byteLength;
    arena.reserve(40 * MiB);
    expect(grows()).toBe(1);
    const after = arena.memory.buffer.byteLength;
    expect(after - before).toBeLessThan(40 * MiB + 65536 + 64);
    for (let i = 0; i < 40; i++) arena.alloc(MiB - 64);
    expect(grows()).toBe(1);
    expect(arena.memory.buffer.byteLength).toBe(after);
    arena.reserve(0);
    arena.reserve(1024); // fits already
    expect(grows()).toBe(1);
  });

  it("alloc grows ahead: 200 allocations of 256 KiB grow memory a handful of times, by at most 16 MiB extra", async () => {
    const { arena, grows } = await countingArena();
    for (let i = 0; i < 200; i++) {
      const p = arena.alloc(256 * 1024);
      arena.i8(p, 256 * 1024).fill(1); // views work in grown memory
      expect(arena.memory.buffer.byteLength - arena.mark()).toBeLessThanOrEqual(16 * MiB + 65536);
    }
    expect(grows()).toBeGreaterThan(1);
    expect(grows()).toBeLessThan(30);
  });

  it("a reservation that cannot be met does nothing; an allocation that cannot is a clear error", async () => {
    const { arena, grows } = await countingArena();
    const before = arena.memory.buffer.byteLength;
    arena.reserve(2 ** 33);
    expect(arena.memory.buffer.byteLength).toBe(before);
    expect(() => arena.alloc(2 ** 33)).toThrow(/arena: cannot grow wasm memory to 8193 MiB/);
    expect(() => arena.reserve(-1)).toThrow(/invalid reservation/);
    expect(grows()).toBe(0);
  });
});
