// Configuration from the environment (wrangler.toml [vars], secrets, or process.env under Node):
// the limits, CORS, auth and the list of served models. Vars arrive as strings (or JSON values for
// MODELS); everything is validated once per distinct environment and cached.
import { z } from "zod";

/** Bindings and vars the app reads. All optional: defaults below. */
export interface Bindings {
  /** JSON list of ModelSpec (a string, or an already-parsed array from wrangler.toml). */
  MODELS?: string | unknown[];
  MAX_BODY_BYTES?: string;
  MAX_BATCH?: string;
  MAX_INPUT_TOKENS?: string;
  MAX_NEW_TOKENS?: string;
  MAX_BEAMS?: string;
  MAX_TOP_K?: string;
  /** Seconds a client is told to wait (Retry-After) after a model failed to load. */
  RETRY_AFTER_SECONDS?: string;
  /** "*" or a comma-separated list of allowed origins. */
  CORS_ORIGINS?: string;
  /** When set, /v1/* needs `Authorization: Bearer <API_KEY>`. */
  API_KEY?: string;
  /** "auto" (default): relaxed-SIMD kernels where the engine validates them; "off": never. */
  RELAXED_SIMD?: string;
  /** "info" (default): one JSON line per request; "off": no request log. */
  LOG_LEVEL?: string;
  /** R2 bucket holding model folders (ModelSpec source "r2:<prefix>"). */
  MODELS_BUCKET?: R2BucketLike;
}

/** The part of an R2 bucket binding we use (structural, so no Workers type package is needed). */
export interface R2BucketLike {
  get(key: string): Promise<{ arrayBuffer(): Promise<ArrayBuffer> } | null>;
}

export const DEFAULT_LIMITS = {
  maxBodyBytes: 65536,
  maxBatch: 16,
  maxInputTokens: 128,
  maxNewTokens: 64,
  maxBeams: 4,
  maxTopK: 50,
  retryAfterSeconds: 30,
} as const;

export type Limits = { -readonly [K in keyof typeof DEFAULT_LIMITS]: number };

export const TASKS = ["embeddings", "fill-mask", "classify", "next-sentence", "generate"] as const;
export type ApiTask = (typeof TASKS)[number];

const SOURCE_RE = /^(bundle|r2|dir):.+/;

/** One served model. `source`: "bundle:<folder>" (files embedded in the worker; under Node, a folder
 * below MODELS_DIR), "r2:<key prefix>" (the MODELS_BUCKET binding) or "dir:<path>" (Node only);
 * `adapters`: adapter folders from the same kinds of source, which requests name; `adapter`: the
 * adapter folder loaded on top for requests that name none. */
export const ModelSpecSchema = z
  .object({
    name: z.string().min(1).max(100),
    tasks: z.array(z.enum(TASKS)).min(1),
    source: z.string().regex(SOURCE_RE, 'source must be "bundle:<folder>", "r2:<prefix>" or "dir:<path>"'),
    /** Where the tokenizer files are (default: the model's own folder). */
    tokenizer: z
      .string()
      .regex(SOURCE_RE, 'tokenizer must be "bundle:<folder>", "r2:<prefix>" or "dir:<path>"')
      .optional(),
    dtype: z.enum(["f32", "int8"]).default("f32"),
    /** Extra safetensors files in the folder (e.g. a classification head). */
    extra_weights: z.array(z.string().min(1)).optional(),
    /** Keys merged over config.json (e.g. architectures and id2label for an added head). */
    config: z.record(z.string(), z.unknown()).optional(),
    /**
     * Adapter folders (adapter_config.json + adapter.safetensors, see src/models/adapters.ts) a request
     * may name in its "adapter" field, by name → source; each is loaded on top of this model on first use.
     */
    adapters: z
      .record(
        z.string().regex(/^[\w.-]{1,64}$/, "adapter names are 1-64 letters, digits, _ . -"),
        z
          .string()
          .regex(SOURCE_RE, 'adapter source must be "bundle:<folder>", "r2:<prefix>" or "dir:<path>"'),
      )
      .optional(),
    /**
     * Adapter folder loaded on top of this model by default (e.g. a classifier trained with adapters on
     * a shared base). A request that names one of `adapters` gets that adapter instead (they do not stack).
     */
    adapter: z
      .string()
      .regex(SOURCE_RE, 'adapter must be "bundle:<folder>", "r2:<prefix>" or "dir:<path>"')
      .optional(),
    description: z.string().optional(),
  })
  .strict();

