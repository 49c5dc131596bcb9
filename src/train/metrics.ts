// Training metrics of a run folder: metrics.jsonl (one JSON object per logged training step, type
// "train", and per held-out evaluation, type "eval"), and curves.svg, a hand-drawn plot of them: loss
// (train and eval) and accuracy (masked-token and next-sentence, train and eval) against the step. On
// resume the log is cut back to the checkpoint's step (lines written after it, or a torn last line, are
// dropped), so a resumed run's metrics.jsonl reads as one uninterrupted run's.
import { appendFile, readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "./checkpoint.ts";

export interface MetricsEntry {
  type: "train" | "eval";
  step: number;
  loss: number;
  mlm_loss?: number;
  nsp_loss?: number;
  mlm_accuracy?: number;
  nsp_accuracy?: number;
  [key: string]: unknown;
}

export class MetricsLog {
  readonly path: string;
  readonly svgPath: string;
  private constructor(
    readonly outDir: string,
    readonly entries: MetricsEntry[],
  ) {
    this.path = join(outDir, "metrics.jsonl");
    this.svgPath = join(outDir, "curves.svg");
  }

  /** A fresh log (resumeStep undefined) or the existing one cut back to entries with step ≤ resumeStep. */
  static async open(outDir: string, resumeStep?: number): Promise<MetricsLog> {
    const entries: MetricsEntry[] = [];
    if (resumeStep !== undefined) {
      const text = await readFile(join(outDir, "metrics.jsonl"), "utf8").catch(() => "");
      for (const line of text.split("\n")) {
        if (!line.trim()) continue;
        let e: MetricsEntry;
        try {
          e = JSON.parse(line);
        } catch {
          continue; // a line torn by a crash
        }
        if (typeof e.step === "number" && e.step <= resumeStep) entries.push(e);
      }
    }
    const log = new MetricsLog(outDir, entries);
    await writeFileAtomic(log.path, entries.map((e) => `${JSON.stringify(e)}\n`).join(""));
    return log;
  }

  async append(e: MetricsEntry): Promise<void> {
    this.entries.push(e);
    await appendFile(this.path, `${JSON.stringify(e)}\n`);
  }

  async writeCurves(title = "pretraining", spec: CurveSpec = BERT_CURVES): Promise<void> {
    await writeFileAtomic(this.svgPath, renderCurves(this.entries, title, spec));
  }
}

// ---- SVG ----

interface Series {
  label: string;
  color: string;
  dashed?: boolean;
  points: [number, number][];
  /** Draw a dot at each point (sparse series such as evaluations). */
  dots?: boolean;
}

const W = 960;
const H = 420;
const PANEL_W = 420;
const PANEL_H = 250;
const TRAIN = "#1f77b4";
const EVAL = "#d62728";

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** Round tick values covering [lo, hi] (about `count` of them). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

function fmtTick(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (a >= 1e4) return `${Number((v / 1e3).toPrecision(3))}k`;
  return String(Number(v.toPrecision(4)));
}

/** At most `max` points: consecutive points averaged in equal buckets (x and y). */
export function downsample(points: [number, number][], max = 500): [number, number][] {
  if (points.length <= max) return points;
  const out: [number, number][] = [];
  const per = points.length / max;
  for (let i = 0; i < max; i++) {
    const a = Math.floor(i * per);
    const b = Math.floor((i + 1) * per);
    let sx = 0;
    let sy = 0;
    for (let j = a; j < b; j++) {
      sx += points[j][0];
      sy += points[j][1];
    }
    out.push([sx / (b - a), sy / (b - a)]);
  }
  return out;
}

function panel(
  x0: number,
  y0: number,
  title: string,
  series: Series[],
  yRange?: [number, number],
  xRange?: [number, number],
): string {
  const parts: string[] = [];
  const all = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  parts.push(
    `<text x="${x0 + PANEL_W / 2}" y="${y0 - 12}" text-anchor="middle" font-weight="bold">${esc(title)}</text>`,
  );
  parts.push(`<rect x="${x0}" y="${y0}" width="${PANEL_W}" height="${PANEL_H}" fill="none" stroke="#999"/>`);
  if (all.length === 0) {
    parts.push(
      `<text x="${x0 + PANEL_W / 2}" y="${y0 + PANEL_H / 2}" text-anchor="middle" fill="#777">no data yet</text>`,
    );
    return parts.join("\n");
  }
  let [xl, xh] = xRange ?? [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  if (xh <= xl) xh = xl + 1;
  let yl: number;
  let yh: number;
  if (yRange) [yl, yh] = yRange;
  else {
    yl = Math.min(...all.map((p) => p[1]));
    yh = Math.max(...all.map((p) => p[1]));
    const pad = (yh - yl) * 0.05 || Math.abs(yh) * 0.05 || 1;
    yl -= pad;
    yh += pad;
  }
  const sx = (x: number) => x0 + ((x - xl) / (xh - xl)) * PANEL_W;
  const sy = (y: number) => y0 + PANEL_H - ((y - yl) / (yh - yl)) * PANEL_H;
  for (const t of niceTicks(yl, yh)) {
    const y = sy(t).toFixed(1);
    parts.push(`<line x1="${x0}" y1="${y}" x2="${x0 + PANEL_W}" y2="${y}" stroke="#eee"/>`);
    parts.push(
      `<text x="${x0 - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${fmtTick(t)}</text>`,
    );
  }
  for (const t of niceTicks(xl, xh)) {
    const x = sx(t).toFixed(1);
    parts.push(`<line x1="${x}" y1="${y0}" x2="${x}" y2="${y0 + PANEL_H}" stroke="#eee"/>`);
    parts.push(`<text x="${x}" y="${y0 + PANEL_H + 16}" text-anchor="middle">${fmtTick(t)}</text>`);
  }
  parts.push(
    `<text x="${x0 + PANEL_W / 2}" y="${y0 + PANEL_H + 34}" text-anchor="middle" fill="#555">step</text>`,
  );
  series.forEach((s, i) => {
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (pts.length === 0) return;
    const dash = s.dashed ? ` stroke-dasharray="6 4"` : "";
    const coords = pts.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" ");
    parts.push(
      `<polyline fill="none" stroke="${s.color}" stroke-width="1.5"${dash} points="${coords}"><title>${esc(s.label)}</title></polyline>`,
    );
    if (s.dots)
      for (const [x, y] of pts)
        parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2.5" fill="${s.color}"/>`);
    // legend, under the panel in two columns
    const ly = y0 + PANEL_H + 54 + Math.floor(i / 2) * 16;
    const lx = x0 + 20 + (i % 2) * 200;
    parts.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${s.color}" stroke-width="2"${dash}/>`,
    );
    parts.push(`<text x="${lx + 28}" y="${ly}" dominant-baseline="middle">${esc(s.label)}</text>`);
  });
  return parts.join("\n");
}

