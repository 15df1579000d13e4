import type { JobRecord, JobStore } from "../records/jobs.ts";
import type { UsageStore } from "../records/usage.ts";

/**
 * Gives a failed or canceled job's reservation back, once: the job record's `quotaReleased` flag is
 * the guard, so whoever ends the job (API cancel, runner, DLQ sweeper) and whoever retries after a
 * crash between the transition and the give-back can all call this safely. A crash between the flag
 * and the counter update loses that one give-back (no transactions in dynalite): never a double one.
 */
export async function releaseQuota(stores: { jobs: Pick<JobStore, "markQuotaReleased">; usage: Pick<UsageStore, "release"> }, job: JobRecord): Promise<void> {
  if (job.status !== "failed" && job.status !== "canceled") return;
  if (!(await stores.jobs.markQuotaReleased(job.tenantId, job.id))) return;
  await stores.usage.release(job.tenantId, job.quotaPeriod, job.spec.numImages, job.status);
}
