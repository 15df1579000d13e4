import { randomInt } from "node:crypto";
import { GenerationSpecSchema, MAX_SEED, type CreateGeneration, type GenerationSpec } from "@troupe/shared/contracts/generation";
import { AppError } from "@troupe/shared/errors";
import { newId } from "@troupe/shared/ids";
import { dispatchJob } from "@troupe/shared/jobs/dispatch";
import type { ApiKeyRecord } from "@troupe/shared/records/api-keys";
import { hashRequest } from "@troupe/shared/records/idempotency";
import type { JobRecord } from "@troupe/shared/records/jobs";
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

/** Every 4xx check, reads only: a rejected request writes nothing. */
async function validate(deps: AppDeps, tenantId: string, body: CreateGeneration): Promise<GenerationSpec> {
  const { manifest } = deps.model;
  // 1. Against the model: sizes and subject count (400), then the prompt as the runner parses it (422)
  const size = resolveSize(body, manifest);
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

type Claim = { kind: "new"; jobId: string } | { kind: "replay"; job: JobRecord };

/**
 * Same key + same body → the original job; same key + another body → 409. The hash is over the
 * validated body before a seed is drawn (defaults filled, keys in schema order), so resending the
 * same request always matches. A claim whose job does not exist (a crash between claim and
 * create, or a quota rejection) is completed with the claimed job id.
 */
async function claim(deps: AppDeps, tenantId: string, idempotencyKey: string, body: CreateGeneration): Promise<Claim> {
  const jobId = newId("gen", deps.now());
  const result = await deps.stores.idempotency.claim(tenantId, idempotencyKey, hashRequest(body), jobId);
  if (result.won) return { kind: "new", jobId };
  if (result.existing.requestHash !== hashRequest(body)) {
    throw new AppError("idempotency_conflict", "This Idempotency-Key was used with a different request body.", { jobId: result.existing.jobId });
  }
  const job = await deps.stores.jobs.get(tenantId, result.existing.jobId);
  return job ? { kind: "replay", job } : { kind: "new", jobId: result.existing.jobId };
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

/** POST /v1/generations: validate, claim the idempotency key, reserve quota, record, enqueue. */
export async function submitGeneration(deps: AppDeps, input: SubmitInput): Promise<SubmitOutput> {
  const tenantId = input.key.keyId;
  const spec = await validate(deps, tenantId, input.body);

  let jobId = newId("gen", deps.now());
  if (input.idempotencyKey) {
    const claimed = await claim(deps, tenantId, input.idempotencyKey, input.body);
    if (claimed.kind === "replay") {
      if (claimed.job.status === "queued" && !claimed.job.dispatchedAt) await dispatch(deps, claimed.job);
      return { job: claimed.job, replayed: true };
    }
    jobId = claimed.jobId;
  }

  const now = deps.now();
  const quotaPeriod = await reserveQuota(deps.stores.usage, tenantId, spec.numImages, input.key.monthlyImages, now);
  const job: JobRecord = {
    tenantId,
    id: jobId,
    status: "queued",
    spec,
    createdAt: new Date(now).toISOString(),
    progress: { step: 0, totalSteps: spec.steps },
    quotaPeriod,
  };
  if (!(await deps.stores.jobs.create(job))) {
    // A concurrent request with the same Idempotency-Key created it first: give our reservation back.
    await deps.stores.usage.release(tenantId, quotaPeriod, spec.numImages, "canceled");
    const existing = await deps.stores.jobs.get(tenantId, jobId);
    if (!existing) throw new AppError("internal_error", "The job could not be recorded; retry the request.");
    return { job: existing, replayed: true };
  }
  await dispatch(deps, job);
  return { job: { ...job, dispatchedAt: new Date().toISOString() }, replayed: false };
}
