import { deleteJobUploads } from "@troupe/shared/jobs/delete-job-uploads";
import type { JobRecord } from "@troupe/shared/records";
import type { WorkerDeps } from "./deps.ts";

/**
 * `retainInputs: false`: once the job is terminal, the uploads it used go (shared/jobs/delete-job-uploads).
 * Never throws: the job has ended, and a failure here is logged (the lifecycle rule still expires them).
 */
export async function releaseInputs(deps: Pick<WorkerDeps, "clients" | "bucket" | "uploads" | "log">, job: JobRecord): Promise<void> {
  if (job.spec.retainInputs !== false) return;
  try {
    const uploads = await deleteJobUploads({ s3: deps.clients.s3, bucket: deps.bucket, uploads: deps.uploads }, job.tenantId, job.spec);
    if (uploads) deps.log("inputs_deleted", { jobId: job.id, uploads });
  } catch (e) {
    deps.log("inputs_not_deleted", { jobId: job.id, error: e instanceof Error ? e.name : "unknown" });
  }
}
