import { presentJob } from "@troupe/shared/jobs/present";
import { releaseQuota } from "@troupe/shared/jobs/release-quota";
import { checkWebhookUrl, dnsResolver } from "@troupe/shared/webhooks/webhook-url";
import type { JobRecord } from "@troupe/shared/records";
import type { WorkerDeps } from "./deps.ts";

/**
 * Queues the terminal-state webhook for a job, signed with its key's current secret. Never throws:
 * the job is already terminal, and a failure here must not send it down the retry path.
 */
export async function notifyTerminal(deps: WorkerDeps, record: JobRecord): Promise<void> {
  try {
    await queueWebhook(deps, record);
  } catch (e) {
    deps.log("webhook_not_queued", { jobId: record.id, error: e instanceof Error ? e.message : String(e) });
  }
}

async function queueWebhook(deps: WorkerDeps, record: JobRecord): Promise<void> {
  const url = record.spec.webhookUrl;
  if (!url) return;
  // Checked again at delivery: the host's DNS may have moved to a private address since submission.
  try {
    await checkWebhookUrl(url, { localMode: deps.webhookLocalMode, resolve: dnsResolver });
  } catch (e) {
    deps.log("webhook_refused", { jobId: record.id, reason: e instanceof Error ? e.message : String(e) });
    return;
  }
  const key = await deps.keys.get(record.tenantId);
  if (!key) return;
  const job = await presentJob(record, { s3: deps.clients.s3, bucket: deps.bucket, urlTtlS: deps.outputUrlTtlS });
  deps.webhooks.send({ url, secret: key.webhookSecret, id: `${record.id}_${record.status}`, body: JSON.stringify(job) });
}

/** Ends a job `failed` (from any non-terminal state), gives its quota back and notifies. No-op if already terminal. */
export async function failJob(deps: WorkerDeps, record: JobRecord, code: string, message: string): Promise<void> {
  const failed = await deps.jobs.transition(record.tenantId, record.id, ["queued", "running"], "failed", {
    error: { code, message },
    finishedAt: new Date().toISOString(),
  });
  if (!failed) return;
  await releaseQuota(deps, failed);
  deps.log("job_failed", { jobId: record.id, code, message });
  await notifyTerminal(deps, failed);
}
