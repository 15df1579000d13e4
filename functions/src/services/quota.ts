import { AppError } from "@troupe/shared/errors";
import { usagePeriod, type UsageStore } from "@troupe/shared/records/usage";

/** Seconds from `now` to the start of the next calendar month (UTC), when a monthly quota resets. */
export function secondsToNextPeriod(now: number): number {
  const d = new Date(now);
  const next = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  return Math.max(1, Math.ceil((next - now) / 1000));
}

/** Reserves `images` of this month's quota or throws `quota_exceeded` with the wait until it resets. */
export async function reserveQuota(usage: Pick<UsageStore, "reserve">, tenantId: string, images: number, limit: number, now: number): Promise<string> {
  const period = usagePeriod(new Date(now));
  if (await usage.reserve(tenantId, period, images, limit)) return period;
  const retryAfterSeconds = secondsToNextPeriod(now);
  throw new AppError("quota_exceeded", `This key's monthly quota of ${limit} images is used up for ${period}.`, {
    period,
    limit,
    requested: images,
    retryAfterSeconds,
  });
}
