import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { AppError } from "@troupe/shared/errors";
import { uploadKey } from "@troupe/shared/records/uploads";
import { subjectEmbeddingKey, subjectImageKey } from "@troupe/shared/records/subjects";
import type { GenerateInput } from "../pipeline/types.ts";
import type { WorkerDeps } from "./deps.ts";

/** One subject of a job's spec: an upload, or a stored subject (exactly one, checked by the API). */
export interface SubjectRef {
  uploadId?: string;
  subjectId?: string;
}

export interface References {
  references: Uint8Array[];
  imageEmbeds: (Float32Array | undefined)[];
  /** How many stored subjects came from the embedding cache (the encoder skipped for them). */
  cached: number;
}

const isNotFound = (e: unknown) => e instanceof Error && (e.name === "NoSuchKey" || e.name === "NotFound" || (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404);

const unknownSubject = (subject: number, subjectId: string) =>
  new AppError("unknown_subject", `Subject ${subjectId} (subjects[${subject}]) was deleted; create it again or pass an upload.`, { subject, subjectId });

type Deps = Pick<WorkerDeps, "clients" | "bucket" | "pipeline">;

/** The object's bytes, or null when it is not there. */
async function read(deps: Deps, key: string): Promise<Uint8Array | null> {
  try {
    const out = await deps.clients.s3.send(new GetObjectCommand({ Bucket: deps.bucket, Key: key }));
    return await out.Body!.transformToByteArray();
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}

async function exists(deps: Deps, key: string): Promise<boolean> {
  try {
    await deps.clients.s3.send(new HeadObjectCommand({ Bucket: deps.bucket, Key: key }));
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    throw e;
  }
}

const asFloats = (bytes: Uint8Array) => new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));

/**
 * A stored subject's embedding: from the cache (no decode, no encoder), else encoded from its photo
 * and cached for the next job. A subject deleted meanwhile fails the job with `unknown_subject`, and
 * the cache file is not left behind: after writing it, the photo must still be there (DELETE removes
 * the photo first, then lists the prefix; see functions/src/services/delete-subject.ts).
 */
async function subjectEmbedding(deps: Deps, tenantId: string, subjectId: string, subject: number): Promise<{ embedding: Float32Array; cached: boolean }> {
  const cacheKey = subjectEmbeddingKey(tenantId, subjectId, deps.pipeline.embeddingVersion);
  const hit = await read(deps, cacheKey);
  if (hit) return { embedding: asFloats(hit), cached: true };
  const photo = await read(deps, subjectImageKey(tenantId, subjectId));
  if (!photo) throw unknownSubject(subject, subjectId);
  const [embedding] = await deps.pipeline.encodeReferences([photo], [subject]);
  const body = Buffer.from(embedding.buffer, embedding.byteOffset, embedding.byteLength);
  await deps.clients.s3.send(new PutObjectCommand({ Bucket: deps.bucket, Key: cacheKey, Body: body, ContentType: "application/octet-stream" }));
  if (!(await exists(deps, subjectImageKey(tenantId, subjectId)))) {
    await deps.clients.s3.send(new DeleteObjectCommand({ Bucket: deps.bucket, Key: cacheKey }));
    throw unknownSubject(subject, subjectId);
  }
  return { embedding, cached: false };
}

/** Step 3's inputs for the pipeline: upload bytes, and stored subjects' embeddings in their place. */
export async function loadReferences(deps: Deps, tenantId: string, subjects: readonly SubjectRef[]): Promise<References> {
  const loaded = await Promise.all(
    subjects.map(async (s, i) => {
      if (s.subjectId) {
        const { embedding, cached } = await subjectEmbedding(deps, tenantId, s.subjectId, i);
        return { bytes: new Uint8Array(), embedding, cached };
      }
      const bytes = await read(deps, uploadKey(tenantId, s.uploadId!));
      if (!bytes) throw new AppError("unknown_upload", `Upload ${s.uploadId} (subjects[${i}]) is no longer in storage (deleted or expired); upload it again.`, { subject: i, uploadId: s.uploadId });
      return { bytes, embedding: undefined, cached: false };
    }),
  );
  return {
    references: loaded.map((l) => l.bytes),
    imageEmbeds: loaded.map((l) => l.embedding),
    cached: loaded.filter((l) => l.cached).length,
  } satisfies References & Pick<GenerateInput, "references" | "imageEmbeds">;
}
