import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { newId } from "@troupe/shared/ids";
import { uploadKey, type UploadStore } from "@troupe/shared/records/uploads";
import type { HostResolver } from "@troupe/shared/webhooks/webhook-url";
import type { AppDeps } from "../deps.ts";
import { fetchImageUrl, type FetchImageOptions } from "./fetch-image-url.ts";

export interface ImageUrlSubjectDeps {
  s3: S3Client;
  bucket: string;
  uploads: Pick<UploadStore, "create">;
  localMode: boolean;
  resolveHost: HostResolver;
  now: () => number;
  /** Test hooks: narrower address rules, shorter limits. */
  fetchOptions?: Partial<FetchImageOptions>;
}

/** What the submit path passes for `imageUrl` subjects. */
export const imageUrlDeps = (deps: AppDeps): ImageUrlSubjectDeps => ({
  s3: deps.clients.s3,
  bucket: deps.config.TROUPE_BUCKET,
  uploads: deps.stores.uploads,
  localMode: deps.config.TROUPE_LOCAL_MODE,
  resolveHost: deps.resolveHost,
  now: deps.now,
});

/** Matches the bucket's lifecycle rule for uploads/ (as create-upload.ts). */
const UPLOAD_RECORD_TTL_S = 7 * 24 * 3600;

/**
 * A subject's `imageUrl` as an upload of the tenant: fetched once (fetch-image-url.ts), then stored
 * like a PUT to a presigned URL would have (object first, so a record always has its object).
 * Resolves with the new upload id, which goes into the job spec in place of the URL.
 *
 * The upload is written before the rest of the request is judged, like an upload a client makes
 * before submitting: a submission refused later (quota, a bad other subject) leaves it, under the
 * uploads' lifecycle (7 days), never a job or a message.
 */
export async function imageUrlToUpload(deps: ImageUrlSubjectDeps, tenantId: string, imageUrl: string, subject: number): Promise<string> {
  const where = { subject, path: ["subjects", subject, "imageUrl"] };
  const image = await fetchImageUrl(imageUrl, { localMode: deps.localMode, resolve: deps.resolveHost, ...deps.fetchOptions }, where);
  const now = deps.now();
  const id = newId("upl", now);
  await deps.s3.send(
    new PutObjectCommand({ Bucket: deps.bucket, Key: uploadKey(tenantId, id), Body: image.bytes, ContentType: image.contentType, ContentLength: image.bytes.byteLength }),
  );
  await deps.uploads.create({
    tenantId,
    id,
    contentType: image.contentType,
    contentLength: image.bytes.byteLength,
    createdAt: new Date(now).toISOString(),
    expiresAt: Math.floor(now / 1000) + UPLOAD_RECORD_TTL_S,
  });
  return id;
}
