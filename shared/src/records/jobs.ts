import { GetCommand, PutCommand, QueryCommand, ScanCommand, UpdateCommand, type DynamoDBDocumentClient, type UpdateCommandInput } from "@aws-sdk/lib-dynamodb";
import type { GenerationSpec, JobStatus } from "../contracts/generation.ts";
import type { SafetyPolicy } from "../contracts/safety.ts";
import { AppError } from "../errors.ts";
import { conditionalUpdate, isConditionFailed } from "./conditional.ts";
import type { WebhookOutbox } from "./deliveries.ts";

export interface JobRecord {
  tenantId: string;
  id: string;
  status: JobStatus;
  spec: GenerationSpec;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  progress: { step: number; totalSteps: number };
  /**
   * `safety`: the checker's verdict (absent: not checked, policy off). `withheld`: policy block kept the flagged
   * image out of storage; `key` is then where it would have been, and nothing is there.
   */
  outputs?: { key: string; width: number; height: number; safety?: { flagged: boolean }; withheld?: "safety" }[];
  attentionMaps?: { subject: number; key: string }[];
  error?: { code: string; message: string };
  metrics?: { queueMs: number; inferenceMs: number; gpuSeconds: number };
  cancelRequested?: boolean;
  /** Set once the queue message is sent; a queued job without it is re-dispatched by the sweeper. */
  dispatchedAt?: string;
  /** The usage period whose quota this job reserved, so a give-back goes to the right month. */
  quotaPeriod: string;
  /** How many runs have claimed it. */
  attempts?: number;
  /** Epoch ms until which the runner that claimed it owns it (renewed by its heartbeat). */
  leaseUntil?: number;
  /** Set once a failed or canceled job's reservation went back, so it goes back once. */
  quotaReleased?: boolean;
  /** Epoch ms when a sender began sending the message (dispatch lease, see dispatchJob). */
  dispatchingAt?: number;
  /** Webhook outbox: written by the terminal transition itself, then driven by the sender (records/deliveries.ts). */
  webhook?: WebhookOutbox;
  /** The key's safety policy when the job was submitted: the runner judges the job by it. Absent (older jobs): `block`. */
  safetyPolicy?: SafetyPolicy;
  /** Set by DELETE: the record is then a tombstone (prompt, inputs and output keys scrubbed) and reads 404. */
  deletedAt?: string;
}

export type JobPatch = Partial<Omit<JobRecord, "tenantId" | "id" | "status" | "spec" | "createdAt">>;

export interface JobPage {
  items: JobRecord[];
  nextCursor: string | null;
}

/** Queries one list page may take to skip deleted jobs. */
const MAX_LIST_ROUNDS = 5;

export class JobStore {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /** Returns false when the id is taken. */
  async create(record: JobRecord): Promise<boolean> {
    try {
      await this.ddb.send(new PutCommand({ TableName: this.table, Item: record, ConditionExpression: "attribute_not_exists(id)" }));
      return true;
    } catch (e) {
      if (isConditionFailed(e)) return false;
      throw e;
    }
  }

  /** The job, or null when there is none or it was deleted (a tombstone reads as absent everywhere). */
  async get(tenantId: string, id: string): Promise<JobRecord | null> {
    const record = await this.getWithTombstone(tenantId, id);
    return record && !record.deletedAt ? record : null;
  }

  /** The record even when it is a deleted job's tombstone (deletion's own retry needs it). */
  async getWithTombstone(tenantId: string, id: string): Promise<JobRecord | null> {
    if (!id.startsWith("gen_")) return null;
    const out = await this.ddb.send(new GetCommand({ TableName: this.table, Key: { tenantId, id }, ConsistentRead: true }));
    return (out.Item as JobRecord | undefined) ?? null;
  }

