import { createAwsClients } from "@troupe/shared/aws/clients";
import { WebhookSenderConfigSchema, loadConfig } from "@troupe/shared/config";
import { resolveWebhookQueueUrl } from "@troupe/shared/webhooks/delivery-queue";
import { createDeliveryPoller } from "@troupe/shared/webhooks/sender-deps";

/**
 * The webhook sender as its own process (long-polling the webhooks queue): what runs where there
 * is no Lambda, and what the tests kill mid-retry. Stops on SIGTERM/SIGINT after in-flight attempts.
 */
const config = loadConfig(WebhookSenderConfigSchema);
const log = (event: string, fields: Record<string, unknown> = {}) =>
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), service: "webhooks", pid: process.pid, event, ...fields })}\n`);
const clients = createAwsClients(config);
const queueUrl = await resolveWebhookQueueUrl(clients.sqs, config);
if (!queueUrl) {
  process.stderr.write(`No webhooks queue: set TROUPE_WEBHOOK_QUEUE_URL, or create the queue ${config.TROUPE_WEBHOOK_QUEUE_NAME}.\n`);
  process.exit(1);
}
const poller = createDeliveryPoller(config, clients, queueUrl, log);
const stop = async () => {
  await poller.stop();
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());
poller.start();
log("webhook_sender_ready", { queueUrl });
