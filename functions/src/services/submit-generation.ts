import { randomInt } from "node:crypto";
import { GenerationSpecSchema, MAX_SEED, type CreateGeneration, type GenerationSpec } from "@troupe/shared/contracts/generation";
import { AppError } from "@troupe/shared/errors";
import { newId } from "@troupe/shared/ids";
import { dispatchJob } from "@troupe/shared/jobs/dispatch";
import type { ApiKeyRecord } from "@troupe/shared/records/api-keys";
import { hashRequest } from "@troupe/shared/records/idempotency";
import type { JobRecord } from "@troupe/shared/records/jobs";
import type { IdempotencyRecord } from "@troupe/shared/records/idempotency";
import type { AppDeps } from "../deps.ts";
import { checkPrompt, checkSubjectLimit, resolveSize } from "./model-checks.ts";
import { reserveQuota } from "./quota.ts";
import { checkSubjectUploads } from "./upload-checks.ts";
import { checkWebhookUrl } from "@troupe/shared/webhooks/webhook-url";

export interface SubmitInput {
  key: ApiKeyRecord;
  /** The validated body, defaults filled in, seed still as sent. */
  body: CreateGeneration;
  idempotencyKey?: string;
}

export interface SubmitOutput {
  job: JobRecord;
  /** True when an Idempotency-Key matched an earlier request and its job is returned. */
  replayed: boolean;
}

const randomSeed = () => randomInt(0, MAX_SEED);

/** A claim younger than this without its job is a request still in flight, not a crashed one. */
const CLAIM_IN_FLIGHT_MS = 30_000;

/** Every 4xx check, reads only: a rejected request writes nothing. */
async function validate(deps: AppDeps, tenantId: string, body: CreateGeneration, size: { width: number; height: number }): Promise<GenerationSpec> {
  const { manifest } = deps.model;
  // 1. Against the model: subject count (400), then the prompt as the runner parses it (422)
  checkSubjectLimit(body.subjects.length, manifest);
  checkPrompt(body, deps.model);
  // 2. The webhook must reach a public host
  if (body.webhookUrl) await checkWebhookUrl(body.webhookUrl, { localMode: deps.config.TROUPE_LOCAL_MODE, resolve: deps.resolveHost });
  // 3. Each subject's upload exists, is this tenant's and is the image it claims to be
  const { s3 } = deps.clients;
  await checkSubjectUploads({ s3, bucket: deps.config.TROUPE_BUCKET, uploads: deps.stores.uploads }, tenantId, body.subjects.map((s) => s.uploadId));
  // 4. Normalize: every default filled in, the seed actually used
  return GenerationSpecSchema.parse({ ...body, ...size, seed: body.seed ?? randomSeed() });
}

/** What an earlier claim of the same Idempotency-Key means for this request. */
type Replay = { kind: "job"; job: JobRecord } | { kind: "takeover"; claim: IdempotencyRecord } | null;

/**
 * Same key + same body → the original job; same key + another body → 409. A claim whose job is
 * missing is a request in flight (409, retry shortly) or, once old, one that crashed between claim
 * and create: this request completes it under the claimed id and reservation.
 */
async function replayOf(deps: AppDeps, claim: IdempotencyRecord, requestHash: string): Promise<Replay> {
  if (claim.requestHash !== requestHash) {
    throw new AppError("idempotency_conflict", "This Idempotency-Key was used with a different request body.", { jobId: claim.jobId });
  }
  const job = await deps.stores.jobs.get(claim.tenantId, claim.jobId);
  if (job) return { kind: "job", job };
  if (deps.now() - Date.parse(claim.createdAt) < CLAIM_IN_FLIGHT_MS) {
    throw new AppError("idempotency_conflict", "A request with this Idempotency-Key is still in progress; retry it in a few seconds.", { jobId: claim.jobId });
  }
  return { kind: "takeover", claim };
}

async function dispatch(deps: AppDeps, job: JobRecord): Promise<void> {
  try {
    await dispatchJob({ sqs: deps.clients.sqs, queueUrl: deps.queueUrl, jobs: deps.stores.jobs }, job);
  } catch (e) {
    // The job is recorded (queued, no dispatchedAt): the sweeper (redispatchPending, run by the
    // runners) sends it later, and a retry with the same Idempotency-Key sends it at once.
    throw new AppError("internal_error", "The job was recorded but could not be queued yet; it will be queued automatically.", {
      jobId: job.id,
      cause: e instanceof Error ? e.name : "unknown",
    });
  }
}

