import type { UsageStore } from "@troupe/shared/records/usage";

export interface RateSyncOptions {
  /**
   * Hits this instance may admit that the shared counter does not have yet (capped at a tenth of
   * the key's limit, at least 1). It bounds the error: with N instances serving one key, at most
   * `limit + N × batch` requests are admitted in a minute. @default 10
   */
  batch: number;
  /** Fewer hits than a batch are added to the shared counter after at most this long. @default 1000 */
  intervalMs: number;
}

export interface RateLimiterOptions extends Partial<RateSyncOptions> {
  usage: Pick<UsageStore, "addHits">;
}

/** One key's one-minute window as this instance sees it. */
interface Window {
  minute: number;
  /** The shared counter as last read: every instance's hits that had been added by then. */
  shared: number;
  /** Admitted here, not yet sent to the shared counter. */
  pending: number;
  /** Being added to the shared counter now. */
  sending: number;
  flush: Promise<void> | null;
  timer: NodeJS.Timeout | null;
  /** The last write to the shared counter failed. */
  unreachable: boolean;
}

/**
 * Per-key requests per minute (fixed windows on the clock's minutes), decided in memory: the
 * shared DynamoDB counter (UsageStore.addHits) gets one write per `batch` admitted hits or per
 * `intervalMs`, off the request's path, instead of one conditional write per request. One instance
 * alone is exact (its own unsent hits count); several may together admit up to `batch` each beyond
 * the limit before their next write tells them the window is full.
 */
export class BatchedRateLimiter {
  private readonly windows = new Map<string, Window>();
  private readonly batch: number;
  private readonly intervalMs: number;

  constructor(private readonly options: RateLimiterOptions) {
    this.batch = options.batch ?? 10;
    this.intervalMs = options.intervalMs ?? 1000;
  }

  /** 0 when admitted, else the seconds until the key's window resets. */
  async hit(keyId: string, limit: number, now: number): Promise<number> {
    const minute = Math.floor(now / 60_000);
    const batch = Math.max(1, Math.min(this.batch, Math.floor(limit / 10)));
    for (;;) {
      const w = this.window(keyId, minute);
      if (w.shared + w.pending + w.sending >= limit) return Math.max(1, Math.ceil(((minute + 1) * 60_000 - now) / 1000));
      // A full batch unsent: wait for the shared count before admitting more (a busy key). While the
      // counter cannot be reached, admit on the local count rather than fail every request.
      if (w.pending + w.sending >= batch && !w.unreachable) {
        await (w.flush ?? this.send(keyId, w));
        continue;
      }
      w.pending++;
      // One flush in flight at a time (an outage must not pile up a callback per request); hits that
      // arrive meanwhile go with the next flush, at the latest after the interval.
      if (w.pending >= batch && !w.flush) void this.send(keyId, w);
      else w.timer ??= setTimeout(() => void this.send(keyId, w), this.intervalMs).unref();
      return 0;
    }
  }

  private window(keyId: string, minute: number): Window {
    const current = this.windows.get(keyId);
    if (current?.minute === minute) return current;
    // A new minute starts at zero; unsent hits of the old one no longer matter to anyone.
    if (current?.timer) clearTimeout(current.timer);
    const fresh: Window = { minute, shared: 0, pending: 0, sending: 0, flush: null, timer: null, unreachable: false };
    this.windows.set(keyId, fresh);
    if (this.windows.size > 10_000) this.dropStale(minute);
    return fresh;
  }

  /** Adds the window's pending hits to the shared counter and learns its total. Never rejects. */
  private send(keyId: string, w: Window): Promise<void> {
    if (w.timer) clearTimeout(w.timer);
    w.timer = null;
    if (w.flush) return w.flush.then(() => (w.pending > 0 ? this.send(keyId, w) : undefined));
    const hits = w.pending;
    if (hits === 0) return Promise.resolve();
    w.pending = 0;
    w.sending = hits;
    w.flush = this.options.usage
      .addHits(keyId, w.minute, hits)
      .then(
        (total) => {
          w.shared = Math.max(w.shared, total);
          w.unreachable = false;
        },
        () => {
          // The shared counter is unreachable: keep the hits counted here and try again later.
          w.unreachable = true;
          w.pending += hits;
          w.timer ??= setTimeout(() => void this.send(keyId, w), this.intervalMs).unref();
        },
      )
      .finally(() => {
        w.sending = 0;
        w.flush = null;
      });
    return w.flush;
  }

  private dropStale(minute: number): void {
    for (const [keyId, w] of this.windows) if (w.minute < minute && !w.flush) this.windows.delete(keyId);
  }
}
