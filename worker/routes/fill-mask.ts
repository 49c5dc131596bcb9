// POST /v1/fill-mask — transformers' FillMaskPipeline shape: one text with one mask gives
// [{score, token, token_str, sequence}], several masks one list per mask, a list of texts one result each.
import { Hono } from "hono";
import { fillMask } from "../../src/tasks/fill-mask.ts";
import { type AppEnv, asList, checkBatch, checkTokens, checkTopK, useModel } from "../context.ts";
import { FillMaskRequest } from "../schemas.ts";
import { jsonBody } from "../validate.ts";

export const fillMaskRoute = new Hono<AppEnv>().post("/fill-mask", jsonBody(FillMaskRequest), async (c) => {
  const body = c.req.valid("json");
  const texts = asList(body.inputs);
  checkBatch(c, texts.length);
  checkTopK(c, body.top_k);
  const m = await useModel(c, "fill-mask", body.model, "bert", body.adapter);
  checkTokens(c, m, texts);
  const perText = fillMask(m.pipeline, texts, { topK: body.top_k }).map((masks) =>
    masks.length === 1 ? masks[0] : masks,
  );
  return c.json(Array.isArray(body.inputs) ? perText : perText[0]);
});
