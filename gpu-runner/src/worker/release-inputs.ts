import { DeleteObjectCommand } from "@aws-sdk/client-s3";
import { uploadKey, type JobRecord } from "@troupe/shared/records";
import type { WorkerDeps } from "./deps.ts";

/**
 * `retainInputs: false`: once the job is terminal, the uploads it used go (record and photo), as
 * DELETE /v1/uploads would. Stored subjects are kept: the caller made them to be reused. Never
 * throws: the job has ended, and a failure here is logged (the lifecycle rule still expires them).
 */
export async function releaseInputs(deps: Pick<WorkerDeps, "clients" | "bucket" | "uploads" | "log">, job: JobRecord): Promise<void> {
  if (job.spec.retainInputs !== false) return;
  const uploadIds = [...new Set(job.spec.subjects.flatMap((s) => (s.uploadId ? [s.uploadId] : [])))];
  try {
    for (const id of uploadIds) {
      await deps.uploads.delete(job.tenantId, id);
      await deps.clients.s3.send(new DeleteObjectCommand({ Bucket: deps.bucket, Key: uploadKey(job.tenantId, id) }));
    }
    if (uploadIds.length) deps.log("inputs_deleted", { jobId: job.id, uploads: uploadIds.length });
  } catch (e) {
    deps.log("inputs_not_deleted", { jobId: job.id, error: e instanceof Error ? e.name : "unknown" });
  }
}
