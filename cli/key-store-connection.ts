import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { createAwsClients, destroyAwsClients } from "@troupe/shared/aws/clients";
import { ApiConfigSchema, loadConfig, type ApiConfig } from "@troupe/shared/config";
import { ApiKeyStore } from "@troupe/shared/records/api-keys";
import { ensureTables, tableDefinitions, tableNames } from "@troupe/shared/records/tables";

export interface KeyStoreConnection {
  config: ApiConfig;
  keys: ApiKeyStore;
  /** Where the keys live, for messages. */
  where: string;
  close(): Promise<void>;
}

interface LocalStackFile {
  endpoints?: { dynamodb?: string };
}

/** True when something answers DynamoDB calls at `endpoint` (the local stack is running). */
async function answers(endpoint: string): Promise<boolean> {
  const client = new DynamoDBClient({ endpoint, region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" }, maxAttempts: 1 });
  try {
    await client.send(new ListTablesCommand({ Limit: 1 }), { abortSignal: AbortSignal.timeout(2000) });
    return true;
  } catch {
    return false;
  } finally {
    client.destroy();
  }
}

async function ensureKeysTable(config: ApiConfig, endpoint: string): Promise<void> {
  const client = new DynamoDBClient({ endpoint, region: config.AWS_REGION, credentials: { accessKeyId: "x", secretAccessKey: "x" } });
  try {
    await ensureTables(DynamoDBDocumentClient.from(client), tableDefinitions(tableNames(config)).filter((d) => d.TableName === config.TROUPE_KEYS_TABLE));
  } finally {
    client.destroy();
  }
}

/**
 * Config from the environment. Without TROUPE_DYNAMODB_ENDPOINT but with a local stack under
 * `.data/` the keys go to the local stack: its running dynalite when it answers, else a dynalite of
 * our own on `.data/dynamodb` for the length of the command. Otherwise: AWS, as configured.
 */
export async function connectKeyStore(env: Record<string, string | undefined>, cwd: string): Promise<KeyStoreConnection> {
  const dataDir = join(cwd, ".data");
  const stackFile = join(dataDir, "local-stack.json");
  let config = loadConfig(ApiConfigSchema, env);
  let stop = async () => {};
  let where = config.TROUPE_DYNAMODB_ENDPOINT ?? `DynamoDB (${config.AWS_REGION})`;

  if (!config.TROUPE_DYNAMODB_ENDPOINT && (existsSync(stackFile) || existsSync(join(dataDir, "dynamodb")))) {
    const running = existsSync(stackFile) ? (JSON.parse(readFileSync(stackFile, "utf8")) as LocalStackFile).endpoints?.dynamodb : undefined;
    let endpoint: string;
    if (running && (await answers(running))) {
      endpoint = running;
      where = `the running local stack (${endpoint})`;
    } else {
      // Imported only here: dynalite is a dev dependency of the local stack, not of a deployed API.
      const { startDynalite } = await import("../local/dynalite-only.ts");
      const own = await startDynalite({ dataDir: join(dataDir, "dynamodb") });
      endpoint = own.endpoint;
      stop = own.stop;
      where = `the local stack's data in ${join(dataDir, "dynamodb")}`;
    }
    config = loadConfig(ApiConfigSchema, { ...env, TROUPE_DYNAMODB_ENDPOINT: endpoint });
    await ensureKeysTable(config, endpoint);
  }

  const clients = createAwsClients(config);
  return {
    config,
    keys: new ApiKeyStore(clients.ddb, config.TROUPE_KEYS_TABLE),
    where,
    async close() {
      destroyAwsClients(clients);
      await stop();
    },
  };
}
