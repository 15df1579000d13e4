import { BatchGetCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
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

/** Matches the bucket's lifecycle rule for uploads/ (infra storage-defaults: 7 days). */
const UPLOAD_RECORD_TTL_S = 7 * 24 * 3600;

/** An upload record's expiry (epoch seconds): the key's shorter retention, else the bucket's rule. */
export const uploadExpiresAt = (nowMs: number, uploadsDays: number | undefined) =>
  Math.floor(nowMs / 1000) + (uploadsDays ? uploadsDays * 24 * 3600 : UPLOAD_RECORD_TTL_S);

export class UploadStore extends TenantItemStore<UploadRecord> {
  constructor(ddb: DynamoDBDocumentClient, table: string) {
    super(ddb, table, (id) => id.startsWith("upl_"));
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
}
