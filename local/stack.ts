import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createAwsClients, destroyAwsClients } from "@troupe/shared/aws/clients";
import { ApiConfigSchema, loadConfig } from "@troupe/shared/config";
import { redispatchPending } from "@troupe/shared/jobs/dispatch";
import { ApiKeyStore, JobStore } from "@troupe/shared/records";
import { createApp } from "../functions/src/app.ts";
import { createDeps } from "../functions/src/deps.ts";
import { startServer } from "../functions/src/handlers/node.ts";
import { ensureTinyBundle } from "../gpu-runner/src/bundle/tiny-bundle.ts";
import { startEmulators } from "./emulators.ts";
import { provision } from "./provision.ts";
import { startRunnerPool } from "./runner-pool.ts";
import { startWebhookSender } from "./webhook-sender.ts";

export interface LocalStackOptions {
  /** Where S3 and DynamoDB data persist. @default ".data" */
  dataDir?: string;
  /** API port; 0 picks a free one. @default 8787 */
  port?: number;
  /** Runner processes. @default 1 */
  runners?: number;
  /** Extra environment for the API config and the runners (e.g. TROUPE_BUNDLE). */
  env?: Record<string, string | undefined>;
  log?: (line: string) => void;
}

export interface LocalStackInfo {
  apiUrl: string;
  apiKey: string;
  endpoints: { s3: string; sqs: string; dynamodb: string };
}

export interface LocalStack extends LocalStackInfo {
  stop(): Promise<void>;
}

export const stackFile = (dataDir: string) => join(dataDir, "local-stack.json");

/**
 * Everything on one machine, no cloud account, no Docker (DESIGN §5): emulators, provisioned
 * resources, the tiny bundle, a dev key, the API and N runners, over the production code paths.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const dataDir = resolve(options.dataDir ?? ".data");
  const log = options.log ?? ((l: string) => process.stdout.write(`${l}\n`));
  await mkdir(dataDir, { recursive: true });
  const emulators = await startEmulators({ dataDir });
  const baseEnv: Record<string, string> = {
    TROUPE_S3_ENDPOINT: emulators.endpoints.s3,
    TROUPE_SQS_ENDPOINT: emulators.endpoints.sqs,
    TROUPE_DYNAMODB_ENDPOINT: emulators.endpoints.dynamodb,
    TROUPE_LOCAL_MODE: "true",
  };
  const userEnv = Object.fromEntries(Object.entries(options.env ?? process.env).filter((e): e is [string, string] => e[1] !== undefined));
  // The emulators' endpoints always win: a local stack never talks to AWS.
  const config0 = loadConfig(ApiConfigSchema, { ...userEnv, ...baseEnv, PORT: String(options.port ?? userEnv.PORT ?? 8787) });
  const clients = createAwsClients(config0);
  try {
    const { queueUrl, dlqUrl, webhookQueueUrl } = await provision(clients, config0);
    const bundle = userEnv.TROUPE_BUNDLE ?? (await ensureTinyBundle());
    const env = { ...userEnv, ...baseEnv, TROUPE_QUEUE_URL: queueUrl, TROUPE_DLQ_URL: dlqUrl, TROUPE_WEBHOOK_QUEUE_URL: webhookQueueUrl, TROUPE_BUNDLE: bundle };
    const config = loadConfig(ApiConfigSchema, { ...env, PORT: String(config0.PORT) });

    const apiKey = await devKey(new ApiKeyStore(clients.ddb, config.TROUPE_KEYS_TABLE), dataDir);
    // fauxqs keeps messages in memory: send again every job a previous run left queued or running.
    const resent = await redispatchPending({ sqs: clients.sqs, queueUrl, jobs: new JobStore(clients.ddb, config.TROUPE_JOBS_TABLE) }, { all: true });
    if (resent.length) log(`re-sent ${resent.length} unfinished job(s) from the last run`);

    const webhooks = await startWebhookSender(clients, env, log);

    const server = await startServer(createApp(await createDeps(config, { clients, log })), { port: config.PORT });
    const runners = startRunnerPool(options.runners ?? 1, env, log);
    const info: LocalStackInfo = { apiUrl: server.url, apiKey, endpoints: emulators.endpoints };
    await writeFile(stackFile(dataDir), `${JSON.stringify(info, null, 2)}\n`);
    return {
      ...info,
      async stop() {
        await runners.stop();
        await webhooks.stop();
        await server.close();
        destroyAwsClients(clients);
        await emulators.stop();
      },
    };
  } catch (e) {
    destroyAwsClients(clients);
    await emulators.stop();
    throw e;
  }
}

/** The dev key of the last run when it still works, else a new one (shown in local-stack.json). */
async function devKey(keys: ApiKeyStore, dataDir: string): Promise<string> {
  const previous = await readFile(stackFile(dataDir), "utf8").then(
    (t) => (JSON.parse(t) as Partial<LocalStackInfo>).apiKey,
    () => undefined,
  );
  if (previous && (await keys.verify(previous))) return previous;
  const { key } = await keys.create({ name: "local-dev", monthlyImages: 10_000, ratePerMinute: 600 });
  return key;
}
