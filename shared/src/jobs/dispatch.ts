import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { QueueMessageSchema, type QueueMessage } from "../contracts/queue-message.ts";
import type { JobRecord, JobStore } from "../records/jobs.ts";

export interface Dispatcher {
  sqs: SQSClient;
  queueUrl: string;
  jobs: JobStore;
}

export const toQueueMessage = (job: JobRecord): QueueMessage =>
  QueueMessageSchema.parse({ v: 1, jobId: job.id, tenantId: job.tenantId, spec: job.spec, enqueuedAt: new Date().toISOString() });

/**
 * Sends the job's message, then marks the record dispatched. The record is written first, so a
 * crash between the two leaves a `queued` job without `dispatchedAt`, which `redispatchPending`
 * sends again: no job is ever left that no runner will see. A duplicate message is harmless
 * because every status change is conditional.
 */
export async function dispatchJob(d: Dispatcher, job: JobRecord): Promise<void> {
  await d.sqs.send(new SendMessageCommand({ QueueUrl: d.queueUrl, MessageBody: JSON.stringify(toQueueMessage(job)) }));
  await d.jobs.markDispatched(job.tenantId, job.id);
}

export interface RedispatchOptions {
  /** Also resend `running` jobs and dispatched `queued` ones (local stack restart: fauxqs lost its messages). */
  all?: boolean;
  /** Leave jobs younger than this alone: their creator may still be dispatching them. */
  minAgeMs?: number;
}

/** Re-sends messages for jobs that may have none. Returns the ids it sent. */
export async function redispatchPending(d: Dispatcher, options: RedispatchOptions = {}): Promise<string[]> {
  const statuses = options.all ? (["queued", "running"] as const) : (["queued"] as const);
  const cutoff = Date.now() - (options.minAgeMs ?? 0);
  const sent: string[] = [];
  for (const job of await d.jobs.scanByStatus(statuses)) {
    if (!options.all && job.dispatchedAt) continue;
    if (Date.parse(job.createdAt) > cutoff) continue;
    await dispatchJob(d, job);
    sent.push(job.id);
  }
  return sent;
}
