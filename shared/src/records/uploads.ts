import { DeleteCommand, GetCommand, PutCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
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
