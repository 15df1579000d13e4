import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { UploadContentType } from "../contracts/upload.ts";
import { TenantItemStore } from "./tenant-items.ts";

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

/**
 * What was declared for an upload, carried by its object as user metadata (`x-amz-meta-troupe-*`,
 * signed into the presigned PUT's query, so the client sends nothing more): the submit check reads
 * it with the object's first bytes instead of reading the record.
 */
export const declaredMetadata = (upload: Pick<UploadRecord, "contentType" | "contentLength">): Record<string, string> => ({
  "troupe-content-type": upload.contentType,
  "troupe-content-length": String(upload.contentLength),
});

/** The declaration in an object's metadata; null when it has none (objects from before it was written) or it is not ours. */
export function readDeclared(metadata: Record<string, string> | undefined): Pick<UploadRecord, "contentType" | "contentLength"> | null {
  const type = metadata?.["troupe-content-type"];
  const length = metadata?.["troupe-content-length"];
  if (type === undefined || length === undefined || !/^\d{1,9}$/.test(length)) return null;
  return { contentType: type as UploadContentType, contentLength: Number(length) };
}

/** Matches the bucket's lifecycle rule for uploads/ (infra storage-defaults: 7 days). */
const UPLOAD_RECORD_TTL_S = 7 * 24 * 3600;

/** An upload record's expiry (epoch seconds): the key's shorter retention, else the bucket's rule. */
export const uploadExpiresAt = (nowMs: number, uploadsDays: number | undefined) =>
  Math.floor(nowMs / 1000) + (uploadsDays ? uploadsDays * 24 * 3600 : UPLOAD_RECORD_TTL_S);

export class UploadStore extends TenantItemStore<UploadRecord> {
  constructor(ddb: DynamoDBDocumentClient, table: string) {
    super(ddb, table, (id) => id.startsWith("upl_"));
  }
}
