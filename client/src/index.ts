// The fetch-only core: runs on Node 20+, Bun, Deno and in browsers. File helpers: `@troupe/client/node`.
export { createTroupeClient, type ListGenerationsOptions, type ListSubjectsOptions, type TroupeClient, type TroupeClientOptions } from "./client.js";
export { detectContentType } from "./content-type.js";
export { isTroupeError, TroupeError, type ApiErrorCode, type TroupeErrorCode, type TroupeErrorInit } from "./errors.js";
export type { Expect, RequestOptions } from "./http.js";
export { backoffMs, isRetrySafe, retryAfterMs, retryingFetch, sleep, type RetryOptions, type Sleep } from "./retry-fetch.js";
export type { CreateGenerationOptions, RunDeps, RunInput, RunOptions, RunSubject } from "./run.js";
export type { FileInput } from "./upload-file.js";
export type * from "./types.js";
export { isTerminal, TERMINAL } from "./types.js";
