// Fine-tuning data files: labelled text for classification ({"text", "label"} with an optional
// "text_pair") and text-to-text pairs ({"input", "target"}), as JSONL (one JSON object a line) or CSV /
// TSV with a header row naming the columns (RFC 4180 quoting: fields in double quotes may hold the
// delimiter, newlines and "" for a quote). Every problem is reported with the file name and line.
// Pure: the caller reads the file.

export class FinetuneDataError extends Error {
  override name = "FinetuneDataError";
}

export interface LabeledText {
  text: string;
  textPair?: string;
  /** The label as written (numbers are turned into their decimal string). */
  label: string;
}

export interface TextPair {
  input: string;
  target: string;
}

/** A parsed CSV record and the (1-based) line it starts on. */
export interface CsvRecord {
  fields: string[];
  line: number;
}

/** Parses CSV text (RFC 4180; also LF line ends and a custom delimiter). Blank lines are skipped. */
export function parseCsv(text: string, fileName = "<csv>", delimiter = ","): CsvRecord[] {
  const out: CsvRecord[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; // byte-order mark
  let line = 1;
  const n = text.length;
  while (i < n) {
    const start = line;
    const fields: string[] = [];
    let field = "";
    let quoted = false;
    let ended = false;
    // one record
    while (i < n) {
      const ch = text[i];
      if (quoted) {
        if (ch === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
          } else {
            quoted = false;
            i++;
            const next = text[i];
            if (i < n && next !== delimiter && next !== "\n" && next !== "\r")
              throw new FinetuneDataError(
                `${fileName}:${line}: unexpected ${JSON.stringify(next)} after a closing quote`,
              );
          }
        } else {
          if (ch === "\n") line++;
          field += ch;
          i++;
        }
        continue;
      }
      if (ch === '"' && field === "") {
        quoted = true;
        i++;
      } else if (ch === delimiter) {
        fields.push(field);
        field = "";
        i++;
      } else if (ch === "\n" || ch === "\r") {
        i += ch === "\r" && text[i + 1] === "\n" ? 2 : 1;
        line++;
        ended = true;
        break;
      } else {
        field += ch;
        i++;
      }
    }
    if (quoted) throw new FinetuneDataError(`${fileName}:${start}: a quoted field is not closed`);
    fields.push(field);
    if (!(fields.length === 1 && fields[0] === "")) out.push({ fields, line: start });
    if (!ended && i >= n) break;
  }
  return out;
}

type Format = "jsonl" | "csv" | "tsv";

function formatOf(fileName: string, text: string): Format {
  const lower = fileName.toLowerCase();
  if (lower.endsWith(".csv")) return "csv";
  if (lower.endsWith(".tsv")) return "tsv";
  if (lower.endsWith(".jsonl") || lower.endsWith(".json") || lower.endsWith(".ndjson")) return "jsonl";
  const first = text.replace(/^\ufeff/, "").trimStart()[0];
  if (first === "{") return "jsonl";
  throw new FinetuneDataError(
    `${fileName}: unknown format (name the file .jsonl, .csv or .tsv, or start it with a JSON object)`,
  );
}

/**
 * Rows of a data file as objects of strings, checked to have the `required` fields (and numbers turned
 * into strings), with the line each comes from.
 */
