// Small argument helpers shared by the CLI commands: typed flags with one-line usage errors.
import { existsSync, statSync } from "node:fs";

export class UsageError extends Error {
  override name = "UsageError";
}

export type Flags = Record<string, string | boolean | undefined>;

export function str(flags: Flags, name: string, required = false): string | undefined {
  const v = flags[name];
  if (v === undefined || v === false) {
    if (required) throw new UsageError(`--${name} is required`);
    return undefined;
  }
  if (v === true) throw new UsageError(`--${name} needs a value`);
  return v;
}

export function int(flags: Flags, name: string, fallback?: number, min = 0): number | undefined {
  const v = str(flags, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`--${name} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  return n;
}

export function num(flags: Flags, name: string, fallback?: number): number | undefined {
  const v = str(flags, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got ${JSON.stringify(v)}`);
  return n;
}

export function oneOf<T extends string>(flags: Flags, name: string, values: readonly T[], fallback: T): T {
  const v = str(flags, name) ?? fallback;
  if (!values.includes(v as T))
    throw new UsageError(`--${name} must be one of ${values.join(", ")}; got ${JSON.stringify(v)}`);
  return v as T;
}

export function dir(flags: Flags, name: string): string {
  const d = str(flags, name, true)!;
  if (!existsSync(d) || !statSync(d).isDirectory()) throw new UsageError(`--${name} ${d}: not a directory`);
  return d;
}
