import { DeleteCommand, GetCommand, PutCommand, QueryCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { UploadContentType } from "../contracts/upload.ts";
import { AppError } from "../errors.ts";
import { isConditionFailed } from "./conditional.ts";

/** A reusable subject (DESIGN §2): its own copy of the photo, so it outlives the upload it came from. */
export interface SubjectRecord {
  tenantId: string;
  id: string;
  contentType: UploadContentType;
  contentLength: number;
  /** Where the photo came from: an upload id (the upload itself may be deleted or expire later). */
  source: { uploadId: string };
  createdAt: string;
}

export interface SubjectPage {
  items: SubjectRecord[];
  nextCursor: string | null;
}

/** Everything stored for a subject lives under this prefix: the photo and one embedding per bundle. */
export const subjectPrefix = (tenantId: string, subjectId: string) => `subjects/${tenantId}/${subjectId}/`;
export const subjectImageKey = (tenantId: string, subjectId: string) => `${subjectPrefix(tenantId, subjectId)}image`;
/** The cached CLIP image embedding (float32 little-endian) for one image encoder (see `embeddingVersion`). */
export const subjectEmbeddingKey = (tenantId: string, subjectId: string, version: string) => `${subjectPrefix(tenantId, subjectId)}${version}.bin`;

export const SUBJECT_ID_PATTERN = /^sub_[0-9a-z]{10,40}$/;

/** Subjects share the jobs table (tenantId, id: sub_…), like uploads and idempotency claims. */
export class SubjectStore {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async create(record: SubjectRecord): Promise<void> {
    await this.ddb.send(new PutCommand({ TableName: this.table, Item: record, ConditionExpression: "attribute_not_exists(id)" }));
  }

  /** Only the tenant's own subjects are visible. */
  async get(tenantId: string, id: string): Promise<SubjectRecord | null> {
    if (!SUBJECT_ID_PATTERN.test(id)) return null;
    const out = await this.ddb.send(new GetCommand({ TableName: this.table, Key: { tenantId, id }, ConsistentRead: true }));
    return (out.Item as SubjectRecord | undefined) ?? null;
  }

  /** Newest first, paged like generations; the cursor is opaque to callers. */
  async list(tenantId: string, limit: number, cursor?: string): Promise<SubjectPage> {
    const start = cursor ? decodeCursor(cursor) : undefined;
    const out = await this.ddb.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: "tenantId = :t AND begins_with(id, :p)",
        ExpressionAttributeValues: { ":t": tenantId, ":p": "sub_" },
        ScanIndexForward: false,
        Limit: limit,
        ConsistentRead: true,
        ExclusiveStartKey: start ? { tenantId, id: start } : undefined,
      }),
    );
    const last = out.LastEvaluatedKey?.id as string | undefined;
    return { items: (out.Items ?? []) as SubjectRecord[], nextCursor: last ? Buffer.from(last, "utf8").toString("base64url") : null };
  }

  /** Removes the record; false when there was none (already deleted, or another tenant's). */
  async delete(tenantId: string, id: string): Promise<boolean> {
    if (!SUBJECT_ID_PATTERN.test(id)) return false;
    try {
      await this.ddb.send(new DeleteCommand({ TableName: this.table, Key: { tenantId, id }, ConditionExpression: "attribute_exists(id)" }));
      return true;
    } catch (e) {
      if (isConditionFailed(e)) return false;
      throw e;
    }
  }
}

function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, "base64url").toString("utf8");
  if (!SUBJECT_ID_PATTERN.test(id)) throw new AppError("invalid_request", "The cursor is not one this API returned; pass nextCursor unchanged.");
  return id;
}
