// Request and response schemas of the API. The request schemas validate bodies (via
// @hono/zod-validator); both are turned into the OpenAPI document at /openapi.json. Limits that come from
// configuration (batch size, tokens, max_new_tokens, top_k) are checked in the routes.
import { z } from "zod";
import { TASKS } from "./config.ts";

const text = z.string().min(1, "must not be empty");
const texts = z.union([text, z.array(text).min(1, "must not be empty")]);
const modelName = z
  .string()
  .min(1)
  .optional()
  .meta({ description: "Model name (GET /v1/models); default: the first model serving this task" });
const adapterName = z
  .string()
  .regex(/^[\w.-]{1,64}$/, "must be an adapter name (letters, digits, _ . -)")
  .optional()
  .meta({ description: "Adapter to apply on top of the model (its adapters: GET /v1/models)" });
const topK = (fallback: number) =>
  z
    .number()
    .int()
    .min(1)
    .optional()
    .meta({ description: `Number of results (default ${fallback}; at most MAX_TOP_K)` });

export const ErrorSchema = z
  .object({ error: z.object({ code: z.string(), message: z.string() }) })
  .meta({ id: "Error" });

// --- embeddings (OpenAI shape) ----------------------------------------------------------------
export const EmbeddingsRequest = z
  .object({
    input: texts.meta({ description: "Text or list of texts to embed" }),
    model: modelName,
    adapter: adapterName,
    encoding_format: z.enum(["float", "base64"]).default("float").meta({
      description:
        "float: arrays of numbers; base64: little-endian float32 bytes (as OpenAI's clients ask for)",
    }),
    pooling: z.enum(["mean", "cls"]).default("mean"),
    normalize: z.boolean().default(true).meta({ description: "L2-normalize each embedding" }),
    user: z.string().optional(),
  })
  .strict()
  .meta({ id: "EmbeddingsRequest" });

export const EmbeddingsResponse = z
  .object({
    object: z.literal("list"),
    data: z.array(
      z.object({
        object: z.literal("embedding"),
        index: z.number().int(),
        embedding: z.union([z.array(z.number()), z.string()]),
      }),
    ),
    model: z.string(),
    usage: z.object({ prompt_tokens: z.number().int(), total_tokens: z.number().int() }),
  })
  .meta({ id: "EmbeddingsResponse" });

// --- fill-mask (Hugging Face pipeline shape) ----------------------------------------------------
export const FillMaskRequest = z
  .object({
    inputs: texts.meta({ description: "Text(s) with one or more mask tokens ([MASK])" }),
    model: modelName,
    adapter: adapterName,
    top_k: topK(5),
  })
  .strict()
  .meta({ id: "FillMaskRequest" });

const FillMaskCandidate = z.object({
  score: z.number(),
  token: z.number().int(),
  token_str: z.string(),
  sequence: z.string(),
});
export const FillMaskResponse = z
  .union([
    z.array(FillMaskCandidate),
    z.array(z.array(FillMaskCandidate)),
    z.array(z.array(z.array(FillMaskCandidate))),
  ])
  .meta({
    id: "FillMaskResponse",
    description:
      "One text with one mask: [{score, token, token_str, sequence}]; several masks: one such list per mask; a list of texts: one result per text",
  });

// --- classify ---------------------------------------------------------------------------------
export const ClassifyRequest = z
  .object({
    inputs: texts.meta({ description: "Text(s) to classify" }),
    text_pair: texts.optional().meta({ description: "Second text of each input (same count as inputs)" }),
    model: modelName,
    adapter: adapterName,
    top_k: topK(1),
    multi_label: z.boolean().optional().meta({ description: "Sigmoid per label instead of softmax" }),
  })
  .strict()
  .meta({ id: "ClassifyRequest" });

const LabelScore = z.object({ label: z.string(), score: z.number() });
export const ClassifyResponse = z.union([z.array(LabelScore), z.array(z.array(LabelScore))]).meta({
  id: "ClassifyResponse",
  description: "[{label, score}] per text (a list of them for a list of texts)",
});

