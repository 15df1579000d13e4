import type { AwsClients } from "../aws/clients.ts";
import type { WebhookSenderConfig } from "../config.ts";
import { ApiKeyStore } from "../records/api-keys.ts";
import { DeliveryStore } from "../records/deliveries.ts";
import { JobStore } from "../records/jobs.ts";
import { DeliveryPoller } from "./delivery-poller.ts";
import type { DeliveryDeps } from "./process-delivery.ts";

/** The sender's dependencies from its config: the same for the Lambda and the local loop. */
export function createDeliveryDeps(config: WebhookSenderConfig, clients: AwsClients, log: DeliveryDeps["log"]): DeliveryDeps & { deliveries: DeliveryStore } {
  return {
    jobs: new JobStore(clients.ddb, config.TROUPE_JOBS_TABLE),
    deliveries: new DeliveryStore(clients.ddb, config.TROUPE_JOBS_TABLE),
    keys: new ApiKeyStore(clients.ddb, config.TROUPE_KEYS_TABLE),
    s3: clients.s3,
    bucket: config.TROUPE_BUCKET,
    outputUrlTtlS: config.TROUPE_OUTPUT_URL_TTL_S,
    schedule: config.TROUPE_WEBHOOK_SCHEDULE,
    timeoutMs: config.TROUPE_WEBHOOK_TIMEOUT_MS,
    localMode: config.TROUPE_LOCAL_MODE,
    log,
  };
}

/** The long-running sender loop from its config (the standalone process and the local stack). */
export function createDeliveryPoller(config: WebhookSenderConfig, clients: AwsClients, queueUrl: string, log: DeliveryDeps["log"]): DeliveryPoller {
  const deps = createDeliveryDeps(config, clients, log);
  return new DeliveryPoller(deps, {
    sqs: clients.sqs,
    queueUrl,
    deliveries: deps.deliveries,
    waitTimeS: config.TROUPE_WAIT_TIME_S,
    sweepIntervalMs: config.TROUPE_SWEEP_INTERVAL_S * 1000,
  });
}
