// POST /v1/embeddings — OpenAI's request and response shape (input: string or list; encoding_format
// float or base64), with pooling (mean | cls) and normalize options.
import { Hono } from "hono";
import { embed } from "../../src/tasks/embeddings.ts";
import { type AppEnv, asList, checkBatch, checkTokens, useModel } from "../context.ts";
import { EmbeddingsRequest } from "../schemas.ts";
import { jsonBody } from "../validate.ts";

function base64(v: Float32Array): string {
  const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength); // little-endian on every engine we run on
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export const embeddings = new Hono<AppEnv>().post("/embeddings", jsonBody(EmbeddingsRequest), async (c) => {
  const body = c.req.valid("json");
  const texts = asList(body.input);
  checkBatch(c, texts.length);
  const m = await useModel(c, "embeddings", body.model, "bert", body.adapter);
  const counts = checkTokens(c, m, texts);
  const r = embed(m.pipeline, texts, { pooling: body.pooling, normalize: body.normalize });
  const tokens = counts.reduce((a, b) => a + b, 0);
  return c.json({
    object: "list" as const,
    data: r.embeddings.map((e, index) => ({
      object: "embedding" as const,
      index,
      embedding: body.encoding_format === "base64" ? base64(e) : Array.from(e),
    })),
    model: c.var.modelName!,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  });
});