/** What the two panels plot: the loss panel's title and the accuracy keys of the entries. */
export interface CurveSpec {
  lossTitle: string;
  /** Accuracy series: each is drawn for train (line) and eval (dots) entries that have the key. */
  accuracy: { key: string; label: string }[];
}

/** BERT pretraining: masked LM and next-sentence accuracy. */
export const BERT_CURVES: CurveSpec = {
  lossTitle: "loss (MLM + NSP)",
  accuracy: [
    { key: "mlm_accuracy", label: "masked LM" },
    { key: "nsp_accuracy", label: "next sentence" },
  ],
};

const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"];

/** The two-panel SVG (loss; accuracy) of a run's metrics. */
export function renderCurves(
  entries: readonly MetricsEntry[],
  title = "pretraining",
  spec: CurveSpec = BERT_CURVES,
): string {
  const train = entries.filter((e) => e.type === "train");
  const evals = entries.filter((e) => e.type === "eval");
  const pts = (es: readonly MetricsEntry[], key: string): [number, number][] =>
    es.filter((e) => typeof e[key] === "number").map((e) => [e.step, e[key] as number]);
  const steps = entries.map((e) => e.step);
  const xRange: [number, number] | undefined = steps.length
    ? [Math.min(0, ...steps), Math.max(...steps)]
    : undefined;
  const loss = panel(
    70,
    60,
    spec.lossTitle,
    [
      { label: "train", color: TRAIN, points: downsample(pts(train, "loss")) },
      { label: "eval", color: EVAL, points: pts(evals, "loss"), dots: true },
    ],
    undefined,
    xRange,
  );
  // Two series keep the train-blue / eval-red look (the second one dashed); more get a color each.
  const few = spec.accuracy.length <= 2;
  const accSeries: Series[] = spec.accuracy.flatMap(({ key, label }, i): Series[] => [
    {
      label: `train ${label}`,
      color: few ? TRAIN : PALETTE[i % PALETTE.length],
      dashed: few && i === 1,
      points: downsample(pts(train, key)),
    },
    {
      label: `eval ${label}`,
      color: few ? EVAL : PALETTE[i % PALETTE.length],
      dashed: few ? i === 1 : true,
      points: pts(evals, key),
      dots: true,
    },
  ]);
  const acc = panel(530, 60, "accuracy", accSeries, [0, 1], xRange);
  const last = train[train.length - 1];
  const sub = last ? `step ${last.step}, train loss ${last.loss.toFixed(4)}` : "";
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<title>${esc(title)}: loss and accuracy curves${sub ? ` (${esc(sub)})` : ""}</title>`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`,
    `<text x="${W / 2}" y="38" text-anchor="middle" fill="#555">${esc(sub)}</text>`,
    loss,
    acc,
    "</svg>",
    "",
  ].join("\n");
}