// --- next-sentence ----------------------------------------------------------------------------
const SentencePair = z
  .object({
    text: text.meta({ description: "Sentence A" }),
    text_pair: text.meta({ description: "Sentence B" }),
  })
  .strict();
export const NextSentenceRequest = z
  .object({
    inputs: z.union([SentencePair, z.array(SentencePair).min(1, "must not be empty")]),
    model: modelName,
    adapter: adapterName,
  })
  .strict()
  .meta({ id: "NextSentenceRequest" });

const NextSentenceResult = z.object({
  score: z.number().meta({ description: "Probability that text_pair follows text" }),
  is_next: z.boolean(),
});
export const NextSentenceResponse = z
  .union([NextSentenceResult, z.array(NextSentenceResult)])
  .meta({ id: "NextSentenceResponse" });

// --- generate (T5 text-to-text) -----------------------------------------------------------------
export const GenerateRequest = z
  .object({
    inputs: texts.meta({ description: "Input text(s), e.g. a T5 task prefix and text" }),
    model: modelName,
    adapter: adapterName,
    max_new_tokens: z
      .number()
      .int()
      .min(1)
      .optional()
      .meta({ description: "Default 20; at most MAX_NEW_TOKENS" }),
    num_beams: z
      .number()
      .int()
      .min(1)
      .optional()
      .meta({ description: "Beam search when > 1; at most MAX_BEAMS" }),
    do_sample: z.boolean().optional(),
    temperature: z.number().positive().optional(),
    top_k: z.number().int().min(0).optional(),
    top_p: z.number().gt(0).max(1).optional(),
    seed: z.number().int().min(0).max(4294967295).optional(),
    no_repeat_ngram_size: z
      .number()
      .int()
      .min(0)
      .max(10)
      .optional()
      .meta({ description: "Never repeat an n-gram of this size (0 = off, default; at most 10)" }),
    repetition_penalty: z.number().gt(0).max(10).optional().meta({
      description:
        "Penalize tokens already generated: > 1 discourages repeats (1 = off, default; in (0, 10])",
    }),
    stream: z
      .boolean()
      .optional()
      .meta({ description: "Server-sent events, one per token (one input, no beam search)" }),
  })
  .strict()
  .meta({ id: "GenerateRequest" });

export const GenerateResponse = z
  .array(z.object({ generated_text: z.string() }))
  .meta({ id: "GenerateResponse", description: "One {generated_text} per input" });

export const GenerateStreamEvent = z
  .object({
    index: z.number().int(),
    token: z.object({ id: z.number().int(), text: z.string(), special: z.boolean() }),
    generated_text: z.string().nullable(),
    details: z
      .object({ finish_reason: z.enum(["eos_token", "length"]), generated_tokens: z.number().int() })
      .nullable(),
  })
  .meta({
    id: "GenerateStreamEvent",
    description: "data of each server-sent event; the last one carries generated_text and details",
  });

// --- models, health -----------------------------------------------------------------------------
export const ModelObject = z
  .object({
    id: z.string(),
    object: z.literal("model"),
    created: z.number().int(),
    owned_by: z.string(),
    tasks: z.array(z.enum(TASKS)),
    dtype: z.enum(["f32", "int8"]),
    status: z.enum(["unloaded", "loading", "loaded", "failed"]),
    architecture: z.string().optional(),
    weight_bytes: z.number().int().optional(),
    load_ms: z.number().optional(),
    error: z.string().optional(),
    description: z.string().optional(),
    adapters: z
      .array(z.string())
      .optional()
      .meta({ description: "Adapters a request may name (field adapter)" }),
  })
  .meta({ id: "Model" });

export const ModelsResponse = z
  .object({ object: z.literal("list"), data: z.array(ModelObject) })
  .meta({ id: "ModelList" });

export const HealthResponse = z
  .object({
    status: z.literal("ok"),
    platform: z.string(),
    models: z.number().int(),
    loaded: z.array(z.string()),
    runtime: z
      .object({ relaxed_simd: z.boolean(), wasm_memory_bytes: z.number().int() })
      .nullable()
      .meta({ description: "Kernel runtime, once the first model has loaded" }),
  })
  .meta({ id: "Health" });
