import { GetQueueUrlCommand } from "@aws-sdk/client-sqs";
import { createAwsClients, type AwsClients } from "@troupe/shared/aws/clients";
import { loadModelInfo, type ModelInfo } from "@troupe/shared/bundle/model-info";
import type { ApiConfig } from "@troupe/shared/config";
import type { ApiKeyStore } from "@troupe/shared/records/api-keys";
import { IdempotencyStore } from "@troupe/shared/records/idempotency";
import { JobStore } from "@troupe/shared/records/jobs";
import { SubjectStore } from "@troupe/shared/records/subjects";
import { UploadStore } from "@troupe/shared/records/uploads";
import { UsageStore } from "@troupe/shared/records/usage";
import { dnsResolver, type HostResolver } from "@troupe/shared/webhooks/webhook-url";
import { CachedApiKeyStore } from "./services/key-cache.ts";

export interface Stores {
  keys: ApiKeyStore;
  jobs: JobStore;
  uploads: UploadStore;
  subjects: SubjectStore;
  idempotency: IdempotencyStore;
  usage: UsageStore;
}

/** Everything a handler may use, built once per process (per Lambda cold start) and injected. */
export interface AppDeps {
  config: ApiConfig;
  clients: AwsClients;
  stores: Stores;
  queueUrl: string;
  model: ModelInfo;
  /** Epoch ms; injectable so tests can move time (quota periods, rate windows). */
  now: () => number;
  resolveHost: HostResolver;
  /** Receives the access log's JSON lines. @default stdout */
  log?: (line: string) => void;
}

/** Uploads, subjects and idempotency claims live in the jobs table beside the jobs (see records/tables.ts). */
export function createStores(clients: AwsClients, config: ApiConfig, now: () => number = Date.now): Stores {
  return {
    // Verified keys are trusted for TROUPE_KEY_CACHE_TTL_MS: a revocation elsewhere takes effect within it.
    keys: new CachedApiKeyStore(clients.ddb, config.TROUPE_KEYS_TABLE, { ttlMs: config.TROUPE_KEY_CACHE_TTL_MS, now }),
    jobs: new JobStore(clients.ddb, config.TROUPE_JOBS_TABLE),
    uploads: new UploadStore(clients.ddb, config.TROUPE_JOBS_TABLE),
    subjects: new SubjectStore(clients.ddb, config.TROUPE_JOBS_TABLE),
    idempotency: new IdempotencyStore(clients.ddb, config.TROUPE_JOBS_TABLE),
    usage: new UsageStore(clients.ddb, config.TROUPE_USAGE_TABLE),
  };
}

async function resolveQueueUrl(clients: AwsClients, config: ApiConfig): Promise<string> {
  if (config.TROUPE_QUEUE_URL) return config.TROUPE_QUEUE_URL;
  const out = await clients.sqs.send(new GetQueueUrlCommand({ QueueName: config.TROUPE_QUEUE_NAME }));
  return out.QueueUrl!;
}

/** Production wiring from config: real clients, the deployed bundle's manifest and tokenizer, DNS. */
export async function createDeps(config: ApiConfig, overrides: Partial<AppDeps> = {}): Promise<AppDeps> {
  const clients = overrides.clients ?? createAwsClients(config, { maxSockets: config.TROUPE_HTTP_MAX_SOCKETS });
  const [queueUrl, model] = await Promise.all([
    overrides.queueUrl ?? resolveQueueUrl(clients, config),
    overrides.model ?? loadModelInfo(config.TROUPE_BUNDLE, clients.s3),
  ]);
  return {
    config,
    clients,
    stores: overrides.stores ?? createStores(clients, config, overrides.now),
    queueUrl,
    model,
    now: overrides.now ?? Date.now,
    resolveHost: overrides.resolveHost ?? dnsResolver,
    log: overrides.log,
  };
}
