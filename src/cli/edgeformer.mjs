#!/usr/bin/env node
// The `edgeformer` executable: registers tsx (our sources are TypeScript) and runs the CLI.
import { register } from "tsx/esm/api";

register();
const { main } = await import("./main.ts");
process.exitCode = await main(process.argv.slice(2));
