// Serving benchmark (npm run bench:serve [-- --duration 10 --connections 4 --json FILE]): the worker in
// `wrangler dev` on 127.0.0.1 (workerd, offline), driven by autocannon for a bounded time per row:
// requests/s and p50/p99 latency for /v1/embeddings (one short sentence) and /v1/fill-mask, with the
// error count (must be 0). Then memory (local workerd does not enforce Workers' 128 MB per isolate, so
// we measure it): for each served model, a fresh workerd is started, the model is loaded, and a
// largest-allowed request (MAX_BATCH inputs of about MAX_INPUT_TOKENS tokens) is run; the isolate's JS
// heap and ArrayBuffer memory are read from V8 over the DevTools protocol, the wasm memory from
// /healthz, and the workerd process' resident memory from /proc.
// A MiniLM-L6-shaped model (weights generated from the perf manifest, f32 and our int8 checkpoint) is
// served from local R2, as large models would be. Rewrites the "serve" section of BENCHMARKS.md.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateParam, type WeightsManifest } from "../src/io/manifest-weights.ts";
import { writeSafetensors } from "../src/io/safetensors.ts";
import { quantizeCheckpoint } from "../src/models/quantize.ts";
import { TensorStore } from "../src/models/tensors.ts";
import { loadRuntime } from "../src/runtime/node.ts";
import { type DevServer, ROOT, startDevServer, wranglerEnv } from "../worker/dev.ts";
import { jsonArg, machineLine, markdownTable, type Row, table, writeSection } from "./report.ts";

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number };
  errors: number;
  timeouts: number;
  non2xx: number;
}
type Autocannon = (opts: {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string;
  connections: number;
  duration: number;
}) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const DURATION = Number(arg("duration", "10"));
const CONNECTIONS = Number(arg("connections", "4"));
const MiB = 2 ** 20;

// --- the MiniLM-L6-shaped checkpoints, in local R2 ---------------------------------------------

async function writeMiniLm(dir: string): Promise<void> {
  const perf = join(ROOT, "test/fixtures/perf/bert-minilm-l6");
  const manifest = JSON.parse(readFileSync(join(perf, "weights_manifest.json"), "utf8")) as WeightsManifest;
  const tensors: Record<string, { dtype: "F32"; shape: number[]; data: Float32Array }> = {};
  for (const p of manifest.params) tensors[p.name] = { dtype: "F32", shape: p.shape, data: generateParam(p) };
  const f32 = writeSafetensors(tensors);
  const config = readFileSync(join(perf, "config.json"), "utf8");
  for (const sub of ["minilm-f32", "minilm-int8"]) {
    execFileSync("mkdir", ["-p", join(dir, sub)]);
    writeFileSync(join(dir, sub, "config.json"), config);
  }
  writeFileSync(join(dir, "minilm-f32", "model.safetensors"), f32);
  const rt = await loadRuntime({ relaxed: false });
  const q = quantizeCheckpoint(rt, TensorStore.fromBytes([{ bytes: f32, name: "model.safetensors" }]));
  writeFileSync(join(dir, "minilm-int8", "model.safetensors"), writeSafetensors(q.tensors, q.metadata));
}

function putR2(persistTo: string, key: string, file: string): void {
  execFileSync(
    process.execPath,
    [
      join(ROOT, "node_modules/wrangler/bin/wrangler.js"),
      "r2",
      "object",
      "put",
      `edgeformer-models/${key}`,
      "--file",
      file,
      "--local",
      "--persist-to",
      persistTo,
    ],
    { cwd: ROOT, env: wranglerEnv(), stdio: ["ignore", "ignore", "inherit"] },
  );
}

// --- process memory ----------------------------------------------------------------------------

function children(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}

