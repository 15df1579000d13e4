import { GetCommand, PutCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { UploadContentType } from "../contracts/upload.ts";

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
}
