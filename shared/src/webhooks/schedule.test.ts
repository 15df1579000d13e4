import { describe, expect, it } from "vitest";
import { DEFAULT_WEBHOOK_SCHEDULE, JITTER, MAX_DELAY_MS, nextDelayMs, parseRetryAfter, parseSchedule } from "./schedule.ts";

describe("webhook retry schedule", () => {
  it("parses the default into eight attempts over about a day", () => {
    const s = parseSchedule(DEFAULT_WEBHOOK_SCHEDULE);
    expect(s).toEqual([5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]);
    const hours = s.reduce((a, b) => a + b, 0) / 3_600_000;
    expect(hours).toBeGreaterThan(24);
    expect(hours).toBeLessThan(30);
  });

  it("refuses malformed entries and delays SQS cannot hold, naming the entry", () => {
    expect(() => parseSchedule("5s,,2h")).toThrow(/comma-separated/);
    expect(() => parseSchedule("5 minutes")).toThrow(/"5 minutes" is not a delay/);
    expect(() => parseSchedule("13h")).toThrow(/"13h" is longer than 12h/);
    expect(parseSchedule("250ms, 1.5s")).toEqual([250, 1500]);
  });

  it("jitters each delay within ±20% and stops after the last attempt", () => {
    const s = parseSchedule("10s,1m");
    expect(nextDelayMs(s, 1, { random: () => 0 })).toBe(10_000 * (1 - JITTER));
    expect(nextDelayMs(s, 1, { random: () => 0.999999 })).toBeCloseTo(10_000 * (1 + JITTER), -1);
    expect(nextDelayMs(s, 2, { random: () => 0.5 })).toBe(60_000);
    expect(nextDelayMs(s, 3)).toBeNull();
    for (let i = 0; i < 200; i++) {
      const d = nextDelayMs(s, 1)!;
      expect(d).toBeGreaterThanOrEqual(8_000);
      expect(d).toBeLessThanOrEqual(12_000);
    }
  });

  it("lets Retry-After lengthen a wait but never shorten it, up to 12 h", () => {
    const s = parseSchedule("5s,30m");
    expect(nextDelayMs(s, 1, { random: () => 0.5, retryAfterMs: 120_000 })).toBe(120_000);
    expect(nextDelayMs(s, 2, { random: () => 0.5, retryAfterMs: 10_000 })).toBe(1_800_000);
    expect(nextDelayMs(s, 1, { random: () => 0.5, retryAfterMs: 48 * 3_600_000 })).toBe(MAX_DELAY_MS);
  });

  it("reads Retry-After as seconds or an HTTP date", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("120", now)).toBe(120_000);
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:01:00 GMT", now)).toBe(60_000);
    expect(parseRetryAfter("Wed, 31 Dec 2025 00:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});
