// What every training command shares around its run folder: the errors it reports (bad settings are
// usage errors; a NaN or infinite loss or gradient stops training) and small readers for JSON and text
// files that turn I/O and parse failures into one-line settings errors.
import { readFile } from "node:fs/promises";

/** Bad or conflicting settings (the CLI reports these as usage errors). */
export class PretrainSettingsError extends Error {
  override name = "PretrainSettingsError";
}

/** A NaN or infinite loss or gradient. */
export class TrainingDivergedError extends Error {
  override name = "TrainingDivergedError";
}

export async function readJson(path: string, what: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new PretrainSettingsError(
      `${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  try {
    const j = JSON.parse(text);
    if (typeof j !== "object" || j === null || Array.isArray(j)) throw new Error("not a JSON object");
    return j as Record<string, unknown>;
  } catch (e) {
    throw new PretrainSettingsError(`${what} ${path}: ${(e as Error).message}`);
  }
}

export async function readText(path: string): Promise<string | undefined> {
  return readFile(path, "utf8").catch(() => undefined);
}
