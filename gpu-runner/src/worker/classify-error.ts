import { isAppError } from "@troupe/shared/errors";

export type ErrorClass = { kind: "permanent"; code: string; message: string } | { kind: "retryable"; message: string };

/** Errors about the job itself: running it again would fail the same way. */
const PERMANENT_CODES = new Set([
  "invalid_request",
  "image_token_mismatch",
  "image_token_invalid",
  "prompt_too_long",
  "unknown_upload",
  "unknown_subject",
  "upload_invalid",
  "safety_unavailable", // the bundle has no safety checker and the key's policy needs one
]);

/**
 * Permanent errors end the job `failed` with their code. Anything else (S3 or DynamoDB hiccups,
 * a runner fault) is retryable: the message is left for redelivery, and after maxReceiveCount the
 * DLQ sweeper ends the job `failed` with internal_error.
 */
export function classifyError(error: unknown): ErrorClass {
  if (isAppError(error) && PERMANENT_CODES.has(error.code)) return { kind: "permanent", code: error.code, message: error.message };
  if (error instanceof Error && error.name === "NoSuchKey") {
    return { kind: "permanent", code: "unknown_upload", message: "A reference image is no longer in storage; upload it again." };
  }
  return { kind: "retryable", message: error instanceof Error ? error.message : String(error) };
}
