// POST /v1/next-sentence — BERT's next-sentence head: the probability that text_pair follows text.
import { Hono } from "hono";
import { nextSentence } from "../../src/tasks/next-sentence.ts";
import { type AppEnv, asList, checkBatch, checkTokens, useModel } from "../context.ts";
import { NextSentenceRequest } from "../schemas.ts";
import { jsonBody } from "../validate.ts";

export const nextSentenceRoute = new Hono<AppEnv>().post(
  "/next-sentence",
  jsonBody(NextSentenceRequest),
  async (c) => {
    const body = c.req.valid("json");
    const pairs = asList(body.inputs);
    checkBatch(c, pairs.length);
    const m = await useModel(c, "next-sentence", body.model, "bert", body.adapter);
    checkTokens(
      c,
      m,
      pairs.map((p) => p.text),
      pairs.map((p) => p.text_pair),
    );
    const r = nextSentence(
      m.pipeline,
      pairs.map((p) => [p.text, p.text_pair]),
    ).map((x) => ({ score: x.isNextProbability, is_next: x.isNextProbability >= 0.5 }));
    return c.json(Array.isArray(body.inputs) ? r : r[0]);
  },
);
