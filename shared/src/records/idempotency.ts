import { createHash } from "node:crypto";
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { isConditionFailed } from "./conditional.ts";

export interface IdempotencyRecord {
  tenantId: string;
  id: string;
  requestHash: string;
  jobId: string;
  createdAt: string;
  expiresAt: number;
}

/** Keys are remembered for 24 h, like most hosted APIs. */
const TTL_SECONDS = 24 * 3600;

export const hashRequest = (body: unknown) => createHash("sha256").update(JSON.stringify(body)).digest("hex");

/**
 * Claims an Idempotency-Key for a job id with one conditional put. The first claim wins; later
 * claims get the winner's record back so the caller can return the same job or refuse a different body.
 */
export class IdempotencyStore {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async claim(tenantId: string, key: string, requestHash: string, jobId: string): Promise<{ won: true } | { won: false; existing: IdempotencyRecord }> {
    const id = `idem#${createHash("sha256").update(key).digest("hex")}`;
    const now = Date.now();
    const record: IdempotencyRecord = { tenantId, id, requestHash, jobId, createdAt: new Date(now).toISOString(), expiresAt: Math.floor(now / 1000) + TTL_SECONDS };
    try {
      await this.ddb.send(new PutCommand({ TableName: this.table, Item: record, ConditionExpression: "attribute_not_exists(id)" }));
      return { won: true };
    } catch (e) {
      if (!isConditionFailed(e)) throw e;
    }
    const out = await this.ddb.send(new GetCommand({ TableName: this.table, Key: { tenantId, id }, ConsistentRead: true }));
    const existing = out.Item as IdempotencyRecord | undefined;
    // dynalite has no TTL: an expired claim is treated as absent by overwriting it conditionally.
    if (!existing || existing.expiresAt < now / 1000) {
      await this.ddb.send(
        new PutCommand({
          TableName: this.table,
          Item: record,
          ConditionExpression: "attribute_not_exists(id) OR expiresAt < :now",
          ExpressionAttributeValues: { ":now": Math.floor(now / 1000) },
        }),
      );
      return { won: true };
    }
    return { won: false, existing };
  }
}
