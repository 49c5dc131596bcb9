// POST /v1/classify — sequence classification: [{label, score}] (top_k labels) per text.
import { Hono } from "hono";
import { classify } from "../../src/tasks/classify.ts";
import { type AppEnv, asList, checkBatch, checkTokens, checkTopK, useModel } from "../context.ts";
import { ApiError } from "../errors.ts";
import { ClassifyRequest } from "../schemas.ts";
import { jsonBody } from "../validate.ts";

export const classifyRoute = new Hono<AppEnv>().post("/classify", jsonBody(ClassifyRequest), async (c) => {
  const body = c.req.valid("json");
  const texts = asList(body.inputs);
  const pairs = body.text_pair === undefined ? undefined : asList(body.text_pair);
  if (pairs && pairs.length !== texts.length)
    throw new ApiError(
      422,
      "invalid_request",
      `text_pair has ${pairs.length} texts, inputs has ${texts.length}`,
    );
  checkBatch(c, texts.length);
  checkTopK(c, body.top_k);
  const m = await useModel(c, "classify", body.model, "bert", body.adapter);
  checkTokens(c, m, texts, pairs);
  const r = classify(m.pipeline, texts, { topK: body.top_k, pairs, multiLabel: body.multi_label });
  return c.json(Array.isArray(body.inputs) ? r : r[0]);
});
