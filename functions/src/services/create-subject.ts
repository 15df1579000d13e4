import { CopyObjectCommand, DeleteObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { AppError, isAppError } from "@troupe/shared/errors";
import { newId } from "@troupe/shared/ids";
import { subjectImageKey, type SubjectRecord, type SubjectStore } from "@troupe/shared/records/subjects";
import { uploadKey, type UploadStore } from "@troupe/shared/records/uploads";
import { checkSubjectUploads } from "./upload-checks.ts";

export interface CreateSubjectDeps {
  s3: S3Client;
  bucket: string;
  uploads: Pick<UploadStore, "get">;
  subjects: Pick<SubjectStore, "create">;
  now: () => number;
}

export interface CreateSubjectBody {
  uploadId: string;
}

const isNotFound = (e: unknown) => e instanceof Error && (e.name === "NoSuchKey" || e.name === "NotFound");

/** The upload checks speak of `subjects[0]`; here the field is the body's `uploadId`. */
function asBodyError(e: unknown): unknown {
  if (!isAppError(e)) return e;
  const details = typeof e.details === "object" && e.details !== null ? { ...e.details, path: ["uploadId"] } : e.details;
  return new AppError(e.code, e.message.replace(/^subjects\[0\]: /, ""), details);
}

/**
 * POST /v1/subjects from an upload: the same checks a job's upload gets (this tenant's, uploaded,
 * declared size, magic bytes), then a copy of the photo under `subjects/{tenant}/{id}/image`, so the
 * subject outlives the upload's lifecycle and its deletion. The copy comes before the record: a
 * failure in between leaves no subject that points at nothing.
 */
export async function createSubject(deps: CreateSubjectDeps, tenantId: string, body: CreateSubjectBody): Promise<SubjectRecord> {
  const [upload] = await checkSubjectUploads({ s3: deps.s3, bucket: deps.bucket, uploads: deps.uploads }, tenantId, [body.uploadId]).catch((e: unknown) => {
    throw asBodyError(e);
  });
  const now = deps.now();
  const record: SubjectRecord = {
    tenantId,
    id: newId("sub", now),
    contentType: upload.contentType,
    contentLength: upload.contentLength,
    source: { uploadId: upload.id },
    createdAt: new Date(now).toISOString(),
  };
  const imageKey = subjectImageKey(tenantId, record.id);
  // No tags: the upload's retention tag is not the subject's (it lives until DELETE), and copying tags
  // would need s3:GetObjectTagging / PutObjectTagging the API is not granted (infra/lib/access-policies.ts).
  const copy = { Bucket: deps.bucket, Key: imageKey, CopySource: `${deps.bucket}/${uploadKey(tenantId, upload.id)}`, ContentType: upload.contentType };
  try {
    await deps.s3.send(new CopyObjectCommand({ ...copy, MetadataDirective: "REPLACE", TaggingDirective: "REPLACE" }));
  } catch (e) {
    // Deleted between the check and the copy.
    if (isNotFound(e)) throw new AppError("unknown_upload", `No upload ${upload.id} for this key.`, { uploadId: upload.id, path: ["uploadId"] });
    throw e;
  }
  try {
    await deps.subjects.create(record);
  } catch (e) {
    await deps.s3.send(new DeleteObjectCommand({ Bucket: deps.bucket, Key: imageKey })).catch(() => undefined);
    throw e;
  }
  return record;
}
