import { describe, expect, it } from "vitest";
import { reserveQuota, secondsToNextPeriod } from "./quota.ts";

describe("secondsToNextPeriod", () => {
  it("counts to midnight UTC on the first of next month, across a year end", () => {
    expect(secondsToNextPeriod(Date.UTC(2026, 0, 31, 23, 59, 0))).toBe(60);
    expect(secondsToNextPeriod(Date.UTC(2026, 11, 31, 23, 0, 0))).toBe(3600);
    expect(secondsToNextPeriod(Date.UTC(2026, 1, 1))).toBe(28 * 24 * 3600);
  });
});

describe("reserveQuota", () => {
  it("returns the period, or throws quota_exceeded with Retry-After details", async () => {
    const now = Date.UTC(2026, 4, 31, 23, 0, 0);
    const usage = { reserve: async (_t: string, _p: string, images: number, limit: number) => images <= limit };
    expect(await reserveQuota(usage, "t", 1, 1, now)).toBe("2026-05");
    await expect(reserveQuota(usage, "t", 2, 1, now)).rejects.toMatchObject({
      code: "quota_exceeded",
      details: { period: "2026-05", retryAfterSeconds: 3600 },
    });
  });
});
