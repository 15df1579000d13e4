import { DeleteMessageCommand, type Message } from "@aws-sdk/client-sqs";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { QueueMessageSchema, type QueueMessage } from "@troupe/shared/contracts/queue-message";
import { safetyPolicyOf } from "@troupe/shared/contracts/safety";
import { deleteKeys } from "@troupe/shared/aws/delete-objects";
import { retentionTagging } from "@troupe/shared/contracts/retention";
import { CanceledError, isAppError } from "@troupe/shared/errors";
import { newOutbox, type JobRecord } from "@troupe/shared/records";
import { releaseQuota } from "@troupe/shared/jobs/release-quota";
import type { GenerateOutput, Progress } from "../pipeline/types.ts";
import { classifyError } from "./classify-error.ts";
import type { WorkerDeps } from "./deps.ts";
import { releaseMessage, startHeartbeat } from "./heartbeat.ts";
import { failJob, notifyTerminal } from "./notify.ts";
import { ProgressReporter } from "./progress-reporter.ts";
import { releaseInputs } from "./release-inputs.ts";
import { loadReferences } from "./subject-references.ts";

export const outputKey = (tenantId: string, jobId: string, n: number) => `outputs/${tenantId}/${jobId}/${n}.png`;
export const attentionKey = (tenantId: string, jobId: string, subject: number) => `outputs/${tenantId}/${jobId}/attention-${subject}.png`;

/**
 * Runs one delivery of one job message to its end (DESIGN §3). The message is deleted only once
 * the job is terminal; a retryable fault leaves it for redelivery. `shutdown` aborts the run when
 * the grace period is over; the message is then made visible again at once.
 */
