import { PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { isConditionFailed } from "./conditional.ts";

/** Calendar month in UTC, e.g. "2026-11": the quota period. */
export const usagePeriod = (at = new Date()) => at.toISOString().slice(0, 7);

/** Of a job's (or a period's) images, how many the safety checker flagged, and how many of those policy block withheld. */
export interface SafetyCounts {
  flagged: number;
  withheld: number;
}

export interface UsageSummary {
  period: string;
  images: { used: number; reserved: number; limit: number };
  /** Images of succeeded jobs the safety checker flagged / withheld: counted in `images.used` too (see `record`). */
  safety: SafetyCounts;
  gpuSeconds: { used: number };
  jobs: { submitted: number; succeeded: number; failed: number; canceled: number };
}

type JobCounter = "succeeded" | "failed" | "canceled";

/**
 * One partition per tenant and month: `quota` (reserved images and job counters),
 * `job#<id>` (one usage line per succeeded job, written once), `rate#<minute>` (request counts).
 * Single-item conditional writes only (dynalite has no transactions).
 */
export class UsageStore {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /** Reserves `images` against `limit` atomically; false when that would exceed it. */
  async reserve(tenantId: string, period: string, images: number, limit: number): Promise<boolean> {
    if (images > limit) return false;
    try {
      await this.ddb.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: `${tenantId}#${period}`, sk: "quota" },
          UpdateExpression: "ADD reserved :n, submitted :one",
          ConditionExpression: "attribute_not_exists(reserved) OR reserved <= :max",
          ExpressionAttributeValues: { ":n": images, ":one": 1, ":max": limit - images },
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailed(e)) return false;
      throw e;
    }
  }

  /** Undoes a reservation whose job was never created (the request failed or lost a race): no outcome counted. */
  async unreserve(tenantId: string, period: string, images: number): Promise<void> {
    await this.ddb.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: `${tenantId}#${period}`, sk: "quota" },
        UpdateExpression: "ADD reserved :n, submitted :minusOne",
        ExpressionAttributeValues: { ":n": -images, ":minusOne": -1 },
      }),
    );
  }

  /** Gives back a reservation (failed or canceled job); counts the outcome. */
  async release(tenantId: string, period: string, images: number, outcome: JobCounter): Promise<void> {
    await this.ddb.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: `${tenantId}#${period}`, sk: "quota" },
        UpdateExpression: "ADD reserved :n, #outcome :one",
        ExpressionAttributeNames: { "#outcome": outcome },
        ExpressionAttributeValues: { ":n": -images, ":one": 1 },
      }),
    );
  }

  /** Records a succeeded job's usage exactly once: a second call for the same job is a no-op. */
  /**
   * `images` counts every image the job generated, withheld or flagged by the safety checker included: the
   * GPU work was done and the quota spent (DESIGN §2). `safety` says how many of them were flagged / withheld.
   */
  async record(tenantId: string, period: string, jobId: string, images: number, gpuSeconds: number, safety: SafetyCounts = { flagged: 0, withheld: 0 }): Promise<boolean> {
    try {
      await this.ddb.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: `${tenantId}#${period}`, sk: `job#${jobId}`, images, gpuSeconds, flagged: safety.flagged, withheld: safety.withheld, recordedAt: new Date().toISOString() },
          ConditionExpression: "attribute_not_exists(sk)",
        }),
      );
    } catch (e) {
      if (isConditionFailed(e)) return false;
      throw e;
    }
    await this.ddb.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: `${tenantId}#${period}`, sk: "quota" },
        UpdateExpression: "ADD succeeded :one",
        ExpressionAttributeValues: { ":one": 1 },
      }),
    );
    return true;
  }

  async summary(tenantId: string, period: string, limit: number): Promise<UsageSummary> {
    const summary: UsageSummary = {
      period,
      images: { used: 0, reserved: 0, limit },
      safety: { flagged: 0, withheld: 0 },
      gpuSeconds: { used: 0 },
      jobs: { submitted: 0, succeeded: 0, failed: 0, canceled: 0 },
    };
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.ddb.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: "pk = :pk",
          ExpressionAttributeValues: { ":pk": `${tenantId}#${period}` },
          ExclusiveStartKey: start,
          ConsistentRead: true,
        }),
      );
      for (const item of out.Items ?? []) {
        if (item.sk === "quota") {
          summary.images.reserved = item.reserved ?? 0;
          for (const k of ["submitted", "succeeded", "failed", "canceled"] as const) summary.jobs[k] = item[k] ?? 0;
        } else if (String(item.sk).startsWith("job#")) {
          summary.images.used += item.images;
          summary.safety.flagged += item.flagged ?? 0; // lines written before the safety checker have none
          summary.safety.withheld += item.withheld ?? 0;
          summary.gpuSeconds.used += item.gpuSeconds;
        }
      }
      start = out.LastEvaluatedKey;
    } while (start);
    summary.gpuSeconds.used = Math.round(summary.gpuSeconds.used * 1000) / 1000;
    return summary;
  }

  /**
   * Adds `hits` requests already admitted by one API instance to the key's shared counter for
   * `minute` (epoch minutes) and returns the counter's new total, every instance's hits included.
   * Unconditional: the instances decide admission themselves (functions' batched rate limiter).
   */
  async addHits(tenantId: string, minute: number, hits: number): Promise<number> {
    const out = await this.ddb.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: `${tenantId}#rate`, sk: `rate#${minute}` },
        UpdateExpression: "ADD hits :n SET expiresAt = :exp",
        ExpressionAttributeValues: { ":n": hits, ":exp": (minute + 2) * 60 },
        ReturnValues: "UPDATED_NEW",
      }),
    );
    return Number(out.Attributes?.hits ?? hits);
  }

  /**
   * Fixed one-minute window per key, shared by every API instance through one conditional counter.
   * Returns 0 when admitted, else the seconds until the window resets.
   */
  async hit(tenantId: string, limitPerMinute: number, now = Date.now()): Promise<number> {
    const minute = Math.floor(now / 60_000);
    try {
      await this.ddb.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: `${tenantId}#rate`, sk: `rate#${minute}` },
          UpdateExpression: "ADD hits :one SET expiresAt = :exp",
          ConditionExpression: "attribute_not_exists(hits) OR hits < :limit",
          ExpressionAttributeValues: { ":one": 1, ":limit": limitPerMinute, ":exp": (minute + 2) * 60 },
        }),
      );
      return 0;
    } catch (e) {
      if (isConditionFailed(e)) return Math.max(1, Math.ceil(((minute + 1) * 60_000 - now) / 1000));
      throw e;
    }
  }
}
