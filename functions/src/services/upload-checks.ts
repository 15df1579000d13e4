import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { MAX_UPLOAD_BYTES, UPLOAD_CONTENT_TYPES, type UploadContentType } from "@troupe/shared/contracts/upload";
import { AppError, UploadInvalidError } from "@troupe/shared/errors";
import { readDeclared, uploadKey, type UploadRecord, type UploadStore } from "@troupe/shared/records/uploads";
import { MAGIC_BYTES, matchesMagic } from "./image-magic.ts";

export interface UploadCheckDeps {
  s3: S3Client;
  bucket: string;
  uploads: Pick<UploadStore, "get">;
}

/** What a checked upload is: the declared type and size, which its bytes match. */
export type CheckedUpload = Pick<UploadRecord, "id" | "contentType" | "contentLength">;

const status = (e: unknown) => (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
const isNotFound = (e: unknown) => e instanceof Error && (e.name === "NoSuchKey" || e.name === "NotFound" || status(e) === 404);
const isEmptyRange = (e: unknown) => e instanceof Error && (e.name === "InvalidRange" || status(e) === 416);

interface Head {
  size: number;
  bytes: Uint8Array;
  /** The declared type and size the object carries in its metadata (create-upload.ts), if it does. */
  declared: Pick<UploadRecord, "contentType" | "contentLength"> | null;
}

/**
 * One ranged GET answers every question: Content-Range carries the object's total size, the body its
 * first bytes, the metadata what was declared (a HEAD plus a GET would cost a second round trip).
 * Null when the object is not there.
 */
async function readHead(deps: UploadCheckDeps, key: string): Promise<Head | null> {
  try {
    const out = await deps.s3.send(new GetObjectCommand({ Bucket: deps.bucket, Key: key, Range: `bytes=0-${MAGIC_BYTES - 1}` }));
    const declared = readDeclared(out.Metadata);
    const total = /\/(\d+)$/.exec(out.ContentRange ?? "")?.[1];
    if (total === "0") {
      // s3rver answers an empty object with 206 "bytes 0-0/0" and a body that never ends (S3 says 416).
      (out.Body as { destroy?: () => void } | undefined)?.destroy?.();
      return { size: 0, bytes: new Uint8Array(), declared };
    }
    const bytes = await out.Body!.transformToByteArray();
    return { size: total === undefined ? (out.ContentLength ?? bytes.byteLength) : Number(total), bytes, declared };
  } catch (e) {
    if (isNotFound(e)) return null;
    // S3 refuses the range of an empty object without its metadata; the record has what was declared.
    if (isEmptyRange(e)) return { size: 0, bytes: new Uint8Array(), declared: null };
    throw e;
  }
}

/**
 * One subject's upload: this tenant's, uploaded, of the declared size and really the declared type.
 * The object key holds the tenant and the object's metadata what was declared (signed into its
 * presigned PUT, create-upload.ts), so one ranged GET decides: the upload record is read only when
 * the object is missing (to tell "unknown" from "not uploaded yet") or carries no declaration.
 */
export async function checkUpload(deps: UploadCheckDeps, tenantId: string, uploadId: string, subject: number): Promise<CheckedUpload> {
  const where = { subject, uploadId, path: ["subjects", subject, "uploadId"] };
  const unknown = () => new AppError("unknown_upload", `subjects[${subject}]: no upload ${uploadId} for this key.`, where);
  // An id that is no upload id reads nothing (the key would not be one of ours).
  if (!uploadId.startsWith("upl_")) throw unknown();
  const head = await readHead(deps, uploadKey(tenantId, uploadId));
  const declared = head?.declared ?? (await deps.uploads.get(tenantId, uploadId));
  if (!declared) throw unknown();
  if (head === null) throw new AppError("unknown_upload", `subjects[${subject}]: upload ${uploadId} was not uploaded yet; PUT the file to its uploadUrl first.`, where);
  const { size, bytes } = head;
  if (size > MAX_UPLOAD_BYTES || size !== declared.contentLength) {
    throw new UploadInvalidError(`subjects[${subject}]: upload ${uploadId} is ${size} bytes, declared ${declared.contentLength}.`, { ...where, size, declared: declared.contentLength });
  }
  if (!isUploadType(declared.contentType) || !matchesMagic(declared.contentType, bytes)) {
    throw new UploadInvalidError(`subjects[${subject}]: upload ${uploadId} is not a ${declared.contentType} image.`, { ...where, contentType: declared.contentType });
  }
  return { id: uploadId, contentType: declared.contentType, contentLength: declared.contentLength };
}

const isUploadType = (type: string): type is UploadContentType => (UPLOAD_CONTENT_TYPES as readonly string[]).includes(type);

/** Checks every subject's upload; reads only, so a rejection writes nothing. Reports the first failing subject. */
export async function checkSubjectUploads(deps: UploadCheckDeps, tenantId: string, uploadIds: string[]): Promise<CheckedUpload[]> {
  const results = await Promise.allSettled(uploadIds.map((id, i) => checkUpload(deps, tenantId, id, i)));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<CheckedUpload>).value);
}
