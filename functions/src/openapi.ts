import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { ZodError } from "zod";
import { AppError } from "@troupe/shared/errors";

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: "invalid_request" }),
      message: z.string(),
      details: z.unknown().optional(),
      requestId: z.string(),
    }),
  })
  .openapi("Error");

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: "invalid_request: the body, query or a header does not match the schema or the model's limits",
  401: "unauthorized: missing, malformed, unknown or revoked API key",
  404: "not_found: no such resource for this key",
  409: "not_cancelable or idempotency_conflict",
  413: "payload_too_large: body over 64 KiB",
  422: "image_token_mismatch, image_token_invalid, prompt_too_long, unknown_upload or upload_invalid",
  429: "quota_exceeded or rate_limited; see Retry-After",
  500: "internal_error",
};

/** OpenAPI entries for the given error statuses, all with the one error shape. */
export function errorResponses<S extends keyof typeof ERROR_DESCRIPTIONS>(...statuses: S[]) {
  return Object.fromEntries(
    statuses.map((s) => [s, { description: ERROR_DESCRIPTIONS[s], content: { "application/json": { schema: ErrorSchema } } }]),
  ) as Record<S, { description: string; content: { "application/json": { schema: typeof ErrorSchema } } }>;
}

/** Every authenticated route declares the bearer scheme registered in app.ts. */
export const bearerSecurity = [{ bearer: [] }];

/** Zod issues without the offending input values (which may be large or sensitive). */
const publicIssues = (error: ZodError) => error.issues.map(({ code, path, message }) => ({ code, path, message }));

/** A router whose schema failures become `400 invalid_request` with the zod issues in details. */
export function createRouter(): OpenAPIHono {
  return new OpenAPIHono({
    defaultHook: (result) => {
      if (result.success) return;
      const first = result.error.issues[0];
      const where = first?.path.length ? `${result.target}.${first.path.join(".")}` : result.target;
      throw new AppError("invalid_request", `Invalid ${where}: ${first?.message ?? "does not match the schema"}.`, publicIssues(result.error));
    },
  });
}
