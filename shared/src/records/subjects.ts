import { QueryCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { UploadContentType } from "../contracts/upload.ts";
import { AppError } from "../errors.ts";
import { TenantItemStore } from "./tenant-items.ts";

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
export class SubjectStore extends TenantItemStore<SubjectRecord> {
  constructor(ddb: DynamoDBDocumentClient, table: string) {
    super(ddb, table, (id) => SUBJECT_ID_PATTERN.test(id));
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
}

function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, "base64url").toString("utf8");
  if (!SUBJECT_ID_PATTERN.test(id)) throw new AppError("invalid_request", "The cursor is not one this API returned; pass nextCursor unchanged.");
  return id;
}
