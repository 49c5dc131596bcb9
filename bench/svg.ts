// Hand-drawn SVG bar charts for BENCHMARKS.md (no chart library): a chart is a title, a legend and a
// stack of panels, each either horizontal bars in labelled groups (e.g. ms per engine, grouped by dtype)
// or a grid of small multiples (e.g. one cell per seq × batch, bars = ratio to a reference engine, with
// the reference drawn as a dashed line at 1). Every bar carries a <title> tooltip with its exact value.
// Pure: strings in, a string out (test/bench-svg.test.ts).

export interface Bar {
  /** series key: picks the colour and the legend entry */
  series: string;
  value: number;
  /** shown at the end of the bar (default: the value) */
  text?: string;
  /** the tooltip (default: series and text) */
  tooltip?: string;
}

export interface BarGroup {
  label: string;
  bars: Bar[];
}

/** Horizontal bars, grouped; one scale for the panel, from 0. */
export interface BarsPanel {
  kind: "bars";
  title: string;
  groups: BarGroup[];
}

export interface GridCell {
  title: string;
  groups: BarGroup[];
}

/** Small multiples: cells in rows × columns, vertical bars, one shared scale; a dashed line at `reference`. */
export interface GridPanel {
  kind: "grid";
  title: string;
  columns: number;
  cells: GridCell[];
  /** e.g. 1 for "ratio to the reference engine" */
  reference?: { value: number; label: string };
  /** axis tick format, default 2 significant digits */
  tick?: (v: number) => string;
}

export type Panel = BarsPanel | GridPanel;

export interface Chart {
  title: string;
  subtitle?: string;
  /** series → colour, in legend order */
  series: { key: string; label: string; color: string }[];
  panels: Panel[];
  width?: number;
}

export class ChartError extends Error {
  override name = "ChartError";
}

export function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

const n1 = (v: number) => v.toFixed(1);

/** Number formatting for bar ends: 3 significant digits, no exponent. */
export function fmtValue(v: number): string {
  if (v === 0) return "0";
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  if (Math.abs(v) >= 1) return v.toFixed(2);
  return v.toPrecision(2);
}

/** Round ticks from 0 to ≥ max: about `count` of them, steps of 1, 2 or 5 × 10^k. */
export function niceTicks(max: number, count = 4): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let t = 0; t < max + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  if (ticks[ticks.length - 1] < max) ticks.push(Number((ticks[ticks.length - 1] + step).toPrecision(12)));
  return ticks;
}

function checkBars(where: string, groups: BarGroup[]): void {
  for (const g of groups)
    for (const b of g.bars)
      if (!Number.isFinite(b.value) || b.value < 0)
        throw new ChartError(
          `${where}: bar ${g.label}/${b.series} has value ${b.value} (need a finite value ≥ 0)`,
        );
}

const BAR_H = 14;
const BAR_GAP = 3;
const GROUP_GAP = 10;

interface Style {
  color: (series: string) => string;
  label: (series: string) => string;
}

function barsPanel(p: BarsPanel, x0: number, y0: number, width: number, st: Style) {
  checkBars(p.title, p.groups);
  const out: string[] = [`<text x="${x0}" y="${y0 + 12}" font-weight="bold">${esc(p.title)}</text>`];
  const labelW = 150;
  const valueW = 70;
  const barX = x0 + labelW;
  const barW = width - labelW - valueW;
  const max = Math.max(0, ...p.groups.flatMap((g) => g.bars.map((b) => b.value)));
  const scale = max > 0 ? barW / max : 0;
  let y = y0 + 24;
  for (const g of p.groups) {
    out.push(`<text x="${x0}" y="${y + 11}" font-weight="bold" fill="#333">${esc(g.label)}</text>`);
    y += 16;
    for (const b of g.bars) {
      const w = Math.max(b.value * scale, b.value > 0 ? 1 : 0);
      const text = b.text ?? fmtValue(b.value);
      out.push(
        `<text x="${barX - 6}" y="${n1(y + BAR_H / 2)}" text-anchor="end" dominant-baseline="middle">${esc(st.label(b.series))}</text>`,
        `<rect x="${barX}" y="${y}" width="${n1(w)}" height="${BAR_H}" fill="${st.color(b.series)}"><title>${esc(b.tooltip ?? `${g.label}, ${st.label(b.series)}: ${text}`)}</title></rect>`,
        `<text x="${n1(barX + w + 4)}" y="${n1(y + BAR_H / 2)}" dominant-baseline="middle">${esc(text)}</text>`,
      );
      y += BAR_H + BAR_GAP;
    }
    y += GROUP_GAP;
  }
  return { svg: out.join("\n"), height: y - y0 };
}

const CELL_H = 130;
const CELL_PAD_TOP = 22;
const CELL_PAD_BOTTOM = 18;

