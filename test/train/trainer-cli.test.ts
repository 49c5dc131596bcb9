// `edgeformer pretrain bert` end to end, in child processes as users run it: a run killed with SIGKILL
// after some checkpoints and resumed gives bit-identical metrics, weights and optimizer state to an
// uninterrupted run; a NaN loss (test hook) or a learning rate that blows up stops with a one-line
// message and exit 1, keeping the last good checkpoint, from which --resume continues; usage errors exit 2.
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readLatest } from "../../src/train/checkpoint.ts";
import { runCli } from "../helpers/cli.ts";
import { tinySetup } from "./trainer-corpus.ts";

const setup = tinySetup("edgeformer-trainer-cli-");
afterAll(() => rmSync(setup.dir, { recursive: true, force: true }));

const cli = runCli;

const common = (out: string, steps = 30) => [
  "pretrain",
  "bert",
  "--corpus",
  setup.corpus,
  "--config",
  setup.config,
  "--out",
  join(setup.dir, out),
  "--steps",
  String(steps),
  "--batch",
  "8",
  "--seq-len",
  "32",
  "--lr",
  "2e-3",
  "--vocab-size",
  "200",
  "--held-out",
  "0.1",
  "--eval-every",
  "10",
  "--save-every",
  "5",
  "--log-every",
  "1",
  "--progress",
  "lines",
];

/** metrics.jsonl without the wall-clock fields. */
function metrics(out: string): Record<string, unknown>[] {
  return readFileSync(join(setup.dir, out, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => {
      const { tokens_per_s: _t, elapsed_s: _e, ...rest } = JSON.parse(l);
      return rest;
    });
}

const bytes = (...p: string[]) => readFileSync(join(setup.dir, ...p));

describe("edgeformer pretrain bert", () => {
  it("resumes after SIGKILL bit for bit: same losses, weights and optimizer state as an uninterrupted run", async () => {
    const killedDir = join(setup.dir, "killed");
    let kill: () => void = () => {};
    let killedAt: number | undefined;
    const killed = cli(common("killed"), { EDGEFORMER_TEST_STEP_DELAY_MS: "60" }, (k) => {
      kill = k;
    });
    const watch = (async () => {
      for (;;) {
        const l = await readLatest(killedDir).catch(() => undefined);
        if (l && l.step >= 10) {
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
    expect(killedAt).toBeLessThan(30);

    const resumed = await cli([...common("killed"), "--resume"]);
    expect(resumed.code, resumed.err).toBe(0);
    const j = JSON.parse(resumed.out);
    expect(j.resumed_from).toBeGreaterThanOrEqual(10);
    expect(resumed.err).toMatch(/resuming from .*checkpoint-\d+/);

    const a = metrics("full");
    expect(a.filter((e) => e.type === "train")).toHaveLength(30);
    expect(a.filter((e) => e.type === "eval")).toHaveLength(3);
    expect(metrics("killed")).toEqual(a);
    expect(
      bytes("killed", "checkpoint-30", "model.safetensors").equals(
        bytes("full", "checkpoint-30", "model.safetensors"),
      ),
    ).toBe(true);
    expect(
      bytes("killed", "checkpoint-30", "optimizer.safetensors").equals(
        bytes("full", "checkpoint-30", "optimizer.safetensors"),
      ),
    ).toBe(true);
    expect(bytes("killed", "model.safetensors").equals(bytes("full", "model.safetensors"))).toBe(true);
    expect(readdirSync(killedDir).filter((n) => n.startsWith("."))).toEqual([]);
  });

  it("stops on a NaN loss with exit 1 and keeps the last good checkpoint; --resume continues from it", async () => {
    const [nan, blowUp] = await Promise.all([
      cli(common("nan", 12), { EDGEFORMER_TEST_NAN_STEP: "8" }),
      cli([...common("blowup", 12), "--lr", "1e7", "--max-grad-norm", "0", "--warmup", "0"]),
    ]);
    expect(nan.code).toBe(1);
    expect(nan.out).toBe("");
    const last = nan.err.trim().split("\n").pop()!;
    expect(last).toMatch(
      /^edgeformer pretrain: training diverged: loss is NaN at step 8 .*last good checkpoint: .*checkpoint-5\b/,
    );
    expect((await readLatest(join(setup.dir, "nan")))?.step).toBe(5);
    expect(readdirSync(join(setup.dir, "nan")).filter((n) => n.startsWith("checkpoint-"))).toEqual([
      "checkpoint-5",
    ]);
    expect(blowUp.code).toBe(1);
    expect(blowUp.err).toMatch(/training diverged: (loss|gradient norm) is (NaN|-?Infinity) at step \d+/);

    const resumed = await cli([...common("nan", 12), "--resume"]);
    expect(resumed.code, resumed.err).toBe(0);
    expect(JSON.parse(resumed.out)).toMatchObject({ resumed_from: 5, steps: 12 });
    expect((await readLatest(join(setup.dir, "nan")))?.step).toBe(12);
  });

  it("usage errors exit 2 with a one-line message", async () => {
    const out = join(setup.dir, "usage");
    const [noModel, noCorpus, badSchedule] = await Promise.all([
      cli(["pretrain", "--corpus", setup.corpus, "--out", out]),
      cli(["pretrain", "bert", "--out", out]),
      cli(["pretrain", "bert", "--corpus", setup.corpus, "--out", out, "--schedule", "step"]),
    ]);
    expect(noModel.code).toBe(2);
    expect(noModel.err).toMatch(/^edgeformer pretrain: which model to pretrain\? \(bert or t5\)\n/);
    expect(noCorpus.code).toBe(2);
    expect(noCorpus.err).toMatch(/--corpus is required/);
    expect(badSchedule.code).toBe(2);
    expect(badSchedule.err).toMatch(/--schedule must be one of linear, cosine/);
  });
});
