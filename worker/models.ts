// The served models of one isolate: one kernel runtime (instantiated once), and each configured model
// loaded on first use and kept for the isolate's life. Concurrent first requests share one load. A load
// that fails is remembered for RETRY_AFTER_SECONDS (requests get 503 + Retry-After meanwhile), then
// tried again by the next request. A model with an adapter (ModelSpec.adapters, named by a request) is
// loaded the same way, as its own entry: the base's files with the adapter folder on top (a full copy of
// the base's weights in wasm memory per adapter in use). A model with a default adapter (ModelSpec.adapter)
// is always loaded with it on top, unless a request names another of its adapters.

import type { KernelRuntime } from "../src/runtime/load.ts";
import { type FileReader, type LoadedModel, loadModel } from "../src/tasks/load.ts";
import type { ApiTask, AppConfig, Bindings, ModelSpec } from "./config.ts";
import { ApiError } from "./errors.ts";

/** What differs between Workers and Node: how the kernels are instantiated and files are read. */
export interface Platform {
  name: string;
  createRuntime(relaxed: "auto" | false): Promise<KernelRuntime>;
  reader(source: string, env: Bindings): FileReader;
}

export type ModelState = "unloaded" | "loading" | "loaded" | "failed";

interface Entry {
  state: ModelState;
  promise?: Promise<LoadedModel>;
  model?: LoadedModel;
  error?: string;
  retryAt?: number;
  loadMs?: number;
  loads: number;
}

const keyOf = (spec: ModelSpec, adapter?: string) => JSON.stringify([spec, adapter ?? null]);

export class ModelRegistry {
  private runtimePromise?: Promise<KernelRuntime>;
  private runtimeValue?: KernelRuntime;
  private readonly entries = new Map<string, Entry>();

  constructor(readonly platform: Platform) {}

  /** The kernel runtime once created (undefined before the first model load). */
  get runtime(): KernelRuntime | undefined {
    return this.runtimeValue;
  }

  private getRuntime(relaxed: "auto" | false): Promise<KernelRuntime> {
    this.runtimePromise ??= this.platform.createRuntime(relaxed).then(
      (rt) => {
        this.runtimeValue = rt;
        return rt;
      },
      (err) => {
        this.runtimePromise = undefined;
        throw err;
      },
    );
    return this.runtimePromise;
  }

  info(
    spec: ModelSpec,
    adapter?: string,
  ): {
    state: ModelState;
    loads: number;
    error?: string;
    loadMs?: number;
    model?: LoadedModel;
  } {
    const e = this.entries.get(keyOf(spec, adapter));
    if (!e) return { state: "unloaded", loads: 0 };
    return { state: e.state, loads: e.loads, error: e.error, loadMs: e.loadMs, model: e.model };
  }

  /**
   * The loaded model (with the named adapter on top), loading it first if needed. Throws ApiError 503
   * when it cannot be loaded.
   */
  async get(spec: ModelSpec, env: Bindings, config: AppConfig, adapter?: string): Promise<LoadedModel> {
    const key = keyOf(spec, adapter);
    let e = this.entries.get(key);
    if (e?.model) return e.model;
    if (e?.state === "failed" && e.retryAt !== undefined) {
      const wait = Math.ceil((e.retryAt - Date.now()) / 1000);
      if (wait > 0) throw unavailable(spec, e.error ?? "load failed", wait, adapter);
    }
    if (!e?.promise) {
      e ??= { state: "unloaded", loads: 0 };
      this.entries.set(key, e);
      const entry = e;
      entry.state = "loading";
      entry.loads++;
      const start = performance.now();
      entry.promise = this.load(spec, env, config, adapter).then(
        (m) => {
          entry.state = "loaded";
          entry.model = m;
          entry.error = undefined;
          entry.loadMs = performance.now() - start;
          return m;
        },
        (err: unknown) => {
          entry.state = "failed";
          entry.promise = undefined;
          entry.error = err instanceof Error ? err.message : String(err);
          entry.retryAt = Date.now() + config.limits.retryAfterSeconds * 1000;
          if (config.log)
            console.error(
              JSON.stringify({
                level: "error",
                msg: "model load failed",
                model: spec.name,
                ...(adapter ? { adapter } : {}),
                error: entry.error,
              }),
            );
          throw unavailable(spec, entry.error, config.limits.retryAfterSeconds, adapter);
        },
      );
    }
    return e.promise!;
  }

