import { DeleteObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { AppError } from "@troupe/shared/errors";
import { uploadKey, type UploadStore } from "@troupe/shared/records/uploads";

export interface DeleteUploadDeps {
  s3: S3Client;
  bucket: string;
  uploads: Pick<UploadStore, "get" | "delete">;
}

/**
 * DELETE /v1/uploads/{id}: the object, then the record, so a presigned GET or PUT for it stops
 * working, and a crash in between leaves the record for the caller's retry to finish (never a photo
 * with no record pointing at it). A job already submitted with it fails in the runner with
 * `unknown_upload`; a subject made from it keeps its own copy (delete the subject for that).
 */
export async function deleteUpload(deps: DeleteUploadDeps, tenantId: string, id: string): Promise<void> {
  if (!(await deps.uploads.get(tenantId, id))) throw new AppError("not_found", `No upload ${id} for this key.`);
  await deps.s3.send(new DeleteObjectCommand({ Bucket: deps.bucket, Key: uploadKey(tenantId, id) }));
  await deps.uploads.delete(tenantId, id);
}
