import { createHash } from "node:crypto";
import { DeleteCommand, GetCommand, PutCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { isConditionFailed } from "./conditional.ts";

export interface IdempotencyRecord {
  tenantId: string;
  id: string;
  requestHash: string;
  jobId: string;
  /** The usage period when the key was claimed (a takeover of a crashed request reserves its own quota). */
  quotaPeriod: string;
  createdAt: string;
  expiresAt: number;
}

/** Keys are remembered for 24 h, like most hosted APIs. */
const TTL_SECONDS = 24 * 3600;

/** JSON with every object's keys sorted: the same request hashes the same whatever order its fields came in. */
const canonicalJson = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );

export const hashRequest = (body: unknown) => createHash("sha256").update(canonicalJson(body)).digest("hex");

const recordId = (key: string) => `idem#${createHash("sha256").update(key).digest("hex")}`;

export type ClaimResult = { won: true } | { won: false; existing: IdempotencyRecord };

/**
 * Claims an Idempotency-Key for a job id with one conditional put. The first claim wins; later
 * claims get the winner's record back so the caller can return the same job or refuse a different body.
 */
export class IdempotencyStore {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /** The live claim for a key, if any (dynalite has no TTL: an expired one reads as absent). */
  async get(tenantId: string, key: string, now = Date.now()): Promise<IdempotencyRecord | null> {
    const out = await this.ddb.send(new GetCommand({ TableName: this.table, Key: { tenantId, id: recordId(key) }, ConsistentRead: true }));
    const record = out.Item as IdempotencyRecord | undefined;
    return record && record.expiresAt >= now / 1000 ? record : null;
  }

  async claim(tenantId: string, key: string, requestHash: string, jobId: string, quotaPeriod: string, now = Date.now()): Promise<ClaimResult> {
    const record: IdempotencyRecord = {
      tenantId,
      id: recordId(key),
      requestHash,
      jobId,
      quotaPeriod,
      createdAt: new Date(now).toISOString(),
      expiresAt: Math.floor(now / 1000) + TTL_SECONDS,
    };
    try {
      // An expired claim counts as absent, so it is overwritten conditionally.
      await this.ddb.send(
        new PutCommand({
          TableName: this.table,
          Item: record,
          ConditionExpression: "attribute_not_exists(id) OR expiresAt < :now",
          ExpressionAttributeValues: { ":now": Math.floor(now / 1000) },
        }),
      );
      return { won: true };
    } catch (e) {
      if (!isConditionFailed(e)) throw e;
    }
    const existing = await this.get(tenantId, key, now);
    if (!existing) throw new Error("Idempotency claim lost to a record that then vanished; retry the request.");
    return { won: false, existing };
  }

  /** Drops our own claim (its request failed before creating the job), so a retry starts afresh. */
  async forget(tenantId: string, key: string, jobId: string): Promise<void> {
    try {
      await this.ddb.send(
        new DeleteCommand({ TableName: this.table, Key: { tenantId, id: recordId(key) }, ConditionExpression: "jobId = :jobId", ExpressionAttributeValues: { ":jobId": jobId } }),
      );
    } catch (e) {
      if (!isConditionFailed(e)) throw e;
    }
  }
}
