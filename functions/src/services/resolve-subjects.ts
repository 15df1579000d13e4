import type { CreateGeneration } from "@troupe/shared/contracts/generation";
import { checkStoredSubject, type SubjectCheckDeps } from "./subject-checks.ts";
import { imageUrlToUpload, type ImageUrlSubjectDeps } from "./image-url-subject.ts";
import { checkUpload, type UploadCheckDeps } from "./upload-checks.ts";

/** One subject of a create-generation body. */
export type SubjectInput = CreateGeneration["subjects"][number];

export type ResolveSubjectsDeps = UploadCheckDeps & SubjectCheckDeps & { imageUrls: ImageUrlSubjectDeps };

/**
 * Checks one subject and returns it as it goes into the job spec. One case per kind of subject; all
 * read only, except an image URL, which is stored as an upload (image-url-subject.ts).
 */
async function resolveSubject(deps: ResolveSubjectsDeps, tenantId: string, subject: SubjectInput, index: number): Promise<SubjectInput> {
  if (subject.uploadId !== undefined) {
    await checkUpload(deps, tenantId, subject.uploadId, index);
    return subject;
  }
  if (subject.subjectId !== undefined) {
    await checkStoredSubject(deps, tenantId, subject.subjectId, index);
    return subject;
  }
  // The schema lets exactly one of the three through: this is an image URL, fetched once and kept as an upload.
  const { imageUrl, ...rest } = subject;
  return { ...rest, uploadId: await imageUrlToUpload(deps.imageUrls, tenantId, imageUrl!, index) };
}

/**
 * Every subject of a submission, checked in parallel (one round trip of latency for all of them).
 * Reports the first failing subject in prompt order.
 */
export async function resolveSubjects(deps: ResolveSubjectsDeps, tenantId: string, subjects: SubjectInput[]): Promise<SubjectInput[]> {
  const results = await Promise.allSettled(subjects.map((s, i) => resolveSubject(deps, tenantId, s, i)));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<SubjectInput>).value);
}
