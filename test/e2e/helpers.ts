// Shared by the end-to-end tests: a free loopback port, and the system Chromium (Debian's `chromium`
// package; playwright-core drives it, no browser is downloaded).
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

export { freePort } from "../../worker/dev.ts";

/** Path of a Chromium / Chrome binary: $CHROMIUM_PATH, else the first one on PATH. */
export function findChromium(): string | undefined {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  for (const name of ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]) {
    try {
      const path = execFileSync("which", [name], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
      }).trim();
      if (path) return path;
    } catch {
      // not on PATH
    }
  }
  return undefined;
}
