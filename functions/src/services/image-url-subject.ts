import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { retentionTagging, type Retention } from "@troupe/shared/contracts/retention";
import { newId } from "@troupe/shared/ids";
import { declaredMetadata, uploadExpiresAt, uploadKey, type UploadRecord, type UploadStore } from "@troupe/shared/records/uploads";
import type { HostResolver } from "@troupe/shared/webhooks/webhook-url";
import type { AppDeps } from "../deps.ts";
import { fetchImageUrl, type FetchImageOptions, type FetchWhere } from "./fetch-image-url.ts";

export interface ImageUrlSubjectDeps {
  s3: S3Client;
  bucket: string;
  uploads: Pick<UploadStore, "create">;
  localMode: boolean;
  resolveHost: HostResolver;
  now: () => number;
  /** The key's retention: its `uploadsDays` tags the stored image as a presigned upload's PUT is tagged. */
  retention: Retention;
  /** Awaited before anything is fetched or stored; the submit path gates on its Idempotency-Key claim, so a replay stores nothing. */
  beforeStore?: () => Promise<void>;
  /** Test hooks: narrower address rules, shorter limits. */
  fetchOptions?: Partial<FetchImageOptions>;
}

/** What the submit path and POST /v1/subjects pass for `imageUrl` inputs, with the calling key's retention. */
export const imageUrlDeps = (deps: AppDeps, retention: Retention): ImageUrlSubjectDeps => ({
  s3: deps.clients.s3,
  bucket: deps.config.TROUPE_BUCKET,
  uploads: deps.stores.uploads,
  localMode: deps.config.TROUPE_LOCAL_MODE,
  resolveHost: deps.resolveHost,
  now: deps.now,
  retention,
});

/** The stored upload and the bytes it holds (POST /v1/subjects writes them again as the subject's own copy). */
export interface StoredImage {
  upload: UploadRecord;
  bytes: Uint8Array;
}

/**
 * An `imageUrl` as an upload of the tenant: fetched once (fetch-image-url.ts), then stored as a PUT
 * to a presigned URL would have been: same key, type, and the key's retention tag and record expiry
 * (create-upload.ts). Object first, so a record always has its object.
 */
export async function storeImageUrl(deps: ImageUrlSubjectDeps, tenantId: string, imageUrl: string, where: FetchWhere): Promise<StoredImage> {
  await deps.beforeStore?.();
  const image = await fetchImageUrl(imageUrl, { localMode: deps.localMode, resolve: deps.resolveHost, ...deps.fetchOptions }, where);
  const { uploadsDays } = deps.retention;
  const now = deps.now();
  const upload: UploadRecord = {
    tenantId,
    id: newId("upl", now),
    contentType: image.contentType,
    contentLength: image.bytes.byteLength,
    createdAt: new Date(now).toISOString(),
    expiresAt: uploadExpiresAt(now, uploadsDays),
  };
  await deps.s3.send(
    new PutObjectCommand({
      Bucket: deps.bucket,
      Key: uploadKey(tenantId, upload.id),
      Body: image.bytes,
      ContentType: image.contentType,
      ContentLength: image.bytes.byteLength,
      Tagging: retentionTagging(uploadsDays),
      Metadata: declaredMetadata(upload),
    }),
  );
  await deps.uploads.create(upload);
  return { upload, bytes: image.bytes };
}

/**
 * A job subject's `imageUrl`: stored as above; resolves with the new upload id, which goes into the
 * job spec in place of the URL.
 *
 * The upload is written before the rest of the request is judged, like an upload a client makes
 * before submitting: a submission refused later (quota, a bad other subject) leaves it, under the
 * uploads' lifecycle (7 days, or the key's retention), never a job or a message.
 */
export async function imageUrlToUpload(deps: ImageUrlSubjectDeps, tenantId: string, imageUrl: string, subject: number): Promise<string> {
  const { upload } = await storeImageUrl(deps, tenantId, imageUrl, { subject, path: ["subjects", subject, "imageUrl"] });
  return upload.id;
}
