// Entry of a data-parallel training thread (see parallel-pool.ts): our sources are TypeScript, so the thread
// registers tsx first (worker threads do not inherit the parent's loader), then runs parallel-worker.ts.
import { register } from "tsx/esm/api";

register();
await import("./parallel-worker.ts");
