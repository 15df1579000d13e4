import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { MAX_UPLOAD_BYTES } from "@troupe/shared/contracts/upload";
import { AppError, UploadInvalidError } from "@troupe/shared/errors";
import { uploadKey, type UploadRecord, type UploadStore } from "@troupe/shared/records/uploads";
import { MAGIC_BYTES, matchesMagic } from "./image-magic.ts";

export interface UploadCheckDeps {
  s3: S3Client;
  bucket: string;
  uploads: Pick<UploadStore, "get">;
}

const status = (e: unknown) => (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
const isNotFound = (e: unknown) => e instanceof Error && (e.name === "NoSuchKey" || e.name === "NotFound" || status(e) === 404);
const isEmptyRange = (e: unknown) => e instanceof Error && (e.name === "InvalidRange" || status(e) === 416);

interface Head {
  size: number;
  bytes: Uint8Array;
}

/**
 * One ranged GET answers both questions: Content-Range carries the object's total size and the
 * body its first bytes (a HEAD plus a GET would cost a second round trip per subject).
 * Null when the object is not there.
 */
async function readHead(deps: UploadCheckDeps, key: string): Promise<Head | null> {
  try {
    const out = await deps.s3.send(new GetObjectCommand({ Bucket: deps.bucket, Key: key, Range: `bytes=0-${MAGIC_BYTES - 1}` }));
    const total = /\/(\d+)$/.exec(out.ContentRange ?? "")?.[1];
    if (total === "0") {
      // s3rver answers an empty object with 206 "bytes 0-0/0" and a body that never ends (S3 says 416).
      (out.Body as { destroy?: () => void } | undefined)?.destroy?.();
      return { size: 0, bytes: new Uint8Array() };
    }
    const bytes = await out.Body!.transformToByteArray();
    return { size: total === undefined ? (out.ContentLength ?? bytes.byteLength) : Number(total), bytes };
  } catch (e) {
    if (isNotFound(e)) return null;
    if (isEmptyRange(e)) return { size: 0, bytes: new Uint8Array() };
    throw e;
  }
}

/**
 * One subject's upload: this tenant's, uploaded, of the declared size and really the declared type.
 * The record and the object's first bytes are read at once (the object key is known from the ids),
 * so a subject costs one round trip of latency, not two; the record is judged first either way.
 */
export async function checkUpload(deps: UploadCheckDeps, tenantId: string, uploadId: string, subject: number): Promise<UploadRecord> {
  const where = { subject, uploadId, path: ["subjects", subject, "uploadId"] };
  const headRead = readHead(deps, uploadKey(tenantId, uploadId));
  headRead.catch(() => undefined); // judged below, after the record; never an unhandled rejection
  const record = await deps.uploads.get(tenantId, uploadId);
  if (!record) throw new AppError("unknown_upload", `subjects[${subject}]: no upload ${uploadId} for this key.`, where);
  const head = await headRead;
  if (head === null) throw new AppError("unknown_upload", `subjects[${subject}]: upload ${uploadId} was not uploaded yet; PUT the file to its uploadUrl first.`, where);
  const { size, bytes } = head;
  if (size > MAX_UPLOAD_BYTES || size !== record.contentLength) {
    throw new UploadInvalidError(`subjects[${subject}]: upload ${uploadId} is ${size} bytes, declared ${record.contentLength}.`, { ...where, size, declared: record.contentLength });
  }
  if (!matchesMagic(record.contentType, bytes)) {
    throw new UploadInvalidError(`subjects[${subject}]: upload ${uploadId} is not a ${record.contentType} image.`, { ...where, contentType: record.contentType });
  }
  return record;
}

/** Checks every subject's upload; reads only, so a rejection writes nothing. Reports the first failing subject. */
export async function checkSubjectUploads(deps: UploadCheckDeps, tenantId: string, uploadIds: string[]): Promise<UploadRecord[]> {
  const results = await Promise.allSettled(uploadIds.map((id, i) => checkUpload(deps, tenantId, id, i)));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<UploadRecord>).value);
}
