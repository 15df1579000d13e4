import { CreateTableCommand, DescribeTableCommand, type CreateTableCommandInput } from "@aws-sdk/client-dynamodb";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { ResourceConfig } from "../config.ts";

/** Table names by role, from config. */
export interface TableNames {
  keys: string;
  jobs: string;
  usage: string;
}

export const tableNames = (config: ResourceConfig): TableNames => ({
  keys: config.TROUPE_KEYS_TABLE,
  jobs: config.TROUPE_JOBS_TABLE,
  usage: config.TROUPE_USAGE_TABLE,
});

/**
 * Key schemas, the same ones infra/ deploys:
 * keys (keyId) · jobs (tenantId, id: gen_… | upl_… | idem#…) · usage (pk: tenant#period, sk: quota | job#… | rate#…).
 */
export function tableDefinitions(names: TableNames): CreateTableCommandInput[] {
  const table = (TableName: string, hash: string, range?: string): CreateTableCommandInput => ({
    TableName,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: [{ AttributeName: hash, AttributeType: "S" }, ...(range ? [{ AttributeName: range, AttributeType: "S" as const }] : [])],
    KeySchema: [{ AttributeName: hash, KeyType: "HASH" }, ...(range ? [{ AttributeName: range, KeyType: "RANGE" as const }] : [])],
  });
  return [table(names.keys, "keyId"), table(names.jobs, "tenantId", "id"), table(names.usage, "pk", "sk")];
}

/** Creates each table that does not exist yet (the local stack and the keys CLI; AWS gets them from infra/). */
export async function ensureTables(ddb: DynamoDBDocumentClient, definitions: CreateTableCommandInput[]): Promise<void> {
  for (const def of definitions) {
    await ddb.send(new DescribeTableCommand({ TableName: def.TableName })).catch(() => ddb.send(new CreateTableCommand(def)));
  }
}
