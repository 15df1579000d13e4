import type { SQSClient } from "@aws-sdk/client-sqs";
import type { DeliveryStore } from "../records/deliveries.ts";
import { enqueueDelivery } from "./delivery-queue.ts";

export interface SweepDeliveriesDeps {
  sqs: SQSClient;
  queueUrl: string;
  deliveries: Pick<DeliveryStore, "scanPending">;
}

/**
 * Every pending delivery carries a message that wakes a sender when it is due. One overdue by
 * more than `overdueMs` has lost it (the writer died before sending it, the queue dropped it, the
 * local emulator restarted): send a fresh one. A duplicate costs one extra receive, never a second
 * POST (the attempt is claimed on the record). Returns the job ids it woke.
 */
export async function sweepDeliveries(deps: SweepDeliveriesDeps, overdueMs: number, now = Date.now()): Promise<string[]> {
  const woken: string[] = [];
  for (const { tenantId, id } of await deps.deliveries.scanPending(now - overdueMs)) {
    await enqueueDelivery(deps.sqs, deps.queueUrl, { tenantId, jobId: id });
    woken.push(id);
  }
  return woken;
}