export async function handleMessage(deps: WorkerDeps, message: Message, shutdown: AbortSignal): Promise<void> {
  const receipt = message.ReceiptHandle!;
  const deleteMessage = () => deps.clients.sqs.send(new DeleteMessageCommand({ QueueUrl: deps.queueUrl, ReceiptHandle: receipt }));

  // 1. Check the message; a malformed one ends its job where it can be identified.
  const parsed = parseMessage(message.Body);
  if (!parsed.ok) {
    deps.log("message_malformed", { messageId: message.MessageId, issue: parsed.issue });
    if (parsed.ids) {
      const record = await deps.jobs.get(parsed.ids.tenantId, parsed.ids.jobId);
      if (record) await failJob(deps, record, "internal_error", "The job's queue message was malformed; submit the job again.");
    }
    await deleteMessage();
    return;
  }
  const { jobId, tenantId } = parsed.message;

  // 2. Claim the job: queued → running, or take over a `running` job whose runner's lease lapsed.
  // One conditional write on the common path; the record is read only when the claim is refused.
  const leaseMs = deps.visibilityTimeoutS * 1000;
  const claimed = await claimOnceRecorded(deps, parsed.message, leaseMs);
  if (!claimed.running) return settleRefusedClaim(deps, claimed.stored, parsed.message, receipt, deleteMessage);
  const running = claimed.running;
  // The record's spec, not the message's: a message sent by a request that then lost the record's
  // conditional write (a takeover race, a crash) carries its own seed and image-URL uploads.
  const { spec } = running;
  if (running.cancelRequested) return finishCanceled(deps, running, deleteMessage);

  // The lease is renewed before the message's visibility, so the message never reappears while the lease holds.
  const renewLease = () => deps.jobs.patchIf(tenantId, jobId, "running", { leaseUntil: Date.now() + leaseMs }).then(() => undefined);
  const heartbeat = startHeartbeat(deps.clients.sqs, deps.queueUrl, receipt, deps.visibilityTimeoutS, renewLease, (e) => deps.log("heartbeat_failed", { jobId, error: String(e) }));
  /** Gives the job up for another run now: the lease ends and the message becomes visible after `delayS`. */
  const giveUp = async (delayS: number) => {
    await deps.jobs.patchIf(tenantId, jobId, "running", { leaseUntil: 0 }).catch(() => undefined);
    await releaseMessage(deps.clients.sqs, deps.queueUrl, receipt, delayS).catch(() => undefined);
  };
  const cancel = new AbortController();
  const signal = AbortSignal.any([cancel.signal, shutdown]);
  const progress = new ProgressReporter({
    jobs: deps.jobs,
    tenantId,
    jobId,
    intervalMs: deps.progressIntervalMs,
    onCancelRequested: () => cancel.abort(),
    onError: (e) => deps.log("progress_failed", { jobId, error: String(e) }),
  });
  deps.log("job_started", { jobId, tenantId, attempt: running.attempts });

  try {
    // 3. Reference images, then the pipeline.
    // A stored subject brings its cached embedding: no decode, no image encoder (subject-references.ts).
    const { references, imageEmbeds, cached } = await loadReferences(deps, tenantId, spec.subjects);
    const t0 = performance.now();
    let last = running.progress;
    const onProgress = (p: Progress) => progress.report((last = p), p.step === 0);
    // The policy the key had at submission; block and flag run the bundle's safety checker on every output.
    const output = await deps.pipeline.generate({ spec, references, imageEmbeds }, { signal, onProgress, safetyPolicy: safetyPolicyOf(running) });
    const inferenceMs = Math.round(performance.now() - t0);
    await progress.flush();

    // 4. Outputs under deterministic keys (a redelivery overwrites, never duplicates), the record, then usage:
    // recorded once, and only for a job that did reach `succeeded` (a redelivery completes it, see above).
    // A job deleted meanwhile (DELETE ends it `canceled` and scrubs it) stores nothing.
    if ((await deps.jobs.get(tenantId, jobId))?.status !== "running") throw new CanceledError("The job was deleted or ended while it ran.");
    const stored = await storeOutputs(deps, running, output);
    const gpuSeconds = Math.round(inferenceMs) / 1000;
    const done = await deps.jobs.transition(tenantId, jobId, ["running"], "succeeded", {
      ...stored,
      progress: { step: last.totalSteps, totalSteps: last.totalSteps },
      finishedAt: new Date().toISOString(),
      metrics: { queueMs: Math.max(0, Date.parse(running.startedAt ?? running.createdAt) - Date.parse(running.createdAt)), inferenceMs, gpuSeconds },
      webhook: newOutbox(spec, "succeeded"),
    });
    if (!done) await discardOutputs(deps, running, stored);
    if (done) {
      // The pace the API's queue estimates read: one PutItem, off the job's path (a lost sample only ages the average).
      void deps.pace?.record({ inferenceMs, totalSteps: last.totalSteps, width: spec.width, height: spec.height }).catch((e: unknown) => deps.log("pace_failed", { jobId, error: String(e) }));
      await recordUsage(deps, done);
      deps.log("job_succeeded", { jobId, inferenceMs, encodeMs: Math.round(output.timings.encodeMs), cachedSubjects: cached, ...safetyCounts(done) });
      await notifyTerminal(deps, done);
      await releaseInputs(deps, done);
    }
    await deleteMessage();
  } catch (error) {
    await heartbeat.stop();
    await progress.flush();
    if (shutdown.aborted) {
      deps.log("job_released", { jobId, reason: "shutdown" });
      await giveUp(0);
    } else if (cancel.signal.aborted || (isAppError(error) && error.code === "canceled")) {
      await finishCanceled(deps, running, deleteMessage, progress.lastStep);
    } else {
      const c = classifyError(error);
      if (c.kind === "permanent") {
        await failJob(deps, running, c.code, c.message);
        await deleteMessage();
      } else {
        // Back off a little before the redelivery; after maxReceiveCount the DLQ sweeper ends it.
        const receiveCount = Number(message.Attributes?.ApproximateReceiveCount ?? 1);
        deps.log("job_retry", { jobId, error: c.message, receiveCount });
        await giveUp(Math.min(60, 2 ** receiveCount));
      }
    }
  } finally {
    await heartbeat.stop();
  }
}

