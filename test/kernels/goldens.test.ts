// Forward kernels against the float64 goldens made with PyTorch (test/fixtures/kernels), on every
// build of the module: attention (4 masks × scaled/unscaled), LayerNorm, RMSNorm, activations.
import { beforeAll, describe, expect, it } from "vitest";
import { Epilogue, MaskKind } from "../../src/runtime/kernels.ts";
import { expectClose } from "../helpers/compare.ts";
import { readSafetensorsFixture } from "../helpers/fixtures.ts";
import { type Build, loadBuilds } from "../helpers/kernels.ts";

const g = readSafetensorsFixture("kernels/kernels.safetensors");
let builds: Build[] = [];
beforeAll(async () => {
  builds = await loadBuilds();
});

/** [B,H,T,D] → [B,T,H,D] */
function bhtdToBthd(x: Float32Array, B: number, H: number, T: number, D: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let t = 0; t < T; t++)
        for (let d = 0; d < D; d++) out[((b * T + t) * H + h) * D + d] = x[((b * H + h) * T + t) * D + d];
  return out;
}

const MASKS = [
  { name: "none", kind: MaskKind.none, prefix: 0 },
  { name: "padding", kind: MaskKind.none, prefix: 0 },
  { name: "causal", kind: MaskKind.causal, prefix: 0 },
  { name: "prefix3", kind: MaskKind.prefix, prefix: 3 },
] as const;

describe.each(["simd", "debug", "relaxed"])("kernel goldens (%s build)", (buildName) => {
  const get = () => builds.find((b) => b.name === buildName);

  it.each(MASKS)("attention, mask $name, scaled and unscaled", (mask) => {
    const build = get();
    if (!build) return expect(buildName).toBe("relaxed"); // relaxed SIMD not available on this engine
    const { arena, k } = build.rt;
    const [B, H, T, D] = g.info("attn.q").shape;
    const golden = g.float32(`attn.mask.${mask.name}`); // [B,1,T,T], 1 = may attend
    // key padding mask: a key is padding when no query of its batch row may attend to it
    const keyMask = new Int32Array(B * T);
    for (let b = 0; b < B; b++)
      for (let j = 0; j < T; j++) {
        let any = 0;
        for (let i = 0; i < T; i++) any |= golden[(b * T + i) * T + j] ? 1 : 0;
        keyMask[b * T + j] = mask.name === "padding" ? any : 1;
      }
    // our (keyMask, kind, prefix) must describe exactly the golden mask
    for (let b = 0; b < B; b++)
      for (let i = 0; i < T; i++)
        for (let j = 0; j < T; j++) {
          let vis = keyMask[b * T + j] === 1;
          if (mask.kind === MaskKind.causal) vis &&= j <= i;
          if (mask.kind === MaskKind.prefix) vis &&= j < mask.prefix || j <= i;
          expect(vis ? 1 : 0, `mask ${mask.name} [${b},${i},${j}]`).toBe(golden[(b * T + i) * T + j]);
        }
    for (const scaling of ["scaled", "unscaled"] as const) {
      const mark = arena.mark();
      const q = arena.put(bhtdToBthd(g.float32("attn.q"), B, H, T, D));
      const kk = arena.put(bhtdToBthd(g.float32("attn.k"), B, H, T, D));
      const v = arena.put(bhtdToBthd(g.float32("attn.v"), B, H, T, D));
      const km = arena.put(keyMask);
      const out = arena.allocF32(B * T * H * D);
      const probs = arena.allocF32(B * H * T * T);
      const scale = scaling === "scaled" ? 1 / Math.sqrt(D) : 1;
      const C = H * D;
      k.attention_f32(
        out,
        probs,
        arena.alloc(k.attention_scratch_size(T, T, D)),
        q,
        kk,
        v,
        0,
        km,
        B,
        H,
        T,
        T,
        D,
        scale,
        mask.kind,
        mask.prefix,
        T * C,
        C,
        T * C,
        C,
        T * C,
        C,
        T * C,
        C,
      );
      const expected = bhtdToBthd(g.float32(`attn.${mask.name}.${scaling}.out`), B, H, T, D);
      expectClose(arena.f32(out, B * T * C), expected, 2e-6, 1e-5, `attn ${mask.name} ${scaling}`);
      arena.reset(mark);
    }
  });

  it("LayerNorm (eps 1e-12) and RMSNorm (eps 1e-6)", () => {
    const build = get();
    if (!build) return expect(buildName).toBe("relaxed");
    const { arena, k } = build.rt;
    const [R, C] = g.info("norm.x").shape;
    const mark = arena.mark();
    const x = arena.put(g.float32("norm.x"));
    const w = arena.put(g.float32("norm.w"));
    const b = arena.put(g.float32("norm.b"));
    const y = arena.allocF32(R * C);
    k.layernorm_f32(y, 0, 0, x, w, b, R, C, 1e-12);
    expectClose(arena.f32(y, R * C), g.float32("layernorm.y"), 3e-6, 1e-5, "layernorm");
    k.rmsnorm_f32(y, 0, x, w, R, C, 1e-6);
    expectClose(arena.f32(y, R * C), g.float32("rmsnorm.y"), 3e-6, 1e-5, "rmsnorm");
    arena.reset(mark);
  });

  it.each([
    ["gelu_erf", Epilogue.geluErf],
    ["gelu_tanh", Epilogue.geluTanh],
    ["relu", Epilogue.relu],
    ["tanh", Epilogue.tanh],
  ] as const)("activation %s on -6..6", (name, code) => {
    const build = get();
    if (!build) return expect(buildName).toBe("relaxed");
    const { arena, k } = build.rt;
    const xs = g.float32("act.x");
    const mark = arena.mark();
    const x = arena.put(xs);
    const y = arena.allocF32(xs.length);
    k.activation_f32(y, x, xs.length, code);
    expectClose(arena.f32(y, xs.length), g.float32(`act.${name}.y`), 5e-7, 2e-6, name);
    k.activation_f32_ref(y, x, xs.length, code);
    expectClose(arena.f32(y, xs.length), g.float32(`act.${name}.y`), 1e-7, 1e-7, `${name} ref`);
    arena.reset(mark);
  });
});
