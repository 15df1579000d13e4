import { randomInt } from "node:crypto";
import { GenerationSpecSchema, MAX_SEED, type CreateGeneration, type GenerationSpec } from "@troupe/shared/contracts/generation";
import { safetyPolicyOf } from "@troupe/shared/contracts/safety";
import { AppError } from "@troupe/shared/errors";
import { newId } from "@troupe/shared/ids";
import { dispatchJob, sendJobMessage } from "@troupe/shared/jobs/dispatch";
import type { ApiKeyRecord } from "@troupe/shared/records/api-keys";
import { hashRequest, type IdempotencyRecord } from "@troupe/shared/records/idempotency";
import { usagePeriod } from "@troupe/shared/records/usage";
import type { JobRecord } from "@troupe/shared/records/jobs";
import { checkWebhookUrl } from "@troupe/shared/webhooks/webhook-url";
import type { AppDeps } from "../deps.ts";
import { checkPrompt, checkSubjectLimit, resolveSize } from "./model-checks.ts";
import { reserveQuota } from "./quota.ts";
import { imageUrlDeps } from "./image-url-subject.ts";
import { resolveSubjects } from "./resolve-subjects.ts";

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

/** The checks against the model, in memory: subject count (400), then the prompt as the runner parses it (422). Returns the refusal. */
function refusalByModel(deps: AppDeps, body: CreateGeneration): unknown {
  try {
    checkSubjectLimit(body.subjects.length, deps.model.manifest);
    checkPrompt(body, deps.model);
    return undefined;
  } catch (e) {
    return e;
  }
}

/**
 * The 4xx checks that read storage: the subjects and the webhook host at once. Reads only, except an
 * `imageUrl` subject, which is stored as an upload once `beforeStore` lets it (see image-url-subject.ts).
 */
async function validate(deps: AppDeps, key: ApiKeyRecord, body: CreateGeneration, size: { width: number; height: number }, beforeStore: () => Promise<void>): Promise<GenerationSpec> {
  // Each subject resolves (its upload exists, is this tenant's, is the image it claims), the webhook reaches a public host
  const imageUrls = { ...imageUrlDeps(deps, key.retention ?? {}), beforeStore };
  const subjectDeps = { s3: deps.clients.s3, bucket: deps.config.TROUPE_BUCKET, uploads: deps.stores.uploads, subjects: deps.stores.subjects, imageUrls };
  const [subjects] = await Promise.all([
    resolveSubjects(subjectDeps, key.keyId, body.subjects),
    body.webhookUrl ? checkWebhookUrl(body.webhookUrl, { localMode: deps.config.TROUPE_LOCAL_MODE, resolve: deps.resolveHost }) : undefined,
  ]);
  // Normalize: every default filled in, the seed actually used
  return GenerationSpecSchema.parse({ ...body, subjects, ...size, seed: body.seed ?? randomSeed() });
}

/** Why an `imageUrl` was not stored: another request holds this Idempotency-Key (its answer is given instead). */
const CLAIM_NOT_OURS = new Error("The Idempotency-Key is held by an earlier request.");
const open = async () => undefined;

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
  const job = await deps.stores.jobs.getWithTombstone(claim.tenantId, claim.jobId);
  if (job?.deletedAt) throw jobDeleted(claim.jobId);
  if (job) return { kind: "job", job };
  if (deps.now() - Date.parse(claim.createdAt) < CLAIM_IN_FLIGHT_MS) {
    throw new AppError("idempotency_conflict", "A request with this Idempotency-Key is still in progress; retry it in a few seconds.", { jobId: claim.jobId });
  }
  return { kind: "takeover", claim };
}

/**
 * The key's job was deleted (DELETE /v1/generations/{id}) within the key's 24 h. Not a replay: the
 * job reads 404 everywhere and its prompt and inputs are gone. Not a new job either: the caller asked
 * for this work to be erased, and a late retry must not quietly redo it. So 409 under the code
 * clients already treat as "this key cannot be used for this request"; `details.reason` tells the cases apart.
 */
