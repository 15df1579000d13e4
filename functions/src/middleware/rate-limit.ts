import type { MiddlewareHandler } from "hono";
import { AppError } from "@troupe/shared/errors";
import type { UsageStore } from "@troupe/shared/records/usage";
import { BatchedRateLimiter, type RateSyncOptions } from "../services/rate-limiter.ts";

export interface RateLimitOptions {
  usage: Pick<UsageStore, "addHits">;
  /** Used for keys created before per-key limits existed. */
  defaultPerMinute: number;
  now: () => number;
  /** How often this instance adds its hits to the shared counter (see BatchedRateLimiter). */
  sync?: Partial<RateSyncOptions>;
}

/**
 * Per-key requests per minute across every API instance, decided in memory with batched writes
 * to the shared counter (BatchedRateLimiter): no storage call on a request's path. Runs after `auth`.
 */
export const rateLimit = (options: RateLimitOptions): MiddlewareHandler => {
  const { defaultPerMinute, now } = options;
  const limiter = new BatchedRateLimiter({ usage: options.usage, ...options.sync });
  return async function rateLimit(c, next) {
    const key = c.get("apiKey");
    const limit = key.ratePerMinute ?? defaultPerMinute;
    const waitS = await limiter.hit(key.keyId, limit, now());
    if (waitS > 0) {
      throw new AppError("rate_limited", `This key allows ${limit} requests per minute; retry in ${waitS} s.`, {
        limitPerMinute: limit,
        retryAfterSeconds: waitS,
      });
    }
    await next();
  };
};
