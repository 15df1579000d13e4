import type { S3Client } from "@aws-sdk/client-s3";
import { presentJob } from "../jobs/present.ts";
import { liveWebhookSecrets, type ApiKeyStore } from "../records/api-keys.ts";
import type { DeliveryAttempt, DeliveryState, DeliveryStore } from "../records/deliveries.ts";
import type { JobStore } from "../records/jobs.ts";
import { deferFor, type DeliveryAction, type DeliveryMessage } from "./delivery-queue.ts";
import { postWebhook, type PostOutcome } from "./post-webhook.ts";
import { nextDelayMs } from "./schedule.ts";
import { signWebhook } from "./sign.ts";
import { checkWebhookUrl, dnsResolver, webhookConnectLookup, type HostResolver } from "./webhook-url.ts";

export interface DeliveryDeps {
  jobs: Pick<JobStore, "get">;
  deliveries: Pick<DeliveryStore, "claim" | "record">;
  keys: Pick<ApiKeyStore, "get">;
  s3: S3Client;
  bucket: string;
  outputUrlTtlS: number;
  /** Waits between attempts (config TROUPE_WEBHOOK_SCHEDULE). */
  schedule: readonly number[];
  timeoutMs: number;
  /** TROUPE_LOCAL_MODE: http and loopback receivers allowed. */
  localMode: boolean;
  resolve?: HostResolver;
  now?: () => number;
  random?: () => number;
  log: (event: string, fields?: Record<string, unknown>) => void;
}

/** A claim outlives the POST's own timeout, so an attempt is never made twice at once. */
export const CLAIM_SLACK_MS = 5_000;

/**
 * Handles one wake-up for one job's delivery and says what to do with the message:
 *   1. read the outbox; nothing pending → delete the message
 *   2. not due yet, or another sender mid-attempt → hide the message until then
 *   3. claim the attempt (conditional write), sign with the secrets live now, POST
 *   4. log the attempt with its outcome and the next due time (conditional write)
 *   5. delivered or out of attempts → delete; else hide until the next attempt.
 */
export async function processDelivery(deps: DeliveryDeps, message: DeliveryMessage): Promise<DeliveryAction> {
  const now = deps.now?.() ?? Date.now();
  // 1. The record is the source of truth; the message only woke us.
  const job = await deps.jobs.get(message.tenantId, message.jobId);
  const w = job?.webhook;
  if (!job || !w || w.state !== "pending" || !job.spec.webhookUrl) return { kind: "delete" };

  // 2. Someone else's attempt in flight: its message carries the delivery on (and reappears if that
  //    sender dies), so this duplicate leaves. Early (a redelivered message, the sweeper's): wait.
  if (w.sendingUntil && w.sendingUntil > now) return { kind: "delete" };
  if (w.nextAttemptAt > now + 500) return deferFor(w.nextAttemptAt - now);

  // 3. Claim, then send.
  const ref = { round: w.round, attempt: w.attempt };
  const claimed = await deps.deliveries.claim(job.tenantId, job.id, ref, now, deps.timeoutMs + CLAIM_SLACK_MS);
  if (!claimed) return { kind: "delete" }; // another sender claimed it (its message goes on) or the outbox moved on
  const attempt = ref.attempt + 1;
  const webhookId = `${job.id}_${w.event}`;
  const outcome = await send(deps, claimed, webhookId, now);

  // 4. Log it and schedule the next one.
  const retryIn = outcome.ok ? null : nextDelayMs(deps.schedule, attempt, { random: deps.random, retryAfterMs: outcome.retryAfterMs });
  const state: DeliveryState = outcome.ok ? "delivered" : retryIn === null ? "failed" : "pending";
  const doneAt = deps.now?.() ?? Date.now();
  const entry: DeliveryAttempt = {
    at: new Date(now).toISOString(),
    attempt,
    redelivery: ref.round,
    status: outcome.status,
    durationMs: outcome.durationMs,
    error: outcome.error,
  };
  const recorded = await deps.deliveries.record(job.tenantId, job.id, ref, { entry, state, nextAttemptAt: retryIn === null ? doneAt : doneAt + retryIn });
  deps.log(outcome.ok ? "webhook_delivered" : state === "failed" ? "webhook_gave_up" : "webhook_failed", {
    webhookId,
    attempt,
    redelivery: ref.round,
    status: outcome.status,
    error: outcome.error,
    retryInMs: retryIn,
  });
  // A redelivery replaced the round while we sent: its own message carries on from here.
  if (!recorded) return { kind: "delete" };

  // 5.
  return retryIn === null ? { kind: "delete" } : deferFor(retryIn);
}

/** Signs at send time with every secret live now (a rotation's overlap), so a late retry carries the current ones. */
async function send(deps: DeliveryDeps, job: NonNullable<Awaited<ReturnType<DeliveryDeps["jobs"]["get"]>>>, webhookId: string, now: number): Promise<PostOutcome> {
  const url = job.spec.webhookUrl!;
  // Checked at every attempt: the host's DNS may have moved to a private address since submission.
  const rules = { localMode: deps.localMode, resolve: deps.resolve ?? dnsResolver };
  try {
    await checkWebhookUrl(url, rules);
  } catch (e) {
    return { ok: false, status: null, durationMs: 0, error: `refused: ${e instanceof Error ? e.message : String(e)}` };
  }
  const key = await deps.keys.get(job.tenantId);
  if (!key) return { ok: false, status: null, durationMs: 0, error: "the API key no longer exists" };
  const body = JSON.stringify(await presentJob(job, { s3: deps.s3, bucket: deps.bucket, urlTtlS: deps.outputUrlTtlS, now }));
  const headers = signWebhook(liveWebhookSecrets(key, now), webhookId, body, Math.floor(now / 1000));
  return postWebhook(url, headers, body, deps.timeoutMs, webhookConnectLookup(rules));
}
