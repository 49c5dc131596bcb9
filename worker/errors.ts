// The one error shape every route answers with: {"error": {"code", "message"}} and a fitting status.
// Bad input is never a 500: malformed JSON 400, auth 401, unknown route or model 404, wrong method 405,
// body too large 413, well-formed but invalid input 422, model unavailable 503 (with Retry-After).
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { TaskInputError } from "../src/tasks/pipeline.ts";

export type ErrorStatus = 400 | 401 | 404 | 405 | 413 | 422 | 500 | 503;

export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly status: ErrorStatus,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export interface ErrorBody {
  error: { code: string; message: string };
}

export function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}

export function errorResponse(c: Context, err: ApiError): Response {
  for (const [k, v] of Object.entries(err.headers)) c.header(k, v);
  c.set("errorCode", err.code);
  return c.json(errorBody(err.code, err.message), err.status as ContentfulStatusCode);
}

/** Maps anything thrown while handling a request to an ApiError. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof TaskInputError) {
    const code = err.name === "InputTooLongError" ? "input_too_long" : "invalid_input";
    return new ApiError(422, code, err.message);
  }
  if (err instanceof HTTPException) {
    const status = err.status;
    if (status === 400) {
      const msg = err.message || "bad request";
      const json = /json/i.test(msg);
      return new ApiError(
        400,
        json ? "invalid_json" : "bad_request",
        json ? `malformed JSON body: ${msg}` : msg,
      );
    }
    if (status === 413) return new ApiError(413, "body_too_large", err.message || "request body too large");
    if (status === 401) return new ApiError(401, "unauthorized", err.message || "unauthorized");
    return new ApiError(
      ([404, 405, 422, 503] as number[]).includes(status) ? (status as ErrorStatus) : 500,
      "http_error",
      err.message || `HTTP ${status}`,
    );
  }
  return new ApiError(500, "internal_error", "internal error");
}
