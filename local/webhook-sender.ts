import type { AwsClients } from "@troupe/shared/aws/clients";
import { WebhookSenderConfigSchema, loadConfig } from "@troupe/shared/config";
import { createDeliveryPoller } from "@troupe/shared/webhooks/sender-deps";

/**
 * The local stack's webhook sender: the same loop as `functions/src/handlers/webhooks-node.ts`
 * (and the same per-message code as the Lambda), run in the stack's own process. fauxqs forgets
 * its messages on restart, so every pending delivery gets a fresh message first; a message that
 * arrives early just hides itself until its attempt is due.
 */
export async function startWebhookSender(clients: AwsClients, env: Record<string, string>, log: (line: string) => void): Promise<{ stop(): Promise<void> }> {
  const config = loadConfig(WebhookSenderConfigSchema, env);
  const queueUrl = config.TROUPE_WEBHOOK_QUEUE_URL!;
  const poller = createDeliveryPoller(config, clients, queueUrl, (event, fields = {}) => log(`[webhooks] ${JSON.stringify({ time: new Date().toISOString(), event, ...fields })}`));
  poller.start({ sweepAll: true });
  return { stop: () => poller.stop() };
}
