import { GetCommand, ScanCommand, type DynamoDBDocumentClient, type UpdateCommandInput } from "@aws-sdk/lib-dynamodb";
import type { GenerationSpec, JobStatus } from "../contracts/generation.ts";
import { conditionalUpdate } from "./conditional.ts";
import type { JobRecord } from "./jobs.ts";

/**
 * Webhook deliveries (DESIGN §2): the outbox lives on the job record itself, as `webhook`, so the
 * terminal transition writes it in the same conditional write and no crash can separate the two.
 * The record is the source of truth for timing and attempts; a queue message only wakes a sender.
 */
export type DeliveryState = "pending" | "delivered" | "failed";

/** One attempt, as `GET /v1/generations/{id}/deliveries` lists it. */
export interface DeliveryAttempt {
  at: string;
  /** 1-based within its round. */
  attempt: number;
  /** 0 for the original delivery, n for the n-th redelivery. */
  redelivery: number;
  /** The receiver's HTTP status; null when no response came (refused, timeout, DNS). */
  status: number | null;
  durationMs: number;
  error: string | null;
}

export interface WebhookOutbox {
  /** The terminal status being announced. */
  event: JobStatus;
  state: DeliveryState;
  /** Bumped by each redelivery; attempts count from 0 again. */
  round: number;
  /** Attempts made in this round. */
  attempt: number;
  /** Epoch ms when the next attempt is due (meaningful while pending). */
  nextAttemptAt: number;
  /** Epoch ms until which one sender owns the attempt in flight. */
  sendingUntil?: number;
  log: DeliveryAttempt[];
}

/** The outbox a terminal transition records, or undefined when the job has no webhook. */
export function newOutbox(spec: Pick<GenerationSpec, "webhookUrl">, event: JobStatus, now = Date.now()): WebhookOutbox | undefined {
  if (!spec.webhookUrl) return undefined;
  return { event, state: "pending", round: 0, attempt: 0, nextAttemptAt: now, log: [] };
}

/** The attempt a sender is making: it holds only while the outbox is still at this round and count. */
export interface AttemptRef {
  round: number;
  attempt: number;
}

export interface AttemptResult {
  entry: DeliveryAttempt;
  state: DeliveryState;
  nextAttemptAt: number;
}

/** Redelivery refused: the job is not finished or has no webhookUrl. */
export type RedeliverRefusal = "not_finished" | "no_webhook";

// DynamoDB refuses unused names, hence two sets.
const W = { "#w": "webhook", "#state": "state", "#round": "round" };
const W_LOG = { ...W, "#log": "log" };

export class DeliveryStore {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /** Takes the attempt for `leaseMs`: null when another sender holds it or the outbox moved on. */
  async claim(tenantId: string, id: string, ref: AttemptRef, now: number, leaseMs: number): Promise<JobRecord | null> {
    return this.update(tenantId, id, {
      UpdateExpression: "SET #w.sendingUntil = :until",
      ConditionExpression: "#w.#round = :r AND #w.attempt = :a AND #w.#state = :pending AND (attribute_not_exists(#w.sendingUntil) OR #w.sendingUntil < :now)",
      ExpressionAttributeNames: W,
      ExpressionAttributeValues: { ":until": now + leaseMs, ":r": ref.round, ":a": ref.attempt, ":pending": "pending", ":now": now },
    });
  }

  /** Logs a claimed attempt and its outcome; null when a redelivery replaced the round meanwhile. */
  async record(tenantId: string, id: string, ref: AttemptRef, result: AttemptResult): Promise<JobRecord | null> {
    return this.update(tenantId, id, {
      UpdateExpression: "SET #w.attempt = :next, #w.#state = :state, #w.nextAttemptAt = :at, #w.#log = list_append(#w.#log, :entry) REMOVE #w.sendingUntil",
      ConditionExpression: "#w.#round = :r AND #w.attempt = :a",
      ExpressionAttributeNames: W_LOG,
      ExpressionAttributeValues: { ":next": ref.attempt + 1, ":state": result.state, ":at": result.nextAttemptAt, ":entry": [result.entry], ":r": ref.round, ":a": ref.attempt },
    });
  }

  /**
   * Sends the job's terminal event again, now: a new round (its attempts count from 1, its log
   * entries carry `redelivery`), which also supersedes a round still being retried.
   * Returns the updated record, or why it was refused; null when there is no such job.
   */
  async redeliver(job: JobRecord, now: number): Promise<JobRecord | RedeliverRefusal> {
    if (job.status !== "succeeded" && job.status !== "failed" && job.status !== "canceled") return "not_finished";
    if (!job.spec.webhookUrl) return "no_webhook";
    const w = job.webhook;
    const updated = w
      ? await this.update(job.tenantId, job.id, {
          UpdateExpression: "SET #w.#round = :next, #w.attempt = :zero, #w.#state = :pending, #w.nextAttemptAt = :now REMOVE #w.sendingUntil",
          ConditionExpression: "#w.#round = :r",
          ExpressionAttributeNames: W,
          ExpressionAttributeValues: { ":next": w.round + 1, ":zero": 0, ":pending": "pending", ":now": now, ":r": w.round },
        })
      : // Finished before outboxes existed (or its outbox write was lost): start one for its status.
        await this.update(job.tenantId, job.id, {
          UpdateExpression: "SET #w = :outbox",
          ConditionExpression: "attribute_not_exists(#w) AND #status = :status",
          ExpressionAttributeNames: { "#w": "webhook", "#status": "status" },
          ExpressionAttributeValues: { ":outbox": newOutbox(job.spec, job.status, now), ":status": job.status },
        });
    if (updated) return updated;
    // Lost the race with another redelivery, which queued the event again: report its round.
    const out = await this.ddb.send(new GetCommand({ TableName: this.table, Key: { tenantId: job.tenantId, id: job.id }, ConsistentRead: true }));
    return (out.Item as JobRecord | undefined) ?? job;
  }

  /** Pending deliveries due before `dueBefore` (a Scan: for the sweeper and the local stack's restart). */
  async scanPending(dueBefore: number): Promise<{ tenantId: string; id: string }[]> {
    const found: { tenantId: string; id: string }[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.ddb.send(
        new ScanCommand({
          TableName: this.table,
          FilterExpression: "begins_with(id, :p) AND #w.#state = :pending AND #w.nextAttemptAt < :due AND attribute_not_exists(deletedAt)",
          ProjectionExpression: "tenantId, id",
          ExpressionAttributeNames: { "#w": "webhook", "#state": "state" },
          ExpressionAttributeValues: { ":p": "gen_", ":pending": "pending", ":due": dueBefore },
          ExclusiveStartKey: start,
          ConsistentRead: true,
        }),
      );
      found.push(...((out.Items ?? []) as { tenantId: string; id: string }[]));
      start = out.LastEvaluatedKey;
    } while (start);
    return found;
  }

  private update(tenantId: string, id: string, update: Omit<UpdateCommandInput, "TableName" | "Key">): Promise<JobRecord | null> {
    return conditionalUpdate<JobRecord>(this.ddb, this.table, { tenantId, id }, update);
  }

}