function readRows(
  text: string,
  fileName: string,
  required: string[],
  optional: string[],
): { row: Record<string, string>; line: number }[] {
  const format = formatOf(fileName, text);
  const rows: { row: Record<string, string>; line: number }[] = [];
  const want = [...required, ...optional];
  if (format === "jsonl") {
    const lines = text.split("\n");
    lines.forEach((raw, i) => {
      const l = raw.trim();
      if (!l) return;
      let v: unknown;
      try {
        v = JSON.parse(l);
      } catch (e) {
        throw new FinetuneDataError(`${fileName}:${i + 1}: not valid JSON (${(e as Error).message})`);
      }
      if (typeof v !== "object" || v === null || Array.isArray(v))
        throw new FinetuneDataError(
          `${fileName}:${i + 1}: expected a JSON object like {"${required.join('": …, "')}": …}`,
        );
      const o = v as Record<string, unknown>;
      const row: Record<string, string> = {};
      for (const k of want) {
        const x = o[k];
        if (x === undefined || x === null) {
          if (required.includes(k))
            throw new FinetuneDataError(
              `${fileName}:${i + 1}: missing "${k}" (fields: ${Object.keys(o).join(", ") || "none"})`,
            );
          continue;
        }
        if (typeof x === "string") row[k] = x;
        else if (typeof x === "number" || typeof x === "boolean") row[k] = String(x);
        else throw new FinetuneDataError(`${fileName}:${i + 1}: "${k}" must be a string or a number`);
      }
      rows.push({ row, line: i + 1 });
    });
  } else {
    const records = parseCsv(text, fileName, format === "tsv" ? "\t" : ",");
    if (records.length === 0) throw new FinetuneDataError(`${fileName}: empty file`);
    const header = records[0].fields.map((h) => h.trim().toLowerCase());
    const col = new Map(header.map((h, i) => [h, i]));
    const missing = required.filter((k) => !col.has(k));
    if (missing.length)
      throw new FinetuneDataError(
        `${fileName}: the header row has no ${missing.map((m) => `"${m}"`).join(", ")} column (header: ${records[0].fields.join(", ")})`,
      );
    for (const r of records.slice(1)) {
      if (r.fields.length !== header.length)
        throw new FinetuneDataError(
          `${fileName}:${r.line}: ${r.fields.length} fields, but the header has ${header.length}`,
        );
      const row: Record<string, string> = {};
      for (const k of want) if (col.has(k)) row[k] = r.fields[col.get(k)!];
      rows.push({ row, line: r.line });
    }
  }
  if (rows.length === 0) throw new FinetuneDataError(`${fileName}: no examples`);
  return rows;
}

/** Classification examples: text, optional text_pair, label (empty texts or labels are errors). */
export function readClassificationData(text: string, fileName: string): LabeledText[] {
  return readRows(text, fileName, ["text", "label"], ["text_pair"]).map(({ row, line }) => {
    if (!row.text.trim()) throw new FinetuneDataError(`${fileName}:${line}: empty text`);
    const label = row.label.trim();
    if (!label) throw new FinetuneDataError(`${fileName}:${line}: empty label`);
    const ex: LabeledText = { text: row.text, label };
    if (row.text_pair !== undefined && row.text_pair !== "") ex.textPair = row.text_pair;
    return ex;
  });
}

/** Text-to-text examples: input, target. */
export function readTextPairData(text: string, fileName: string): TextPair[] {
  return readRows(text, fileName, ["input", "target"], []).map(({ row, line }) => {
    if (!row.input.trim()) throw new FinetuneDataError(`${fileName}:${line}: empty input`);
    if (!row.target.trim()) throw new FinetuneDataError(`${fileName}:${line}: empty target`);
    return { input: row.input, target: row.target };
  });
}

/**
 * The label list of a run: the given one (every label in the data must be in it), else the labels of the
 * data sorted (numerically when all are integers).
 */
export function labelList(examples: readonly LabeledText[], given?: readonly string[]): string[] {
  const seen = new Set(examples.map((e) => e.label));
  if (given) {
    if (given.length < 2) throw new FinetuneDataError(`labels: at least 2 needed, got ${given.length}`);
    if (new Set(given).size !== given.length)
      throw new FinetuneDataError(`labels: ${given.join(",")} has duplicates`);
    const unknown = [...seen].filter((l) => !given.includes(l));
    if (unknown.length)
      throw new FinetuneDataError(
        `the data has labels not in the label list (${given.join(", ")}): ${unknown.slice(0, 5).join(", ")}`,
      );
    return [...given];
  }
  const labels = [...seen];
  if (labels.length < 2)
    throw new FinetuneDataError(
      `the data has ${labels.length} label${labels.length === 1 ? "" : "s"}; classification needs at least 2`,
    );
  const numeric = labels.every((l) => /^-?\d+$/.test(l));
  return labels.sort(numeric ? (a, b) => Number(a) - Number(b) : undefined);
}

/** The most frequent value (ties: the first in `order`) and its count. */
export function majority(
  values: readonly string[],
  order?: readonly string[],
): { value: string; count: number } {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best = "";
  let count = -1;
  for (const v of order ?? [...counts.keys()]) {
    const c = counts.get(v) ?? 0;
    if (c > count) {
      best = v;
      count = c;
    }
  }
  return { value: best, count: Math.max(0, count) };
}
