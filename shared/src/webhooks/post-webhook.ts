import type { LookupFunction } from "node:net";
import { Agent, fetch } from "undici";
import { honoursRetryAfter, parseRetryAfter } from "./schedule.ts";
import type { WebhookHeaders } from "./sign.ts";

export interface PostOutcome {
  ok: boolean;
  /** null when no response came. */
  status: number | null;
  durationMs: number;
  /** A short reason for the log; null on success. Never the response body (it is the receiver's). */
  error: string | null;
  /** From `Retry-After` on a 429 or 503. */
  retryAfterMs?: number;
}

/**
 * One POST of a signed delivery. Redirects are not followed (the target was checked, a redirect's
 * target was not); any 2xx is success; the body is discarded unread. `lookup` is the connection's
 * DNS step (webhookConnectLookup: the address rules again, at connect time).
 */
export async function postWebhook(url: string, headers: WebhookHeaders, body: string, timeoutMs: number, lookup?: LookupFunction): Promise<PostOutcome> {
  const t0 = performance.now();
  const elapsed = () => Math.round(performance.now() - t0);
  const dispatcher = new Agent({ connect: { lookup } });
  try {
    const res = await fetch(url, {
      dispatcher,
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "troupe-webhooks/1", ...headers },
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.body?.cancel();
    const durationMs = elapsed();
    if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status, durationMs, error: null };
    const retryAfterMs = honoursRetryAfter(res.status) ? parseRetryAfter(res.headers.get("retry-after")) : undefined;
    const error = res.status >= 300 && res.status < 400 ? `redirect ${res.status} not followed` : `HTTP ${res.status}`;
    return { ok: false, status: res.status, durationMs, error, retryAfterMs };
  } catch (e) {
    const reason = e instanceof Error && e.name === "TimeoutError" ? `no response within ${timeoutMs} ms` : describeFetchError(e);
    return { ok: false, status: null, durationMs: elapsed(), error: reason };
  } finally {
    void dispatcher.close();
  }
}

/** undici hides the useful part (ECONNREFUSED, ENOTFOUND) in `cause`. */
function describeFetchError(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = e.cause as { code?: string; message?: string } | undefined;
  return cause?.code ? `${cause.code}${cause.message ? `: ${cause.message}` : ""}` : e.message;
}
