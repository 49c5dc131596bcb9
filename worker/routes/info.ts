// GET /v1/models (OpenAI list shape plus tasks, dtype and load state), GET /v1/models/:model, GET /healthz.
import { Hono } from "hono";
import type { ModelSpec } from "../config.ts";
import type { AppEnv, Ctx } from "../context.ts";
import { ApiError } from "../errors.ts";

const CREATED = 1767225600; // 2026-01-01: models come from configuration, not uploads

function modelObject(c: Ctx, spec: ModelSpec) {
  const info = c.var.registry.info(spec);
  const m = info.model;
  return {
    id: spec.name,
    object: "model" as const,
    created: CREATED,
    owned_by: "edgeformer",
    tasks: spec.tasks,
    dtype: spec.dtype,
    status: info.state,
    ...(m
      ? {
          architecture: m.pipeline.model.config.architectures[0] ?? m.arch,
          weight_bytes: m.weightBytes,
          load_ms: info.loadMs,
        }
      : {}),
    ...(info.error && info.state === "failed" ? { error: info.error } : {}),
    ...(spec.description ? { description: spec.description } : {}),
    ...(spec.adapters ? { adapters: Object.keys(spec.adapters) } : {}),
  };
}

export const modelsRoute = new Hono<AppEnv>()
  .get("/models", (c) =>
    c.json({ object: "list" as const, data: c.var.config.models.map((s) => modelObject(c, s)) }),
  )
  .get("/models/:model", (c) => {
    const name = c.req.param("model");
    const spec = c.var.config.models.find((m) => m.name === name);
    if (!spec) throw new ApiError(404, "model_not_found", `model ${JSON.stringify(name)} does not exist`);
    return c.json(modelObject(c, spec));
  });

export function health(c: Ctx, platform: string) {
  const { registry, config } = c.var;
  const rt = registry.runtime;
  return c.json({
    status: "ok" as const,
    platform,
    models: config.models.length,
    loaded: config.models.filter((s) => registry.info(s).state === "loaded").map((s) => s.name),
    runtime: rt ? { relaxed_simd: rt.relaxed, wasm_memory_bytes: rt.memory.buffer.byteLength } : null,
  });
}
