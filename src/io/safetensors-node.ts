// Node-only helpers around the pure safetensors codec: read a file from disk, write one atomically.
import { randomBytes } from "node:crypto";
import { open, readFile, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { SafetensorsError, SafetensorsFile, type TensorInput, writeSafetensors } from "./safetensors.ts";

/** Reads and parses `path`; errors (including a missing file) are SafetensorsErrors named by the basename. */
export async function readSafetensorsFile(path: string): Promise<SafetensorsFile> {
  const name = basename(path);
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === "ENOENT" ? "file not found" : `cannot read file (${err.code ?? err.message})`;
    throw new SafetensorsError(name, `${why}: ${path}`, undefined, { cause: e });
  }
  return SafetensorsFile.parse(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), name);
}

/**
 * Serializes with writeSafetensors, writes and fsyncs a temp file in the same folder, then renames it over
 * `path`, so readers see either the old file or the complete new one. The temp file is removed on failure.
 */
export async function writeSafetensorsFileAtomic(
  path: string,
  tensors: Record<string, TensorInput>,
  metadata?: Record<string, string>,
): Promise<void> {
  const bytes = writeSafetensors(tensors, metadata, basename(path));
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    const fh = await open(tmp, "wx");
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
}
