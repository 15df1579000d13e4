import { signWebhook } from "@troupe/shared/webhooks/sign";

export interface WebhookDelivery {
  url: string;
  secret: string;
  /** Stable per job and state, so a receiver can drop duplicates. */
  id: string;
  body: string;
}

export interface WebhookSenderOptions {
  maxAttempts: number;
  /** First retry delay; doubles each attempt. */
  baseDelayMs: number;
  timeoutMs: number;
  log: (event: string, fields: Record<string, unknown>) => void;
}

/**
 * Delivers webhooks in the background with exponential backoff, so a slow or failing receiver
 * never holds up the next job. Deliveries still pending when the process ends are lost
 * (at-least-once only while the process lives; the job record stays the source of truth).
 */
export class WebhookSender {
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly options: WebhookSenderOptions) {}

  send(delivery: WebhookDelivery): void {
    const p = this.deliver(delivery).finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  /** Resolves when every delivery has succeeded or given up (tests, graceful shutdown). */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private async deliver(d: WebhookDelivery): Promise<void> {
    for (let attempt = 1; attempt <= this.options.maxAttempts; attempt++) {
      try {
        // Signed per attempt: the timestamp must be fresh for the receiver's replay window.
        const res = await fetch(d.url, {
          method: "POST",
          headers: { "content-type": "application/json", "user-agent": "troupe-webhooks/1", ...signWebhook(d.secret, d.id, d.body) },
          body: d.body,
          redirect: "manual",
          signal: AbortSignal.timeout(this.options.timeoutMs),
        });
        await res.body?.cancel();
        if (res.status >= 200 && res.status < 300) {
          this.options.log("webhook_delivered", { id: d.id, attempt, status: res.status });
          return;
        }
        this.options.log("webhook_failed", { id: d.id, attempt, status: res.status });
      } catch (e) {
        this.options.log("webhook_failed", { id: d.id, attempt, error: e instanceof Error ? e.message : String(e) });
      }
      if (attempt < this.options.maxAttempts) await delay(this.options.baseDelayMs * 2 ** (attempt - 1));
    }
    this.options.log("webhook_gave_up", { id: d.id, attempts: this.options.maxAttempts });
  }
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());
