import { ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { applyAction, parseDeliveryMessage, type DeliveryAction } from "./delivery-queue.ts";
import { CLAIM_SLACK_MS, processDelivery, type DeliveryDeps } from "./process-delivery.ts";
import { sweepDeliveries } from "./sweep-deliveries.ts";
import type { DeliveryStore } from "../records/deliveries.ts";

export interface DeliveryPollerOptions {
  sqs: SQSClient;
  queueUrl: string;
  deliveries: DeliveryDeps["deliveries"] & Pick<DeliveryStore, "scanPending">;
  /** SQS long-poll wait. */
  waitTimeS: number;
  /** How often to re-send messages for overdue deliveries; a delivery counts as overdue after twice this. */
  sweepIntervalMs: number;
}

/**
 * The sender as a long-running loop (the local stack, or any host that is not Lambda): receive up
 * to ten messages, handle them concurrently, apply each outcome to its message, sweep now and then.
 * A message is received hidden for as long as a claimed attempt may take, so a sender killed
 * mid-attempt lets it reappear for the next one.
 */
export class DeliveryPoller {
  private readonly stopping = new AbortController();
  private loop: Promise<void> | null = null;
  private lastSweep = 0;

  constructor(
    private readonly deps: DeliveryDeps,
    private readonly options: DeliveryPollerOptions,
  ) {}

  /** `sweepAll`: first wake every pending delivery, due or not (the local stack after a restart: fauxqs forgot its messages). */
  start(options: { sweepAll?: boolean } = {}): void {
    const first = options.sweepAll ? this.sweep(0, Number.MAX_SAFE_INTEGER) : Promise.resolve();
    // A failed first sweep is not fatal: the loop's own sweeps find the same deliveries later.
    this.loop ??= first.catch((e: unknown) => this.deps.log("webhook_sender_error", { error: e instanceof Error ? e.message : String(e) })).then(() => this.run());
  }

  /** Stops receiving; attempts in flight finish (each within the POST timeout). */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { sqs, queueUrl } = this.options;
    // As long as a claim: a message that reappears while its attempt is still in flight just waits for the claim.
    const visibilityS = Math.ceil((this.deps.timeoutMs + CLAIM_SLACK_MS) / 1000);
    while (!this.stopping.signal.aborted) {
      try {
        await this.sweepIfDue();
        const out = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: this.options.waitTimeS, VisibilityTimeout: visibilityS }),
          { abortSignal: this.stopping.signal },
        );
        await Promise.all(
          (out.Messages ?? []).map(async (m) => {
            const action = await this.handle(m.Body);
            await applyAction(sqs, queueUrl, m.ReceiptHandle!, action);
          }),
        );
      } catch (e) {
        if (this.stopping.signal.aborted) break;
        this.deps.log("webhook_sender_error", { error: e instanceof Error ? e.message : String(e) });
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private async handle(body: string | undefined): Promise<DeliveryAction> {
    const message = parseDeliveryMessage(body);
    if (!message) {
      this.deps.log("webhook_message_malformed", {});
      return { kind: "delete" };
    }
    try {
      return await processDelivery(this.deps, message);
    } catch (e) {
      // A fault of ours (DynamoDB, S3): try again soon; the claim lapses by itself.
      this.deps.log("webhook_sender_error", { jobId: message.jobId, error: e instanceof Error ? e.message : String(e) });
      return { kind: "defer", delayS: 5 };
    }
  }

  private async sweepIfDue(): Promise<void> {
    if (Date.now() - this.lastSweep < this.options.sweepIntervalMs) return;
    await this.sweep(2 * this.options.sweepIntervalMs);
  }

  private async sweep(overdueMs: number, now?: number): Promise<void> {
    this.lastSweep = Date.now();
    const woken = await sweepDeliveries(this.options, overdueMs, now);
    if (woken.length) this.deps.log("webhooks_swept", { woken });
  }
}
