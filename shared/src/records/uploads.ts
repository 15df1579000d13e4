import { BatchGetCommand, DeleteCommand, GetCommand, PutCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { UploadContentType } from "../contracts/upload.ts";
import { isConditionFailed } from "./conditional.ts";

export interface UploadRecord {
  tenantId: string;
  id: string;
  contentType: UploadContentType;
  contentLength: number;
  createdAt: string;
  /** Epoch seconds: DynamoDB TTL, matching the bucket's lifecycle rule for uploads/. */
  expiresAt: number;
}

export const uploadKey = (tenantId: string, uploadId: string) => `uploads/${tenantId}/${uploadId}`;

export class UploadStore {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async create(record: UploadRecord): Promise<void> {
    await this.ddb.send(new PutCommand({ TableName: this.table, Item: record, ConditionExpression: "attribute_not_exists(id)" }));
  }

  /** Only the tenant's own uploads are visible. */
  async get(tenantId: string, id: string): Promise<UploadRecord | null> {
    if (!id.startsWith("upl_")) return null;
    const out = await this.ddb.send(new GetCommand({ TableName: this.table, Key: { tenantId, id }, ConsistentRead: true }));
    return (out.Item as UploadRecord | undefined) ?? null;
  }

  /**
   * Several of the tenant's uploads in one BatchGetItem (consistent reads) instead of one GetItem each:
   * one call for a submission's subjects. Ids that are no upload of this tenant are absent from the map.
   */
  async getMany(tenantId: string, ids: string[]): Promise<Map<string, UploadRecord>> {
    const found = new Map<string, UploadRecord>();
    let keys: Record<string, unknown>[] = [...new Set(ids.filter((id) => id.startsWith("upl_")))].map((id) => ({ tenantId, id }));
    for (let attempt = 0; keys.length > 0; attempt++) {
      // Keys DynamoDB left unprocessed (throttling) are asked again after a short backoff.
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 20 * 2 ** attempt));
      if (attempt === 4) throw new Error("DynamoDB left upload reads unprocessed; retry the request.");
      const out = await this.ddb.send(new BatchGetCommand({ RequestItems: { [this.table]: { Keys: keys, ConsistentRead: true } } }));
      for (const item of (out.Responses?.[this.table] ?? []) as UploadRecord[]) found.set(item.id, item);
      keys = out.UnprocessedKeys?.[this.table]?.Keys ?? [];
    }
    return found;
  }

  /** Removes the record; false when there was none (already deleted, expired, or another tenant's). */
  async delete(tenantId: string, id: string): Promise<boolean> {
    if (!id.startsWith("upl_")) return false;
    try {
      await this.ddb.send(new DeleteCommand({ TableName: this.table, Key: { tenantId, id }, ConditionExpression: "attribute_exists(id)" }));
      return true;
    } catch (e) {
      if (isConditionFailed(e)) return false;
      throw e;
    }
  }
}
