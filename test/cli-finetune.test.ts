// `edgeformer finetune` end to end, in child processes as users run it (tiny BERT, synthetic two-class
// task): an adapters run killed with SIGKILL after a checkpoint and resumed ends bit-identical to an
// uninterrupted one (metrics, adapter file); the result JSON and progress lines; a NaN (test hook) exits
// 1 naming the last good checkpoint; usage errors exit 2 with one line.
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readLatest } from "../src/train/checkpoint.ts";
import { runCli } from "./helpers/cli.ts";
import { finetuneSetup } from "./train/finetune-setup.ts";

const setup = finetuneSetup("edgeformer-finetune-cli-");
afterAll(() => rmSync(setup.dir, { recursive: true, force: true }));

const cli = runCli;

const common = (out: string, steps = 24) => [
  "finetune",
  "--model",
  setup.base,
  "--data",
  setup.train,
  "--eval-data",
  setup.eval,
  "--out",
  join(setup.dir, out),
  "--strategy",
  "adapters",
  "--bottleneck",
  "8",
  "--steps",
  String(steps),
  "--batch",
  "8",
  "--seq-len",
  "16",
  "--lr",
  "3e-3",
  "--eval-every",
  "12",
  "--save-every",
  "4",
  "--log-every",
  "1",
  "--progress",
  "lines",
];

function metrics(out: string): Record<string, unknown>[] {
  return readFileSync(join(setup.dir, out, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => {
      const { tokens_per_s: _t, elapsed_s: _e, ...rest } = JSON.parse(l);
      return rest;
    });
}

describe("edgeformer finetune", () => {
  it("resumes after SIGKILL bit for bit; prints progress and a JSON result", async () => {
    const killedDir = join(setup.dir, "killed");
    let kill: () => void = () => {};
    let killedAt: number | undefined;
    const killed = cli(common("killed"), { EDGEFORMER_TEST_STEP_DELAY_MS: "80" }, (k) => {
      kill = k;
    });
    const watch = (async () => {
      for (;;) {
        const l = await readLatest(killedDir).catch(() => undefined);
        if (l && l.step >= 8) {
          killedAt = l.step;
          kill();
          return;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const [full, k] = await Promise.all([cli(common("full")), killed.finally(() => watch)]);
    expect(full.code, full.err).toBe(0);
    expect(k.signal, `the run finished before it could be killed: ${k.err}`).toBe("SIGKILL");
    expect(killedAt).toBeLessThan(24);
    const j = JSON.parse(full.out);
    expect(j).toMatchObject({ model_type: "bert", strategy: "adapters", steps: 24, output: "adapter" });
    expect(j.files).toEqual(["adapter_config.json", "adapter.safetensors"]);
    expect(full.err).toMatch(/finetune bert \(adapters\): 96 training and 40 held-out examples/);
    expect(full.err).toMatch(/eval at step 24: loss [\d.]+, accuracy [\d.]+% \(majority baseline [\d.]+%/);

    const resumed = await cli([...common("killed"), "--resume"]);
    expect(resumed.code, resumed.err).toBe(0);
    expect(JSON.parse(resumed.out).resumed_from).toBeGreaterThanOrEqual(8);
    expect(metrics("killed")).toEqual(metrics("full"));
    const file = (run: string) => readFileSync(join(setup.dir, run, "adapter.safetensors"));
    expect(file("killed").equals(file("full"))).toBe(true);
    expect(readdirSync(killedDir).filter((n) => n.startsWith("."))).toEqual([]);
  });

  it("a NaN exits 1 with the last good checkpoint; usage errors exit 2", async () => {
    const out = join(setup.dir, "usage");
    const [nan, noStrategy, badStrategy, bothLengths] = await Promise.all([
      cli(common("nan", 12), { EDGEFORMER_TEST_NAN_STEP: "6" }),
      cli(["finetune", "--model", setup.base, "--data", setup.train, "--out", out]),
      cli(["finetune", "--model", setup.base, "--data", setup.train, "--out", out, "--strategy", "lora"]),
      cli([...common("both"), "--epochs", "2"]),
    ]);
    expect(nan.code).toBe(1);
    expect(nan.out).toBe("");
    expect(nan.err.trim().split("\n").pop()).toMatch(
      /^edgeformer finetune: training diverged: loss is NaN at step 6 .*last good checkpoint: .*checkpoint-4\b/,
    );
    expect(noStrategy.code).toBe(2);
    expect(noStrategy.err).toMatch(
      /^edgeformer finetune: --strategy is required\nusage: edgeformer finetune --model/,
    );
    expect(badStrategy.code).toBe(2);
    expect(badStrategy.err).toMatch(/--strategy must be one of full, unfreeze, adapters; got "lora"/);
    expect(bothLengths.code).toBe(2);
    expect(bothLengths.err).toMatch(/give either steps or epochs, not both/);
  });
});
