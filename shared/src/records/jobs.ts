import { GetCommand, PutCommand, QueryCommand, ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { GenerationSpec, JobStatus } from "../contracts/generation.ts";
import { AppError } from "../errors.ts";
import { isConditionFailed } from "./conditional.ts";

export interface JobRecord {
  tenantId: string;
  id: string;
  status: JobStatus;
  spec: GenerationSpec;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  progress: { step: number; totalSteps: number };
  outputs?: { key: string; width: number; height: number }[];
  attentionMaps?: { subject: number; key: string }[];
  error?: { code: string; message: string };
  metrics?: { queueMs: number; inferenceMs: number; gpuSeconds: number };
  cancelRequested?: boolean;
  /** Set once the queue message is sent; a queued job without it is re-dispatched by the sweeper. */
  dispatchedAt?: string;
  /** The usage period whose quota this job reserved, so a give-back goes to the right month. */
  quotaPeriod: string;
  /** Who runs it now; a redelivered message takes over a `running` job. */
  attempts?: number;
}

export type JobPatch = Partial<Omit<JobRecord, "tenantId" | "id" | "status" | "spec" | "createdAt">>;

export interface JobPage {
  items: JobRecord[];
  nextCursor: string | null;
}

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

  async get(tenantId: string, id: string): Promise<JobRecord | null> {
    if (!id.startsWith("gen_")) return null;
    const out = await this.ddb.send(new GetCommand({ TableName: this.table, Key: { tenantId, id }, ConsistentRead: true }));
    return (out.Item as JobRecord | undefined) ?? null;
  }

  /** Newest first; the cursor is opaque to callers. */
  async list(tenantId: string, limit: number, cursor?: string): Promise<JobPage> {
    const start = cursor ? decodeCursor(cursor) : undefined;
    const out = await this.ddb.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: "tenantId = :t AND begins_with(id, :p)",
        ExpressionAttributeValues: { ":t": tenantId, ":p": "gen_" },
        ScanIndexForward: false,
        Limit: limit,
        ExclusiveStartKey: start ? { tenantId, id: start } : undefined,
      }),
    );
    const last = out.LastEvaluatedKey?.id as string | undefined;
    return { items: (out.Items ?? []) as JobRecord[], nextCursor: last ? encodeCursor(last) : null };
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
    try {
      const out = await this.ddb.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { tenantId, id },
          UpdateExpression: `SET ${sets.join(", ")}`,
          ConditionExpression: `#status IN (${fromKeys.join(", ")})`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: "ALL_NEW",
        }),
      );
      return out.Attributes as JobRecord;
    } catch (e) {
      if (isConditionFailed(e)) return null;
      throw e;
    }
  }

  /** Sets fields without a status change, only while the job is in `status`. Returns the new record or null. */
  async patchIf(tenantId: string, id: string, status: JobStatus, patch: JobPatch): Promise<JobRecord | null> {
    return this.transition(tenantId, id, [status], status, patch);
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

const encodeCursor = (id: string) => Buffer.from(id, "utf8").toString("base64url");
function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, "base64url").toString("utf8");
  if (!/^gen_[0-9a-z]+$/.test(id)) throw new AppError("invalid_request", "The cursor is not one this API returned; pass nextCursor unchanged.");
  return id;
}
