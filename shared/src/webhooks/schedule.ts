/**
 * The webhook retry schedule (DESIGN §2: retried for about a day). Pure helpers: parsing the
 * configured schedule, the jittered delay before the next attempt, and `Retry-After`.
 */

/** ≈ 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: eight attempts over about 28 hours. */
export const DEFAULT_WEBHOOK_SCHEDULE = "5s,5m,30m,2h,5h,10h,10h";

/** SQS cannot hide a message longer than this, so no single wait may exceed it. */
export const MAX_DELAY_MS = 12 * 3600 * 1000;

/** ± this fraction of each delay, so receivers that failed together are not retried together. */
export const JITTER = 0.2;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * "5s,5m,30m,2h" → delays in ms between attempts (attempts = delays + 1). Throws a sentence
 * naming the bad entry; each delay is at most 12 h (the SQS visibility limit).
 */
export function parseSchedule(text: string): number[] {
  const parts = text.split(",").map((p) => p.trim());
  if (parts.length === 0 || parts.some((p) => p === "")) throw new Error(`"${text}" is not a comma-separated list of delays such as 5s,5m,2h.`);
  return parts.map((p) => {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(p);
    if (!m) throw new Error(`"${p}" is not a delay: write a number and a unit (ms, s, m or h), e.g. 30s.`);
    const ms = Math.round(Number(m[1]) * UNIT_MS[m[2]]);
    if (ms > MAX_DELAY_MS) throw new Error(`"${p}" is longer than 12h, the most SQS can delay a message.`);
    return ms;
  });
}

export interface NextDelayOptions {
  /** Uniform in [0, 1); injectable for tests. @default Math.random */
  random?: () => number;
  /** From the receiver's `Retry-After` on a 429 or 503: the wait is never shorter. */
  retryAfterMs?: number;
}

/**
 * The wait after failed attempt `attempt` (1-based), or null when it was the last one.
 * Jittered by ±JITTER; a receiver's `Retry-After` lengthens it (never shortens), capped at 12 h.
 */
export function nextDelayMs(schedule: readonly number[], attempt: number, options: NextDelayOptions = {}): number | null {
  if (attempt > schedule.length) return null;
  const base = schedule[attempt - 1];
  const jittered = base * (1 - JITTER + 2 * JITTER * (options.random ?? Math.random)());
  return Math.min(MAX_DELAY_MS, Math.max(Math.round(jittered), options.retryAfterMs ?? 0));
}

/** `Retry-After` as ms from now: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Only these statuses carry a `Retry-After` we honour (RFC 9110 §10.2.3). */
export const honoursRetryAfter = (status: number) => status === 429 || status === 503;
