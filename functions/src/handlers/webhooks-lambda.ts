import { createAwsClients } from "@troupe/shared/aws/clients";
import { WebhookSenderConfigSchema, loadConfig } from "@troupe/shared/config";
import { applyAction, parseDeliveryMessage } from "@troupe/shared/webhooks/delivery-queue";
import { processDelivery } from "@troupe/shared/webhooks/process-delivery";
import { createDeliveryDeps } from "@troupe/shared/webhooks/sender-deps";
import { sweepDeliveries } from "@troupe/shared/webhooks/sweep-deliveries";

/**
 * The webhook sender on AWS: a Lambda fed by the webhooks queue (batches, partial failures on),
 * and every few minutes by an EventBridge schedule that re-sends messages for overdue deliveries.
 * A message whose next attempt lies ahead is hidden until then (ChangeMessageVisibility) and
 * reported as a batch failure, so Lambda keeps it instead of deleting it.
 */
interface SqsEvent {
  Records: { messageId: string; receiptHandle: string; body: string }[];
}
interface ScheduledEvent {
  source: string;
  "detail-type"?: string;
}
interface BatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

/** How late a pending delivery may be before the schedule counts its message as lost (the rule runs every 5 min). */
const OVERDUE_MS = 10 * 60_000;

const config = loadConfig(WebhookSenderConfigSchema);
// Required at start: without it a deferral could not be applied and every message would churn to the DLQ.
if (!config.TROUPE_WEBHOOK_QUEUE_URL) throw new Error("TROUPE_WEBHOOK_QUEUE_URL is required: the URL of the webhooks queue.");
const queueUrl = config.TROUPE_WEBHOOK_QUEUE_URL;
const clients = createAwsClients(config);
const log = (event: string, fields: Record<string, unknown> = {}) => process.stdout.write(`${JSON.stringify({ service: "webhooks", event, ...fields })}\n`);
const deps = createDeliveryDeps(config, clients, log);

export async function handler(event: SqsEvent | ScheduledEvent): Promise<BatchResponse | { woken: number }> {
  if (!("Records" in event)) {
    const woken = await sweepDeliveries({ sqs: clients.sqs, queueUrl, deliveries: deps.deliveries }, OVERDUE_MS);
    if (woken.length) log("webhooks_swept", { woken });
    return { woken: woken.length };
  }
  const failures: { itemIdentifier: string }[] = [];
  await Promise.all(
    event.Records.map(async (r) => {
      const message = parseDeliveryMessage(r.body);
      try {
        const action = message ? await processDelivery(deps, message) : ({ kind: "delete" } as const);
        if (action.kind === "defer") {
          await applyAction(clients.sqs, queueUrl, r.receiptHandle, action);
          failures.push({ itemIdentifier: r.messageId });
        }
      } catch (e) {
        log("webhook_sender_error", { jobId: message?.jobId, error: e instanceof Error ? e.message : String(e) });
        failures.push({ itemIdentifier: r.messageId });
      }
    }),
  );
  return { batchItemFailures: failures };
}
