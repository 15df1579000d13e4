import { createAwsClients, destroyAwsClients, type AwsClients } from "@troupe/shared/aws/clients";
import { ResourceConfigSchema, loadConfig, type ResourceConfig } from "@troupe/shared/config";
import { startEmulators, type Emulators } from "./emulators.ts";
import { provision, type ProvisionOptions } from "./provision.ts";

export interface TestEnv {
  emulators: Emulators;
  clients: AwsClients;
  config: ResourceConfig;
  /** The environment variables that point a process (API, runner, CLI) at these emulators. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * Fresh in-memory emulators on free loopback ports, provisioned: one per test file,
 * so suites never share state. Real SDK clients over HTTP, no mocks.
 */
export async function startTestEnv(options: ProvisionOptions & { bundle?: string } = {}): Promise<TestEnv> {
  const emulators = await startEmulators();
  const base: Record<string, string> = {
    AWS_REGION: "us-east-1",
    TROUPE_BUCKET: "troupe-test",
    TROUPE_S3_ENDPOINT: emulators.endpoints.s3,
    TROUPE_SQS_ENDPOINT: emulators.endpoints.sqs,
    TROUPE_DYNAMODB_ENDPOINT: emulators.endpoints.dynamodb,
    TROUPE_LOCAL_MODE: "true",
    ...(options.bundle ? { TROUPE_BUNDLE: options.bundle } : {}),
  };
  const clients = createAwsClients(loadConfig(ResourceConfigSchema, base));
  const { queueUrl, dlqUrl } = await provision(clients, loadConfig(ResourceConfigSchema, base), options);
  const env = { ...base, TROUPE_QUEUE_URL: queueUrl, TROUPE_DLQ_URL: dlqUrl };
  return {
    emulators,
    clients,
    config: loadConfig(ResourceConfigSchema, env),
    env,
    async stop() {
      destroyAwsClients(clients);
      await emulators.stop();
    },
  };
}
