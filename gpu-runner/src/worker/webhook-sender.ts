import type { SQSClient } from "@aws-sdk/client-sqs";
import type { JobRecord } from "@troupe/shared/records";
import { enqueueDelivery } from "@troupe/shared/webhooks/delivery-queue";

export interface WebhookSenderOptions {
  sqs: SQSClient;
  /** The webhooks queue; null when none is configured (the sender's sweeper then finds the outbox). */
  queueUrl: string | null;
  log: (event: string, fields: Record<string, unknown>) => void;
}

/**
 * The runner's side of a webhook: the terminal transition already wrote the delivery into the job's
 * outbox (records/deliveries.ts); this only wakes the sender with a message. Delivery, retries over
 * about a day, signing and the log happen in the webhook sender (shared/src/webhooks/), which
 * outlives any runner. A send that fails is left to the sender's sweeper, never retried here.
 */
export class WebhookSender {
  constructor(private readonly options: WebhookSenderOptions) {}

  async send(record: JobRecord): Promise<void> {
    if (record.webhook?.state !== "pending") return;
    if (!this.options.queueUrl) return;
    try {
      await enqueueDelivery(this.options.sqs, this.options.queueUrl, { tenantId: record.tenantId, jobId: record.id });
    } catch (e) {
      this.options.log("webhook_not_queued", { jobId: record.id, error: e instanceof Error ? e.message : String(e) });
    }
  }
}
