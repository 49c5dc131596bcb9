// The Hono app, shared by Cloudflare Workers (worker/index.ts) and Node (worker/node.ts): middleware
// (request id, Server-Timing, one log line per request, CORS, bearer auth, body limit) and the route
// modules. Routes only validate, check limits and call src/tasks; the platform says how kernels are
// instantiated and where model files are read from.
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { requestId } from "hono/request-id";
import { ConfigurationError, readConfig } from "./config.ts";
import type { AppEnv } from "./context.ts";
import { ApiError, errorResponse, toApiError } from "./errors.ts";
import { ModelRegistry, type Platform } from "./models.ts";
import { openApiDocument } from "./openapi.ts";
import { PLAYGROUND_HTML } from "./playground.ts";
import { classifyRoute } from "./routes/classify.ts";
import { embeddings } from "./routes/embeddings.ts";
import { fillMaskRoute } from "./routes/fill-mask.ts";
import { generateRoute } from "./routes/generate.ts";
import { health, modelsRoute } from "./routes/info.ts";
import { nextSentenceRoute } from "./routes/next-sentence.ts";

const ms = (v: number) => Math.round(v * 100) / 100;

/** Constant-time string comparison (for the bearer token). */
function safeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

export function createApp(platform: Platform) {
  const registry = new ModelRegistry(platform);
  const app = new Hono<AppEnv>();

  // Request id (X-Request-Id: the client's, if it sent a sane one), timing and the log line.
  app.use("*", requestId({ headerName: "X-Request-Id" }));
  app.use("*", async (c, next) => {
    const start = performance.now();
    await next();
    const end = performance.now();
    const total = end - start;
    const load = c.var.loadMs ?? 0;
    const tokenize = c.var.timer?.tokenize ?? 0;
    const model = c.var.timer?.model ?? 0;
    // post: the rest of the handler once the model was ready (pooling, top-k, decoding, JSON)
    const readyAt = c.var.readyAt;
    const post = readyAt === undefined ? 0 : Math.max(0, end - readyAt - tokenize - model);
    c.res.headers.set(
      "Server-Timing",
      `load;dur=${ms(load)}, tokenize;dur=${ms(tokenize)}, model;dur=${ms(model)}, post;dur=${ms(post)}, total;dur=${ms(total)}`,
    );
    const log = c.var.config ? c.var.config.log : (c.env?.LOG_LEVEL ?? "info") !== "off";
    if (log) {
      console.log(
        JSON.stringify({
          level: c.res.status >= 500 ? "error" : "info",
          id: c.var.requestId,
          method: c.req.method,
          path: c.req.path,
          status: c.res.status,
          ...(c.var.modelName ? { model: c.var.modelName } : {}),
          ...(c.var.errorCode ? { error: c.var.errorCode } : {}),
          ...(c.var.stream ? { stream: true } : {}),
          ms: { total: ms(total), load: ms(load), tokenize: ms(tokenize), model: ms(model), post: ms(post) },
        }),
      );
    }
  });

  // Configuration (validated once per environment) and the isolate's model registry.
  app.use("*", async (c, next) => {
    c.set("config", readConfig(c.env ?? {}));
    c.set("registry", registry);
    await next();
  });

  app.use("*", (c, next) => {
    const { corsOrigins } = c.var.config;
    return cors({
      origin: corsOrigins === "*" ? "*" : corsOrigins,
      allowMethods: ["GET", "POST", "OPTIONS"],
      allowHeaders: ["Content-Type", "Authorization", "X-Request-Id"],
      exposeHeaders: ["X-Request-Id", "Server-Timing", "Retry-After"],
      maxAge: 600,
    })(c, next);
  });

  // Optional bearer auth on the API (the playground, /healthz and /openapi.json stay public).
  app.use("/v1/*", async (c, next) => {
    const key = c.var.config.apiKey;
    if (key) {
      const auth = c.req.header("Authorization") ?? "";
      const m = /^Bearer\s+(.+)$/i.exec(auth);
      if (!m) {
        throw new ApiError(401, "unauthorized", "missing bearer token (Authorization: Bearer <key>)", {
          "WWW-Authenticate": 'Bearer realm="edgeformer"',
        });
      }
      if (!safeEqual(m[1].trim(), key)) {
        throw new ApiError(401, "unauthorized", "wrong API key", {
          "WWW-Authenticate": 'Bearer realm="edgeformer", error="invalid_token"',
        });
      }
    }
    await next();
  });

  // POST bodies: JSON only, at most MAX_BODY_BYTES.
  app.use("/v1/*", async (c, next) => {
    if (c.req.method !== "POST") return next();
    const type = (c.req.header("Content-Type") ?? "").split(";")[0].trim().toLowerCase();
    if (!/^application\/([\w.-]+\+)?json$/.test(type))
      throw new ApiError(400, "invalid_content_type", "Content-Type must be application/json");
    const max = c.var.config.limits.maxBodyBytes;
    return bodyLimit({
      maxSize: max,
      onError: () => {
        throw new ApiError(413, "body_too_large", `request body is larger than ${max} bytes`);
      },
    })(c, next);
  });

  app.route("/v1", embeddings);
  app.route("/v1", fillMaskRoute);
  app.route("/v1", classifyRoute);
  app.route("/v1", nextSentenceRoute);
  app.route("/v1", generateRoute);
  app.route("/v1", modelsRoute);
  app.get("/healthz", (c) => health(c, platform.name));
  app.get("/openapi.json", (c) => c.json(openApiDocument()));
  app.get("/", (c) => c.html(PLAYGROUND_HTML));

  // Unknown path: 404; known path, other method: 405 with Allow.
  const routeTable = () =>
    app.routes.filter((r) => r.method !== "ALL").map((r) => ({ method: r.method, re: pathPattern(r.path) }));
  let table: ReturnType<typeof routeTable> | undefined;
  app.notFound((c) => {
    table ??= routeTable();
    const allowed = [...new Set(table.filter((r) => r.re.test(c.req.path)).map((r) => r.method))];
    if (allowed.length > 0) {
      c.header("Allow", [...allowed, ...(allowed.includes("GET") ? ["HEAD"] : []), "OPTIONS"].join(", "));
      return errorResponse(
        c,
        new ApiError(405, "method_not_allowed", `${c.req.method} is not allowed on ${c.req.path}`),
      );
    }
    return errorResponse(c, new ApiError(404, "not_found", `no route ${c.req.method} ${c.req.path}`));
  });

  app.onError((err, c: Context<AppEnv>) => {
    let e = toApiError(err);
    if (err instanceof ConfigurationError) e = new ApiError(503, "misconfigured", err.message);
    if (e.status === 500)
      console.error(
        JSON.stringify({ level: "error", id: c.var.requestId, error: String((err as Error)?.stack ?? err) }),
      );
    return errorResponse(c, e);
  });

  return app;
}

function pathPattern(path: string): RegExp {
  const body = path
    .split("/")
    .map((seg) => (seg.startsWith(":") ? "[^/]+" : seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("/");
  return new RegExp(`^${body}/?$`);
}
