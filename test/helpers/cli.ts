// Runs the `edgeformer` command line in a child process from the project root, as users run it:
// exit code, signal, stdout and stderr; `onSpawn` gets a function that SIGKILLs the child (for
// crash-and-resume tests).
import { spawn } from "node:child_process";

const ROOT = new URL("../../", import.meta.url).pathname;

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

export function runCli(
  args: string[],
  env: Record<string, string> = {},
  onSpawn?: (kill: () => void) => void,
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ["src/cli/edgeformer.mjs", ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
    });
    let out = "";
    let err = "";
    p.stdout.on("data", (d) => {
      out += d;
    });
    p.stderr.on("data", (d) => {
      err += d;
    });
    p.on("error", reject);
    p.on("close", (code, signal) => resolve({ code, signal, out, err }));
    onSpawn?.(() => p.kill("SIGKILL"));
  });
}
