import type { S3Client } from "@aws-sdk/client-s3";
import { deleteKeys } from "../aws/delete-objects.ts";
import type { GenerationSpec } from "../contracts/generation.ts";
import { uploadKey, type UploadStore } from "../records/uploads.ts";

/**
 * `retainInputs: false`: the uploads a job used go, photos first, then records, as DELETE
 * /v1/uploads does (a crash in between leaves a record, never a photo nothing points at). Stored
 * subjects are kept: the caller made them to be reused. Returns how many uploads it removed.
 */
export async function deleteJobUploads(
  deps: { s3: S3Client; bucket: string; uploads: Pick<UploadStore, "delete"> },
  tenantId: string,
  spec: Pick<GenerationSpec, "subjects">,
): Promise<number> {
  const uploadIds = [...new Set(spec.subjects.flatMap((s) => (s.uploadId ? [s.uploadId] : [])))];
  await deleteKeys(deps.s3, deps.bucket, uploadIds.map((id) => uploadKey(tenantId, id)));
  await Promise.all(uploadIds.map((id) => deps.uploads.delete(tenantId, id)));
  return uploadIds.length;
}
