import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { retentionTagging, type Retention } from "@troupe/shared/contracts/retention";
import type { CreateUpload } from "@troupe/shared/contracts/upload";
import { newId } from "@troupe/shared/ids";
import { declaredMetadata, uploadExpiresAt, uploadKey, type UploadStore } from "@troupe/shared/records/uploads";

export interface CreateUploadDeps {
  s3: S3Client;
  bucket: string;
  uploads: Pick<UploadStore, "create">;
  urlTtlS: number;
  now: () => number;
}

export interface CreatedUpload {
  id: string;
  uploadUrl: string;
  method: "PUT";
  headers: Record<string, string>;
  expiresAt: string;
}

/**
 * Records the upload, then signs a PUT for `uploads/{tenant}/{id}` with Content-Type and
 * Content-Length in the signature, so S3 refuses any other type or size, and the declaration as the
 * object's metadata, which the submit check reads beside the first bytes (upload-checks.ts). (s3rver
 * does not check signatures: the submit path checks size and magic bytes again.)
 */
export async function createUpload(deps: CreateUploadDeps, tenantId: string, body: CreateUpload, retention: Retention = {}): Promise<CreatedUpload> {
  const now = deps.now();
  const id = newId("upl", now);
  // A key's shorter retention: the object carries the tag its lifecycle rule matches (signed, so the PUT must send it).
  const tagging = retentionTagging(retention.uploadsDays);
  const declared = { contentType: body.contentType, contentLength: body.contentLength };
  await deps.uploads.create({ tenantId, id, ...declared, createdAt: new Date(now).toISOString(), expiresAt: uploadExpiresAt(now, retention.uploadsDays) });
  const command = new PutObjectCommand({
    Bucket: deps.bucket,
    Key: uploadKey(tenantId, id),
    ContentType: body.contentType,
    ContentLength: body.contentLength,
    Tagging: tagging,
    // In the URL's signed query (x-amz-meta-* are hoisted), so the object carries its declaration and the client sends no more headers.
    Metadata: declaredMetadata(declared),
  });
  const uploadUrl = await getSignedUrl(deps.s3, command, {
    expiresIn: deps.urlTtlS,
    signableHeaders: new Set(["content-type", "content-length", ...(tagging ? ["x-amz-tagging"] : [])]),
    // Kept a header (not hoisted into the query), so it is returned in `headers` for the client to send.
    unhoistableHeaders: new Set(["x-amz-tagging"]),
  });
  return {
    id,
    uploadUrl,
    method: "PUT",
    headers: { "content-type": body.contentType, ...(tagging ? { "x-amz-tagging": tagging } : {}) },
    expiresAt: new Date(now + deps.urlTtlS * 1000).toISOString(),
  };
}
