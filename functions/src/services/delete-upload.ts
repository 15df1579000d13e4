import { DeleteObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { AppError } from "@troupe/shared/errors";
import { uploadKey, type UploadStore } from "@troupe/shared/records/uploads";

export interface DeleteUploadDeps {
  s3: S3Client;
  bucket: string;
  uploads: Pick<UploadStore, "get" | "delete">;
}

/**
 * DELETE /v1/uploads/{id}: the object, then the record, so a presigned GET for it stops working, and a
 * crash in between leaves the record for the caller's retry to finish (never a photo with no record
 * pointing at it). A job already submitted with it fails in the runner with `unknown_upload`; a subject
 * made from it keeps its own copy (delete the subject for that). The upload's presigned PUT stays
 * valid until it expires (S3 cannot revoke one): if the client PUTs the photo again, the object is back
 * and passes a submission's check, which reads the object (upload-checks.ts); so a DELETE without a
 * record still removes any object under the id before it answers 404.
 */
const UPLOAD_ID = /^upl_[A-Za-z0-9]{10,40}$/;

export async function deleteUpload(deps: DeleteUploadDeps, tenantId: string, id: string): Promise<void> {
  const record = await deps.uploads.get(tenantId, id);
  // Only the shape of an id we mint reaches a key (the emulator's file store must see no "../").
  if (UPLOAD_ID.test(id)) await deps.s3.send(new DeleteObjectCommand({ Bucket: deps.bucket, Key: uploadKey(tenantId, id) }));
  if (!record) throw new AppError("not_found", `No upload ${id} for this key.`);
  await deps.uploads.delete(tenantId, id);
}