/** Every generated image counts, withheld or flagged ones too (the GPU work was done); the line also says how many were. */
const recordUsage = (deps: WorkerDeps, job: JobRecord) =>
  deps.usage.record(job.tenantId, job.quotaPeriod, job.id, job.spec.numImages, job.metrics?.gpuSeconds ?? 0, safetyCounts(job));

/** How many of a job's outputs the safety checker flagged, and how many of those policy block withheld. */
const safetyCounts = (job: JobRecord) => ({
  flagged: (job.outputs ?? []).filter((o) => o.safety?.flagged).length,
  withheld: (job.outputs ?? []).filter((o) => o.withheld).length,
});

/**
 * The API sends a job's message before it writes the record (functions submit-generation.ts), so a
 * runner can be handed the message a few milliseconds before the record exists. Such a claim is
 * tried again over about 1.5 s; the common path stays one conditional write.
 */
const RECORD_WAITS_MS = [25, 50, 100, 200, 400, 800];
type Claimed = { running: JobRecord; stored?: never } | { running: null; stored: JobRecord | null };

async function claimOnceRecorded(deps: WorkerDeps, message: QueueMessage, leaseMs: number): Promise<Claimed> {
  const { tenantId, jobId } = message;
  for (let attempt = 0; ; attempt++) {
    const running = await deps.jobs.claim(tenantId, jobId, Date.now(), leaseMs);
    if (running) return { running };
    const stored = await deps.jobs.getWithTombstone(tenantId, jobId);
    const wait = RECORD_WAITS_MS[attempt];
    if (stored || wait === undefined || !recordMayFollow(deps, message)) return { running: null, stored };
    if (attempt === 0) deps.log("record_pending", { jobId });
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

/**
 * Past its grace (TROUPE_RECORD_GRACE_S) a message without a record is an orphan: its request failed
 * or died between sending and recording, and no request lives that long.
 */
const recordMayFollow = (deps: WorkerDeps, message: QueueMessage) => Date.now() - Date.parse(message.enqueuedAt) < deps.recordGraceS * 1000;

/**
 * The claim was refused. A finished job's message is dropped (after completing what a crash may have
 * left: the usage record of a success, the give-back of a failure). A job another runner holds a live
 * lease on got a duplicate message: it is hidden until the lease would lapse, never deleted, so if
 * that runner dies this message redoes the job, and if it finishes the next delivery is dropped.
 * A message whose record has not appeared is looked at again once its request can no longer write
 * it (its grace), and dropped then if it is still alone.
 */
async function settleRefusedClaim(deps: WorkerDeps, stored: JobRecord | null, message: QueueMessage, receipt: string, deleteMessage: () => Promise<unknown>): Promise<void> {
  const { jobId } = message;
  if (!stored && recordMayFollow(deps, message)) {
    // Back once the grace is over: to run if the record appeared meanwhile, or to be dropped (so an
    // orphan takes one receive more, not maxReceiveCount of them into the DLQ and its alarm; a job
    // whose record was this slow has one attempt less, rare since the waits above cover the race).
    const delayS = Math.ceil((Date.parse(message.enqueuedAt) + deps.recordGraceS * 1000 - Date.now()) / 1000) + 1;
    deps.log("message_deferred", { jobId, delayS, reason: "record_pending" });
    await releaseMessage(deps.clients.sqs, deps.queueUrl, receipt, Math.min(43_200, delayS));
    return;
  }
  // A deleted job's tombstone: its quota and inputs were handled by the deletion.
  const record = stored?.deletedAt ? null : stored;
  if (record?.status === "running" && (record.leaseUntil ?? 0) >= Date.now()) {
    const delayS = Math.min(43_200, Math.ceil(((record.leaseUntil ?? 0) - Date.now()) / 1000) + 1);
    deps.log("message_deferred", { jobId, delayS });
    await releaseMessage(deps.clients.sqs, deps.queueUrl, receipt, delayS);
    return;
  }
  if (record?.status === "queued" || record?.status === "running") {
    await releaseMessage(deps.clients.sqs, deps.queueUrl, receipt, 0); // changed under us: try again
    return;
  }
  if (record?.status === "succeeded") await recordUsage(deps, record);
  else if (record) await releaseQuota(deps, record);
  if (record) await releaseInputs(deps, record); // e.g. canceled while queued: the API ended it, its inputs go now
  deps.log("message_dropped", { jobId, status: record?.status ?? "missing" });
  await deleteMessage();
}

async function finishCanceled(deps: WorkerDeps, record: JobRecord, deleteMessage: () => Promise<unknown>, step?: number): Promise<void> {
  const canceled = await deps.jobs.transition(record.tenantId, record.id, ["running"], "canceled", { finishedAt: new Date().toISOString(), webhook: newOutbox(record.spec, "canceled") });
  if (canceled) {
    await releaseQuota(deps, canceled);
    deps.log("job_canceled", { jobId: record.id, step: canceled.progress.step });
    await notifyTerminal(deps, canceled);
    await releaseInputs(deps, canceled);
  } else {
    // Ended elsewhere, e.g. DELETE (canceled and scrubbed in one write, its quota and inputs handled there).
    deps.log("job_stopped", { jobId: record.id, step: step ?? record.progress.step, totalSteps: record.progress.totalSteps });
  }
  await deleteMessage();
}

/**
 * The final transition was lost after the outputs were written: the job was deleted (or ended) while
 * it ran. Its objects go unless the record is a live success (a duplicate run that finished first
 * wrote the same deterministic keys, and the record points at them).
 */
async function discardOutputs(deps: WorkerDeps, job: JobRecord, stored: Pick<JobRecord, "outputs" | "attentionMaps">): Promise<void> {
  const record = await deps.jobs.get(job.tenantId, job.id);
  if (record?.status === "succeeded") return;
  const keys = [...(stored.outputs ?? []), ...(stored.attentionMaps ?? [])].map((o) => o.key);
  await deleteKeys(deps.clients.s3, deps.bucket, keys);
  deps.log("outputs_discarded", { jobId: job.id, objects: keys.length });
}

async function storeOutputs(deps: WorkerDeps, job: JobRecord, output: GenerateOutput): Promise<Pick<JobRecord, "outputs" | "attentionMaps">> {
  // A key's shorter retention: tagged as written, for the bucket's tag-filtered lifecycle rule (contracts/retention.ts).
  const Tagging = retentionTagging((await deps.keys.get(job.tenantId))?.retention?.outputsDays);
  const put = (Key: string, Body: Buffer) => deps.clients.s3.send(new PutObjectCommand({ Bucket: deps.bucket, Key, Body, ContentType: "image/png", Tagging }));
  const outputs = await Promise.all(
    output.images.map(async (img, n) => {
      const key = outputKey(job.tenantId, job.id, n);
      const safety = img.safety ? { safety: { flagged: img.safety.flagged } } : {};
      // Policy block: a flagged image is never written; the record says it was withheld and why.
      if (img.safety?.flagged && safetyPolicyOf(job) === "block") return { key, width: img.width, height: img.height, ...safety, withheld: "safety" as const };
      await put(key, img.png);
      return { key, width: img.width, height: img.height, ...safety };
    }),
  );
  const attentionMaps = await Promise.all(
    output.attentionMaps.map(async (m) => {
      const key = attentionKey(job.tenantId, job.id, m.subject);
      await put(key, m.png);
      return { subject: m.subject, key };
    }),
  );
  return { outputs, attentionMaps };
}

type Parsed = { ok: true; message: QueueMessage } | { ok: false; issue: string; ids?: { jobId: string; tenantId: string } };

function parseMessage(body: string | undefined): Parsed {
  let json: unknown;
  try {
    json = JSON.parse(body ?? "");
  } catch {
    return { ok: false, issue: "not JSON" };
  }
  const result = QueueMessageSchema.safeParse(json);
  if (result.success) return { ok: true, message: result.data };
  const o = (json ?? {}) as Record<string, unknown>;
  const ids = typeof o.jobId === "string" && typeof o.tenantId === "string" && o.jobId.startsWith("gen_") ? { jobId: o.jobId, tenantId: o.tenantId } : undefined;
  return { ok: false, issue: result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "), ids };
}
