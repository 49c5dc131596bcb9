// JSON body validation: @hono/zod-validator with our error shape. A body that is not JSON is 400
// (invalid_json, from Hono's validator); JSON that does not fit the schema is 422 (invalid_request),
// naming the first few offending fields.
import { zValidator } from "@hono/zod-validator";
import type { z } from "zod";
import { ApiError } from "./errors.ts";

export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .slice(0, 3)
    .map((i) => {
      const path = i.path.length ? i.path.join(".") : "body";
      return `${path}: ${i.message}`;
    })
    .join("; ");
}

export function jsonBody<S extends z.ZodType>(schema: S) {
  return zValidator("json", schema, (result) => {
    if (!result.success) throw new ApiError(422, "invalid_request", describeIssues(result.error.issues));
  });
}
