import { createAwsClients } from "@troupe/shared/aws/clients";
import { WebhookSenderConfigSchema, loadConfig } from "@troupe/shared/config";
import { DeliveryPoller } from "@troupe/shared/webhooks/delivery-poller";
import { resolveWebhookQueueUrl } from "@troupe/shared/webhooks/delivery-queue";
import { createDeliveryDeps } from "@troupe/shared/webhooks/sender-deps";

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
const deps = createDeliveryDeps(config, clients, log);
const poller = new DeliveryPoller(deps, {
  sqs: clients.sqs,
  queueUrl,
  deliveries: deps.deliveries,
  waitTimeS: config.TROUPE_WAIT_TIME_S,
  sweepIntervalMs: config.TROUPE_SWEEP_INTERVAL_S * 1000,
});
const stop = async () => {
  await poller.stop();
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());
poller.start();
log("webhook_sender_ready", { queueUrl });
