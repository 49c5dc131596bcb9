// POST /v1/generate — T5 text-to-text: [{generated_text}] per input; with stream: true, server-sent
// events, one per generated token ({index, token: {id, text, special}, generated_text, details}, the
// last carrying the whole text and finish reason — the text-generation-inference event shape). With
// beams, inputs are decoded in groups of at most MAX_BATCH rows (inputs × num_beams), bounding memory.
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { generateTexts, streamTokens, type TextGenerationOptions } from "../../src/tasks/generate.ts";
import { type AppEnv, asList, checkBatch, checkTokens, useModel } from "../context.ts";
import { ApiError, errorBody, toApiError } from "../errors.ts";
import { GenerateRequest } from "../schemas.ts";
import { jsonBody } from "../validate.ts";

const nextTick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

export const generateRoute = new Hono<AppEnv>().post("/generate", jsonBody(GenerateRequest), async (c) => {
  const body = c.req.valid("json");
  const { limits } = c.var.config;
  const texts = asList(body.inputs);
  checkBatch(c, texts.length);
  if (body.max_new_tokens !== undefined && body.max_new_tokens > limits.maxNewTokens)
    throw new ApiError(
      422,
      "invalid_input",
      `max_new_tokens ${body.max_new_tokens} is over the limit of ${limits.maxNewTokens}`,
    );
  if (body.num_beams !== undefined && body.num_beams > limits.maxBeams)
    throw new ApiError(
      422,
      "invalid_input",
      `num_beams ${body.num_beams} is over the limit of ${limits.maxBeams}`,
    );
  if (body.stream && texts.length !== 1)
    throw new ApiError(422, "invalid_input", "stream: true takes one input text");
  if (body.stream && (body.num_beams ?? 1) > 1)
    throw new ApiError(422, "invalid_input", "stream: true cannot be combined with num_beams > 1");
  const opts: TextGenerationOptions = {
    maxNewTokens: body.max_new_tokens ?? Math.min(20, limits.maxNewTokens),
    numBeams: body.num_beams,
    doSample: body.do_sample,
    temperature: body.temperature,
    topK: body.top_k,
    topP: body.top_p,
    seed: body.seed,
    noRepeatNgramSize: body.no_repeat_ngram_size,
    repetitionPenalty: body.repetition_penalty,
  };
  const m = await useModel(c, "generate", body.model, "t5", body.adapter);
  checkTokens(c, m, texts);
  if (!body.stream) {
    // Beam search decodes inputs × num_beams rows at once, and the decoder cache grows with the rows
    // (t5-wordnet: ~1.5 MiB a row at 128 input tokens, so 16 inputs × 4 beams would take ~100 MiB of
    // the isolate's 128 MB). Inputs are decoded in groups of at most MAX_BATCH rows; each input's result
    // does not depend on the others in its batch. (Sampling has one beam: never more than one group.)
    const group = Math.max(1, Math.floor(limits.maxBatch / (body.num_beams ?? 1)));
    const r = [];
    for (let i = 0; i < texts.length; i += group)
      r.push(...generateTexts(m.pipeline, texts.slice(i, i + group), opts));
    return c.json(r.map((x) => ({ generated_text: x.generated_text })));
  }

  // Streaming: the first step runs before the response starts, so bad input is still a plain 4xx.
  const gen = streamTokens(m.pipeline, texts[0], opts);
  let step = gen.next();
  c.set("stream", true);
  return streamSSE(c, async (stream) => {
    let aborted = false;
    stream.onAbort(() => {
      aborted = true;
    });
    try {
      for (let index = 0; ; index++) {
        if (step.done) break;
        const token = step.value;
        step = gen.next();
        const final = step.done ? step.value : undefined;
        await stream.writeSSE({
          data: JSON.stringify({
            index,
            token,
            generated_text: final ? final.generated_text : null,
            details: final
              ? { finish_reason: final.finishReason, generated_tokens: final.generatedTokens }
              : null,
          }),
        });
        if (aborted) break;
        await nextTick(); // let the runtime flush this event before the next decoder step
      }
    } catch (err) {
      const e = toApiError(err);
      await stream.writeSSE({ event: "error", data: JSON.stringify(errorBody(e.code, e.message)) });
    } finally {
      gen.return(undefined as never);
    }
  });
});