export type ModelSpec = z.infer<typeof ModelSpecSchema>;

export class ConfigurationError extends Error {
  override name = "ConfigurationError";
}

export interface AppConfig {
  limits: Limits;
  models: ModelSpec[];
  corsOrigins: string[] | "*";
  apiKey?: string;
  relaxed: "auto" | false;
  log: boolean;
}

const VAR_OF: Record<keyof Limits, keyof Bindings> = {
  maxBodyBytes: "MAX_BODY_BYTES",
  maxBatch: "MAX_BATCH",
  maxInputTokens: "MAX_INPUT_TOKENS",
  maxNewTokens: "MAX_NEW_TOKENS",
  maxBeams: "MAX_BEAMS",
  maxTopK: "MAX_TOP_K",
  retryAfterSeconds: "RETRY_AFTER_SECONDS",
};

function positiveInt(env: Bindings, key: keyof Bindings, fallback: number): number {
  const raw = env[key];
  if (raw === undefined || raw === "") return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 1)
    throw new ConfigurationError(`${key} must be a positive integer, got ${JSON.stringify(raw)}`);
  return v;
}

function parseModels(raw: Bindings["MODELS"]): ModelSpec[] {
  if (raw === undefined || raw === "") return [];
  let list: unknown = raw;
  if (typeof raw === "string") {
    try {
      list = JSON.parse(raw);
    } catch (err) {
      throw new ConfigurationError(`MODELS is not valid JSON: ${(err as Error).message}`);
    }
  }
  const r = z.array(ModelSpecSchema).safeParse(list);
  if (!r.success) {
    const first = r.error.issues[0];
    throw new ConfigurationError(`MODELS[${first.path.join(".")}]: ${first.message}`);
  }
  const seen = new Set<string>();
  for (const m of r.data) {
    if (seen.has(m.name)) throw new ConfigurationError(`MODELS: model name ${m.name} appears twice`);
    seen.add(m.name);
  }
  return r.data;
}

const cache = new Map<string, AppConfig>();

/** The validated configuration of an environment (cached by its values). */
export function readConfig(env: Bindings): AppConfig {
  const key = JSON.stringify([
    env.MODELS,
    ...Object.values(VAR_OF).map((k) => env[k]),
    env.CORS_ORIGINS,
    env.API_KEY,
    env.RELAXED_SIMD,
    env.LOG_LEVEL,
  ]);
  const hit = cache.get(key);
  if (hit) return hit;
  const limits = {} as Limits;
  for (const [name, v] of Object.entries(VAR_OF) as [keyof Limits, keyof Bindings][]) {
    limits[name] = positiveInt(env, v, DEFAULT_LIMITS[name]);
  }
  const origins = (env.CORS_ORIGINS ?? "*").trim();
  const config: AppConfig = {
    limits,
    models: parseModels(env.MODELS),
    corsOrigins:
      origins === "*"
        ? "*"
        : origins
            .split(",")
            .map((s) => s.trim())
            .filter(Boolean),
    apiKey: env.API_KEY ? env.API_KEY : undefined,
    relaxed: env.RELAXED_SIMD === "off" ? false : "auto",
    log: (env.LOG_LEVEL ?? "info") !== "off",
  };
  if (cache.size > 32) cache.clear();
  cache.set(key, config);
  return config;
}
