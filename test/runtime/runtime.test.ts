// The host runtime: instantiation from bytes and from a compiled WebAssembly.Module (as Workers pass it),
// relaxed-SIMD selection (only when the engine validates the build and its self-check passes), and the
// arena: alignment, mark/reset, and typed views that stay correct across memory growth.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Epilogue } from "../../src/runtime/kernels.ts";
import { createRuntime, instantiateKernels, selfCheck } from "../../src/runtime/load.ts";
import { WASM_RELAXED_URL, WASM_URL } from "../../src/runtime/node.ts";

const simd = readFileSync(WASM_URL);
const relaxed = readFileSync(WASM_RELAXED_URL);

describe("runtime", () => {
  it("instantiates from bytes and from a compiled module; the plain build is not relaxed", async () => {
    const a = await createRuntime({ simd });
    const b = await createRuntime({ simd: new WebAssembly.Module(simd) });
    expect(a.relaxed).toBe(false);
    expect(b.k.is_relaxed()).toBe(0);
    expect(a.arena.base).toBe(a.k.heap_base());
  });

  it("chooses the relaxed build exactly when the engine validates it", async () => {
    const rt = await createRuntime({ simd, relaxedSimd: relaxed });
    expect(rt.relaxed).toBe(WebAssembly.validate(relaxed));
    const never = await createRuntime({ simd, relaxedSimd: relaxed, relaxed: false });
    expect(never.relaxed).toBe(false);
    // bytes that do not validate fall back to the plain build instead of failing
    const broken = await createRuntime({
      simd,
      relaxedSimd: new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 255]),
    });
    expect(broken.relaxed).toBe(false);
  });

  it("the self-check rejects a build that computes different numbers", async () => {
    const plain = await instantiateKernels(simd);
    // a build that claims to be relaxed but whose GEMM is wrong: wrap the plain one
    const wrong = {
      ...plain,
      is_relaxed: () => 1,
      matmul_f32: (...args: Parameters<typeof plain.matmul_f32>) => {
        plain.matmul_f32(...args);
        new Float32Array(plain.memory.buffer, args[0], 1)[0] += 1;
      },
    };
    expect(selfCheck(wrong, plain)).toBe(false);
    expect(selfCheck({ ...plain, is_relaxed: () => 1 }, plain)).toBe(true);
    expect(selfCheck(plain, plain)).toBe(false); // not a relaxed build
  });

  it("arena: aligned allocations, mark/reset, views re-made after memory growth", async () => {
    const { arena, k } = await createRuntime({ simd });
    const p1 = arena.alloc(3);
    const p2 = arena.alloc(5);
    expect(p1 % 64).toBe(0);
    expect(p2 % 64).toBe(0);
    const mark = arena.mark();
    const before = arena.memory.buffer.byteLength;
    const x = arena.put(Float32Array.from([1, 2, 3, 4]));
    const w = arena.put(Float32Array.from([1, 1, 1, 1]));
    const wp = arena.alloc(k.packed_size_f32(1, 4));
    k.pack_weights_f32(wp, w, 1, 4);
    const big = arena.alloc(before + 5 * 65536); // forces growth: old ArrayBuffers are detached
    expect(arena.memory.buffer.byteLength).toBeGreaterThan(before);
    expect(big).toBeGreaterThan(0);
    const y = arena.allocF32(1);
    k.matmul_f32(y, 0, x, wp, 0, 0, 1, 4, 1, Epilogue.bias);
    expect(arena.f32(y, 1)[0]).toBe(10);
    arena.reset(mark);
    expect(arena.mark()).toBe(mark);
    expect(() => arena.reset(mark + 1_000_000_000)).toThrow(/bad mark/);
    expect(() => arena.alloc(-1)).toThrow(/invalid allocation size/);
    expect(() => arena.alloc(2 ** 33)).toThrow(/cannot grow wasm memory/);
  });
});
