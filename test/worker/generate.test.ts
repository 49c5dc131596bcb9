// /v1/generate inside workerd with the T5 fixture trained to copy its input: batch output, and the
// server-sent event stream read to the end and checked against the non-streamed output (greedy and
// seeded sampling).
import { describe, expect, it } from "vitest";
import { fetchWith, json, jsonRequest, post } from "./helpers.ts";

interface StreamEvent {
  index: number;
  token: { id: number; text: string; special: boolean };
  generated_text: string | null;
  details: { finish_reason: "eos_token" | "length"; generated_tokens: number } | null;
}

async function readEvents(res: Response): Promise<StreamEvent[]> {
  expect(res.status).toBe(200);
  expect(res.headers.get("Content-Type")).toMatch(/^text\/event-stream/);
  const text = await res.text(); // to the end of the stream
  const events: StreamEvent[] = [];
  for (const block of text.split("\n\n")) {
    if (!block.trim()) continue;
    const lines = block.split("\n");
    expect(
      lines.some((l) => l.startsWith("event: error")),
      block,
    ).toBe(false);
    const data = lines
      .filter((l) => l.startsWith("data:"))
      .map((l) => l.slice(5).trimStart())
      .join("\n");
    events.push(JSON.parse(data) as StreamEvent);
  }
  return events;
}

describe("POST /v1/generate", () => {
  it("[{generated_text}] per input; the copy model copies", async () => {
    const one = await json<{ generated_text: string }[]>(
      await post("/v1/generate", { inputs: "a b c d e", max_new_tokens: 12 }),
    );
    expect(one).toEqual([{ generated_text: expect.any(String) }]);
    expect(one[0].generated_text.length).toBeGreaterThan(0);
    const many = await json<{ generated_text: string }[]>(
      await post("/v1/generate", {
        inputs: ["a b c d e", "the cat is on the mat."],
        max_new_tokens: 12,
        num_beams: 2,
      }),
    );
    expect(many).toHaveLength(2);
  });

  it("beam search over more rows than MAX_BATCH: decoded in groups, each answer as the input alone", async () => {
    const inputs = ["a b c d e", "the cat is on the mat.", "x y", "one two three four five six seven"];
    const req = { inputs, max_new_tokens: 12, num_beams: 2 };
    // MAX_BATCH 4: 4 inputs × 2 beams = 8 rows → two groups of 2 inputs
    const grouped = await json<{ generated_text: string }[]>(
      await fetchWith({ MAX_BATCH: "4" }, jsonRequest("/v1/generate", req)),
    );
    const oneBatch = await json<{ generated_text: string }[]>(await post("/v1/generate", req));
    const alone = await Promise.all(
      inputs.map(async (t) => {
        const [r] = await json<{ generated_text: string }[]>(
          await post("/v1/generate", { ...req, inputs: t }),
        );
        return r;
      }),
    );
    expect(grouped).toEqual(alone);
    expect(oneBatch).toEqual(alone);
    expect(grouped[0].generated_text.length).toBeGreaterThan(0);
  });

  it("stream: one event per token, read to the end, equal to the non-streamed output (greedy)", async () => {
    const req = { inputs: "the cat is on the mat.", max_new_tokens: 24 };
    const [plain] = await json<{ generated_text: string }[]>(await post("/v1/generate", req));
    const events = await readEvents(await post("/v1/generate", { ...req, stream: true }));
    expect(events.length).toBeGreaterThan(1);
    expect(events.map((e) => e.index)).toEqual(events.map((_, i) => i));
    const last = events.at(-1)!;
    expect(last.generated_text).toBe(plain.generated_text);
    expect(last.details!.generated_tokens).toBe(events.length);
    for (const e of events.slice(0, -1)) expect(e.generated_text).toBeNull();
    expect(events.map((e) => e.token.text).join("")).toBe(plain.generated_text);
    if (last.details!.finish_reason === "eos_token") expect(last.token.special).toBe(true);
  });

  it("stream stops at max_new_tokens with finish_reason length", async () => {
    const events = await readEvents(
      await post("/v1/generate", { inputs: "the cat is on the mat.", max_new_tokens: 3, stream: true }),
    );
    expect(events).toHaveLength(3);
    expect(events[2].details).toEqual({ finish_reason: "length", generated_tokens: 3 });
  });

  it("seeded sampling: the stream equals the non-streamed output", async () => {
    const req = {
      inputs: "a b c d e",
      max_new_tokens: 16,
      do_sample: true,
      temperature: 1.5,
      top_k: 20,
      top_p: 0.9,
      seed: 7,
    };
    const [plain] = await json<{ generated_text: string }[]>(await post("/v1/generate", req));
    const [again] = await json<{ generated_text: string }[]>(await post("/v1/generate", req));
    expect(again).toEqual(plain);
    const events = await readEvents(await post("/v1/generate", { ...req, stream: true }));
    expect(events.at(-1)!.generated_text).toBe(plain.generated_text);
  });
});
