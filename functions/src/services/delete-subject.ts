import { DeleteObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { deletePrefix } from "@troupe/shared/aws/delete-objects";
import { AppError } from "@troupe/shared/errors";
import { subjectImageKey, subjectPrefix, type SubjectStore } from "@troupe/shared/records/subjects";

export interface DeleteSubjectDeps {
  s3: S3Client;
  bucket: string;
  subjects: Pick<SubjectStore, "get" | "delete">;
}

/**
 * DELETE /v1/subjects/{id}: the photo, everything else under the subject's prefix (cached
 * embeddings), then the record; a crash in between leaves the record for the caller's retry to
 * finish. The photo goes first: a runner that caches an embedding checks the photo is still there
 * after writing it, so either it sees the photo gone and removes its file, or the listing here comes
 * after its write and removes it (gpu-runner worker/subject-references.ts).
 */
export async function deleteSubject(deps: DeleteSubjectDeps, tenantId: string, id: string): Promise<void> {
  if (!(await deps.subjects.get(tenantId, id))) throw new AppError("not_found", `No subject ${id} for this key.`);
  await deps.s3.send(new DeleteObjectCommand({ Bucket: deps.bucket, Key: subjectImageKey(tenantId, id) }));
  await deletePrefix(deps.s3, deps.bucket, subjectPrefix(tenantId, id));
  await deps.subjects.delete(tenantId, id);
}
