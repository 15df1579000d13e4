export { createTroupeClient, type TroupeClient, type TroupeClientOptions } from "./client.ts";
export { isTroupeError, TroupeError, type TroupeErrorCode } from "./errors.ts";
export { backoffMs, isRetrySafe, retryAfterMs, retryingFetch, sleep, type RetryOptions, type Sleep } from "./retry-fetch.ts";
export { detectContentType, type FileInput } from "./upload-file.ts";
export type * from "./types.ts";
export { isTerminal, TERMINAL } from "./types.ts";