const jobDeleted = (jobId: string) =>
  new AppError("idempotency_conflict", `The job this Idempotency-Key created (${jobId}) was deleted; send a new Idempotency-Key to create another.`, {
    jobId,
    reason: "job_deleted",
  });

const notQueuedYet = (jobId: string, e: unknown) =>
  // The job is recorded (queued, no dispatchedAt): the sweeper (redispatchPending, run by the
  // runners) sends it later, and a retry with the same Idempotency-Key sends it at once.
  new AppError("internal_error", "The job was recorded but could not be queued yet; it will be queued automatically.", {
    jobId,
    cause: e instanceof Error ? e.name : "unknown",
  });

/** A replayed job is returned as it is; one still waiting for its message gets it now (the dispatch lease keeps it to one). */
async function replayed(deps: AppDeps, job: JobRecord): Promise<SubmitOutput> {
  if (job.status === "queued" && !job.dispatchedAt) {
    await dispatchJob({ sqs: deps.clients.sqs, queueUrl: deps.queueUrl, jobs: deps.stores.jobs }, job).catch((e: unknown) => {
      throw notQueuedYet(job.id, e);
    });
  }
  return { job, replayed: true };
}

/**
 * POST /v1/generations. Storage round trips, in order (two subjects, Idempotency-Key, warm key cache):
 *   1. Idempotency-Key claim (conditional: one job per key) ‖ quota reservation (conditional: never
 *      over the limit) ‖ each subject's object: first bytes, size, declaration (one ranged GET;
 *      upload-checks.ts) ‖ the webhook host (DNS)
 *   2. queue message
 *   3. job record, marked dispatched   (conditional on a new id)
 * and nothing after the answer. A refusal (4xx) or a failure gives back what this request wrote (its
 * claim, its reservation) before answering; a replay gives its reservation back and answers from the
 * claim. The reservation runs beside the checks, so for the few milliseconds until a refused request
 * gives its reservation back, a concurrent one at the quota's edge may see the quota full: a refused
 * reservation is tried once more after the checks (see below), and never is one too many admitted.
 *
 * The message goes before the record, so a recorded job always has its message: nothing needs marking
 * after the answer, and no sweeper has to guess whether a job in a long backlog was ever sent. A runner
 * that receives the message before the record lands waits for it (gpu-runner handle-message.ts). A
 * crash between steps leaves: after 1, a claim without a job, which a retry with the same key takes
 * over once it is 30 s old (reserving anew), and a reservation without a job (counted against the
 * month, never one too many); after 2, also a message without a record, which runners drop once it
 * is older than any request can live (the runners' TROUPE_RECORD_GRACE_S); after 3, nothing.
 */
