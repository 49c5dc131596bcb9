// `edgeformer pretrain bert|t5` parses one list of flags for both models (PRETRAIN_OPTIONS); each model
// must refuse the flags only the other takes with a usage error (exit 2) instead of silently running
// without them (e.g. `pretrain bert --lr-scale rms` training plain AdamW). Checked on pretrainCommand
// directly: the refusal comes before any file is read or any training starts.
import { describe, expect, it } from "vitest";
import { UsageError } from "../src/cli/args.ts";
import { PRETRAIN_OPTIONS, pretrainCommand } from "../src/cli/commands/pretrain.ts";

/** Flags that only `pretrain t5` reads (src/cli/commands/train-t5.ts). */
const T5_ONLY = [
  "eval-corpus",
  "objective",
  "noise-density",
  "mean-noise-span-length",
  "input-length",
  "target-length",
  "micro-batch",
  "stop-at",
  "lr-scale",
  "loss-weighting",
];
/** Flags that only `pretrain bert` reads. */
const BERT_ONLY = ["vocab", "accumulate", "seq-len", "dupe-factor", "cased"];

const flagValue = (f: string) => (f === "cased" ? true : "1");

describe("pretrain: flags of the other model", () => {
  it("every listed flag is one the parser knows", () => {
    for (const f of [...T5_ONLY, ...BERT_ONLY]) expect(Object.hasOwn(PRETRAIN_OPTIONS, f), f).toBe(true);
  });

  it("pretrain bert refuses each t5-only flag by name", async () => {
    for (const f of T5_ONLY) {
      const run = pretrainCommand({ out: "/nonexistent/run", corpus: "/nonexistent/c.txt", [f]: "1" }, [
        "bert",
      ]);
      await expect(run, f).rejects.toThrow(UsageError);
      await expect(run, f).rejects.toThrow(`--${f} is for pretrain t5, not bert`);
    }
  });

  it("pretrain t5 refuses each bert-only flag by name", async () => {
    for (const f of BERT_ONLY) {
      const run = pretrainCommand(
        { out: "/nonexistent/run", corpus: "/nonexistent/c.txt", [f]: flagValue(f) },
        ["t5"],
      );
      await expect(run, f).rejects.toThrow(`--${f} is for pretrain bert, not t5`);
    }
  });

  it("flags both models take pass the check (bert then stops at its own missing --corpus)", async () => {
    for (const f of ["threads", "held-out", "steps", "lr", "vocab-size", "resume"]) {
      const flags = { out: "/nonexistent/run", [f]: f === "resume" ? false : "20" };
      await expect(pretrainCommand(flags, ["bert"]), f).rejects.toThrow("--corpus is required");
    }
  });
});
