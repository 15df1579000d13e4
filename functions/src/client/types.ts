import type { hc, InferRequestType, InferResponseType } from "hono/client";
import type { AppType } from "../app.ts";

/**
 * Every request and response shape of the SDK, read off the app's own route types (`AppType`), so
 * the client cannot drift from the server: change a zod schema and these change with it.
 */
export type ApiClient = ReturnType<typeof hc<AppType>>;

type Generations = ApiClient["v1"]["generations"];
type Generation = Generations[":id"];

export type Upload = InferResponseType<ApiClient["v1"]["uploads"]["$post"], 201>;
export type CreateUploadInput = InferRequestType<ApiClient["v1"]["uploads"]["$post"]>["json"];
export type UploadContentType = CreateUploadInput["contentType"];

/** The body of `POST /v1/generations` (defaults filled in by the API). */
export type CreateGenerationInput = InferRequestType<Generations["$post"]>["json"];
export type Job = InferResponseType<Generation["$get"], 200>;
export type JobStatus = Job["status"];
export type JobPage = InferResponseType<Generations["$get"], 200>;
export type Usage = InferResponseType<ApiClient["v1"]["usage"]["$get"], 200>;
export type WebhookSecret = InferResponseType<ApiClient["v1"]["webhook-secret"]["$get"], 200>;

export interface ListGenerationsOptions {
  /** 1..100. @default 20 */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

export interface CreateGenerationOptions {
  /** Same key + same body returns the original job; also makes the create safe to retry. */
  idempotencyKey?: string;
  signal?: AbortSignal;
}

export interface RunOptions {
  /** Called on every change of status or step, never twice for the same state. */
  onProgress?: (job: Job) => void;
  /** Aborting cancels the job on the server, then `run` rejects with code `canceled`. */
  signal?: AbortSignal;
  /** @default 1000 */
  pollIntervalMs?: number;
  /** @default a random UUID, so the submit can be retried safely */
  idempotencyKey?: string;
}

export const TERMINAL: readonly JobStatus[] = ["succeeded", "failed", "canceled"];
export const isTerminal = (job: Pick<Job, "status">) => TERMINAL.includes(job.status);
