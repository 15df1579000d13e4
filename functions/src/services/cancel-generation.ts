import { TERMINAL_STATUSES } from "@troupe/shared/contracts/generation";
import { AppError } from "@troupe/shared/errors";
import { releaseQuota } from "@troupe/shared/jobs/release-quota";
import { newOutbox } from "@troupe/shared/records/deliveries";
import type { JobRecord, JobStore } from "@troupe/shared/records/jobs";
import type { UsageStore } from "@troupe/shared/records/usage";

export interface CancelDeps {
  jobs: Pick<JobStore, "get" | "transition" | "patchIf" | "markQuotaReleased">;
  usage: Pick<UsageStore, "release">;
  now: () => number;
  /** Wakes the webhook sender for a delivery just recorded; best effort (the sweeper finds it otherwise). */
  wakeWebhookSender?: (job: JobRecord) => Promise<void>;
}

/** A cancel races the runner at most a few times (queued → running → finished). */
const MAX_ATTEMPTS = 4;

const notFound = (id: string) => new AppError("not_found", `No generation ${id} for this key.`);

/**
 * queued → canceled at once (and the reserved quota goes back); running → `cancelRequested`, and
 * the runner stops at its next step; finished → `not_cancelable`. Every write is conditional on the
 * status just read; a lost write means the runner moved the job, so read again and decide again.
 */
export async function cancelGeneration(deps: CancelDeps, tenantId: string, id: string): Promise<JobRecord> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const job = await deps.jobs.get(tenantId, id);
    if (!job) throw notFound(id);
    if (TERMINAL_STATUSES.includes(job.status)) {
      // A cancel retried after a crash between the transition and the give-back finishes the give-back.
      await releaseQuota(deps, job);
      throw new AppError("not_cancelable", `Generation ${id} already finished (${job.status}).`, { status: job.status });
    }
    if (job.status === "queued") {
      const finishedAt = new Date(deps.now()).toISOString();
      // The outbox is written with the transition, as the runner's transitions do (durable webhooks).
      const webhook = newOutbox(job.spec, "canceled", deps.now());
      const canceled = await deps.jobs.transition(tenantId, id, ["queued"], "canceled", { finishedAt, cancelRequested: true, webhook });
      if (canceled) {
        await releaseQuota(deps, canceled);
        if (webhook) await deps.wakeWebhookSender?.(canceled).catch(() => undefined);
        return canceled;
      }
      continue;
    }
    if (job.cancelRequested) return job;
    const requested = await deps.jobs.patchIf(tenantId, id, "running", { cancelRequested: true });
    if (requested) return requested;
  }
  throw new AppError("internal_error", `Generation ${id} kept changing while canceling; retry.`);
}
