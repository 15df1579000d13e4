import { releaseQuota } from "@troupe/shared/jobs/release-quota";
import { newOutbox, type JobRecord } from "@troupe/shared/records";
import type { WorkerDeps } from "./deps.ts";
import { releaseInputs } from "./release-inputs.ts";

/**
 * Wakes the webhook sender for a job that just became terminal. The delivery itself is already
 * recorded: every terminal transition writes the outbox (`webhook: newOutbox(...)`) in the same
 * conditional write, so a runner dying right here loses nothing (the sweeper sends the message).
 * Never throws: the job is already terminal, and a failure here must not send it down the retry path.
 */
export async function notifyTerminal(deps: WorkerDeps, record: JobRecord): Promise<void> {
  await deps.webhooks.send(record);
}

/** Ends a job `failed` (from any non-terminal state), gives its quota back and notifies. No-op if already terminal. */
export async function failJob(deps: WorkerDeps, record: JobRecord, code: string, message: string): Promise<void> {
  const failed = await deps.jobs.transition(record.tenantId, record.id, ["queued", "running"], "failed", {
    error: { code, message },
    finishedAt: new Date().toISOString(),
    webhook: newOutbox(record.spec, "failed"),
  });
  if (!failed) return;
  await releaseQuota(deps, failed);
  deps.log("job_failed", { jobId: record.id, code, message });
  await notifyTerminal(deps, failed);
  await releaseInputs(deps, failed);
}
