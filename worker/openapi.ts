// The OpenAPI 3.1 document, generated from the same zod schemas that validate requests.
import { z } from "zod";
import {
  ClassifyRequest,
  ClassifyResponse,
  EmbeddingsRequest,
  EmbeddingsResponse,
  ErrorSchema,
  FillMaskRequest,
  FillMaskResponse,
  GenerateRequest,
  GenerateResponse,
  GenerateStreamEvent,
  HealthResponse,
  ModelObject,
  ModelsResponse,
  NextSentenceRequest,
  NextSentenceResponse,
} from "./schemas.ts";

interface Operation {
  method: "get" | "post";
  path: string;
  summary: string;
  request?: z.ZodType;
  response: z.ZodType;
  stream?: z.ZodType;
  contentType?: string;
}

export const OPERATIONS: Operation[] = [
  {
    method: "post",
    path: "/v1/embeddings",
    summary: "Sentence embeddings (OpenAI shape)",
    request: EmbeddingsRequest,
    response: EmbeddingsResponse,
  },
  {
    method: "post",
    path: "/v1/fill-mask",
    summary: "Most likely tokens for each mask",
    request: FillMaskRequest,
    response: FillMaskResponse,
  },
  {
    method: "post",
    path: "/v1/classify",
    summary: "Text classification labels with scores",
    request: ClassifyRequest,
    response: ClassifyResponse,
  },
  {
    method: "post",
    path: "/v1/next-sentence",
    summary: "Probability that text_pair follows text",
    request: NextSentenceRequest,
    response: NextSentenceResponse,
  },
  {
    method: "post",
    path: "/v1/generate",
    summary: "Text-to-text generation (T5); stream: true for server-sent events",
    request: GenerateRequest,
    response: GenerateResponse,
    stream: GenerateStreamEvent,
  },
  { method: "get", path: "/v1/models", summary: "Served models", response: ModelsResponse },
  { method: "get", path: "/v1/models/{model}", summary: "One served model", response: ModelObject },
  { method: "get", path: "/healthz", summary: "Liveness and runtime state", response: HealthResponse },
  { method: "get", path: "/openapi.json", summary: "This document", response: z.object({}).passthrough() },
  { method: "get", path: "/", summary: "Playground page", response: z.string(), contentType: "text/html" },
];

const ERRORS: Record<string, string> = {
  "400": "Malformed JSON or wrong Content-Type",
  "401": "Missing or wrong bearer token (when API_KEY is set)",
  "404": "Unknown model",
  "413": "Body larger than MAX_BODY_BYTES",
  "422": "Invalid input (types, empty input, limits, task input)",
  "503": "Model not available (Retry-After tells when to retry)",
};

/** Named schemas (zod .meta({id})) collected into components.schemas. */
const components: Record<string, unknown> = {};

function rewriteRefs(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(rewriteRefs);
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      out[k] =
        k === "$ref" && typeof x === "string"
          ? x.replace("#/$defs/", "#/components/schemas/")
          : rewriteRefs(x);
    }
    return out;
  }
  return v;
}

function schema(s: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  const {
    $schema: _ignored,
    $defs,
    ...rest
  } = z.toJSONSchema(s, { io, unrepresentable: "any" }) as Record<string, unknown> & {
    $defs?: Record<string, unknown>;
  };
  for (const [id, def] of Object.entries($defs ?? {})) components[id] ??= rewriteRefs(def);
  return rewriteRefs(rest) as Record<string, unknown>;
}

let cached: object | undefined;

export function openApiDocument(): object {
  if (cached) return cached;
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    const responses: Record<string, unknown> = {
      "200": {
        description: "OK",
        content: {
          [op.contentType ?? "application/json"]: { schema: schema(op.response, "output") },
          ...(op.stream ? { "text/event-stream": { schema: schema(op.stream, "output") } } : {}),
        },
      },
    };
    if (op.path.startsWith("/v1/")) {
      for (const [code, description] of Object.entries(ERRORS)) {
        if (!op.request && (code === "400" || code === "413" || code === "422")) continue;
        responses[code] = {
          description,
          content: { "application/json": { schema: schema(ErrorSchema, "output") } },
        };
      }
    }
    paths[op.path] ??= {};
    paths[op.path][op.method] = {
      summary: op.summary,
      ...(op.path.includes("{model}")
        ? { parameters: [{ name: "model", in: "path", required: true, schema: { type: "string" } }] }
        : {}),
      ...(op.request
        ? {
            requestBody: {
              required: true,
              content: { "application/json": { schema: schema(op.request, "input") } },
            },
          }
        : {}),
      responses,
      ...(op.path.startsWith("/v1/") ? { security: [{ bearer: [] }, {}] } : {}),
    };
  }
  cached = {
    openapi: "3.1.0",
    info: {
      title: "edgeformer",
      version: "0.1.0",
      description: "BERT and T5 on WebAssembly SIMD kernels. Errors: {error: {code, message}}.",
    },
    paths,
    components: { schemas: components, securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
  };
  return cached;
}
