// The playground page in headless Chromium against the real worker as `npm start` runs it (`wrangler
// dev` on 127.0.0.1, wrangler.toml's vars: the embedded default models): it loads, lists the models
// with each form's default (the model the API picks) and its description, and a fill-mask request shows
// the API's answer; a streamed generation of an example input shows the same text as the API's
// non-streamed answer. Needs Debian's chromium (.ci/run installs it); without one the test is skipped
// locally and fails under CI.
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, startDevServer } from "../../worker/dev.ts";
import { findChromium, freePort } from "./helpers.ts";

const executablePath = findChromium();
if (!executablePath && process.env.CI)
  throw new Error("chromium not found: install Debian's chromium package");

describe.skipIf(!executablePath)("playground in headless Chromium", () => {
  let server: DevServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startDevServer({ port: await freePort(), quiet: true, vars: { LOG_LEVEL: "off" } });
    browser = await chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-gpu"] });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("loads, lists the default models, and a fill-mask request shows an answer", async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${server.url}/`);
    await expect(page.title()).resolves.toBe("edgeformer playground");
    await page.waitForFunction(
      () => (document.querySelector("#fill-mask-model") as HTMLSelectElement).options.length > 0,
    );
    const status = (await page.locator("#models-status").textContent()) ?? "";
    for (const name of ["bert-wordnet", "bert-wordnet-pos", "t5-wordnet"]) expect(status).toContain(name);
    const selected = (id: string) => page.locator(id).inputValue();
    await expect(selected("#fill-mask-model")).resolves.toBe("bert-wordnet");
    await expect(selected("#classify-model")).resolves.toBe("bert-wordnet-pos");
    await expect(selected("#generate-model")).resolves.toBe("t5-wordnet");
    await expect(page.locator("#classify-desc").textContent()).resolves.toMatch(/part-of-speech/);
    const text = "a person is a human [MASK].";
    await expect(page.locator("#fill-mask-text").inputValue()).resolves.toBe(text); // the example input

    await page.fill("#fill-mask-top-k", "3");
    await page.click("#fill-mask-run");
    await page.waitForFunction(() => document.querySelector("#fill-mask-answer")?.textContent !== "");
    const answer = (await page.locator("#fill-mask-answer").textContent()) ?? "";
    expect(await page.locator("#fill-mask-answer").getAttribute("class")).not.toContain("err");

    const api = (await (
      await fetch(`${server.url}/v1/fill-mask`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ inputs: text, top_k: 3 }),
      })
    ).json()) as { token_str: string; score: number }[];
    expect(answer).toBe(api.map((c) => `${c.token_str} (${c.score.toFixed(3)})`).join(", "));
    expect(await page.locator("#fill-mask-output").textContent()).toContain("Server-Timing");
    expect(errors).toEqual([]);
    await page.close();
  });

  it("streams a generation of an example input into the page", async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/`);
    await page.waitForFunction(
      () => (document.querySelector("#generate-model") as HTMLSelectElement).options.length > 0,
    );
    await page.click('button[data-example="synonyms: happy"]');
    await expect(page.locator("#generate-text").inputValue()).resolves.toBe("synonyms: happy");
    await page.click("#generate-run");
    await page.waitForFunction(() =>
      /finish:/.test(document.querySelector("#generate-output")?.textContent ?? ""),
    );
    const streamed = await page.locator("#generate-answer").textContent();
    const [plain] = (await (
      await fetch(`${server.url}/v1/generate`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ inputs: "synonyms: happy", max_new_tokens: 20 }),
      })
    ).json()) as { generated_text: string }[];
    expect(streamed).toBe(plain.generated_text);
    expect(plain.generated_text.trim().length).toBeGreaterThan(0);
    await page.close();
  });
});
