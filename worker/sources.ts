// Where model files come from. A source string names a folder: "bundle:<folder>" (files embedded in the
// worker bundle — under Node, a folder below MODELS_DIR), "r2:<key prefix>" (objects in the
// MODELS_BUCKET R2 binding) or "dir:<path>" (a local folder, Node only). Each gives a FileReader that
// returns a file's bytes, or undefined when it does not exist.
import type { FileReader } from "../src/tasks/load.ts";
import { ConfigurationError, type R2BucketLike } from "./config.ts";

/** A bundled module imported on first use (`() => import("…")`): its default export is the file. */
export type LazyFile = () => Promise<{ default: ArrayBuffer | Uint8Array | string | object }>;

/** Embedded files by path ("bert_tiny/model.safetensors"): bytes, text, parsed JSON, or a LazyFile. */
export type BundleFiles = Record<string, ArrayBuffer | Uint8Array | string | object | LazyFile>;

const utf8 = new TextEncoder();

export function parseSource(source: string): { kind: "bundle" | "r2" | "dir"; path: string } {
  const i = source.indexOf(":");
  const kind = source.slice(0, i);
  const path = source.slice(i + 1).replace(/\/+$/, "");
  if (i < 0 || (kind !== "bundle" && kind !== "r2" && kind !== "dir") || path === "")
    throw new ConfigurationError(`model source ${JSON.stringify(source)} is not bundle:, r2: or dir:`);
  return { kind, path };
}

/** The bytes of one embedded file (importing it first if it is lazy); undefined when not embedded. */
export async function bundleFile(files: BundleFiles, path: string): Promise<Uint8Array | undefined> {
  let v = files[path];
  if (v === undefined) return undefined;
  if (typeof v === "function") v = (await (v as LazyFile)()).default;
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  return utf8.encode(typeof v === "string" ? v : JSON.stringify(v));
}

export function bundleReader(files: BundleFiles, folder: string): FileReader {
  return (name) => bundleFile(files, `${folder}/${name}`);
}

export function r2Reader(bucket: R2BucketLike | undefined, prefix: string): FileReader {
  if (!bucket) throw new ConfigurationError(`model source r2:${prefix} needs the MODELS_BUCKET R2 binding`);
  return async (name) => {
    const obj = await bucket.get(`${prefix}/${name}`);
    return obj ? new Uint8Array(await obj.arrayBuffer()) : undefined;
  };
}
