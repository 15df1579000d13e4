import type { MiddlewareHandler } from "hono";
import { AppError } from "@troupe/shared/errors";
import type { UsageStore } from "@troupe/shared/records/usage";

export interface RateLimitOptions {
  usage: Pick<UsageStore, "hit">;
  /** Used for keys created before per-key limits existed. */
  defaultPerMinute: number;
  now: () => number;
}

/** Per-key requests per minute, shared by every API instance (UsageStore.hit). Runs after `auth`. */
export const rateLimit = (options: RateLimitOptions): MiddlewareHandler => {
  const { usage, defaultPerMinute, now } = options;
  return async function rateLimit(c, next) {
    const key = c.get("apiKey");
    const limit = key.ratePerMinute ?? defaultPerMinute;
    const waitS = await usage.hit(key.keyId, limit, now());
    if (waitS > 0) {
      throw new AppError("rate_limited", `This key allows ${limit} requests per minute; retry in ${waitS} s.`, {
        limitPerMinute: limit,
        retryAfterSeconds: waitS,
      });
    }
    await next();
  };
};
