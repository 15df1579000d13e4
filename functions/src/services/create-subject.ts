import { CopyObjectCommand, DeleteObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { AppError, isAppError } from "@troupe/shared/errors";
import { newId } from "@troupe/shared/ids";
import { subjectImageKey, type SubjectRecord, type SubjectStore } from "@troupe/shared/records/subjects";
import { uploadKey, type UploadStore } from "@troupe/shared/records/uploads";
import { storeImageUrl, type ImageUrlSubjectDeps } from "./image-url-subject.ts";
import { checkSubjectUploads, type CheckedUpload } from "./upload-checks.ts";

export interface CreateSubjectDeps {
  s3: S3Client;
  bucket: string;
  uploads: Pick<UploadStore, "get">;
  subjects: Pick<SubjectStore, "create">;
  /** How an `imageUrl` body is fetched and kept as an upload (the same as a job subject's). */
  imageUrls: ImageUrlSubjectDeps;
  now: () => number;
}

/** Exactly one of the two (the route's schema enforces it). */
export interface CreateSubjectBody {
  uploadId?: string | undefined;
  imageUrl?: string | undefined;
}

const isNotFound = (e: unknown) => e instanceof Error && (e.name === "NoSuchKey" || e.name === "NotFound");

/** The upload checks speak of `subjects[0]`; here the field is the body's `uploadId`. */
function asBodyError(e: unknown): unknown {
  if (!isAppError(e)) return e;
  const details = typeof e.details === "object" && e.details !== null ? { ...e.details, path: ["uploadId"] } : e.details;
  return new AppError(e.code, e.message.replace(/^subjects\[0\]: /, ""), details);
}

/** Where the photo comes from, and how the subject's own copy of it is written. */
interface Source {
  upload: CheckedUpload;
  writeCopy: (imageKey: string) => Promise<void>;
}

/** An upload of this key: the checks a job's upload gets (uploaded, declared size, magic bytes), then an S3 copy. */
async function fromUpload(deps: CreateSubjectDeps, tenantId: string, uploadId: string): Promise<Source> {
  const [upload] = await checkSubjectUploads({ s3: deps.s3, bucket: deps.bucket, uploads: deps.uploads }, tenantId, [uploadId]).catch((e: unknown) => {
    throw asBodyError(e);
  });
  const writeCopy = async (imageKey: string) => {
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
  };
  return { upload, writeCopy };
}

/**
 * An image URL: fetched once and kept as an upload of this key under the same rules and error codes
 * as a job subject's `imageUrl`; the bytes are in hand, so the subject's copy is a plain PUT.
 */
async function fromImageUrl(deps: CreateSubjectDeps, tenantId: string, imageUrl: string): Promise<Source> {
  const { upload, bytes } = await storeImageUrl(deps.imageUrls, tenantId, imageUrl, { path: ["imageUrl"] });
  const writeCopy = async (imageKey: string) => {
    await deps.s3.send(new PutObjectCommand({ Bucket: deps.bucket, Key: imageKey, Body: bytes, ContentType: upload.contentType, ContentLength: bytes.byteLength }));
  };
  return { upload, writeCopy };
}

/**
 * POST /v1/subjects from an upload or an image URL: the photo is checked, then copied under
 * `subjects/{tenant}/{id}/image`, so the subject outlives the upload's lifecycle and its deletion.
 * The copy comes before the record: a failure in between leaves no subject that points at nothing.
 * `source.uploadId` is the upload the photo came from (for a URL, the upload it was kept as).
 */
export async function createSubject(deps: CreateSubjectDeps, tenantId: string, body: CreateSubjectBody): Promise<SubjectRecord> {
  const { uploadId, imageUrl } = body;
  const source =
    imageUrl !== undefined && uploadId === undefined ? fromImageUrl(deps, tenantId, imageUrl)
    : uploadId !== undefined && imageUrl === undefined ? fromUpload(deps, tenantId, uploadId)
    : Promise.reject(new AppError("invalid_request", "Give exactly one of uploadId or imageUrl.", { path: [] }));
  const { upload, writeCopy } = await source;
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
  await writeCopy(imageKey);
  try {
    await deps.subjects.create(record);
  } catch (e) {
    await deps.s3.send(new DeleteObjectCommand({ Bucket: deps.bucket, Key: imageKey })).catch(() => undefined);
    throw e;
  }
  return record;
}
