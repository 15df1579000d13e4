import { ChangeMessageVisibilityCommand, DeleteMessageCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { TERMINAL_STATUSES } from "@troupe/shared/contracts/generation";
import type { WorkerDeps } from "./deps.ts";
import { releaseQuota } from "@troupe/shared/jobs/release-quota";
import { failJob } from "./notify.ts";

/**
 * Drains the DLQ once: every dead message's job ends `failed` with internal_error (never stays
 * `running` forever), its quota is given back, and the message is removed. Returns how many it swept.
 */
export async function sweepDeadLetters(deps: WorkerDeps, signal?: AbortSignal): Promise<number> {
  if (!deps.dlqUrl) return 0;
  let swept = 0;
  for (;;) {
    const out = await deps.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: deps.dlqUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 60 }), { abortSignal: signal });
    const messages = out.Messages ?? [];
    if (messages.length === 0) return swept;
    for (const m of messages) {
      const ids = extractIds(m.Body);
      const record = ids ? await deps.jobs.get(ids.tenantId, ids.jobId) : null;
      const leaseLeft = record?.status === "running" ? (record.leaseUntil ?? 0) - Date.now() : 0;
      if (record && leaseLeft > 0) {
        // A runner may be on it right now: look again once its lease has lapsed, never drop the message.
        await deps.clients.sqs.send(
          new ChangeMessageVisibilityCommand({ QueueUrl: deps.dlqUrl, ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: Math.min(43_200, Math.ceil(leaseLeft / 1000) + 1) }),
        );
        continue;
      }
      if (record && !TERMINAL_STATUSES.includes(record.status)) {
        await failJob(deps, record, "internal_error", "The job could not be completed after several attempts. Submit it again; your quota was not charged.");
      } else if (record) {
        await releaseQuota(deps, record); // finishes a give-back a crash interrupted; no-op otherwise
      }
      await deps.clients.sqs.send(new DeleteMessageCommand({ QueueUrl: deps.dlqUrl, ReceiptHandle: m.ReceiptHandle! }));
      swept++;
    }
  }
}

/** Reads just the ids: a dead message may be the malformed one that killed its runs. */
function extractIds(body: string | undefined): { jobId: string; tenantId: string } | null {
  try {
    const o = JSON.parse(body ?? "") as Record<string, unknown>;
    return typeof o.jobId === "string" && typeof o.tenantId === "string" ? { jobId: o.jobId, tenantId: o.tenantId } : null;
  } catch {
    return null;
  }
}
