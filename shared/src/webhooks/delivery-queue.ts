import { ChangeMessageVisibilityCommand, DeleteMessageCommand, GetQueueUrlCommand, SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { z } from "zod";
import type { ResourceConfig } from "../config.ts";

/**
 * The webhooks queue's message: which job's delivery to look at, nothing more. The job record's
 * outbox says what is due and when (records/deliveries.ts), so a duplicate or stale message is
 * harmless, and a lost one is re-sent by the sweeper.
 */
export const DeliveryMessageSchema = z.object({ v: z.literal(1), tenantId: z.string().min(1), jobId: z.string().startsWith("gen_") });
export type DeliveryMessage = z.infer<typeof DeliveryMessageSchema>;

/** What becomes of a received message: removed, or hidden until the next attempt is due. */
export type DeliveryAction = { kind: "delete" } | { kind: "defer"; delayS: number };

/**
 * SQS hides a message for at most 12 h counted from its receipt (the attempt itself used some of
 * that), so a hop stops short of it; a longer wait is reached in several hops.
 */
const MAX_VISIBILITY_S = 43_200 - 300;

export const deferFor = (ms: number): DeliveryAction => ({ kind: "defer", delayS: Math.min(MAX_VISIBILITY_S, Math.max(0, Math.ceil(ms / 1000))) });

export async function enqueueDelivery(sqs: SQSClient, queueUrl: string, ids: { tenantId: string; jobId: string }): Promise<void> {
  const body: DeliveryMessage = { v: 1, tenantId: ids.tenantId, jobId: ids.jobId };
  await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(body) }));
}

export async function applyAction(sqs: SQSClient, queueUrl: string, receiptHandle: string, action: DeliveryAction): Promise<void> {
  if (action.kind === "delete") await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle }));
  else await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: action.delayS }));
}

/** TROUPE_WEBHOOK_QUEUE_URL, else the queue named TROUPE_WEBHOOK_QUEUE_NAME; null when neither exists. */
export async function resolveWebhookQueueUrl(sqs: SQSClient, config: Pick<ResourceConfig, "TROUPE_WEBHOOK_QUEUE_URL" | "TROUPE_WEBHOOK_QUEUE_NAME">): Promise<string | null> {
  if (config.TROUPE_WEBHOOK_QUEUE_URL) return config.TROUPE_WEBHOOK_QUEUE_URL;
  try {
    return (await sqs.send(new GetQueueUrlCommand({ QueueName: config.TROUPE_WEBHOOK_QUEUE_NAME }))).QueueUrl ?? null;
  } catch {
    return null;
  }
}

/**
 * A wake-up sender for one process: the queue URL is found once; a missing queue is not fatal
 * (the sender's sweeper picks the delivery up from the job record).
 */
export function deliveryWaker(sqs: SQSClient, config: Pick<ResourceConfig, "TROUPE_WEBHOOK_QUEUE_URL" | "TROUPE_WEBHOOK_QUEUE_NAME">) {
  let queueUrl: Promise<string | null> | undefined;
  return async (ids: { tenantId: string; jobId: string }): Promise<void> => {
    try {
      const url = await (queueUrl ??= resolveWebhookQueueUrl(sqs, config));
      if (url) await enqueueDelivery(sqs, url, ids);
    } catch {
      // The delivery is already recorded; the sweeper sends it if this wake-up is lost.
    }
  };
}

/** Parses a message body; null for anything that is not ours (it is then deleted, never retried). */
export function parseDeliveryMessage(body: string | undefined): DeliveryMessage | null {
  try {
    const parsed = DeliveryMessageSchema.safeParse(JSON.parse(body ?? ""));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
