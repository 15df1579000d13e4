import { deletePrefix } from "@troupe/shared/aws/delete-objects";
import type { S3Client } from "@aws-sdk/client-s3";
import { AppError } from "@troupe/shared/errors";
import { releaseQuota } from "@troupe/shared/jobs/release-quota";
import type { JobStore } from "@troupe/shared/records/jobs";
import { deleteJobUploads } from "@troupe/shared/jobs/delete-job-uploads";
import type { UploadStore } from "@troupe/shared/records/uploads";
import type { UsageStore } from "@troupe/shared/records/usage";

export interface DeleteGenerationDeps {
  s3: S3Client;
  bucket: string;
  jobs: Pick<JobStore, "getWithTombstone" | "erase" | "markQuotaReleased">;
  usage: Pick<UsageStore, "release">;
  uploads: Pick<UploadStore, "delete">;
  now: () => number;
}

/** The job's outputs and attention maps (DESIGN §3 S3 keys). */
export const jobOutputsPrefix = (tenantId: string, jobId: string) => `outputs/${tenantId}/${jobId}/`;

/** A delete races the runner at most a few times (queued → running → finished). */
const MAX_ATTEMPTS = 4;

/**
 * DELETE /v1/generations/{id}. 1. Scrub the record in one conditional write (a queued or running job
 * ends `canceled` in it, so the runner's final transition loses and it stores nothing; see
 * handle-message's lost-transition cleanup). 2. Give a canceled job's reservation back. 3. Delete
 * every object under the job's prefix, so presigned URLs stop working. Succeeded jobs keep their
 * usage lines (usage table), the tombstone keeps status, numImages and metrics.
 */
export async function deleteGeneration(deps: DeleteGenerationDeps, tenantId: string, id: string): Promise<void> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const job = await deps.jobs.getWithTombstone(tenantId, id);
    if (!job) throw new AppError("not_found", `No generation ${id} for this key.`);
    if (job.deletedAt) {
      // Already deleted: reads 404 as DESIGN §2 says, but a retry after a crash between the scrub and
      // the object deletes finishes them first (deleting what is already gone is a no-op).
      await deletePrefix(deps.s3, deps.bucket, jobOutputsPrefix(tenantId, id));
      throw new AppError("not_found", `No generation ${id} for this key.`);
    }
    const erased = await deps.jobs.erase(job, deps.now());
    if (!erased) continue; // the runner moved it: read again
    await releaseQuota(deps, erased);
    // After the write: a runner that stored outputs before it lost its transition has them removed here,
    // one that stores after it sees the tombstone and removes its own.
    await deletePrefix(deps.s3, deps.bucket, jobOutputsPrefix(tenantId, id));
    // retainInputs: false: the job ended here, and the scrubbed record no longer names its uploads.
    if (job.spec.retainInputs === false) await deleteJobUploads(deps, tenantId, job.spec);
    return;
  }
  throw new AppError("internal_error", `Generation ${id} kept changing while deleting; retry.`);
}