export async function submitGeneration(deps: AppDeps, input: SubmitInput): Promise<SubmitOutput> {
  const tenantId = input.key.keyId;
  const { idempotencyKey, body } = input;
  const size = resolveSize(body, deps.model.manifest);
  // Only a request with an Idempotency-Key is compared with another (canonical JSON + sha256 otherwise wasted).
  const requestHash = idempotencyKey ? hashRequest({ ...body, ...size }) : "";
  const now = deps.now();
  const jobId = newId("gen", now);
  const { idempotency, usage, jobs } = deps.stores;
  const reserve = () => reserveQuota(usage, tenantId, body.numImages, input.key.monthlyImages, now);

  // 1. Claim the Idempotency-Key and reserve quota while the subjects are read. A key claimed before
  //    answers from that claim (its job, 409, or a takeover of a crashed request), whatever the checks say.
  //    An `imageUrl` subject is stored only once this request holds the claim: a replay stores nothing.
  const claiming = idempotencyKey ? idempotency.claim(tenantId, idempotencyKey, requestHash, jobId, usagePeriod(new Date(now)), now) : Promise.resolve(null);
  const claimHeld = async () => {
    if ((await claiming)?.won === false) throw CLAIM_NOT_OURS;
  };
  // A request the model refuses reserves nothing and reads no subject (the claim still answers first).
  const refused = refusalByModel(deps, body);
  const checking = refused ? Promise.reject(refused) : validate(deps, input.key, body, size, claimHeld);
  let [claimed, checked, reserved] = await Promise.allSettled([claiming, checking, refused ? Promise.reject(refused) : reserve()]);
  // The reserved period; given back at most once, quietly (a lost give-back counts against the month, never one too many).
  let period = reserved.status === "fulfilled" ? reserved.value : undefined;
  const unreserve = async () => {
    const p = period;
    period = undefined;
    if (p) await usage.unreserve(tenantId, p, body.numImages).catch(() => undefined);
  };
  if (claimed.status === "rejected") {
    await unreserve();
    throw claimed.reason;
  }
  const claim = claimed.value;
  // A claim this request won is given back on a refusal or failure, so a retry starts afresh.
  const forgetOurs = async () => {
    if (claim?.won && idempotencyKey) await idempotency.forget(tenantId, idempotencyKey, jobId).catch(() => undefined);
  };
  const giveBack = () => Promise.all([unreserve(), forgetOurs()]);
  let takeover: IdempotencyRecord | undefined;
  if (claim && !claim.won) {
    // Another request holds the key: this one's reservation goes back at once (a request at the
    // quota's edge may be waiting for it), and is made again only to take over a crashed request.
    const [replaying] = await Promise.allSettled([replayOf(deps, claim.existing, requestHash), unreserve()]);
    if (replaying.status === "rejected") throw replaying.reason; // a 409, the reservation already back
    const replay = replaying.value;
    if (replay?.kind === "job") return replayed(deps, replay.job);
    takeover = replay?.claim;
    if (!refused) {
      [reserved] = await Promise.allSettled([reserve()]);
      period = reserved.status === "fulfilled" ? reserved.value : undefined;
    }
    // Taking over a crashed request's claim: this request stores its image URLs after all.
    if (checked.status === "rejected" && checked.reason === CLAIM_NOT_OURS) {
      [checked] = await Promise.allSettled([validate(deps, input.key, body, size, open)]);
    }
  }
  if (checked.status === "rejected") {
    await giveBack();
    throw checked.reason;
  }
  const spec = checked.value;
  // A full quota may only look full: a concurrent request's reservation that its refusal is about to
  // give back. The checks passed, so this request asks once more before it answers 429.
  if (reserved.status === "rejected") {
    [reserved] = await Promise.allSettled([isQuotaExceeded(reserved.reason) ? reserve() : Promise.reject(reserved.reason)]);
    if (reserved.status === "rejected") {
      await forgetOurs();
      throw reserved.reason;
    }
    period = reserved.value;
  }
  const job: JobRecord = {
    tenantId,
    id: takeover?.jobId ?? jobId,
    status: "queued",
    spec,
    createdAt: new Date(now).toISOString(),
    progress: { step: 0, totalSteps: spec.steps * spec.numImages },
    quotaPeriod: reserved.value,
    // The key's policy now: the job is judged by it even if the key's policy changes before it runs.
    safetyPolicy: safetyPolicyOf(input.key),
    // Written with the record because the message is already out (step 2).
    dispatchedAt: new Date().toISOString(),
  };

  // 2. Send the message; on a failure nothing is recorded, so the request is simply retried.
  try {
    await sendJobMessage({ sqs: deps.clients.sqs, queueUrl: deps.queueUrl }, job);
  } catch (e) {
    await giveBack();
    throw new AppError("internal_error", "The job could not be queued; retry the request.", { cause: e instanceof Error ? e.name : "unknown" });
  }

  // 3. Record the job; give the reservation and the claim back if that fails (the message alone is dropped by runners).
  let created: boolean;
  try {
    created = await jobs.create(job);
  } catch (e) {
    await giveBack();
    throw e;
  }
  if (!created) {
    const existing = await jobs.get(tenantId, job.id);
    // A fresh id already recorded is this request's own write, committed by a retry the SDK made
    // after a lost answer: the job stands, with its reservation.
    if (existing && !takeover) return { job: existing, replayed: false };
    await unreserve();
    if (existing) return replayed(deps, existing); // another takeover of the same crashed request finished first
    await forgetOurs();
    throw new AppError("internal_error", "The job could not be recorded; retry the request.");
  }
  return { job, replayed: false };
}

const isQuotaExceeded = (e: unknown) => e instanceof AppError && e.code === "quota_exceeded";
