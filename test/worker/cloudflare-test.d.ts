// The parts of the vitest-pool-workers test module these tests use (typed structurally, so the project
// needs no @cloudflare/workers-types, whose globals clash with the DOM and Node types).
declare module "cloudflare:test" {
  export const env: Record<string, unknown> & {
    MODELS_BUCKET: {
      put(key: string, value: ArrayBuffer | Uint8Array | string): Promise<unknown>;
      get(key: string): Promise<{ arrayBuffer(): Promise<ArrayBuffer> } | null>;
    };
  };
  export const SELF: { fetch(input: string | Request, init?: RequestInit): Promise<Response> };
  export interface ExecutionContext {
    waitUntil(promise: Promise<unknown>): void;
    passThroughOnException(): void;
    props: unknown;
  }
  export function createExecutionContext(): ExecutionContext;
  export function waitOnExecutionContext(ctx: ExecutionContext): Promise<void>;
}
