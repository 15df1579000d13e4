/**
 * Domain errors. Each carries a stable snake_case `code`; none carries HTTP detail.
 * The API maps codes to status codes in one place (functions/src/error-handler.ts);
 * the runner records `code` on the failed job.
 */
export type ErrorCode =
  | "invalid_request"
  | "unauthorized"
  | "not_found"
  | "not_cancelable"
  | "not_redeliverable"
  | "payload_too_large"
  | "image_token_mismatch"
  | "image_token_invalid"
  | "prompt_too_long"
  | "unknown_upload"
  | "unknown_subject"
  | "upload_invalid"
  | "safety_unavailable"
  | "quota_exceeded"
  | "rate_limited"
  | "idempotency_conflict"
  | "invalid_bundle"
  | "canceled"
  | "internal_error";

export class AppError extends Error {
  override readonly name: string = "AppError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** The prompt could not be parsed into subject positions; `details` names the position. */
export class PromptError extends AppError {
  override readonly name = "PromptError";
}

/** A reference image is not a decodable image of an allowed type and size. */
export class UploadInvalidError extends AppError {
  override readonly name = "UploadInvalidError";
  constructor(message: string, details?: unknown) {
    super("upload_invalid", message, details);
  }
}

/** A model bundle does not match its manifest or DESIGN §4. */
export class BundleError extends AppError {
  override readonly name = "BundleError";
  constructor(message: string, details?: unknown) {
    super("invalid_bundle", message, details);
  }
}

export const isAppError = (e: unknown): e is AppError => e instanceof AppError;

/** A cancel request was observed between steps. */
export class CanceledError extends AppError {
  override readonly name = "CanceledError";
  constructor(message = "The job was canceled.") {
    super("canceled", message);
  }
}