  /** Newest first; the cursor is opaque to callers. */
  async list(tenantId: string, limit: number, cursor?: string): Promise<JobPage> {
    const items: JobRecord[] = [];
    let start = cursor ? decodeCursor(cursor) : undefined;
    // Tombstones are filtered after DynamoDB's Limit, so a page is topped up with further queries
    // (bounded: a run of many deleted jobs yields a short page whose cursor still advances).
    for (let round = 0; round < MAX_LIST_ROUNDS; round++) {
      const out = await this.ddb.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: "tenantId = :t AND begins_with(id, :p)",
          ExpressionAttributeValues: { ":t": tenantId, ":p": "gen_" },
          FilterExpression: "attribute_not_exists(deletedAt)",
          ScanIndexForward: false,
          Limit: limit - items.length,
          ExclusiveStartKey: start ? { tenantId, id: start } : undefined,
        }),
      );
      items.push(...((out.Items ?? []) as JobRecord[]));
      start = out.LastEvaluatedKey?.id as string | undefined;
      if (!start || items.length >= limit) break;
    }
    return { items, nextCursor: start ? encodeCursor(start) : null };
  }

  /**
   * The one way a status changes: a conditional write on the current status, so a duplicate
   * delivery, a late cancel or a crashed runner can never move a job backwards or finish it twice.
   * Returns the new record, or null when the job was not in one of `from`.
   */
  async transition(tenantId: string, id: string, from: readonly JobStatus[], to: JobStatus, patch: JobPatch = {}): Promise<JobRecord | null> {
    const names: Record<string, string> = { "#status": "status" };
    const values: Record<string, unknown> = { ":to": to };
    const sets = ["#status = :to"];
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined) continue;
      names[`#${k}`] = k;
      values[`:${k}`] = v;
      sets.push(`#${k} = :${k}`);
    }
    const fromKeys = from.map((s, i) => {
      values[`:from${i}`] = s;
      return `:from${i}`;
    });
    return this.conditional(tenantId, id, {
      UpdateExpression: `SET ${sets.join(", ")}`,
      ConditionExpression: `#status IN (${fromKeys.join(", ")})`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    });
  }

  /** Sets fields without a status change, only while the job is in `status`. Returns the new record or null. */
  async patchIf(tenantId: string, id: string, status: JobStatus, patch: JobPatch): Promise<JobRecord | null> {
    return this.transition(tenantId, id, [status], status, patch);
  }

  /**
   * A runner claims the job: `queued → running`, or takes over a `running` job whose runner's lease
   * has lapsed (it crashed). A live lease refuses: a duplicate message never starts a second run.
   */
  async claim(tenantId: string, id: string, now: number, leaseMs: number): Promise<JobRecord | null> {
    return this.conditional(tenantId, id, {
      UpdateExpression: "SET #status = :running, leaseUntil = :lease, startedAt = if_not_exists(startedAt, :iso), attempts = if_not_exists(attempts, :zero) + :one",
      ConditionExpression: "#status = :queued OR (#status = :running AND (attribute_not_exists(leaseUntil) OR leaseUntil < :now))",
      ExpressionAttributeNames: { "#status": "status" },
      ExpressionAttributeValues: { ":running": "running", ":queued": "queued", ":lease": now + leaseMs, ":iso": new Date(now).toISOString(), ":zero": 0, ":one": 1, ":now": now },
    });
  }

  /** Wins the right to send the job's message: false once it is dispatched or while another sender's lease is fresh. */
  async beginDispatch(tenantId: string, id: string, now: number, staleMs: number): Promise<boolean> {
    const won = await this.conditional(tenantId, id, {
      UpdateExpression: "SET dispatchingAt = :now",
      ConditionExpression: "attribute_exists(id) AND attribute_not_exists(dispatchedAt) AND (attribute_not_exists(dispatchingAt) OR dispatchingAt < :stale)",
      ExpressionAttributeValues: { ":now": now, ":stale": now - staleMs },
    });
    return won !== null;
  }

  /** Frees our dispatch lease after a failed send, so the next sender need not wait it out. */
  async abandonDispatch(tenantId: string, id: string, startedAt: number): Promise<void> {
    await this.conditional(tenantId, id, {
      UpdateExpression: "REMOVE dispatchingAt",
      ConditionExpression: "dispatchingAt = :mine",
      ExpressionAttributeValues: { ":mine": startedAt },
    });
  }

  /**
   * DELETE's one write: scrubs the prompt, inputs and output keys and marks the record a tombstone,
   * conditional on the status just read. A queued or running job ends `canceled` in the same write, so
   * the runner's own final transition (conditional on `running`) loses and it stores nothing. What usage
   * and billing need stays: status, times, numImages, metrics, quotaPeriod. Null when the job moved.
   */
  async erase(job: JobRecord, now: number): Promise<JobRecord | null> {
    const seen = job.status;
    const live = seen === "queued" || seen === "running";
    const iso = new Date(now).toISOString();
    return this.conditional(job.tenantId, job.id, {
      UpdateExpression: `SET deletedAt = :iso, spec = :spec, #status = :to${live ? ", finishedAt = :iso, cancelRequested = :true" : ""} REMOVE outputs, attentionMaps`,
      ConditionExpression: "#status = :seen AND attribute_not_exists(deletedAt)",
      ExpressionAttributeNames: { "#status": "status" },
      ExpressionAttributeValues: {
        ":iso": iso,
        ":seen": seen,
        ":to": live ? "canceled" : seen,
        ":spec": scrubSpec(job.spec),
        ...(live ? { ":true": true } : {}),
      },
    });
  }

  /** True exactly once per failed or canceled job: the caller then gives its reservation back. */
  async markQuotaReleased(tenantId: string, id: string): Promise<boolean> {
    const won = await this.conditional(tenantId, id, {
      UpdateExpression: "SET quotaReleased = :true",
      ConditionExpression: "attribute_not_exists(quotaReleased) AND #status IN (:failed, :canceled)",
      ExpressionAttributeNames: { "#status": "status" },
      ExpressionAttributeValues: { ":true": true, ":failed": "failed", ":canceled": "canceled" },
    });
    return won !== null;
  }

  private conditional(tenantId: string, id: string, update: Omit<UpdateCommandInput, "TableName" | "Key">): Promise<JobRecord | null> {
    return conditionalUpdate<JobRecord>(this.ddb, this.table, { tenantId, id }, update);
  }


  async markDispatched(tenantId: string, id: string): Promise<void> {
    await this.ddb.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { tenantId, id },
        UpdateExpression: "SET dispatchedAt = if_not_exists(dispatchedAt, :now)",
        ConditionExpression: "attribute_exists(id)",
        ExpressionAttributeValues: { ":now": new Date().toISOString() },
      }),
    );
  }

  /** Jobs in the given statuses across tenants (a Scan: for the local-stack restart and the dispatch sweeper). */
  async scanByStatus(statuses: readonly JobStatus[]): Promise<JobRecord[]> {
    const values: Record<string, string> = { ":p": "gen_" };
    const keys = statuses.map((s, i) => ((values[`:s${i}`] = s), `:s${i}`));
    const items: JobRecord[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.ddb.send(
        new ScanCommand({
          TableName: this.table,
          FilterExpression: `begins_with(id, :p) AND #status IN (${keys.join(", ")})`,
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: values,
          ExclusiveStartKey: start,
          ConsistentRead: true,
        }),
      );
      items.push(...((out.Items ?? []) as JobRecord[]));
      start = out.LastEvaluatedKey;
    } while (start);
    return items;
  }
}

/** A deleted job's spec: the numbers usage and billing read (numImages, steps, size) without the prompt, subjects or webhook. */
export function scrubSpec(spec: GenerationSpec): GenerationSpec {
  const { webhookUrl: _webhook, ...rest } = spec;
  return { ...rest, prompt: "", negativePrompt: "", subjects: [] };
}

const encodeCursor = (id: string) => Buffer.from(id, "utf8").toString("base64url");
function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, "base64url").toString("utf8");
  if (!/^gen_[0-9a-z]+$/.test(id)) throw new AppError("invalid_request", "The cursor is not one this API returned; pass nextCursor unchanged.");
  return id;
}