/** A replayed job is returned as it is; one still waiting for its message gets it now (the dispatch lease keeps it to one). */
async function replayed(deps: AppDeps, job: JobRecord): Promise<SubmitOutput> {
  if (job.status === "queued" && !job.dispatchedAt) await dispatch(deps, job);
  return { job, replayed: true };
}

/**
 * POST /v1/generations. Order matters for "a rejection writes nothing" and "one job per key":
 * replay check → validation (reads only) → quota reservation → idempotency claim → job record → message.
 * A failure after the reservation gives it back and drops the claim.
 */
export async function submitGeneration(deps: AppDeps, input: SubmitInput): Promise<SubmitOutput> {
  const tenantId = input.key.keyId;
  const { idempotencyKey, body } = input;
  const size = resolveSize(body, deps.model.manifest);
  const requestHash = hashRequest({ ...body, ...size });

  // 1. A key seen before: answer from its claim, before any other work.
  let takeover: IdempotencyRecord | undefined;
  if (idempotencyKey) {
    const claim = await deps.stores.idempotency.get(tenantId, idempotencyKey, deps.now());
    const replay = claim ? await replayOf(deps, claim, requestHash) : null;
    if (replay?.kind === "job") return replayed(deps, replay.job);
    takeover = replay?.claim;
  }

  // 2. Validate (reads only), then reserve quota: a rejection so far has written nothing.
  const spec = await validate(deps, tenantId, body, size);
  const now = deps.now();
  let quotaPeriod: string;
  try {
    quotaPeriod = takeover?.quotaPeriod ?? (await reserveQuota(deps.stores.usage, tenantId, spec.numImages, input.key.monthlyImages, now));
  } catch (e) {
    // The last images may have gone to a concurrent request with this same key: that is a replay, not a refusal.
    const claim = idempotencyKey ? await deps.stores.idempotency.get(tenantId, idempotencyKey, deps.now()) : null;
    if (!claim) throw e;
    const replay = await replayOf(deps, claim, requestHash);
    if (replay?.kind === "job") return replayed(deps, replay.job);
    throw e;
  }
  const jobId = takeover?.jobId ?? newId("gen", now);
  const job: JobRecord = {
    tenantId,
    id: jobId,
    status: "queued",
    spec,
    createdAt: new Date(now).toISOString(),
    progress: { step: 0, totalSteps: spec.steps * spec.numImages },
    quotaPeriod,
  };

  // 3. Claim the key, then record the job; undo the reservation and the claim if either fails.
  let claimed = false;
  let reserved = !takeover;
  try {
    if (idempotencyKey && !takeover) {
      const claim = await deps.stores.idempotency.claim(tenantId, idempotencyKey, requestHash, jobId, quotaPeriod, now);
      if (!claim.won) {
        // A concurrent request with the same key got there first: ours was never needed.
        await deps.stores.usage.unreserve(tenantId, quotaPeriod, spec.numImages);
        reserved = false;
        const replay = await replayOf(deps, claim.existing, requestHash);
        if (replay?.kind === "job") return replayed(deps, replay.job);
        throw new AppError("idempotency_conflict", "A request with this Idempotency-Key is still in progress; retry it in a few seconds.", { jobId: claim.existing.jobId });
      }
      claimed = true;
    }
    if (!(await deps.stores.jobs.create(job))) {
      const existing = await deps.stores.jobs.get(tenantId, jobId);
      if (takeover && existing) return replayed(deps, existing); // another takeover finished first
      throw new AppError("internal_error", "The job could not be recorded; retry the request.");
    }
  } catch (e) {
    if (reserved) await deps.stores.usage.unreserve(tenantId, quotaPeriod, spec.numImages).catch(() => undefined);
    if (claimed && idempotencyKey) await deps.stores.idempotency.forget(tenantId, idempotencyKey, jobId).catch(() => undefined);
    throw e;
  }

  // 4. Send the message (the record is written, so a failure here is recovered by the sweeper).
  await dispatch(deps, job);
  return { job: { ...job, dispatchedAt: new Date(deps.now()).toISOString() }, replayed: false };
}
