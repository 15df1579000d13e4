/** The API's error codes (DESIGN §2); `wire-types.test.ts` checks this list against the server's. */
export type ApiErrorCode =
  | "invalid_request"
  | "unauthorized"
  | "not_found"
  | "not_cancelable"
  | "not_redeliverable"
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

/**
 * The API's codes (DESIGN §2) plus the ones only a client can see: the network failed, a presigned
 * PUT was refused by storage, or the server answered something that is not the error shape.
 */
export type TroupeErrorCode = ApiErrorCode | "network_error" | "upload_failed" | "unexpected_response";

export interface TroupeErrorInit {
  code: TroupeErrorCode | (string & {});
  message: string;
  /** HTTP status; 0 when no response came (network error, abort) or the job itself failed. */
  status?: number;
  requestId?: string;
  details?: unknown;
  cause?: unknown;
}

/**
 * Every failure the SDK reports. `code` is the API's own snake_case code, so callers branch on it
 * (`e.code === "quota_exceeded"`) rather than on messages or statuses.
 */
export class TroupeError extends Error {
  override name = "TroupeError";
  readonly code: TroupeErrorCode | (string & {});
  readonly status: number;
  readonly requestId: string | undefined;
  readonly details: unknown;

  constructor(init: TroupeErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.status = init.status ?? 0;
    this.requestId = init.requestId;
    this.details = init.details;
    // Like fetch's own abort, so `e.name === "AbortError"` checks written for fetch keep working.
    if (init.code === "canceled") this.name = "AbortError";
  }
}

export const isTroupeError = (e: unknown): e is TroupeError => e instanceof TroupeError;

interface ErrorBody {
  error: { code: string; message: string; details?: unknown; requestId?: string };
}

const isErrorBody = (b: unknown): b is ErrorBody =>
  typeof b === "object" && b !== null && "error" in b && typeof (b as ErrorBody).error?.code === "string";

/** The error a non-2xx API response stands for; reads the body once. */
export async function errorFromResponse(res: Response): Promise<TroupeError> {
  const requestId = res.headers.get("x-request-id") ?? undefined;
  const text = await res.text().catch(() => "");
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (isErrorBody(body)) {
    const { code, message, details } = body.error;
    return new TroupeError({ code, message, status: res.status, requestId: body.error.requestId ?? requestId, details });
  }
  return new TroupeError({
    code: res.status >= 500 ? "internal_error" : "unexpected_response",
    message: `HTTP ${res.status} without an error body${text ? `: ${text.slice(0, 200)}` : ""}`,
    status: res.status,
    requestId,
  });
}

/** An abort from the caller's signal, as a TroupeError. */
export const abortError = (details?: unknown) => new TroupeError({ code: "canceled", message: "The operation was aborted.", details });

/** A fetch that threw (DNS, refused, reset) after retries, or an abort that happened mid-request. */
export function errorFromThrown(e: unknown): TroupeError {
  if (e instanceof TroupeError) return e;
  if (e instanceof Error && e.name === "AbortError") return abortError();
  const message = e instanceof Error ? e.message : String(e);
  return new TroupeError({ code: "network_error", message: `The request did not complete: ${message}`, cause: e });
}