/** Resident and peak-resident MiB of the workerd process(es) under the wrangler process. */
function workerdMemory(root: number): { rss: number; hwm: number } {
  let rss = 0;
  let hwm = 0;
  const stack = [root];
  while (stack.length) {
    const pid = stack.pop()!;
    stack.push(...children(pid));
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      if (!/^Name:\s+workerd/m.test(status)) continue;
      rss += Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0) / 1024;
      hwm += Number(/^VmHWM:\s+(\d+)/m.exec(status)?.[1] ?? 0) / 1024;
    } catch {
      // gone
    }
  }
  return { rss, hwm };
}

// --- isolate memory through the DevTools protocol ---------------------------------------------

/**
 * The worker isolate's memory as V8 reports it (Runtime.getHeapUsage through wrangler's inspector
 * proxy): JS heap in use, and the backing stores of ArrayBuffers (wasm memory included).
 */
async function isolateMemory(inspectorPort: number): Promise<{ heap: number; backing: number }> {
  const WS = createRequire(import.meta.url)("ws") as new (
    url: string,
    opts: { headers: Record<string, string> },
  ) => {
    on(ev: string, f: (x: unknown) => void): void;
    send(s: string): void;
    close(): void;
  };
  const ws = new WS(`ws://127.0.0.1:${inspectorPort}/ws`, { headers: { Origin: "http://localhost" } });
  await new Promise((resolve, reject) => {
    ws.on("open", resolve);
    ws.on("error", reject);
  });
  try {
    const reply = new Promise<{ usedSize: number; backingStorageSize?: number }>((resolve) => {
      ws.on("message", (d) => {
        const m = JSON.parse(String(d)) as {
          id?: number;
          result?: { usedSize: number; backingStorageSize?: number };
        };
        if (m.id === 1 && m.result) resolve(m.result);
      });
    });
    ws.send(JSON.stringify({ id: 1, method: "Runtime.getHeapUsage", params: {} }));
    const r = await reply;
    return { heap: r.usedSize / MiB, backing: (r.backingStorageSize ?? 0) / MiB };
  } finally {
    ws.close();
  }
}

// --- requests ----------------------------------------------------------------------------------