function gridPanel(p: GridPanel, x0: number, y0: number, width: number, st: Style) {
  if (!(p.columns >= 1)) throw new ChartError(`${p.title}: columns must be ≥ 1`);
  for (const c of p.cells) checkBars(`${p.title} ${c.title}`, c.groups);
  const out: string[] = [`<text x="${x0}" y="${y0 + 12}" font-weight="bold">${esc(p.title)}</text>`];
  const axisW = 34;
  const cellW = (width - axisW) / p.columns;
  const values = p.cells.flatMap((c) => c.groups.flatMap((g) => g.bars.map((b) => b.value)));
  const max = Math.max(p.reference?.value ?? 0, ...values);
  const ticks = niceTicks(max * 1.1); // room for the value labels above the bars
  const top = ticks[ticks.length - 1];
  const tick = p.tick ?? ((v: number) => String(Number(v.toPrecision(2))));
  const rows = Math.ceil(p.cells.length / p.columns);
  const plotH = CELL_H - CELL_PAD_TOP - CELL_PAD_BOTTOM;
  p.cells.forEach((cell, i) => {
    const cx = x0 + axisW + (i % p.columns) * cellW;
    const cy = y0 + 20 + Math.floor(i / p.columns) * CELL_H;
    const baseY = cy + CELL_PAD_TOP + plotH;
    const sy = (v: number) => baseY - (v / top) * plotH;
    out.push(`<text x="${n1(cx + cellW / 2)}" y="${cy + 12}" text-anchor="middle">${esc(cell.title)}</text>`);
    for (const t of ticks) {
      out.push(
        `<line x1="${n1(cx + 4)}" y1="${n1(sy(t))}" x2="${n1(cx + cellW - 4)}" y2="${n1(sy(t))}" stroke="#eee"/>`,
      );
      if (i % p.columns === 0)
        out.push(
          `<text x="${n1(cx - 2)}" y="${n1(sy(t))}" text-anchor="end" dominant-baseline="middle">${esc(tick(t))}</text>`,
        );
    }
    const nBars = cell.groups.reduce((a, g) => a + g.bars.length, 0);
    const slots = nBars + Math.max(0, cell.groups.length - 1); // one empty slot between groups
    const slotW = (cellW - 16) / Math.max(slots, 1);
    let x = cx + 8;
    for (const g of cell.groups) {
      const gx = x;
      for (const b of g.bars) {
        const h = (Math.min(b.value, top) / top) * plotH;
        const text = b.text ?? fmtValue(b.value);
        out.push(
          `<rect x="${n1(x + 1)}" y="${n1(baseY - h)}" width="${n1(Math.max(slotW - 2, 1))}" height="${n1(h)}" fill="${st.color(b.series)}"><title>${esc(b.tooltip ?? `${cell.title}, ${g.label}, ${st.label(b.series)}: ${text}`)}</title></rect>`,
          `<text x="${n1(x + slotW / 2)}" y="${n1(baseY - h - 3)}" text-anchor="middle" font-size="9" fill="#333">${esc(text)}</text>`,
        );
        x += slotW;
      }
      out.push(
        `<text x="${n1((gx + x) / 2)}" y="${baseY + 13}" text-anchor="middle" fill="#555">${esc(g.label)}</text>`,
      );
      x += slotW;
    }
    out.push(
      `<line x1="${n1(cx + 4)}" y1="${n1(baseY)}" x2="${n1(cx + cellW - 4)}" y2="${n1(baseY)}" stroke="#999"/>`,
    );
    if (p.reference) {
      const ry = n1(sy(p.reference.value));
      out.push(
        `<line x1="${n1(cx + 4)}" y1="${ry}" x2="${n1(cx + cellW - 4)}" y2="${ry}" stroke="#d62728" stroke-dasharray="5 3"><title>${esc(p.reference.label)}</title></line>`,
      );
    }
  });
  if (p.reference)
    out.push(
      `<text x="${n1(x0 + width)}" y="${y0 + 12}" text-anchor="end" fill="#d62728">- - ${esc(p.reference.label)}</text>`,
    );
  return { svg: out.join("\n"), height: 20 + rows * CELL_H };
}

/** The whole SVG document. */
export function renderChart(c: Chart): string {
  if (c.panels.length === 0) throw new ChartError(`${c.title}: no panels`);
  const W = c.width ?? 760;
  const byKey = new Map(c.series.map((s) => [s.key, s]));
  const get = (key: string) => {
    const v = byKey.get(key);
    if (!v) throw new ChartError(`${c.title}: series ${JSON.stringify(key)} is not in the legend`);
    return v;
  };
  const st: Style = { color: (k) => get(k).color, label: (k) => get(k).label };
  const margin = 16;
  const parts: string[] = [];
  let y = c.subtitle ? 50 : 36;
  // legend, wrapped to the width (label widths estimated at 6.5 px per character)
  let lx = margin;
  for (const s of c.series) {
    const itemW = 30 + s.label.length * 6.5;
    if (lx > margin && lx + itemW > W - margin) {
      lx = margin;
      y += 18;
    }
    parts.push(
      `<rect x="${lx}" y="${y}" width="12" height="12" fill="${s.color}"/>`,
      `<text x="${lx + 16}" y="${y + 10}">${esc(s.label)}</text>`,
    );
    lx += itemW;
  }
  y += 24;
  for (const p of c.panels) {
    const r =
      p.kind === "bars"
        ? barsPanel(p, margin, y, W - 2 * margin, st)
        : gridPanel(p, margin, y, W - 2 * margin, st);
    parts.push(r.svg);
    y += r.height + 16;
  }
  const H = Math.ceil(y);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<title>${esc(c.title)}${c.subtitle ? ` — ${esc(c.subtitle)}` : ""}</title>`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${margin}" y="22" font-size="14" font-weight="bold">${esc(c.title)}</text>`,
    c.subtitle ? `<text x="${margin}" y="38" fill="#555">${esc(c.subtitle)}</text>` : "",
    ...parts,
    "</svg>",
    "",
  ]
    .filter((l) => l !== "")
    .join("\n")
    .concat("\n");
}
