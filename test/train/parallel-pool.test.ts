// TrainerPool.create's cleanup (src/train/parallel-pool.ts) with node:worker_threads mocked (no real
// threads): when a worker cannot be started, or one fails before it is ready, every worker already
// started is terminated (a live worker thread would keep the process from ever exiting) and create
// rejects with that failure.
import { EventEmitter } from "node:events";
import { beforeEach, describe, expect, it, vi } from "vitest";

/** What the fake Worker constructor does next: start a worker that replies this, or throw. */
const plan: ({ reply: "ready" | "error" } | { throws: Error })[] = [];
const started: FakeWorker[] = [];

class FakeWorker extends EventEmitter {
  terminated = false;
  constructor() {
    super();
    const next = plan.shift() ?? { reply: "ready" };
    if ("throws" in next) throw next.throws;
    started.push(this);
    setTimeout(() => {
      if (!this.terminated)
        this.emit(
          "message",
          next.reply === "ready" ? { type: "ready" } : { type: "error", message: "no kernels here" },
        );
    }, 1);
  }
  postMessage(): void {}
  async terminate(): Promise<number> {
    this.terminated = true;
    setTimeout(() => this.emit("exit", 1), 0);
    return 1;
  }
}

vi.mock("node:worker_threads", () => ({ Worker: FakeWorker }));

const { TrainerPool } = await import("../../src/train/parallel-pool.ts");

const trainer = { rt: { relaxed: false }, params: { count: 4 }, repack() {} } as never;
const kind = {
  name: "t5",
  describe: () => ({}),
  build: () => trainer,
  run: () => [],
  transfer: (j: unknown) => j,
} as never;

beforeEach(() => {
  plan.length = 0;
  started.length = 0;
});

describe("TrainerPool.create cleanup", () => {
  it("starts threads − 1 workers and keeps them when all are ready", async () => {
    const pool = await TrainerPool.create(trainer, 3, kind);
    expect(pool.threads).toBe(3);
    expect(started.map((w) => w.terminated)).toEqual([false, false]);
    await pool.close();
    expect(started.map((w) => w.terminated)).toEqual([true, true]);
  });

  it("a worker that cannot be started: the ones started before it are terminated", async () => {
    plan.push({ reply: "ready" }, { reply: "ready" }, { throws: new Error("cannot start a thread") });
    await expect(TrainerPool.create(trainer, 4, kind)).rejects.toThrow("cannot start a thread");
    expect(started).toHaveLength(2);
    expect(started.map((w) => w.terminated)).toEqual([true, true]);
  });

  it("a worker failing before it is ready: every worker is terminated, the failure named", async () => {
    plan.push({ reply: "ready" }, { reply: "error" }, { reply: "ready" });
    await expect(TrainerPool.create(trainer, 4, kind)).rejects.toThrow("training thread 2: no kernels here");
    expect(started.map((w) => w.terminated)).toEqual([true, true, true]);
  });
});