async function call(server: DevServer, path: string, body: unknown): Promise<unknown> {
  const res = await fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${path} → ${res.status}: ${text}`);
  return JSON.parse(text);
}

async function health(server: DevServer): Promise<{ runtime: { wasm_memory_bytes: number } | null }> {
  return (await (await fetch(`${server.url}/healthz`)).json()) as {
    runtime: { wasm_memory_bytes: number } | null;
  };
}

/** A text of at most `limit` tokens (as the model's tokenizer counts them), close to it. */
async function longText(server: DevServer, model: string, limit: number): Promise<string> {
  const unit = "the cat sat on the mat and looked at the dog . ";
  for (let n = 40; n > 0; n--) {
    const res = await fetch(`${server.url}/v1/embeddings`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ input: unit.repeat(n), model }),
    });
    if (res.ok) {
      const tokens = ((await res.json()) as { usage: { prompt_tokens: number } }).usage.prompt_tokens;
      if (tokens <= limit) return unit.repeat(n);
    }
  }
  throw new Error("no text fits the token limit");
}

const MODELS = (r2: boolean) =>
  JSON.stringify([
    {
      name: "bert-tiny",
      tasks: ["fill-mask", "embeddings"],
      source: "bundle:bert_tiny",
      tokenizer: "bundle:tok/bert",
    },
    {
      name: "bert-tiny-int8",
      tasks: ["fill-mask", "embeddings"],
      source: "bundle:bert_tiny",
      tokenizer: "bundle:tok/bert",
      dtype: "int8",
    },
    {
      name: "t5-tiny-copy",
      tasks: ["generate"],
      source: "bundle:t5_tiny_copy",
      tokenizer: "bundle:tok/t5",
    },
    ...(r2
      ? [
          {
            name: "minilm-l6-int8",
            tasks: ["embeddings"],
            source: "r2:minilm-int8",
            tokenizer: "bundle:tok/bert",
            dtype: "int8",
          },
          {
            name: "minilm-l6-f32",
            tasks: ["embeddings"],
            source: "r2:minilm-f32",
            tokenizer: "bundle:tok/bert",
          },
        ]
      : []),
  ]);

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "edgeformer-serve-"));
  const persist = join(work, "state");
  let port = 8790 + Math.floor(Math.random() * 200);
  const servers: DevServer[] = [];
  const start = async () => {
    const p = port;
    port += 2;
    const s = await startDevServer({
      port: p,
      inspectorPort: p + 1,
      persistTo: persist,
      quiet: true,
      vars: { MODELS: MODELS(true), LOG_LEVEL: "off", MAX_BODY_BYTES: "262144" },
    });
    servers.push(s);
    return s;
  };
  try {
    console.error("[serve] writing the MiniLM-L6-shaped checkpoints and putting them into local R2 …");
    await writeMiniLm(work);
    for (const sub of ["minilm-f32", "minilm-int8"])
      for (const f of ["config.json", "model.safetensors"]) putR2(persist, `${sub}/${f}`, join(work, sub, f));

    // Throughput and latency.
    const load: Row[] = [];
    const server = await start();
    const cases: { route: string; model: string; body: Record<string, unknown> }[] = [
      { route: "/v1/embeddings", model: "bert-tiny", body: { input: "a cat sat on the mat." } },
      { route: "/v1/embeddings", model: "minilm-l6-int8", body: { input: "a cat sat on the mat." } },
      {
        route: "/v1/fill-mask",
        model: "bert-tiny",
        body: { inputs: "the man went to the [MASK] to buy milk." },
      },
      {
        route: "/v1/fill-mask",
        model: "bert-tiny-int8",
        body: { inputs: "the man went to the [MASK] to buy milk." },
      },
    ];
    for (const c of cases) {
      const body = JSON.stringify({ ...c.body, model: c.model });
      for (let i = 0; i < 20; i++) await call(server, c.route, JSON.parse(body)); // load + warm
      console.error(`[serve] ${c.route} ${c.model}: ${DURATION} s, ${CONNECTIONS} connections`);
      const r = await autocannon({
        url: `${server.url}${c.route}`,
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body,
        connections: CONNECTIONS,
        duration: DURATION,
      });
      load.push({
        route: c.route,
        model: c.model,
        "req/s": r.requests.average,
        "p50 ms": r.latency.p50,
        "p99 ms": r.latency.p99,
        requests: r.requests.total,
        errors: r.errors + r.timeouts + r.non2xx,
      });
    }
    await server.stop();

    // Memory, one fresh workerd per model.
    const memory: Row[] = [];
    const models: { model: string; task: "embeddings" | "fill-mask" | "generate" }[] = [
      { model: "bert-tiny", task: "fill-mask" },
      { model: "bert-tiny-int8", task: "fill-mask" },
      { model: "t5-tiny-copy", task: "generate" },
      { model: "minilm-l6-int8", task: "embeddings" },
      { model: "minilm-l6-f32", task: "embeddings" },
    ];
    for (const m of models) {
      const s = await start();
      const pid = s.process.pid!;
      const inspector = s.port + 1;
      await new Promise((r) => setTimeout(r, 500));
      const idle = workerdMemory(pid);
      const idleIso = await isolateMemory(inspector);
      const short =
        m.task === "generate"
          ? { inputs: "a b c d e", model: m.model }
          : m.task === "fill-mask"
            ? { inputs: "a [MASK] sat.", model: m.model }
            : { input: "a cat", model: m.model };
      const path = `/v1/${m.task}`;
      await call(s, path, short);
      const loadedIso = await isolateMemory(inspector);
      const loadedWasm = (await health(s)).runtime?.wasm_memory_bytes ?? 0;
      // the largest request the limits allow: MAX_BATCH (16) inputs of about MAX_INPUT_TOKENS (128) tokens
      const text =
        m.task === "generate"
          ? "a b c d e ".repeat(20)
          : await longText(s, m.model, m.task === "fill-mask" ? 120 : 128);
      const batch = Array.from({ length: 16 }, () => text);
      if (m.task === "generate")
        await call(s, path, { inputs: batch, model: m.model, max_new_tokens: 64, num_beams: 4 });
      else if (m.task === "fill-mask")
        await call(s, path, { inputs: batch.map((t) => `${t}[MASK]`), model: m.model });
      else await call(s, path, { input: batch, model: m.model });
      const peak = workerdMemory(pid);
      const peakIso = await isolateMemory(inspector);
      const peakWasm = (await health(s)).runtime?.wasm_memory_bytes ?? 0;
      const total = (iso: { heap: number; backing: number }, wasm: number) =>
        iso.heap + iso.backing + wasm / MiB;
      memory.push({
        model: m.model,
        idle: idleIso.heap + idleIso.backing,
        "loaded: heap": loadedIso.heap,
        "loaded: buffers": loadedIso.backing,
        "loaded: wasm": loadedWasm / MiB,
        "loaded: total": total(loadedIso, loadedWasm),
        "max req: heap": peakIso.heap,
        "max req: buffers": peakIso.backing,
        "max req: wasm": peakWasm / MiB,
        "max req: total": total(peakIso, peakWasm),
        "workerd RSS Δ": peak.hwm - idle.rss,
      });
      await s.stop();
      servers.pop();
    }

    const loadCols = ["route", "model", "req/s", "p50 ms", "p99 ms", "requests", "errors"];
    const memCols = [
      "model",
      "idle",
      "loaded: heap",
      "loaded: buffers",
      "loaded: wasm",
      "loaded: total",
      "max req: heap",
      "max req: buffers",
      "max req: wasm",
      "max req: total",
      "workerd RSS Δ",
    ];
    console.log(table(load, loadCols));
    console.log();
    console.log(table(memory, memCols));
    const body = [
      "## Serving (`npm run bench:serve`)",
      "",
      `Machine: ${machineLine().replace(", one thread", "")}; \`wrangler dev\` (workerd, local, offline) on 127.0.0.1,`,
      `autocannon with ${CONNECTIONS} connections for ${DURATION} s per row after 20 warm-up requests. One`,
      "short sentence for embeddings; the fill-mask text has 11 tokens. bert-tiny is the 2-layer fixture;",
      "minilm-l6-int8 is a MiniLM-L6-shaped model (6 layers, C = 384, vocab 30522) from our int8",
      "checkpoint in local R2. errors = socket errors + timeouts + non-2xx answers.",
      "",
      markdownTable(load, loadCols),
      "",
      "### Memory per served model (MiB)",
      "",
      "A fresh workerd per model. idle: after start (heap + buffers); loaded: after the first request (model",
      "read, loaded and warmed); max req: after the largest request the default limits allow (16 inputs of",
      "~120–128 tokens; T5 also 4 beams and 64 new tokens). From V8, over the DevTools protocol",
      "(Runtime.getHeapUsage of the worker's isolate, no forced GC, so garbage not yet collected is",
      "included): heap = JS heap in use, buffers = ArrayBuffer backing stores (the model files read from R2",
      "or the bundle, copies made while loading); wasm = the kernel module's linear memory (weights +",
      "activation arena; it grows to the largest request and never shrinks), which V8 does not count in",
      "buffers. total = heap + buffers + wasm, what Workers' 128 MB per isolate limits. workerd RSS Δ =",
      "the whole process' peak resident memory minus its idle RSS (includes the local R2 simulator and",
      "allocator slack: an upper bound).",
      "",
      markdownTable(memory, memCols),
    ].join("\n");
    writeSection(join(ROOT, "BENCHMARKS.md"), "serve", body);
    const jsonFile = jsonArg(process.argv);
    if (jsonFile) writeFileSync(jsonFile, JSON.stringify({ load, memory }, null, 2));
    const bad = load.filter((r) => r.errors !== 0);
    if (bad.length) {
      console.error(`[serve] ${bad.length} rows had errors`);
      process.exitCode = 1;
    }
  } finally {
    for (const s of servers) await s.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