  private async load(
    spec: ModelSpec,
    env: Bindings,
    config: AppConfig,
    adapter?: string,
  ): Promise<LoadedModel> {
    const rt = await this.getRuntime(config.relaxed);
    const read = this.platform.reader(spec.source, env);
    const readTokenizer = spec.tokenizer ? this.platform.reader(spec.tokenizer, env) : read;
    // a named adapter replaces the model's default one (spec.adapter), if it has one
    const adapterSource = adapter === undefined ? spec.adapter : spec.adapters?.[adapter];
    if (adapter !== undefined && adapterSource === undefined)
      throw new Error(`model ${spec.name} has no adapter ${JSON.stringify(adapter)}`);
    const m = await loadModel(rt, read, {
      readTokenizer,
      dtype: spec.dtype,
      extraWeights: spec.extra_weights,
      configOverrides: spec.config,
      adapter: adapterSource === undefined ? undefined : this.platform.reader(adapterSource, env),
    });
    if (adapter !== undefined) return m; // the request's task is checked against what it serves
    const missing = spec.tasks.filter((t) => !m.tasks.includes(t));
    if (missing.length > 0)
      throw new Error(
        `model ${spec.name} is configured for ${missing.join(", ")} but its checkpoint serves ${m.tasks.join(", ")}`,
      );
    return m;
  }
}

function unavailable(spec: ModelSpec, reason: string, retryAfter: number, adapter?: string): ApiError {
  const what = adapter === undefined ? `model ${spec.name}` : `model ${spec.name} with adapter ${adapter}`;
  return new ApiError(503, "model_unavailable", `${what} is not available: ${reason}`, {
    "Retry-After": String(Math.max(1, retryAfter)),
  });
}

/**
 * The model a request asks for (by name), or the first configured model serving the task. With an
 * adapter named, the model (by name, or the first one) must list that adapter; its task is checked
 * once the adapted model is loaded (an adapter may add a head the base lacks).
 */
export function resolveModel(config: AppConfig, task: ApiTask, name?: string, adapter?: string): ModelSpec {
  if (adapter !== undefined) {
    const spec =
      name !== undefined
        ? config.models.find((m) => m.name === name)
        : config.models.find((m) => m.adapters?.[adapter] !== undefined);
    if (!spec) {
      if (name !== undefined)
        throw new ApiError(404, "model_not_found", `model ${JSON.stringify(name)} does not exist`);
      throw new ApiError(
        404,
        "adapter_not_found",
        `no configured model has an adapter ${JSON.stringify(adapter)}`,
      );
    }
    if (spec.adapters?.[adapter] === undefined) {
      const names = Object.keys(spec.adapters ?? {});
      throw new ApiError(
        404,
        "adapter_not_found",
        `model ${spec.name} has no adapter ${JSON.stringify(adapter)} (${names.length ? `it has ${names.join(", ")}` : "it has none"})`,
      );
    }
    return spec;
  }
  if (name !== undefined) {
    const spec = config.models.find((m) => m.name === name);
    if (!spec) throw new ApiError(404, "model_not_found", `model ${JSON.stringify(name)} does not exist`);
    if (!spec.tasks.includes(task))
      throw new ApiError(
        422,
        "unsupported_task",
        `model ${name} does not serve ${task} (it serves ${spec.tasks.join(", ")})`,
      );
    return spec;
  }
  const spec = config.models.find((m) => m.tasks.includes(task));
  if (!spec) throw new ApiError(404, "model_not_found", `no configured model serves ${task}`);
  return spec;
}
