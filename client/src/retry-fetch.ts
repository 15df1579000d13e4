/** Waits `ms`, or rejects when `signal` aborts first. Injectable so tests see the waits without timing them. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export const sleep: Sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });

export interface RetryOptions {
  fetch: typeof fetch;
  /** Retries after the first attempt. @default 3 */
  maxRetries?: number;
  /** First backoff; doubled on each retry, with jitter. @default 500 */
  retryBaseMs?: number;
  /** A `Retry-After` longer than this is not waited for (a monthly quota resets in days). @default 60000 */
  maxRetryAfterMs?: number;
  sleep?: Sleep;
  /** Called before each wait; for logs and tests. */
  onRetry?: (info: { attempt: number; waitMs: number; status?: number; method: string; url: string }) => void;
}

/** GET, HEAD and PUT are idempotent by definition; a POST only when it carries an Idempotency-Key. */
export function isRetrySafe(method: string, headers: Headers): boolean {
  return ["GET", "HEAD", "PUT"].includes(method) || headers.has("idempotency-key");
}

const retryableStatus = (status: number) => status === 429 || status >= 500;

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Exponential backoff with full jitter over the upper half, so clients that failed together spread out. */
export const backoffMs = (attempt: number, baseMs: number) => {
  const cap = baseMs * 2 ** attempt;
  return Math.round(cap / 2 + Math.random() * (cap / 2));
};

/**
 * A fetch that retries what is safe to repeat, on 429, 5xx and network errors, waiting the longer of
 * its backoff and the server's `Retry-After`. Anything else (every other 4xx, unsafe POSTs, aborts)
 * goes back to the caller after one attempt.
 */
export function retryingFetch(options: RetryOptions): typeof fetch {
  const maxRetries = options.maxRetries ?? 3;
  const baseMs = options.retryBaseMs ?? 500;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;
  const wait = options.sleep ?? sleep;

  return async function fetchWithRetry(input, init) {
    const request = input instanceof Request ? input : undefined;
    const method = (init?.method ?? request?.method ?? "GET").toUpperCase();
    const headers = new Headers(init?.headers ?? request?.headers);
    const url = request?.url ?? String(input);
    const signal = init?.signal ?? request?.signal ?? undefined;
    const safe = isRetrySafe(method, headers);

    for (let attempt = 0; ; attempt++) {
      // A Request's body can be read once: each attempt sends a fresh clone.
      const send = () => options.fetch(request ? request.clone() : input, init);
      const last = !safe || attempt >= maxRetries;
      let res: Response;
      try {
        res = await send();
      } catch (e) {
        if (last || signal?.aborted || (e instanceof Error && e.name === "AbortError")) throw e;
        const waitMs = backoffMs(attempt, baseMs);
        options.onRetry?.({ attempt: attempt + 1, waitMs, method, url });
        await wait(waitMs, signal);
        continue;
      }
      if (last || !retryableStatus(res.status)) return res;
      const serverWait = retryAfterMs(res.headers.get("retry-after"));
      if (serverWait !== undefined && serverWait > maxRetryAfterMs) return res;
      const waitMs = Math.max(serverWait ?? 0, backoffMs(attempt, baseMs));
      // Free the connection before waiting; the body of a response we retry is never read.
      await res.body?.cancel().catch(() => undefined);
      options.onRetry?.({ attempt: attempt + 1, waitMs, status: res.status, method, url });
      await wait(waitMs, signal);
    }
  };
}
