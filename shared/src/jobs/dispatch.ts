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

/** How long one sender owns a job's dispatch before another may try again. */
export const DISPATCH_LEASE_MS = 60_000;

/**
 * Sends the message of a recorded job that may have none (a record without `dispatchedAt`: written
 * before the API sent messages first, or by tools and tests; every job after the local stack's
 * restart), then marks the record dispatched. A crash between the two leaves a `queued` job without
 * `dispatchedAt`, which `redispatchPending` sends again: no job is ever left that no runner will see. A dispatch lease on the record makes
 * concurrent senders (an idempotent replay, two sweepers) send one message, not several.
 * `force` skips the lease: the local stack's restart, when the emulator lost every message.
 * Returns false when another sender owns the dispatch or it is already done.
 */
export async function dispatchJob(d: Dispatcher, job: JobRecord, options: { force?: boolean } = {}): Promise<boolean> {
  const startedAt = Date.now();
  if (!options.force && !(await d.jobs.beginDispatch(job.tenantId, job.id, startedAt, DISPATCH_LEASE_MS))) return false;
  try {
    await sendJobMessage(d, job);
  } catch (e) {
    if (!options.force) await d.jobs.abandonDispatch(job.tenantId, job.id, startedAt).catch(() => undefined);
    throw e;
  }
  // The message is out: if this write fails, a sweep sends a duplicate after the lease, which the
  // runner's job lease makes harmless; the caller's request still succeeded.
  await d.jobs.markDispatched(job.tenantId, job.id).catch(() => undefined);
  return true;
}

/** Sends the job's message (the API's submissions: the message goes before the record, see submit-generation.ts). */
export async function sendJobMessage(d: Pick<Dispatcher, "sqs" | "queueUrl">, job: JobRecord): Promise<void> {
  await d.sqs.send(new SendMessageCommand({ QueueUrl: d.queueUrl, MessageBody: asciiJson(toQueueMessage(job)) }));
}

/**
 * JSON with every non-ASCII character as a \u escape: it parses back to the same value, and stays
 * within what every SQS implementation accepts (fauxqs refuses characters above U+FFFF, e.g. emoji).
 */
export const asciiJson = (value: unknown) =>
  JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);

export interface RedispatchOptions {
  /** Also resend `running` jobs and dispatched `queued` ones (local stack restart: fauxqs lost its messages). */
  all?: boolean;
  /** Leave jobs younger than this alone: their creator may still be dispatching them. */
  minAgeMs?: number;
  onError?: (job: JobRecord, error: unknown) => void;
}

/** Re-sends messages for jobs that may have none. Returns the ids it sent. */
export async function redispatchPending(d: Dispatcher, options: RedispatchOptions = {}): Promise<string[]> {
  const statuses = options.all ? (["queued", "running"] as const) : (["queued"] as const);
  const cutoff = Date.now() - (options.minAgeMs ?? 0);
  const sent: string[] = [];
  for (const job of await d.jobs.scanByStatus(statuses)) {
    if (!options.all && job.dispatchedAt) continue;
    if (Date.parse(job.createdAt) > cutoff) continue;
    try {
      if (await dispatchJob(d, job, { force: options.all })) sent.push(job.id);
    } catch (e) {
      // One job the queue refuses must not stop the others from being sent.
      options.onError?.(job, e);
    }
  }
  return sent;
}
