import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { AppError, isAppError, type ErrorCode } from "@troupe/shared/errors";

/** The one table from domain error codes to HTTP statuses (DESIGN §2). */
const STATUS: Record<ErrorCode, ContentfulStatusCode> = {
  invalid_request: 400,
  unauthorized: 401,
  not_found: 404,
  not_cancelable: 409,
  not_redeliverable: 409,
  idempotency_conflict: 409,
  payload_too_large: 413,
  image_token_mismatch: 422,
  image_token_invalid: 422,
  prompt_too_long: 422,
  unknown_upload: 422,
  unknown_subject: 422,
  upload_invalid: 422,
  safety_unavailable: 409, // a job's code (the runner's bundle has no safety checker for the key's policy), not a request's
  quota_exceeded: 429,
  rate_limited: 429,
  invalid_bundle: 500,
  canceled: 500,
  internal_error: 500,
};

export const statusFor = (code: ErrorCode): ContentfulStatusCode => STATUS[code];

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown; requestId: string };
}

/** Errors Hono itself throws (malformed JSON, wrong media type) in our vocabulary. */
function fromHttpException(e: HTTPException): AppError {
  if (e.status === 413) return new AppError("payload_too_large", "The request body is too large.");
  if (e.status === 404) return new AppError("not_found", "No such resource.");
  if (e.status === 401) return new AppError("unauthorized", "Authentication failed.");
  if (e.status === 400 || e.status === 415) {
    const message = e.status === 415 ? "Send the body as JSON with Content-Type: application/json." : e.message || "The request is invalid.";
    return new AppError("invalid_request", message);
  }
  return new AppError("internal_error", "Something went wrong on our side.");
}

/** Only our own 4xx messages and deliberate internal_error messages reach the caller; anything else is masked. */
function toPublic(err: Error): AppError {
  if (err instanceof HTTPException) return fromHttpException(err);
  if (isAppError(err) && (statusFor(err.code) < 500 || err.code === "internal_error")) return err;
  return new AppError("internal_error", "Something went wrong on our side; retry later or quote the request id.");
}

/** `Retry-After` for 429s comes from the error's details, where services put it as domain data. */
function retryAfter(details: unknown): number | undefined {
  if (typeof details !== "object" || details === null || !("retryAfterSeconds" in details)) return undefined;
  const s = (details as { retryAfterSeconds: unknown }).retryAfterSeconds;
  return typeof s === "number" && s > 0 ? Math.ceil(s) : undefined;
}

export function errorResponse(c: Context, error: AppError): Response {
  const requestId = c.get("requestId") ?? "unknown";
  const status = statusFor(error.code);
  const wait = status === 429 ? retryAfter(error.details) : undefined;
  if (wait) c.header("Retry-After", String(wait));
  c.header("x-request-id", requestId);
  const body: ErrorBody = {
    error: { code: error.code, message: error.message, ...(error.details === undefined ? {} : { details: error.details }), requestId },
  };
  return c.json(body, status);
}

/** `app.onError`: the one place errors become HTTP responses. The original error is kept for the access log. */
export const onError: ErrorHandler = (err, c) => {
  const pub = toPublic(err);
  if (statusFor(pub.code) >= 500) c.set("failure", err);
  return errorResponse(c, pub);
};

export const onNotFound: NotFoundHandler = (c) =>
  errorResponse(c, new AppError("not_found", `No route for ${c.req.method} ${c.req.path}.`));
