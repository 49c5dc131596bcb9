// Types shared by the app and its routes, and the per-request steps every model route takes: pick the
// model, load it (timed as "load"), wrap its pipeline so tokenizer and model time are measured, and
// enforce the batch and token limits.
import type { Context } from "hono";
import { checkInputTokens } from "../src/tasks/limits.ts";
import type { LoadedModel } from "../src/tasks/load.ts";
import { PhaseTimer } from "../src/tasks/timing.ts";
import type { ApiTask, AppConfig, Bindings } from "./config.ts";
import { ApiError } from "./errors.ts";
import { type ModelRegistry, resolveModel } from "./models.ts";

export interface Vars {
  requestId: string;
  config: AppConfig;
  registry: ModelRegistry;
  timer?: PhaseTimer;
  loadMs?: number;
  /** When the model was ready (start of tokenize → model → post). */
  readyAt?: number;
  modelName?: string;
  errorCode?: string;
  stream?: boolean;
}

export type AppEnv = { Bindings: Bindings; Variables: Vars };
export type Ctx = Context<AppEnv>;

/**
 * Loads the model for a task (with the named adapter on top, when the request names one) and returns it
 * with a timed copy of its pipeline.
 */
export async function useModel<A extends LoadedModel["arch"]>(
  c: Ctx,
  task: ApiTask,
  name: string | undefined,
  arch: A,
  adapter?: string,
): Promise<Extract<LoadedModel, { arch: A }>> {
  const { config, registry } = c.var;
  const spec = resolveModel(config, task, name, adapter);
  c.set("modelName", adapter === undefined ? spec.name : `${spec.name}+${adapter}`);
  const start = performance.now();
  try {
    const m = await registry.get(spec, c.env ?? {}, config, adapter);
    const what = adapter === undefined ? `model ${spec.name}` : `model ${spec.name} with adapter ${adapter}`;
    if (m.arch !== arch)
      throw new ApiError(422, "unsupported_task", `${what} (${m.arch}) does not serve ${task}`);
    if (adapter !== undefined && !m.tasks.includes(task))
      throw new ApiError(
        422,
        "unsupported_task",
        `${what} does not serve ${task} (it serves ${m.tasks.join(", ")})`,
      );
    const timer = new PhaseTimer();
    c.set("timer", timer);
    return { ...m, pipeline: timer.pipeline(m.pipeline) } as Extract<LoadedModel, { arch: A }>;
  } finally {
    const now = performance.now();
    c.set("loadMs", now - start);
    c.set("readyAt", now);
  }
}

/** A string or a list of strings as a list. */
export function asList<T>(v: T | T[]): T[] {
  return Array.isArray(v) ? v : [v];
}

export function checkBatch(c: Ctx, n: number): void {
  const max = c.var.config.limits.maxBatch;
  if (n > max)
    throw new ApiError(422, "too_many_inputs", `${n} inputs given; the limit is ${max} per request`);
}

/** Tokens per input (untruncated), refusing inputs over MAX_INPUT_TOKENS with 422 input_too_long. */
export function checkTokens(
  c: Ctx,
  m: { pipeline: { tokenizer: Parameters<typeof checkInputTokens>[0] } },
  texts: string[],
  pairs?: string[],
): number[] {
  return checkInputTokens(m.pipeline.tokenizer, texts, c.var.config.limits.maxInputTokens, pairs);
}

export function checkTopK(c: Ctx, k: number | undefined): void {
  const max = c.var.config.limits.maxTopK;
  if (k !== undefined && k > max)
    throw new ApiError(422, "invalid_input", `top_k ${k} is over the limit of ${max}`);
}
